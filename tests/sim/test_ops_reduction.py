"""Reductions: dims as int/list/None, keepdim, padding never leaking, mean's bf16 scaler, index ops, scans."""
import pytest
import torch
from helpers import DTYPE_RTOL, assert_pcc

REDUCE = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin,
          "std": torch.std, "var": torch.var}
DIMS = [-1, 0, [0, 1], [1, 2], None]


def dev(ttnn, device, x, dtype="float32", layout="TILE_LAYOUT"):
    return ttnn.from_torch(x, dtype=getattr(ttnn, dtype), layout=getattr(ttnn, layout), device=device)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", list(REDUCE))
def test_reduce_matches_torch(ttnn, device, name, dim, keepdim):
    x = torch.randn(2, 33, 65, generator=torch.Generator().manual_seed(4))
    got = ttnn.to_torch(getattr(ttnn, name)(dev(ttnn, device, x), dim=dim, keepdim=keepdim))
    d = tuple(range(3)) if dim is None else dim
    ref = REDUCE[name](x, dim=d, keepdim=keepdim)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("layout", ["TILE_LAYOUT", "ROW_MAJOR_LAYOUT"])
def test_bfloat16_and_layouts(ttnn, device, name, layout):
    x = torch.randn(3, 40, 50)
    t = dev(ttnn, device, x, "bfloat16", layout)
    out = getattr(ttnn, name)(t, dim=-1)
    assert out.dtype == ttnn.bfloat16 and out.layout == t.layout
    ref = REDUCE[name](ttnn.to_torch(t).float(), dim=-1)
    assert_pcc(ref, ttnn.to_torch(out), 0.999)
    assert ((ttnn.to_torch(out).float() - ref).abs() <= 2 * DTYPE_RTOL["bfloat16"] * (ref.abs() + 1)).all()


def test_padding_never_leaks(ttnn, device):
    x = -(torch.rand(33, 65) + 1)  # all negative: a zero pad in the 64x96 tile grid would win max and dilute mean
    t = dev(ttnn, device, x)
    assert t.padded_shape == (64, 96)
    assert (ttnn.to_torch(ttnn.max(t, dim=-1)) < 0).all() and (ttnn.to_torch(ttnn.max(t, dim=0)) < 0).all()
    assert torch.allclose(ttnn.to_torch(ttnn.mean(t, dim=-1)), x.mean(-1), atol=1e-6)
    pos = dev(ttnn, device, -x)
    assert (ttnn.to_torch(ttnn.min(pos)) > 0).all()


def test_mean_scaler_is_bfloat16_for_bf16_inputs(ttnn, device):
    x = torch.full((4, 3), 3.0)
    got = ttnn.to_torch(ttnn.mean(dev(ttnn, device, x, "bfloat16", "ROW_MAJOR_LAYOUT"), dim=-1)).float()
    scaler = torch.tensor(1 / 3).bfloat16().float()  # 0.333984375
    assert torch.equal(got, (9.0 * scaler).bfloat16().float().expand(4))
    exact = ttnn.to_torch(ttnn.mean(dev(ttnn, device, x), dim=-1))
    assert torch.allclose(exact, torch.full((4,), 3.0))


def test_scalar_and_correction(ttnn, device):
    x = torch.randn(5, 32)
    t = dev(ttnn, device, x)
    assert torch.allclose(ttnn.to_torch(ttnn.sum(t, dim=-1, scalar=0.5)), x.sum(-1) * 0.5, atol=1e-5)
    assert torch.allclose(ttnn.to_torch(ttnn.var(t, dim=-1, correction=False)), x.var(-1, correction=0), atol=1e-5)


def test_prod_argmax_topk(ttnn, device):
    x = torch.rand(4, 33) + 0.5
    t = dev(ttnn, device, x)
    assert torch.allclose(ttnn.to_torch(ttnn.prod(t, dim=1)), x.prod(1), rtol=1e-5)
    assert torch.allclose(ttnn.to_torch(ttnn.prod(t)), x.prod(), rtol=1e-4)
    am = ttnn.argmax(dev(ttnn, device, x, "bfloat16", "ROW_MAJOR_LAYOUT"), dim=-1)
    assert am.dtype == ttnn.uint32 and am.layout == ttnn.ROW_MAJOR_LAYOUT
    assert torch.equal(ttnn.to_torch(am), x.bfloat16().argmax(-1))
    assert ttnn.to_torch(ttnn.argmax(t)).item() == x.argmax().item()
    vals, idx = ttnn.topk(t, 5)
    rv, ri = torch.topk(x, 5)
    assert idx.dtype == ttnn.uint16 and torch.equal(ttnn.to_torch(vals), rv)
    assert torch.equal(ttnn.to_torch(idx).long(), ri)
    vals, _ = ttnn.topk(t, 3, dim=0, largest=False)
    assert torch.equal(ttnn.to_torch(vals), torch.topk(x, 3, dim=0, largest=False).values)


def test_scans(ttnn, device):
    x = torch.randn(3, 4, 40)
    t = dev(ttnn, device, x)
    assert torch.allclose(ttnn.to_torch(ttnn.cumsum(t, 1)), x.cumsum(1), atol=1e-5)
    assert torch.allclose(ttnn.to_torch(ttnn.cumsum(t, -1, reverse_order=True)), x.flip(-1).cumsum(-1).flip(-1),
                          atol=1e-5)
    assert torch.allclose(ttnn.to_torch(ttnn.cumprod(t, 2)), x.cumprod(2), atol=1e-5)
    assert torch.allclose(ttnn.to_torch(ttnn.moreh_cumsum(t, 0)), x.cumsum(0), atol=1e-5)
    assert ttnn.cumsum(t, 1, dtype=ttnn.bfloat16).dtype == ttnn.bfloat16


def test_errors_and_costs(ttnn, device):
    t = dev(ttnn, device, torch.randn(3, 32))
    with pytest.raises(RuntimeError, match="out of range"):
        ttnn.sum(t, dim=2)
    with pytest.raises(RuntimeError, match="twice"):
        ttnn.sum(t, dim=[1, -1])
    with pytest.raises(RuntimeError, match="k=40"):
        ttnn.topk(t, 40)
    with pytest.raises(RuntimeError, match="must be on device"):
        ttnn.mean(ttnn.from_torch(torch.randn(3, 3)))
    n = len(device.op_records)
    ttnn.topk(t, 4)
    ttnn.sum(t, dim=-1)
    assert [r.name for r in device.op_records[n:]] == ["ttnn.topk", "ttnn.sum"]
