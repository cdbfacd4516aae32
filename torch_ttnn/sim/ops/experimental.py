"""ttnn.experimental (emulated): the experimental ops torch-ttnn and TT-NN model code reach for.

view (with its (N, C, H, W) overload), the NLP head helpers (nlp_create_qkv_heads and its decode form, nlp_concat_heads,
concatenate_heads and split_query_key_value_and_split_heads with their experimental signatures, which take a
compute grid), rotary embeddings (rotate_half, rotary_embedding, rotary_embedding_hf), typecast, dropout, isin,
broadcast_to, minimal_matmul (matmul's device numerics), KV-cache slices and layout conversions.
Semantics follow the real golden functions.
"""
from __future__ import annotations

import dataclasses

import torch

from .. import formats
from ..operation import operation, record
from ..tensor import operand, operands, require_device
from ..tensor import typecast as _typecast
from . import _eltwise as E
from ..types import DataType, Layout, tile_bytes
from . import data_movement as _dm
from . import transformer as _tr
from .matmul import _matmul_core

__all__ = ["view", "nlp_create_qkv_heads", "nlp_create_qkv_heads_decode", "nlp_concat_heads", "typecast", "rotate_half",
           "rotary_embedding",
           "rotary_embedding_hf", "dropout", "isin", "broadcast_to", "concatenate_heads",
           "split_query_key_value_and_split_heads", "nlp_kv_cache_load_slice", "slice_write", "padded_slice",
           "minimal_matmul", "complex_mul", "convert_to_chw", "convert_to_hwc", "transpose_rm", "intimg",
           "hc_sum_reduce", "paged_update_cache"]


@operation("ttnn.experimental.view", golden_function=lambda t, shape, **_: t.reshape(shape))
def view(input_tensor, N, C=None, H=None, W=None):
    """view(t, shape) or view(t, N, C, H, W): a reshape that moves no data (see ttnn.view for the rules)."""
    shape = list(N) if C is None else [N, C, H, W]
    return _dm.view.function(input_tensor, shape)


@operation("ttnn.experimental.nlp_create_qkv_heads")
def nlp_create_qkv_heads(input, input_kv=None, *, num_heads, num_kv_heads=None, transpose_k_heads=True,
                         kv_tied=False, memory_config=None, output_tensors=None):
    """Fused QKV [B, 1, S, (NH + 2*NKV)*D] -> Q [B, NH, S, D], K [B, NKV, D, S] (or [B, NKV, S, D]), V."""
    _dm._check(len(input.shape) == 4 and input.shape[1] == 1, "ttnn.experimental.nlp_create_qkv_heads",
               f"input must be [B, 1, S, hidden], got {list(input.shape)}")
    x = _dm.squeeze.function(input, 1)
    kv = None if input_kv is None else _dm.squeeze.function(input_kv, 1)
    return _tr.split_query_key_value_and_split_heads.function(x, kv, num_heads=num_heads, num_kv_heads=num_kv_heads,
                                                              transpose_key=transpose_k_heads,
                                                              memory_config=memory_config)


