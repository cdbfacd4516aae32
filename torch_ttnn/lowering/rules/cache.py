"""Writes into a model's state in place: a static KV cache's update as TT-NN's decode cache write.

Not registered for an ATen op: `aten.index_copy` is functional, and an in-place write is only right where the
old value is never read again and the result replaces it. Only the compiler can tell (the input is state the
graph writes back, and the index_copy is its only reader), so it asks for `INDEX_COPY_IN_PLACE` itself
(compiler/lower.py); everywhere else the functional `index_copy` rule applies.
"""
from __future__ import annotations

import torch

from ..registry import Rule
from ._util import is_float, is_t, tile

aten = torch.ops.aten
MAX_CORES = 64  # one user per core of the 8x8 grid


def _grid(users: int):
    """(x, y) with x * y == users on the 8x8 grid, widest first; None if there is none."""
    for x in range(min(users, 8), 0, -1):
        if users % x == 0 and users // x <= 8:
            return x, users // x
    return None


def _guard(x, dim, index, src):
    return (is_float(x) and is_float(src) and x.dim() == 4 and src.dim() == 4 and dim in (2, -2)
            and is_t(index) and index.dim() == 1 and index.numel() == 1 and src.shape[2] == 1
            and tuple(src.shape[:2]) == tuple(x.shape[:2]) and src.shape[3] == x.shape[3]
            and x.shape[3] % 32 == 0  # a head_dim-wide shard must be whole tiles (paged_update_cache's input)
            and x.shape[0] <= MAX_CORES and _grid(int(x.shape[0])) is not None)


def index_copy_in_place(ttnn, x, dim, index, src):
    """One new position for every user: K or V [B, H, 1, D] becomes the decode layout [1, B, H, D] (users on
    dim 1, heads on the tile rows), height-sharded one user per core, and `paged_update_cache` writes each
    user's row into the cache at the position, read on the device (so a trace can replay it). Moves one tile
    row per user and head instead of the whole cache."""
    users, heads, d = int(x.shape[0]), int(x.shape[1]), int(x.shape[3])  # the length may be symbolic: left so
    gx, gy = _grid(users)
    src = tile(ttnn, src)
    if src.dtype not in (ttnn.bfloat16, ttnn.float32):   # block-float activations: the op packs bfloat16 rows
        src = ttnn.typecast(src, ttnn.bfloat16)
    rows = ttnn.permute(src, (2, 0, 1, 3))
    shard = ttnn.create_sharded_memory_config((32 * -(-heads // 32), d), ttnn.CoreGrid(x=gx, y=gy),
                                              ttnn.ShardStrategy.HEIGHT, use_height_and_width_as_shard_shape=True)
    rows = ttnn.interleaved_to_sharded(rows, shard)
    pos = ttnn.typecast(index, ttnn.int32) if index.dtype != ttnn.int32 else index
    pos = ttnn.repeat(ttnn.reshape(pos, [1]), [users]) if users > 1 else ttnn.reshape(pos, [1])
    return ttnn.experimental.paged_update_cache(tile(ttnn, x), rows, update_idxs_tensor=pos)


INDEX_COPY_IN_PLACE = Rule(aten.index_copy.default, index_copy_in_place, _guard, "index_copy_in_place")
