"""ND sharding on the emulator: ttnn.NdShardSpec and MemoryConfig(buffer_type, nd_shard_spec) (API as the real
0.81.1: tests/real_ttnn/test_nd_sharding.py checks population, reprs and equality against the package), tensors
placed with them (values, reported config, per-core L1 footprint), and which ops take or refuse them."""
import math

import pytest
import torch

from helpers import pcc


def _grid(ttnn, x1=3, y1=1):
    return ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(x1, y1))])


def _nd(ttnn, shard, strategy="ROUND_ROBIN_1D", orientation="ROW_MAJOR", grid=None, buffer="L1"):
    spec = ttnn.NdShardSpec(ttnn.Shape(shard), grid or _grid(ttnn), getattr(ttnn.ShardOrientation, orientation),
                            getattr(ttnn.ShardDistributionStrategy, strategy))
    return ttnn.MemoryConfig(getattr(ttnn.BufferType, buffer), spec)


# --- the types -----------------------------------------------------------------------------------------------
def test_nd_shard_spec_attributes(ttnn):
    g = _grid(ttnn)
    s = ttnn.NdShardSpec(ttnn.Shape([1, 32, 64]), g)
    assert s.shard_shape == [1, 32, 64] and s.grid == g and s.num_cores() == 8
    assert s.orientation == ttnn.ShardOrientation.ROW_MAJOR
    assert s.shard_distribution_strategy == ttnn.ShardDistributionStrategy.ROUND_ROBIN_1D
    assert s == ttnn.NdShardSpec([1, 32, 64], g)  # a list stands for a Shape, as in the real binding
    assert s != ttnn.NdShardSpec([1, 32, 64], g, ttnn.ShardOrientation.COL_MAJOR)
    assert hash(s) != hash(ttnn.NdShardSpec([1, 32, 64], g))  # identity hash, as the real class
    s.shard_shape = ttnn.Shape([1, 64, 64])  # writable, as the real attributes
    assert s.shard_shape == [1, 64, 64]
    assert {m: v.value for m, v in ttnn.ShardDistributionStrategy.__members__.items()} == \
        {"ROUND_ROBIN_1D": 0, "GRID_2D": 1, "CONTIGUOUS_1D": 2}


@pytest.mark.parametrize("args, match", [
    (([1, 32], "grid"), "CoreRangeSet"),
    (([1.5, 32], None), "shard_shape"),
    (([32, 32], None, "ROW"), "orientation"),
    (([32, 32], None, None, 1), "shard_distribution_strategy"),
])
def test_nd_shard_spec_rejects_bad_arguments(ttnn, args, match):
    shard, grid, *rest = args
    grid = _grid(ttnn) if grid is None else grid
    rest = [ttnn.ShardOrientation.ROW_MAJOR if r is None else r for r in rest]
    with pytest.raises(TypeError, match=match):
        ttnn.NdShardSpec(shard, grid, *rest)


def test_memory_config_forms(ttnn):
    spec = ttnn.NdShardSpec(ttnn.Shape([1, 32, 64]), _grid(ttnn))
    positional = ttnn.MemoryConfig(ttnn.BufferType.L1, spec)
    keyword = ttnn.MemoryConfig(buffer_type=ttnn.BufferType.L1, nd_shard_spec=spec)
    assert positional == keyword and hash(positional) == hash(keyword)
    assert positional.memory_layout == ttnn.TensorMemoryLayout.ND_SHARDED and positional.is_sharded()
    assert positional.nd_shard_spec is spec and positional.shard_spec is None and not positional.interleaved
    assert ttnn.DRAM_MEMORY_CONFIG.nd_shard_spec is None
    assert repr(positional).startswith("MemoryConfig(memory_layout=TensorMemoryLayout::ND_SHARDED,"
                                       "buffer_type=BufferType::L1,shard_spec=std::nullopt,nd_shard_spec={")


