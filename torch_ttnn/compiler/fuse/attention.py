"""Attention heads: QKV projections into one product and TT-NN's head split (`qkv_heads`), the head merge
(`concat_heads`, `sdpa_concat_heads`), and grouped-query attention without repeat_kv (`gqa_attention`)."""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import torch.fx as fx

from ._graph import FuseContext, _TILE, _arg, _drop, _new, _op, _plain_product, _replace, _shape, _sole_user, _target


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
