"""The program cache (sim/program_cache.py): one entry per op signature, hits after the first call, a host
build cost on misses (and on every call with the cache off), and the real MeshDevice methods."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import program_cache
from torch_ttnn.sim.cost import program_host_ns


@pytest.fixture
def dev(device):
    """The session device with an empty program cache (other tests' programs cleared)."""
    device.disable_and_clear_program_cache()
    device.enable_program_cache()
    yield device
    device.set_program_cache_misses_allowed(True)
    device.enable_program_cache()


def _tt(shape, dev, dtype=ttnn.bfloat16, mc=None):
    return ttnn.from_torch(torch.randn(*shape), dtype=dtype, layout=ttnn.TILE_LAYOUT, device=dev,
                           memory_config=mc)


def _run(dev, fn):
    n0 = len(dev.op_records)
    fn()
    return [r for r in dev.op_records[n0:] if r.program_cache]


def test_enabled_by_default_as_in_ttnn_0_81(device):
    from torch_ttnn.sim.device import Device
    d = Device(1, device.spec)
    assert d.program_cache_enabled and d.num_program_cache_entries() == 0


@pytest.mark.parametrize("change", ["shape", "dtype", "memory_config", "attribute"])
def test_one_entry_per_signature(dev, change):
    x = _tt((64, 64), dev)
    other = {"shape": lambda: ttnn.exp(_tt((32, 64), dev)),
             "dtype": lambda: ttnn.exp(_tt((64, 64), dev, ttnn.bfloat8_b)),
             "memory_config": lambda: ttnn.exp(_tt((64, 64), dev, mc=ttnn.L1_MEMORY_CONFIG)),
             "attribute": lambda: ttnn.exp(x, fast_and_approximate_mode=True)}[change]
    first, second = _run(dev, lambda: ttnn.exp(x)), _run(dev, lambda: ttnn.exp(x))
    assert [r.program_cache for r in first + second] == ["miss", "hit"]
    # built: compiled cold, or rebuilt from kernels this process compiled before the cache was cleared
    assert first[0].compile_ns in (program_cache.COMPILE_NS, program_cache.REBUILD_NS)
    assert second[0].compile_ns == 0
    assert dev.num_program_cache_entries() == 1
    assert [r.program_cache for r in _run(dev, other)] == ["miss"]
    assert dev.num_program_cache_entries() == 2


def test_first_call_is_charged_the_build_in_host_visible_time(dev):
    x = _tt((96, 160), dev)       # a shape no other test runs gelu on: compiled cold in this process
    first, second = _run(dev, lambda: ttnn.gelu(x)), _run(dev, lambda: ttnn.gelu(x))
    assert first[0].compile_ns == program_cache.COMPILE_NS
    assert program_host_ns(first) == pytest.approx(program_host_ns(second) + program_cache.COMPILE_NS)
    assert program_host_ns(first, trace=True) == program_host_ns(second, trace=True)   # device time unchanged


def test_disabled_cache_rebuilds_every_call(dev):
    x = _tt((64, 64), dev)
    ttnn.relu(x)                                  # compiled once in this process
    dev.disable_and_clear_program_cache()
    assert dev.num_program_cache_entries() == 0 and not dev.program_cache_enabled
    recs = _run(dev, lambda: [ttnn.relu(x) for _ in range(3)])
    assert [r.program_cache for r in recs] == ["uncached"] * 3
    assert all(r.compile_ns == program_cache.REBUILD_NS for r in recs)
    assert dev.num_program_cache_entries() == 0


def test_forbidden_misses_raise_naming_the_op(dev):
    x = _tt((64, 64), dev)
    ttnn.sigmoid(x)
    dev.set_program_cache_misses_allowed(False)
    try:
        ttnn.sigmoid(x)                            # a hit is fine
        with pytest.raises(RuntimeError, match="ttnn.tanh: program cache miss occurred, but cache misses are "
                                               "forbidden"):
            ttnn.tanh(x)
    finally:
        dev.set_program_cache_misses_allowed(True)

