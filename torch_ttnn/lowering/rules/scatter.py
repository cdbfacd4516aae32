"""Scatter-style writes as TT-NN's scatter/scatter_add: torch's scatter (value and src), scatter_add,
index_put (assignment and accumulation, `x[idx] = v`, `x[idx] += v`), the masked accumulation the embedding
backward decomposes into, and top-k.

TT-NN's scatter works along one dim with an index tensor of the source's rank (torch.Tensor.scatter_'s
contract); it refuses float32 TILE tensors and int32 TILE tensors with more than 256 entries along the dim, so
the rules hand it ROW_MAJOR operands (a layout change, no rounding). index_put's integer index tensors are
combined into one row index over the indexed leading dims (int32 arithmetic on the device, negative indices
wrapped as torch counts them), and whole rows are scattered along dim 0.
"""
from __future__ import annotations

import math

import torch

from .. import policy
from ..registry import lowering
from ._util import aten, dim_, is_float, is_t, row_major, tile

_DATA = (torch.float32, torch.bfloat16, torch.float16, torch.int32, torch.int64)
_IDX = (torch.int32, torch.int64)


def _prod(xs):
    return math.prod(int(x) for x in xs)


def _as_index(ttnn, t):
    t = row_major(ttnn, t)
    return t if t.dtype == ttnn.int32 else ttnn.typecast(t, ttnn.int32)


def _scatter(ttnn, x, dim, index, src, add):
    x, src = row_major(ttnn, x), row_major(ttnn, src)
    if src.dtype != x.dtype:
        src = ttnn.typecast(src, x.dtype)
    fn = ttnn.scatter_add if add else ttnn.scatter
    return fn(x, dim_(dim, len(x.shape)), _as_index(ttnn, index), src)


def _scatter_guard(x, dim, index, src, *a, **k):
    return is_t(x) and x.dtype in _DATA and x.dim() >= 1 and is_t(index) and index.dtype in _IDX \
        and index.dim() == x.dim() and not k.get("reduce") and not a


@lowering(aten.scatter.src, when=lambda x, dim, index, src: _scatter_guard(x, dim, index, src) and is_t(src)
          and src.dim() == x.dim())
def scatter_src(ttnn, x, dim, index, src):
    return _scatter(ttnn, x, dim, index, src, add=False)


@lowering(aten.scatter.value, when=lambda x, dim, index, value: _scatter_guard(x, dim, index, None)
          and isinstance(value, (int, float)))
def scatter_value(ttnn, x, dim, index, value):
    """A scalar source: a constant tensor of the index's shape (e.g. the -1 the NLL loss backward writes at
    each target)."""
    src = ttnn.full(list(index.shape), value, dtype=x.dtype, layout=ttnn.ROW_MAJOR_LAYOUT,
                    device=policy.device_of(ttnn))
    return _scatter(ttnn, x, dim, index, src, add=False)


@lowering(aten.scatter_add.default, when=lambda x, dim, index, src: _scatter_guard(x, dim, index, src)
          and is_t(src) and src.dim() == x.dim())
def scatter_add(ttnn, x, dim, index, src):
    return _scatter(ttnn, x, dim, index, src, add=True)


# --- index_put ----------------------------------------------------------------------------------------------
def _leading(x, indices):
    """Integer index tensors on a leading block of dims (x[i], x[i, j], x[i, :, ...]): what the rules take."""
    if not (is_t(x) and x.dtype in _DATA and x.dim() >= 1) or not 1 <= len(indices) <= x.dim():
        return False
    if any(t is None or not is_t(t) or t.dtype not in _IDX for t in indices):
        return False
    torch.broadcast_shapes(*(tuple(t.shape) for t in indices))  # raises (guard fails) if incompatible
    return True


