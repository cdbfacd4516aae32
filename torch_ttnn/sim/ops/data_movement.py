"""TT-NN data-movement operations (emulated): permute, concat, slice, pad, embedding, tilize, ...

Data movement is exact on the device, except that an output in a block-float format is packed again (a
permuted bfloat8_b tensor shares exponents with new neighbours), which `new_device_tensor` reproduces. The cost
of each op is the bytes it reads plus the bytes it writes. Constraints follow tt-metal's
`ttnn/cpp/ttnn/operations/data_movement/*` validate() functions and the TT-NN API pages; where we were unsure
we stayed permissive.

The small helpers here (`_finish`, `_dim`, `_check`) are the skeleton every op module of this group shares.
"""
from __future__ import annotations

import builtins
import dataclasses

import torch

from .. import formats
from ..operation import operation, record
from ..tensor import Tensor, new_device_tensor, nbytes, operand, operands, require_device
from ..types import (BLOCK_FLOAT, BufferType, CoreCoord, CoreRange, CoreRangeSet, DataType, Layout, MemoryConfig,
                     ShardOrientation, ShardSpec, TensorMemoryLayout, _Enum, populate_sharding, tile_bytes)

__all__ = ["permute", "transpose", "concat", "split", "chunk", "slice", "pad", "repeat", "repeat_interleave",
           "expand", "squeeze", "unsqueeze", "gather", "scatter", "scatter_add", "embedding", "fill", "tilize",
           "untilize",
           "tilize_with_val_padding", "tilize_with_zero_padding", "untilize_with_unpadding",
           "sharded_to_interleaved", "interleaved_to_sharded", "reshard", "update_cache", "view", "EmbeddingsType"]


# --- shared skeleton -------------------------------------------------------------------------------------
def _finish(opname: str, dev, values: torch.Tensor, like: Tensor, inputs=None, *, dtype=None, layout=None,
            memory_config=None, flops: float = 0.0, read=(), **cost) -> Tensor:
    """Store `values` as the output (rounded to its dtype, allocated) and record the op's cost."""
    dtype = dtype or like.dtype
    layout = layout or like.layout
    if dtype in BLOCK_FLOAT and layout != Layout.TILE:
        raise RuntimeError(f"{opname}: output dtype {dtype.name} needs TILE layout (block-float data is stored "
                           f"per 32x32 tile); use ttnn.bfloat16 or TILE layout")
    out = new_device_tensor(values, dtype, layout, dev, memory_config or like.memory_config())
    inputs = (like,) if inputs is None else inputs
    record(dev, opname, operands=[*operands(*inputs), *read, operand(out)], flops=flops, **cost)
    return out


def _dim(d: int, rank: int, opname: str, what: str = "dim") -> int:
    """Normalise a possibly negative dim, as the real ops do, with the real range error."""
    r = max(rank, 1)
    if not isinstance(d, int) or not -r <= d < r:
        raise RuntimeError(f"{opname}: {what} {d} is out of range for a rank-{rank} tensor "
                           f"(expected in [{-r}, {r - 1}])")
    return d % r


def _check(cond: bool, opname: str, msg: str):
    if not cond:
        raise RuntimeError(f"{opname}: {msg}")


# --- reordering ------------------------------------------------------------------------------------------
@operation("ttnn.permute", golden_function=lambda t, dims, **_: t.permute(dims))
def permute(input_tensor, dims, *, memory_config=None, pad_value=0.0) -> Tensor:
    """Reorder dims; `dims` must be a permutation of the tensor's dims (negative indices allowed)."""
    dev = require_device("ttnn.permute", input_tensor)
    rank = len(input_tensor.shape)
    nd = [_dim(d, rank, "ttnn.permute") for d in dims]
    _check(len(nd) == rank and sorted(nd) == list(range(rank)), "ttnn.permute",
           f"dims {list(dims)} must be a permutation of the {rank} dims of shape {list(input_tensor.shape)}")
    return _finish("ttnn.permute", dev, input_tensor.value.permute(nd), input_tensor, memory_config=memory_config)


@operation("ttnn.transpose", golden_function=lambda t, d1, d2, **_: t.transpose(d1, d2))
def transpose(input_tensor, dim1, dim2, *, memory_config=None, pad_value=0.0) -> Tensor:
    dev = require_device("ttnn.transpose", input_tensor)
    rank = len(input_tensor.shape)
    d1, d2 = _dim(dim1, rank, "ttnn.transpose", "dim1"), _dim(dim2, rank, "ttnn.transpose", "dim2")
    return _finish("ttnn.transpose", dev, input_tensor.value.transpose(d1, d2), input_tensor,
                   memory_config=memory_config)


