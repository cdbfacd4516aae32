"""What generation on the device rests on, one piece at a time: `torch.tensor(..., device="ttnn")` under a
fake mode (dynamo tracing HF's cache init), the emulated device's transfer counters, factories made on the
device (no upload), 0-d scalars that own their data, and float -> int casts of values int32 cannot hold."""
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

import torch_ttnn
from torch_ttnn import device as tdev

pytestmark = pytest.mark.filterwarnings("ignore::torch_ttnn.device.TtnnFallbackWarning")


def _tt_device():
    return torch.ttnn.get_ttnn_device(0)


@pytest.mark.parametrize("data", [[], [1.0, 2.0], [[3, 4]]])
def test_torch_tensor_under_fake_mode_is_fake(data):
    """dynamo traces `torch.tensor([], device=self.device)` (HF's DynamicLayer init) under a fake mode: the
    result must be a fake tensor on the ttnn device, as for cuda, not a real device tensor (which dynamo
    cloned with as_strided_ and crashed on)."""
    with FakeTensorMode():
        t = torch.tensor(data, device="ttnn")
    assert isinstance(t, FakeTensor) and t.device.type == "ttnn"
    assert tuple(t.shape) == tuple(torch.tensor(data).shape)
    real = torch.tensor(data, device="ttnn")           # outside a fake mode: a real device tensor
    assert tdev.is_ttnn_tensor(real) and torch.equal(real.cpu(), torch.tensor(data))


def test_compiled_cache_init_with_torch_tensor(device):
    """The pattern of HF's lazily initialised KV cache, compiled over device tensors: it used to crash inside
    dynamo (`aten.as_strided_ resizes its output`)."""
    torch._dynamo.reset()

    def grow(k):
        cache = torch.tensor([], dtype=k.dtype, device=k.device)
        return torch.cat([cache, k], dim=-2) * 2
    k = torch.randn(1, 2, 3, 32)
    got = torch.compile(grow, backend="ttnn", options=torch_ttnn.TorchTtnnOption(runtime="sim"))(k.to("ttnn"))
    assert got.device.type == "ttnn"
    torch.testing.assert_close(got.cpu(), k * 2, rtol=2 ** -7, atol=2 ** -7)


def test_transfer_counters_count_copies():
    dev = _tt_device()
    before = dev.transfers.snapshot()
    x = torch.randn(4, 64).to("ttnn")
    up = dev.transfers.since(before)
    assert (up.h2d, up.d2h) == (1, 0) and up.h2d_bytes >= 4 * 64 * 4
    mid = dev.transfers.snapshot()
    x.cpu()
    down = dev.transfers.since(mid)
    assert (down.h2d, down.d2h) == (0, 1) and down.d2h_bytes >= 4 * 64 * 4


@pytest.mark.parametrize("make,ref", [
    (lambda: torch.zeros(3, 5, device="ttnn"), lambda: torch.zeros(3, 5)),
    (lambda: torch.full((2, 3), 7, device="ttnn"), lambda: torch.full((2, 3), 7)),
    (lambda: torch.empty(2, 0, device="ttnn"), lambda: torch.empty(2, 0)),
    (lambda: torch.arange(100, device="ttnn"), lambda: torch.arange(100)),
    (lambda: torch.arange(3, 40, 4, device="ttnn"), lambda: torch.arange(3, 40, 4)),
])
def test_factories_are_made_on_the_device(make, ref):
    """generate() makes several of these per token (stop criteria, logits processors): none may upload."""
    dev = _tt_device()
    before = dev.transfers.snapshot()
    t = make()
    moved = dev.transfers.since(before)
    assert moved.h2d == 0, f"{moved.h2d} uploads"
    assert t.dtype == ref().dtype and torch.equal(t.cpu(), ref())


def test_zero_dim_output_owns_its_scalar():
    """A 0-d tensor made from a [1] TT-NN scalar is not a view of a [1] tensor: an in-place add on it (a static
    cache's position counter) stays on the device."""
    one = torch.tensor([5]).to("ttnn")
    s = tdev.from_ttnn(one.ttnn_tensor(), torch.int64, shape=())
    assert s.shape == () and s._parent is None
    dev = _tt_device()
    before = dev.transfers.snapshot()
    s.add_(3)
    moved = dev.transfers.since(before)
    assert (moved.h2d, moved.d2h) == (0, 0), moved
    assert int(s.cpu()) == 8
    with pytest.raises(ValueError, match="size-1 dims"):
        tdev.from_ttnn(one.ttnn_tensor(), torch.int64, shape=(2,))


def test_float_to_int_cast_saturates_outside_int32():
    """T5's relative-position buckets cast log(0) = -inf to long (and never use it): torch leaves that cast
    undefined; the device, which stores int64 as int32, saturates instead of refusing."""
    x = torch.tensor([-float("inf"), -3.7, 2.5, 1e12, float("nan")]).to("ttnn")
    got = x.to(torch.long).cpu()
    assert got.tolist() == [-(2 ** 31), -3, 2, 2 ** 31 - 128, 0]
