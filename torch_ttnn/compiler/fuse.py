"""Fusion passes over the lowered TT-NN graph: chains of TT-NN ops become the fused forms TT-NN offers.

Why: lowering goes one ATen op at a time, so a transformer layer comes out as TT-NN's unfused building blocks
(the bias row, the activation and the residual add each a separate op, and the reshape + permute pairs that
split and merge attention heads), each paying a dispatch and a round trip through DRAM. Hand-written TT-NN
models use the fused ops instead; these passes make the compiled program do the same.

Each pass is `(graph, FuseContext) -> int`, rewriting the graph in place (as the passes in passes.py do) and
returning how many fusions it applied (the metrics report them per pass). They run after lowering and before
mark_constants/insert_deallocs: a node's users are then its real consumers, and the inputs a fusion builds
from parameters only (the concatenated QKV weights) become constants folded once per module. Shapes come
from what the recorder knew (`node.meta["shape"]`); a pass leaves alone a node whose shape it needs but which
is unknown or symbolic. Every pass can be switched off: `TorchTtnnOption(fuse=False)` or a set of the names
below.

Passes, in the order they run:
- `common_ops`: the same pure op on the same inputs computed once (not a fusion strictly, but lowering one
  ATen op at a time repeats work the model repeats per layer, such as BERT's additive attention mask).
- `matmul_bias`: `matmul(a, w)` then `add` of a bias row -> `linear(a, w, bias=b)`.
- `linear_activation`: a linear/matmul whose only user is an activation TT-NN can fuse (relu, gelu, silu, ...)
  -> `linear(..., activation=name, core_grid=<the device's grid>)`. The core grid is what makes the fusion
  real: without one TT-NN runs the activation as a separate unary op on the rounded product (tt-metal
  matmul.cpp, bound_matmul); with one it is applied to the accumulator before packing, so the result may
  differ from the unfused program by one bfloat16 rounding.
- `qkv_heads`: three projections of one input, each split into heads (`reshape [B, S, H, D]` + `permute
  [0, 2, 1, 3]`) -> one linear over the concatenated weights + `transformer.split_query_key_value_and_
  split_heads`; and a fused QKV projection sliced in three, each split into heads (GPT-2's c_attn) -> the split
  op on it. Only where TT-NN's op applies: equal head counts (its grouped-query path is a Falcon-7B kernel),
  head size a multiple of 32 (the op's own check).
- `concat_heads`: `permute [0, 2, 1, 3]` + `reshape [B, S, H*D]` of attention heads ->
  `transformer.concatenate_heads` (rank 4, TILE, head size a multiple of 32, as the op requires).
- `sdpa_concat_heads`: `concatenate_heads` of `scaled_dot_product_attention` (or of its result scaled per query
  row, the lowering's rows that attend nothing) -> the attention with `output_concat_heads=True` and a reshape
  (a view) to [B, S, H*D]: the kernel writes the heads side by side, the concat op is gone.
- `gqa_attention`: grouped-query attention's `repeat_kv` (reshape, repeat, reshape of K and V) before
  `scaled_dot_product_attention` removed: TT-NN's SDPA takes fewer K/V heads than Q heads.
- `rms_norm`: HF's RMSNorm as lowering leaves it (square, mean, add epsilon, rsqrt, multiply, multiply by the
  weight) -> `ttnn.rms_norm(x, epsilon=eps, weight=w)`.
- `rotate_half`: HF's rotate_half for RoPE (two slices, a neg, a concat) -> `ttnn.experimental.rotate_half`.
- `residual_layer_norm`: `layer_norm(add(x, r))` (or rms_norm) where the add has no other user ->
  `layer_norm(x, residual_input_tensor=r)`: the add happens in float32 inside the norm, so the sum is not
  rounded to bfloat16 first.
- `decode_rows`: a decode step's [B, 1, K] activations (norms, residual adds, the MLP) run as [1, 1, B, K],
  TT's decode layout: the B rows share tiles instead of one padded tile row each, and the reshapes between a
  linear's [B, K] and [B, 1, K] become views; only where it saves more reshapes than it adds.
- `reshapes`: round trips that do nothing: reshape of a reshape, a reshape to the shape it already has,
  permutes that compose (or cancel), to_layout there and back, `to_layout(ROW_MAJOR) -> reshape ->
  to_layout(TILE)` (a reshape works in TILE layout), and `reshape [B*S, K] -> linear(s) -> reshape [B, S, N]`
  (a linear takes the rank-3 input directly).
- `rotary_embedding`: a decode step's RoPE on query and key heads (`x * cos + rotate_half(x) * sin`, one cos/sin
  row per user) -> `ttnn.experimental.rotary_embedding_hf(..., is_decode_mode=True)` on the heads height-sharded
  one user per core, handed sharded to flash-decode and to the KV-cache write (runs last: it reads the
  decode layout the passes before leave).
- `qkv_heads_decode`: a decode step's Q, K and V projections of one [1, 1, B, K] input, each split into heads
  and moved to user shards (by the passes and rules before) -> one product over [Wq | Wk | Wv] +
  `ttnn.experimental.nlp_create_qkv_heads_decode` (grouped-query included), whose outputs are those shards.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Callable

import torch.fx as fx

_TILE = 32
_MM = ("linear", "matmul")
# Keyword arguments of a plain product the passes may carry over to the fused op unchanged.
_PLAIN_MM_KW = frozenset({"bias", "compute_kernel_config", "dtype", "memory_config"})


@dataclass(frozen=True)
class FuseContext:
    """What the passes need beyond the graph: the runtime's module (the targets of new nodes) and the grid a
    matmul with a fused activation is given."""
    ttnn: object
    core_grid: object

    @classmethod
    def of(cls, ttnn, device) -> "FuseContext":
        g = device.compute_with_storage_grid_size()
        return cls(ttnn, ttnn.CoreGrid(y=g.y, x=g.x))


@dataclass(frozen=True)
class FusionPass:
    name: str
    run: Callable[[fx.Graph, FuseContext], int]


# --- reading the graph -------------------------------------------------------------------------------------
def _op(n, *names) -> bool:
    return isinstance(n, fx.Node) and n.op == "call_function" and n.meta.get("ttnn_name") in names


def _shape(n) -> tuple | None:
    """The node's shape if known and concrete (a host tensor placed on the device: its placeholder's)."""
    s = n.meta.get("shape") if isinstance(n, fx.Node) else None
    if s is None and _op(n, "from_torch") and isinstance(n.args[0], fx.Node):
        v = n.args[0].meta.get("val")
        s = (tuple(v.shape) or (1,)) if hasattr(v, "shape") else None
    return tuple(s) if s is not None and all(type(d) is int for d in s) else None


def _target(reshape: fx.Node) -> tuple | None:
    """The shape a reshape asks for, if concrete and without -1."""
    s = reshape.args[1] if len(reshape.args) > 1 else None
    return tuple(s) if isinstance(s, (list, tuple)) and all(type(d) is int and d >= 0 for d in s) else None


def _arg(n: fx.Node, i: int):
    """Positional argument i of n, None if n has fewer (an op called with keywords only)."""
    return n.args[i] if len(n.args) > i else None


def _sole_user(n: fx.Node) -> fx.Node | None:
    return next(iter(n.users)) if len(n.users) == 1 else None


def _reshapes_after(n: fx.Node) -> list[fx.Node]:
    """The reshapes that follow `n` one after another, each the only user of the node before it."""
    chain, cur = [], n
    while (u := _sole_user(cur)) is not None and _op(u, "reshape") and u.args[0] is cur and not u.kwargs:
        chain.append(u)
        cur = u
    return chain


def _plain_product(n: fx.Node) -> bool:
    """A linear/matmul of two tensors with no transpose, activation, grid or program config."""
    return _op(n, *_MM) and len(n.args) == 2 and not set(n.kwargs) - _PLAIN_MM_KW


def _rowwise_product(n: fx.Node) -> bool:
    """A linear/matmul that maps each row of its input on its own (a fused activation included)."""
    return _op(n, *_MM) and len(n.args) == 2 and not set(n.kwargs) - _PLAIN_MM_KW - {"activation", "core_grid"}


# --- editing the graph -------------------------------------------------------------------------------------
def _new(graph: fx.Graph, origin: fx.Node, rule: str, target, args, kwargs=None, **meta) -> fx.Node:
    """A node next to `origin` (the final topological sort places it), attributed to origin's ATen op so a
    run-time failure is reported and recovered from as origin's would be."""
    with graph.inserting_before(origin):
        n = graph.call_function(target, tuple(args), dict(kwargs or {}))
    n.meta.update({k: origin.meta[k] for k in ("aten", "aten_node") if k in origin.meta})
    n.meta.update(device=True, rule=f"fuse.{rule}", **meta)
    return n


def _drop(graph: fx.Graph, n: fx.Node) -> None:
    """Erase `n` if nothing uses it any more, then its inputs that became unused the same way."""
    stack = [n]
    while stack:
        m = stack.pop()
        if m.op != "call_function" or m.users or getattr(m, "_erased", False):
            continue
        inputs = m.all_input_nodes
        graph.erase_node(m)
        stack.extend(inputs)


def _replace(graph: fx.Graph, old: fx.Node, new: fx.Node) -> None:
    old.replace_all_uses_with(new)
    _drop(graph, old)


