"""Backward-op programs as TT-NN's tests write them: upstream gradient and input on the device, the op's list of
input gradients against torch autograd of the forward op (an independent table here, not the emulator's)."""
import pytest
import torch

from .utils import assert_with_pcc

F = torch.nn.functional
# op -> (torch forward, input domain)
UNARY_BW = {
    "abs_bw": (torch.abs, (-2, 2)), "acos_bw": (torch.acos, (-0.9, 0.9)), "acosh_bw": (torch.acosh, (1.2, 4)),
    "asin_bw": (torch.asin, (-0.9, 0.9)), "asinh_bw": (torch.asinh, (-2, 2)), "atan_bw": (torch.atan, (-2, 2)),
    "atanh_bw": (torch.atanh, (-0.9, 0.9)), "cos_bw": (torch.cos, (-3, 3)), "cosh_bw": (torch.cosh, (-2, 2)),
    "deg2rad_bw": (torch.deg2rad, (-90, 90)), "digamma_bw": (torch.digamma, (0.5, 4)), "erf_bw": (torch.erf, (-2, 2)),
    "erfc_bw": (torch.erfc, (-2, 2)), "erfinv_bw": (torch.erfinv, (-0.9, 0.9)), "exp2_bw": (torch.exp2, (-2, 2)),
    "exp_bw": (torch.exp, (-2, 2)), "expm1_bw": (torch.expm1, (-2, 2)), "frac_bw": (torch.frac, (-2, 2)),
    "hardsigmoid_bw": (F.hardsigmoid, (-4, 4)), "hardswish_bw": (F.hardswish, (-4, 4)),
    "i0_bw": (torch.special.i0, (-2, 2)), "lgamma_bw": (torch.lgamma, (0.5, 4)), "log10_bw": (torch.log10, (0.2, 4)),
    "log1p_bw": (torch.log1p, (-0.5, 4)), "log2_bw": (torch.log2, (0.2, 4)), "log_bw": (torch.log, (0.2, 4)),
    "log_sigmoid_bw": (F.logsigmoid, (-4, 4)), "logit_bw": (torch.logit, (0.1, 0.9)),
    "multigammaln_bw": (lambda x: torch.mvlgamma(x, 4), (1.6, 4)), "neg_bw": (torch.neg, (-2, 2)),
    "rad2deg_bw": (torch.rad2deg, (-2, 2)), "reciprocal_bw": (torch.reciprocal, (0.5, 3)),
    "relu6_bw": (F.relu6, (-3, 8)), "relu_bw": (torch.relu, (-2, 2)), "rsqrt_bw": (torch.rsqrt, (0.5, 4)),
    "selu_bw": (F.selu, (-2, 2)), "sigmoid_bw": (torch.sigmoid, (-4, 4)), "silu_bw": (F.silu, (-4, 4)),
    "sin_bw": (torch.sin, (-3, 3)), "sinh_bw": (torch.sinh, (-2, 2)), "softsign_bw": (F.softsign, (-3, 3)),
    "sqrt_bw": (torch.sqrt, (0.5, 4)), "square_bw": (torch.square, (-2, 2)), "tan_bw": (torch.tan, (-1, 1)),
    "tanh_bw": (torch.tanh, (-2, 2)), "tanhshrink_bw": (F.tanhshrink, (-2, 2)), "gelu_bw": (F.gelu, (-3, 3)),
    "celu_bw": (F.celu, (-2, 2)), "elu_bw": (F.elu, (-2, 2)), "hardshrink_bw": (F.hardshrink, (-2, 2)),
    "softshrink_bw": (F.softshrink, (-2, 2)), "hardtanh_bw": (F.hardtanh, (-2, 2)),
    "leaky_relu_bw": (F.leaky_relu, (-2, 2)), "softplus_bw": (F.softplus, (-3, 3)),
}
ZERO_GRAD = ["ceil_bw", "floor_bw", "round_bw", "trunc_bw", "sign_bw", "fill_zero_bw"]


def torch_grads(fwd, grad, *inputs):
    leaves = [x.detach().float().requires_grad_(True) for x in inputs]
    fwd(*leaves).backward(grad.float())
    return [x.grad for x in leaves]


def uniform(shape, low, high, seed):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * (high - low) + low


def on_device(ttnn, device, x, dtype):
    return ttnn.from_torch(x, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)


@pytest.mark.parametrize("op", sorted(UNARY_BW))
def test_unary_backward(ttnn, device, op):
    fwd, (low, high) = UNARY_BW[op]
    x = uniform((1, 1, 32, 64), low, high, 0).bfloat16()
    grad = uniform((1, 1, 32, 64), -1, 1, 1).bfloat16()
    (expected,) = torch_grads(fwd, grad, x)
    out = getattr(ttnn, op)(on_device(ttnn, device, grad, ttnn.bfloat16), on_device(ttnn, device, x, ttnn.bfloat16))
    assert isinstance(out, list) and len(out) == 1
    assert_with_pcc(expected, ttnn.to_torch(out[0]), 0.999)


@pytest.mark.parametrize("op", ZERO_GRAD)
def test_piecewise_constant_ops_have_zero_gradient(ttnn, device, op):
    x, grad = uniform((32, 32), -3, 3, 0), uniform((32, 32), -1, 1, 1)
    out = getattr(ttnn, op)(on_device(ttnn, device, grad, ttnn.float32), on_device(ttnn, device, x, ttnn.float32))
    assert torch.equal(ttnn.to_torch(out[0]), torch.zeros(32, 32))


