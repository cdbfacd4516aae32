"""L1 sharding: create_sharded_memory_config (shard shapes as the real 0.81.1 computes them), per-core shard
allocation, shard-spec validation at allocation, and the moves between interleaved and sharded layouts."""
import pytest
import torch


def dev_tensor(ttnn, device, x, dtype="bfloat16", memory_config=None):
    return ttnn.from_torch(x, dtype=getattr(ttnn, dtype), layout=ttnn.TILE_LAYOUT, device=device,
                           memory_config=memory_config)


# (shape, grid (x, y), strategy, orientation, expected shard shape); the first two were read from the real
# package (ttnn 0.81.1, host side).
CASES = [
    ((8, 384, 1024), (8, 8), "BLOCK", "COL_MAJOR", (384, 128)),
    ((8, 16, 384, 64), (8, 8), "HEIGHT", None, (768, 64)),
    ((2, 64, 1024), (2, 8), "BLOCK", "COL_MAJOR", (64, 128)),
    ((4, 128, 256), (4, 2), "BLOCK", "ROW_MAJOR", (256, 64)),
    ((1, 32, 2048), (8, 4), "WIDTH", None, (32, 64)),
]


@pytest.mark.parametrize("shape, grid, strategy, orientation, shard", CASES, ids=str)
def test_create_sharded_memory_config_shard_shapes(ttnn, shape, grid, strategy, orientation, shard):
    mc = ttnn.create_sharded_memory_config(shape, ttnn.CoreGrid(x=grid[0], y=grid[1]),
                                           getattr(ttnn.ShardStrategy, strategy),
                                           None if orientation is None else getattr(ttnn.ShardOrientation, orientation))
    layouts = {"BLOCK": "BLOCK_SHARDED", "HEIGHT": "HEIGHT_SHARDED", "WIDTH": "WIDTH_SHARDED"}
    assert mc.memory_layout == getattr(ttnn.TensorMemoryLayout, layouts[strategy])
    assert mc.buffer_type == ttnn.BufferType.L1 and mc.is_sharded()
    assert tuple(mc.shard_spec.shape) == shard
    assert mc.shard_spec.orientation == getattr(ttnn.ShardOrientation, orientation or "ROW_MAJOR")
    assert mc.shard_spec.num_cores() == grid[0] * grid[1]


@pytest.mark.parametrize("shape, grid, strategy, message", [
    ((8, 384, 1000), (8, 8), "WIDTH", "Invalid sharding core_grid"),
    ((3, 32, 64), (3, 2), "BLOCK", "Invalid sharding core_grid"),
    ((30, 64), (8, 8), "HEIGHT", "Invalid sharding core_grid"),
], ids=str)
def test_create_sharded_memory_config_uneven_raises(ttnn, shape, grid, strategy, message):
    with pytest.raises(RuntimeError, match=message):
        ttnn.create_sharded_memory_config(shape, ttnn.CoreGrid(x=grid[0], y=grid[1]),
                                          getattr(ttnn.ShardStrategy, strategy))


def test_core_range_set_grid_needs_explicit_shard_shape(ttnn):
    cores = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(3, 0))})
    with pytest.raises(RuntimeError, match="height and width must be shard shape"):
        ttnn.create_sharded_memory_config((128, 64), cores, ttnn.ShardStrategy.HEIGHT)
    mc = ttnn.create_sharded_memory_config((32, 64), cores, ttnn.ShardStrategy.HEIGHT,
                                           use_height_and_width_as_shard_shape=True)
    assert tuple(mc.shard_spec.shape) == (32, 64) and mc.shard_spec.grid == cores


@pytest.mark.parametrize("n, row_wise, expected", [
    (20, True, [((0, 0), (7, 1)), ((0, 2), (3, 2))]),   # the real helper's answer for 20 cores of 8x8
    (20, False, [((0, 0), (1, 7)), ((2, 0), (2, 3))]),
    (64, True, [((0, 0), (7, 7))]),
    (3, True, [((0, 0), (2, 0))]),
], ids=str)
def test_num_cores_to_corerangeset(ttnn, n, row_wise, expected):
    got = ttnn.num_cores_to_corerangeset(n, ttnn.CoreCoord(8, 8), row_wise)
    assert [((r.start.x, r.start.y), (r.end.x, r.end.y)) for r in got.ranges()] == expected
    assert got.num_cores() == n


def per_core_l1(device) -> int:
    """Bytes held in each L1 bank (one bank per core): the emulated allocator reserves the same per bank."""
    report = device.memory_report()["L1"]
    return report["allocated"] // report["banks"]


