"""Rotary position embedding: HF's rotate_half (`rotate_half`) and a decode step's whole RoPE on
height-sharded heads (`rotary_embedding`)."""
from __future__ import annotations

from dataclasses import dataclass

import torch.fx as fx

from ...sim import types as tt_types   # TT-NN byte sizes by dtype (the same for the real package), as place.py
from ._graph import FuseContext, _TILE, _arg, _drop, _new, _op, _replace, _shape, _sole_user, _target


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
