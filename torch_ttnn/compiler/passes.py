"""Passes over the lowered TT-NN graph, each `graph -> graph` (or graph -> facts), in the order they run:

0. `fold_batchnorm` (on the ATen graph, before lowering): inference BatchNorms folded into the convolution
   that feeds them.
1. `mark_constants`: a node is constant when it depends only on parameters, buffers and graph constants.
   Constant nodes run once per compiled module (parameters placed on the device once, weight transposes and
   casts folded) and their device results are kept: `load_params_once`.
2. `weight_dtype` (opt-in, `TorchTtnnOption(weight_dtype="bfloat8_b")`): the constant weights that matmuls
   and linears read are cast once to a block-float format, as TT's optimized models store them (half the bytes
   to read and unpack per tile, at a reported accuracy cost); the cast is a constant, so it is folded.
3. `inputs_first`: the per-call inputs cross to the device before the first per-call device op (lowering
   places each upload at its first use, e.g. BERT's attention mask halfway through the embeddings), so the
   device ops of a call form one run with no host step inside: what a trace can capture and replay.
4. `insert_deallocs`: every device tensor computed per call is freed right after its last use, so device
   memory after a call is what it was before it. Ops that may return their input itself (a view or a no-op
   conversion, as lowering/facts.py declares them) make one buffer of input and output: the group is freed
   after the last use of any member, and never when it holds a kept constant.
"""
from __future__ import annotations

import operator

import torch
import torch.fx as fx

from ..lowering.facts import may_alias
from .program import has_symbols

# ATen ops whose result changes per call even with the same inputs: never folded.
_RANDOM = ("rand", "randn", "randint", "bernoulli", "native_dropout", "normal", "uniform", "empty", "randperm")


def mark_constants(graph: fx.Graph) -> None:
    for n in graph.nodes:
        if n.op == "placeholder":
            n.meta["const"] = n.meta.get("kind") in ("param", "const")
        elif n.op == "output":
            n.meta["const"] = False
        else:
            random = any(r in str(n.target) for r in _RANDOM) and n.meta.get("fallback")
            n.meta["const"] = not random and all(a.meta.get("const") for a in n.all_input_nodes) \
                and not has_symbols((n.args, n.kwargs))  # a size that changes per call
    for n in graph.nodes:  # constants read by per-call nodes are kept across calls
        n.meta["kept"] = n.meta["const"] and any(not u.meta.get("const") for u in n.users)


def inputs_first(graph: fx.Graph) -> int:
    """Move each per-call host step that depends only on inputs (an input's host-to-device upload, host work
    on an input before its upload) ahead of the first per-call device op; returns how many moved. Runs after
    `mark_constants`. Steps that read a device result (a download, a CPU fallback between device ops) stay:
    a program with one of those is not traceable, and says so."""
    def per_call(n):
        return n.op == "call_function" and not n.meta.get("const") and n.meta.get("ttnn_name") != "deallocate"

    def on_device(n):
        return bool(n.meta.get("device")) and not n.meta.get("transfer")
    nodes = list(graph.nodes)
    first = next((n for n in nodes if per_call(n) and on_device(n)), None)
    if first is None:
        return 0
    before = set(nodes[:nodes.index(first)])
    moved = []
    for n in nodes[nodes.index(first):]:
        if per_call(n) and not on_device(n) and n.meta.get("transfer") != "d2h" \
                and all(a in before for a in n.all_input_nodes):
            first.prepend(n)
            before.add(n)
            moved.append(n)
    return len(moved)


def _alias_groups(graph: fx.Graph) -> dict:
    parent = {}

    def find(x):
        while parent.get(x, x) is not x:
            x = parent[x]
        return x
    for n in graph.nodes:
        if may_alias(n.meta.get("ttnn_name"), converts=n.meta.get("converts", False)) and n.args \
                and isinstance(n.args[0], fx.Node):
            parent[find(n)] = find(n.args[0])
    return {n: find(n) for n in graph.nodes}


def insert_deallocs(graph: fx.Graph, deallocate) -> int:
    """Insert `deallocate(x)` after the last use of each per-call device tensor; returns how many."""
    order = {n: i for i, n in enumerate(graph.nodes)}
    group_of = _alias_groups(graph)
    groups: dict = {}
    for n in graph.nodes:
        groups.setdefault(group_of[n], []).append(n)
    count = 0
    for members in groups.values():
        dev = [m for m in members if m.meta.get("device") and not m.meta.get("multi")]
        if not dev or any(m.meta.get("kept") for m in members):
            continue
        # A group holding an input (a conversion of a device input) is freed too: at run time the executor
        # never frees the caller's own tensors, in case the conversion handed back the input itself.
        users = [u for m in members for u in m.users]
        if any(u.op == "output" for u in users):
            continue  # a device value leaving the graph (outputs left on the ttnn torch device)
        last = max(users, key=order.__getitem__) if users else max(members, key=order.__getitem__)
        const = all(m.meta.get("const") for m in members)
        with graph.inserting_after(last):
            for m in reversed(dev):
                d = graph.call_function(deallocate, (m,))
                d.meta.update(const=const, ttnn_name="deallocate", device=False)
                count += 1
    return count