@operation("ttnn.concat", golden_function=lambda ts, dim=0, **_: torch.cat(ts, dim))
def concat(tensors, dim=0, *, memory_config=None, output_tensor=None, groups=1, sub_core_grids=None) -> Tensor:
    """Concatenate along `dim`. Sources: concat validate(): same rank, dtype and layout; other dims equal.

    `groups` > 1 concatenates group-wise: each input is cut into `groups` equal parts along `dim` and the
    output interleaves them (part 0 of every input, then part 1, ...), as grouped convolutions need.
    """
    tensors = list(tensors)
    _check(len(tensors) > 0, "ttnn.concat", "needs at least one tensor")
    dev = require_device("ttnn.concat", *tensors)
    first = tensors[0]
    rank = len(first.shape)
    d = _dim(dim, rank, "ttnn.concat")
    for i, t in enumerate(tensors[1:], 1):
        _check(len(t.shape) == rank, "ttnn.concat", f"all tensors must have the same rank; tensor {i} has "
               f"shape {list(t.shape)}, tensor 0 has {list(first.shape)}")
        _check(t.dtype == first.dtype, "ttnn.concat", f"all tensors must have the same dtype; tensor {i} is "
               f"{t.dtype}, tensor 0 is {first.dtype}. Typecast first")
        _check(t.layout == first.layout, "ttnn.concat", f"all tensors must have the same layout; tensor {i} is "
               f"{t.layout}, tensor 0 is {first.layout}. Use ttnn.to_layout first")
        bad = [k for k in range(rank) if k != d and t.shape[k] != first.shape[k]]
        _check(not bad, "ttnn.concat", f"tensor {i} of shape {list(t.shape)} differs from tensor 0 "
               f"{list(first.shape)} in dim {bad[0] if bad else ''} (only dim {d} may differ)")
    values = [t.value for t in tensors]
    if groups > 1:
        for i, t in enumerate(tensors):
            _check(t.shape[d] % groups == 0, "ttnn.concat",
                   f"tensor {i}'s dim {d} ({t.shape[d]}) is not divisible by groups={groups}")
        parts = [v.chunk(groups, d) for v in values]
        values = [p[g] for g in range(groups) for p in parts]
    out = torch.cat(values, d)
    return _finish("ttnn.concat", dev, out, first, tensors, memory_config=memory_config)


def _split_out(opname, t, pieces, memory_config):
    dev = t.device()
    outs = [new_device_tensor(p, t.dtype, t.layout, dev, memory_config or t.memory_config()) for p in pieces]
    record(dev, opname, operands=operands(t, *outs))
    return outs


@operation("ttnn.split", golden_function=lambda t, split_size, dim=0, **_: list(torch.split(t, split_size, dim)))
def split(input_tensor, split_size, dim=0, *, memory_config=None) -> list:
    """torch.split semantics: an int is the size of each piece (the last may be smaller); a list gives the sizes."""
    require_device("ttnn.split", input_tensor)
    d = _dim(dim, len(input_tensor.shape), "ttnn.split")
    n = input_tensor.shape[d]
    if isinstance(split_size, int):
        _check(split_size > 0, "ttnn.split", f"split_size must be positive, got {split_size}")
    else:
        split_size = [int(s) for s in split_size]
        _check(sum(split_size) == n and all(s >= 0 for s in split_size), "ttnn.split",
               f"split sizes {split_size} must be non-negative and sum to dim {d}'s size {n}")
    return _split_out("ttnn.split", input_tensor, torch.split(input_tensor.value, split_size, d), memory_config)


@operation("ttnn.chunk", golden_function=lambda t, chunks, dim, **_: list(torch.chunk(t, chunks, dim)))
def chunk(input_tensor, chunks, dim) -> list:
    require_device("ttnn.chunk", input_tensor)
    _check(isinstance(chunks, int) and chunks > 0, "ttnn.chunk", f"chunks must be a positive int, got {chunks}")
    d = _dim(dim, len(input_tensor.shape), "ttnn.chunk")
    return _split_out("ttnn.chunk", input_tensor, torch.chunk(input_tensor.value, chunks, d), None)


def _as_ints(v, opname, what):
    if isinstance(v, Tensor):
        return [int(x) for x in v.value.reshape(-1).tolist()]
    try:
        return [int(x) for x in v]
    except TypeError:
        raise TypeError(f"{opname}: {what} must be a list of ints or a ttnn.Tensor, got {type(v).__name__}") from None


def _slice_golden(t, starts, ends, slice_step=None, **_):
    steps = slice_step or [1] * len(starts)
    return t[tuple(builtins_slice(s, e, st) for s, e, st in zip(starts, ends, steps))]


builtins_slice = slice  # the op below shadows the builtin in this module


