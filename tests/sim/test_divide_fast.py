"""divide's two device paths (binary_ng 0.81.1) and sigmoid's vector_mode.

divide runs the SFPU kernel (a * _sfpu_reciprocal_<2>(b), special cases for b == 0 and a == b) unless
fast_and_approximate_mode=True meets operands that are not both float32: then the FPU multiplies a by the
approximate reciprocal of b, held in a bfloat16 buffer. sigmoid's vector_mode 2 (C) computes the left 16 columns
of each tile only; 4 (RC) all; anything else is the real op's TT_FATAL."""
import pytest
import torch

from helpers import pcc
from torch_ttnn.sim.ops import _sfpu_approx as A


def _dev(ttnn, device, x, dtype="bfloat16"):
    return ttnn.from_torch(x, dtype=getattr(ttnn, dtype), layout=ttnn.TILE_LAYOUT, device=device)


@pytest.mark.parametrize("steps, bound", [(0, 2.2e-4), (1, 2.2e-4), (2, 1.2e-7)])
def test_reciprocal_error_bounds(steps, bound):
    """Quadratic seed + 1 Newton step: ~2**-12 relative (bfloat16-exact after rounding); 2 steps: ~1 float32
    ulp. Step count 0 (the approximate mode) is the 1-step kernel, as the Wormhole source says."""
    err = A.max_rel_error_reciprocal(steps)
    assert err < bound
    if steps == 2:
        assert err > 0  # not the exact reciprocal


@pytest.mark.parametrize("x, want", [
    (0.0, float("inf")), (-0.0, float("-inf")), (float("inf"), 0.0), (float("-inf"), -0.0), (2.0, 0.5),
    (-4.0, -0.25), (1e-39, float("inf")), (2.0 ** 127, 0.0),  # denormal in: read as zero; 2**-127 out: flushed
])
def test_reciprocal_special_values(x, want):
    got = A.reciprocal_sfpu(torch.tensor([x]), 2)
    assert torch.equal(got, torch.tensor([want])) and torch.signbit(got) == torch.signbit(torch.tensor([want]))


@pytest.mark.parametrize("a, b, want", [
    (0.0, 0.0, float("nan")), (3.0, 0.0, float("inf")), (-3.0, 0.0, float("-inf")), (3.0, -0.0, float("inf")),
    (float("inf"), float("inf"), 1.0), (7.0, 7.0, 1.0), (1.0, 4.0, 0.25),
])
def test_divide_kernel_special_cases(a, b, want):
    got = A.divide_sfpu(torch.tensor([a]), torch.tensor([b]))
    torch.testing.assert_close(got, torch.tensor([want]), equal_nan=True, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["bfloat16", "bfloat8_b"])
def test_fast_mode_is_fpu_times_bf16_reciprocal(ttnn, device, dtype):
    a, b = torch.randn(32, 64) * 3, torch.rand(32, 64) * 4 + 0.25
    ta, tb = _dev(ttnn, device, a, dtype), _dev(ttnn, device, b, dtype)
    av, bv = ttnn.to_torch(ta).float(), ttnn.to_torch(tb).float()
    recip = A.store_dst(A.reciprocal_sfpu(bv, 0), False)  # the approximate recip as the bf16 buffer holds it
    assert torch.equal(recip, recip.bfloat16().float())
    want = ttnn.to_torch(ttnn.from_torch(av * recip, dtype=getattr(ttnn, dtype), layout=ttnn.TILE_LAYOUT)).float()
    got = ttnn.to_torch(ttnn.divide(ta, tb, fast_and_approximate_mode=True)).float()
    assert torch.equal(got, want)
    if dtype == "bfloat16":  # within a few bf16 ulps of a/b (block-float outputs share exponents per row)
        torch.testing.assert_close(got, av / bv, rtol=2 ** -6, atol=0)
    else:
        assert pcc(got, av / bv) > 0.99


def test_default_divide_is_the_sfpu_kernel(ttnn, device):
    a, b = torch.randn(64, 64), torch.rand(64, 64) + 0.1
    ta, tb = _dev(ttnn, device, a), _dev(ttnn, device, b)
    av, bv = ttnn.to_torch(ta).float(), ttnn.to_torch(tb).float()
    want = A.divide_sfpu(av, bv).bfloat16()
    assert torch.equal(ttnn.to_torch(ttnn.divide(ta, tb)), want)
    assert torch.equal(ttnn.to_torch(ttnn.div(ta, tb)), want)  # the alias runs the same kernel


def test_float32_ignores_fast_mode(ttnn, device):
    """Two float32 operands stay on the SFPU whatever fast_and_approximate_mode says (is_binary_sfpu_op)."""
    a, b = torch.randn(32, 32), torch.rand(32, 32) + 0.5
    fa, fb = _dev(ttnn, device, a, "float32"), _dev(ttnn, device, b, "float32")
    fast = ttnn.to_torch(ttnn.divide(fa, fb, fast_and_approximate_mode=True))
    assert torch.equal(fast, ttnn.to_torch(ttnn.divide(fa, fb)))
    assert torch.equal(fast, A.divide_sfpu(a, b))


def test_inplace_div_takes_fast_mode(ttnn, device):
    a, b = torch.randn(32, 32), torch.rand(32, 32) + 0.5
    want = ttnn.to_torch(ttnn.divide(_dev(ttnn, device, a), _dev(ttnn, device, b), fast_and_approximate_mode=True))
    ta = _dev(ttnn, device, a)
    ttnn.div_(ta, _dev(ttnn, device, b), fast_and_approximate_mode=True)
    assert torch.equal(ttnn.to_torch(ta), want)


# --- sigmoid vector_mode -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(32, 32), (2, 40, 70), (3, 64)])
@pytest.mark.parametrize("mode", ["Accurate", "FastApproximate"])
def test_sigmoid_vector_mode_c_computes_left_half_of_each_tile(ttnn, device, shape, mode):
    x = torch.randn(*shape) * 3
    t = _dev(ttnn, device, x)
    xb = ttnn.to_torch(t).float()
    smode = getattr(ttnn.SigmoidMode, mode)
    full = ttnn.to_torch(ttnn.sigmoid(t, vector_mode=4, mode=smode)).float()
    half = ttnn.to_torch(ttnn.sigmoid(t, vector_mode=2, mode=smode)).float()
    left = (torch.arange(shape[-1]) % 32) < 16
    assert torch.equal(half[..., left], full[..., left])
    assert torch.equal(half[..., ~left], xb[..., ~left])
    assert torch.equal(full, ttnn.to_torch(ttnn.sigmoid(t, mode=smode)).float())  # 4 is the default


def test_sigmoid_vector_mode_row_major_takes_faces_of_1024_runs(ttnn, device):
    x = torch.randn(2048)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)
    got = ttnn.to_torch(ttnn.sigmoid(t, vector_mode=2)).float()
    face = (torch.arange(2048) % 1024) // 256
    done = (face == 0) | (face == 2)
    assert torch.equal(got[~done], x.bfloat16().float()[~done])
    torch.testing.assert_close(got[done], torch.sigmoid(x.bfloat16().float()[done]), rtol=0.02, atol=0.01)


@pytest.mark.parametrize("bad", [0, 1, 3, 5, True, 2.0])
def test_sigmoid_vector_mode_rejects_other_values(ttnn, device, bad):
    with pytest.raises(RuntimeError, match=r"Expected vector mode C \(2\) or RC \(4\)"):
        ttnn.sigmoid(_dev(ttnn, device, torch.randn(32, 32)), vector_mode=bad)
