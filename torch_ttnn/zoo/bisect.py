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
from .codegen import literal, to_source


@dataclass
class OpCheck:
    graph: int
    node: str
    aten: str
    rule: str
    pcc: float | None                 # None: the rule could not run on these inputs alone (see note)
    max_abs_err: float | None = None
    inputs: list = field(default_factory=list)   # (arg, torch shape, torch dtype, ttnn dtype, ttnn layout)
    output_shape: tuple = ()
    note: str = ""
    # for the repro: the ATen call with CPU values
    target: object = field(default=None, repr=False)
    args: tuple = field(default=(), repr=False)
    kwargs: dict = field(default_factory=dict, repr=False)


class _Namespace:
    """The active TT-NN module plus the compiler's device/dtype policy, as the compiler hands rules."""

    def __init__(self, module, device, float_dtype):
        self._m = module
        self.TORCH_TTNN_DEVICE = device
        self.TORCH_TTNN_FLOAT_DTYPE = float_dtype

    def __getattr__(self, name):
        return getattr(self._m, name)


def _reference_values(gm: fx.GraphModule, args) -> dict:
    values = {}

    class Record(fx.Interpreter):
        def run_node(self, n):
            v = super().run_node(n)
            values[n] = v
            return v
    with torch.no_grad():
        Record(gm).run(*args)
    return values


def _device_layout(ttnn, t: torch.Tensor):
    return ttnn.TILE_LAYOUT if (t.is_floating_point() or t.dtype == torch.bool) and t.dim() > 0 \
        else ttnn.ROW_MAJOR_LAYOUT


def _to_device(ns, t: torch.Tensor):
    from ..lowering import policy
    return ns.from_torch(t, dtype=policy.ttnn_dtype(ns, t.dtype), layout=_device_layout(ns, t),
                         device=ns.TORCH_TTNN_DEVICE)


def check_op(ns, gi: int, n: fx.Node, values: dict, pcc) -> OpCheck | None:
    from ..compiler.lower import op_name
    from ..lowering import find
    ttnn = ns._m
    aval = fx.node.map_aggregate(n.args, lambda a: values[a] if isinstance(a, fx.Node) else a)
    kval = fx.node.map_aggregate(dict(n.kwargs), lambda a: values[a] if isinstance(a, fx.Node) else a)
    ref = values[n]
    rule = find(n.target, aval, kval)
    if rule is None:
        return None
    made = []
    inputs = []

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
    chk = OpCheck(gi, n.name, op_name(n.target), rule.name, None, target=n.target, args=aval, kwargs=kval)
    try:
        res = rule.fn(ns, *fx.node.map_aggregate(aval, dev), **fx.node.map_aggregate(kval, dev))
        outs = list(res) if isinstance(res, (list, tuple)) else [res]
        refs = list(ref) if isinstance(ref, (list, tuple)) else [ref]
        worst, err = 1.0, 0.0
        for o, r in zip(outs, refs):
            if o is None or not isinstance(r, torch.Tensor):
                continue
            got = ttnn.to_torch(o).reshape(r.shape).to(r.dtype if not r.dtype.is_floating_point else torch.float32)
            worst = min(worst, pcc(r.float(), got.float()))
            if r.numel():
                err = max(err, (r.double() - got.double()).abs().max().item())
            if isinstance(o, ttnn.Tensor) and o.is_allocated() and all(o is not m for m in made):
                ttnn.deallocate(o)
        chk.pcc, chk.max_abs_err = worst, err
        chk.output_shape = tuple(refs[0].shape) if isinstance(refs[0], torch.Tensor) else ()
    except Exception as e:  # e.g. a rule that relies on a compile-time-only fact: reported, not fatal
        chk.note = f"could not run alone: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
    finally:
        for m in made:
            if m.is_allocated():
                ttnn.deallocate(m)
    chk.inputs = inputs
    return chk


def bisect(ex, threshold: float = 0.99, runtime: str | None = None, progress=None) -> dict:
    """Model PCC, every lowered op's own PCC in execution order, and the first op below `threshold`."""
    from .. import runtime as rt
    from ..compiler.metrics import pcc
    out, option, calls = compile_and_capture(ex, runtime)
    ref = ex.run()
    ttnn = rt.ttnn()
    ns = _Namespace(ttnn, option.device, getattr(ttnn, option.float_dtype))
    checks, seen = [], set()
    for gi, c in enumerate(calls):
        if id(c.compiled) in seen:           # the same graph called again: same ops, same verdict
            continue
        seen.add(id(c.compiled))
        values = _reference_values(c.compiled.gm, c.args)
        nodes = [n for n in c.compiled.gm.graph.nodes
                 if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload)]
        for n in (progress(nodes) if progress else nodes):
            chk = check_op(ns, gi, n, values, pcc)
            if chk is not None:
                checks.append(chk)
    first = next((k for k in checks if k.pcc is not None and k.pcc < threshold), None)
    return {"model_pcc": pcc(ref.float(), out.float()), "threshold": threshold, "checks": checks,
            "first": first, "option": option}


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

def pcc(a, b):
    a, b = a.detach().double().flatten(), b.detach().double().flatten()
    if torch.equal(a, b):
        return 1.0
    if a.numel() < 2 or a.std() == 0 or b.std() == 0:
        return 0.0
    return torch.corrcoef(torch.stack([a, b]))[0, 1].item()


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
    rec = Recorder(ttnn, g, option.device, getattr(ttnn, option.float_dtype))
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
        f.write(REPRO.format(aten=chk.aten, rule=chk.rule, model=model, data=os.path.basename(data),
                             script=os.path.basename(path), function=function, reference=reference,
                             threshold=threshold))
    return path, data
