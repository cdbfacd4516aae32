"""Composite-op programs: addmm, stack/narrow/roll, the GLU family, losses, softmax variants, sorting and
scatter/gather, against torch."""
import pytest
import torch

from .utils import assert_equal, assert_with_pcc


def dev(ttnn, device, x, dtype=None, layout=None):
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.TILE_LAYOUT, device=device)


@pytest.mark.parametrize("m, k, n", [(32, 64, 32), (64, 96, 128)])
@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (0.5, 2.0)])
def test_addmm(ttnn, device, m, k, n, alpha, beta):
    torch.manual_seed(0)
    bias, a, b = torch.randn(m, n), torch.randn(m, k), torch.randn(k, n)
    out = ttnn.addmm(dev(ttnn, device, bias), dev(ttnn, device, a), dev(ttnn, device, b), alpha=alpha, beta=beta)
    assert_with_pcc(torch.addmm(bias, a, b, alpha=alpha, beta=beta), ttnn.to_torch(out), 0.999)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_stack(ttnn, device, dim):
    xs = [torch.randn(32, 64) for _ in range(3)]
    out = ttnn.stack([dev(ttnn, device, x, ttnn.float32) for x in xs], dim)
    assert_equal(torch.stack(xs, dim), ttnn.to_torch(out))


def test_narrow_and_roll(ttnn, device):
    x = torch.randn(2, 32, 64)
    t = dev(ttnn, device, x, ttnn.float32)
    assert_equal(x.narrow(2, 8, 16), ttnn.to_torch(ttnn.narrow(t, 2, 8, 16)))
    assert_equal(torch.roll(x, 5, 2), ttnn.to_torch(ttnn.roll(t, 5, 2)))
    assert_equal(torch.roll(x, [1, -3], [0, 1]), ttnn.to_torch(ttnn.roll(t, [1, -3], [0, 1])))


GLU = {"glu": lambda a, b: a * torch.sigmoid(b), "reglu": lambda a, b: a * torch.relu(b),
       "swiglu": lambda a, b: a * torch.nn.functional.silu(b), "geglu": lambda a, b: a * torch.nn.functional.gelu(b)}


@pytest.mark.parametrize("op", sorted(GLU))
def test_glu_family(ttnn, device, op):
    x = torch.randn(1, 1, 32, 128)
    a, b = x.bfloat16().float().chunk(2, -1)
    assert_with_pcc(GLU[op](a, b), ttnn.to_torch(getattr(ttnn, op)(dev(ttnn, device, x), -1)))


@pytest.mark.parametrize("op, fn", [("l1_loss", torch.nn.functional.l1_loss), ("mse_loss", torch.nn.functional.mse_loss)])
@pytest.mark.parametrize("reduction", ["NONE", "SUM", "MEAN"])
def test_losses(ttnn, device, op, fn, reduction):
    r, p = torch.randn(1, 1, 32, 64), torch.randn(1, 1, 32, 64)
    out = getattr(ttnn, op)(dev(ttnn, device, r, ttnn.float32), dev(ttnn, device, p, ttnn.float32),
                            reduction=getattr(ttnn.LossReductionMode, reduction))
    expected = fn(r, p, reduction=reduction.lower())
    torch.testing.assert_close(ttnn.to_torch(out).reshape(expected.shape), expected, rtol=1e-5, atol=1e-5)


def test_snake_beta_and_gated_units(ttnn, device):
    x, u = torch.randn(1, 1, 32, 64), torch.randn(1, 1, 32, 64)
    tx, tu = dev(ttnn, device, x, ttnn.float32), dev(ttnn, device, u, ttnn.float32)
    assert_with_pcc(x + torch.sin(0.7 * x) ** 2 / 1.3, ttnn.to_torch(ttnn.snake_beta(tx, 0.7, 1.3)))
    silu = torch.nn.functional.silu(torch.clamp(x, max=1.5)) * torch.clamp(u, -1.5, 1.5)
    assert_with_pcc(silu, ttnn.to_torch(ttnn.clamped_silu_glu(tx, tu, 1.5)))
    situ = 2.0 * torch.tanh(x / 2.0) * torch.sigmoid(x) * (3.0 * torch.tanh(u / 3.0))
    assert_with_pcc(situ, ttnn.to_torch(ttnn.situ_glu(tx, tu, 2.0, 3.0)))


@pytest.mark.parametrize("scale", [None, 0.125])
@pytest.mark.parametrize("with_mask", [False, True])
def test_scale_mask_softmax(ttnn, device, scale, with_mask):
    x = torch.randn(2, 4, 32, 64) * 4
    mask = torch.zeros(2, 1, 32, 64)
    mask[..., 48:] = -1e4
    expected = torch.softmax(x * (scale or 1.0) + (mask if with_mask else 0), -1)
    out = ttnn.scale_mask_softmax(dev(ttnn, device, x), scale, dev(ttnn, device, mask) if with_mask else None)
    assert_with_pcc(expected, ttnn.to_torch(out), 0.999)


@pytest.mark.parametrize("op", ["softmax_in_place", "scale_mask_softmax_in_place"])
def test_softmax_in_place(ttnn, device, op):
    x = torch.randn(1, 2, 32, 64)
    t = dev(ttnn, device, x)
    out = getattr(ttnn, op)(t)
    assert out is t
    assert_with_pcc(torch.softmax(x, -1), ttnn.to_torch(t), 0.999)