@operation("ttnn.slice", golden_function=_slice_golden)
def slice(input_tensor, starts, ends, slice_step=None, *, memory_config=None, output_tensor=None, pad_value=None,
          slice_dim=None, num_devices=None, sub_core_grids=None) -> Tensor:  # noqa: A001 (the real name)
    """Python-slicing semantics per dim: starts/ends may be negative and are clamped; steps must be positive.

    One entry per dim, as the real op requires (slice validate: "Input rank and slice rank must match").
    starts/ends may also be device tensors of indices (the tensor overload), whose step name we take.
    """
    steps = slice_step
    dev = require_device("ttnn.slice", input_tensor)
    shape = list(input_tensor.shape)
    starts, ends = _as_ints(starts, "ttnn.slice", "starts"), _as_ints(ends, "ttnn.slice", "ends")
    steps = [1] * len(shape) if steps is None else _as_ints(steps, "ttnn.slice", "steps")
    _check(len(starts) == len(ends) == len(steps) == len(shape), "ttnn.slice",
           f"starts {starts}, ends {ends} and steps {steps} must each have one entry per dim of the rank-"
           f"{len(shape)} input {shape}")
    _check(all(s > 0 for s in steps), "ttnn.slice", f"steps must be positive, got {steps}")
    idx = tuple(builtins_slice(s, e, st) for s, e, st in zip(starts, ends, steps))
    out = input_tensor.value[idx]
    _check(out.numel() > 0 or 0 in shape, "ttnn.slice",
           f"slice [{starts}:{ends}:{steps}] of shape {shape} is empty; ends must be past starts")
    return _finish("ttnn.slice", dev, out, input_tensor, memory_config=memory_config)


@operation("ttnn.pad")
def pad(input_tensor, padding, value, *args, use_multicore=True, memory_config=None, sub_core_grids=None) -> Tensor:
    """Two overloads: pad(t, [(before, after), ...], value) and pad(t, output_padded_shape, input_tensor_start,
    value). Pairs apply to the trailing dims (one pair per dim is the usual form). Per the API page, a tensor of
    rank > 4 can only be padded in its lower 3 dims.
    """
    dev = require_device("ttnn.pad", input_tensor)
    shape = list(input_tensor.shape)
    rank = len(shape)
    if args:  # (output_padded_shape, input_tensor_start, value)
        out_shape, start, value = [int(s) for s in padding], [int(s) for s in value], args[0]
        _check(len(out_shape) == rank and len(start) == rank, "ttnn.pad",
               f"output_padded_shape {out_shape} and input_tensor_start {start} need one entry per dim ({rank})")
        pairs = [(st, o - st - s) for o, st, s in zip(out_shape, start, shape)]
    else:
        pairs = [tuple(int(x) for x in p) for p in padding]
        _check(all(len(p) == 2 for p in pairs), "ttnn.pad", f"padding must be (before, after) pairs, got {padding}")
        _check(len(pairs) <= rank, "ttnn.pad", f"{len(pairs)} padding pairs for a rank-{rank} tensor")
        pairs = [(0, 0)] * (rank - len(pairs)) + pairs
    _check(all(a >= 0 and b >= 0 for a, b in pairs), "ttnn.pad",
           f"padding must be non-negative (output shape at least the input's), got {pairs}")
    if rank > 4:
        _check(all(p == (0, 0) for p in pairs[:-3]), "ttnn.pad",
               f"a rank-{rank} tensor can only be padded in its last 3 dims, got {pairs}")
    flat = [x for a, b in reversed(pairs) for x in (a, b)]
    v = input_tensor.value
    out = torch.nn.functional.pad(v.to(torch.float32) if v.dtype == torch.bfloat16 else v, flat, value=value)
    return _finish("ttnn.pad", dev, out, input_tensor, memory_config=memory_config)


@operation("ttnn.repeat", golden_function=lambda t, dims, **_: t.repeat(dims))
def repeat(input_tensor, repeat_dims, *, memory_config=None, optional_output_tensor=None) -> Tensor:
    dev = require_device("ttnn.repeat", input_tensor)
    reps = [int(r) for r in repeat_dims]
    _check(len(reps) >= len(input_tensor.shape), "ttnn.repeat",
           f"repeat_dims {reps} needs at least one entry per dim of shape {list(input_tensor.shape)}")
    _check(all(r >= 1 for r in reps), "ttnn.repeat", f"repeat_dims must be >= 1, got {reps}")
    return _finish("ttnn.repeat", dev, input_tensor.value.repeat(reps), input_tensor, memory_config=memory_config)


@operation("ttnn.repeat_interleave", golden_function=lambda t, r, dim, **_: torch.repeat_interleave(t, r, dim))
def repeat_interleave(input_tensor, repeats, dim, *, memory_config=None) -> Tensor:
    dev = require_device("ttnn.repeat_interleave", input_tensor)
    _check(isinstance(repeats, int) and repeats >= 1, "ttnn.repeat_interleave",
           f"repeats must be a positive int, got {repeats!r}")
    d = _dim(dim, len(input_tensor.shape), "ttnn.repeat_interleave")
    return _finish("ttnn.repeat_interleave", dev, torch.repeat_interleave(input_tensor.value, repeats, d),
                   input_tensor, memory_config=memory_config)


