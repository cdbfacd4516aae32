"""Advanced indexing and scatter-style writes as TT-NN data movement: index/_unsafe_index (integer index
tensors), stack, constant_pad_nd, slice/select_scatter, copy, fill, as_strided (identity cases).

Integer indexing is a gather of rows: the indexed dims (one contiguous block) are moved to the front and
flattened, the index tensors are combined into one linear row index with int32 arithmetic on the device
(negative indices wrapped for `index`; `_unsafe_index` comes from decompositions that clamp), and `ttnn.gather`
picks the rows. gather keeps the dtype (float32, bf16 0/1 booleans, int32), unlike `ttnn.embedding`, whose
table must be bfloat16.
"""
from __future__ import annotations

import math

import torch

from .. import policy
from ..registry import lowering
from ._util import aten, dim_, is_t, tile

_DATA = (torch.float32, torch.bfloat16, torch.float16, torch.bool, torch.int32, torch.int64)
_IDX = (torch.int32, torch.int64)


def _prod(xs):
    """Product of sizes, symbolic where they are (a SymInt stays one: int() would specialise the graph)."""
    return math.prod(xs, start=1)


def _index_guard(x, indices):
    if not (is_t(x) and x.dim() >= 1 and x.dtype in _DATA) or len(indices) > x.dim():
        return False
    pos = [i for i, t in enumerate(indices) if t is not None]
    if not pos or pos != list(range(pos[0], pos[-1] + 1)):
        return False  # separated index tensors move the result dims to the front: not handled
    if not all(is_t(indices[i]) and indices[i].dtype in _IDX for i in pos):
        return False  # boolean masks have data-dependent output shapes
    torch.broadcast_shapes(*(tuple(indices[i].shape) for i in pos))  # raises (guard fails) if incompatible
    return True


def _gather_rows(ttnn, x, indices, wrap):
    shape = list(x.shape)  # SymInts kept: a decode step's cache length stays symbolic
    pos = [i for i, t in enumerate(indices) if t is not None]
    a, b = pos[0], pos[-1] + 1
    pre, mid, post = shape[:a], shape[a:b], shape[b:]
    bshape = list(torch.broadcast_shapes(*(tuple(indices[i].shape) for i in pos)))
    lin, stride = None, 1
    for i in reversed(pos):
        t = tile(ttnn, indices[i])
        if t.dtype != ttnn.int32:
            t = ttnn.typecast(t, ttnn.int32)
        if wrap:  # torch counts negative indices from the end
            t = ttnn.where(ttnn.lt(t, 0), ttnn.add(t, shape[i]), t)
        term = t if stride == 1 else ttnn.multiply(t, stride)
        lin = term if lin is None else ttnn.add(lin, term)
        stride *= shape[i]
    rows, width, m = _prod(mid), _prod(pre) * _prod(post), _prod(bshape)
    if pre:  # indexed block first: rows of the table are the indexed positions
        order = list(range(a, b)) + list(range(a)) + list(range(b, len(shape)))
        x = ttnn.permute(x, order)
    table = ttnn.reshape(tile(ttnn, x), [rows, width])
    ids = ttnn.reshape(lin, [m, 1])
    if width > 1:
        ids = ttnn.repeat(ids, [1, width])
    out = ttnn.gather(table, 0, ids)
    out = ttnn.reshape(out, bshape + pre + post)
    if pre:
        k = len(bshape)
        order = list(range(k, k + len(pre))) + list(range(k)) + list(range(k + len(pre), k + len(pre) + len(post)))
        out = ttnn.permute(out, order)
    return out


@lowering(aten.index.Tensor, when=_index_guard)
def index(ttnn, x, indices):
    return _gather_rows(ttnn, x, indices, wrap=True)


@lowering(aten._unsafe_index.Tensor, when=_index_guard)
def unsafe_index(ttnn, x, indices):
    """Indices made in range by the decomposition that emits this op (interpolation): no wrap."""
    return _gather_rows(ttnn, x, indices, wrap=False)


