"""Element-wise binary/ternary ops: broadcasting, scalars, FPU vs SFPU numerics, output dtypes, errors."""
import inspect

import pytest
import torch
from helpers import DTYPE_RTOL, assert_pcc

ARITH = {"add": torch.add, "subtract": torch.sub, "multiply": torch.mul, "maximum": torch.maximum,
         "minimum": torch.minimum, "squared_difference": lambda a, b: (a - b) ** 2, "rsub": lambda a, b: b - a,
         "atan2": torch.atan2, "hypot": torch.hypot, "logaddexp": torch.logaddexp,
         "logaddexp2": torch.logaddexp2, "remainder": torch.remainder, "fmod": torch.fmod,
         "xlogy": torch.xlogy, "ldexp": lambda a, b: a * torch.exp2(b), "bias_gelu": lambda a, b:
         torch.nn.functional.gelu(a + b)}
COMPARE = {"eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le, "gt": torch.gt, "ge": torch.ge,
           "logical_and": torch.logical_and, "logical_or": torch.logical_or, "logical_xor": torch.logical_xor}
SHAPES = [((33, 65), (33, 65)), ((2, 3, 33, 65), (65,)), ((2, 1, 33, 1), (1, 3, 1, 65)), ((7,), (7,)),
          ((4, 2, 8, 16), (4, 1, 8, 1)), ((1, 40), (30, 1))]


def dev(ttnn, device, x, dtype="bfloat16", layout="TILE_LAYOUT"):
    return ttnn.from_torch(x, dtype=getattr(ttnn, dtype), layout=getattr(ttnn, layout), device=device)


def close(got, ref, dtype, mult=2.0):
    err = (got.float() - ref).abs()
    bound = mult * DTYPE_RTOL[dtype] * (ref.abs() + 1)
    assert ((err <= bound) | (got.float() == ref)).all(), f"max error {err.max().item():.3g}"


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(ARITH))
def test_arith_broadcast(ttnn, device, name, shapes):
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(shapes[0], generator=g), torch.randn(shapes[1], generator=g)
    if name in ("xlogy",):
        b = b.abs() + 0.1
    if name in ("remainder", "fmod"):
        b = b.sign() * (b.abs() + 0.5)
    ta, tb = dev(ttnn, device, a, "float32"), dev(ttnn, device, b, "float32")
    got = ttnn.to_torch(getattr(ttnn, name)(ta, tb))
    ref = ARITH[name](a, b)
    assert got.shape == ref.shape
    close(got, ref, "float32", 10)


@pytest.mark.parametrize("name", list(ARITH)[:7])
def test_bfloat16_arith(ttnn, device, name):
    a, b = torch.randn(3, 33, 65), torch.randn(3, 33, 65)
    ta, tb = dev(ttnn, device, a), dev(ttnn, device, b)
    ref = ARITH[name](ttnn.to_torch(ta).float(), ttnn.to_torch(tb).float())
    got = ttnn.to_torch(getattr(ttnn, name)(ta, tb))
    assert got.dtype == torch.bfloat16
    close(got, ref, "bfloat16", 1.0)
    assert_pcc(ref, got, 0.999)


@pytest.mark.parametrize("name", list(COMPARE))
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_comparisons_return_one_zero_in_input_dtype(ttnn, device, name, dtype):
    a = torch.randint(-2, 3, (5, 40)).float()
    b = torch.randint(-2, 3, (40,)).float()
    got = getattr(ttnn, name)(dev(ttnn, device, a, dtype), dev(ttnn, device, b, dtype))
    assert got.dtype == getattr(ttnn, dtype)
    assert torch.equal(ttnn.to_torch(got).float(), COMPARE[name](a, b).float())
    scalar = getattr(ttnn, name)(dev(ttnn, device, a, dtype), 0.0)
    assert torch.equal(ttnn.to_torch(scalar).float(), COMPARE[name](a, torch.tensor(0.0)).float())


def test_scalar_operands_either_side(ttnn, device):
    x = torch.randn(4, 33)
    t = dev(ttnn, device, x, "float32")
    assert torch.equal(ttnn.to_torch(ttnn.add(t, 2.5)), x + 2.5)
    assert torch.equal(ttnn.to_torch(ttnn.add(2.5, t)), x + 2.5)
    assert torch.equal(ttnn.to_torch(ttnn.subtract(1.0, t)), 1.0 - x)
    assert torch.equal(ttnn.to_torch(ttnn.multiply(t, 3)), x * 3)
    assert torch.equal(ttnn.to_torch(ttnn.rsub(t, 1.0)), 1.0 - x)
    assert torch.allclose(ttnn.to_torch(ttnn.pow(ttnn.abs(t), 0.5)), x.abs().sqrt(), atol=1e-6)
    # A scalar meeting a bfloat16 tensor on the FPU is a bfloat16 tile: 0.1 becomes 0.10009765625.
    tb = dev(ttnn, device, torch.zeros(2, 32))
    assert ttnn.to_torch(ttnn.add(tb, 0.1)).float()[0, 0].item() == torch.tensor(0.1).bfloat16().item()