@operation("ttnn.experimental.nlp_create_qkv_heads_decode")
def nlp_create_qkv_heads_decode(input_tensor, *, num_heads, num_kv_heads=None, output_tensors=None,
                                overlap_qk_coregrid=True, batch_offset=None, slice_size=None, memory_config=None):
    """A decode step's fused QKV [1, 1, B, (NH + 2*NKV)*D] (one row per user) -> Q [1, B, NH, D], K and V
    [1, B, NKV, D], each height-sharded in L1 with user b's heads (padded to whole tiles) on core b of the
    first B cores row by row, as flash-decode, rotary_embedding_hf and paged_update_cache read them.
    Validation per tt-metal nlp_create_qkv_heads_decode_device_operation (interleaved input; at most 32 users
    and 32 query heads; one user per core, Q and K on the same cores). One data-movement pass: each user's row
    read once, its heads written as tile rows."""
    from ..tensor import new_device_tensor
    from ..types import (BufferType, CoreCoord, MemoryConfig, ShardOrientation, ShardSpec, TensorMemoryLayout,
                         num_cores_to_corerangeset)
    op = "ttnn.experimental.nlp_create_qkv_heads_decode"
    dev = require_device(op, input_tensor)
    nkv = num_heads if num_kv_heads is None else num_kv_heads
    shape = list(input_tensor.shape)
    _dm._check(input_tensor.dtype in (DataType.FLOAT32, DataType.BFLOAT16), op,
               f"Unsupported data format {input_tensor.dtype.name}: "
               f"bfloat16 or float32 (ttnn.typecast first)")
    _dm._check(input_tensor.layout == Layout.TILE, op, "input must be in TILE layout")
    _dm._check(len(shape) == 4 and shape[0] == 1 and shape[1] == 1, op,
               f"Unsupported input shape {shape}: [1, 1, users, (num_heads + 2 * num_kv_heads) * head_dim]")
    users, width = shape[2], shape[3]
    _dm._check(width % (num_heads + 2 * nkv) == 0 and (width // (num_heads + 2 * nkv)) % 32 == 0, op,
               f"Unsupported input shape {shape}: its last dim must be (num_heads + 2 * num_kv_heads) = "
               f"{num_heads + 2 * nkv} heads of a head_dim that is a multiple of 32")
    _dm._check(users <= 32, op, f"Unsupported input shape {shape}: at most 32 users, got {users}")
    _dm._check(not input_tensor.is_sharded(), op, "a sharded (WIDTH_SHARDED) input is not emulated: pass it interleaved")
    _dm._check(batch_offset is None and slice_size is None, op, "batch_offset/slice_size are not emulated")
    _dm._check(output_tensors is None, op, "output_tensors= (preallocated outputs) is not emulated; leave it None")
    mc = memory_config or MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1)
    _dm._check(mc.memory_layout == TensorMemoryLayout.HEIGHT_SHARDED, op,
               "the output memory config must be HEIGHT_SHARDED (e.g. ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)")
    _dm._check(num_heads <= 32, op, f"at most 32 query heads are supported, got {num_heads}")
    grid = dev.compute_with_storage_grid_size()
    cores = grid.x * grid.y
    _dm._check(cores >= (users if overlap_qk_coregrid else 2 * users), op,
               f"Need at least {users if overlap_qk_coregrid else 2 * users} cores for {users} users, the grid has "
               f"{cores}")
    _dm._check(overlap_qk_coregrid, op, "overlap_qk_coregrid=False (K on its own cores) is not emulated")
    _dm._check(num_heads >= nkv, op, f"num_heads ({num_heads}) must be >= num_kv_heads ({nkv})")
    d = width // (num_heads + 2 * nkv)
    cores_of = num_cores_to_corerangeset(users, CoreCoord(grid.x, grid.y), True)
    x = input_tensor.value.reshape(users, num_heads + 2 * nkv, d)
    outs = []
    for part, heads in ((x[:, :num_heads], num_heads), (x[:, num_heads:num_heads + nkv], nkv),
                        (x[:, num_heads + nkv:], nkv)):
        spec = ShardSpec(cores_of, (32 * -(-heads // 32), d), ShardOrientation.ROW_MAJOR)
        out_mc = MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, mc.buffer_type, spec)
        outs.append(new_device_tensor(part.unsqueeze(0).contiguous(), input_tensor.dtype, Layout.TILE, dev, out_mc))
    record(dev, op, operands=operands(input_tensor, *outs))
    return tuple(outs)


@operation("ttnn.experimental.nlp_concat_heads",
           golden_function=lambda t, **_: t.permute(0, 2, 1, 3).reshape(t.shape[0], 1, t.shape[2], -1))
def nlp_concat_heads(input_tensor, *, memory_config=None):
    """[B, NH, S, D] -> [B, 1, S, NH*D]."""
    y = _tr.concatenate_heads.function(input_tensor, memory_config=memory_config)
    return _dm.unsqueeze.function(y, 1)


# --- the experimental ops with signatures of their own ---------------------------------------------------------
def _typecast_impl(input_tensor, dtype, memory_config=None, optional_output_tensor=None):
    """ttnn.typecast under its experimental signature (optional_output_tensor receives the result if given)."""
    out = _typecast.function(input_tensor, dtype, memory_config=memory_config)
    if optional_output_tensor is not None:
        optional_output_tensor._values = formats.to_device_format(E.host_values(out), optional_output_tensor.dtype,
                                                                  optional_output_tensor.layout)
        return optional_output_tensor
    return out


typecast = E.make_op("ttnn.experimental.typecast", "input_tensor, dtype, memory_config=None, "
                     "optional_output_tensor=None", _typecast_impl)


def _half_rotated(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def _rotate_half_impl(input, memory_config=None):
    """[x1, x2] -> [-x2, x1] over the last dim (the RoPE helper), which must be even."""
    qual = "ttnn.experimental.rotate_half"
    dev = require_device(qual, input)
    _dm._check(input.shape[-1] % 2 == 0, qual, f"the last dim must be even, got {input.shape[-1]}")
    return E.finish(qual, _half_rotated(E.host_values(input)), input.dtype, input.layout, dev,
                    memory_config or input.memory_config(), (input,), sfpu_cycles=1)


rotate_half = E.make_op("ttnn.experimental.rotate_half", "input, *, memory_config=None", _rotate_half_impl,
                        lambda x, **k: _half_rotated(x.float()))


def _rope(qual, x_t, cos_t, sin_t, rows, memory_config):
    dev = require_device(qual, x_t, cos_t, sin_t)
    x, cos, sin = E.host_values(x_t), E.host_values(cos_t), E.host_values(sin_t)
    _dm._check(cos.shape == sin.shape and cos.shape[-1] == x.shape[-1], qual,
               f"cos/sin caches {list(cos.shape)}, {list(sin.shape)} must match each other and the input's last "
               f"dim {x.shape[-1]}")
    cos, sin = cos[..., rows, :], sin[..., rows, :]
    y = x * cos + _half_rotated(x) * sin
    return E.finish(qual, y, x_t.dtype, x_t.layout, dev, memory_config or x_t.memory_config(), (x_t, cos_t, sin_t),
                    sfpu_cycles=4)


def _rotary_embedding_impl(input_tensor, cos_cache, sin_cache, token_index=None, memory_config=None,
                           compute_kernel_config=None):
    """x * cos + rotate_half(x) * sin with caches [1, 1, S_max, D]: rows 0..S-1 for prefill, the one row
    token_index for decode."""
    qual = "ttnn.experimental.rotary_embedding"
    s = input_tensor.shape[-2]
    if token_index is not None:
        _dm._check(0 <= token_index < cos_cache.shape[-2], qual, f"token_index {token_index} outside the cache")
        rows = builtins_slice(token_index, token_index + 1)
    else:
        _dm._check(s <= cos_cache.shape[-2], qual, f"sequence length {s} exceeds the cache's {cos_cache.shape[-2]}")
        rows = builtins_slice(0, s)
    return _rope(qual, input_tensor, cos_cache, sin_cache, rows, memory_config)


builtins_slice = slice
rotary_embedding = E.make_op("ttnn.experimental.rotary_embedding", "input_tensor, cos_cache, sin_cache, "
                             "token_index=None, *, memory_config=None, compute_kernel_config=None",
                             _rotary_embedding_impl)


def _check_rotary_hf(qual, x, cos, sin, is_decode_mode, memory_config):
    """tt-metal's RotaryEmbeddingHfDeviceOperation validation (rotary_embedding_hf_device_operation.cpp), in its
    order: TILE operands; the last dim one tile or a multiple of two (rotate_half's midpoint on a tile edge);
    cos and sin alike, [1, ., ., D]; decode mode: x [1, B, NH, D] HEIGHT_SHARDED, cos/sin [1, B, 1, D] sharded;
    prefill: x [.., S, D], cos/sin [1, 1, >= S, D], x not WIDTH_SHARDED; the output never WIDTH_SHARDED."""
    from ..types import TensorMemoryLayout
    for name, t in (("Input", x), ("Cos", cos), ("Sin", sin)):
        _dm._check(t.layout == Layout.TILE, qual, f"{name} must be tilized (TILE layout), got {t.layout.name}")
    d = x.padded_shape[-1]
    _dm._check(d == 32 or d % 64 == 0, qual, f"Input X dim ({d}) must be either 32 (single tile) or divisible by 64 "
               f"(rotate_half midpoint must align with a tile boundary).")
    _dm._check(cos.dtype == sin.dtype, qual, f"Cos and Sin dtypes must match ({cos.dtype.name}, {sin.dtype.name})")
    _dm._check(tuple(cos.padded_shape) == tuple(sin.padded_shape), qual,
               f"Cos and Sin shapes must match ({list(cos.shape)}, {list(sin.shape)})")
    _dm._check(len(cos.shape) == 4 and len(x.shape) == 4, qual,
               f"input and cos/sin must be rank 4, got {list(x.shape)} and {list(cos.shape)}")
    _dm._check(cos.padded_shape[0] == 1 and cos.padded_shape[-1] == d, qual,
               f"Cos dims must match input dims: cos {list(cos.shape)} must be [1, ., ., {x.shape[-1]}]")
    if is_decode_mode:
        _dm._check(x.is_sharded() and x.memory_config().memory_layout == TensorMemoryLayout.HEIGHT_SHARDED, qual,
                   "Input must be HEIGHT_SHARDED in decode mode ([1, B, NH, D], each core a user's heads: "
                   "ttnn.interleaved_to_sharded with ttnn.create_sharded_memory_config(..., ShardStrategy.HEIGHT))")
        _dm._check(cos.is_sharded() and sin.is_sharded(), qual, "Cos and Sin must be sharded in decode mode")
        _dm._check(x.shape[0] == 1 and cos.padded_shape[1] == x.padded_shape[1], qual,
                   f"decode mode: input [1, B, NH, D] and cos/sin [1, B, 1, D] (Cos batch dim must match input), "
                   f"got {list(x.shape)} and {list(cos.shape)}")
        _dm._check(cos.shape[2] == 1, qual, f"Cos seq_len must be 1 in decode mode, got {list(cos.shape)}")
    else:
        _dm._check(cos.padded_shape[1] == 1, qual, f"Cos must have batch dim = 1 in prefill mode, got "
                   f"{list(cos.shape)} (per-user cos/sin: is_decode_mode=True)")
        _dm._check(cos.shape[-2] >= x.shape[-2], qual, f"Cos seq_len must be >= input seq_len. Input seq_len: "
                   f"{x.shape[-2]}, Cos seq_len: {cos.shape[-2]}.")
        _dm._check(not x.is_sharded() or x.memory_config().memory_layout != TensorMemoryLayout.WIDTH_SHARDED, qual,
                   "Input cannot be WIDTH_SHARDED")
    _dm._check(memory_config is None or memory_config.memory_layout != TensorMemoryLayout.WIDTH_SHARDED, qual,
               "Output cannot be WIDTH_SHARDED")


def _rotary_embedding_hf_impl(input_tensor, cos_cache, sin_cache, is_decode_mode=False, memory_config=None,
                              compute_kernel_config=None):
    """HuggingFace-style RoPE: x * cos + rotate_half(x) * sin with cos/sin already gathered for these positions.
    Prefill: x [1, NH, S, D], cos/sin [1, 1, S', D] (S' >= S, rows 0..S-1 used) broadcast over the heads.
    Decode (is_decode_mode=True): x [1, B, NH, D] height-sharded (a user's heads per core), cos/sin
    [1, B, 1, D] sharded: user b's row rotates all of its heads. The output keeps the input's memory config
    unless one is given. Priced as one eltwise pass reading x, cos and sin (the kernel's rotate_half is a
    matmul with a fixed matrix per tile; the emulator charges it as vector work)."""
    qual = "ttnn.experimental.rotary_embedding_hf"
    require_device(qual, input_tensor, cos_cache, sin_cache)
    _check_rotary_hf(qual, input_tensor, cos_cache, sin_cache, is_decode_mode, memory_config)
    rows = builtins_slice(None) if is_decode_mode else builtins_slice(0, input_tensor.shape[-2])
    return _rope(qual, input_tensor, cos_cache, sin_cache, rows, memory_config)


rotary_embedding_hf = E.make_op("ttnn.experimental.rotary_embedding_hf", "input_tensor, cos_cache, sin_cache, *, "
                                "is_decode_mode=False, memory_config=None, compute_kernel_config=None",
                                _rotary_embedding_hf_impl)


def _dropout_impl(input_tensor, probability, scale, seed, use_per_device_seed=True, memory_config=None,
                  output_tensor=None):
    """Zero each element with `probability`, scale the kept ones by `scale` (1/(1-p) for inverted dropout).
    The mask comes from a torch generator seeded with `seed`, not the device's generator."""
    qual = "ttnn.experimental.dropout"
    dev = require_device(qual, input_tensor)
    _dm._check(0.0 <= float(probability) <= 1.0, qual, f"probability must be in [0, 1], got {probability}")
    g = torch.Generator().manual_seed(int(seed))
    keep = torch.rand(tuple(input_tensor.shape), generator=g) >= float(probability)
    y = E.host_values(input_tensor) * keep * float(scale)
    return E.finish(qual, y, input_tensor.dtype, input_tensor.layout, dev,
                    memory_config or input_tensor.memory_config(), (input_tensor,), output_tensor=output_tensor,
                    sfpu_cycles=6)


dropout = E.make_op("ttnn.experimental.dropout", "input_tensor, probability, scale, seed, *, use_per_device_seed=True, "
                    "memory_config=None, output_tensor=None", _dropout_impl)


def _isin_impl(elements, test_elements, assume_unique=False, invert=False, out=None):
    """1 where an element occurs in test_elements (0 with invert), as torch.isin."""
    qual = "ttnn.experimental.isin"
    dev = require_device(qual, elements, test_elements)
    y = torch.isin(E.host_values(elements), E.host_values(test_elements), assume_unique=assume_unique, invert=invert)
    return E.finish(qual, y.to(torch.float32), elements.dtype, elements.layout, dev, elements.memory_config(),
                    (elements, test_elements), output_tensor=out, sfpu_cycles=4)


isin = E.make_op("ttnn.experimental.isin", "elements, test_elements, *, assume_unique=False, invert=False, out=None",
                 _isin_impl, lambda e, t, assume_unique=False, invert=False, **k: torch.isin(e, t, invert=invert))


def _broadcast_to_impl(input, output_shape, memory_config=None, output=None):
    """Expand size-1 dims to output_shape (torch.broadcast_to rules)."""
    qual = "ttnn.experimental.broadcast_to"
    dev = require_device(qual, input)
    try:
        y = torch.broadcast_to(input.value, tuple(output_shape)).clone()
    except RuntimeError:
        raise RuntimeError(f"{qual}: shape {list(input.shape)} cannot be broadcast to {list(output_shape)}") from None
    if output is not None:
        output._values = formats.to_device_format(y, output.dtype, output.layout)
        record(dev, qual, operands=operands(input, output))
        return output
    return _dm._finish(qual, dev, y, input, memory_config=memory_config)


broadcast_to = E.make_op("ttnn.experimental.broadcast_to", "input, output_shape, *, memory_config=None, output=None",
                         _broadcast_to_impl, lambda x, shape, **k: torch.broadcast_to(x, tuple(shape)))


def _check_grid(qual, dev, grid):
    g = dev.spec.grid
    gx, gy = (grid.x, grid.y) if hasattr(grid, "x") else tuple(grid)
    _dm._check(gx <= g.x and gy <= g.y, qual, f"compute_with_storage_grid_size {gx}x{gy} exceeds the device's "
               f"{g.x}x{g.y} grid")


def _concatenate_heads_impl(input_tensor, compute_with_storage_grid_size, memory_config=None, output_tensor=None):
    """[B, NH, S, D] -> [B, 1, S, NH*D] (the experimental op keeps a rank-4 result)."""
    dev = require_device("ttnn.experimental.concatenate_heads", input_tensor)
    _check_grid("ttnn.experimental.concatenate_heads", dev, compute_with_storage_grid_size)
    y = _tr.concatenate_heads.function(input_tensor, memory_config=memory_config)
    return _dm.unsqueeze.function(y, 1)


concatenate_heads = E.make_op("ttnn.experimental.concatenate_heads", "input_tensor, compute_with_storage_grid_size, *, "
                              "memory_config=None, output_tensor=None", _concatenate_heads_impl)


def _split_qkv_impl(input_tensor, compute_with_storage_grid_size, memory_config=None, num_heads=16,
                    output_tensors=None):
    """Fused QKV [B, 1, S, 3*NH*D] (or [B, S, 3*NH*D]) -> Q [B, NH, S, D], K^T [B, NH, D, S], V [B, NH, S, D]."""
    qual = "ttnn.experimental.split_query_key_value_and_split_heads"
    dev = require_device(qual, input_tensor)
    _check_grid(qual, dev, compute_with_storage_grid_size)
    x = _dm.squeeze.function(input_tensor, 1) if len(input_tensor.shape) == 4 else input_tensor
    return _tr.split_query_key_value_and_split_heads.function(x, None, num_heads=num_heads, memory_config=memory_config)


split_query_key_value_and_split_heads = E.make_op(
    "ttnn.experimental.split_query_key_value_and_split_heads", "input_tensor, compute_with_storage_grid_size, *, "
    "memory_config=None, num_heads=16, output_tensors=None", _split_qkv_impl)


def _kv_slice_impl(input_tensor, seq_len_start, seq_len_end, memory_config=None, output_tensor=None):
    """Positions seq_len_start..seq_len_end (dim 2) of a [B, H, S, D] KV cache."""
    qual = "ttnn.experimental.nlp_kv_cache_load_slice"
    dev = require_device(qual, input_tensor)
    _dm._check(len(input_tensor.shape) == 4 and 0 <= seq_len_start < seq_len_end <= input_tensor.shape[2], qual,
               f"need a rank-4 cache and 0 <= start < end <= {input_tensor.shape[2] if input_tensor.shape else 0}")
    return _dm._finish(qual, dev, input_tensor.value[:, :, seq_len_start:seq_len_end, :], input_tensor,
                       memory_config=memory_config)


nlp_kv_cache_load_slice = E.make_op("ttnn.experimental.nlp_kv_cache_load_slice", "input_tensor, *, seq_len_start, "
                                    "seq_len_end, memory_config=None, output_tensor=None", _kv_slice_impl)


def _slice_write_impl(input_tensor, output_tensor, start, end, step):
    """Write input into output[start:end:step] (one entry per dim); returns output."""
    qual = "ttnn.experimental.slice_write"
    dev = require_device(qual, input_tensor, output_tensor)
    rank = len(output_tensor.shape)
    _dm._check(len(start) == len(end) == len(step) == rank, qual, "start, end and step need one entry per dim")
    idx = tuple(builtins_slice(a, b, c) for a, b, c in zip(start, end, step))
    vals = output_tensor.value.clone()
    target = vals[idx]
    _dm._check(tuple(target.shape) == tuple(input_tensor.shape), qual, f"the slice has shape {list(target.shape)} "
               f"but the input {list(input_tensor.shape)}")
    vals[idx] = input_tensor.value.to(vals.dtype)
    output_tensor._values = formats.to_device_format(vals, output_tensor.dtype, output_tensor.layout)
    record(dev, qual, operands=operands(input_tensor, input_tensor))
    return output_tensor


slice_write = E.make_op("ttnn.experimental.slice_write", "input_tensor, output_tensor, start, end, step",
                        _slice_write_impl)


def _padded_slice_impl(input_tensor, padded_slice_start, padded_slice_end, padded_slice_step=None, memory_config=None,
                       output_tensor=None, pad_value=None):
    """ttnn.slice into an explicit (typically sharded) memory config."""
    return _dm.slice.function(input_tensor, padded_slice_start, padded_slice_end, padded_slice_step,
                              memory_config=memory_config)


padded_slice = E.make_op("ttnn.experimental.padded_slice", "input_tensor, padded_slice_start, padded_slice_end, "
                         "padded_slice_step=None, *, memory_config, output_tensor=None, pad_value=None",
                         _padded_slice_impl)


def _minimal_matmul_impl(input_tensor, weight_tensor, bias_tensor=None, fused_activation=None, config=None,
                         memory_config=None, dtype=None, compute_kernel_config=None, fuse_swiglu=False):
    """input @ weight (+ bias) (then the fused activation), through ttnn.matmul's fidelity/accumulation path."""
    qual = "ttnn.experimental.minimal_matmul"
    out = _matmul_core(qual, input_tensor, weight_tensor, bias_tensor, False, False, memory_config, dtype, None,
                       fused_activation, compute_kernel_config, None, None)
    if fuse_swiglu:
        v = E.host_values(out)
        a, b = v.chunk(2, dim=-1)
        out._values = formats.to_device_format(a * torch.nn.functional.silu(b), out.dtype, out.layout)
    return out


minimal_matmul = E.make_op("ttnn.experimental.minimal_matmul", "input_tensor, weight_tensor, *, bias_tensor=None, "
                           "fused_activation=None, config=None, memory_config=None, dtype=None, "
                           "compute_kernel_config=None, fuse_swiglu=False", _minimal_matmul_impl)


def _complex_mul_impl(a_real, a_imag, b_real, b_imag):
    """(a_re + i a_im)(b_re + i b_im) as [real, imag]."""
    qual = "ttnn.experimental.complex_mul"
    dev = require_device(qual, a_real, a_imag, b_real, b_imag)
    ar, ai, br, bi = (E.host_values(t) for t in (a_real, a_imag, b_real, b_imag))
    re = E.finish(qual, ar * br - ai * bi, a_real.dtype, a_real.layout, dev, a_real.memory_config(),
                  (a_real, a_imag, b_real, b_imag), sfpu_cycles=4)
    im = E.finish(qual, ar * bi + ai * br, a_real.dtype, a_real.layout, dev, a_real.memory_config(), (), sfpu_cycles=4)
    return [re, im]


complex_mul = E.make_op("ttnn.experimental.complex_mul", "a_real, a_imag, b_real, b_imag", _complex_mul_impl)


def _hw_swap(qual, input, dtype, memory_config):
    dev = require_device(qual, input)
    _dm._check(len(input.shape) == 4 and input.shape[0] == 1 and input.shape[1] == 1, qual,
               f"input must be [1, 1, rows, cols], got {list(input.shape)}")
    return _dm._finish(qual, dev, input.value.transpose(-1, -2), input, dtype=dtype, memory_config=memory_config)


convert_to_chw = E.make_op("ttnn.experimental.convert_to_chw", "input, *, dtype=None",
                           lambda input, dtype=None: _hw_swap("ttnn.experimental.convert_to_chw", input, dtype, None),
                           lambda x, **k: x.transpose(-1, -2))
convert_to_hwc = E.make_op("ttnn.experimental.convert_to_hwc", "input, *, memory_config=None, dtype=None",
                           lambda input, memory_config=None, dtype=None: _hw_swap(
                               "ttnn.experimental.convert_to_hwc", input, dtype, memory_config),
                           lambda x, **k: x.transpose(-1, -2))


def _transpose_rm_impl(input):
    """Swap the last two dims of a row-major tensor."""
    qual = "ttnn.experimental.transpose_rm"
    dev = require_device(qual, input)
    return _dm._finish(qual, dev, input.value.transpose(-1, -2), input)


transpose_rm = E.make_op("ttnn.experimental.transpose_rm", "input", _transpose_rm_impl,
                         lambda x, **k: x.transpose(-1, -2))


def _intimg_impl(input_tensor):
    """Integral image of [N, H, W, C]: cumulative sums over H then W."""
    qual = "ttnn.experimental.intimg"
    dev = require_device(qual, input_tensor)
    _dm._check(len(input_tensor.shape) == 4, qual, f"input must be [N, H, W, C], got {list(input_tensor.shape)}")
    y = E.host_values(input_tensor).cumsum(1).cumsum(2)
    return E.finish(qual, y, input_tensor.dtype, input_tensor.layout, dev, input_tensor.memory_config(),
                    (input_tensor,), sfpu_cycles=2)


intimg = E.make_op("ttnn.experimental.intimg", "input_tensor", _intimg_impl,
                   lambda x, **k: x.float().cumsum(1).cumsum(2))


def _hc_sum_reduce_impl(input, memory_config=None, dtype=None, math_fidelity=None):
    """Mamba's SSM reduction: sum each group of 32 consecutive values of the last dim ([1, 1, R, W] -> [1, 1, R,
    W/32])."""
    qual = "ttnn.experimental.hc_sum_reduce"
    dev = require_device(qual, input)
    shape = list(input.shape)
    _dm._check(len(shape) == 4 and shape[-1] % 32 == 0, qual, f"input must be [1, 1, R, W] with W a multiple of 32, "
               f"got {shape}")
    y = E.host_values(input).reshape(*shape[:-1], shape[-1] // 32, 32).sum(-1)
    return E.finish(qual, y, dtype or input.dtype, input.layout, dev, memory_config or input.memory_config(),
                    (input,), flops=float(y.numel() * 32))


hc_sum_reduce = E.make_op("ttnn.experimental.hc_sum_reduce", "input, *, memory_config=None, dtype=None, "
                          "math_fidelity=None", _hc_sum_reduce_impl,
                          lambda x, **k: x.float().reshape(*x.shape[:-1], x.shape[-1] // 32, 32).sum(-1))


@operation("ttnn.experimental.paged_update_cache")
def paged_update_cache(cache_tensor, input_tensor, *, update_idxs=(), update_idxs_tensor=None, share_cache=None,
                       page_table=None, batch_offset=0, compute_kernel_config=None, mesh_coords=None,
                       block_size=None, num_kv_heads=None, cache_position_modulo=None):
    """Decode-step KV-cache write, in place, a position per user: cache [B, H, S, D] gets input[0, b, :H, :]
    at position idx[b] for every user b, the positions given as a list or as an int32 device tensor [B] (read by
    the kernel, so a captured trace can advance them). The input is [1, B, H (padded to the tile), D] and must
    be height-sharded in L1 as the real op requires. Paged caches (page_table) are not emulated."""
    op = "ttnn.experimental.paged_update_cache"
    dev = require_device(op, cache_tensor, input_tensor)
    _dm._check(page_table is None and cache_position_modulo is None, op,
               "page_table and cache_position_modulo (paged caches) are not emulated")
    _dm._check(mesh_coords is None, op, "mesh_coords: the emulated device is a single chip")
    _dm._check(len(cache_tensor.shape) == 4 and len(input_tensor.shape) == 4, op,
               f"cache [B, H, S, D] and input [1, B, H, D] must be rank 4, got {list(cache_tensor.shape)} and "
               f"{list(input_tensor.shape)}")
    _dm._check(cache_tensor.layout == Layout.TILE and input_tensor.layout == Layout.TILE, op,
               "cache and input must be in TILE layout")
    users, heads, seq, dim = cache_tensor.shape
    _dm._check(num_kv_heads in (None, heads) and block_size in (None, seq), op,
               f"num_kv_heads / block_size reinterpret a paged buffer, not emulated: the cache has {heads} heads "
               f"and {seq} positions")
    _dm._check(batch_offset == 0, op, "batch_offset is not emulated (0 only)")
    _dm._check(input_tensor.shape[0] == 1 and input_tensor.shape[1] == users and input_tensor.shape[2] >= heads
               and input_tensor.shape[3] == dim, op,
               f"input {list(input_tensor.shape)} must be [1, {users}, {heads}, {dim}] for cache "
               f"{list(cache_tensor.shape)}")
    _dm._check(input_tensor.is_sharded(), op, "input_tensor must be height-sharded in L1 (one user per core): "
               "move it with ttnn.interleaved_to_sharded")
    _dm._check(input_tensor.dtype in (DataType.BFLOAT16, DataType.FLOAT32), op,
               f"input must be BFLOAT16 or FLOAT32 (the op packs into the cache's dtype), got {input_tensor.dtype}")
    if update_idxs_tensor is not None:
        _dm._check(update_idxs_tensor.dtype == DataType.INT32 and list(update_idxs_tensor.shape) == [users], op,
                   f"update_idxs_tensor must be INT32 [{users}], got {update_idxs_tensor.dtype} "
                   f"{list(update_idxs_tensor.shape)}")
        idxs = [int(i) for i in update_idxs_tensor.value.reshape(-1).tolist()]
    else:
        idxs = [int(i) for i in update_idxs]
    _dm._check(len(idxs) == users, op, f"{len(idxs)} update indices for {users} users")
    _dm._check(all(0 <= i < seq for i in idxs), op, f"update indices {idxs} outside the cache's {seq} positions")
    values = cache_tensor.value.clone()
    rows = input_tensor.value[0, :, :heads, :].to(values.dtype)       # [B, H, D]
    values[torch.arange(users), :, torch.tensor(idxs), :] = rows
    cache_tensor._values = formats.to_device_format(values, cache_tensor.dtype, cache_tensor.layout)
    touched = dataclasses.replace(operand(cache_tensor),
                                  bytes=users * heads * -(-dim // 32) * tile_bytes(cache_tensor.dtype))
    record(dev, op, operands=[operand(input_tensor), touched, touched])
    return cache_tensor