# --- stacking and padding -----------------------------------------------------------------------------------
def _stack_guard(ts, dim=0):
    return len(ts) >= 1 and all(is_t(t) and t.dtype in _DATA for t in ts) and len({t.dtype for t in ts}) == 1 \
        and len({tuple(t.shape) for t in ts}) == 1


@lowering(aten.stack.default, when=lambda ts, dim=0: _stack_guard(ts, dim) and ts[0].dim() == 0)
def stack_scalars(ttnn, ts, dim=0):
    """0-d inputs are [1] on the device: the stacked [n] is their concat."""
    return ts[0] if len(ts) == 1 else ttnn.concat(list(ts), 0)


@lowering(aten.stack.default, when=lambda ts, dim=0: _stack_guard(ts, dim) and ts[0].dim() >= 1)
def stack(ttnn, ts, dim=0):
    """A new dim of size 1 on each input, then one concat."""
    shape = [int(s) for s in ts[0].shape]
    d = dim_(dim, len(shape) + 1)
    new = shape[:d] + [1] + shape[d:]
    parts = [ttnn.reshape(t, new) for t in ts]
    return parts[0] if len(parts) == 1 else ttnn.concat(parts, d)


def _pad_guard(x, pad, value=0.0):
    return is_t(x) and x.dim() >= 1 and x.dtype in _DATA and len(pad) % 2 == 0 and len(pad) // 2 <= x.dim() \
        and all(isinstance(p, int) for p in pad) and isinstance(value, (int, float)) \
        and all(x.shape[x.dim() - 1 - i // 2] + pad[i - i % 2] + pad[i - i % 2 + 1] > 0 for i in range(len(pad)))


@lowering(aten.constant_pad_nd.default, when=_pad_guard)
def constant_pad_nd(ttnn, x, pad, value=0.0):
    """torch lists (before, after) from the last dim backwards; TT-NN takes one pair per dim, first dim first.
    Padding is row data movement: ROW_MAJOR input (a TILE pad must keep tile-aligned shapes)."""
    if not any(pad):
        return x
    rank = len(x.shape)
    if any(p < 0 for p in pad):  # negative padding crops: a slice first, then the positive part
        shape = [int(v) for v in x.shape]
        starts, ends = [0] * len(shape), list(shape)
        for i in range(len(pad) // 2):
            d = len(shape) - 1 - i
            starts[d], ends[d] = max(0, -pad[2 * i]), shape[d] - max(0, -pad[2 * i + 1])
        x = ttnn.slice(x, starts, ends, [1] * len(shape))
        pad = [max(0, p) for p in pad]
        if not any(pad):
            return x
    pairs = [(0, 0)] * rank
    for i in range(len(pad) // 2):
        pairs[rank - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if rank > 4 and any(p != (0, 0) for p in pairs[:-3]):
        raise ValueError("TT-NN pads only the last 3 dims of a tensor of rank > 4")
    return ttnn.pad(ttnn.to_layout(x, ttnn.ROW_MAJOR_LAYOUT), pairs, float(value))


# --- scatter-style writes -----------------------------------------------------------------------------------
def _cut(ttnn, x, d, start, end):
    shape = list(x.shape)
    starts, ends = [0] * len(shape), list(shape)
    starts[d], ends[d] = start, end
    return ttnn.slice(x, starts, ends, [1] * len(shape))


def _splice(ttnn, x, src, d, start, end):
    """x with positions [start, end) of dim d replaced by src: concat of the kept parts and src."""
    n = x.shape[d]
    parts = ([_cut(ttnn, x, d, 0, start)] if start > 0 else []) + [src] + \
        ([_cut(ttnn, x, d, end, n)] if end < n else [])
    if x.dtype != src.dtype:
        parts = [p if p.dtype == x.dtype else ttnn.typecast(p, x.dtype) for p in parts]
    layout = x.layout
    parts = [p if p.layout == layout else ttnn.to_layout(p, layout) for p in parts]
    return parts[0] if len(parts) == 1 else ttnn.concat(parts, d)


def _clamped(n, start, end):
    start = 0 if start is None else (start + n if start < 0 else start)
    end = n if end is None else (end + n if end < 0 else end)
    return max(0, min(n, start)), max(0, min(n, end))


@lowering(aten.slice_scatter.default, when=lambda x, src, dim=0, start=None, end=None, step=1: is_t(x) and is_t(src)
          and x.dtype in _DATA and src.dtype == x.dtype and step == 1 and x.dim() == src.dim() >= 1)
def slice_scatter(ttnn, x, src, dim=0, start=None, end=None, step=1):
    d = dim_(dim, len(x.shape))
    s, e = _clamped(int(x.shape[d]), start, end)
    return _splice(ttnn, x, src, d, s, e)


@lowering(aten.select_scatter.default, when=lambda x, src, dim, index: is_t(x) and is_t(src) and x.dtype in _DATA
          and src.dtype == x.dtype and x.dim() >= 1 and src.dim() == x.dim() - 1)
def select_scatter(ttnn, x, src, dim, index):
    d = dim_(dim, len(x.shape))
    i = index + x.shape[d] if index < 0 else index
    shape = list(x.shape)
    shape[d] = 1
    return _splice(ttnn, x, ttnn.reshape(src, shape), d, i, i + 1)


@lowering(aten.copy.default, when=lambda x, src, non_blocking=False: is_t(x) and is_t(src) and x.dtype in _DATA
          and src.dtype in _DATA and tuple(src.shape) == tuple(x.shape))
def copy(ttnn, x, src, non_blocking=False):
    """The functional copy: x's dtype with src's values (same shape; broadcasting copies are not handled)."""
    return src if src.dtype == x.dtype else ttnn.typecast(src, x.dtype)


@lowering(aten.fill.Scalar, when=lambda x, v: is_t(x) and x.dtype in _DATA and x.dim() >= 0
          and isinstance(v, (int, float)))
def fill_scalar(ttnn, x, v):
    shape = [int(s) for s in x.shape] or [1]
    return ttnn.full(shape, v, dtype=x.dtype, layout=x.layout, device=policy.device_of(ttnn))


@lowering(aten.fill.Tensor, when=lambda x, v: is_t(x) and x.dtype in _DATA and (isinstance(v, (int, float))
          or (is_t(v) and v.dim() == 0)))
def fill_tensor(ttnn, x, v):
    """A 0-d value: a number in the compiler (graph constant), a [1] device tensor in eager mode."""
    if isinstance(v, (int, float)):
        return fill_scalar(ttnn, x, v)
    shape = [int(s) for s in x.shape] or [1]
    v = ttnn.reshape(v, [1] * len(shape))
    v = v if v.dtype == x.dtype else ttnn.typecast(tile(ttnn, v), x.dtype)
    return ttnn.repeat(v, shape) if any(s != 1 for s in shape) else v


def _contiguous_stride(shape):
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return out[::-1]


def _same_layout(shape, stride):
    return all(s == 1 or a == b for s, a, b in zip(shape, stride, _contiguous_stride(shape)))


@lowering(aten.as_strided.default, when=lambda x, size, stride, storage_offset=None: is_t(x) and x.dtype in _DATA
          and list(size) == list(x.shape) and not storage_offset and _same_layout(list(size), list(stride))
          and _same_layout(list(x.shape), list(x.stride())))
def as_strided_identity(ttnn, x, size, stride, storage_offset=None):
    """A view that re-states the contiguous layout (only size-1 dims' strides differ): the tensor itself."""
    return x


def _numel_of(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


@lowering(aten.as_strided.default, when=lambda x, size, stride, storage_offset=None: is_t(x) and x.dtype in _DATA
          and list(size) != list(x.shape) and not storage_offset and _numel_of(size) == x.numel()
          and _same_layout(list(size), list(stride)) and _same_layout(list(x.shape), list(x.stride())))
def as_strided_reshape(ttnn, x, size, stride, storage_offset=None):
    """A contiguous tensor viewed with the contiguous strides of another shape of the same size: a reshape."""
    return ttnn.reshape(x, [int(s) for s in size] or [1])
