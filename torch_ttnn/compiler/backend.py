"""The torch.compile backend: dynamo -> aot_autograd (ATen, our decompositions) -> TT-NN program.

Shapes: each compiled ATen graph is lowered for the concrete shapes it is called with, and the lowered
program is cached per input signature. A graph that dynamo traced with dynamic shapes is therefore traced
once and lowered once per distinct shape seen; the number of such specializations is reported.
"""
from __future__ import annotations

import logging
import time

import torch
import torch.fx as fx
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd

from .. import runtime
from . import graphviz, metrics
from .decompositions import DECOMPOSITIONS
from .lower import lower
from .options import TorchTtnnOption, from_kwargs
from .passes import insert_deallocs, mark_constants
from .program import Program

log = logging.getLogger("torch_ttnn")


def _check_inputs(example_inputs):
    for i, x in enumerate(example_inputs):
        if isinstance(x, torch.Tensor) and x.device.type != "cpu":
            raise ValueError(f"torch_ttnn backend: input {i} (shape {tuple(x.shape)}) is on device "
                             f"'{x.device}', but compiled graphs take CPU tensors (the backend moves them to "
                             f"the TT-NN device itself). Move it with .cpu() before calling the model.")


def backend(gm: fx.GraphModule, example_inputs, options=None, **kwargs):
    """`torch.compile(model, backend=torch_ttnn.backend, options=TorchTtnnOption(...))`, or backend="ttnn"."""
    option = from_kwargs(options if options is not None else kwargs.pop("option", None))
    if kwargs:
        raise TypeError(f"torch_ttnn backend got unexpected arguments {sorted(kwargs)}")
    ttnn, device = option.resolve()
    _check_inputs(example_inputs)
    start = time.perf_counter()
    if option.verbose:
        print(f"torch-ttnn: runtime {runtime.reason()}")

    def compiler(is_backward):
        def compile_graph(aten_gm: fx.GraphModule, fake_inputs):
            ctx = torch._guards.TracingContext.try_get()
            static = set()
            if not is_backward and ctx is not None and ctx.fw_metadata is not None:
                static = set(ctx.fw_metadata.static_input_indices or ())
            kinds = ["param" if i in static else "input" for i in range(len(fake_inputs))]
            cg = CompiledGraph(aten_gm, kinds, option, ttnn, device, len(option.compiled),
                               time.perf_counter() - start)
            option.compiled.append(cg)
            return make_boxed_func(cg)
        return compile_graph

    return aot_autograd(fw_compiler=compiler(False), bw_compiler=compiler(True),
                        decompositions=DECOMPOSITIONS)(gm, example_inputs)


def _signature(args):
    return tuple((tuple(a.shape), a.dtype) if isinstance(a, torch.Tensor) else a for a in args)


class CompiledGraph:
    """One compiled ATen graph: its lowered programs (one per shape signature) and its metrics."""

    def __init__(self, aten_gm, kinds, option: TorchTtnnOption, ttnn, device, index: int, trace_s: float):
        self.gm, self.kinds, self.option, self.ttnn, self.device = aten_gm, kinds, option, ttnn, device
        self.index = index
        self.compile_s = trace_s
        self.programs: dict = {}
        self.lowered = None
        self.calls = 0
        self.last_transfers = {"h2d": 0, "d2h": 0}
        self.last_device_ns = 0.0
        self.pcc = None
        self.float_dtype = getattr(ttnn, option.float_dtype)

    # --- lowering -------------------------------------------------------------------------------------
    def _metas(self, args) -> dict:
        """Each node's value for these concrete inputs (fake tensors), as aot_autograd's own metadata is
        symbolic when dynamo traced with dynamic shapes."""
        nodes = list(self.gm.graph.nodes)
        def concrete(v):
            if isinstance(v, torch.Tensor):
                return not any(isinstance(d, torch.SymInt) for d in v.shape)
            if isinstance(v, (list, tuple)):
                return all(concrete(x) for x in v)
            return v is not None and not isinstance(v, (torch.SymInt, torch.SymFloat, torch.SymBool))
        if all(concrete(n.meta.get("val")) for n in nodes if n.op in ("placeholder", "call_function")):
            return {n: n.meta.get("val") for n in nodes}
        from torch._subclasses.fake_tensor import FakeTensorMode
        mode = FakeTensorMode(allow_non_fake_inputs=True)
        metas = {}

        class _Prop(fx.Interpreter):
            def run_node(self, n):
                v = super().run_node(n)
                metas[n] = v
                return v
        with mode:
            fake = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
            _Prop(self.gm).run(*fake)
        return metas

    def _specialize(self, args):
        t0 = time.perf_counter()
        lo = lower(self.gm, self._metas(args), self.kinds, self.ttnn, self.device, self.float_dtype)
        opt = self.option
        opt._out_fx_graphs.append(lo.graph)
        mark_constants(lo.graph)
        insert_deallocs(lo.graph, self.ttnn.deallocate)
        prog = Program(lo.graph, lo.constants, self.ttnn.deallocate, opt.load_params_once)
        self.lowered = lo
        self.compile_s += time.perf_counter() - t0
        stem = f"ttnn_graph_{self.index}_{len(self.programs)}"
        if opt.gen_graphviz:
            path = graphviz.write_graph(lo.graph, opt.metrics_path or ".", stem)
            log.info("torch-ttnn: wrote %s", path)
        if opt.export_code:
            with open(opt.export_code, "a") as f:
                f.write(graphviz.to_code(lo.graph, stem) + "\n")
        return prog

    # --- running --------------------------------------------------------------------------------------
    def __call__(self, *args):
        if self.option.bypass_compile:
            self.calls += 1
            return self.gm(*args)
        _check_inputs(args)
        key = _signature(args)
        prog = self.programs.get(key)
        if prog is None:
            prog = self.programs[key] = self._specialize(args)
        n_rec = len(self.device.op_records) if hasattr(self.device, "op_records") else 0
        out = prog(args)
        if hasattr(self.device, "op_records"):
            recs = self.device.op_records
            self.last_device_ns = sum(r.time_ns for r in recs[n_rec:])
        self.last_transfers = prog.last_transfers
        self.calls += 1
        if self.option.check_accuracy and self.pcc is None:
            with torch.no_grad():
                ref = self.gm(*[a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                                for a in args])
            ps = [metrics.pcc(r.float(), o.float()) for r, o in zip(ref, out)
                  if isinstance(r, torch.Tensor) and r.numel() > 0]
            self.pcc = min(ps) if ps else 1.0
        if self.option.verbose and self.calls == 1:
            print(metrics.summary([self.metrics()]))
        if self.option.metrics_path:
            metrics.write(self.option.metrics_path, self.option.metrics)
        return out

    def metrics(self) -> dict:
        lo = self.lowered
        aten = lo.aten_ops if lo else {}
        fb = dict(lo.fallbacks) if lo else {}
        return {
            "graph": self.index, "aten_ops": sum(aten.values()), "aten_ops_unique": len(aten),
            "device_ops": sum(lo.device_ops.values()) if lo else 0, "cpu_ops": sum(fb.values()),
            "cpu_ops_unique": len(fb), "fallbacks": fb,
            "fallback_reasons": dict(lo.fallback_reasons) if lo else {},
            "h2d_per_call": self.last_transfers["h2d"], "d2h_per_call": self.last_transfers["d2h"],
            "compile_s": self.compile_s, "device_time_ms": self.last_device_ns / 1e6, "calls": self.calls,
            "specializations": len(self.programs), "pcc": self.pcc,
        }