@operation("ttnn.expand", golden_function=lambda t, shape, **_: t.expand(shape))
def expand(input_tensor, output_shape, *, memory_config=None) -> Tensor:
    """torch.expand semantics: -1 keeps a dim; only size-1 dims can grow."""
    dev = require_device("ttnn.expand", input_tensor)
    shape = [int(s) for s in output_shape]
    try:
        out = input_tensor.value.expand(shape)
    except RuntimeError:
        raise RuntimeError(f"ttnn.expand: cannot expand shape {list(input_tensor.shape)} to {shape}: only dims "
                           f"of size 1 can be expanded (use -1 to keep a dim)") from None
    return _finish("ttnn.expand", dev, out.contiguous(), input_tensor, memory_config=memory_config)


def _reshape_view(opname, t, new_shape):
    """squeeze/unsqueeze/view: a metadata change, no data moved (the real ones are views)."""
    dev = require_device(opname, t)
    out = Tensor._make(t.value.reshape(new_shape), t.dtype, t.layout, dev, t.memory_config())
    record(dev, opname, host_only=True)
    return out


@operation("ttnn.squeeze", golden_function=lambda t, dim=None, **_: t.squeeze() if dim is None else t.squeeze(dim))
def squeeze(input_tensor, dim=None) -> Tensor:
    shape = list(input_tensor.shape)
    if dim is None:
        dims = [i for i, s in enumerate(shape) if s == 1]
    else:
        dims = [_dim(d, len(shape), "ttnn.squeeze") for d in ([dim] if isinstance(dim, int) else dim)]
    new = [s for i, s in enumerate(shape) if not (i in dims and s == 1)]  # torch: non-1 dims are kept
    return _reshape_view("ttnn.squeeze", input_tensor, new)


@operation("ttnn.unsqueeze", golden_function=lambda t, dim, **_: t.unsqueeze(dim))
def unsqueeze(input_tensor, dim) -> Tensor:
    shape = list(input_tensor.shape)
    d = _dim(dim, len(shape) + 1, "ttnn.unsqueeze")
    return _reshape_view("ttnn.unsqueeze", input_tensor, shape[:d] + [1] + shape[d:])