def _row_index(ttnn, indices, shape):
    """One int32 row index over the indexed leading dims, broadcast and flattened: [m]."""
    bshape = [int(s) for s in torch.broadcast_shapes(*(tuple(t.shape) for t in indices))]
    lin, stride = None, 1
    for i in reversed(range(len(indices))):
        t = tile(ttnn, _as_index(ttnn, indices[i]))
        t = ttnn.where(ttnn.lt(t, 0), ttnn.add(t, int(shape[i])), t)
        if list(t.shape) != bshape:
            t = ttnn.reshape(t, [1] * (len(bshape) - len(t.shape)) + list(t.shape))
            t = ttnn.repeat(t, [b // s for b, s in zip(bshape, t.shape)])
        term = t if stride == 1 else ttnn.multiply(t, stride)
        lin = term if lin is None else ttnn.add(lin, term)
        stride *= int(shape[i])
    return ttnn.reshape(lin, [_prod(bshape)]), bshape


def _put_rows(ttnn, x, indices, values, add):
    shape = [int(s) for s in x.shape]
    k = len(indices)
    rows, width = _prod(shape[:k]), _prod(shape[k:])
    lin, bshape = _row_index(ttnn, indices, shape)
    m = _prod(bshape)
    full = bshape + shape[k:]
    v = values
    if list(v.shape) != full:  # torch broadcasts the values to the indexed shape
        v = ttnn.reshape(v, [1] * (len(full) - len(v.shape)) + list(v.shape))
        v = ttnn.repeat(v, [f // s for f, s in zip(full, v.shape)])
    ids = ttnn.reshape(lin, [m, 1])
    if width > 1:
        ids = ttnn.repeat(ids, [1, width])
    out = _scatter(ttnn, ttnn.reshape(x, [rows, width]), 0, ids, ttnn.reshape(v, [m, width]), add)
    return ttnn.reshape(out, shape)


@lowering(aten.index_put.default, when=lambda x, indices, values, accumulate=False: _leading(x, indices)
          and is_t(values) and values.dtype in _DATA)
def index_put(ttnn, x, indices, values, accumulate=False):
    """x[idx] = v (scatter: with repeated indices one of the writes wins, as torch leaves unspecified) and
    x[idx] += v with accumulate (scatter_add: repeated indices sum, as torch's accumulate does)."""
    return _put_rows(ttnn, x, list(indices), values, accumulate)


def _mask_guard(x, indices, values, accumulate=False):
    """x[mask] = scalar: a boolean mask of x's shape and a one-element value (no data-dependent shape)."""
    return is_t(x) and (is_float(x)) and len(indices) == 1 and is_t(indices[0]) \
        and indices[0].dtype == torch.bool and tuple(indices[0].shape) == tuple(x.shape) and is_t(values) \
        and values.numel() == 1 and not accumulate


@lowering(aten.index_put.default, when=_mask_guard)
def index_put_mask(ttnn, x, indices, values, accumulate=False):
    v = values if values.dtype == x.dtype else ttnn.typecast(tile(ttnn, values), x.dtype)
    v = ttnn.reshape(tile(ttnn, v), [1] * len(x.shape))
    return ttnn.where(tile(ttnn, indices[0]), v, tile(ttnn, x))


def _masked_guard(x, mask, indices, values):
    """The mask holds one flag per indexed position ([*index shape, 1, ...], broadcast over the rows)."""
    if not (_leading(x, indices) and is_t(mask) and mask.dtype == torch.bool and is_float(values) and is_float(x)):
        return False
    bshape = torch.broadcast_shapes(*(tuple(t.shape) for t in indices))
    return mask.numel() == _prod(bshape) and tuple(mask.shape[:len(bshape)]) == tuple(bshape)


@lowering(aten._unsafe_masked_index_put_accumulate.default, when=_masked_guard)
def masked_index_put_accumulate(ttnn, x, mask, indices, values):
    """The embedding backward's accumulation (torch._decomp): positions whose mask is false (the padding
    index, out-of-range ids) add nothing, and their index is made 0 so it is in range."""
    m = tile(ttnn, mask)
    vals = ttnn.where(m, tile(ttnn, values), 0.0)
    safe = []
    for t in indices:
        t = tile(ttnn, _as_index(ttnn, t))
        safe.append(ttnn.where(ttnn.reshape(m, list(t.shape)), t, 0))
    return _put_rows(ttnn, x, safe, vals, add=True)


# --- top-k --------------------------------------------------------------------------------------------------
@lowering(aten.topk.default, when=lambda x, k, dim=-1, largest=True, sorted=True: is_float(x) and x.dim() >= 1
          and 1 <= k <= x.shape[dim] <= 65536)
def topk(ttnn, x, k, dim=-1, largest=True, sorted=True):
    """ttnn.topk over the last dim (another dim is moved there and back); its UINT16 indices cast to the
    device's int32 for torch's int64. Always sorted, which satisfies sorted=False too."""
    r = len(x.shape)
    d = dim_(dim, r)
    xt = tile(ttnn, x)
    if d != r - 1:
        order = list(range(r))
        order[d], order[-1] = order[-1], order[d]
        xt = ttnn.permute(xt, order)
    res = ttnn.topk(xt, k, dim=-1, largest=largest, sorted=True)
    vals, idx = res[0], ttnn.typecast(tile(ttnn, res[1]), ttnn.int32)
    if d != r - 1:
        vals, idx = ttnn.permute(vals, order), ttnn.permute(idx, order)
    return vals, idx
