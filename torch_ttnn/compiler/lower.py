"""ATen graph -> TT-NN graph: each node through the lowering registry, CPU fallback for the rest.

Values carry where they live. A node lowered by a rule takes its tensor inputs on the device; a fallback
node (no rule, or no guard that holds, or a rule that cannot be applied) takes them on the host and runs the
ATen op there. Transfers (`ttnn.from_torch` / `ttnn.to_torch`) are inserted the first time a consumer needs a
value where it is not, and reused by every later consumer, so an input crosses to the device once and an
output crosses back once.
"""
from __future__ import annotations

import collections
import logging
import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
from torch._subclasses.fake_tensor import unset_fake_temporarily

from ..lowering import find, policy
from .recording import TT, Recorder

log = logging.getLogger("torch_ttnn")
# Nodes that only check or describe shapes: nothing to run once shapes are concrete.
_SHAPE_ONLY = {"sym_size", "sym_numel", "sym_stride", "sym_storage_offset", "_assert_scalar",
               "_assert_tensor_metadata", "sym_constrain_range_for_size", "_assert_async"}

_COPIES = {"lift_fresh_copy", "clone", "alias", "detach"}


@dataclass
class Val:
    meta: object                 # the ATen-level value (fake/meta tensor, or a python number)
    host: fx.Node | None = None  # node producing a torch tensor
    dev: TT | None = None        # handle of a TT-NN device tensor
    scalar: object = None        # a 0-d graph constant, passed to rules as a Python number


@dataclass
class Lowered:
    graph: fx.Graph
    constants: dict                         # placeholder name -> constant tensor (the ATen graph's get_attrs)
    aten_ops: collections.Counter = field(default_factory=collections.Counter)
    device_ops: collections.Counter = field(default_factory=collections.Counter)
    fallbacks: collections.Counter = field(default_factory=collections.Counter)
    fallback_reasons: dict = field(default_factory=dict)


def op_name(target) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return f"aten.{target._opname}.{target._overloadname}" if target.namespace == "aten" else str(target)
    return getattr(target, "__name__", str(target))


def node_values(gm: fx.GraphModule, args) -> dict:
    """Run `gm` on `args` (real or fake tensors, under the caller's mode) and return every node's value."""
    values = {}

    class _Record(fx.Interpreter):
        def run_node(self, n):
            values[n] = v = super().run_node(n)
            return v
    _Record(gm).run(*args)
    return values


def _is_tensor(x) -> bool:
    return isinstance(x, torch.Tensor)


