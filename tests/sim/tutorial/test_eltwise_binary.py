"""Binary eltwise programs: the short aliases, in-place variants, alpha forms, integer ops (exact), prelu, outer,
and ttnn.Tensor's Python operators, each checked against torch."""
import pytest
import torch

from .utils import assert_equal, assert_with_pcc

ALIASES = [("mul", torch.mul), ("sub", torch.sub), ("div", torch.div), ("multiply", torch.mul),
           ("subtract", torch.sub), ("divide", torch.div)]


def device_tensor(ttnn, device, x, dtype=None):
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)


@pytest.mark.parametrize("op, torch_op", ALIASES)
@pytest.mark.parametrize("scalar", [False, True])
def test_binary_alias(ttnn, device, op, torch_op, scalar):
    torch.manual_seed(0)
    a = torch.randn(1, 1, 32, 64, dtype=torch.bfloat16)
    b = 1.5 if scalar else torch.rand(1, 1, 32, 64, dtype=torch.bfloat16) + 0.5
    out = getattr(ttnn, op)(device_tensor(ttnn, device, a), b if scalar else device_tensor(ttnn, device, b))
    assert_with_pcc(torch_op(a.float(), b if scalar else b.float()), ttnn.to_torch(out))


INPLACE = [("add_", torch.add), ("sub_", torch.sub), ("mul_", torch.mul), ("div_", torch.div),
           ("rsub_", lambda a, b: b - a), ("squared_difference_", lambda a, b: (a - b) ** 2),
           ("logaddexp_", torch.logaddexp), ("logaddexp2_", torch.logaddexp2),
           ("ldexp_", lambda a, b: a * torch.exp2(b)), ("bias_gelu_", lambda a, b: torch.nn.functional.gelu(a + b)),
           ("gt_", torch.gt), ("ge_", torch.ge), ("lt_", torch.lt), ("le_", torch.le), ("eq_", torch.eq),
           ("ne_", torch.ne), ("logical_and_", torch.logical_and), ("logical_or_", torch.logical_or),
           ("logical_xor_", torch.logical_xor)]


@pytest.mark.parametrize("op, torch_op", INPLACE)
def test_inplace_binary(ttnn, device, op, torch_op):
    torch.manual_seed(1)
    a = torch.randn(1, 1, 32, 64).to(torch.bfloat16)
    b = (torch.rand(1, 1, 1, 64) + 0.5).to(torch.bfloat16)  # broadcast over rows
    if op in ("eq_", "ne_"):
        b = a[..., :1, :].clone()
    ta = device_tensor(ttnn, device, a)
    out = getattr(ttnn, op)(ta, device_tensor(ttnn, device, b))
    assert out is ta  # in place: the first operand is the result
    assert_with_pcc(torch_op(a.float(), b.float()).float(), ttnn.to_torch(ta), 0.999)


def test_inplace_rejects_growing_the_first_operand(ttnn, device):
    a = device_tensor(ttnn, device, torch.randn(1, 1, 1, 64))
    b = device_tensor(ttnn, device, torch.randn(1, 1, 32, 64))
    with pytest.raises(RuntimeError, match="output_tensor has shape"):
        ttnn.add_(a, b)


@pytest.mark.parametrize("op, sign", [("addalpha", 1.0), ("subalpha", -1.0)])
@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_alpha_forms(ttnn, device, op, sign, alpha):
    a, b = torch.randn(2, 32, 64), torch.randn(2, 32, 64)
    out = getattr(ttnn, op)(device_tensor(ttnn, device, a, ttnn.float32), device_tensor(ttnn, device, b, ttnn.float32),
                            alpha)
    torch.testing.assert_close(ttnn.to_torch(out), a + sign * alpha * b, rtol=1e-5, atol=1e-5)


def test_div_no_nan_and_floor_div(ttnn, device):
    a = torch.tensor([[7.0, -7.0, 3.0, 5.0] * 8] * 32)
    b = torch.tensor([[2.0, 2.0, 0.0, -4.0] * 8] * 32)
    ta, tb = device_tensor(ttnn, device, a, ttnn.float32), device_tensor(ttnn, device, b, ttnn.float32)
    expected = torch.where(b == 0, torch.zeros_like(a), a / b)
    torch.testing.assert_close(ttnn.to_torch(ttnn.div_no_nan(ta, tb)), expected)
    fb = torch.where(b == 0, torch.ones_like(b), b)
    assert_equal(torch.floor_divide(a, fb), ttnn.to_torch(ttnn.floor_div(ta, device_tensor(ttnn, device, fb,
                                                                                            ttnn.float32))))