def _toposort(graph: fx.Graph) -> None:
    """Reorder so that every node follows its inputs, moving as little as possible: new nodes are created
    next to the op they replace, and may need an input (a weight placed on the device later) moved up."""
    order, done = [], set()
    for root in graph.nodes:
        stack = [(root, False)]
        while stack:
            n, ready = stack.pop()
            if n in done:
                continue
            if ready:
                done.add(n)
                order.append(n)
                continue
            stack.append((n, True))
            stack.extend((i, False) for i in reversed(n.all_input_nodes) if i not in done)
    if order != list(graph.nodes):
        for prev, n in zip(order, order[1:]):
            prev.append(n)


# --- matmul_bias -------------------------------------------------------------------------------------------
def _bias_row(add, x: fx.Node, n: int) -> fx.Node | None:
    """The other operand of `add(x, b)` if it is a bias row for an output of width n."""
    if not _op(add, "add") or add.kwargs or len(add.args) != 2 or x not in add.args:
        return None
    b = add.args[1] if add.args[0] is x else add.args[0]
    if not isinstance(b, fx.Node) or b is x or _shape(b) not in ((n,), (1, n)):
        return None
    return b if b.meta.get("dtype") in (None, x.meta.get("dtype")) else None


def fuse_matmul_bias(graph: fx.Graph, ctx: FuseContext) -> int:
    """matmul(a, w) [-> reshapes keeping the last dim] -> add(., bias row) => linear(a, w, bias=b)."""
    count = 0
    for mm in list(graph.nodes):
        if not _op(mm, "matmul") or not _plain_product(mm) or len(ws := _shape(mm.args[1]) or ()) != 2:
            continue
        chain = _reshapes_after(mm)
        if any((_target(r) or (None,))[-1] != ws[1] for r in chain):
            continue
        end = chain[-1] if chain else mm
        add = _sole_user(end)
        bias = _bias_row(add, end, ws[1])
        if bias is None:
            continue
        lin = _new(graph, mm, "matmul_bias", ctx.ttnn.linear, mm.args, {**mm.kwargs, "bias": bias},
                   **{k: mm.meta.get(k) for k in ("shape", "dtype", "layout")}, ttnn_name="linear")
        add.replace_all_uses_with(end)
        graph.erase_node(add)
        _replace(graph, mm, lin)
        count += 1
    return count


# --- linear_activation -------------------------------------------------------------------------------------
_PLAIN_ACTIVATIONS = ("relu", "relu6", "silu", "sigmoid", "hardsigmoid", "mish")


def _activation(u: fx.Node, x: fx.Node) -> str | None:
    """The activation string TT-NN's matmul takes for `u` applied to x, if u is one it can fuse."""
    if not isinstance(u, fx.Node) or u.args != (x,):
        return None
    kw = dict(u.kwargs)
    if _op(u, "gelu"):  # "gelu_approx" is the FastLut kernel, as gelu(fast_and_approximate_mode=True) is; the
        approx = kw.pop("fast_and_approximate_mode", False)  # tanh variant has no activation string: not fused
        return None if kw else ("gelu_approx" if approx else "gelu")
    if _op(u, "tanh"):
        return None if kw.pop("fast_and_approximate_mode", False) or kw else "tanh"
    return u.meta["ttnn_name"] if _op(u, *_PLAIN_ACTIVATIONS) and not kw else None


def fuse_linear_activation(graph: fx.Graph, ctx: FuseContext) -> int:
    """linear/matmul [-> reshapes] -> activation => linear(..., activation=name, core_grid=grid). Only for
    products with an explicit compute config: a core grid makes TT-NN's default fidelity LoFi."""
    count = 0
    for mm in list(graph.nodes):
        if not _plain_product(mm) or mm.kwargs.get("compute_kernel_config") is None:
            continue
        chain = _reshapes_after(mm)
        end = chain[-1] if chain else mm
        act_node = _sole_user(end)
        act = _activation(act_node, end)
        if act is None:
            continue
        mm.kwargs = {**mm.kwargs, "activation": act, "core_grid": ctx.core_grid}
        _replace(graph, act_node, end)  # an element-wise function commutes with the reshapes
        count += 1
    return count


# --- qkv_heads ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeadSplit:
    """One projection split into attention heads: product(x, w[, bias]) -> reshape(s) to [B, S, H, D] ->
    permute [0, 2, 1, 3] (`out`, [B, H, S, D])."""
    product: fx.Node
    out: fx.Node
    x: fx.Node          # the input, seen through a flattening reshape [B, S, K] -> [B*S, K]
    batch: int
    seq: int
    heads: int
    head_size: int

    @property
    def weight(self) -> fx.Node:
        return self.product.args[1]

    @property
    def bias(self) -> fx.Node | None:
        return self.product.kwargs.get("bias")

    def same_form(self, other: "HeadSplit") -> bool:
        """Whether one product over concatenated weights computes both (same input, sizes and options)."""
        mine = {k: v for k, v in self.product.kwargs.items() if k != "bias"}
        theirs = {k: v for k, v in other.product.kwargs.items() if k != "bias"}
        return (self.x is other.x and self.product.target is other.product.target and mine == theirs
                and (self.batch, self.seq, self.heads, self.head_size)
                == (other.batch, other.seq, other.heads, other.head_size)
                and (self.bias is None) == (other.bias is None)
                and (self.bias is None or len(_shape(self.bias) or ()) == len(_shape(other.bias) or ())))


def _is_permute(n, dims) -> bool:
    return _op(n, "permute") and not n.kwargs and len(n.args) == 2 and list(n.args[1]) == list(dims)


def _head_split(p: fx.Node) -> HeadSplit | None:
    if not _is_permute(p, (0, 2, 1, 3)):
        return None
    chain, cur = [], p.args[0]
    while _op(cur, "reshape") and not cur.kwargs and _sole_user(cur) is (chain[-1] if chain else p):
        chain.append(cur)
        cur = cur.args[0]
    if not chain or not _plain_product(cur) or _sole_user(cur) is not chain[-1]:
        return None
    target, ws, xs = _target(chain[0]), _shape(cur.args[1]), _shape(cur.args[0])
    if target is None or len(target) != 4 or ws is None or len(ws) != 2 or xs is None:
        return None
    b, s, h, d = target
    if ws[1] != h * d or xs not in ((b, s, ws[0]), (b * s, ws[0])):
        return None
    bias = cur.kwargs.get("bias")
    if bias is not None and _shape(bias) not in ((h * d,), (1, h * d)):
        return None
    x = cur.args[0]
    if _op(x, "reshape") and not x.kwargs and _shape(x.args[0]) == (b, s, ws[0]):
        x = x.args[0]  # each projection flattens the same input on its own: group them by that input
    return HeadSplit(cur, p, x, b, s, h, d)


def _fusable_qkv(splits: list[HeadSplit]) -> bool:
    return len(splits) == 3 and splits[0].head_size % _TILE == 0 and all(splits[0].same_form(s) for s in splits)


def _fuse_qkv(graph: fx.Graph, ctx: FuseContext, splits: list[HeadSplit]) -> None:
    t, first = ctx.ttnn, splits[0]
    prod, (b, s, h, d) = first.product, (first.batch, first.seq, first.heads, first.head_size)
    k, width = _shape(first.weight)[0], 3 * h * d
    meta = dict(dtype=prod.meta.get("dtype"), layout=prod.meta.get("layout"))
    w = _new(graph, prod, "qkv_heads", t.concat, ([x.weight for x in splits], 1), shape=(k, width),
             ttnn_name="concat", **meta)
    kwargs = {kk: v for kk, v in prod.kwargs.items() if kk != "bias"}
    if first.bias is not None:
        rank = len(_shape(first.bias))
        kwargs["bias"] = _new(graph, prod, "qkv_heads", t.concat, ([x.bias for x in splits], rank - 1),
                              shape=(1,) * (rank - 1) + (width,), ttnn_name="concat", **meta)
    xs = _shape(first.x)
    qkv = _new(graph, prod, "qkv_heads", prod.target, (first.x, w), kwargs, shape=xs[:-1] + (width,),
               ttnn_name=prod.meta["ttnn_name"], **meta)
    if len(xs) == 2:
        qkv = _new(graph, prod, "qkv_heads", t.reshape, (qkv, [b, s, width]), shape=(b, s, width),
                   ttnn_name="reshape", **meta)
    split = _new(graph, prod, "qkv_heads", t.transformer.split_query_key_value_and_split_heads, (qkv,),
                 dict(num_heads=h, transpose_key=False), ttnn_name="split_query_key_value_and_split_heads",
                 multi=True, **meta)
    # with equal head counts and no transposed key, output i is chunk i (all made before `prod` is erased)
    parts = [_new(graph, prod, "qkv_heads", operator.getitem, (split, i), shape=(b, h, s, d), **meta)
             for i in range(len(splits))]
    for one, part in zip(splits, parts):
        _replace(graph, one.out, part)


@dataclass(frozen=True)
class SlicedHead:
    """One third of an already fused QKV tensor split into heads: slice(qkv [B, S, 3*H*D], last dim
    [start, start + H*D)) -> reshape [B, S, H, D] -> permute [0, 2, 1, 3] (`out`), as GPT-2's c_attn."""
    qkv: fx.Node
    start: int
    out: fx.Node
    heads: int
    head_size: int