def lower(gm: fx.GraphModule, metas: dict, kinds: list[str], ttnn, device, float_dtype,
          force_cpu=frozenset(), device_outputs: bool = False, **rule_policy) -> Lowered:
    """Lower `gm` (ATen) given `metas` (node -> value: concrete, or symbolic under dynamic shapes) and each
    placeholder's kind (input/param). Nodes named in `force_cpu` run on CPU whatever the rules say (a rule
    whose TT-NN code failed at run time). Inputs on the `ttnn` torch device are used where they live; with
    `device_outputs` the outputs stay on the device too (as the eager device's dtypes), else they go to host."""
    g = fx.Graph()
    rec = Recorder(ttnn, g, device, float_dtype, **rule_policy)
    out = Lowered(g, {})
    env: dict[fx.Node, object] = {}
    tile, rm = ttnn.TILE_LAYOUT, ttnn.ROW_MAJOR_LAYOUT

    def to_dev(v: Val) -> TT:
        if v.dev is None:
            m = v.meta
            dtype = policy.ttnn_dtype(rec, m.dtype)
            layout = tile if m.dtype.is_floating_point or m.dtype == torch.bool else rm
            host = v.host
            if m.dim() == 0:  # TT-NN has no 0-d tensors: a scalar lives on the device as shape [1]
                host = g.call_function(torch.reshape, (host, (1,)))
            h = rec.from_torch(host, dtype=dtype, layout=layout, device=device)
            h.shape = tuple(m.shape) or (1,)
            h.node.meta["transfer"] = "h2d"
            v.dev = h
        return v.dev

    def to_host(v: Val) -> fx.Node:
        if v.host is None:
            h = rec.to_torch(v.dev, dtype=v.meta.dtype)
            h.node.meta["transfer"] = "d2h"
            h.node.meta["device"] = False
            v.host = h.node
            if v.meta.dim() == 0:
                v.host = g.call_function(torch.reshape, (h.node, ()))
        return v.host

    def meta_of(a):
        if isinstance(a, fx.Node):
            e = env[a]
            return (e.meta if e.scalar is None else e.scalar) if isinstance(e, Val) else e
        return a

    def dev_or_scalar(v: Val):
        return v.scalar if v.scalar is not None else to_dev(v)

    def resolve(a, conv):
        def one(x):
            if not isinstance(x, fx.Node):
                return x
            e = env[x]
            return conv(e) if isinstance(e, Val) else e
        return fx.node.map_aggregate(a, one)

    ph_index = 0
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            ph = g.placeholder(n.name)
            ph.meta["kind"] = kinds[ph_index]
            ph_index += 1
            m = metas[n]
            env[n] = Val(m, host=ph) if _is_tensor(m) else m
            ph.meta["val"] = m
            if _is_tensor(m) and m.device.type != "cpu":  # a tensor of the `ttnn` torch device: used in place
                ph.meta["on_device"] = True
                env[n] = Val(m, dev=_device_input(rec, ph, m))
        elif n.op == "get_attr":
            value = getattr(gm, n.target)
            ph = g.placeholder(n.name)
            ph.meta["kind"] = "const"
            out.constants[n.name] = value
            env[n] = Val(value, host=ph) if _is_tensor(value) else value
            if _is_tensor(value) and value.dim() == 0 and value.dtype != torch.bool:
                with unset_fake_temporarily():  # a real constant, read while dynamo's fake mode is active
                    env[n].scalar = value.item()
        elif n.op == "call_function":
            m = metas[n]
            if n.target is operator.getitem and isinstance(env[n.args[0]], (list, tuple)):
                env[n] = env[n.args[0]][n.args[1]]
                continue
            if n.meta.get("host_prep"):
                # Parameter preprocessing the compiler inserted (passes.fold_batchnorm): float32 on the host,
                # once per parameter version (a constant), as TT's own model preprocessing does; not a user op.
                h = g.call_function(n.target, resolve(n.args, to_host), resolve(n.kwargs, to_host))
                h.meta["host_prep"] = True
                env[n] = Val(metas[n], host=h)
                continue
            name = op_name(n.target)
            short = getattr(n.target, "_opname", name)
            if short in _SHAPE_ONLY or not (_is_tensor(m) or isinstance(m, (list, tuple))):
                env[n] = m  # a number (concrete now), or a check that holds for these shapes
                continue
            out.aten_ops[name] += 1
            src = env.get(n.args[0]) if n.args and isinstance(n.args[0], fx.Node) else None
            if short in _COPIES and isinstance(src, Val) and src.scalar is not None:
                env[n] = src  # a copy of a scalar constant: stays a number
                out.device_ops[name] += 1
                continue
            if n.name in force_cpu:
                out.fallback_reasons[name] = force_cpu[n.name] if isinstance(force_cpu, dict) else \
                    "its TT-NN code failed at run time"
            elif _lower_with_rule(n, m, rec, env, meta_of, resolve, dev_or_scalar, out):
                out.device_ops[name] += 1
                continue
            out.fallbacks[name] += 1
            h = g.call_function(n.target, resolve(n.args, to_host), resolve(n.kwargs, to_host))
            h.meta["fallback"] = True
            h.meta["aten"] = name
            if isinstance(m, (list, tuple)):
                env[n] = [Val(x, host=g.call_function(operator.getitem, (h, i))) if _is_tensor(x) else x
                          for i, x in enumerate(m)]
            else:
                env[n] = Val(m, host=h)
        elif n.op == "output":
            g.output(resolve(n.args[0], (lambda v: _device_output(rec, v, to_dev, to_host)) if device_outputs
                             else to_host))
    g.eliminate_dead_code()
    return out


