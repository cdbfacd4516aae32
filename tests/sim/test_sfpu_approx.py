"""Approximate SFPU modes compute the card's approximate algorithms (sim/ops/_sfpu_approx.py), not the exact
function: each test checks a value derived by hand from the algorithm, the size of the error against the exact
function, and that the default (accurate) path is unchanged."""
import pytest
import torch

F = torch.nn.functional


def dev(ttnn, device, x, dtype="float32"):
    return ttnn.from_torch(x, dtype=getattr(ttnn, dtype), layout=ttnn.TILE_LAYOUT, device=device)


@pytest.mark.parametrize("dtype, at0, at1", [
    # x = 0: A*0 + (B - C) = 32500.818 -> 32501 = 0x7ef5, << 15 = 0x3f7a8000 = 0.978515625 (float32 Dst); a bfloat16
    # Dst keeps the top 16 bits: 0x3f7a = 0.9765625. x = 1: 369.3299 + 32500.818 = 32870.148 -> 32870 = 0x8066,
    # << 15 = 0x40330000 = 2.796875 (exact in both).
    ("float32", 0.978515625, 2.796875),
    ("bfloat16", 0.9765625, 2.796875),
])
def test_exp_fast_is_schraudolph(ttnn, device, dtype, at0, at1):
    t = dev(ttnn, device, torch.tensor([[0.0, 1.0, -100.0]]), dtype)
    got = ttnn.to_torch(ttnn.exp(t, fast_and_approximate_mode=True)).float()[0]
    assert got.tolist() == [at0, at1, 0.0]


def test_exp_fast_error_and_default_unchanged(ttnn, device):
    x = torch.linspace(-20, 20, 64 * 64).reshape(64, 64)
    t = dev(ttnn, device, x)
    exact = torch.exp(x.double())
    fast = ttnn.to_torch(ttnn.exp(t, fast_and_approximate_mode=True)).double()
    rel = ((fast - exact) / exact).abs()
    assert 0.02 < rel.max() < 0.04, rel.max()      # Schraudolph with 8 fractional bits: ~3% at worst
    default = ttnn.to_torch(ttnn.exp(t)).double()
    assert ((default - exact) / exact).abs().max() < 1e-6  # the accurate mode: torch's exp, one rounding
    assert torch.equal(ttnn.to_torch(ttnn.exp(t, fast_and_approximate_mode=False)), ttnn.to_torch(ttnn.exp(t)))


def test_tanh_fast_piecewise_linear(ttnn, device):
    x = torch.linspace(-5, 5, 64 * 64).reshape(64, 64)
    t = dev(ttnn, device, x)
    fast = ttnn.to_torch(ttnn.tanh(t, fast_and_approximate_mode=True)).float()
    err = (fast - torch.tanh(x)).abs().max()
    assert 0.015 < err < 0.02, err                 # the kernel comment's 0.0188 max abs error in float32
    assert torch.equal(fast, -fast.flip(0).flip(1))  # odd: the sign of x is kept
    assert (fast[x.abs() >= 3] == torch.sign(x[x.abs() >= 3])).all()  # the last segment is exactly (0, 1)
    # at |x| = 0.5 both neighbouring segments give 0.96191406*0.5 = 0.57617188*0.5 + 0.19287109 (fp16 values)
    half = ttnn.to_torch(ttnn.tanh(dev(ttnn, device, torch.tensor([[0.5]])), fast_and_approximate_mode=True))
    assert abs(float(half) - 0.4809570) < 1e-6
    assert (ttnn.to_torch(ttnn.tanh(t)).float() - torch.tanh(x)).abs().max() < 1e-6


