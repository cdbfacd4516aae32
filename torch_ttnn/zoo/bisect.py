"""`torch-ttnn bisect`: which lowered op ruins a model's accuracy.

Each ATen op of each compiled graph that a lowering rule takes is checked alone: the rule runs on the
device with the op's exact CPU float32 inputs (from a reference run of the same ATen graph), and its output
is compared with the ATen op's CPU output. Errors therefore do not accumulate from op to op: an op's PCC is
its own, and the first op (in execution order) below the threshold is the one to look at. For it, a
standalone repro script is written: its inputs saved beside it, the rule's TT-NN calls as plain code, and the
ATen op on CPU as the reference.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.fx as fx

from .capture import compile_and_capture
from ..compiler import codegen
from ..compiler.codegen import literal, to_source


@dataclass
class OpCheck:
    graph: int
    node: str
    aten: str
    rule: str
    pcc: float | None                 # alone, on exact CPU inputs; None: could not run alone (see note)
    max_abs_err: float | None = None
    chain_pcc: float | None = None    # in sequence, on the inputs the device chain produced (accumulated)
    inputs: list = field(default_factory=list)   # (arg, torch shape, torch dtype, ttnn dtype, ttnn layout)
    output_shape: tuple = ()
    note: str = ""
    # for the repro: the ATen call with CPU values
    target: object = field(default=None, repr=False)
    args: tuple = field(default=(), repr=False)
    kwargs: dict = field(default_factory=dict, repr=False)


class _Namespace:
    """The active TT-NN module plus the compiler's device/dtype policy, as the compiler hands rules."""

    def __init__(self, module, device, float_dtype, compute_configs=None):
        self._m = module
        self.TORCH_TTNN_DEVICE = device
        self.TORCH_TTNN_FLOAT_DTYPE = float_dtype
        self.TORCH_TTNN_COMPUTE_CONFIGS = compute_configs

    def __getattr__(self, name):
        return getattr(self._m, name)


def _reference_values(gm: fx.GraphModule, args) -> dict:
    from ..compiler.lower import node_values
    with torch.no_grad():
        return node_values(gm, args)


def _device_layout(ttnn, t: torch.Tensor):
    return ttnn.TILE_LAYOUT if (t.is_floating_point() or t.dtype == torch.bool) and t.dim() > 0 \
        else ttnn.ROW_MAJOR_LAYOUT


def _to_device(ns, t: torch.Tensor):
    from ..lowering import policy
    return ns.from_torch(t, dtype=policy.ttnn_dtype(ns, t.dtype), layout=_device_layout(ns, t),
                         device=ns.TORCH_TTNN_DEVICE)


def run_rule(ns, n: fx.Node, aval, kval):
    """Run the lowering rule of ATen node `n` on the device with these CPU argument values.

    Returns (rule, host outputs shaped like the ATen op's, [(arg, shape, torch dtype, ttnn dtype, layout)],
    error note), or None when no rule takes these arguments (the op runs on CPU in the compiled program).
    """
    from ..lowering import find
    ttnn = ns._m
    rule = find(n.target, aval, kval)
    if rule is None:
        return None
    made, inputs = [], []

    def dev(x):
        if isinstance(x, torch.Tensor):
            if x.dim() == 0 and x.dtype != torch.bool:
                return x.item()
            d = _to_device(ns, x)
            made.append(d)
            inputs.append((f"arg{len(inputs)}", tuple(x.shape), str(x.dtype).replace("torch.", ""),
                           str(d.dtype), str(d.layout)))
            return d
        return x
    try:
        res = rule.fn(ns, *fx.node.map_aggregate(aval, dev), **fx.node.map_aggregate(kval, dev))
        outs = list(res) if isinstance(res, (list, tuple)) else [res]
        metas = n.meta.get("val")
        metas = list(metas) if isinstance(metas, (list, tuple)) else [metas]
        host = []
        for o, m in zip(outs, metas):
            if o is None or not isinstance(m, torch.Tensor):
                host.append(None)
                continue
            host.append(ttnn.to_torch(o).reshape(m.shape).to(m.dtype))
            if isinstance(o, ttnn.Tensor) and o.is_allocated() and all(o is not x for x in made):
                ttnn.deallocate(o)
        return rule, host, inputs, ""
    except Exception as e:  # e.g. a rule relying on a compile-time-only fact: reported, not fatal
        msg = str(e).splitlines()[0][:160] if str(e) else ""
        return rule, None, inputs, f"could not run alone: {type(e).__name__}: {msg}"
    finally:
        for m in made:
            if m.is_allocated():
                ttnn.deallocate(m)


