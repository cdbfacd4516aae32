"""Compile a model and keep, for each compiled graph call, the ATen graph, the lowered graph, its inputs and outputs.

bisect, export and graph need the program the backend really built and the exact arguments it was called
with (parameters and inputs, flattened as aot_autograd passes them). The backend keeps the graphs
(`option.compiled[i].gm` ATen, `.lowered.graph` TT-NN) but not the arguments, so `compile_and_capture`
wraps the backend's per-graph entry point (`CompiledGraph.__call__`) for the duration of one call.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass
class GraphCall:
    compiled: object           # the backend's CompiledGraph (ATen graph `.gm`, lowered `.lowered.graph`)
    args: list                 # the call's arguments, detached copies (params and inputs in placeholder order)
    outputs: list              # what the compiled graph returned (host tensors)
    lowered: object            # the compiler's Lowered (TT-NN FX `.graph`, `.constants`) that ran for them
    program: object = None     # the compiler's Program that ran them (its kept slots hold the placed parameters)


@contextlib.contextmanager
def _recording(calls: list):
    from ..compiler.backend import CompiledGraph
    original = CompiledGraph.__call__

    def call(self, *a):
        args = a[0] if len(a) == 1 and isinstance(a[0], list) else a   # boxed (one list) or unpacked
        saved = [x.detach().clone() if isinstance(x, torch.Tensor) else x for x in args]
        out = original(self, *a)
        program = None if self.option.bypass_compile else self._program(saved)[0]
        calls.append(GraphCall(self, saved, list(out), self.lowered, program))
        return out

    CompiledGraph.__call__ = call
    try:
        yield calls
    finally:
        CompiledGraph.__call__ = original


def compile_and_capture(ex, runtime: str | None = None, options: dict | None = None):
    """Compile `ex.model` with backend="ttnn", run it once; returns (judged output, option, [GraphCall])."""
    from .. import compiler
    torch._dynamo.reset()
    option = compiler.TorchTtnnOption(runtime=runtime, **{"verbose": False, **(options or {})})

    def backend(gm, example_inputs, **kw):
        """compiler.backend, noting the names dynamo gave the graph's inputs (`l_self_modules_fc_parameters_weight_`)
        on the forward graph it compiles: aot_autograd's forward graph takes the same inputs in the same order."""
        names = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
        before = len(option.compiled)
        out = compiler.backend(gm, example_inputs, **kw)
        for cg in option.compiled[before:before + 1]:
            if len(cg.kinds) == len(names):
                cg.input_names = names
        return out

    compiled = torch.compile(ex.model, backend=backend, options=option)
    calls: list[GraphCall] = []
    with _recording(calls):
        out = ex.run(compiled)
    if not calls:
        raise RuntimeError("the compiled model ran no compiled graph (dynamo captured nothing to lower)")
    return out, option, calls
