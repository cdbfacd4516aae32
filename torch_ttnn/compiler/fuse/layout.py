"""Data movement that does nothing: reshape/permute/to_layout round trips (`reshapes`), the same pure op
computed twice (`common_ops`), permutes sunk below pointwise ops until they cancel (`sink_permutes`)."""
from __future__ import annotations

import math

import torch.fx as fx

from ._graph import FuseContext, _arg, _drop, _new, _op, _replace, _rowwise_product, _shape, _sole_user, _target


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
    from ..place import DRAM_INPUTS, _takes_memory_config
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