def test_fpu_truncates_float32_operands_to_tf32(ttnn, device):
    a = torch.full((32, 32), 1.0 + 2.0**-20)  # the 2^-20 bit lives in TF32's dropped mantissa bits
    b = torch.full((32, 32), 1.0)
    fa = dev(ttnn, device, a, "float32")
    both_f32 = ttnn.to_torch(ttnn.add(fa, dev(ttnn, device, b, "float32")))  # SFPU: exact
    mixed = ttnn.to_torch(ttnn.add(fa, dev(ttnn, device, b, "bfloat16")))  # FPU: a read as TF32
    assert torch.equal(both_f32, a + b)
    assert torch.equal(mixed, torch.full((32, 32), 2.0))


def test_fpu_flushes_denormals(ttnn, device):
    tiny = torch.full((32, 32), 1e-39)  # a float32 denormal, also a bfloat16 denormal
    t = dev(ttnn, device, tiny)
    assert ttnn.to_torch(ttnn.add(t, dev(ttnn, device, torch.zeros(32, 32)))).abs().max() == 0
    f = dev(ttnn, device, tiny, "float32")
    assert torch.equal(ttnn.to_torch(ttnn.add(f, f)), tiny * 2)  # SFPU path keeps them


def test_divide_numerics(ttnn, device):
    """Default divide runs the SFPU kernel (a times a 2-step Newton reciprocal): in bfloat16 it is the correctly
    rounded quotient but for rare ties; fast_and_approximate_mode=True multiplies by a bfloat16-held
    reciprocal on the FPU (tests/sim/test_divide_fast.py has the bit-level cases)."""
    a, b = torch.randn(8, 64), torch.rand(8, 64) + 0.5
    ta, tb = dev(ttnn, device, a), dev(ttnn, device, b)
    av, bv = ttnn.to_torch(ta).float(), ttnn.to_torch(tb).float()
    got = ttnn.to_torch(ttnn.divide(ta, tb)).float()
    exact = (av.double() / bv.double()).float().bfloat16().float()
    assert (got != exact).float().mean() < 0.01
    torch.testing.assert_close(got, av / bv, rtol=2 ** -8, atol=0)
    fast = ttnn.to_torch(ttnn.divide(ta, tb, fast_and_approximate_mode=True)).float()
    assert (fast != exact).float().mean() > 0.05  # the bfloat16 reciprocal costs precision
    fa, fb = dev(ttnn, device, a, "float32"), dev(ttnn, device, b, "float32")
    torch.testing.assert_close(ttnn.to_torch(ttnn.divide(fa, fb)), a / b, rtol=3 * 2 ** -23, atol=0)
    assert torch.equal(ttnn.to_torch(ttnn.divide(fa, fb, rounding_mode="floor")), torch.floor(a / b))
    with pytest.raises(RuntimeError, match="rounding_mode"):
        ttnn.divide(fa, fb, rounding_mode="ceil")


def test_output_dtype_and_layouts(ttnn, device):
    a = torch.randn(3, 40)
    out = ttnn.add(dev(ttnn, device, a), dev(ttnn, device, a), dtype=ttnn.float32)
    assert out.dtype == ttnn.float32
    rm = ttnn.multiply(dev(ttnn, device, a, layout="ROW_MAJOR_LAYOUT"), dev(ttnn, device, a, layout="ROW_MAJOR_LAYOUT"))
    assert rm.layout == ttnn.ROW_MAJOR_LAYOUT
    b8 = ttnn.add(dev(ttnn, device, a, "bfloat8_b"), dev(ttnn, device, a, "bfloat8_b"))
    assert b8.dtype == ttnn.bfloat8_b
    close(ttnn.to_torch(b8), 2 * a, "bfloat8_b", 4)


def test_fused_activations(ttnn, device):
    a, b = torch.randn(4, 32), torch.randn(4, 32)
    got = ttnn.add(dev(ttnn, device, a, "float32"), dev(ttnn, device, b, "float32"), activations=["relu"])
    assert torch.equal(ttnn.to_torch(got), torch.relu(a + b))
    lr = ttnn.UnaryWithParam(ttnn.UnaryOpType.LEAKY_RELU, 0.5)
    got = ttnn.multiply(dev(ttnn, device, a, "float32"), 2.0, activations=[lr])
    assert torch.allclose(ttnn.to_torch(got), torch.nn.functional.leaky_relu(a * 2, 0.5))