def _compare(refs, outs, pcc) -> tuple[float, float]:
    refs = list(refs) if isinstance(refs, (list, tuple)) else [refs]
    worst, err = 1.0, 0.0
    for r, o in zip(refs, outs):
        if o is None or not isinstance(r, torch.Tensor):
            continue
        worst = min(worst, pcc(r.float(), o.float()))
        if r.numel():
            err = max(err, (r.double() - o.double()).abs().max().item())
    return worst, err


def check_op(ns, gi: int, n: fx.Node, values: dict, pcc) -> OpCheck | None:
    """The op alone: its rule on the device with the op's exact CPU inputs, against its CPU output."""
    from ..compiler.lower import op_name
    aval = fx.node.map_aggregate(n.args, lambda a: values[a] if isinstance(a, fx.Node) else a)
    kval = fx.node.map_aggregate(dict(n.kwargs), lambda a: values[a] if isinstance(a, fx.Node) else a)
    ran = run_rule(ns, n, aval, kval)
    if ran is None:
        return None
    rule, outs, inputs, note = ran
    chk = OpCheck(gi, n.name, op_name(n.target), rule.name, None, inputs=inputs, note=note, target=n.target,
                  args=aval, kwargs=kval)
    ref = values[n]
    first = next((r for r in (ref if isinstance(ref, (list, tuple)) else [ref]) if isinstance(r, torch.Tensor)), None)
    chk.output_shape = tuple(first.shape) if first is not None else ()
    if outs is not None:
        chk.pcc, chk.max_abs_err = _compare(ref, outs, pcc)
    return chk


def chained(ns, gm: fx.GraphModule, args, values: dict, pcc, checks: dict) -> None:
    """The ops in sequence: every lowered op runs on the device with the inputs the device chain produced
    (CPU ops run on CPU), as in the compiled program. Sets `chain_pcc` on each op's check: the accumulated
    error up to and including that op."""

    class Chain(fx.Interpreter):
        def run_node(self, n):
            if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload) and n in checks:
                aval, kval = self.fetch_args_kwargs_from_env(n)
                ran = run_rule(ns, n, aval, kval)
                if ran is not None and ran[1] is not None:
                    outs = ran[1]
                    checks[n].chain_pcc = _compare(values[n], outs, pcc)[0]
                    return outs if isinstance(values[n], (list, tuple)) else outs[0]
            return super().run_node(n)
    with torch.no_grad():
        Chain(gm).run(*args)


def bisect(ex, threshold: float = 0.99, runtime: str | None = None, progress=None) -> dict:
    """Model PCC; every lowered op's own PCC (alone, on exact inputs) and accumulated PCC (in sequence);
    the first op whose own PCC is below `threshold` and the first whose accumulated PCC is."""
    from .. import runtime as rt
    from ..accuracy import pcc
    out, option, calls = compile_and_capture(ex, runtime)
    ref = ex.run()
    ttnn = rt.ttnn()
    ns = _Namespace(ttnn, option.device, getattr(ttnn, option.float_dtype), option.compute_configs(ttnn))
    checks, seen = [], set()
    for gi, c in enumerate(calls):
        if id(c.compiled) in seen:           # the same graph called again: same ops, same verdict
            continue
        seen.add(id(c.compiled))
        gm = c.compiled.gm
        values = _reference_values(gm, c.args)
        # the compiler's own host preprocessing (folded BatchNorms) runs on the host in float32: exact, not checked
        nodes = [n for n in gm.graph.nodes if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload)
                 and not n.meta.get("host_prep")]
        by_node = {}
        for n in (progress(nodes) if progress else nodes):
            chk = check_op(ns, gi, n, values, pcc)
            if chk is not None:
                checks.append(chk)
                by_node[n] = chk
        chained(ns, gm, c.args, values, pcc, by_node)
    below = lambda p: p is not None and p < threshold  # noqa: E731
    return {"model_pcc": pcc(ref.float(), out.float()), "threshold": threshold, "checks": checks,
            "first": next((k for k in checks if below(k.pcc)), None),
            "first_accumulated": next((k for k in checks if below(k.chain_pcc)), None), "option": option}