@pytest.mark.parametrize("make", [
    lambda t, s: t.MemoryConfig(t.BufferType.L1),
    lambda t, s: t.MemoryConfig(t.BufferType.L1, None),
    lambda t, s: t.MemoryConfig(t.TensorMemoryLayout.HEIGHT_SHARDED, t.BufferType.L1, nd_shard_spec=s),
    lambda t, s: t.MemoryConfig(t.TensorMemoryLayout.HEIGHT_SHARDED, t.BufferType.L1, s),
])
def test_memory_config_rejects_mixed_forms(ttnn, make):
    with pytest.raises(TypeError, match="MemoryConfig takes"):
        make(ttnn, ttnn.NdShardSpec(ttnn.Shape([32, 32]), _grid(ttnn)))


# --- tensors placed with ND configs --------------------------------------------------------------------------
def _footprint(shape, shard, cores, page_bytes, tile=True):
    """Per-core bytes: ceil(shards / cores) shards of shard-pages each (shapes in tiles for TILE)."""
    to_pages = (lambda s: [*s[:-2], math.ceil(s[-2] / 32), math.ceil(s[-1] / 32)]) if tile else list
    t, s = to_pages(list(shape)), to_pages(list(shard))
    shards = math.prod(math.ceil(a / b) for a, b in zip(t, s))
    return math.ceil(shards / min(cores, shards)) * math.prod(s) * page_bytes, min(cores, shards)


@pytest.mark.parametrize("shape, shard, strategy, layout", [
    ((4, 64, 128), (1, 32, 32), "ROUND_ROBIN_1D", "ND_SHARDED"),      # 32 shards on 8 cores: 4 per core
    ((3, 64, 96), (1, 32, 32), "CONTIGUOUS_1D", "ND_SHARDED"),         # 18 shards: 3 per core on 6 of 8, 2 on 2
    ((2, 64, 128), (2, 32, 64), "ROUND_ROBIN_1D", "ND_SHARDED"),       # 4 shards: 4 cores hold data
    ((2, 64, 128), (1, 32, 128), "ROUND_ROBIN_1D", "HEIGHT_SHARDED"),  # has a 2-D equivalent
    ((64, 128), (32, 32), "GRID_2D", "BLOCK_SHARDED"),
])
@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "bfloat8_b"])
def test_placement_values_config_and_footprint(ttnn, device, shape, shard, strategy, layout, dtype):
    x = torch.randn(*shape)
    mc = _nd(ttnn, list(shard), strategy)
    before = device.memory_report()["L1"]
    t = ttnn.from_torch(x, dtype=getattr(ttnn, dtype), layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc)
    after = device.memory_report()["L1"]
    assert t.memory_config().memory_layout.name == layout
    assert t.memory_config() == mc  # equal to the config it was placed with, as the real equality says
    assert t.memory_config().nd_shard_spec == mc.nd_shard_spec
    dt = getattr(ttnn, dtype)
    per_core, cores = _footprint(shape, shard, 8, ttnn.types.tile_bytes(dt))
    if layout == "ND_SHARDED":  # the emulator's pool charges the same per-core bytes on every bank (lockstep)
        assert (after["allocated"] - before["allocated"]) // after["banks"] == per_core
    assert pcc(ttnn.to_torch(t).float(), x) > (0.99 if dtype == "bfloat8_b" else 0.9999)
    ttnn.deallocate(t)
    assert device.memory_report()["L1"]["allocated"] == before["allocated"]


def test_row_major_pages_are_shard_wide_rows(ttnn, device):
    """ROW_MAJOR ND shards are rows of the shard's width: [2, 64, 128] in [1, 30, 100] shards is 2*3*2 = 12
    shards of 30 rows of 100 bf16 (200 B, 16-B aligned to 208) over 8 cores: 2 per core = 12480 B."""
    before = device.memory_report()["L1"]["allocated"]
    t = ttnn.from_torch(torch.randn(2, 64, 128), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=device,
                        memory_config=_nd(ttnn, [1, 30, 100]))
    assert t.memory_config().memory_layout == ttnn.TensorMemoryLayout.ND_SHARDED
    rep = device.memory_report()["L1"]
    assert (rep["allocated"] - before) // rep["banks"] == 2 * 30 * 208