def _sliced_head(p: fx.Node) -> SlicedHead | None:
    r = p.args[0] if _is_permute(p, (0, 2, 1, 3)) else None
    if not (_op(r, "reshape") and not r.kwargs and _sole_user(r) is p and len(_target(r) or ()) == 4):
        return None
    sl, (b, s, h, d) = r.args[0], _target(r)
    if not _op(sl, "slice") or sl.kwargs or len(sl.args) != 4 or _sole_user(sl) is not r:
        return None
    qkv, starts, ends, steps = sl.args
    if _shape(qkv) != (b, s, 3 * h * d) or list(steps) != [1, 1, 1] or list(starts[:2]) != [0, 0] \
            or list(ends) != [b, s, starts[2] + h * d]:
        return None
    return SlicedHead(qkv, starts[2], p, h, d)


def _fuse_sliced_qkv(graph: fx.Graph, ctx: FuseContext) -> int:
    """Q, K and V sliced from one fused projection and each split into heads => split_query_key_value_and_
    split_heads of that tensor."""
    by_source: dict[fx.Node, list[SlicedHead]] = {}
    for n in graph.nodes:
        sh = _sliced_head(n)
        if sh is not None:
            by_source.setdefault(sh.qkv, []).append(sh)
    count = 0
    for qkv, parts in by_source.items():
        h, d = parts[0].heads, parts[0].head_size
        if sorted(x.start for x in parts) != [0, h * d, 2 * h * d] or d % _TILE or \
                any((x.heads, x.head_size) != (h, d) for x in parts) or qkv.meta.get("layout") != ctx.ttnn.TILE_LAYOUT:
            continue
        meta = dict(dtype=qkv.meta.get("dtype"), layout=qkv.meta.get("layout"))
        b, s, _ = _shape(qkv)
        split = _new(graph, parts[0].out, "qkv_heads", ctx.ttnn.transformer.split_query_key_value_and_split_heads,
                     (qkv,), dict(num_heads=h, transpose_key=False), multi=True,
                     ttnn_name="split_query_key_value_and_split_heads", **meta)
        outs = [_new(graph, parts[0].out, "qkv_heads", operator.getitem, (split, x.start // (h * d)),
                     shape=(b, h, s, d), **meta) for x in parts]
        for x, out in zip(parts, outs):
            _replace(graph, x.out, out)
        count += 1
    return count


def fuse_qkv_heads(graph: fx.Graph, ctx: FuseContext) -> int:
    """Three head-split projections of one input => one linear over [Wq | Wk | Wv] + split_query_key_value_
    and_split_heads (the concatenated weights are constants: computed once per module); a fused QKV
    projection sliced in three and split into heads => the split op on it."""
    by_input: dict[fx.Node, list[HeadSplit]] = {}
    for n in graph.nodes:
        hs = _head_split(n)
        if hs is not None:
            by_input.setdefault(hs.x, []).append(hs)
    fusable = [splits for splits in by_input.values() if _fusable_qkv(splits)]
    for splits in fusable:
        _fuse_qkv(graph, ctx, splits)
    return len(fusable) + _fuse_sliced_qkv(graph, ctx)


# --- concat_heads ------------------------------------------------------------------------------------------
def fuse_concat_heads(graph: fx.Graph, ctx: FuseContext) -> int:
    """permute(x [B, H, S, D], [0, 2, 1, 3]) -> reshape [.., H*D] => concatenate_heads(x) [-> reshape]."""
    count = 0
    for p in list(graph.nodes):
        if not _is_permute(p, (0, 2, 1, 3)):
            continue
        x, r = p.args[0], _sole_user(p)
        xs = _shape(x)
        if xs is None or len(xs) != 4 or xs[3] % _TILE or x.meta.get("layout") != ctx.ttnn.TILE_LAYOUT:
            continue
        b, h, s, d = xs
        if s == 1:
            continue   # one query per sequence: the permute moves a size-1 dim; the `reshapes` pass drops it
        target = _target(r) if _op(r, "reshape") and r.args[0] is p else None
        if target is None or target[-1] != h * d or math.prod(target) != b * s * h * d:
            continue
        heads = _new(graph, p, "concat_heads", ctx.ttnn.transformer.concatenate_heads, (x,),
                     shape=(b, s, h * d), ttnn_name="concatenate_heads", dtype=x.meta.get("dtype"),
                     layout=x.meta.get("layout"))
        if target == (b, s, h * d):
            _replace(graph, r, heads)
        else:
            r.replace_input_with(p, heads)
        _drop(graph, p)
        count += 1
    return count


# --- sdpa_concat_heads -------------------------------------------------------------------------------------
def _row_scale(n: fx.Node, x: fx.Node) -> fx.Node | None:
    """The other operand of `multiply(x, r)` if r scales whole query rows of every head alike ([B|1, 1, S, 1],
    as the lowering's `keep` of rows that attend nothing): it then scales the concatenated heads the same way."""
    if not _op(n, "multiply") or n.kwargs or len(n.args) != 2 or x not in n.args or n.args[0] is n.args[1]:
        return None
    r = n.args[1] if n.args[0] is x else n.args[0]
    xs, rs = _shape(n), _row_max_shape(r)
    if xs is None or rs is None or len(rs) != 4 or len(xs) != 4:
        return None
    return r if rs[0] in (1, xs[0]) and rs[1] == 1 and rs[2] == xs[2] and rs[3] == 1 else None


def _row_max_shape(r) -> tuple | None:
    """r's shape, also where the recorder did not know it but r is a row maximum (`max(m, dim=-1, keepdim=True)`,
    possibly compared with a scalar): m's shape with a last dim of 1."""
    if not isinstance(r, fx.Node):
        return None
    if _shape(r) is not None:
        return _shape(r)
    if _op(r, "gt", "ge", "ne") and len(r.args) == 2 and isinstance(r.args[1], (int, float)):
        return _row_max_shape(r.args[0])
    if _op(r, "max") and r.kwargs.get("keepdim") and r.kwargs.get("dim") in (-1, 3) and len(r.args) == 1:
        ms = _shape(r.args[0])
        return None if ms is None or len(ms) != 4 else ms[:3] + (1,)
    return None


def fuse_sdpa_concat_heads(graph: fx.Graph, ctx: FuseContext) -> int:
    """concatenate_heads(scaled_dot_product_attention(...)) => scaled_dot_product_attention(...,
    output_concat_heads=True) -> reshape [B, S, NH*D]: the attention kernel writes each head's rows into its
    columns of the concatenated output, bit-identical to the separate op (tt-metal test_sdpa_output_concat_heads),
    so the concat's own read and write of the context (and its dispatch) go. The op's output is [B, 1, S, NH*D];
    dropping the 1 is a view. A row scale between them (`multiply` by [B|1, 1, S, 1]: the lowering's rows that
    attend nothing) moves after the attention unchanged, since it scales every head's row alike."""
    count = 0
    for c in list(graph.nodes):
        if not _op(c, "concatenate_heads") or c.kwargs or len(c.args) != 1:
            continue
        x = c.args[0]
        sdpa, scale = x, None
        if _op(x, "multiply"):
            sdpa = next((a for a in x.args if _op(a, "scaled_dot_product_attention")), None)
            scale = _row_scale(x, sdpa) if sdpa is not None else None
            if scale is None:
                continue
        xs = _shape(x)
        if not _op(sdpa, "scaled_dot_product_attention") or sdpa.kwargs.get("output_concat_heads") \
                or _sole_user(sdpa) is not (x if scale is not None else c) or _sole_user(x) is not c \
                or xs is None or len(xs) != 4:
            continue
        b, h, s, d = xs
        sdpa.kwargs = {**sdpa.kwargs, "output_concat_heads": True}
        sdpa.meta["shape"] = (b, 1, s, h * d)
        if scale is not None:
            x.meta["shape"] = (b, 1, s, h * d)
        merged = _new(graph, c, "sdpa_concat_heads", ctx.ttnn.reshape, (x, [b, s, h * d]), shape=(b, s, h * d),
                      ttnn_name="reshape", dtype=c.meta.get("dtype"), layout=c.meta.get("layout"))
        for n in (sdpa, x):   # what the concat's output was, as later passes read it (the shard planner's tiles)
            n.meta.update(dtype=n.meta.get("dtype") or c.meta.get("dtype"),
                          layout=n.meta.get("layout") or c.meta.get("layout"))
        _replace(graph, c, merged)
        count += 1
    return count


# --- residual_layer_norm -----------------------------------------------------------------------------------
def fuse_residual_layer_norm(graph: fx.Graph, ctx: FuseContext) -> int:
    """layer_norm(add(x, r)) => layer_norm(x, residual_input_tensor=r) (same for rms_norm): x and r of one
    shape and dtype, the add used by nothing else."""
    count = 0
    for norm in list(graph.nodes):
        if not _op(norm, "layer_norm", "rms_norm") or norm.kwargs.get("residual_input_tensor") is not None:
            continue
        add = norm.args[0]
        if not _op(add, "add") or add.kwargs or len(add.args) != 2 or _sole_user(add) is not norm:
            continue
        x, r = add.args
        if not (isinstance(x, fx.Node) and isinstance(r, fx.Node)) or _shape(x) is None \
                or _shape(x) != _shape(r) or x.meta.get("dtype") != r.meta.get("dtype"):
            continue
        norm.args = (x, *norm.args[1:])
        norm.kwargs = {**norm.kwargs, "residual_input_tensor": r}
        graph.erase_node(add)
        count += 1
    return count


# --- reshapes ----------------------------------------------------------------------------------------------
def _reshape_of_reshape(graph, ctx, n) -> bool:
    inner = _arg(n, 0) if _op(n, "reshape") else None
    if not (_op(inner, "reshape") and not inner.kwargs):
        return False
    n.replace_input_with(inner, inner.args[0])
    _drop(graph, inner)
    return True


def _noop_reshape(graph, ctx, n) -> bool:
    if not _op(n, "reshape") or n.kwargs or _target(n) is None or _target(n) != _shape(n.args[0]):
        return False
    _replace(graph, n, n.args[0])
    return True


def _permute_of_permute(graph, ctx, n) -> bool:
    """permute(permute(x, p), q) => permute(x, p o q) (the outer's memory_config kept; the inner read by
    nothing else if it has a memory_config of its own)."""
    inner = _arg(n, 0) if _op(n, "permute") and len(n.args) == 2 else None
    if not (_op(inner, "permute") and len(inner.args) == 2 and not set(n.kwargs) - {"memory_config"}
            and (not inner.kwargs or (set(inner.kwargs) == {"memory_config"} and _sole_user(inner) is n))):
        return False
    dims = [list(inner.args[1])[i] for i in n.args[1]]
    if dims == sorted(dims) and not n.kwargs:
        _replace(graph, n, inner.args[0])
    else:
        n.args = (inner.args[0], dims)
        _drop(graph, inner)
    return True


def _moves_only_ones(dims, xs) -> bool:
    """A permute of a tensor of shape xs by dims keeps the order of its dims larger than 1: it moves no data in
    row-major order (torch would call it a view with the same strides order)."""
    big = [d for d in dims if xs[d] != 1]
    return big == sorted(big)


def _permute_input_shape(p) -> tuple | None:
    """The shape a permute reads: its input's, else worked back from its own."""
    xs, out, dims = _shape(p.args[0]), _shape(p), _permute_dims(p)
    if xs is None and out is not None and dims is not None and sorted(dims) == list(range(len(out))):
        back = [0] * len(out)
        for i, d in enumerate(dims):
            back[d] = out[i]
        xs = tuple(back)
    return xs


def _reshape_of_permute(graph, ctx, n) -> bool:
    """reshape(permute(x, p), s) => reshape(x, s) when p only moves dims of size 1 (a decode step's heads:
    [1, B, H, D] <-> [B, H, 1, D])."""
    p = _arg(n, 0) if _op(n, "reshape") and not n.kwargs else None
    dims, xs = (_permute_dims(p), _permute_input_shape(p)) if p is not None and _op(p, "permute") else (None, None)
    if dims is None or xs is None or p.kwargs or not _moves_only_ones(dims, xs):
        return False
    n.replace_input_with(p, p.args[0])
    _drop(graph, p)
    return True


def _dram_for_dram_reader(n, mc) -> bool:
    """A permute into DRAM read only by ops that take those inputs from DRAM only (place.DRAM_INPUTS), of a
    tensor whose op can write it to DRAM itself: the view of that tensor serves (the producer is given the
    permute's memory config)."""
    from .place import DRAM_INPUTS, _takes_memory_config
    x = n.args[0]
    return (getattr(mc, "buffer_type", None) is not None and mc.buffer_type.name == "DRAM" and not mc.is_sharded()
            and x.op == "call_function" and x.kwargs.get("memory_config") is None
            and _takes_memory_config(x.target) and n.users
            and all(u.meta.get("ttnn_name") in DRAM_INPUTS for u in n.users))


def _view_permute(graph, ctx, n) -> bool:
    """A permute that only moves dims of size 1 and leaves the last two dims as they are: a reshape (a view
    of the same tiles, free)."""
    dims, xs = _permute_dims(n), _shape(n.args[0]) if _op(n, "permute") else None
    mc = n.kwargs.get("memory_config") if dims is not None else None
    if dims is None or xs is None or (mc is not None and mc != n.args[0].kwargs.get("memory_config")
                                      and not _dram_for_dram_reader(n, mc)):
        return False
    out = tuple(xs[d] for d in dims)
    if out[-2:] != xs[-2:] or not _moves_only_ones(dims, xs):
        return False
    if mc is not None and mc != n.args[0].kwargs.get("memory_config"):
        n.args[0].update_kwarg("memory_config", mc)   # the producer writes where the reader wants it
    new = _new(graph, n, "reshapes", ctx.ttnn.reshape, (n.args[0], list(out)), shape=out,
               dtype=n.meta.get("dtype"), layout=n.meta.get("layout"), ttnn_name="reshape")
    _replace(graph, n, new)
    return True


def _plain_to_layout(n, layout=None) -> bool:
    return _op(n, "to_layout") and len(n.args) == 2 and not n.kwargs and (layout is None or n.args[1] == layout)


def _layout_round_trip(graph, ctx, n) -> bool:
    """to_layout(to_layout(x, A), B) with x already in B: x (no dtype change, nothing lost; block-float
    tensors excepted: they exist in TILE layout only)."""
    inner = n.args[0] if _plain_to_layout(n) else None
    if not _plain_to_layout(inner) or inner.args[0].meta.get("layout") != n.args[1] \
            or inner.args[0].meta.get("dtype") in (ctx.ttnn.bfloat8_b, ctx.ttnn.bfloat4_b):
        return False
    _replace(graph, n, inner.args[0])
    return True


def _row_major_reshape(graph, ctx, n) -> bool:
    """to_layout(reshape(to_layout(x, ROW_MAJOR), s), TILE) with x in TILE: reshape(x, s) in TILE layout."""
    tile, rm = ctx.ttnn.TILE_LAYOUT, ctx.ttnn.ROW_MAJOR_LAYOUT
    r = n.args[0] if _plain_to_layout(n, tile) else None
    inner = r.args[0] if _op(r, "reshape") and not r.kwargs else None
    if not _plain_to_layout(inner, rm) or inner.args[0].meta.get("layout") != tile:
        return False
    x = inner.args[0]
    new = _new(graph, n, "reshapes", r.target, (x, r.args[1]), ttnn_name="reshape", shape=r.meta.get("shape"),
               dtype=x.meta.get("dtype"), layout=tile)
    _replace(graph, n, new)
    return True


def _products_after(n: fx.Node) -> list[fx.Node]:
    """n and the row-wise products that follow it one after another, each the only user of the one before."""
    chain = [n]
    while _rowwise_product(u := _sole_user(chain[-1])) and u.args[0] is chain[-1]:
        chain.append(u)
    return chain


def _flat_linear(graph, ctx, n) -> bool:
    """reshape(x, [B*S, K]) -> linear(s) -> reshape [B, S, N]: the linears on x [B, S, K] directly (a
    product with a rank-2 weight works on each row whatever the leading dims)."""
    if not _rowwise_product(n) or not _op(flat := n.args[0], "reshape") or flat.kwargs or _target(flat) is None:
        return False
    chain, xs = _products_after(n), _shape(flat.args[0])
    widths = [_shape(p.args[1]) for p in chain]
    out = _sole_user(chain[-1])
    if xs is None or len(xs) < 3 or any(w is None or len(w) != 2 for w in widths) or not _op(out, "reshape") \
            or out.kwargs or _target(flat) != (math.prod(xs[:-1]), xs[-1]):
        return False
    lead = (_target(out) or ())[:-1]
    if not lead or _target(out) != lead + (widths[-1][1],) or [d for d in lead if d != 1] != [d for d in xs[:-1] if d != 1]:
        return False
    if lead[-1] == 1 and math.prod(lead[:-1]) > 1:
        return False   # one row per matrix (a decode step's [B, 1, K]): flat, the rows share tiles (32x fewer)
    src = flat.args[0]
    if lead != xs[:-1]:   # x differs from [B, S, K] by size-1 dims only (SDPA's [B, 1, S, K]): a view of it
        src = _new(graph, flat, "reshapes", ctx.ttnn.reshape, (src, [*lead, xs[-1]]), shape=lead + (xs[-1],),
                   ttnn_name="reshape", dtype=src.meta.get("dtype"), layout=src.meta.get("layout"))
        xs = lead + (xs[-1],)
    n.replace_input_with(flat, src)
    for p, w in zip(chain, widths):
        p.meta["shape"] = xs[:-1] + (w[1],)
    _drop(graph, flat)
    _replace(graph, out, chain[-1])
    return True


def fuse_reshapes(graph: fx.Graph, ctx: FuseContext) -> int:
    """Remove reshape/permute/layout round trips (see the module docstring). Each sweep simplifies every node
    in graph order until no rule applies to it; sweeps repeat while they change anything, since a rule that
    looks downstream (_flat_linear) may match only once later nodes have been simplified."""
    rules = (_reshape_of_reshape, _noop_reshape, _permute_of_permute, _view_permute, _reshape_of_permute,
             _layout_round_trip, _row_major_reshape, _flat_linear)
    total, changed = 0, True
    while changed:
        changed = False
        for n in list(graph.nodes):
            while not getattr(n, "_erased", False) and n.op == "call_function" \
                    and any(rule(graph, ctx, n) for rule in rules):
                total, changed = total + 1, True
    return total


# --- common_ops --------------------------------------------------------------------------------------------
# Ops whose result is not a function of their arguments, or that act rather than compute (transfers, memory,
# writes into a cache or another tensor): never merged. In-place ops (a trailing "_") are excluded too.
_NOT_PURE = ("rand", "dropout", "bernoulli", "uniform", "normal", "empty", "deallocate", "reallocate", "from_torch",
             "to_torch", "cache", "copy")


def _pure(n: fx.Node) -> bool:
    name = n.meta.get("ttnn_name") if n.op == "call_function" else None
    return name is not None and not name.endswith("_") and not any(w in name for w in _NOT_PURE)


def _key(n: fx.Node):
    """What makes two calls the same: the function and arguments, numbers and strings by value (floats by
    repr, so -0.0 and NaN stay apart), nodes and every other object by identity."""
    def walk(a):
        if isinstance(a, (list, tuple)):
            return type(a), tuple(walk(x) for x in a)
        if isinstance(a, dict):
            return dict, tuple(sorted((k, walk(v)) for k, v in a.items()))
        if a is None or type(a) in (bool, int, str):
            return type(a), a
        return (float, repr(a)) if type(a) is float else ("id", id(a))
    return n.target, walk(n.args), walk(n.kwargs)


def fuse_common_ops(graph: fx.Graph, ctx: FuseContext) -> int:
    """The same pure op on the same inputs computed once (lowering repeats per layer what the model computes
    per layer: BERT's additive attention mask is made again for each layer's attention)."""
    seen: dict = {}
    count = 0
    for n in list(graph.nodes):
        if not _pure(n):
            continue
        first = seen.setdefault(_key(n), n)
        if first is not n:
            _replace(graph, n, first)
            count += 1
    return count


def _repeated_kv(n) -> fx.Node | None:
    """x if n is HF's repeat_kv of x lowered: reshape(repeat(reshape(x, [B, NKV, 1, S, D]), [1, 1, G, 1, 1]),
    [B, NKV*G, S, D]), each step read only by the next."""
    if not (_op(n, "reshape") and len(n.users) == 1):
        return None
    rep = n.args[0]
    if not (_op(rep, "repeat") and len(rep.users) == 1 and _op(rep.args[0], "reshape")
            and len(rep.args[0].users) == 1):
        return None
    x, split, times, merged = rep.args[0].args[0], _target(rep.args[0]), _arg(rep, 1), _target(n)
    xs = _shape(x)
    if xs is None or split is None or merged is None or not isinstance(times, (list, tuple)) or len(xs) != 4:
        return None
    b, nkv, s, d = xs
    g = times[2] if len(times) == 5 else None
    if split != (b, nkv, 1, s, d) or tuple(times) != (1, 1, g, 1, 1) or merged != (b, nkv * g, s, d):
        return None
    return x


def fuse_gqa_attention(graph: fx.Graph, ctx: FuseContext) -> int:
    """scaled_dot_product_attention(q, repeat_kv(k), repeat_kv(v)) => scaled_dot_product_attention(q, k, v):
    TT-NN's SDPA takes fewer K/V heads than Q heads (grouped-query attention), so each KV head serves its group
    of query heads where it is, instead of G copies of the KV cache written and read per layer."""
    count = 0
    for n in list(graph.nodes):
        if not _op(n, "scaled_dot_product_attention", "scaled_dot_product_attention_decode") or len(n.args) < 3:
            continue
        k, v = _repeated_kv(n.args[1]), _repeated_kv(n.args[2])
        if k is None or v is None or _shape(k) != _shape(v):
            continue
        old_k, old_v = n.args[1], n.args[2]
        n.args = (n.args[0], k, v, *n.args[3:])
        _drop(graph, old_k)
        _drop(graph, old_v)
        count += 1
    return count


# --- rms_norm ------------------------------------------------------------------------------------------------
def _through_typecast(n):
    """n's input if n is a plain typecast, else n."""
    return n.args[0] if _op(n, "typecast") and not n.kwargs and len(n.args) == 2 else n


def _rms_scale(r: fx.Node, x: fx.Node) -> tuple[float, fx.Node, object] | None:
    """(epsilon, the square node, the mean's compute config) if r is
    rsqrt(add(mean(square(x), dim=-1, keepdim=True) [-> reshape], epsilon)), each step read only by the next;
    else None."""
    if not (_op(r, "rsqrt") and len(r.args) == 1 and _sole_user(r) is not None):
        return None
    add = r.args[0]
    if not (_op(add, "add") and len(add.args) == 2 and isinstance(add.args[1], float) and _sole_user(add) is r):
        return None
    mean = add.args[0]
    if _op(mean, "reshape") and _sole_user(mean) is add:
        mean = mean.args[0]
    if not (_op(mean, "mean") and len(mean.users) == 1 and mean.kwargs.get("keepdim") is True):
        return None
    sq, xs = mean.args[0], _shape(x)
    dim = mean.kwargs.get("dim", _arg(mean, 1))
    if xs is None or dim not in (-1, len(xs) - 1) or not (_op(sq, "square") and sq.args[0] is x
                                                         and _sole_user(sq) is mean):
        return None
    return add.args[1], sq, mean.kwargs.get("compute_kernel_config")


def _rms_parts(end: fx.Node):
    """(x, weight, epsilon, compute config) if `end` is HF's RMSNorm lowered: multiply(weight, [typecast]
    multiply(x, rsqrt(mean(x^2) + eps))) (either operand order), x possibly a float32 typecast of the input."""
    if not (_op(end, "multiply") and len(end.args) == 2 and not set(end.kwargs) - {"memory_config"}):
        return None
    for norm, w in (end.args, reversed(end.args)):
        if not isinstance(norm, fx.Node) or not isinstance(w, fx.Node) or _sole_user(norm) is not end:
            continue
        m1 = _through_typecast(norm)
        if m1 is not norm and _sole_user(m1) is not norm:
            continue
        if not (_op(m1, "multiply") and len(m1.args) == 2 and not set(m1.kwargs) - {"memory_config"}):
            continue
        for x, r in (m1.args, reversed(m1.args)):
            if not isinstance(r, fx.Node) or not isinstance(x, fx.Node):
                continue
            found = _rms_scale(r, x)
            width = (_shape(x) or (None,))[-1]
            if found is None or _shape(w) not in ((width,), (1, width)):
                continue
            eps, sq, cfg = found
            src = _through_typecast(x)
            if src is not x and set(x.users) != {m1, sq}:
                src = x   # the float32 copy is read elsewhere too: normalise it as it is
            return src, w, eps, cfg
    return None


def fuse_rms_norm(graph: fx.Graph, ctx: FuseContext) -> int:
    """weight * (x * rsqrt(mean(x^2, -1) + eps)) (HF's LlamaRMSNorm and its kin, as lowering leaves it: square,
    mean, add, rsqrt and two multiplies) => ttnn.rms_norm(x, epsilon=eps, weight=w): one op reading x once,
    computing in float32 inside (as HF's float32 upcast does) and rounding once."""
    count = 0
    for end in list(graph.nodes):
        if getattr(end, "_erased", False):
            continue
        parts = _rms_parts(end)
        if parts is None:
            continue
        x, w, eps, cfg = parts
        kw = dict(epsilon=eps, weight=w)
        if cfg is not None:   # the statistics accumulate as the mean they replace did (float32 by default)
            kw["compute_kernel_config"] = cfg
        norm = _new(graph, end, "rms_norm", ctx.ttnn.rms_norm, (x,), kw,
                    shape=_shape(x), dtype=end.meta.get("dtype"), layout=x.meta.get("layout"),
                    ttnn_name="rms_norm")
        if x.meta.get("dtype") != end.meta.get("dtype"):
            norm = _new(graph, end, "rms_norm", ctx.ttnn.typecast, (norm, end.meta.get("dtype")),
                        shape=_shape(x), dtype=end.meta.get("dtype"), layout=x.meta.get("layout"),
                        ttnn_name="typecast")
        _replace(graph, end, norm)
        count += 1
    return count


# --- rotate_half ---------------------------------------------------------------------------------------------
def _half_slice(n, x, first: bool) -> bool:
    """n is slice(x) of the first (or second) half of x's last dim, all of every other dim."""
    xs = _shape(x)
    if not (_op(n, "slice") and len(n.args) == 4 and n.args[0] is x and xs and xs[-1] % 2 == 0) \
            or not set(n.kwargs) <= {"memory_config"}:
        return False
    h = xs[-1] // 2
    starts, ends, steps = (list(a) if isinstance(a, (list, tuple)) else None for a in n.args[1:])
    if starts is None or ends is None or steps is None or len(starts) != len(xs):
        return False
    return (starts == [0] * (len(xs) - 1) + [0 if first else h] and ends == list(xs[:-1]) + [h if first else 2 * h]
            and steps == [1] * len(xs))


def fuse_rotate_half(graph: fx.Graph, ctx: FuseContext) -> int:
    """concat([neg(x[..., D/2:]), x[..., :D/2]], -1) (HF's rotate_half, lowered as two slices, a neg and a
    concat) => ttnn.experimental.rotate_half(x): one op instead of four, twice per attention layer (Q and K)."""
    count = 0
    for cat in list(graph.nodes):
        if not (_op(cat, "concat") and isinstance(_arg(cat, 0), (list, tuple)) and len(cat.args[0]) == 2):
            continue
        neg, lo = cat.args[0]
        dim = _arg(cat, 1) if len(cat.args) > 1 else cat.kwargs.get("dim")
        if not (_op(neg, "neg") and len(neg.args) == 1 and _sole_user(neg) is cat and isinstance(lo, fx.Node)
                and _sole_user(lo) is cat):
            continue
        hi = neg.args[0]
        x = lo.args[0] if _op(lo, "slice") else None
        xs = _shape(x) if isinstance(x, fx.Node) else None
        if xs is None or dim not in (-1, len(xs) - 1) or not isinstance(hi, fx.Node) or _sole_user(hi) is not neg \
                or not (_half_slice(lo, x, True) and _half_slice(hi, x, False)):
            continue
        rot = _new(graph, cat, "rotate_half", ctx.ttnn.experimental.rotate_half, (x,), shape=xs,
                   dtype=x.meta.get("dtype"), layout=x.meta.get("layout"), ttnn_name="rotate_half")
        _replace(graph, cat, rot)
        count += 1
    return count


# --- sink_permutes -------------------------------------------------------------------------------------------
# Ops that act on each element (or each row along the last dim) on their own: they commute with a permute that
# leaves the last dim in place, whatever its other operand, if that operand's shape reads the same permuted.
_POINTWISE_UNARY = frozenset("""abs neg exp log sqrt rsqrt reciprocal square sin cos tanh sigmoid relu silu gelu
    rotate_half typecast""".split())
_POINTWISE_BINARY = frozenset("add subtract multiply divide maximum minimum".split())


def _permute_dims(n) -> list | None:
    if _op(n, "permute") and len(n.args) == 2 and not set(n.kwargs) - {"memory_config"}:
        return list(n.args[1])
    return None


def _invariant(operand, dims) -> bool:
    """Whether `operand` broadcasts the same against a tensor before and after permute(dims): a number, or a
    tensor whose shape (aligned to the right) reads the same permuted (the moved dims all of size 1, say)."""
    if isinstance(operand, (int, float)):
        return True
    s = _shape(operand)
    if s is None or len(s) > len(dims):
        return False
    s = (1,) * (len(dims) - len(s)) + tuple(s)
    return [s[d] for d in dims] == list(s)


def _sink_one(graph: fx.Graph, ctx: FuseContext, u: fx.Node) -> bool:
    """u(permute(x, p), ...) => permute(u(x, ...), p) for a pointwise u (see _invariant)."""
    name = u.meta.get("ttnn_name") if u.op == "call_function" else None
    if name not in _POINTWISE_UNARY | _POINTWISE_BINARY or set(u.kwargs) - {"memory_config"}:
        return False
    tensors = [a for a in u.args if isinstance(a, fx.Node)]
    perms = [a for a in tensors if _permute_dims(a) is not None]
    if not perms:
        return False
    dims = _permute_dims(perms[0])
    if dims[-1] != len(dims) - 1 or (name in _POINTWISE_UNARY and len(u.args) != (2 if name == "typecast" else 1)):
        return False
    if any(a not in perms and not _invariant(a, dims) for a in u.args[:2] if not isinstance(a, (str,)) and
           not (name == "typecast" and a is u.args[-1])):
        return False
    if any(_permute_dims(p) != dims for p in perms):
        return False
    args = tuple(a.args[0] if a in perms else a for a in u.args)
    shapes = [_shape(a) for a in args if isinstance(a, fx.Node)]
    inner_shape = None
    if all(sh is not None for sh in shapes):
        import torch
        try:
            inner_shape = tuple(torch.broadcast_shapes(*shapes))
        except RuntimeError:
            return False
    inner = _new(graph, u, "sink_permutes", u.target, args, {}, shape=inner_shape, dtype=u.meta.get("dtype"),
                 layout=u.meta.get("layout"), ttnn_name=name)
    out = _new(graph, u, "sink_permutes", perms[0].target, (inner, dims), dict(u.kwargs), shape=_shape(u),
               dtype=u.meta.get("dtype"), layout=u.meta.get("layout"), ttnn_name="permute")
    _replace(graph, u, out)
    return True


def fuse_sink_permutes(graph: fx.Graph, ctx: FuseContext) -> int:
    """Move permutes that keep the last dim below the pointwise ops that read them (RoPE's multiplies, adds and
    rotate_half on attention heads), so that the permutes meet each other: the head split's permute [0, 2, 1, 3]
    and flash-decode's [2, 0, 1, 3] then compose (the `reshapes` pass) into one that only moves a size-1 dim,
    a reshape, and the pointwise ops run on the [B, 1, H, D] form whose tiles hold whole heads instead of one
    padded row per head. Repeats until nothing moves; counts the ops moved."""
    count, changed = 0, True
    while changed:
        changed = False
        for u in list(graph.nodes):
            if not getattr(u, "_erased", False) and _sink_one(graph, ctx, u):
                count, changed = count + 1, True
    return count


# --- decode_rows -------------------------------------------------------------------------------------------
# Ops that map each row (last dim) of a [B, 1, K] activation on its own, so they run the same on [1, 1, B, K].
_ROW_NORMS = ("rms_norm", "layer_norm")


def _decode_shape(s) -> bool:
    """[B, 1, K], B > 1: one token per sequence, the shape a decode step's activations have in a HF model."""
    # Static sizes only: comparing a symbolic size would add a guard, and the graph would recompile for every
    # prompt length (dynamic-cache generate).
    return s is not None and len(s) == 3 and all(type(d) is int for d in s) and s[1] == 1 and s[0] > 1


def _row_invariant(a, k: int) -> bool:
    """An operand that reads the same against [B, 1, K] and [1, 1, B, K]: a number, or a row of K (any
    leading dims of size 1)."""
    if isinstance(a, (int, float)) or a is None:
        return True
    s = _shape(a)
    return s is not None and s[-1:] in ((k,), (1,)) and all(d == 1 for d in s[:-1])


def _row_member(n: fx.Node) -> bool:
    """A node decode_rows may run as [1, 1, B, K]: a reshape to [B, 1, K], a pointwise op or a row norm on
    [B, 1, K], or a row-wise linear of a [B, 1, K] input; its other tensor operands checked by _row_region."""
    if n.op != "call_function" or not _decode_shape(_shape(n)):
        return False
    name = n.meta.get("ttnn_name")
    if name == "reshape":
        return _target(n) is not None and not n.kwargs
    if name in _POINTWISE_BINARY or name in _POINTWISE_UNARY - {"rotate_half"}:
        return not set(n.kwargs) - {"memory_config", "input_tensor_a_activations"}
    if name in _ROW_NORMS:
        return not set(n.kwargs) - {"weight", "bias", "epsilon", "residual_input_tensor", "compute_kernel_config",
                                    "memory_config"}
    return _rowwise_product(n) and _decode_shape(_shape(n.args[0])) and len(_shape(n.args[1]) or ()) == 2


def _row_operands(n: fx.Node) -> list:
    """The operands of a member that carry its rows (the others must be row-invariant)."""
    name = n.meta.get("ttnn_name")
    if name == "reshape":
        return []
    if name in _MM:
        return [n.args[0]]
    if name in _ROW_NORMS:
        return [n.args[0], n.kwargs.get("residual_input_tensor")]
    return [a for a in n.args if isinstance(a, fx.Node)]


def _row_region(seed: fx.Node, members: set) -> set | None:
    """The members connected to `seed` through row-carrying operands and users; None if one of them reads a
    tensor that is neither a member nor row-invariant (other than a [B, 1, K] value, converted on entry)."""
    region, todo = set(), [seed]
    while todo:
        n = todo.pop()
        if n in region:
            continue
        region.add(n)
        k = _shape(n)[-1]
        rows = [a for a in _row_operands(n) if a is not None]
        others = [a for a in (*n.args, *n.kwargs.values()) if isinstance(a, fx.Node) and a not in rows]
        if n.meta.get("ttnn_name") in _MM + ("reshape",):
            others = [a for a in others if a is not n.args[0]][1:] if n.meta.get("ttnn_name") in _MM else []
        if any(not _row_invariant(a, k) for a in others):
            return None
        todo += [a for a in rows if a in members]
        todo += [u for u in n.users if u in members and n in _row_operands(u)]
        # readers of the same [B, 1, K] value from outside share its one conversion on entry
        todo += [u for a in rows if a not in members for u in a.users if u in members and a in _row_operands(u)]
    return region


def _conversions(region: set) -> tuple[list, list]:
    """(entries, exits): row operands of the region from outside it ([B, 1, K] values to reshape in), and the
    region's values read outside it by anything but a reshape (to reshape back to [B, 1, K])."""
    entries = {a for n in region for a in _row_operands(n) if a is not None and a not in region}
    exits = {n for n in region for u in n.users if u not in region and not _op(u, "reshape")}
    return sorted(entries, key=lambda n: n.name), sorted(exits, key=lambda n: n.name)


def _tile_view(src, dst) -> bool:
    """Whether TT-NN reshapes a TILE tensor of shape src to dst as a view (no kernel): the last dim kept and
    the tile rows whole (the height kept, or tile-aligned on both sides), as sim/tensor.py models it."""
    if src is None or dst is None or src[-1:] != dst[-1:]:
        return False
    h_in, h_out = (src[-2] if len(src) > 1 else 1), (dst[-2] if len(dst) > 1 else 1)
    return h_in == h_out or (h_in % _TILE == 0 and h_out % _TILE == 0)


def _reshapes_saved(region: set) -> int:
    """Reshapes into and out of the region that move data as [B, 1, K] but are views as [1, 1, B, K], less
    those that become copies (a [B, 1, K] -> [B, 1, 1, K] unsqueeze is a view only the first way)."""
    def flat(s):
        return (1, 1, s[0], s[2])
    saved = 0
    for n in region:
        if _op(n, "reshape"):
            src = _shape(n.args[0])
            saved += (not _tile_view(src, _shape(n))) - (not _tile_view(src, flat(_shape(n))))
        for u in n.users:
            if u not in region and _op(u, "reshape"):
                saved += (not _tile_view(_shape(n), _target(u))) - (not _tile_view(flat(_shape(n)), _target(u)))
    return saved


def fuse_decode_rows(graph: fx.Graph, ctx: FuseContext) -> int:
    """Run a decode step's [B, 1, K] activations (one new token per sequence) as [1, 1, B, K], TT's own decode
    layout (tt-metal models/tt_transformers keep activations [1, 1, users, hidden]): in TILE layout [B, 1, K]
    gives every sequence a tile row of its own (B x 32 rows stored, 1 in 32 used), so each norm, residual add
    and multiply touches B times the tiles it needs, and every reshape between a linear's [B, K] and [B, 1, K]
    re-tiles the data. As [1, 1, B, K] the B rows share tiles, those reshapes are views (no kernel, no
    dispatch), and linears take the rank-4 input directly. A region (pointwise ops, rms/layer norms, row-wise
    linears and the reshapes into it, connected) is rewritten only where it saves more costly reshapes than the
    reshapes it adds where a [B, 1, K] value enters or leaves it. Counts the nodes rewritten."""
    members = {n for n in graph.nodes if _row_member(n)}
    done, count = set(), 0
    for seed in [n for n in graph.nodes if n in members]:
        if seed in done:
            continue
        region = _row_region(seed, members)
        if region is None:
            done.add(seed)
            continue
        done |= region
        entries, exits = _conversions(region)
        if len(entries) + len(exits) >= _reshapes_saved(region):
            continue
        _rewrite_rows(graph, region, entries, exits)
        count += len(region)
    return count


def _rewrite_rows(graph: fx.Graph, region: set, entries: list, exits: list) -> None:
    def flat(s):
        return (1, 1, s[0], s[2])
    reshape = next(n.target for n in graph.nodes if _op(n, "reshape"))
    for x in entries:   # a [B, 1, K] value from outside: into the rows layout once, for all its readers
        first = min((n for n in region if x in _row_operands(n)), key=lambda n: list(graph.nodes).index(n))
        s = _shape(x)
        r = _new(graph, first, "decode_rows", reshape, (x, list(flat(s))), shape=flat(s),
                 dtype=x.meta.get("dtype"), layout=x.meta.get("layout"), ttnn_name="reshape")
        for n in region:
            if x in _row_operands(n):
                n.replace_input_with(x, r)
    for n in region:
        s = _shape(n)
        n.meta["shape"] = flat(s)
        if _op(n, "reshape"):
            n.update_arg(1, list(flat(s)))
    for n in exits:    # read outside as [B, 1, K]: reshaped back for those readers
        s = n.meta["shape"]
        back = (s[2], 1, s[3])
        outside = [u for u in n.users if u not in region and not _op(u, "reshape")]
        with graph.inserting_after(n):
            r = graph.call_function(reshape, (n, list(back)))
        r.meta.update({k: n.meta[k] for k in ("aten", "aten_node") if k in n.meta})
        r.meta.update(device=True, rule="fuse.decode_rows", shape=back, dtype=n.meta.get("dtype"),
                      layout=n.meta.get("layout"), ttnn_name="reshape")
        for u in outside:
            u.replace_input_with(n, r)


# --- rotary_embedding ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RopeDecode:
    """HF's apply_rotary_pos_emb on one decode step's heads, as the passes before leave it:
    add(multiply(x, cos), multiply(rotate_half(x), sin)) with x [B, 1, H, D] or [1, B, H, D] (one token per
    user) and cos/sin one row per user ([B, 1, 1, D] or [1, B, 1, D]), each intermediate read only by the next."""
    out: fx.Node        # the add
    x: fx.Node
    cos: fx.Node
    sin: fx.Node
    users: int
    heads: int
    head_dim: int


def _split_product(m: fx.Node, rotated: bool):
    """(tensor, other operand) of multiply m where the tensor is (rotated: a rotate_half read only by m), else
    (None, None)."""
    if not (_op(m, "multiply") and len(m.args) == 2 and not set(m.kwargs) - {"memory_config"}):
        return None, None
    for a, b in (m.args, tuple(reversed(m.args))):
        if isinstance(a, fx.Node) and isinstance(b, fx.Node) and \
                (not rotated or (_op(a, "rotate_half") and _sole_user(a) is m and len(a.args) == 1)):
            return a, b
    return None, None


def _rope_decode(add: fx.Node) -> RopeDecode | None:
    if not (_op(add, "add") and len(add.args) == 2 and not set(add.kwargs) - {"memory_config"}):
        return None
    for plain, rot in (add.args, tuple(reversed(add.args))):
        if not (isinstance(plain, fx.Node) and isinstance(rot, fx.Node) and plain is not rot
                and _sole_user(plain) is add and _sole_user(rot) is add):
            continue
        r, sin = _split_product(rot, True)
        if r is None:
            continue
        x = r.args[0]
        first, second = _split_product(plain, False)
        cos = second if first is x else first if second is x else None
        xs = _shape(x)
        if cos is None or xs is None or len(xs) != 4 or 1 not in xs[:2]:
            continue
        b = xs[0] if xs[1] == 1 else xs[1]
        row = tuple(b if d == b and i < 2 else 1 for i, d in enumerate(xs[:3])) + (xs[3],)
        if _shape(cos) != row or _shape(sin) != row:
            continue
        return RopeDecode(add, x, cos, sin, b, xs[2], xs[3])
    return None


def _user_grid(users: int, grid) -> tuple[int, int] | None:
    """(x, y) with x * y == users within the device grid, widest first: one user per core."""
    for x in range(min(users, grid.x), 0, -1):
        if users % x == 0 and users // x <= grid.y:
            return x, users // x
    return None


def _rope_fits(r: RopeDecode, ctx: FuseContext) -> bool:
    """What the decode-mode op accepts (rotary_embedding_hf_device_operation.cpp): head dim one tile or a
    multiple of two tiles, TILE operands, cos and sin of one dtype; and one user per core on the grid."""
    tile = ctx.ttnn.TILE_LAYOUT
    return ((r.head_dim == _TILE or r.head_dim % (2 * _TILE) == 0)
            and all(n.meta.get("layout") == tile for n in (r.x, r.cos, r.sin))
            and r.cos.meta.get("dtype") == r.sin.meta.get("dtype") is not None
            and r.x.meta.get("dtype") in (ctx.ttnn.bfloat16, ctx.ttnn.bfloat8_b)
            and _user_grid(r.users, ctx.core_grid) is not None)


def _height_shards(ctx: FuseContext, users: int, rows: int, d: int):
    """The memory config with user b's [rows, d] block (rows padded to whole tiles) on core b."""
    t = ctx.ttnn
    gx, gy = _user_grid(users, ctx.core_grid)
    return t.create_sharded_memory_config((_TILE * -(-rows // _TILE), d), t.CoreGrid(x=gx, y=gy),
                                          t.ShardStrategy.HEIGHT, use_height_and_width_as_shard_shape=True)


def _shard_bytes(rows: int, d: int, dtype) -> int:
    from ..sim import types as tt_types
    return -(-rows // _TILE) * -(-d // _TILE) * tt_types.tile_bytes(tt_types.DataType[dtype.name])


def _to_user_shards(graph, ctx, origin, t, shape, mc, cache: dict) -> fx.Node:
    """t viewed as `shape` ([1, B, rows, D]) and height-sharded by `mc` (made once per tensor and config)."""
    key = (t, repr(mc))
    if key not in cache:
        meta = dict(dtype=t.meta.get("dtype"), layout=t.meta.get("layout"))
        src = t if _shape(t) == tuple(shape) else _new(graph, origin, "rotary_embedding", ctx.ttnn.reshape,
                                                      (t, list(shape)), shape=tuple(shape), ttnn_name="reshape",
                                                      **meta)
        cache[key] = _new(graph, origin, "rotary_embedding", ctx.ttnn.interleaved_to_sharded, (src, mc),
                          shape=tuple(shape), ttnn_name="interleaved_to_sharded",
                          l1_shard_bytes=_shard_bytes(shape[2], shape[3], meta["dtype"]), **meta)
    return cache[key]


def _hand_over(graph, ctx, r: RopeDecode, y: fx.Node, mc) -> None:
    """Give the rotated heads y ([1, B, H, D], height-sharded by mc) to the add's readers: a view to [1, B, H, D]
    read by flash-decode as Q (it takes height-sharded Q) or by an interleaved_to_sharded to mc (the KV-cache
    write's) takes y itself; anything else reads it back interleaved in the add's shape."""
    b, h, d = r.users, r.heads, r.head_dim
    back = None
    for u in list(r.out.users):
        if _op(u, "reshape") and _target(u) == (1, b, h, d):
            for w in list(u.users):
                if _op(w, "interleaved_to_sharded") and len(w.args) == 2 and not w.kwargs and w.args[1] == mc:
                    _replace(graph, w, y)
                elif _op(w, "scaled_dot_product_attention_decode") and w.args[0] is u and w.args.count(u) == 1:
                    w.replace_input_with(u, y)
            if not u.users:
                _drop(graph, u)
                continue
        if back is None:
            meta = dict(dtype=r.out.meta.get("dtype"), layout=r.out.meta.get("layout"))
            flat = _new(graph, r.out, "rotary_embedding", ctx.ttnn.sharded_to_interleaved, (y,), shape=(1, b, h, d),
                        ttnn_name="sharded_to_interleaved", **meta)
            back = _new(graph, r.out, "rotary_embedding", ctx.ttnn.reshape, (flat, list(_shape(r.out))),
                        shape=_shape(r.out), ttnn_name="reshape", **meta)
        u.replace_input_with(r.out, back)


def fuse_rotary_embedding(graph: fx.Graph, ctx: FuseContext) -> int:
    """A decode step's RoPE, x * cos + rotate_half(x) * sin per query and key heads (four ops each, as the
    rotate_half pass leaves them) => ttnn.experimental.rotary_embedding_hf(x, cos, sin, is_decode_mode=True):
    one op reading each head once. Its decode mode wants x as [1, B, H, D] height-sharded in L1 (a user's heads
    per core) and cos/sin as [1, B, 1, D] sharded the same way (one row per user; sharded once per step and
    shared by every layer), so the pass adds those moves; the rotated heads stay sharded where the reader
    takes them so (flash-decode's Q, the KV-cache write's height-sharded rows, whose own move then goes), and
    are read back interleaved elsewhere. Counts the RoPEs fused."""
    count, shards = 0, {}
    for add in list(graph.nodes):
        r = _rope_decode(add) if not getattr(add, "_erased", False) else None
        if r is None or not _rope_fits(r, ctx):
            continue
        b, h, d = r.users, r.heads, r.head_dim
        mc_x, mc_row = _height_shards(ctx, b, h, d), _height_shards(ctx, b, 1, d)
        xs = _to_user_shards(graph, ctx, add, r.x, (1, b, h, d), mc_x, shards)
        cs = _to_user_shards(graph, ctx, add, r.cos, (1, b, 1, d), mc_row, shards)
        ss = _to_user_shards(graph, ctx, add, r.sin, (1, b, 1, d), mc_row, shards)
        y = _new(graph, add, "rotary_embedding", ctx.ttnn.experimental.rotary_embedding_hf, (xs, cs, ss),
                 dict(is_decode_mode=True, memory_config=mc_x), shape=(1, b, h, d), dtype=r.x.meta.get("dtype"),
                 layout=r.x.meta.get("layout"), ttnn_name="rotary_embedding_hf",
                 l1_shard_bytes=_shard_bytes(h, d, r.x.meta.get("dtype")))
        _hand_over(graph, ctx, r, y, mc_x)
        _drop(graph, add)
        count += 1
    return count


# --- qkv_heads_decode -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShardedHeads:
    """One projection of a decode step moved to user shards: product(x [1, 1, B, K], w) -> reshape(s) to
    [1, B, H, D] -> interleaved_to_sharded (`move`, one user's H heads per core), each read only by the next."""
    product: fx.Node
    move: fx.Node
    users: int
    heads: int
    head_dim: int


def _sharded_heads(move: fx.Node) -> ShardedHeads | None:
    if not (_op(move, "interleaved_to_sharded") and len(move.args) == 2 and not move.kwargs):
        return None
    out, cur = _shape(move) or _shape(move.args[0]), move.args[0]   # a move made by a lowering rule: its input's
    while _op(cur, "reshape") and not cur.kwargs and len(cur.users) == 1:
        cur = cur.args[0]
    xs, ws = (_shape(cur.args[0]), _shape(cur.args[1])) if _plain_product(cur) else (None, None)
    if cur is move.args[0] or len(cur.users) != 1 or out is None or len(out) != 4 or out[0] != 1 \
            or xs is None or ws is None or len(ws) != 2 or xs != (1, 1, out[1], ws[0]) or ws[1] != out[2] * out[3]:
        return None
    return ShardedHeads(cur, move, out[1], out[2], out[3])


def _heads_config(ctx: FuseContext, users: int, heads: int, d: int):
    """The memory config nlp_create_qkv_heads_decode gives an output of `heads` heads: user b's heads (padded to
    whole tiles) on core b of the first `users` cores, row by row."""
    t, g = ctx.ttnn, ctx.core_grid
    spec = t.ShardSpec(t.num_cores_to_corerangeset(users, t.CoreCoord(g.x, g.y), True),
                       (_TILE * -(-heads // _TILE), d), t.ShardOrientation.ROW_MAJOR)
    return t.MemoryConfig(t.TensorMemoryLayout.HEIGHT_SHARDED, t.BufferType.L1, spec)


def _decode_qkv(parts: list[ShardedHeads], ctx: FuseContext) -> list[ShardedHeads] | None:
    """The three projections in nlp_create_qkv_heads_decode's order (Q, then the two with num_kv_heads), if the
    op applies: same input and options, at most 32 users and query heads, head dim a multiple of 32, bfloat16 or
    float32, and every move's shards where the op puts its outputs."""
    if len(parts) != 3:
        return None
    q = max(parts, key=lambda p: p.heads)
    kv = [p for p in parts if p is not q]
    first = q.product
    if kv[0].heads != kv[1].heads or any(p.head_dim != q.head_dim or p.users != q.users
                                         or p.product.target is not first.target or p.product.kwargs != first.kwargs
                                         for p in parts):
        return None
    if q.users > 32 or q.heads > 32 or q.head_dim % _TILE or first.meta.get("dtype") not in (ctx.ttnn.bfloat16,
                                                                                             ctx.ttnn.float32):
        return None
    if any(p.move.args[1] != _heads_config(ctx, p.users, p.heads, p.head_dim) for p in parts):
        return None
    return [q, *kv]


def fuse_qkv_heads_decode(graph: fx.Graph, ctx: FuseContext) -> int:
    """A decode step's three projections of one [1, 1, B, K] input, each split into heads and moved to user
    shards (query heads for flash-decode or the rope, key and value heads for the KV-cache write) => one
    product over [Wq | Wk | Wv] (a constant, concatenated once per module) + ttnn.experimental.
    nlp_create_qkv_heads_decode, whose height-sharded outputs are those shards: the three products, the three
    head reshapes (copies: B rows become B tile rows) and the three moves become two ops, as TT's decode
    (models/tt_transformers) computes it. Grouped-query attention included (the op takes num_kv_heads).
    Counts the projections fused."""
    by_input: dict[fx.Node, list[ShardedHeads]] = {}
    for n in graph.nodes:
        sh = _sharded_heads(n)
        if sh is not None:
            by_input.setdefault(sh.product.args[0], []).append(sh)
    count, t = 0, ctx.ttnn
    for x, parts in by_input.items():
        order = _decode_qkv(parts, ctx)
        if order is None:
            continue
        q, first = order[0], order[0].product
        meta = dict(dtype=first.meta.get("dtype"), layout=first.meta.get("layout"))
        k = _shape(first.args[1])[0]
        width = sum(p.heads for p in order) * q.head_dim
        w = _new(graph, first, "qkv_heads_decode", t.concat, ([p.product.args[1] for p in order], 1),
                 shape=(k, width), ttnn_name="concat", **meta)
        qkv = _new(graph, first, "qkv_heads_decode", first.target, (x, w), dict(first.kwargs),
                   shape=(1, 1, q.users, width), ttnn_name=first.meta["ttnn_name"], **meta)
        split = _new(graph, first, "qkv_heads_decode", t.experimental.nlp_create_qkv_heads_decode, (qkv,),
                     dict(num_heads=q.heads, num_kv_heads=order[1].heads,
                          memory_config=t.L1_HEIGHT_SHARDED_MEMORY_CONFIG),
                     ttnn_name="nlp_create_qkv_heads_decode", multi=True, **meta)
        outs = [_new(graph, first, "qkv_heads_decode", operator.getitem, (split, i),
                     shape=(1, p.users, p.heads, p.head_dim), l1_shard_bytes=_shard_bytes(p.heads, p.head_dim,
                                                                                          meta["dtype"]), **meta)
                for i, p in enumerate(order)]
        for p, out in zip(order, outs):
            _replace(graph, p.move, out)
        count += 3
    return count


# --- the pipeline ------------------------------------------------------------------------------------------
PASSES = (
    FusionPass("common_ops", fuse_common_ops),
    FusionPass("matmul_bias", fuse_matmul_bias),
    FusionPass("linear_activation", fuse_linear_activation),
    FusionPass("qkv_heads", fuse_qkv_heads),
    FusionPass("concat_heads", fuse_concat_heads),
    FusionPass("sdpa_concat_heads", fuse_sdpa_concat_heads),
    FusionPass("gqa_attention", fuse_gqa_attention),
    FusionPass("rms_norm", fuse_rms_norm),
    FusionPass("rotate_half", fuse_rotate_half),
    FusionPass("sink_permutes", fuse_sink_permutes),
    FusionPass("residual_layer_norm", fuse_residual_layer_norm),
    FusionPass("decode_rows", fuse_decode_rows),
    FusionPass("reshapes", fuse_reshapes),
    FusionPass("rotary_embedding", fuse_rotary_embedding),
    FusionPass("qkv_heads_decode", fuse_qkv_heads_decode),
)
PASS_NAMES = tuple(p.name for p in PASSES)


def enabled_passes(fuse) -> frozenset[str]:
    """TorchTtnnOption(fuse=...): True (every pass), False (none) or an iterable of pass names."""
    if fuse is True:
        return frozenset(PASS_NAMES)
    if fuse is False:
        return frozenset()
    if isinstance(fuse, str) or not isinstance(fuse, Iterable):
        raise TypeError(f"fuse must be True, False or a set of pass names from {PASS_NAMES}, got {fuse!r}")
    names = frozenset(fuse)
    unknown = sorted(map(str, names - set(PASS_NAMES)))
    if unknown:
        raise ValueError(f"unknown fusion pass(es) {unknown}; known: {', '.join(PASS_NAMES)}")
    return names


def fuse(graph: fx.Graph, enabled: frozenset[str], ctx: FuseContext) -> dict[str, int]:
    """Run the enabled passes in order; returns the fusions applied per pass (0 where nothing matched)."""
    counts = {p.name: p.run(graph, ctx) for p in PASSES if p.name in enabled}
    if any(counts.values()):
        _toposort(graph)
        graph.lint()
    return counts
