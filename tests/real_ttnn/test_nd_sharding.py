"""ND sharding against the real ttnn 0.81.1 (host side): what the real TensorSpec makes of an NdShardSpec (the
HEIGHT/WIDTH/BLOCK layout and 2-D shard it fills in, stays ND_SHARDED, or rejects), the reprs of NdShardSpec and
MemoryConfig, and MemoryConfig equality between configs built the two ways and placed on tensors."""
import pytest

from conformance.corpus import ND_CONFIGS, ND_EQ_PAIRS, ND_SPEC_CASES, ND_TENSOR_SPEC_CASES


def _grid(ttnn, rects):
    return ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(a, b), ttnn.CoreCoord(c, d)) for a, b, c, d in rects])


def _nd_spec(ttnn, shard, orientation, strategy, rects):
    return ttnn.NdShardSpec(ttnn.Shape(shard), _grid(ttnn, rects), getattr(ttnn.ShardOrientation, orientation),
                            getattr(ttnn.ShardDistributionStrategy, strategy))


def _config(ttnn, name):
    from torch_ttnn.sim.formats import padded_shape
    from torch_ttnn.sim.types import populate_sharding
    kind, *rest = ND_CONFIGS[name]
    if kind == "nd":
        buffer, shard, orientation, strategy = rest
        return ttnn.MemoryConfig(getattr(ttnn.BufferType, buffer), _nd_spec(ttnn, shard, orientation, strategy,
                                                                          [[0, 0, 3, 1]]))
    if kind == "legacy":
        layout, buffer, shard = rest
        spec = None if shard is None else ttnn.ShardSpec(_grid(ttnn, [[0, 0, 3, 1]]), shard,
                                                         ttnn.ShardOrientation.ROW_MAJOR)
        return ttnn.MemoryConfig(getattr(ttnn.TensorMemoryLayout, layout), getattr(ttnn.BufferType, buffer), spec)
    shape, of = rest
    return populate_sharding(_config(ttnn, of), padded_shape(tuple(shape), ttnn.TILE_LAYOUT), ttnn.TILE_LAYOUT)


@pytest.mark.parametrize("i", range(len(ND_SPEC_CASES)),
                         ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-{c[4]}-{len(c[5])}r" for c in ND_SPEC_CASES])
def test_tensor_spec_population(real, ttnn, i):
    """The layout and 2-D shard a tensor placed with the ND config reports, or the rejection, as the real one."""
    from torch_ttnn.sim.formats import padded_shape
    from torch_ttnn.sim.types import populate_sharding
    shape, shard, layout, strategy, orientation, rects = ND_SPEC_CASES[i]
    want = real["nd"]["specs"][i]
    lay = getattr(ttnn, f"{layout}_LAYOUT")
    nd = _nd_spec(ttnn, shard, orientation, strategy, rects)
    mc = ttnn.MemoryConfig(ttnn.BufferType.L1, nd)
    if want["outcome"] == "raised":
        with pytest.raises(RuntimeError):
            populate_sharding(mc, padded_shape(tuple(shape), lay), lay)
        return
    got = populate_sharding(mc, padded_shape(tuple(shape), lay), lay)
    assert got.memory_layout.name == want["layout"]
    assert (None if got.shard_spec is None else list(got.shard_spec.shape)) == want["shard"]
    assert repr(got) == want["repr"]
    assert repr(nd) == want["nd_repr"]


@pytest.mark.parametrize("pair", ND_EQ_PAIRS, ids=[f"{a}=={b}" for a, b in ND_EQ_PAIRS])
def test_memory_config_equality(real, ttnn, pair):
    a, b = pair
    assert (_config(ttnn, a) == _config(ttnn, b)) == real["nd"]["eq"][f"{a}|{b}"]


@pytest.mark.parametrize("name", sorted(ND_CONFIGS))
def test_memory_config_repr(real, ttnn, name):
    assert repr(_config(ttnn, name)) == real["nd"]["reprs"][name]


@pytest.mark.parametrize("i", range(len(ND_TENSOR_SPEC_CASES)),
                         ids=[f"{c[2]}-{c[1]}-{c[3]}-{c[4]}" for c in ND_TENSOR_SPEC_CASES])
def test_tensor_spec_sharding_helpers(real, ttnn, i):
    """TensorSpec(..., nd_shard_spec) and its helpers (sharded with each ShardShapeAlignment, sharded_across_dims
    [_except], height/width/block_sharded) give the memory config the real ones give, or fail where they do."""
    from conformance.corpus import tensor_spec_case
    want = real["nd"]["tensor_specs"][i]
    if want["outcome"] == "raised":
        with pytest.raises(RuntimeError):
            tensor_spec_case(ttnn, *ND_TENSOR_SPEC_CASES[i])
        return
    assert repr(tensor_spec_case(ttnn, *ND_TENSOR_SPEC_CASES[i]).memory_config) == want["repr"]
