"""Element-wise unary ops of the emulator vs torch float32, their signatures, errors and cost records."""
import inspect

import pytest
import torch
from helpers import DTYPE_RTOL, assert_pcc

# op -> input domain (low, high) for uniform sampling; None = standard normal
DOMAIN = {
    "log": (0.1, 4), "log1p": (-0.5, 4), "log2": (0.1, 4), "log10": (0.1, 4), "sqrt": (0.0, 4), "rsqrt": (0.1, 4),
    "reciprocal": (0.2, 4), "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atanh": (-0.9, 0.9), "acosh": (1.1, 4),
    "tan": (-1.2, 1.2), "logit": (0.05, 0.95), "lgamma": (0.2, 4), "digamma": (0.5, 4),
}
PLAIN = ["abs", "neg", "exp", "expm1", "exp2", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "reciprocal", "square",
         "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sigmoid",
         "log_sigmoid", "hardsigmoid", "hardswish", "hardtanh", "relu", "relu6", "elu", "celu", "selu", "gelu", "silu",
         "mish", "softplus", "softsign", "tanhshrink", "hardshrink", "softshrink", "erf", "erfc", "logit", "cbrt",
         "i0", "lgamma", "digamma", "deg2rad", "rad2deg", "sign", "floor", "ceil", "trunc", "frac", "round"]
FLAGS = ["isnan", "isinf", "isfinite", "logical_not", "eqz", "nez", "gtz", "gez", "ltz", "lez", "signbit"]
TORCH = {"log_sigmoid": torch.nn.functional.logsigmoid, "hardtanh": torch.nn.functional.hardtanh,
         "relu6": torch.nn.functional.relu6, "hardsigmoid": torch.nn.functional.hardsigmoid,
         "hardswish": torch.nn.functional.hardswish, "elu": torch.nn.functional.elu, "celu": torch.nn.functional.celu,
         "selu": torch.nn.functional.selu, "gelu": torch.nn.functional.gelu, "silu": torch.nn.functional.silu,
         "mish": torch.nn.functional.mish, "softplus": torch.nn.functional.softplus,
         "softsign": torch.nn.functional.softsign, "tanhshrink": torch.nn.functional.tanhshrink,
         "hardshrink": torch.nn.functional.hardshrink, "softshrink": torch.nn.functional.softshrink,
         "i0": torch.special.i0, "cbrt": lambda x: x.sign() * x.abs().pow(1 / 3),
         "eqz": lambda x: x == 0, "nez": lambda x: x != 0, "gtz": lambda x: x > 0, "gez": lambda x: x >= 0,
         "ltz": lambda x: x < 0, "lez": lambda x: x <= 0}


def sample(name, shape, gen):
    lo_hi = DOMAIN.get(name)
    if lo_hi is None:
        return torch.randn(shape, generator=gen) * 2
    lo, hi = lo_hi
    return torch.rand(shape, generator=gen) * (hi - lo) + lo


def reference(name, x):
    fn = TORCH.get(name) or getattr(torch, name)
    return fn(x).float()


def close(got, ref, dtype, mult=2.0):
    """|got - ref| <= rtol * (|ref| + 1): relative for large values, absolute near zero (one output rounding)."""
    err = (got.float() - ref).abs()
    bound = mult * DTYPE_RTOL[dtype] * (ref.abs() + 1)
    ok = (err <= bound) | (got.float().isnan() & ref.isnan()) | (got.float() == ref)
    assert ok.all(), f"max error {err[~ok].max().item():.3g} above bound"