@operation("ttnn.view", golden_function=lambda t, shape, **_: t.reshape(shape))
def view(input_tensor, shape) -> Tensor:
    """A reshape that moves no data. Source: ttnn.view docs: in TILE layout the last dim must stay the same
    and the second-last must stay the same or both old and new be multiples of the tile height."""
    require_device("ttnn.view", input_tensor)
    shape = [int(s) for s in shape]
    old = list(input_tensor.shape)
    n = input_tensor.value.numel()
    if -1 in shape:
        known = 1
        for s in shape:
            known *= s if s != -1 else 1
        shape = [n // max(known, 1) if s == -1 else s for s in shape]
    total = 1
    for s in shape:
        total *= s
    _check(total == n, "ttnn.view", f"cannot view shape {old} ({n} elements) as {shape}")
    if input_tensor.layout == Layout.TILE and len(shape) >= 2 and len(old) >= 2:
        ok = shape[-1] == old[-1] and (shape[-2] == old[-2] or (shape[-2] % 32 == 0 and old[-2] % 32 == 0))
        _check(ok, "ttnn.view", f"a TILE tensor can only be viewed without moving data when the last dim is "
               f"unchanged and the second-last unchanged or tile-aligned ({old} -> {shape}); use ttnn.reshape")
    elif input_tensor.layout == Layout.ROW_MAJOR and shape and old:
        _check(shape[-1] == old[-1], "ttnn.view", f"a ROW_MAJOR tensor can only be viewed with the same last dim "
               f"({old} -> {shape}); use ttnn.reshape")
    return _reshape_view("ttnn.view", input_tensor, shape)


# --- indexing --------------------------------------------------------------------------------------------
_INDEX_DTYPES = (DataType.UINT32, DataType.INT32, DataType.UINT16)


@operation("ttnn.gather", golden_function=lambda t, dim, index, **_: torch.gather(t, dim, index))
def gather(input, dim, index, *, sparse_grad=False, memory_config=None, out=None, sub_core_grids=None) -> Tensor:
    dev = require_device("ttnn.gather", input, index)
    rank = len(input.shape)
    d = _dim(dim, rank, "ttnn.gather")
    _check(index.dtype in _INDEX_DTYPES, "ttnn.gather", f"index must be uint32/int32/uint16, got {index.dtype}")
    _check(len(index.shape) == rank, "ttnn.gather", f"index rank {len(index.shape)} must equal input rank {rank}")
    idx = index.value.to(torch.int64)
    _check(bool((idx >= 0).all() and (idx < input.shape[d]).all()) if idx.numel() else True, "ttnn.gather",
           f"index values must be in [0, {input.shape[d]}) along dim {d}")
    try:
        vals = torch.gather(input.value, d, idx)
    except RuntimeError as e:
        raise RuntimeError(f"ttnn.gather: index shape {list(index.shape)} does not fit input {list(input.shape)} "
                           f"outside dim {d}: {e}") from None
    return _finish("ttnn.gather", dev, vals, input, (input, index), memory_config=memory_config)


_SCATTER_INDEX = (DataType.INT32, DataType.UINT8, DataType.UINT16, DataType.UINT32)
_SCATTER_I32_TILE_MAX = 256


def _scatter_checks(op, input, dim, index, src):
    """The real op's checks (tt-metal data_movement/scatter: check_support, validate_inputs and the device
    operation's validate), in its order."""
    rank = len(input.shape)
    d = _dim(dim, rank, op)
    for name, t in (("input", input), ("source", src)):
        _check(not (t.dtype == DataType.FLOAT32 and t.layout == Layout.TILE), op,
               f"Scatter doesn't work for fp32 tiled tensors yet - {name} tensor is FLOAT32 TILE; convert it with "
               f"ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT) first")
    for name, t in (("input", input), ("index", index), ("source", src)):
        _check(not (t.dtype in (DataType.INT32, DataType.UINT32) and t.layout == Layout.TILE
                    and t.shape[d] > _SCATTER_I32_TILE_MAX), op,
               f"Scatter doesn't work for int32 tensors that have scatter row longer than {_SCATTER_I32_TILE_MAX} "
               f"elements - {name} tensor is {t.dtype.name} TILE with {t.shape[d]} along dim {d}; use ROW_MAJOR")
    _check(len(index.shape) == rank, op, f"input_rank must be equal to index_rank (input_rank == {rank}, "
           f"index_rank == {len(index.shape)})")
    _check(len(src.shape) == rank, op, f"input_rank must be equal to source_rank (input_rank == {rank}, "
           f"source_rank == {len(src.shape)})")
    for i in range(rank):
        _check(index.shape[i] <= src.shape[i], op, f"index_shape[{i}] <= source_shape[{i}] == false (index_shape: "
               f"{list(index.shape)}, source_shape: {list(src.shape)})")
        _check(i == d or index.shape[i] <= input.shape[i], op, f"index_shape[{i}] <= input_shape[{i}] == false "
               f"(index_shape: {list(index.shape)}, input_shape: {list(input.shape)})")
    _check(input.dtype == src.dtype, op, f"input_dtype differs from src_dtype (input_dtype: {input.dtype.name}, "
           f"src_dtype: {src.dtype.name}); typecast one of them")
    _check(index.dtype in _SCATTER_INDEX, op, f"index_dtype is not integer, it is {index.dtype.name}")
    return d


def _scatter(op, input, dim, index, src, memory_config, add):
    """Writes src's values into a copy of input at `index` along dim (torch.Tensor.scatter_ semantics, no
    broadcasting); with `add` repeated indices accumulate. Values are computed in float32 and rounded once to
    the input dtype (the device's accumulation order for repeated indices is not modelled)."""
    dev = require_device(op, input, index, src)
    d = _scatter_checks(op, input, dim, index, src)
    idx = index.value.to(torch.int64)
    _check(bool((idx >= 0).all() and (idx < input.shape[d]).all()) if idx.numel() else True, op,
           f"index values must be in [0, {input.shape[d]}) along dim {d}")
    part = src.value[tuple(builtins.slice(0, s) for s in index.shape)]  # this module's `slice` is ttnn.slice
    base = input.value.float() if input.dtype in (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B) \
        else input.value
    part = part.to(base.dtype)
    out = base.scatter_add(d, idx, part) if add else base.scatter(d, idx, part)
    return _finish(op, dev, out, input, (input, index, src), memory_config=memory_config)


@operation("ttnn.scatter", golden_function=lambda t, dim, index, src, **_: torch.scatter(t, dim, index, src))
def scatter(input, dim, index, src, *, memory_config=None, reduce=None, sub_core_grids=None) -> Tensor:
    _check(reduce is None, "ttnn.scatter", f"reduce={reduce!r} is not supported in TT-NN 0.81.1; use "
           f"ttnn.scatter_add for a sum")
    return _scatter("ttnn.scatter", input, dim, index, src, memory_config, add=False)


@operation("ttnn.scatter_add",
           golden_function=lambda t, dim, index, src, **_: torch.scatter_add(t, dim, index, src))
def scatter_add(input, dim, index, src, *, memory_config=None, sub_core_grids=None) -> Tensor:
    return _scatter("ttnn.scatter_add", input, dim, index, src, memory_config, add=True)


class EmbeddingsType(_Enum):
    """GENERIC lookup, PADDED (rows of pad token ids are zero), BINARY (a 2-row table)."""
    GENERIC = 0
    PADDED = 1
    BINARY = 2


def _embedding_golden(input_tensor, weight, **_):
    return torch.nn.functional.embedding(input_tensor, weight)


@operation("ttnn.embedding", golden_function=_embedding_golden)
def embedding(input_tensor, weight, *, padding_idx=None, layout=None, embeddings_type=EmbeddingsType.GENERIC,
              dtype=None, memory_config=None, output_tensor=None) -> Tensor:
    """Row lookup: ids [..., S] -> [..., S, D]. Source: tt-metal embedding.cpp and embedding_device_operation.cpp:
    weights must be bfloat16 (a TILE table is untilized first); ids uint32 or bfloat16 (int32 accepted too);
    output layout defaults to the weight's; a dtype change is only possible for a TILE output; with
    padding_idx, rows whose id is the pad token come out as zeros.
    """
    dev = require_device("ttnn.embedding", input_tensor, weight)
    op = "ttnn.embedding"
    _check(input_tensor.dtype in (DataType.UINT32, DataType.INT32, DataType.BFLOAT16), op,
           f"Input must be UINT32 or BFLOAT16 ids, got {input_tensor.dtype}; use ttnn.from_torch(ids, "
           f"dtype=ttnn.uint32)")
    _check(weight.dtype == DataType.BFLOAT16, op, f"Weights tensor must have BFLOAT16 dtype, got {weight.dtype}")
    _check(not input_tensor.is_sharded() and not weight.is_sharded(), op, "sharded ids or weights are not supported")
    wshape = list(weight.shape)
    _check(len(wshape) >= 2 and all(s == 1 for s in wshape[:-2]), op,
           f"weight must be [vocab, dim] (leading dims 1), got {wshape}")
    table = weight.value.reshape(wshape[-2], wshape[-1])
    out_layout = layout or weight.layout
    out_dtype = dtype or weight.dtype
    _check(out_layout == Layout.TILE or out_dtype == weight.dtype, op,
           "Can only typecast output embeddings when producing TILE_LAYOUT output")
    if embeddings_type == EmbeddingsType.BINARY:
        _check(table.shape[0] == 2, op, "Weight tensor must have 2 embeddings for BINARY Embeddings Type")
    ids = input_tensor.value.to(torch.int64)
    if ids.numel():
        lo, hi = int(ids.min()), int(ids.max())
        _check(lo >= 0 and hi < table.shape[0], op, f"ids must be in [0, {table.shape[0]}), got [{lo}, {hi}] "
               f"(the device would read outside the table)")
    vals = table[ids]
    if padding_idx is not None:
        vals = torch.where((ids == padding_idx).unsqueeze(-1), torch.zeros((), dtype=vals.dtype), vals)
    # It reads the ids and only the table rows they name (one row per id), not the whole table.
    rows = dataclasses.replace(operand(weight), bytes=ids.numel() * wshape[-1] * 2)
    return _finish(op, dev, vals, weight, (input_tensor,), dtype=out_dtype, layout=out_layout,
                   memory_config=memory_config or input_tensor.memory_config(), read=(rows,))


@operation("ttnn.fill", golden_function=lambda t, v, **_: torch.full_like(t, v))
def fill(input_tensor, fill_value, *, memory_config=None, output_tensor=None, sub_core_grids=None) -> Tensor:
    dev = require_device("ttnn.fill", input_tensor)
    vals = torch.full(tuple(input_tensor.shape), float(fill_value))
    return _finish("ttnn.fill", dev, vals, input_tensor, (), memory_config=memory_config)  # reads nothing


# --- layout and memory -----------------------------------------------------------------------------------
class _Tile32:
    """The default `tile=` of tilize: a 32x32 tile (the only tile shape the emulator models)."""

    def __repr__(self):
        return "Tile with shape: [32, 32]"


_TILE_32 = _Tile32()


@operation("ttnn.tilize", golden_function=lambda t, **_: t)
def tilize(input_tensor, *, memory_config=None, dtype=None, use_multicore=True, use_low_perf=False, tile=_TILE_32,
           sub_core_grids=None) -> Tensor:
    """ROW_MAJOR -> TILE. Source: tilize validate(): input ROW_MAJOR, last two dims tile multiples for plain
    tilize (tilize_with_val_padding pads instead)."""
    dev = require_device("ttnn.tilize", input_tensor)
    _check(input_tensor.layout == Layout.ROW_MAJOR, "ttnn.tilize", "Can only tilize row major data; the input "
           "is already TILE")
    shape = list(input_tensor.shape)
    _check(len(shape) >= 2 and shape[-1] % 32 == 0 and shape[-2] % 32 == 0, "ttnn.tilize",
           f"the last two dims of {shape} must be multiples of 32; use ttnn.tilize_with_zero_padding or "
           f"ttnn.to_layout, which pad")
    return _finish("ttnn.tilize", dev, input_tensor.value, input_tensor, dtype=dtype, layout=Layout.TILE,
                   memory_config=memory_config)


@operation("ttnn.untilize", golden_function=lambda t, **_: t)
def untilize(input_tensor, *, memory_config=None, use_multicore=True, sub_core_grids=None) -> Tensor:
    dev = require_device("ttnn.untilize", input_tensor)
    _check(input_tensor.layout == Layout.TILE, "ttnn.untilize", "Can only untilize tile major data; the input is "
           "ROW_MAJOR")
    _check(input_tensor.dtype not in BLOCK_FLOAT, "ttnn.untilize",
           f"{input_tensor.dtype.name} cannot be ROW_MAJOR; typecast to ttnn.bfloat16 first")
    return _finish("ttnn.untilize", dev, input_tensor.value, input_tensor, layout=Layout.ROW_MAJOR,
                   memory_config=memory_config)


def _pad_to(values, shape, value):
    cur = list(values.shape)
    _check(len(shape) == len(cur) and all(o >= c for o, c in zip(shape, cur)), "ttnn.tilize_with_val_padding",
           f"output_tensor_shape {list(shape)} must have the input's rank and be at least its shape {cur}")
    flat = [x for c, o in zip(reversed(cur), reversed(shape)) for x in (0, o - c)]
    v = values.to(torch.float32) if values.is_floating_point() else values
    return torch.nn.functional.pad(v, flat, value=value)


@operation("ttnn.tilize_with_val_padding")
def tilize_with_val_padding(input_tensor, output_tensor_shape, pad_value, *, memory_config=None, dtype=None,
                            use_multicore=True, sub_core_grids=None) -> Tensor:
    """ROW_MAJOR -> TILE, grown to output_tensor_shape (logical) with pad_value."""
    dev = require_device("ttnn.tilize_with_val_padding", input_tensor)
    _check(input_tensor.layout == Layout.ROW_MAJOR, "ttnn.tilize_with_val_padding", "input must be ROW_MAJOR")
    vals = _pad_to(input_tensor.value, [int(s) for s in output_tensor_shape], pad_value)
    return _finish("ttnn.tilize_with_val_padding", dev, vals, input_tensor, dtype=dtype, layout=Layout.TILE,
                   memory_config=memory_config)


@operation("ttnn.tilize_with_zero_padding")
def tilize_with_zero_padding(input_tensor, *, memory_config=None, output_dtype=None, use_multicore=True,
                             sub_core_grids=None) -> Tensor:
    """ROW_MAJOR -> TILE; the padding of the partial tiles is zero (the emulator keeps the logical shape)."""
    dev = require_device("ttnn.tilize_with_zero_padding", input_tensor)
    _check(input_tensor.layout == Layout.ROW_MAJOR, "ttnn.tilize_with_zero_padding", "input must be ROW_MAJOR")
    return _finish("ttnn.tilize_with_zero_padding", dev, input_tensor.value, input_tensor, dtype=output_dtype,
                   layout=Layout.TILE, memory_config=memory_config)


@operation("ttnn.untilize_with_unpadding")
def untilize_with_unpadding(input_tensor, output_tensor_end, *, memory_config=None, use_multicore=True,
                            sub_core_grids=None) -> Tensor:
    """TILE -> ROW_MAJOR keeping [0, end] (inclusive) in every dim."""
    dev = require_device("ttnn.untilize_with_unpadding", input_tensor)
    _check(input_tensor.layout == Layout.TILE, "ttnn.untilize_with_unpadding", "input must be TILE")
    end = [int(e) for e in output_tensor_end]
    shape = list(input_tensor.shape)
    _check(len(end) == len(shape) and all(0 <= e < s for e, s in zip(end, shape)), "ttnn.untilize_with_unpadding",
           f"output_tensor_end {end} must be an inclusive index inside shape {shape}")
    vals = input_tensor.value[tuple(builtins_slice(0, e + 1) for e in end)]
    return _finish("ttnn.untilize_with_unpadding", dev, vals, input_tensor, layout=Layout.ROW_MAJOR,
                   memory_config=memory_config)


@operation("ttnn.sharded_to_interleaved")
def sharded_to_interleaved(input_tensor, memory_config=None, output_dtype=None) -> Tensor:
    dev = require_device("ttnn.sharded_to_interleaved", input_tensor)
    _check(input_tensor.is_sharded(), "ttnn.sharded_to_interleaved", "input tensor must be sharded")
    _check(input_tensor.memory_config().memory_layout != TensorMemoryLayout.ND_SHARDED, "ttnn.sharded_to_interleaved",
           "sharded_to_interleaved does not support ND sharding. Please use ttnn.to_memory_config or ttnn.copy "
           "instead.")
    mc = memory_config or MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.L1)
    _check(not mc.is_sharded(), "ttnn.sharded_to_interleaved", "memory_config must be INTERLEAVED")
    return _finish("ttnn.sharded_to_interleaved", dev, input_tensor.value, input_tensor, dtype=output_dtype,
                   memory_config=mc)


