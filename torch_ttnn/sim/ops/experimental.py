"""ttnn.experimental (emulated): the few experimental ops torch-ttnn and TT-NN model code reach for.

view (with its (N, C, H, W) overload) and the NLP head helpers nlp_create_qkv_heads / nlp_concat_heads.
(ttnn.experimental.typecast / concatenate_heads / split_query_key_value_and_split_heads have signatures of
their own in 0.81.1, different from the top-level ops, and are not emulated.)
"""
from __future__ import annotations

import dataclasses

import torch

from .. import formats
from ..operation import operation, record
from ..tensor import operand, require_device
from ..types import DataType, Layout, tile_bytes
from . import data_movement as _dm
from . import transformer as _tr

__all__ = ["view", "nlp_create_qkv_heads", "nlp_concat_heads", "paged_update_cache"]


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


@operation("ttnn.experimental.nlp_concat_heads",
           golden_function=lambda t, **_: t.permute(0, 2, 1, 3).reshape(t.shape[0], 1, t.shape[2], -1))
def nlp_concat_heads(input_tensor, *, memory_config=None):
    """[B, NH, S, D] -> [B, 1, S, NH*D]."""
    y = _tr.concatenate_heads.function(input_tensor, memory_config=memory_config)
    return _dm.unsqueeze.function(y, 1)


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
