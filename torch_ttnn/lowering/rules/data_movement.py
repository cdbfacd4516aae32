"""Shape and data movement: view/reshape, permute/transpose, expand, cat, split/slice/select, (un)squeeze,
copies and dtype casts, embedding, and tensor creation (arange, full and friends).

Shape rules compute TT-NN arguments from the input's shape (`x.shape` works on TT-NN tensors and on the
compiler's handles alike) and never from values.
"""
from __future__ import annotations

import math

import torch

from .. import policy
from ..registry import lowering
from ._util import as_dtype, aten, dim_, is_float, is_t, row_major, tile

_ANY = (torch.float32, torch.bfloat16, torch.float16, torch.bool, torch.int32, torch.int64)


def _ok(x, lo=1):
    return is_t(x) and x.dim() >= lo and x.dtype in _ANY


def _resolve(shape, numel):
    shape = [s if isinstance(s, torch.SymInt) else int(s) for s in shape]  # symbolic sizes stay symbolic
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        shape[shape.index(-1)] = numel // max(known, 1)
    return shape


def _numel(x):
    n = 1
    for s in x.shape:
        n *= s
    return n


@lowering(aten.view.default, aten._unsafe_view.default, aten.reshape.default,
          when=lambda x, shape: _ok(x) and len(shape) >= 1)
def view(ttnn, x, shape):
    return ttnn.reshape(x, _resolve(shape, _numel(x)))


@lowering(aten.permute.default, when=lambda x, dims: _ok(x, 2))
def permute(ttnn, x, dims):
    r = len(x.shape)
    return ttnn.permute(x, [dim_(d, r) for d in dims])


@lowering(aten.transpose.int, when=lambda x, a, b: _ok(x, 2))
def transpose(ttnn, x, a, b):
    r = len(x.shape)
    a, b = dim_(a, r), dim_(b, r)
    if a == b:
        return x
    dims = list(range(r))
    dims[a], dims[b] = dims[b], dims[a]
    return ttnn.permute(x, dims)


@lowering(aten.t.default, when=lambda x: _ok(x, 1) and x.dim() <= 2)
def t(ttnn, x):
    return ttnn.permute(x, [1, 0]) if len(x.shape) == 2 else x