@pytest.mark.parametrize("dtype, tile_bytes", [("bfloat8_b", 1088), ("bfloat16", 2048)])
def test_block_sharded_tensor_holds_one_shard_per_core(ttnn, device, dtype, tile_bytes):
    x = torch.randn(8, 384, 1024)
    mc = ttnn.create_sharded_memory_config(x.shape, ttnn.CoreGrid(y=8, x=8), ttnn.ShardStrategy.BLOCK,
                                           ttnn.ShardOrientation.COL_MAJOR)
    before = per_core_l1(device)
    t = dev_tensor(ttnn, device, x, dtype, mc)
    assert per_core_l1(device) - before == (384 // 32) * (128 // 32) * tile_bytes
    assert t.memory_config() == mc and t.is_sharded()
    assert torch.equal(ttnn.to_torch(t), ttnn.to_torch(dev_tensor(ttnn, device, x, dtype)))
    ttnn.deallocate(t)
    assert per_core_l1(device) == before


def test_padded_last_shard_takes_a_whole_shard(ttnn, device):
    """100 rows (128 padded) in 32-row shards: 4 shards, each core holds a whole 32x64 shard (2 tiles), the
    last one padded."""
    cores = ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(3, 0))])
    mc = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1,
                           ttnn.ShardSpec(cores, [32, 64], ttnn.ShardOrientation.ROW_MAJOR))
    before = per_core_l1(device)
    t = dev_tensor(ttnn, device, torch.randn(100, 64), memory_config=mc)
    assert per_core_l1(device) - before == 2 * 2048
    assert list(t.shape) == [100, 64]


def _mc(ttnn, layout, shard, cores=(2, 1), orientation="ROW_MAJOR"):
    grid = ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(cores[0] - 1, cores[1] - 1))])
    return ttnn.MemoryConfig(getattr(ttnn.TensorMemoryLayout, layout), ttnn.BufferType.L1,
                             ttnn.ShardSpec(grid, shard, getattr(ttnn.ShardOrientation, orientation)))


@pytest.mark.parametrize("layout, shard, cores, message", [
    ("HEIGHT_SHARDED", [32, 32], (2, 1), "Shard width 32 must match physical width 64 for height sharded"),
    ("WIDTH_SHARDED", [32, 32], (2, 1), "Shard height 32 must match physical height 64 for width sharded"),
    ("HEIGHT_SHARDED", [16, 64], (4, 1), r"Physical shard shape \[16, 64\] must be tile"),
    ("HEIGHT_SHARDED", [32, 64], (1, 1), "Number of shards along height 2 must not exceed number of cores 1"),
    ("BLOCK_SHARDED", [32, 32], (1, 2), "Number of shards along width 2 must not exceed number of columns 1"),
    ("HEIGHT_SHARDED", [32, 64], (9, 1), "does not lie within the device's compute grid"),
], ids=str)
def test_shard_spec_validated_at_allocation(ttnn, device, layout, shard, cores, message):
    with pytest.raises(RuntimeError, match=message):
        dev_tensor(ttnn, device, torch.randn(64, 64), memory_config=_mc(ttnn, layout, shard, cores))


def test_sharded_config_without_spec_cannot_hold_a_tensor(ttnn, device):
    with pytest.raises(RuntimeError, match="needs a shard spec"):
        dev_tensor(ttnn, device, torch.randn(64, 64), memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG)


def test_interleaved_sharded_reshard_round_trip(ttnn, device):
    x = torch.randn(2, 128, 256)
    t = dev_tensor(ttnn, device, x)
    block = ttnn.create_sharded_memory_config(x.shape, ttnn.CoreGrid(y=2, x=4), ttnn.ShardStrategy.BLOCK)
    s = ttnn.interleaved_to_sharded(t, block)
    assert s.memory_config() == block
    height = ttnn.create_sharded_memory_config(x.shape, ttnn.CoreGrid(y=1, x=8), ttnn.ShardStrategy.HEIGHT)
    r = ttnn.reshard(s, height)
    assert r.memory_config() == height and tuple(r.memory_config().shard_spec.shape) == (32, 256)
    back = ttnn.sharded_to_interleaved(r, ttnn.DRAM_MEMORY_CONFIG)
    assert not back.is_sharded() and torch.equal(ttnn.to_torch(back), ttnn.to_torch(t))
    with pytest.raises(RuntimeError, match="input tensor must be sharded"):
        ttnn.reshard(t, height)


def test_elementwise_output_keeps_the_shard_spec(ttnn, device):
    x = torch.randn(4, 64, 128)
    mc = ttnn.create_sharded_memory_config(x.shape, ttnn.CoreGrid(y=2, x=4), ttnn.ShardStrategy.BLOCK)
    a, b = dev_tensor(ttnn, device, x, memory_config=mc), dev_tensor(ttnn, device, x, memory_config=mc)
    out = ttnn.add(a, b)
    assert out.memory_config() == mc
    assert torch.allclose(ttnn.to_torch(out).float(), (2 * x).bfloat16().float(), rtol=1e-2, atol=1e-2)