REPRO = '''"""Repro of one lowered op that diverges from CPU: {aten} (rule `{rule}`), found by torch-ttnn bisect on {model}.

Inputs are saved in {data}. Run with `python -m torch_ttnn.sim {script}` or, with the real ttnn and a card,
`python {script}`. Exit status 1 while the op's PCC against the ATen op on CPU is below {threshold}.
"""
import os
import sys

import torch
import ttnn

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = torch.load(os.path.join(HERE, {data!r}), weights_only=False)
CONST = INPUTS["const"]


{function}

{pcc}

def main():
    x = INPUTS["tensors"]
    expected = {reference}
    device = ttnn.open_device(device_id=0, l1_small_size=65536)
    try:
        got = op(device, *x)
    finally:
        ttnn.close_device(device)
    got = got[0] if isinstance(got, (list, tuple)) else got
    expected = expected[0] if isinstance(expected, (list, tuple)) else expected
    got = got.reshape(expected.shape).float()
    p = pcc(expected.float(), got)
    print(f"{aten}: inputs {{[tuple(t.shape) for t in x]}} -> {{tuple(expected.shape)}}  PCC {{p:.6f}}  "
          f"max |err| {{(expected.double() - got.double()).abs().max().item():.4g}}")
    return 0 if p >= {threshold} else 1


if __name__ == "__main__":
    sys.exit(main())
'''


def write_repro(chk: OpCheck, path: str, model: str, option, threshold: float) -> tuple[str, str]:
    """A standalone script replaying `chk`'s rule on its saved inputs against the ATen op on CPU."""
    from .. import runtime as rt
    from ..compiler.recording import Recorder
    from ..lowering import find, policy
    ttnn = rt.ttnn()
    g = fx.Graph()
    rec = Recorder(ttnn, g, option.device, getattr(ttnn, option.float_dtype),
                   compute_configs=option.compute_configs(ttnn))
    tensors: list[torch.Tensor] = []

    def handle(x):
        if not isinstance(x, torch.Tensor):
            return x
        if x.dim() == 0 and x.dtype != torch.bool:
            return x.item()
        ph = g.placeholder(f"x{len(tensors)}")
        tensors.append(x.detach().clone())
        h = rec.from_torch(ph, dtype=policy.ttnn_dtype(rec, x.dtype), layout=_device_layout(ttnn, x),
                           device=option.device)
        h.shape = tuple(x.shape)
        return h
    rule = find(chk.target, chk.args, chk.kwargs)
    res = rule.fn(rec, *fx.node.map_aggregate(chk.args, handle), **fx.node.map_aggregate(chk.kwargs, handle))
    outs = list(res) if isinstance(res, (list, tuple)) else [res]
    g.output(tuple(rec.to_torch(o).node for o in outs if o is not None))
    consts: dict = {}
    function, _ = to_source(g, "op", consts)
    # The reference: the same ATen call on the saved CPU tensors (x[i] in the order they were saved).
    counter = iter(range(len(tensors)))

    class _Ref:
        def __init__(self, i):
            self.i = i

    def ref_arg(x):
        if isinstance(x, torch.Tensor):
            return _Ref(next(counter)) if (x.dim() > 0 or x.dtype == torch.bool) else x.item()
        return x
    rargs = fx.node.map_aggregate(chk.args, ref_arg)
    rkwargs = fx.node.map_aggregate(chk.kwargs, ref_arg)

    def spell(x):
        if isinstance(x, _Ref):
            return f"x[{x.i}]"
        if isinstance(x, (list, tuple)):
            inner = ", ".join(spell(v) for v in x)
            return f"[{inner}]" if isinstance(x, list) else f"({inner}{',' if len(x) == 1 else ''})"
        return literal(x, {}, consts)
    t = chk.target
    call_args = [spell(a) for a in rargs] + [f"{k}={spell(v)}" for k, v in rkwargs.items()]
    reference = f"torch.ops.{t.namespace}.{t._opname}.{t._overloadname}({', '.join(call_args)})"
    base, _ = os.path.splitext(path)
    data = base + "_inputs.pt"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({"tensors": tensors, "const": consts}, data)
    with open(path, "w") as f:
        f.write(REPRO.format(pcc=codegen.PCC_SOURCE,
                            aten=chk.aten, rule=chk.rule, model=model, data=os.path.basename(data),
                             script=os.path.basename(path), function=function, reference=reference,
                             threshold=threshold))
    return path, data