def test_ternary_ops(ttnn, device):
    g = torch.Generator().manual_seed(3)
    a, b, c = (torch.randn(2, 33, 65, generator=g) for _ in range(3))
    c = c.abs() + 0.5
    ta, tb, tc = (dev(ttnn, device, x, "float32") for x in (a, b, c))
    cases = [(ttnn.where(ttnn.gtz(ta), tb, tc), torch.where(a > 0, b, c)),
             (ttnn.where(ttnn.gtz(ta), 1.0, tc), torch.where(a > 0, 1.0, c)),
             (ttnn.addcmul(ta, tb, tc, value=0.5), torch.addcmul(a, b, c, value=0.5)),
             (ttnn.addcdiv(ta, tb, tc, value=2.0), torch.addcdiv(a, b, c, value=2.0)),
             (ttnn.lerp(ta, tb, tc), torch.lerp(a, b, c)), (ttnn.lerp(ta, tb, 0.25), torch.lerp(a, b, 0.25)),
             (ttnn.mac(ta, tb, tc), a * b + c),
             (ttnn.polyval(ta, [2.0, -1.0, 0.5]), 2 * a * a - a + 0.5)]
    for got, ref in cases:
        close(ttnn.to_torch(got), ref, "float32", 4)


def test_isclose_nextafter_bitwise(ttnn, device):
    a = torch.tensor([[1.0, 2.0, 3.0, float("nan")]])
    b = torch.tensor([[1.0, 2.1, 3.0 + 1e-6, float("nan")]])
    got = ttnn.isclose(dev(ttnn, device, a, "float32"), dev(ttnn, device, b, "float32"), equal_nan=True)
    assert torch.equal(ttnn.to_torch(got), torch.isclose(a, b, equal_nan=True).float())
    x = dev(ttnn, device, torch.ones(1, 4))
    up = ttnn.to_torch(ttnn.nextafter(x, dev(ttnn, device, torch.full((1, 4), 2.0))))
    assert up[0, 0].item() == 1.0078125  # one bfloat16 step above 1
    i, j = torch.tensor([[12, 10, -1]], dtype=torch.int32), torch.tensor([[10, 6, 5]], dtype=torch.int32)
    ti, tj = dev(ttnn, device, i, "int32"), dev(ttnn, device, j, "int32")
    assert torch.equal(ttnn.to_torch(ttnn.bitwise_and(ti, tj)), i & j)
    assert torch.equal(ttnn.to_torch(ttnn.bitwise_or(ti, tj)), i | j)
    assert torch.equal(ttnn.to_torch(ttnn.bitwise_xor(ti, 3)), i ^ 3)
    assert torch.equal(ttnn.to_torch(ttnn.add(ti, tj)), i + j)


def test_errors(ttnn, device):
    a = dev(ttnn, device, torch.randn(3, 40))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        ttnn.add(a, dev(ttnn, device, torch.randn(4, 40)))
    with pytest.raises(RuntimeError, match="different layouts"):
        ttnn.add(a, dev(ttnn, device, torch.randn(3, 40), layout="ROW_MAJOR_LAYOUT"))
    with pytest.raises(RuntimeError, match="must be on device"):
        ttnn.add(a, ttnn.from_torch(torch.randn(3, 40), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT))
    with pytest.raises(RuntimeError, match="integer"):
        ttnn.bitwise_and(a, a)
    with pytest.raises(TypeError, match="ttnn.Tensor"):
        ttnn.where(1.0, a, a)


def test_signatures_and_costs(ttnn, device):
    sig = str(inspect.signature(ttnn.add))
    assert sig.startswith("(input_tensor_a, input_tensor_b, *, fast_and_approximate_mode=True, dtype=None")
    assert "fast_and_approximate_mode=False" in str(inspect.signature(ttnn.multiply))
    assert str(inspect.signature(ttnn.where)).startswith("(predicate, true_value, false_value, *")
    a = dev(ttnn, device, torch.randn(64, 64))
    n = len(device.op_records)
    ttnn.add(a, a)
    rec = device.op_records[n]
    assert rec.name == "ttnn.add" and rec.flops == 64 * 64 and rec.bytes == 3 * 4 * 2048


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_relational_goldens_compare_int32_exactly(ttnn, op):
    """The real goldens call torch's comparison on the tensors as given: two int32 values 36 apart that are the
    same float32 (-2126491626 and -2126491590) compare as different, as on the device."""
    a, b = torch.tensor([-2126491626], dtype=torch.int32), torch.tensor([-2126491590], dtype=torch.int32)
    assert a.float() == b.float()
    assert torch.equal(ttnn.get_golden_function(getattr(ttnn, op))(a, b), getattr(torch, op)(a, b))


def test_isclose_int32_against_float(ttnn, device):
    """binary-ng compares an int32 operand with a float one in float32 (it raised a dtype error here before)."""
    i = ttnn.from_torch(torch.tensor([[1, 2, 3, 100]], dtype=torch.int32), dtype=ttnn.int32,
                        layout=ttnn.TILE_LAYOUT, device=device)
    f = ttnn.from_torch(torch.tensor([[1.0, 2.5, 3.0, 100.0]]), dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT,
                        device=device)
    got = ttnn.to_torch(ttnn.isclose(i, f)).float()
    assert got.tolist() == [[1.0, 0.0, 1.0, 1.0]]
    gold = ttnn.get_golden_function(ttnn.isclose)(torch.tensor([1, 2]), torch.tensor([1.0, 2.5]))
    assert gold.tolist() == [True, False]