@pytest.mark.parametrize("descending", [False, True])
def test_sort(ttnn, device, descending):
    x = torch.randn(1, 1, 32, 64)
    values, indices = ttnn.sort(dev(ttnn, device, x, ttnn.float32), -1, descending)
    ref = torch.sort(x, -1, descending=descending)
    assert_equal(ref.values, ttnn.to_torch(values))
    assert indices.dtype == ttnn.uint16
    assert_equal(ref.indices.to(torch.int32), ttnn.to_torch(indices).to(torch.int32))


@pytest.mark.parametrize("op", ["scatter", "scatter_add"])
def test_scatter(ttnn, device, op):
    x, src = torch.randn(4, 32), torch.randn(4, 32)
    idx = torch.stack([torch.randperm(32, generator=torch.Generator().manual_seed(i)) for i in range(4)]).int()
    ti = ttnn.from_torch(idx, dtype=ttnn.int32, device=device)
    out = getattr(ttnn, op)(dev(ttnn, device, x, ttnn.float32, ttnn.ROW_MAJOR_LAYOUT), 1, ti,
                            dev(ttnn, device, src, ttnn.float32, ttnn.ROW_MAJOR_LAYOUT))
    expected = x.scatter(1, idx.long(), src) if op == "scatter" else x.scatter_add(1, idx.long(), src)
    torch.testing.assert_close(ttnn.to_torch(out), expected)


def test_tosa_gather_and_index_fill(ttnn, device):
    x = torch.randn(2, 16, 32)
    idx = torch.randint(0, 16, (2, 8), generator=torch.Generator().manual_seed(0), dtype=torch.int32)
    out = ttnn.tosa_gather(dev(ttnn, device, x, ttnn.float32, ttnn.ROW_MAJOR_LAYOUT),
                           ttnn.from_torch(idx, dtype=ttnn.int32, device=device))
    assert_equal(torch.gather(x, 1, idx.long().unsqueeze(-1).expand(-1, -1, 32)), ttnn.to_torch(out))
    filled = ttnn.index_fill(dev(ttnn, device, x, ttnn.float32), 1,
                             ttnn.from_torch(torch.tensor([1, 5], dtype=torch.int32), dtype=ttnn.int32, device=device),
                             -2.0)
    assert_equal(x.index_fill(1, torch.tensor([1, 5]), -2.0), ttnn.to_torch(filled))


def test_nonzero(ttnn, device):
    x = torch.tensor([[[[0.0, 3.0, 0.0, 1.0, 0.0, 0.0, 7.0, 0.0]]]])
    count, indices = ttnn.nonzero(dev(ttnn, device, x, ttnn.bfloat16, ttnn.ROW_MAJOR_LAYOUT))
    assert ttnn.to_torch(count)[0, 0, 0, 0] == 3
    assert ttnn.to_torch(indices)[0, 0, 0, :3].tolist() == [1, 3, 6]


def test_ema(ttnn, device):
    x = torch.randn(1, 1, 32, 16)
    y, prev = [x[..., 0]], x[..., 0]
    for t in range(1, 16):
        prev = 0.9 * prev + 0.1 * x[..., t]
        y.append(prev)
    out = ttnn.ema(dev(ttnn, device, x, ttnn.float32), 0.9)
    torch.testing.assert_close(ttnn.to_torch(out), torch.stack(y, -1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dim, b_shape", [("H", (1, 1, 1, 64)), ("W", (1, 1, 32, 1)), ("HW", (1, 1, 1, 1))])
@pytest.mark.parametrize("math_op, fn", [("ADD", torch.add), ("MUL", torch.mul)])
def test_bcast(ttnn, device, dim, b_shape, math_op, fn):
    a, b = torch.randn(1, 1, 32, 64), torch.randn(b_shape)
    out = ttnn.bcast(dev(ttnn, device, a), dev(ttnn, device, b), getattr(ttnn.BcastOpMath, math_op),
                     getattr(ttnn.BcastOpDim, dim))
    assert_with_pcc(fn(a, b), ttnn.to_torch(out))


def test_reallocate_frees_the_old_buffer(ttnn, device):
    t = dev(ttnn, device, torch.randn(64, 64))
    moved = ttnn.reallocate(t)
    assert not t.is_allocated() and moved.is_allocated()


def test_pearson_matches_tt_conventions(ttnn):
    x = torch.randn(100)
    assert ttnn.pearson_correlation_coefficient(x, x) == 1.0
    assert ttnn.pearson_correlation_coefficient(torch.zeros(10), torch.zeros(10)) == 1.0
    assert ttnn.pearson_correlation_coefficient(x, -x) < -0.999


@pytest.mark.parametrize("op, torch_op", [("adaptive_avg_pool2d", torch.nn.functional.adaptive_avg_pool2d),
                                          ("adaptive_max_pool2d", torch.nn.functional.adaptive_max_pool2d)])
@pytest.mark.parametrize("output_size", [[1, 1], [3, 5], [7, 7]])
def test_adaptive_pools(ttnn, device, op, torch_op, output_size):
    n, c, h, w = 2, 32, 14, 20
    x = torch.randn(n, c, h, w)
    flat = x.permute(0, 2, 3, 1).reshape(1, 1, n * h * w, c)
    out = getattr(ttnn, op)(dev(ttnn, device, flat, ttnn.bfloat16, ttnn.ROW_MAJOR_LAYOUT), n, h, w, c, output_size)
    oh, ow = output_size
    expected = torch_op(x.bfloat16().float(), output_size).permute(0, 2, 3, 1).reshape(1, 1, n * oh * ow, c)
    assert_with_pcc(expected, ttnn.to_torch(out))
