"""A decode step's layout: [B, 1, K] activations as [1, 1, B, K] (`decode_rows`) and the Q/K/V projections
into one product + `nlp_create_qkv_heads_decode` (`qkv_heads_decode`)."""
from __future__ import annotations

import operator
from dataclasses import dataclass

import torch.fx as fx

from ._graph import FuseContext, _MM, _TILE, _new, _op, _plain_product, _replace, _rowwise_product, _shape, _target
from .layout import _POINTWISE_BINARY, _POINTWISE_UNARY
from .rope import _shard_bytes


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
