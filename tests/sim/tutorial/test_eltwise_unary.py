"""Unary eltwise programs in TT-NN test style: torch input, golden from ttnn.get_golden_function, device op,
to_torch, PCC. One test per op family, parametrised over ops, shapes and dtypes."""
import pytest
import torch

from .utils import assert_with_pcc

# op -> (input domain (low, high), extra positional args, torch reference, PCC threshold)
UNARY = {
    "erfinv": ((-0.9, 0.9), (), torch.erfinv, 0.999),
    "polygamma": ((1.0, 4.0), (2,), lambda x, k: torch.special.polygamma(k, x), 0.999),
    "xielu": ((-4.0, 4.0), (), None, 0.999),
    "hardmish": ((-4.0, 4.0), (), lambda x: x * torch.clamp(x * 0.5 + 1.0, 0.0, 1.0), 0.9999),
    "i1": ((-5.0, 5.0), (), torch.special.i1, 0.999),
    "identity": ((-4.0, 4.0), (), lambda x: x, 0.9999),
    "swish": ((-4.0, 4.0), (), torch.nn.functional.silu, 0.9999),
    "softcap": ((-8.0, 8.0), (3.0,), lambda x, b: b * torch.tanh(x / b), 0.9999),
    "alt_complex_rotate90": ((-4.0, 4.0), (), None, 0.9999),
    "multigammaln": ((1.6, 4.0), (), lambda x: torch.mvlgamma(x, 4), 0.999),
    "rpow": ((-2.0, 2.0), (2.5,), lambda x, b: torch.pow(b, x), 0.999),
    "rdiv": ((0.5, 4.0), (3.0,), lambda x, v: v / x, 0.999),
    "normalize_hw": ((-4.0, 4.0), (), None, 0.999),
    "normalize_global": ((-4.0, 4.0), (), None, 0.999),
}


def torch_random(shape, low, high, gen):
    return (torch.rand(shape, generator=gen) * (high - low) + low).to(torch.bfloat16)


@pytest.mark.parametrize("op", sorted(UNARY))
@pytest.mark.parametrize("shape", [(1, 1, 32, 64), (2, 3, 64, 32)])
def test_unary(ttnn, device, op, shape):
    (low, high), args, reference, pcc = UNARY[op]
    torch_input = torch_random(shape, low, high, torch.Generator().manual_seed(0))
    golden = ttnn.get_golden_function(getattr(ttnn, op))
    torch_output = (reference or golden)(torch_input.float(), *args)
    input_tensor = ttnn.from_torch(torch_input, layout=ttnn.TILE_LAYOUT, device=device)
    output_tensor = ttnn.to_torch(getattr(ttnn, op)(input_tensor, *args))
    assert output_tensor.dtype == torch.bfloat16
    assert_with_pcc(torch_output, output_tensor, pcc)


@pytest.mark.parametrize("op, torch_op", [("isneginf", torch.isneginf), ("isposinf", torch.isposinf)])
def test_inf_flags(ttnn, device, op, torch_op):
    torch_input = torch.tensor([[float("-inf"), -1.0, 0.0, float("inf")] * 8] * 32)
    output = ttnn.to_torch(getattr(ttnn, op)(ttnn.from_torch(torch_input, dtype=ttnn.bfloat16, device=device,
                                                             layout=ttnn.TILE_LAYOUT)))
    assert torch.equal(output.float(), torch_op(torch_input).float())


@pytest.mark.parametrize("op, take_sqrt", [("var_hw", False), ("std_hw", True)])
@pytest.mark.parametrize("h, w", [(32, 32), (40, 70)])
def test_hw_statistics_divide_by_the_padded_area(ttnn, device, op, take_sqrt, h, w):
    """The device sums over the logical elements but divides by the tile-padded area (the real golden's note)."""
    torch_input = torch.randn(1, 2, h, w)
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    var = torch_input.var(dim=(-2, -1), keepdim=True, correction=0) * (h * w) / (ph * pw)
    expected = var.sqrt() if take_sqrt else var
    t = ttnn.from_torch(torch_input, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    got = ttnn.to_torch(getattr(ttnn, op)(t))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_xielu_matches_its_piecewise_definition(ttnn, device):
    x = torch.linspace(-6, 6, 32 * 32).reshape(32, 32)
    pos = 0.8 * x * x + 0.5 * x
    neg = 0.8 * torch.expm1(torch.clamp(x, max=-1e-6)) - 0.8 * x + 0.5 * x
    t = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    torch.testing.assert_close(ttnn.to_torch(ttnn.xielu(t)), torch.where(x > 0, pos, neg), rtol=1e-6, atol=1e-6)


def test_logical_not_in_place_writes_its_input(ttnn, device):
    x = torch.tensor([[0.0, 1.0, -2.0, 0.0] * 8] * 32)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.logical_not_(t)
    assert out is t
    assert torch.equal(ttnn.to_torch(t).float(), (x == 0).float())


def test_alt_complex_rotate90_rejects_an_odd_width(ttnn, device):
    t = ttnn.from_torch(torch.randn(32, 31), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(RuntimeError, match="must be even"):
        ttnn.alt_complex_rotate90(t)
