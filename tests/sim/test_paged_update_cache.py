"""ttnn.experimental.paged_update_cache (non-paged form): each user's row written at its own position, in
place, read from a device index tensor; the real op's input requirements raise as they do on a card."""
import pytest
import torch


def _sharded_rows(ttnn, device, x, users):
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    grid = ttnn.CoreGrid(x=users, y=1)
    mc = ttnn.create_sharded_memory_config((32, x.shape[-1]), grid, ttnn.ShardStrategy.HEIGHT,
                                           use_height_and_width_as_shard_shape=True)
    return ttnn.interleaved_to_sharded(t, mc)


@pytest.mark.parametrize("cache_dtype", ["bfloat16", "bfloat8_b"])
def test_writes_each_users_row_at_its_position(ttnn, device, cache_dtype):
    users, heads, seq, dim = 4, 2, 64, 32
    cache = ttnn.from_torch(torch.zeros(users, heads, seq, dim), dtype=getattr(ttnn, cache_dtype),
                            layout=ttnn.TILE_LAYOUT, device=device)
    x = torch.randn(1, users, heads, dim, generator=torch.Generator().manual_seed(0))
    positions = torch.tensor([0, 5, 31, 63], dtype=torch.int32)
    idx = ttnn.from_torch(positions, dtype=ttnn.int32, device=device)
    rows = _sharded_rows(ttnn, device, x, users)
    n0 = len(device.op_records)
    assert ttnn.experimental.paged_update_cache(cache, rows, update_idxs_tensor=idx) is cache
    got = ttnn.to_torch(cache).float()
    tol = dict(rtol=0, atol=0) if cache_dtype == "bfloat16" else dict(rtol=2 ** -6, atol=2 ** -6 * x.abs().max())
    for b, p in enumerate(positions.tolist()):
        torch.testing.assert_close(got[b, :, p], x[0, b].bfloat16().float(), **tol)
        others = torch.ones(seq, dtype=torch.bool)
        others[p] = False
        assert got[b, :, others].abs().sum() == 0
    rec = device.op_records[n0]
    assert rec.name == "ttnn.experimental.paged_update_cache" and rec.time_ns > 0


@pytest.mark.parametrize("case, message", [
    ("interleaved", "must be height-sharded"),
    ("out_of_range", "outside the cache's 32 positions"),
    ("idx_dtype", "update_idxs_tensor must be INT32"),
    ("paged", "page_table"),
])
def test_errors(ttnn, device, case, message):
    users = 2
    cache = ttnn.from_torch(torch.zeros(users, 1, 32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                            device=device)
    x = torch.randn(1, users, 1, 32)
    rows = _sharded_rows(ttnn, device, x, users) if case != "interleaved" else \
        ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    pos = torch.tensor([1, 40 if case == "out_of_range" else 2], dtype=torch.int32)
    idx = ttnn.from_torch(pos, dtype=ttnn.uint32 if case == "idx_dtype" else ttnn.int32, device=device)
    kw = {"page_table": idx} if case == "paged" else {}
    with pytest.raises(RuntimeError, match=message):
        ttnn.experimental.paged_update_cache(cache, rows, update_idxs_tensor=idx, **kw)