def multi_output_getitems(graph: fx.Graph):
    return [n for n in graph.nodes if n.target is operator.getitem]


def fold_batchnorm(gm: fx.GraphModule, kinds: list[str]) -> int:
    """ATen-level, before lowering: an inference BatchNorm fed only by a convolution becomes part of it.

    conv(x, w, b) -> bn(gamma, beta, mean, var) equals conv(x, w * s, (b - mean) * s + beta) with
    s = gamma / sqrt(var + eps) per output channel. The new weight and bias depend on parameters only: they
    are computed on the host in float32 once per parameter version (as TT's model preprocessing folds
    BatchNorms), then placed like any weight; per call the device runs one conv instead of a conv, a multiply
    and an add, each rounding its output to bfloat16. That rounding is what costs deep convnets their accuracy
    (full ResNet-50: PCC 0.989 -> 0.993), and TT's own ResNet folds its BatchNorms the same way. Only
    parameter-fed BatchNorms after a convolution used nowhere else are folded (a training graph, which saves
    the convolution's output for backward, keeps both). Returns the number folded."""
    aten = torch.ops.aten
    phs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    params = {n for n, k in zip(phs, kinds) if k == "param"}

    def param_or_none(a):
        return a is None or a in params

    def fake(target, *args):
        vals = [a.meta["val"] if isinstance(a, fx.Node) else a for a in args]
        return target(*vals)

    folded = 0
    for bn in list(gm.graph.nodes):
        if bn.target != aten._native_batch_norm_legit_no_training.default:
            continue
        conv, gamma, beta, mean, var, _momentum, eps = bn.args
        if not (isinstance(conv, fx.Node) and conv.target == aten.convolution.default and len(conv.users) == 1
                and not conv.args[6] and all(param_or_none(a) for a in (conv.args[1], conv.args[2], gamma, beta))
                and mean in params and var in params):
            continue
        outs = list(bn.users)
        if not all(u.target == operator.getitem and (u.args[1] == 0 or not u.users) for u in outs):
            continue
        w, b = conv.args[1], conv.args[2]
        g = gm.graph
        with g.inserting_before(conv):
            def node(target, *args):
                n = g.call_function(target, args)
                n.meta["val"] = fake(target, *args)
                n.meta["host_prep"] = True  # lowered as host preprocessing in float32, not to device ops
                return n
            s = node(aten.rsqrt.default, node(aten.add.Tensor, var, eps))
            if gamma is not None:
                s = node(aten.mul.Tensor, s, gamma)
            w2 = node(aten.mul.Tensor, w, node(aten.view.default, s, [-1, 1, 1, 1]))
            shift = node(aten.neg.default, mean) if b is None else node(aten.sub.Tensor, b, mean)
            b2 = node(aten.mul.Tensor, shift, s)
            if beta is not None:
                b2 = node(aten.add.Tensor, b2, beta)
            new = g.call_function(aten.convolution.default, (conv.args[0], w2, b2, *conv.args[3:]))
            new.meta.update(conv.meta)
        for u in outs:
            if u.args[1] == 0:
                u.replace_all_uses_with(new)
            g.erase_node(u)
        g.erase_node(bn)
        g.erase_node(conv)
        folded += 1
    if folded:
        gm.recompile()
    return folded


_WEIGHT_READERS = ("matmul", "linear")


def weight_dtype(graph: fx.Graph, typecast, dtype) -> int:
    """Cast the constant B operand (and bias) of every matmul/linear to `dtype` once; returns how many.
    Runs after `mark_constants` (it reads which nodes are constant) and marks what it adds the same way."""
    casts: dict = {}
    count = 0
    for n in list(graph.nodes):
        if n.op != "call_function" or n.meta.get("ttnn_name") not in _WEIGHT_READERS or n.meta.get("const"):
            continue
        for i, w in enumerate(n.args[:2]):
            if i == 1 and isinstance(w, fx.Node) and w.meta.get("const") and w.meta.get("device") is not False:
                n.update_arg(i, _cast(graph, w, typecast, dtype, casts))
                count += 1
    return count


def _cast(graph, w: fx.Node, typecast, dtype, casts: dict) -> fx.Node:
    if w not in casts:
        with graph.inserting_after(w):
            c = graph.call_function(typecast, (w, dtype))
        c.meta.update(ttnn_name="typecast", device=True, const=True, kept=False, shape=w.meta.get("shape"),
                      layout=w.meta.get("layout"), dtype=dtype)
        casts[w] = c
    return casts[w]



def alias_members(graph: fx.Graph) -> tuple[dict, dict]:
    """(node -> its alias group's representative, representative -> the group's nodes in program order): the
    buffers per-call memory planning (place.py, memory.py) counts once per group."""
    group_of = _alias_groups(graph)
    members: dict = {}
    for n in graph.nodes:
        members.setdefault(group_of[n], []).append(n)
    return group_of, members