def test_sigmoid_modes(ttnn, device):
    x = torch.linspace(-6, 6, 32 * 64).reshape(32, 64)
    t = dev(ttnn, device, x)
    ref = torch.sigmoid(x)
    lut = ttnn.to_torch(ttnn.sigmoid(t, mode=ttnn.SigmoidMode.FastApproximate)).float()
    # 0.5 + 0.2265625 * 0.5 below |x| = 1; saturated at |x| >= 2
    probe = ttnn.to_torch(ttnn.sigmoid(dev(ttnn, device, torch.tensor([[0.5, -3.0, 3.0]])),
                                       mode=ttnn.SigmoidMode.FastApproximate)).float()[0]
    assert probe.tolist() == [0.61328125, 0.0, 1.0]
    assert 0.05 < (lut - ref).abs().max() < 0.13
    fast_exp = ttnn.to_torch(ttnn.sigmoid(t, mode=ttnn.SigmoidMode.AccurateWithFastExp)).float()
    assert 1e-3 < (fast_exp - ref).abs().max() < 0.01   # 1/(1 + e) with e ~3% off
    assert torch.equal(fast_exp, ttnn.to_torch(ttnn.sigmoid_accurate(t, fast_and_approximate_mode=True)).float())
    assert (ttnn.to_torch(ttnn.sigmoid(t)).float() - ref).abs().max() < 1e-6


def test_gelu_fast_lut(ttnn, device):
    x = torch.linspace(-5, 5, 32 * 64).reshape(32, 64)
    t = dev(ttnn, device, x)
    lut = ttnn.to_torch(ttnn.gelu(t, variant=ttnn.GeluVariant.FastLut)).float()
    err = (lut - F.gelu(x)).abs().max()
    assert 5e-3 < err < 0.03, err                   # the docstring's "~1% absolute error"
    big = x.abs() >= 3                                # last segment 0.5*|x|: gelu = x above, 0 below
    assert torch.equal(lut[big], torch.where(x[big] > 0, x[big], torch.zeros_like(x[big])))
    assert (ttnn.to_torch(ttnn.gelu(t)).float() - F.gelu(x)).abs().max() < 1e-6


def test_sqrt_rsqrt_fast_drop_the_negative_guard(ttnn, device):
    x = torch.tensor([[0.0, 0.25, 2.0, 1e6, -4.0, -1.0]])
    t = dev(ttnn, device, x)
    for op in (ttnn.sqrt, ttnn.rsqrt):
        acc = ttnn.to_torch(op(t)).float()[0]
        fast = ttnn.to_torch(op(t, fast_and_approximate_mode=True)).float()[0]
        assert torch.equal(fast[:4], acc[:4])          # non-negative inputs: the same algorithm, same result
        assert acc[4:].isnan().all() and not fast[4:].isnan().any()


def test_fused_activations_follow_their_parameters(ttnn, device):
    from torch_ttnn.sim.ops.unary import activation_fn
    x = torch.linspace(-4, 4, 256)
    assert (activation_fn("gelu_approx")(x) - F.gelu(x)).abs().max() > 5e-3  # (GELU, 1): the LUT
    assert torch.equal(activation_fn("gelu")(x), F.gelu(x))
    assert ((activation_fn("exp")(x) - torch.exp(x)) / torch.exp(x)).abs().max() > 0.02  # (EXP, 1): fast exp
    assert (activation_fn("sigmoid_approx")(x) - torch.sigmoid(x)).abs().max() > 0.05


def test_golden_functions_stay_exact(ttnn):
    x = torch.linspace(-3, 3, 64)
    assert torch.equal(ttnn.get_golden_function(ttnn.exp)(x, fast_and_approximate_mode=True), torch.exp(x))
    assert torch.equal(ttnn.get_golden_function(ttnn.tanh)(x, fast_and_approximate_mode=True), torch.tanh(x))


@pytest.mark.parametrize("approx", [True, False])
def test_softmax_exp_follows_math_approx_mode(ttnn, device, approx):
    x = torch.randn(2, 32, 64, generator=torch.Generator().manual_seed(0)) * 3
    t = dev(ttnn, device, x)
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, math_approx_mode=approx,
                                           fp32_dest_acc_en=True)
    got = ttnn.to_torch(ttnn.softmax(t, dim=-1, compute_kernel_config=cfg)).float()
    err = ((got - torch.softmax(x, -1)) / torch.softmax(x, -1)).abs().max()
    if approx:
        assert 5e-3 < err < 0.07, err    # per-element exp errors of ~3% that the normalisation does not cancel
        default = ttnn.to_torch(ttnn.softmax(t, dim=-1)).float()  # the default config has math_approx_mode on
        assert torch.equal(default, got)
    else:
        assert err < 1e-5, err