@pytest.mark.parametrize("name", PLAIN)
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_unary_matches_torch(ttnn, device, name, dtype):
    g = torch.Generator().manual_seed(hash(name) % 1000)
    x = sample(name, (33, 65), g)
    t = ttnn.from_torch(x, dtype=getattr(ttnn, dtype), layout=ttnn.TILE_LAYOUT, device=device)
    ref = reference(name, ttnn.to_torch(t).float())  # the reference sees the stored (rounded) input
    got = ttnn.to_torch(getattr(ttnn, name)(t))
    assert got.shape == ref.shape and t.dtype == getattr(ttnn, dtype)
    if name in ("round", "floor", "ceil", "trunc", "sign", "relu", "abs", "neg"):
        assert torch.equal(got.float(), ref)  # exact ops stay exact
    else:
        close(got, ref, dtype, mult=1.0 if dtype == "bfloat16" else 4.0)
        assert_pcc(ref, got, 0.999)


@pytest.mark.parametrize("name", FLAGS)
def test_flags_are_one_zero_in_input_dtype(ttnn, device, name):
    x = torch.tensor([[0.0, -0.0, 1.5, -2.0, float("inf"), float("-inf"), float("nan"), 3.0]])
    t = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    out = getattr(ttnn, name)(t)
    assert out.dtype == ttnn.float32
    assert torch.equal(ttnn.to_torch(out), reference(name, x))


@pytest.mark.parametrize("shape", [(7,), (5, 9), (2, 33, 65), (2, 3, 4, 40)])
@pytest.mark.parametrize("layout", ["TILE_LAYOUT", "ROW_MAJOR_LAYOUT"])
def test_ranks_and_layouts(ttnn, device, shape, layout):
    x = torch.randn(shape)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=getattr(ttnn, layout), device=device)
    out = ttnn.exp(t)
    assert out.layout == getattr(ttnn, layout) and out.shape == t.shape
    close(ttnn.to_torch(out), torch.exp(x.bfloat16().float()), "bfloat16", 1.0)


def test_block_float_output_is_quantised(ttnn, device):
    x = torch.randn(32, 64)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.exp(t)
    assert out.dtype == ttnn.bfloat8_b
    expected = ttnn.to_torch(ttnn.from_torch(torch.exp(ttnn.to_torch(t)), dtype=ttnn.bfloat8_b,
                                             layout=ttnn.TILE_LAYOUT))
    assert torch.equal(ttnn.to_torch(out), expected)


def test_parametrised_activations(ttnn, device):
    x = torch.randn(4, 64) * 3
    t = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    F = torch.nn.functional
    cases = [(ttnn.leaky_relu(t, 0.2), F.leaky_relu(x, 0.2)), (ttnn.elu(t, alpha=0.5), F.elu(x, 0.5)),
             (ttnn.hardtanh(t, min_val=-2.0, max_val=0.5), F.hardtanh(x, -2, 0.5)),
             (ttnn.softplus(t, beta=2.0, threshold=5.0), F.softplus(x, 2.0, 5.0)),
             (ttnn.relu_max(t, 1.0), x.clamp(0, 1)), (ttnn.relu_min(t, 1.0), x.clamp(min=1)),
             (ttnn.threshold(t, 0.5, -7.0), torch.where(x > 0.5, x, -7.0)),
             (ttnn.heaviside(t, 0.5), torch.heaviside(x, torch.tensor(0.5))),
             (ttnn.round(t, decimals=1), torch.round(x, decimals=1)),
             (ttnn.clamp(t, -1.0, 2.0), x.clamp(-1, 2)), (ttnn.clamp(t, max=0.0), x.clamp(max=0)),
             (ttnn.clip(t, -0.5, 0.5), x.clamp(-0.5, 0.5)),
             (ttnn.tril(t, diagonal=1), x.tril(1)), (ttnn.triu(t), x.triu())]
    for got, ref in cases:
        close(ttnn.to_torch(got), ref, "float32")