@operation("ttnn.interleaved_to_sharded")
def interleaved_to_sharded(input_tensor, grid, shard_shape=None, shard_scheme=None, shard_orientation=None,
                           output_dtype=None, *, keep_l1_aligned=False, preallocated_output=None) -> Tensor:
    """Two overloads: (t, sharded_memory_config, output_dtype=None) and (t, grid, shard_shape, shard_scheme,
    shard_orientation, output_dtype=None). Shards live in L1."""
    dev = require_device("ttnn.interleaved_to_sharded", input_tensor)
    if isinstance(grid, MemoryConfig):
        mc, output_dtype = grid, shard_shape if output_dtype is None else output_dtype
    else:
        if isinstance(grid, CoreCoord):
            grid = CoreRangeSet([CoreRange(CoreCoord(0, 0), CoreCoord(grid.x - 1, grid.y - 1))])
        mc = MemoryConfig(shard_scheme, BufferType.L1,
                          ShardSpec(grid, tuple(shard_shape), shard_orientation or ShardOrientation.ROW_MAJOR))
    _check(mc.is_sharded(), "ttnn.interleaved_to_sharded", "the memory config must be sharded")
    _check(not input_tensor.is_sharded(), "ttnn.interleaved_to_sharded", "input tensor must be interleaved")
    if mc.memory_layout == TensorMemoryLayout.ND_SHARDED or mc.created_with_nd_shard_spec:
        # the real op builds its program from a 2-D shard spec: an ND config that has one passes (it becomes
        # HEIGHT/WIDTH/BLOCK when placed), one that has none is rejected
        placed = populate_sharding(mc, input_tensor.padded_shape, input_tensor.layout)
        _check(placed.shard_spec is not None, "ttnn.interleaved_to_sharded",
               f"the ND shard spec {mc.nd_shard_spec!r} has no 2-D equivalent for shape "
               f"{list(input_tensor.shape)}, and this op needs one: use ttnn.to_memory_config for ND sharding")
    return _finish("ttnn.interleaved_to_sharded", dev, input_tensor.value, input_tensor, dtype=output_dtype,
                   memory_config=mc)


