"""The emulator's fast paths must give bit-identical results to the straightforward formulations they replace."""
import sys

import pytest
import torch

import torch_ttnn.sim.ops.matmul  # noqa: F401  (the module, not the op the package re-exports)
from torch_ttnn.sim import formats
from torch_ttnn.sim.types import MathFidelity

mm = sys.modules["torch_ttnn.sim.ops.matmul"]


def _reference_bf16_accumulate(terms):
    """The plain formulation: all K-tile partials in one batched matmul, then a bf16 scan over them."""
    k = terms[0][0].shape[-1]
    kt, pad = -(-k // 32), -k % 32
    parts = None
    for b, a in terms:
        b = torch.nn.functional.pad(b, (0, pad)).reshape(*b.shape[:-1], kt, 32).movedim(-2, -3)
        a = torch.nn.functional.pad(a, (0, 0, 0, pad)).reshape(*a.shape[:-2], kt, 32, a.shape[-1])
        parts = b @ a if parts is None else parts + b @ a
    acc = parts[..., 0, :, :].bfloat16()
    for i in range(1, kt):
        acc = (parts[..., i, :, :] + acc.float()).bfloat16()
    return acc.float()


@pytest.mark.parametrize("fid", [MathFidelity.LoFi, MathFidelity.HiFi2, MathFidelity.HiFi3, MathFidelity.HiFi4])
@pytest.mark.parametrize("bs,as_", [((40, 100), (100, 24)), ((2, 3, 33, 65), (65, 17)), ((2, 31, 96), (2, 96, 9))])
def test_bf16_accumulation_bit_identical(fid, bs, as_):
    g = torch.Generator().manual_seed(0)
    b = (torch.randn(*bs, generator=g) * 1e3 ** torch.rand(bs, generator=g)).bfloat16().float()
    a = torch.randn(*as_, generator=g).bfloat16().float()
    b.view(-1)[3] = float("inf")
    terms = mm._phases(b, a, fid, 7, 7)
    got, want = mm._accumulate(terms, False), _reference_bf16_accumulate(terms)
    assert torch.equal(got.isnan(), want.isnan())
    assert torch.equal(torch.nan_to_num(got).view(torch.int32), torch.nan_to_num(want).view(torch.int32))


def test_broadcast_shape_matches_torch():
    for shapes in [((2, 1, 3), (4, 1)), ((), (3,)), ((0, 1), (1, 5)), ((1, 0), (3, 1)), ((5,), (1, 5), (2, 1, 1))]:
        assert formats.broadcast_shape(*shapes) == tuple(torch.broadcast_shapes(*shapes))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        formats.broadcast_shape((2, 3), (4, 3))


_TINY = torch.finfo(torch.float32).tiny


@pytest.mark.parametrize("values", [
    [1.0, 0.0, 2.0], [1.0, -0.0], [1e-40, 1.0], [-1e-40, 0.0], [_TINY, 0.0], [_TINY * (1 - 2 ** -23)],
    [2.0 ** -149, 5.0, 0.0], [float("nan"), 1e-40], [float("inf"), -float("inf"), 0.0], [-3.0, 0.0],
    [float("nan"), 0.0], [3.0, -2.0],
])
def test_flush_check_agrees_with_the_masked_definition(values):
    """The fast float-reduction check decides exactly what the boolean-mask definition decides."""
    x = torch.tensor(values)
    small = x.abs() < _TINY
    y, clean = formats.flush_denormals_checked(x.clone())
    assert clean == (not bool((small & (x.view(torch.int32) != 0)).any()))
    want = x if clean else torch.where(small, 0.0, x)
    assert torch.equal(y.view(torch.int32), want.view(torch.int32))


def test_flush_check_and_weight_cache(ttnn, device):
    x = torch.tensor([1.0, -0.0, 1e-40, -1e-40, 2.0])
    y, clean = formats.flush_denormals_checked(x)
    assert not clean and torch.equal(y.view(torch.int32), torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0]).view(torch.int32))
    y, clean = formats.flush_denormals_checked(torch.tensor([0.0, 3.0]))
    assert clean
    t = ttnn.from_torch(torch.tensor([[1.0, 2.0]]), dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    E = sys.modules["torch_ttnn.sim.ops._eltwise"]
    assert torch.equal(E.fpu_operand_of(t), torch.tensor([[1.0, 2.0]])) and t._fpu_clean is not None
    t._values.copy_(torch.tensor([[1e-40, -0.0]]))  # an in-place change must invalidate the remembered check
    assert torch.equal(E.fpu_operand_of(t).view(torch.int32), torch.zeros(1, 2, dtype=torch.int32))


@pytest.mark.parametrize("values,nan_at", [([1.0, -float("nan"), 2.0], [1]), ([float("inf"), -float("inf"), 1.0], []),
                                           ([3e38, 3e38, 3e38], []), ([-float("nan")], [0])])
def test_bf16_store_writes_positive_nan_only(values, nan_at):
    """The stored bfloat16 values: every NaN +NaN (the host converter's), everything else as rounded; the
    finite-sum shortcut must not skip a NaN nor rewrite an infinite or overflowing sum."""
    from torch_ttnn.sim.types import DataType, Layout
    x = torch.tensor(values)
    y = formats.to_device_format(x, DataType.BFLOAT16, Layout.TILE)
    assert torch.isnan(y).nonzero().flatten().tolist() == nan_at
    assert all(not torch.signbit(y[i]) for i in nan_at)
    keep = [i for i in range(len(values)) if i not in nan_at]
    assert torch.equal(y[keep], x[keep].bfloat16())