BINARY_BW = {
    "atan2_bw": torch.atan2, "hypot_bw": torch.hypot, "ldexp_bw": lambda a, b: a * torch.exp2(b),
    "logaddexp_bw": torch.logaddexp, "logaddexp2_bw": torch.logaddexp2, "max_bw": torch.maximum,
    "min_bw": torch.minimum, "squared_difference_bw": lambda a, b: (a - b) ** 2, "xlogy_bw": torch.xlogy,
    "add_bw": torch.add, "sub_bw": torch.sub, "mul_bw": torch.mul, "div_bw": torch.div, "rsub_bw": lambda a, b: b - a,
    "bias_gelu_bw": lambda a, b: F.gelu(a + b), "fmod_bw": torch.fmod, "remainder_bw": torch.remainder,
}


@pytest.mark.parametrize("op", sorted(BINARY_BW))
def test_binary_backward(ttnn, device, op):
    a, b = uniform((1, 1, 32, 64), 0.5, 3, 0), uniform((1, 1, 32, 64), 0.5, 3, 2)
    grad = uniform((1, 1, 32, 64), -1, 1, 1)
    expected = torch_grads(BINARY_BW[op], grad, a, b)
    out = getattr(ttnn, op)(*(on_device(ttnn, device, t, ttnn.float32) for t in (grad, a, b)))
    assert len(out) == 2
    for want, got in zip(expected, out):
        assert_with_pcc(want, ttnn.to_torch(got))


@pytest.mark.parametrize("op, fwd", [("add_bw", lambda a: a + 2.0), ("mul_bw", lambda a: a * 2.0),
                                     ("sub_bw", lambda a: a - 2.0), ("div_bw", lambda a: a / 2.0)])
def test_scalar_overloads_return_one_gradient(ttnn, device, op, fwd):
    a, grad = uniform((32, 32), -2, 2, 0), uniform((32, 32), -1, 1, 1)
    (expected,) = torch_grads(fwd, grad, a)
    out = getattr(ttnn, op)(on_device(ttnn, device, grad, ttnn.float32), on_device(ttnn, device, a, ttnn.float32), 2.0)
    assert len(out) == 1
    torch.testing.assert_close(ttnn.to_torch(out[0]), expected)


@pytest.mark.parametrize("op, fwd, extra", [
    ("addcmul_bw", lambda a, b, c: torch.addcmul(a, b, c, value=0.5), (0.5,)),
    ("addcdiv_bw", lambda a, b, c: torch.addcdiv(a, b, c, value=0.5), (0.5,)),
    ("lerp_bw", torch.lerp, ()),
])
def test_ternary_backward(ttnn, device, op, fwd, extra):
    a, b, c = (uniform((32, 32), 0.5, 2, s) for s in (0, 2, 3))
    grad = uniform((32, 32), -1, 1, 1)
    expected = torch_grads(fwd, grad, a, b, c)
    out = getattr(ttnn, op)(*(on_device(ttnn, device, t, ttnn.float32) for t in (grad, a, b, c)), *extra)
    for want, got in zip(expected, out):
        assert_with_pcc(want, ttnn.to_torch(got))


def test_where_bw_gives_gradients_of_the_two_branches(ttnn, device):
    cond = (torch.rand(32, 32, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    a, b, grad = torch.randn(32, 32), torch.randn(32, 32), torch.randn(32, 32)
    out = ttnn.where_bw(*(on_device(ttnn, device, t, ttnn.float32) for t in (grad, cond, a, b)))
    torch.testing.assert_close(ttnn.to_torch(out[0]), grad * cond)
    torch.testing.assert_close(ttnn.to_torch(out[1]), grad * (1 - cond))


def test_are_required_outputs_skips_gradients(ttnn, device):
    a, b, grad = torch.randn(32, 32), torch.randn(32, 32), torch.randn(32, 32)
    out = ttnn.subalpha_bw(*(on_device(ttnn, device, t, ttnn.float32) for t in (grad, a, b)), 2.0,
                           are_required_outputs=[False, True])
    assert out[0] is None
    torch.testing.assert_close(ttnn.to_torch(out[1]), -2.0 * grad)


def test_embedding_bw_accumulates_rows(ttnn, device):
    ids = torch.tensor([[0, 3, 3, 1]], dtype=torch.int32)
    weight = torch.randn(8, 32)
    grad = torch.randn(1, 4, 32)
    out = ttnn.embedding_bw(ttnn.from_torch(ids, dtype=ttnn.uint32, device=device),
                            on_device(ttnn, device, weight, ttnn.float32), on_device(ttnn, device, grad, ttnn.float32))
    expected = torch.zeros(8, 32).index_add_(0, ids.reshape(-1).long(), grad.reshape(4, 32))
    torch.testing.assert_close(ttnn.to_torch(out), expected)


def test_repeat_and_concat_backward(ttnn, device):
    x, grad = torch.randn(1, 1, 32, 32), torch.randn(1, 1, 32, 96)
    (got,) = ttnn.repeat_bw(on_device(ttnn, device, grad, ttnn.float32), on_device(ttnn, device, x, ttnn.float32),
                            [1, 1, 1, 3])
    torch.testing.assert_close(ttnn.to_torch(got), grad.reshape(1, 1, 32, 3, 32).sum(3))
    a, b = torch.randn(1, 1, 32, 32), torch.randn(1, 1, 32, 64)
    ga, gb = ttnn.concat_bw(on_device(ttnn, device, grad, ttnn.float32), on_device(ttnn, device, a, ttnn.float32),
                            on_device(ttnn, device, b, ttnn.float32), 3)
    torch.testing.assert_close(ttnn.to_torch(ga), grad[..., :32])
    torch.testing.assert_close(ttnn.to_torch(gb), grad[..., 32:])
