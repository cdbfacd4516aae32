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
    # sum/mean round their running total per 32-wide tile (bfloat16 Dst): the error scales with the partial
    # sums' magnitude, bounded by the sum of |x|, not with the (possibly cancelled) result.
    size = REDUCE[name](ttnn.to_torch(t).float().abs(), dim=-1) if name in ("sum", "mean") else ref.abs()
    assert ((ttnn.to_torch(out).float() - ref).abs() <= 2 * DTYPE_RTOL["bfloat16"] * (size + 1)).all()


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


# Three 32-wide tiles: 256, then 0.75 twice. Accumulated in a bfloat16 Dst (spacing 2 at 256) after each tile:
# 256 + 0.75 -> 256, + 0.75 -> 256. Summed exactly: 257.5 (258 in bfloat16).
_ROW = torch.cat([torch.full((32,), 8.0), torch.full((64,), 0.75 / 32)]).reshape(1, 96)


@pytest.mark.parametrize("dtype,fp32_acc,want", [("bfloat16", False, 256.0), ("bfloat16", True, 258.0),
                                                 ("float32", False, 257.5)])
def test_sum_accumulates_per_tile_in_the_dst_format(ttnn, device, dtype, fp32_acc, want):
    """The running total of a reduction is rounded to the Dst format after each 32-wide tile: bfloat16 by
    default, float32 with fp32_dest_acc_en (or a float32 input)."""
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=fp32_acc)
    got = ttnn.to_torch(ttnn.sum(dev(ttnn, device, _ROW, dtype), dim=-1, compute_kernel_config=cfg))
    assert got.float().item() == want


@pytest.mark.parametrize("dim", [-1, -2])
def test_per_tile_accumulation_along_rows_and_columns(ttnn, device, dim):
    """Along H as along W (the real op reduces H tiles the same way); mean scales each value by bf16(1/N)."""
    x = _ROW if dim == -1 else _ROW.t().contiguous()
    got = ttnn.to_torch(ttnn.sum(dev(ttnn, device, x, "bfloat16"), dim=dim)).float()
    assert got.flatten().tolist() == [256.0]
    m = ttnn.to_torch(ttnn.mean(dev(ttnn, device, x, "bfloat16"), dim=dim)).float()
    s = float(torch.tensor(1 / 96).bfloat16())
    acc = 256 * s                                     # tile 1, exact in bfloat16
    for _ in range(2):                                # tiles 2 and 3, 0.75 * s each, bfloat16 after each add
        acc = float(torch.tensor(acc + 0.75 * s).bfloat16())
    assert m.flatten().tolist() == [acc] and acc != float(torch.tensor(257.5 * s).bfloat16())