@lowering(aten.expand.default, when=lambda x, sizes, implicit=False: _ok(x, 0) and len(sizes) >= x.dim())
def expand(ttnn, x, sizes, implicit=False):
    """A 0-d input (the gradient of a full reduction) is [1] on the device, which expands alike."""
    r = len(sizes)
    if r == 0:
        return x
    src = [1] * (r - len(x.shape)) + list(x.shape)
    # a symbolic size stays symbolic (int() would pin the graph to this call's length: a recompile per token)
    target = [src[i] if s == -1 else s if isinstance(s, torch.SymInt) else int(s) for i, s in enumerate(sizes)]
    if target == list(x.shape):
        return x
    if len(src) != len(x.shape):
        x = ttnn.reshape(x, src)
    return ttnn.repeat(x, [t // s if s != t else 1 for s, t in zip(src, target)])


@lowering(aten.repeat.default, when=lambda x, repeats: _ok(x, 0) and len(repeats) >= x.dim()
          and all(int(r) >= 1 for r in repeats))
def repeat(ttnn, x, repeats):
    """torch's repeat, leading new dims included (a 0-d input is [1] on the device, which repeats alike)."""
    reps = [int(r) for r in repeats]
    if not reps:
        return x
    shape = [1] * (len(reps) - len(x.shape)) + list(x.shape)
    if list(shape) != list(x.shape):
        x = ttnn.reshape(x, shape)
    return ttnn.repeat(x, reps) if any(r != 1 for r in reps) else x


def _legacy_empty(t):
    """torch.cat skips 1-D empty tensors whatever the other inputs' rank (e.g. an empty KV cache)."""
    return t.dim() == 1 and t.shape[0] == 0


def _cat_guard(ts, dim=0):
    real = [t for t in ts if not _legacy_empty(t)]
    return len(real) >= 1 and all(_ok(t) for t in real) and len({t.dtype for t in real}) == 1 \
        and len({t.dim() for t in real}) == 1


@lowering(aten.cat.default, when=_cat_guard)
def cat(ttnn, ts, dim=0):
    ts = [t for t in ts if not (len(t.shape) == 1 and t.shape[0] == 0)]
    ts = [t for t in ts if _numel(t) > 0] or ts[:1]
    if len(ts) == 1:
        return ts[0]
    if len({getattr(t, "layout", None) for t in ts}) > 1:  # concat wants one layout (ids ROW_MAJOR + a new TILE token)
        ts = [tile(ttnn, t) for t in ts]
    return ttnn.concat(list(ts), dim_(dim, len(ts[0].shape)))


@lowering(aten.gather.default, when=lambda x, dim, index, sparse_grad=False: _ok(x) and is_t(index)
          and index.dtype in (torch.int32, torch.int64) and index.dim() == x.dim())
def gather(ttnn, x, dim, index, sparse_grad=False):
    return ttnn.gather(x, dim_(dim, len(x.shape)), index)


def _slice(ttnn, x, dim, start, end, step=1):
    shape = list(x.shape)
    starts, ends, steps = [0] * len(shape), list(shape), [1] * len(shape)
    starts[dim], ends[dim], steps[dim] = start, end, step
    return ttnn.slice(x, starts, ends, steps)


def _clamp_range(n, start, end):
    start = 0 if start is None else start
    end = n if end is None else end
    start = max(0, min(n, start + n if start < 0 else start))
    end = max(start, min(n, end + n if end < 0 else end))
    return start, end


@lowering(aten.slice.Tensor, when=lambda x, dim=0, start=None, end=None, step=1: _ok(x) and step >= 1)
def slice_(ttnn, x, dim=0, start=None, end=None, step=1):
    d = dim_(dim, len(x.shape))
    s, e = _clamp_range(x.shape[d], start, end)
    if s == 0 and e == x.shape[d] and step == 1:
        return x
    return _slice(ttnn, x, d, s, e, step)


@lowering(aten.select.int, when=lambda x, dim, index: _ok(x))
def select(ttnn, x, dim, index):
    d = dim_(dim, len(x.shape))
    i = index + x.shape[d] if index < 0 else index
    out = _slice(ttnn, x, d, i, i + 1)
    shape = [s for j, s in enumerate(x.shape) if j != d]
    return ttnn.reshape(out, shape or [1])


@lowering(aten.split.Tensor, when=lambda x, size, dim=0: _ok(x))
def split(ttnn, x, size, dim=0):
    d = dim_(dim, len(x.shape))
    n = x.shape[d]
    return [_slice(ttnn, x, d, s, min(s + size, n)) for s in range(0, n, size)]


@lowering(aten.split_with_sizes.default, when=lambda x, sizes, dim=0: _ok(x))
def split_with_sizes(ttnn, x, sizes, dim=0):
    d = dim_(dim, len(x.shape))
    out, s = [], 0
    for size in sizes:
        out.append(_slice(ttnn, x, d, s, s + size))
        s += size
    return out


def _reshaped(ttnn, x, shape):
    return ttnn.reshape(x, list(shape) or [1])


@lowering(aten.unsqueeze.default, when=lambda x, dim: _ok(x, 0))
def unsqueeze(ttnn, x, dim):
    if not policy.less_op_types(ttnn):
        return ttnn.unsqueeze(x, dim_(dim, len(x.shape) + 1))
    shape = list(x.shape)
    shape.insert(dim_(dim, len(shape) + 1), 1)
    return _reshaped(ttnn, x, shape)


@lowering(aten.squeeze.dim, aten.squeeze.dims, when=lambda x, dims: _ok(x))
def squeeze(ttnn, x, dims):
    r = len(x.shape)
    dims = {dim_(d, r) for d in ([dims] if isinstance(dims, int) else dims)}
    if not policy.less_op_types(ttnn):
        return ttnn.squeeze(x, sorted(dims)[0] if len(dims) == 1 else sorted(dims))
    return _reshaped(ttnn, x, [s for i, s in enumerate(x.shape) if not (i in dims and s == 1)])


@lowering(aten.squeeze.default, when=lambda x: _ok(x))
def squeeze_all(ttnn, x):
    return _reshaped(ttnn, x, [s for s in x.shape if s != 1])


@lowering(aten.clone.default, aten.alias.default, aten.lift_fresh_copy.default, aten.detach.default,
          when=lambda x, **kw: _ok(x, 0))
def identity(ttnn, x, **kw):
    """Values are never mutated in an aot_autograd graph, so a copy can be the value itself."""
    return x


def _cast_guard(x, dtype=None, layout=None, device=None, pin_memory=None, non_blocking=False,
                memory_format=None):
    return _ok(x, 0) and (dtype is None or dtype in _ANY) and (device is None or torch.device(device).type in _HOMES)


@lowering(aten._to_copy.default, when=_cast_guard)
def to_copy(ttnn, x, dtype=None, **kw):
    if dtype is None:
        return x
    target = policy.ttnn_dtype(ttnn, dtype)
    if target == x.dtype:
        return x
    if dtype.is_floating_point or dtype == torch.bool:
        x = tile(ttnn, x)
    return ttnn.typecast(x, target)


@lowering(aten.embedding.default, when=lambda w, ids, padding_idx=-1, scale=False, sparse=False: is_float(w)
          and w.dim() == 2 and is_t(ids) and ids.dtype in (torch.int32, torch.int64))
def embedding(ttnn, w, ids, padding_idx=-1, scale=False, sparse=False):
    """TT-NN's table must be bfloat16: a float32 table (eager mode keeps float32) is cast, and the rows come
    back in the table's own dtype (a TILE output may change dtype)."""
    table = as_dtype(ttnn, w, ttnn.bfloat16)
    return ttnn.embedding(row_major(ttnn, ids), table, layout=ttnn.TILE_LAYOUT, dtype=w.dtype)


# --- creation ---------------------------------------------------------------------------------------------
_HOMES = ("cpu", "ttnn")


def _creates(dtype, device=None, layout=None, pin_memory=None):
    """A factory for the host (a compiled graph over CPU tensors) or for the `ttnn` torch device (a graph over
    device-resident tensors, `model.to("ttnn")`): either way the values are made on the TT-NN device."""
    return (dtype is None or dtype in _ANY) and (device is None or torch.device(device).type in _HOMES)


def _layout_for(ttnn, dtype):
    return ttnn.TILE_LAYOUT if dtype.is_floating_point or dtype == torch.bool else ttnn.ROW_MAJOR_LAYOUT


def _arange_guard(*a, dtype=None, layout=None, device=None, pin_memory=None):
    if any(isinstance(v, torch.SymInt) for v in a):  # a length in a graph with dynamic shapes (T5's key length)
        return all(isinstance(v, (int, torch.SymInt)) and not isinstance(v, bool) for v in a) \
            and _creates(dtype, device) and (dtype is None or not dtype.is_floating_point)
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in a) and _creates(dtype, device) \
        and (all(isinstance(v, int) for v in a) or dtype is None or dtype.is_floating_point)


def _arange(ttnn, start, end, step, dtype):
    """Integer ranges are ttnn.arange in int32. A float range (`torch.arange(0, 1, 0.1)`, or a float dtype)
    is start + step * i over an int32 arange of its length, computed in the float dtype as torch does
    (start + i * step, not a running sum)."""
    floating = (dtype is not None and dtype.is_floating_point) or any(isinstance(v, float) for v in (start, end, step))
    dev = policy.device_of(ttnn)
    if not floating:
        return ttnn.arange(start, end, step, dtype=ttnn.int32, device=dev)
    n = max(0, math.ceil((end - start) / step))
    fdt = policy.ttnn_dtype(ttnn, dtype or torch.float32)
    i = ttnn.typecast(ttnn.to_layout(ttnn.arange(0, n, 1, dtype=ttnn.int32, device=dev), ttnn.TILE_LAYOUT), fdt)
    if step != 1:
        i = ttnn.multiply(i, float(step))
    return ttnn.add(i, float(start)) if start != 0 else i


@lowering(aten.arange.start_step, when=_arange_guard)
def arange(ttnn, start, end, step=1, *, dtype=None, layout=None, device=None, pin_memory=None):
    return _arange(ttnn, start, end, step, dtype)


@lowering(aten.arange.start, when=_arange_guard)
def arange_start(ttnn, start, end, *, dtype=None, **kw):
    return _arange(ttnn, start, end, 1, dtype)


@lowering(aten.arange.default, when=_arange_guard)
def arange_end(ttnn, end, *, dtype=None, **kw):
    return _arange(ttnn, 0, end, 1, dtype)


def _full(ttnn, shape, value, dtype):
    dtype = dtype or (torch.float32 if isinstance(value, float) else torch.int64)
    if dtype == torch.bool:
        value = float(bool(value))
    return ttnn.full(list(shape), value, dtype=policy.ttnn_dtype(ttnn, dtype), layout=_layout_for(ttnn, dtype),
                     device=policy.device_of(ttnn))


@lowering(aten.full.default, when=lambda size, fill_value, *, dtype=None, layout=None, device=None,
          pin_memory=None: _creates(dtype, device) and isinstance(fill_value, (int, float)))
def full(ttnn, size, fill_value, *, dtype=None, **kw):
    """size [] (a 0-d tensor, e.g. transformers' `torch.tensor(True)` mask seed) is [1] on the device."""
    return _full(ttnn, list(size) or [1], fill_value, dtype)


def _creates_size(size, *, dtype=None, layout=None, device=None, pin_memory=None):
    return _creates(dtype, device)


@lowering(aten.zeros.default, when=_creates_size)
def zeros(ttnn, size, *, dtype=None, **kw):
    return _full(ttnn, list(size) or [1], 0, dtype or torch.float32)


@lowering(aten.ones.default, when=_creates_size)
def ones(ttnn, size, *, dtype=None, **kw):
    return _full(ttnn, list(size) or [1], 1, dtype or torch.float32)


def _like_guard(x, *a, dtype=None, layout=None, device=None, pin_memory=None, memory_format=None):
    return _ok(x, 0) and dtype is None and (device is None or torch.device(device).type in _HOMES)


@lowering(aten.full_like.default, when=_like_guard)
def full_like(ttnn, x, fill_value, **kw):
    return ttnn.full(list(x.shape) or [1], fill_value, dtype=x.dtype, layout=x.layout, device=policy.device_of(ttnn))


@lowering(aten.zeros_like.default, when=_like_guard)
def zeros_like(ttnn, x, **kw):
    return ttnn.full(list(x.shape) or [1], 0, dtype=x.dtype, layout=x.layout, device=policy.device_of(ttnn))


@lowering(aten.ones_like.default, when=_like_guard)
def ones_like(ttnn, x, **kw):
    return ttnn.full(list(x.shape) or [1], 1, dtype=x.dtype, layout=x.layout, device=policy.device_of(ttnn))


@lowering(aten.scalar_tensor.default, when=lambda v, *, dtype=None, layout=None, device=None, pin_memory=None:
          isinstance(v, (int, float)) and _creates(dtype, device))
def scalar_tensor(ttnn, v, *, dtype=None, **kw):
    """A 0-d tensor: shape [1] on the device (TT-NN has no rank 0), reshaped back when it leaves."""
    return _full(ttnn, [1], v, dtype or torch.float32)


@lowering(aten.index_copy.default, when=lambda x, dim, index, src: is_float(x) and x.dim() == 4
          and is_float(src) and src.dim() == 4 and is_t(index) and index.dim() == 1
          and index.dtype in (torch.int32, torch.int64) and dim in (2, -2))
def index_copy(ttnn, x, dim, index, src):
    """A static KV-cache update: rows `index` of x along the sequence dim replaced by src's rows.
    The positions are device values. For bfloat16 (and block-float) caches the update is a one-hot matmul:
    onehot[L, n] picks, for each cache row, the source row written there (at most one), and the rows written
    are zeroed in x first; products of a bfloat16 value with exact 0/1 at HiFi4 with fp32 accumulation are
    exact, so cached values are copied bit for bit. A float32 operand would enter the matrix engine truncated
    to TF32 (10 mantissa bits, on a card as in the emulator), so float32 caches take ttnn.scatter instead: a
    data movement, bit-exact for every value."""
    if x.dtype == ttnn.float32 or src.dtype == ttnn.float32:
        return _index_copy_scatter(ttnn, x, index, src)
    length, n = x.shape[2], index.shape[0]
    dev = policy.device_of(ttnn)
    rows = ttnn.reshape(ttnn.to_layout(ttnn.arange(0, length, 1, dtype=ttnn.int32, device=dev), ttnn.TILE_LAYOUT),
                        [length, 1])
    idx = ttnn.reshape(tile(ttnn, index), [1, n])
    onehot = ttnn.typecast(ttnn.eq(rows, idx), x.dtype)
    written = ttnn.reshape(ttnn.sum(onehot, dim=1, keepdim=True), [1, 1, length, 1])
    exact = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)
    picks = ttnn.repeat(ttnn.reshape(onehot, [1, 1, length, n]), [x.shape[0], x.shape[1], 1, 1])
    scattered = ttnn.matmul(picks, tile(ttnn, src),
                            compute_kernel_config=exact)
    kept = ttnn.multiply(tile(ttnn, x), ttnn.rsub(written, 1.0))
    return ttnn.add(kept, scattered)