INT_OPS = [("gcd", torch.gcd), ("lcm", torch.lcm), ("bitwise_left_shift", lambda a, b: (a << b)),
           ("bitwise_right_shift", lambda a, b: a >> b),
           ("logical_right_shift", lambda a, b: ((a.to(torch.int64) & 0xFFFFFFFF) >> b).to(torch.int32))]


@pytest.mark.parametrize("op, torch_op", INT_OPS)
def test_integer_ops_are_exact(ttnn, device, op, torch_op):
    g = torch.Generator().manual_seed(3)
    a = torch.randint(-1000, 1000, (32, 32), generator=g, dtype=torch.int32)
    b = torch.randint(0, 8, (32, 32), generator=g, dtype=torch.int32) if "shift" in op else \
        torch.randint(1, 60, (32, 32), generator=g, dtype=torch.int32)
    out = getattr(ttnn, op)(ttnn.from_torch(a, dtype=ttnn.int32, device=device),
                            ttnn.from_torch(b, dtype=ttnn.int32, device=device))
    assert_equal(torch_op(a, b).to(torch.int32), ttnn.to_torch(out))


def test_gcd_rejects_float_operands(ttnn, device):
    a = device_tensor(ttnn, device, torch.randn(32, 32))
    with pytest.raises(RuntimeError, match="integer tensors"):
        ttnn.gcd(a, a)


@pytest.mark.parametrize("weight", [0.25, "per_channel"])
def test_prelu(ttnn, device, weight):
    x = torch.randn(1, 4, 32, 32)
    w = torch.tensor([0.1, 0.2, 0.3, 0.4]) if weight == "per_channel" else torch.tensor([weight])
    arg = ttnn.from_torch(w, dtype=ttnn.bfloat16, device=device) if weight == "per_channel" else weight
    out = ttnn.prelu(device_tensor(ttnn, device, x), arg)
    assert_with_pcc(torch.nn.functional.prelu(x, w), ttnn.to_torch(out))


def test_outer(ttnn, device):
    a, b = torch.randn(1, 1, 32, 1), torch.randn(1, 1, 1, 64)
    out = ttnn.outer(device_tensor(ttnn, device, a), device_tensor(ttnn, device, b))
    assert_with_pcc(torch.outer(a.flatten(), b.flatten()).reshape(1, 1, 32, 64), ttnn.to_torch(out))


OPERATORS = [("a + b", lambda a, b: a + b), ("a - b", lambda a, b: a - b), ("a * b", lambda a, b: a * b),
             ("a / b", lambda a, b: a / b), ("a + 2", lambda a, b: a + 2), ("2 + a", lambda a, b: 2 + a),
             ("a - 0.5", lambda a, b: a - 0.5), ("3 - a", lambda a, b: 3 - a), ("a * 4", lambda a, b: a * 4),
             ("4 * a", lambda a, b: 4 * a), ("a / 2", lambda a, b: a / 2), ("2 / b", lambda a, b: 2 / b)]


@pytest.mark.parametrize("expr, fn", OPERATORS, ids=[e for e, _ in OPERATORS])
def test_tensor_operators(ttnn, device, expr, fn):
    torch.manual_seed(2)
    a = torch.randn(1, 1, 32, 64)
    b = torch.rand(1, 1, 32, 64) + 0.5
    out = fn(device_tensor(ttnn, device, a), device_tensor(ttnn, device, b))
    assert isinstance(out, ttnn.Tensor)
    ra, rb = a.bfloat16().float(), b.bfloat16().float()
    assert_with_pcc(fn(ra, rb), ttnn.to_torch(out), 0.999)


def test_matmul_operator_and_slicing(ttnn, device):
    a, b = torch.randn(64, 96), torch.randn(96, 32)
    ta, tb = device_tensor(ttnn, device, a), device_tensor(ttnn, device, b)
    assert_with_pcc(a @ b, ttnn.to_torch(ta @ tb), 0.999)
    assert_equal(ttnn.to_torch(ta)[:32, 16:48], ttnn.to_torch(ta[:32, 16:48]))
    assert list(ta[0].shape) == [96]
