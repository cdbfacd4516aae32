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

from ..lowering import lookup, policy
from ..lowering.facts import AtenOp, aten_op
from ..lowering.rules.cache import INDEX_COPY_IN_PLACE
from .mesh import gather as mesh_gather
from .recording import TT, Recorder

log = logging.getLogger("torch_ttnn")


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
          force_cpu=frozenset(), device_outputs: bool = False, mesh_io=None, **rule_policy) -> Lowered:
    """Lower `gm` (ATen) given `metas` (node -> value: concrete, or symbolic under dynamic shapes) and each
    placeholder's kind (input/param). Nodes named in `force_cpu` run on CPU whatever the rules say (a rule
    whose TT-NN code failed at run time). Inputs on the `ttnn` torch device are used where they live; with
    `device_outputs` the outputs stay on the device too (as the eager device's dtypes), else they go to host.
    `mesh_io` (compiler.mesh.MeshIO): `device` is a mesh, and transfers split, replicate and gather values."""
    lo = _Lowerer(gm, metas, kinds, ttnn, device, float_dtype, force_cpu, device_outputs, rule_policy)
    lo.mesh_io = mesh_io
    return lo.run()


class _Lowerer:
    """One lowering of one ATen graph: the TT-NN graph being recorded, what each ATen node became (`env`: a
    `Val`, a list of them for a multi-output node, or a plain value such as a size), and one method per kind
    of node. Transfers are made on demand by `to_dev`/`to_host`, which remember them in the value."""

    mesh_io = None     # compiler.mesh.MeshIO when lowering for a mesh (set by `lower`)

    def __init__(self, gm, metas, kinds, ttnn, device, float_dtype, force_cpu, device_outputs, rule_policy):
        self.gm, self.metas, self.device = gm, metas, device
        self.kinds = iter(kinds)                    # each placeholder's kind, in order
        self.force_cpu, self.device_outputs = force_cpu, device_outputs
        self.graph = fx.Graph()
        self.rec = Recorder(ttnn, self.graph, device, float_dtype, **rule_policy)
        self.out = Lowered(self.graph, {})
        self.env: dict[fx.Node, object] = {}
        self.tile, self.row_major = ttnn.TILE_LAYOUT, ttnn.ROW_MAJOR_LAYOUT
        self.state: set = set()                     # placeholders of state the graph writes back (a KV cache)

    def run(self) -> Lowered:
        handlers = {"placeholder": self.placeholder, "get_attr": self.get_attr,
                    "call_function": self.call_function, "output": self.output}
        for n in self.gm.graph.nodes:
            if n.op in handlers:
                handlers[n.op](n)
        self.graph.eliminate_dead_code()
        return self.out

    # --- one method per kind of node ----------------------------------------------------------------
    def placeholder(self, n):
        ph = self.graph.placeholder(n.name)
        ph.meta["kind"] = next(self.kinds)
        if ph.meta["kind"] == "state":
            self.state.add(n)
        m = self.metas[n]
        ph.meta["val"] = m
        if not _is_tensor(m):
            self.env[n] = m
        elif m.device.type != "cpu":  # a tensor of the `ttnn` torch device: used where it lives
            ph.meta["on_device"] = True
            self.env[n] = Val(m, dev=self._device_input(ph, m, state=ph.meta["kind"] == "state"))
        else:
            self.env[n] = Val(m, host=ph)

    def get_attr(self, n):
        value = getattr(self.gm, n.target)
        ph = self.graph.placeholder(n.name)
        ph.meta["kind"] = "const"
        self.out.constants[n.name] = value
        if not _is_tensor(value):
            self.env[n] = value
            return
        self.env[n] = v = Val(value, host=ph)
        if value.dim() == 0 and value.dtype != torch.bool:
            with unset_fake_temporarily():  # a real constant, read while dynamo's fake mode is active
                v.scalar = value.item()

    def call_function(self, n):
        m = self.metas[n]
        if n.target is operator.getitem and isinstance(self.env[n.args[0]], (list, tuple)):
            self.env[n] = self.env[n.args[0]][n.args[1]]  # one output of a multi-output node
        elif n.meta.get("host_prep"):
            # Parameter preprocessing the compiler inserted (passes.fold_batchnorm): float32 on the host,
            # once per parameter version (a constant), as TT's own model preprocessing does; not a user op.
            h = self._call_on_host(n)
            h.meta["host_prep"] = True
            self.env[n] = Val(m, host=h)
        else:
            self._aten_op(n, m)

    def output(self, n):
        conv = self._device_output if self.device_outputs else self.to_host
        self.graph.output(self.resolve(n.args[0], conv))

    # --- an ATen op: nothing to run, on the device by a rule, or on the host --------------------------
    def _aten_op(self, n, m):
        name = op_name(n.target)
        fact = aten_op(getattr(n.target, "_opname", name))
        if fact is AtenOp.SHAPE_ONLY or not (_is_tensor(m) or isinstance(m, (list, tuple))):
            self.env[n] = m  # a number (concrete now), or a check that holds for these shapes
            return
        self.out.aten_ops[name] += 1
        scalar = self._scalar_input(n) if fact is AtenOp.SAME_VALUES else None
        if scalar is not None:
            self.env[n] = scalar  # a copy of a scalar constant: stays a number
            self.out.device_ops[name] += 1
        elif self._on_device(n, m, name):
            self.out.device_ops[name] += 1
        else:
            self._on_host(n, m, name)

    def _scalar_input(self, n) -> Val | None:
        src = self.env.get(n.args[0]) if n.args and isinstance(n.args[0], fx.Node) else None
        return src if isinstance(src, Val) and src.scalar is not None else None

    def _on_device(self, n, m, name) -> bool:
        """Lower `n` by its rule; False, with the reason in the metrics, when it runs on the host instead."""
        if n.name in self.force_cpu:
            self.out.fallback_reasons[name] = self.force_cpu[n.name] if isinstance(self.force_cpu, dict) else \
                "its TT-NN code failed at run time"
            return False
        if not isinstance(n.target, torch._ops.OpOverload):
            return False
        args, kwargs = fx.node.map_aggregate(n.args, self.meta_of), fx.node.map_aggregate(n.kwargs, self.meta_of)
        found = lookup(n.target, args, kwargs)
        rule = self._in_place_rule(n, args, kwargs) or found.rule
        if rule is None:
            self.out.fallback_reasons.setdefault(name, found.why_not())
            return False
        try:
            self.env[n] = self._results(n, m, rule, self._apply(rule, n, name))
        except Exception as e:  # a rule that cannot express this case: the op runs on CPU, named in metrics
            log.info("lowering %s with rule %s failed (%s: %s): running it on CPU", name, rule.name,
                     type(e).__name__, e)
            self.out.fallback_reasons[name] = f"rule {rule.name} crashed: {type(e).__name__}: {e}"
            return False
        return True

    def _in_place_rule(self, n, args, kwargs):
        """A write into device state the graph writes back (HF StaticCache's `index_copy_`), where the old
        value has no other reader and the new one is a graph output: done in place on the device buffer."""
        if n.target is not INDEX_COPY_IN_PLACE.target or kwargs or not n.args:
            return None
        x = n.args[0]
        outputs = set(next(reversed(self.gm.graph.nodes)).all_input_nodes)
        if x in self.state and len(x.users) == 1 and n in outputs and x.meta["val"].device.type != "cpu" \
                and INDEX_COPY_IN_PLACE.applies(*args):
            return INDEX_COPY_IN_PLACE
        return None

    def _apply(self, rule, n, name):
        """Call the rule on the node's device values; every node it recorded (transfers of its inputs
        included) is tagged with the ATen node and rule it came from."""
        g = self.graph
        before = g._len
        res = rule.fn(self.rec, *self.resolve(n.args, self.dev_or_scalar),
                      **self.resolve(n.kwargs, self.dev_or_scalar))
        node = g._root.prev
        for _ in range(g._len - before):
            node.meta.update(aten=name, aten_node=n.name)
            node.meta.setdefault("rule", rule.name)
            node = node.prev
        return res

    def _results(self, n, m, rule, res):
        """The rule's result(s) as the ATen node's value(s). A rule may return None for an output of a
        multi-output node that nobody reads."""
        if not isinstance(m, (list, tuple)):
            return Val(m, dev=_settle(res, m, rule))
        if not isinstance(res, (list, tuple)) or len(res) < len(m):
            raise TypeError(f"rule {rule.name} returned {type(res).__name__}, expected {len(m)} outputs")
        used = {u.args[1] for u in n.users if u.target is operator.getitem}
        vals = []
        for i, x in enumerate(m):
            if res[i] is not None and _is_tensor(x):
                vals.append(Val(x, dev=_settle(res[i], x, rule)))
            elif i in used and _is_tensor(x):
                raise TypeError(f"rule {rule.name} gave no output {i}, which the graph uses")
            else:
                vals.append(None if _is_tensor(x) else x)
        return vals

    def _on_host(self, n, m, name):
        """The ATen op itself, on host tensors (a CPU fallback)."""
        self.out.fallbacks[name] += 1
        h = self._call_on_host(n)
        h.meta["fallback"] = True
        h.meta["aten"] = name
        h.meta["aten_node"] = n.name
        if isinstance(m, (list, tuple)):
            self.env[n] = [Val(x, host=self.graph.call_function(operator.getitem, (h, i))) if _is_tensor(x)
                           else x for i, x in enumerate(m)]
        else:
            self.env[n] = Val(m, host=h)

    def _call_on_host(self, n) -> fx.Node:
        return self.graph.call_function(n.target, self.resolve(n.args, self.to_host),
                                        self.resolve(n.kwargs, self.to_host))

    # --- values: where they live, and the transfers between ---------------------------------------------
    def resolve(self, a, conv):
        """`a` (an FX argument structure) with each node's value converted by `conv` (values that are not
        tensors, and multi-output lists, as they are)."""
        def one(x):
            if not isinstance(x, fx.Node):
                return x
            e = self.env[x]
            return conv(e) if isinstance(e, Val) else e
        return fx.node.map_aggregate(a, one)

    def meta_of(self, a):
        """What a guard sees for an argument: the ATen-level value (a scalar constant as its number)."""
        if isinstance(a, fx.Node):
            e = self.env[a]
            return (e.meta if e.scalar is None else e.scalar) if isinstance(e, Val) else e
        return a

    def dev_or_scalar(self, v: Val):
        return v.scalar if v.scalar is not None else self.to_dev(v)

    def to_dev(self, v: Val) -> TT:
        if v.dev is None:
            m = v.meta
            dtype = policy.ttnn_dtype(self.rec, m.dtype)
            layout = self.tile if m.dtype.is_floating_point or m.dtype == torch.bool else self.row_major
            host = v.host
            if m.dim() == 0:  # TT-NN has no 0-d tensors: a scalar lives on the device as shape [1]
                host = self.graph.call_function(torch.reshape, (host, (1,)))
            mesh = {} if self.mesh_io is None else {"mesh_mapper": self.mesh_io.mapper(m)}
            h = self.rec.from_torch(host, dtype=dtype, layout=layout, device=self.device, **mesh)
            h.shape = tuple(m.shape) or (1,)
            h.node.meta["transfer"] = "h2d"
            v.dev = h
        return v.dev

    def to_host(self, v: Val) -> fx.Node:
        if v.host is None:
            if self.mesh_io is not None:   # the chips' shards read back and joined (compiler.mesh.gather)
                node = self.graph.call_function(mesh_gather, (v.dev.node,),
                                                self.mesh_io.gather_kwargs(v.meta, v.meta.dtype))
            else:
                node = self.rec.to_torch(v.dev, dtype=v.meta.dtype).node
            node.meta["transfer"] = "d2h"
            node.meta["device"] = False
            v.host = node
            if v.meta.dim() == 0:
                v.host = self.graph.call_function(torch.reshape, (node, ()))
        return v.host

    def _device_input(self, ph, m, state: bool = False) -> TT:
        """An input already on the device: the eager device's dtype for it is known (its placement policy),
        its layout is not (to_layout is free when it already has the one asked for). Converted to the
        compiler's convention, which the constant pass folds for parameters (once per module, no transfer).
        State the graph writes back (a KV cache) keeps the device's dtype: a typecast would copy all of it every
        call, and an in-place write (cache.py) must land in the caller's buffer, not in a converted copy."""
        rec = self.rec
        h = TT(ph, tuple(m.shape) or (1,), policy.device_dtype(rec, m.dtype), None)
        floating = m.dtype.is_floating_point or m.dtype == torch.bool
        h = rec.to_layout(h, self.tile if floating else self.row_major)
        return h if state else rec.typecast(h, policy.ttnn_dtype(rec, m.dtype))

    def _device_output(self, v: Val):
        """An output left on the device, in the eager device's dtype for its torch dtype. A 0-d one (a static
        KV cache's position counter) stays on the device too, as shape [1] (TT-NN's scalar): the caller views it
        as 0-d, so a counter the model updates in place never visits the host."""
        x = self.to_dev(v)
        y = self.rec.typecast(x, policy.device_dtype(self.rec, v.meta.dtype))
        if y is not x:
            y.node.meta["converts"] = True  # to another dtype than the value's: a new buffer (facts.may_alias)
        return y.node


def _settle(res, meta, rule) -> TT:
    """The rule's result, stamped with the ATen node's shape (a new handle: the rule may return an input)."""
    if not isinstance(res, TT):
        raise TypeError(f"rule {rule.name} returned {type(res).__name__}, expected a TT-NN tensor")
    res.node.meta.setdefault("rule", rule.name)
    res.node.meta["shape"] = tuple(meta.shape) or (1,)  # the ATen shape, for graph passes (compiler/fuse/)
    return TT(res.node, tuple(meta.shape) or (1,), res.dtype, res.layout)