@operation("ttnn.reshard")
def reshard(input_tensor, output_memory_config, output_tensor=None) -> Tensor:
    """Move a sharded tensor to another shard layout (grid, shard shape or orientation), staying sharded."""
    dev = require_device("ttnn.reshard", input_tensor)
    _check(input_tensor.is_sharded(), "ttnn.reshard", "input tensor must be sharded")
    _check(isinstance(output_memory_config, MemoryConfig) and output_memory_config.is_sharded(), "ttnn.reshard",
           "output_memory_config must be a sharded ttnn.MemoryConfig with a shard spec")
    if output_tensor is not None:
        _check(output_tensor.memory_config() == output_memory_config, "ttnn.reshard",
               "output_tensor's memory config must be output_memory_config")
        output_tensor._values = input_tensor.value.clone()
        record(dev, "ttnn.reshard", operands=operands(input_tensor, output_tensor))
        return output_tensor
    return _finish("ttnn.reshard", dev, input_tensor.value, input_tensor, memory_config=output_memory_config)


def _update_cache_golden(cache, input, update_idx, *args, batch_offset=0, **_):
    for user in range(cache.shape[0]):
        cache[user, :, update_idx, :] = input[0, :, batch_offset + user, :]
    return cache


@operation("ttnn.update_cache", golden_function=_update_cache_golden)
def update_cache(cache, input, update_idx, *, batch_offset=0, compute_kernel_config=None) -> Tensor:
    """Decode-step KV-cache write, in place: cache [B, H, S_max, D] gets, for every user b, the token row
    input[0, :, batch_offset + b, :] (input [1, H, B_padded, D], users on the row axis as decode activations
    are laid out) at sequence position update_idx; returns the cache. The device reads and writes back the
    one tile row per (user, head) that holds the position: that is the cost recorded."""
    op = "ttnn.update_cache"
    dev = require_device(op, cache, input)
    _check(len(cache.shape) == 4 and len(input.shape) == 4, op,
           f"cache [B, H, S, D] and input [1, H, B, D] must be rank 4, got {list(cache.shape)} and {list(input.shape)}")
    _check(cache.layout == Layout.TILE and input.layout == Layout.TILE, op, "cache and input must be in TILE layout")
    users, heads, seq, dim = cache.shape
    _check(input.shape[0] == 1 and input.shape[1] == heads and input.shape[3] == dim, op,
           f"input {list(input.shape)} must be [1, {heads}, batch, {dim}] for cache {list(cache.shape)}")
    _check(batch_offset + users <= input.shape[2], op, f"batch_offset {batch_offset} + {users} users exceeds the "
           f"input's batch rows {input.shape[2]}")
    _check(0 <= update_idx < seq, op, f"update_idx {update_idx} is outside the cache's {seq} positions")
    rows = input.value[0, :, batch_offset:batch_offset + users, :].transpose(0, 1)  # [B, H, D]
    values = cache.value.clone()
    values[:, :, update_idx, :] = rows.to(values.dtype)
    cache._values = formats.to_device_format(values, cache.dtype, cache.layout)
    tile_rows = users * heads * -(-dim // 32)
    # reads the new rows, reads and writes back the cache tiles they land in, where the cache lives
    touched = dataclasses.replace(operand(cache), bytes=tile_rows * tile_bytes(cache.dtype))
    record(dev, op, operands=[operand(input), touched, touched])
    return cache