@pytest.mark.parametrize("shape, shard, layout, match", [
    ((2, 64, 128), [1, 16, 128], "TILE", "must be tile"),
    ((2, 64, 128), [1, 1, 2, 64, 128], "TILE", "rank"),
    ((2, 64, 128), [0, 64, 128], "TILE", "non zero volume"),
    ((64, 512), [32, 32], "TILE", "along width must not exceed"),  # GRID_2D: 16 shards across a 4-wide grid
])
def test_placement_rejections(ttnn, device, shape, shard, layout, match):
    strategy = "GRID_2D" if shape == (64, 512) else "ROUND_ROBIN_1D"
    with pytest.raises(RuntimeError, match=match):
        ttnn.from_torch(torch.randn(*shape), dtype=ttnn.bfloat16, layout=getattr(ttnn, f"{layout}_LAYOUT"),
                        device=device, memory_config=_nd(ttnn, shard, strategy))


def test_grid_outside_device_and_missing_spec(ttnn, device):
    x = torch.randn(2, 64, 128)
    with pytest.raises(RuntimeError, match="does not lie within"):
        ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                        memory_config=_nd(ttnn, [1, 32, 32], grid=_grid(ttnn, 9, 9)))
    with pytest.raises(RuntimeError, match="needs an NdShardSpec"):
        ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                        memory_config=ttnn.MemoryConfig(ttnn.TensorMemoryLayout.ND_SHARDED, ttnn.BufferType.L1))


def test_dram_nd_sharding_uses_dram_banks(ttnn, device):
    grid = ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(5, 0))])
    x = torch.randn(3, 64, 64)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                        memory_config=_nd(ttnn, [1, 32, 64], grid=grid, buffer="DRAM"))
    assert t.memory_config().buffer_type == ttnn.BufferType.DRAM
    assert torch.equal(ttnn.to_torch(t), x.bfloat16())


# --- ops -----------------------------------------------------------------------------------------------------
@pytest.fixture
def nd_tensor(ttnn, device):
    x = torch.randn(4, 64, 128)
    return x, ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                              memory_config=_nd(ttnn, [1, 32, 32]))


@pytest.mark.parametrize("op, ref", [
    (lambda t, x: t.add(x, x), lambda x: x + x),
    (lambda t, x: t.relu(x), torch.relu),
    (lambda t, x: t.to_memory_config(x, t.L1_MEMORY_CONFIG), lambda x: x),
    (lambda t, x: t.to_memory_config(x, t.create_sharded_memory_config([256, 128], t.CoreGrid(x=8, y=1),
                                                                       t.ShardStrategy.HEIGHT)), lambda x: x),
    (lambda t, x: t.clone(x), lambda x: x),
])
def test_ops_that_take_nd_sharded_tensors(ttnn, nd_tensor, op, ref):
    x, t = nd_tensor
    out = op(ttnn, t)
    assert pcc(ttnn.to_torch(out).float(), ref(x.bfloat16().float())) > 0.999