def _index_copy_scatter(ttnn, x, index, src):
    """index_copy along dim 2 as ttnn.scatter with the positions broadcast to src's shape. Row-major operands:
    the real scatter rejects float32 TILE tensors ("Scatter doesn't work for fp32 tiled tensors yet")."""
    b, h, n, d = (int(v) for v in src.shape)
    if src.dtype != x.dtype:
        src = ttnn.typecast(src, x.dtype)
    pos = ttnn.typecast(index, ttnn.int32) if index.dtype != ttnn.int32 else index
    pos = ttnn.repeat(ttnn.reshape(row_major(ttnn, pos), [1, 1, n, 1]), [b, h, 1, d])
    return tile(ttnn, ttnn.scatter(row_major(ttnn, x), 2, pos, row_major(ttnn, src)))


def _roll_guard(x, shifts, dims=()):
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims)
    return _ok(x) and all(isinstance(s, int) for s in shifts) and \
        (len(dims) == len(shifts) or (not dims and len(shifts) == 1))


@lowering(aten.roll.default, when=_roll_guard)
def roll(ttnn, x, shifts, dims=()):
    """TT-NN has no roll: each rolled dim is the input's tail slice concatenated before its head slice.
    With no dims torch rolls the flattened tensor, so we flatten, roll dim 0 and restore the shape."""
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims)
    shape = list(x.shape)  # the recorder does not know slice/concat output shapes: track it here (unchanged)
    cur = shape
    if not dims:
        cur = [_numel(x)]
        x, dims = ttnn.reshape(x, cur), [0]
    for shift, d in zip(shifts, dims):
        d = dim_(d, len(cur))
        n = cur[d]
        k = shift % n if n else 0
        if k:
            x = ttnn.concat([_slice_shaped(ttnn, x, cur, d, n - k, n), _slice_shaped(ttnn, x, cur, d, 0, n - k)], d)
    return ttnn.reshape(x, shape) if cur is not shape else x


def _slice_shaped(ttnn, x, shape, dim, start, end):
    starts, ends = [0] * len(shape), list(shape)
    starts[dim], ends[dim] = start, end
    return ttnn.slice(x, starts, ends, [1] * len(shape))


@lowering(aten.flip.default, when=lambda x, dims: _ok(x) and len(dims) >= 1)
def flip(ttnn, x, dims):
    """TT-NN 0.81.1 has no flip: per flipped dim, a gather with the reversed positions (n-1-i, built with an
    int32 arange on the device and broadcast to the tensor's shape)."""
    shape = [int(s) for s in x.shape]
    dev = policy.device_of(ttnn)
    for d in sorted({dim_(d, len(shape)) for d in dims}):
        n = shape[d]
        if n == 1:
            continue
        rev = ttnn.add(ttnn.multiply(ttnn.arange(0, n, 1, dtype=ttnn.int32, device=dev), -1), n - 1)
        rev = ttnn.reshape(rev, [n if i == d else 1 for i in range(len(shape))])
        rev = ttnn.repeat(rev, [1 if i == d else s for i, s in enumerate(shape)])
        x = ttnn.gather(x, d, rev)
    return x