def _lower_with_rule(n, m, rec, env, meta_of, resolve, to_dev, out) -> bool:
    if not isinstance(n.target, torch._ops.OpOverload):
        return False
    gargs = fx.node.map_aggregate(n.args, meta_of)
    gkwargs = fx.node.map_aggregate(n.kwargs, meta_of)
    rule = find(n.target, gargs, gkwargs)
    name = op_name(n.target)
    if rule is None:
        out.fallback_reasons.setdefault(name, "no lowering rule applies to these arguments")
        return False
    # Outputs a multi-output node's users read: a rule may return None for the ones nobody uses.
    used = {u.args[1] for u in n.users if u.target is operator.getitem}
    g = rec._graph
    before = g._len
    try:
        res = rule.fn(rec, *resolve(n.args, to_dev), **resolve(n.kwargs, to_dev))
        node = g._root.prev
        for _ in range(g._len - before):  # the nodes this rule recorded know where they came from
            node.meta.update(aten=name, aten_node=n.name)
            node.meta.setdefault("rule", rule.name)
            node = node.prev
        if isinstance(m, (list, tuple)):
            if not isinstance(res, (list, tuple)) or len(res) < len(m):
                raise TypeError(f"rule {rule.name} returned {type(res).__name__}, expected {len(m)} outputs")
            vals = []
            for i, x in enumerate(m):
                r = res[i]
                if r is None or not _is_tensor(x):
                    if i in used and _is_tensor(x):
                        raise TypeError(f"rule {rule.name} gave no output {i}, which the graph uses")
                    vals.append(None if _is_tensor(x) else x)
                else:
                    vals.append(Val(x, dev=_settle(r, x, rule)))
            env[n] = vals
        else:
            env[n] = Val(m, dev=_settle(res, m, rule))
    except Exception as e:  # a rule that cannot express this case: the op runs on CPU, named in metrics
        log.info("lowering %s with rule %s failed (%s: %s): running it on CPU", name, rule.name,
                 type(e).__name__, e)
        out.fallback_reasons[name] = f"rule {rule.name} failed: {type(e).__name__}: {e}"
        return False
    return True


def _settle(res, meta, rule) -> TT:
    """The rule's result, stamped with the ATen node's shape (a new handle: the rule may return an input)."""
    if not isinstance(res, TT):
        raise TypeError(f"rule {rule.name} returned {type(res).__name__}, expected a TT-NN tensor")
    res.node.meta.setdefault("rule", rule.name)
    res.node.meta["shape"] = tuple(meta.shape) or (1,)  # the ATen shape, for graph passes (compiler/fuse.py)
    return TT(res.node, tuple(meta.shape) or (1,), res.dtype, res.layout)


def _device_input(rec, ph, m) -> TT:
    """An input already on the device: the eager device's dtype for it is known (its placement policy), its
    layout is not (to_layout is free when it already has the one asked for). Converted to the compiler's
    convention, which the constant pass folds for parameters (once per module, no host transfer)."""
    from ..device.tensor import device_dtype
    h = TT(ph, tuple(m.shape) or (1,), device_dtype(rec, m.dtype), None)
    floating = m.dtype.is_floating_point or m.dtype == torch.bool
    h = rec.to_layout(h, rec.TILE_LAYOUT if floating else rec.ROW_MAJOR_LAYOUT)
    return rec.typecast(h, policy.ttnn_dtype(rec, m.dtype))


def _device_output(rec, v, to_dev, to_host):
    """An output left on the device, in the eager device's dtype for its torch dtype (0-d ones go to host:
    TT-NN has no rank 0, the caller moves them)."""
    from ..device.tensor import device_dtype
    if v.meta.dim() == 0:
        return to_host(v)
    x = to_dev(v)
    y = rec.typecast(x, device_dtype(rec, v.meta.dtype))
    if y is not x:
        y.node.meta["no_alias"] = True  # a typecast to another dtype is a new buffer: its input can be freed
    return y.node
