"""Trace capture and replay on the emulator: fixed buffers, new inputs, no host dispatch, the real errors."""
import pytest
import torch

import torch_ttnn.sim as ttnn


def _with_region(device, size):
    old = device.trace_region_size
    device.trace_region_size = size
    yield device
    device.trace_region_size = old


@pytest.fixture
def traced_device(device):
    """The session device with a 1 MiB trace region, whatever it was opened with."""
    yield from _with_region(device, 1 << 20)


@pytest.fixture
def untraced_device(device):
    """The session device as open_device leaves it by default: no trace region."""
    yield from _with_region(device, 0)


def _program(ttnn_, x, w):
    h = ttnn_.matmul(x, w)
    y = ttnn_.gelu(h)
    ttnn_.deallocate(h)
    return ttnn_.add(y, x)


def _tt(t, dev):
    return ttnn.from_torch(t, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)


def test_replay_computes_with_new_inputs_into_the_captured_output(traced_device):
    dev = traced_device
    torch.manual_seed(0)
    w = _tt(torch.randn(64, 64) / 8, dev)
    x = _tt(torch.randn(64, 64), dev)
    ttnn.deallocate(_program(ttnn, x, w))      # the compile run: its programs enter the program cache
    tid = ttnn.begin_trace_capture(dev, cq_id=0)
    out = _program(ttnn, x, w)
    ttnn.end_trace_capture(dev, tid, cq_id=0)
    for seed in (1, 2):
        new = torch.randn(64, 64, generator=torch.Generator().manual_seed(seed))
        ttnn.copy_host_to_device_tensor(ttnn.from_torch(new, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT), x)
        n0 = len(dev.op_records)
        ttnn.execute_trace(dev, tid, cq_id=0, blocking=True)
        want = ttnn.to_torch(_program(ttnn, _tt(new, dev), w))   # the same program run directly
        torch.testing.assert_close(ttnn.to_torch(out), want, rtol=0, atol=0)
        replayed = dev.op_records[n0:n0 + 3]
        assert [r.name for r in replayed] == ["ttnn.matmul", "ttnn.gelu", "ttnn.add"]
        assert all(r.traced for r in replayed)
    ttnn.release_trace(dev, tid)
    with pytest.raises(RuntimeError, match="does not exist"):
        ttnn.execute_trace(dev, tid)


def test_traced_program_is_priced_without_dispatch(traced_device):
    from torch_ttnn.sim.cost import program_host_ns
    dev = traced_device
    x = _tt(torch.randn(64, 64), dev)
    w = _tt(torch.randn(64, 64), dev)
    n0 = len(dev.op_records)
    _program(ttnn, x, w)
    direct = dev.op_records[n0:]
    tid = ttnn.begin_trace_capture(dev)
    _program(ttnn, x, w)
    ttnn.end_trace_capture(dev, tid)
    assert len(dev.op_records) == n0 + len(direct)      # capture records commands, runs no kernels
    ttnn.execute_trace(dev, tid)
    replay = dev.op_records[n0 + len(direct):]
    assert program_host_ns(replay) == pytest.approx(program_host_ns(direct, trace=True))
    assert program_host_ns(replay) < program_host_ns(direct)
    ttnn.release_trace(dev, tid)


@pytest.mark.parametrize("act, what", [
    (lambda dev, x: ttnn.to_torch(x), "Reads"),
    (lambda dev, x: ttnn.from_torch(torch.ones(2, 2), device=dev), "Writes"),
    (lambda dev, x: ttnn.copy_host_to_device_tensor(ttnn.from_torch(torch.ones(64, 64), dtype=ttnn.bfloat16,
                                                                    layout=ttnn.TILE_LAYOUT), x), "Writes"),
])
def test_host_io_during_capture_raises(traced_device, act, what):
    x = _tt(torch.randn(64, 64), traced_device)
    tid = ttnn.begin_trace_capture(traced_device)
    try:
        with pytest.raises(RuntimeError, match=f"{what} are not supported during trace capture"):
            act(traced_device, x)
    finally:
        ttnn.end_trace_capture(traced_device, tid)
        ttnn.release_trace(traced_device, tid)


def test_trace_needs_a_trace_region(untraced_device):
    device = untraced_device
    x = _tt(torch.randn(64, 64), device)
    ttnn.relu(x)
    tid = ttnn.begin_trace_capture(device)
    ttnn.relu(x)
    with pytest.raises(RuntimeError, match="trace_region_size"):
        ttnn.end_trace_capture(device, tid)
    with pytest.raises(RuntimeError, match="does not exist"):
        ttnn.execute_trace(device, tid)


def test_one_capture_at_a_time(traced_device):
    tid = ttnn.begin_trace_capture(traced_device)
    try:
        with pytest.raises(RuntimeError, match="already in progress"):
            ttnn.begin_trace_capture(traced_device)
    finally:
        ttnn.end_trace_capture(traced_device, tid)
        ttnn.release_trace(traced_device, tid)


def test_capture_needs_the_programs_cached(traced_device):
    """A program not in the program cache yet cannot be built during a capture (building writes its kernels to
    the device): the capture fails naming the op and the fix; after one run outside the capture it works."""
    x = _tt(torch.randn(96, 32), traced_device)      # a shape no other test runs
    tid = ttnn.begin_trace_capture(traced_device)
    try:
        with pytest.raises(RuntimeError, match="ttnn.neg has no program in the program cache.*run the captured"):
            ttnn.neg(x)
    finally:
        ttnn.end_trace_capture(traced_device, tid)
        ttnn.release_trace(traced_device, tid)
    ttnn.neg(x)
    tid = ttnn.begin_trace_capture(traced_device)
    ttnn.neg(x)
    ttnn.end_trace_capture(traced_device, tid)
    ttnn.release_trace(traced_device, tid)