def test_clamp_with_tensor_bounds(ttnn, device):
    x, lo = torch.randn(3, 40), torch.randn(40) - 1
    t = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    tl = ttnn.from_torch(lo, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    assert torch.equal(ttnn.to_torch(ttnn.clamp(t, tl)), torch.maximum(x, lo))


def test_gelu_overloads(ttnn, device):
    x = torch.linspace(-4, 4, 256).reshape(8, 32)
    t = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    exact, tanh_form = torch.nn.functional.gelu(x), torch.nn.functional.gelu(x, approximate="tanh")
    assert torch.allclose(ttnn.to_torch(ttnn.gelu(t)), exact, atol=1e-6)
    assert torch.allclose(ttnn.to_torch(ttnn.gelu(t, variant=ttnn.GeluVariant.Tanh)), tanh_form, atol=1e-6)
    # fast_and_approximate_mode=True is the legacy alias of FastLut (0.81.1 docstring): the LUT, not the tanh form
    lut = ttnn.to_torch(ttnn.gelu(t, fast_and_approximate_mode=True))
    assert torch.equal(lut, ttnn.to_torch(ttnn.gelu(t, variant=ttnn.GeluVariant.FastLut)))
    assert 5e-3 < (lut - exact).abs().max() < 0.03
    assert not torch.allclose(exact, tanh_form, atol=1e-6)  # the two forms are distinguishable here


def test_bitwise_not_and_integer_inputs(ttnn, device):
    x = torch.tensor([[0, 1, -5, 123456789]], dtype=torch.int32)
    t = ttnn.from_torch(x, dtype=ttnn.int32, layout=ttnn.TILE_LAYOUT, device=device)
    assert torch.equal(ttnn.to_torch(ttnn.bitwise_not(t)), torch.bitwise_not(x))
    assert torch.equal(ttnn.to_torch(ttnn.abs(t)), x.abs())
    f = ttnn.from_torch(x.float(), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(RuntimeError, match="BFLOAT16 is not supported"):
        ttnn.bitwise_not(f)


def test_real_signatures(ttnn):
    sig = lambda op: str(inspect.signature(op))  # noqa: E731
    assert sig(ttnn.relu) == "(input_tensor, *, memory_config=None, output_tensor=None, sub_core_grids=None)"
    assert sig(ttnn.leaky_relu).startswith("(input_tensor, negative_slope, *, memory_config=None")
    assert "fast_and_approximate_mode=False, memory_config=None" in sig(ttnn.exp)
    assert "variant=GeluVariant.Accurate, fast_and_approximate_mode=False" in sig(ttnn.gelu)
    assert sig(ttnn.tril) == "(input_tensor, *, diagonal=0, memory_config=None)"
    assert ttnn.relu.python_fully_qualified_name == "ttnn.relu"
    x = torch.randn(3, 3)
    assert torch.equal(ttnn.get_golden_function(ttnn.relu)(x), torch.relu(x))


def test_errors(ttnn, device):
    host = ttnn.from_torch(torch.randn(4, 4), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(RuntimeError, match="must be on device"):
        ttnn.relu(host)
    t = ttnn.from_torch(torch.randn(4, 4), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(RuntimeError, match="only one of 'min' or 'max' can be None"):
        ttnn.clamp(t)
    with pytest.raises(TypeError):
        ttnn.relu(t, 3)  # keyword-only after input_tensor, as the real binding
    with pytest.raises(TypeError):
        ttnn.leaky_relu(t)  # negative_slope is required
    v = ttnn.from_torch(torch.randn(4), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(RuntimeError, match="rank >= 2"):
        ttnn.tril(v)


def test_output_tensor_and_cost_record(ttnn, device):
    x = torch.randn(64, 64)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    dst = ttnn.from_torch(torch.zeros(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    n = len(device.op_records)
    out = ttnn.sigmoid(t, output_tensor=dst)
    assert out is dst and torch.equal(ttnn.to_torch(dst), torch.sigmoid(x.bfloat16().float()).bfloat16())
    rec = device.op_records[n]
    assert rec.name == "ttnn.sigmoid" and rec.bytes == 2 * 4 * 2048 and rec.time_ns > 0