@pytest.mark.parametrize("op, match", [
    (lambda t, x, w: t.matmul(x, w), "2-D shard spec"),
    (lambda t, x, w: t.sharded_to_interleaved(x), "does not support ND sharding"),
    (lambda t, x, w: t.interleaved_to_sharded(t.to_memory_config(x, t.L1_MEMORY_CONFIG), x.memory_config()),
     "no 2-D equivalent"),
])
def test_ops_that_refuse_nd_sharded_tensors(ttnn, device, nd_tensor, op, match):
    _, t = nd_tensor
    w = ttnn.from_torch(torch.randn(128, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(RuntimeError, match=match):
        op(ttnn, t, w)


def test_legacy_sharded_tensor_reports_its_nd_spec(ttnn, device):
    """A 2-D sharded tensor's config gains the equivalent ND spec (GRID_2D for BLOCK), and still equals the
    config it was placed with."""
    mc = ttnn.create_sharded_memory_config([64, 128], ttnn.CoreGrid(x=4, y=2), ttnn.ShardStrategy.BLOCK)
    t = ttnn.from_torch(torch.randn(64, 128), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                        memory_config=mc)
    got = t.memory_config()
    assert got == mc and got.nd_shard_spec.shard_shape == [32, 32]
    assert got.nd_shard_spec.shard_distribution_strategy == ttnn.ShardDistributionStrategy.GRID_2D


# --- TensorSpec forms ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, layout", [
    (lambda t, g: t.TensorSpec(t.Shape([2, 64, 128]), t.bfloat16, t.TILE_LAYOUT,
                               t.NdShardSpec(t.Shape([1, 32, 32]), g), t.BufferType.L1), "ND_SHARDED"),
    (lambda t, g: t.TensorSpec(t.Shape([2, 64, 128]), t.bfloat16, t.TILE_LAYOUT,
                               nd_shard_spec=t.NdShardSpec(t.Shape([1, 32, 128]), g), buffer_type=t.BufferType.L1),
     "HEIGHT_SHARDED"),
    (lambda t, g: t.TensorSpec(t.Shape([64, 128]), t.bfloat16, t.TILE_LAYOUT, t.TensorMemoryLayout.BLOCK_SHARDED,
                               t.ShardSpec(g, [32, 32], t.ShardOrientation.ROW_MAJOR), t.BufferType.L1),
     "BLOCK_SHARDED"),
    (lambda t, g: t.TensorSpec(t.Shape([2, 64, 128]), t.bfloat16, t.TILE_LAYOUT, t.BufferType.L1).sharded(
        t.Shape([1, 20, 20]), g), "ND_SHARDED"),
    (lambda t, g: t.TensorSpec(t.Shape([2, 64, 128]), t.bfloat16, t.TILE_LAYOUT, t.BufferType.L1).height_sharded(g),
     "HEIGHT_SHARDED"),
])
def test_tensor_spec_forms_place_tensors(ttnn, device, make, layout):
    spec = make(ttnn, _grid(ttnn))
    assert spec.memory_config.memory_layout.name == layout
    x = torch.randn(*spec.shape)
    t = ttnn.from_torch(x, spec=spec, device=device)
    assert t.memory_config() == spec.memory_config
    assert torch.equal(ttnn.to_torch(t), x.bfloat16())
    empty = ttnn.allocate_tensor_on_device(spec, device)
    assert empty.memory_config() == spec.memory_config and tuple(empty.shape) == tuple(spec.shape)


def test_tensor_spec_rejects_unknown_forms(ttnn):
    with pytest.raises(TypeError, match="TensorSpec"):
        ttnn.TensorSpec(ttnn.Shape([32, 32]), ttnn.bfloat16, ttnn.TILE_LAYOUT, ttnn.BufferType.L1, None, 3)
    with pytest.raises(TypeError, match="buffer_type"):
        ttnn.TensorSpec(ttnn.Shape([32, 32]), ttnn.bfloat16, ttnn.TILE_LAYOUT, "L1")


@pytest.mark.parametrize("strategy, orientation", [("ROUND_ROBIN_1D", "ROW_MAJOR"), ("GRID_2D", "COL_MAJOR")])
def test_exported_code_rebuilds_nd_configs(ttnn, strategy, orientation):
    """`torch-ttnn export` writes memory configs as Python (compiler/codegen.literal): an ND config as the ND
    constructor, so the script rebuilds an equal config."""
    from torch_ttnn.compiler.codegen import literal
    mc = _nd(ttnn, [1, 32, 64], strategy, orientation)
    src = literal(mc, {}, {})
    assert src.startswith("ttnn.MemoryConfig(ttnn.BufferType.L1, ttnn.NdShardSpec(")
    assert eval(src, {"ttnn": ttnn}) == mc  # noqa: S307  (our own generated source)
