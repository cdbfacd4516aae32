"""matmul/linear: shapes and batch broadcast, fidelity phases, accumulation width, defaults, errors, costs."""
import sys

import pytest
import torch
from helpers import DTYPE_RTOL, assert_pcc


def dev(ttnn, device, x, dtype="bfloat16", layout="TILE_LAYOUT"):
    return ttnn.from_torch(x, dtype=getattr(ttnn, dtype), layout=getattr(ttnn, layout), device=device)


def cfg(ttnn, fidelity, fp32_acc):
    return ttnn.WormholeComputeKernelConfig(math_fidelity=getattr(ttnn.MathFidelity, fidelity),
                                            fp32_dest_acc_en=fp32_acc)


def mean_err(ttnn, device, a, b, fidelity, fp32_acc, dtype="bfloat16"):
    out = ttnn.matmul(dev(ttnn, device, a, dtype), dev(ttnn, device, b, dtype), compute_kernel_config=cfg(
        ttnn, fidelity, fp32_acc), dtype=ttnn.float32)
    return (ttnn.to_torch(out) - a @ b).abs().mean().item()


SHAPES = [((33, 65), (65, 40)), ((2, 3, 64, 96), (96, 32)), ((2, 3, 64, 96), (2, 3, 96, 32)),
          ((5, 1, 33, 64), (1, 1, 64, 33)), ((65,), (65, 7))]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("dtypes", [("bfloat16", "bfloat16"), ("float32", "float32"), ("bfloat16", "bfloat8_b")],
                         ids=str)
def test_matmul_matches_torch(ttnn, device, shapes, dtypes):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(shapes[0], generator=g), torch.randn(shapes[1], generator=g)
    out = ttnn.matmul(dev(ttnn, device, a, dtypes[0]), dev(ttnn, device, b, dtypes[1]))
    ref = a @ b
    assert out.shape == ref.shape and out.dtype == getattr(ttnn, dtypes[0]) and out.layout == ttnn.TILE_LAYOUT
    got = ttnn.to_torch(out).float()
    assert_pcc(ref, got, 0.999)
    k = a.shape[-1]
    tol = {"bfloat16": 0.05, "float32": 0.01}[dtypes[0]] * k ** 0.5  # operand + accumulation roundings
    assert (got - ref).abs().max() < tol


def test_transposes(ttnn, device):
    a, b = torch.randn(2, 40, 33), torch.randn(50, 40)
    out = ttnn.matmul(dev(ttnn, device, a, "float32"), dev(ttnn, device, b, "float32"), transpose_a=True,
                      transpose_b=True)
    assert torch.allclose(ttnn.to_torch(out), a.transpose(-1, -2) @ b.T, atol=0.05)


def test_fast_path_is_exact_for_bf16_hifi4_fp32_acc(ttnn, device):
    a, b = torch.randn(64, 256).bfloat16().float(), torch.randn(256, 64).bfloat16().float()
    out = ttnn.matmul(dev(ttnn, device, a), dev(ttnn, device, b), compute_kernel_config=cfg(ttnn, "HiFi4", True),
                      dtype=ttnn.float32)
    assert torch.allclose(ttnn.to_torch(out), a @ b, rtol=1e-6, atol=1e-5)


def test_fidelity_orders_accuracy(ttnn, device):
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(64, 128, generator=g), torch.randn(128, 64, generator=g)
    errs = [mean_err(ttnn, device, a, b, f, True) for f in ("LoFi", "HiFi2", "HiFi3", "HiFi4")]
    assert errs[0] > 2 * errs[1] and errs[1] > errs[2] and errs[0] > 5 * errs[3], errs


def test_lofi_multiplies_truncated_mantissas(ttnn, device):
    # A = 1 + 2^-7 (bf16: last mantissa bit set), B = 1 + 2^-7 too. LoFi keeps 6 bits of A (SrcB) and 4 of B
    # (SrcA): 1 * 1; HiFi2 keeps all of B: 1 * (1 + 2^-7); HiFi4 keeps everything.
    v = 1.0 + 2.0**-7
    a, b = torch.full((32, 32), v) / 32, torch.eye(32) * v
    exp = {"LoFi": 1.0 / 32, "HiFi2": v / 32, "HiFi4": v * v / 32}
    for fid, want in exp.items():
        out = ttnn.matmul(dev(ttnn, device, a), dev(ttnn, device, b), compute_kernel_config=cfg(ttnn, fid, True),
                          dtype=ttnn.float32)
        assert torch.allclose(ttnn.to_torch(out), torch.full((32, 32), want), rtol=0, atol=0), fid


def test_bf16_accumulation_loses_on_long_k(ttnn, device):
    g = torch.Generator().manual_seed(2)
    a, b = torch.rand(32, 2048, generator=g), torch.rand(2048, 32, generator=g)  # all-positive: sums grow
    e16 = mean_err(ttnn, device, a, b, "HiFi4", False)
    e32 = mean_err(ttnn, device, a, b, "HiFi4", True)
    assert e16 > 10 * e32, (e16, e32)


def test_default_config_is_hifi2_bf16_acc_for_bf16(ttnn, device):
    a, b = torch.randn(32, 256), torch.randn(256, 32)
    ta, tb = dev(ttnn, device, a), dev(ttnn, device, b)
    default = ttnn.to_torch(ttnn.matmul(ta, tb))
    assert torch.equal(default, ttnn.to_torch(ttnn.matmul(ta, tb, compute_kernel_config=cfg(ttnn, "HiFi2", False))))
    assert not torch.equal(default, ttnn.to_torch(ttnn.matmul(ta, tb, compute_kernel_config=cfg(ttnn, "HiFi4", True))))
    lofi = ttnn.to_torch(ttnn.matmul(ta, tb, core_grid=ttnn.CoreGrid(y=8, x=8)))  # a user grid drops to LoFi
    assert torch.equal(lofi, ttnn.to_torch(ttnn.matmul(ta, tb, compute_kernel_config=cfg(ttnn, "LoFi", False))))


def test_linear_bias_and_activation(ttnn, device):
    x, w, bias = torch.randn(2, 33, 64), torch.randn(64, 48), torch.randn(48)
    tx, tw, tb = dev(ttnn, device, x, "float32"), dev(ttnn, device, w, "float32"), dev(ttnn, device, bias, "float32")
    out = ttnn.linear(tx, tw, bias=tb, activation="relu")
    assert torch.allclose(ttnn.to_torch(out), torch.relu(x @ w + bias), rtol=5e-3, atol=2e-2)
    out = ttnn.linear(tx, dev(ttnn, device, w.T.contiguous(), "float32"), transpose_b=True,
                      bias=dev(ttnn, device, bias.reshape(1, 48), "float32"))
    assert torch.allclose(ttnn.to_torch(out), x @ w + bias, rtol=5e-3, atol=2e-2)
    gold = ttnn.get_golden_function(ttnn.linear)(x, w, bias=bias, activation="relu")
    assert torch.allclose(gold, torch.relu(x @ w + bias))


_F = torch.nn.functional
# Every activation string TT-NN's string_to_unary_with_param maps to a float function, and its torch form.
# (The real golden of "gelu_approx" is ttnn.gelu's golden: the erf form.)
ACTIVATIONS = {"relu": torch.relu, "relu6": lambda x: x.clamp(0, 6), "gelu": _F.gelu,
               "gelu_approx": _F.gelu, "silu": _F.silu, "sigmoid": torch.sigmoid,
               "sigmoid_approx": torch.sigmoid, "hardsigmoid": _F.hardsigmoid, "tanh": torch.tanh,
               "square": torch.square, "abs": torch.abs, "sin": torch.sin, "cos": torch.cos,
               "softplus": _F.softplus, "selu": _F.selu, "mish": _F.mish, "exp": torch.exp}


# What the device computes where an activation string selects an approximate kernel (sim/ops/_sfpu_approx.py):
# (GELU, 1) the LUT GELU, (SIGMOID, 4, 1) the LUT sigmoid, (EXP, 1) the fast exp. The golden stays the torch form.
def _on_device(name):
    from torch_ttnn.sim.ops import _sfpu_approx as A
    return {"gelu_approx": lambda x: A.gelu_fast(x, True), "sigmoid_approx": lambda x: A.sigmoid_fast(x, True),
            "exp": lambda x: A.exp_fast(x, True)}.get(name, ACTIVATIONS[name])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_linear_activation_strings(ttnn, device, name):
    """activation= takes the names TT-NN accepts; with a core_grid it is applied in the kernel (one op, one
    rounding), without one as a separate unary op on the rounded product (two ops), as TT-NN does."""
    g = torch.Generator().manual_seed(1)
    x, w, bias = (torch.randn(*s, generator=g) / 4 for s in ((64, 64), (64, 96), (96,)))
    tx, tw, tb = dev(ttnn, device, x), dev(ttnn, device, w), dev(ttnn, device, bias)
    ref = _on_device(name)(x @ w + bias)
    n0 = len(device.op_records)
    fused = ttnn.linear(tx, tw, bias=tb, activation=name, core_grid=ttnn.CoreGrid(y=8, x=8),
                        compute_kernel_config=cfg(ttnn, "HiFi4", True))
    assert [r.name for r in device.op_records[n0:]] == ["ttnn.linear"]
    plain = ttnn.linear(tx, tw, bias=tb, compute_kernel_config=cfg(ttnn, "HiFi4", True))
    n0 = len(device.op_records)
    post = ttnn.linear(tx, tw, bias=tb, activation=name, compute_kernel_config=cfg(ttnn, "HiFi4", True))
    assert [r.name for r in device.op_records[n0:]] == ["ttnn.linear", "ttnn.unary_chain"]
    # the post-op is the unfused program exactly (the emulator's own activation on the rounded product); the
    # fused one rounds once instead of twice
    from torch_ttnn.sim.ops.unary import activation_fn
    unfused = activation_fn(name)(ttnn.to_torch(plain).float()).bfloat16().float()
    assert torch.equal(ttnn.to_torch(post).float(), unfused)
    assert_pcc(ref, ttnn.to_torch(fused).float(), 0.999)
    err = (ttnn.to_torch(fused).float() - ref).abs().max()
    assert err <= 2 ** -7 * ref.abs().max() + 1e-2
    gold = ttnn.get_golden_function(ttnn.linear)(x, w, bias=bias, activation=name)
    assert torch.allclose(gold, ACTIVATIONS[name](x @ w + bias), atol=1e-5)


@pytest.mark.parametrize("name", ["Gelu", "gelu_tanh", "leaky_relu", "", "hardtanh"])
def test_unknown_activation_strings_rejected(ttnn, device, name):
    a = dev(ttnn, device, torch.randn(32, 32))
    with pytest.raises(RuntimeError, match="Unknown unary op"):
        ttnn.matmul(a, a, activation=name)


def test_activation_strings_resolve_like_ttnn(ttnn, device):
    from torch_ttnn.sim.ops.unary import string_to_unary_with_param
    assert string_to_unary_with_param("gelu") == ttnn.UnaryWithParam(ttnn.UnaryOpType.GELU, 0.0)
    assert string_to_unary_with_param("gelu_approx") == ttnn.UnaryWithParam(ttnn.UnaryOpType.GELU, 1.0)
    assert string_to_unary_with_param("relu") == ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)
    a = dev(ttnn, device, torch.randn(32, 32))
    with pytest.raises(RuntimeError, match="not emulated"):  # an op type TT-NN knows, but the emulator does not
        ttnn.matmul(a, a, activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.ZERO_POINT))
    fused = ttnn.to_torch(ttnn.matmul(a, a, activation="hardmish")).float()
    plain = ttnn.to_torch(ttnn.matmul(a, a)).float()
    torch.testing.assert_close(fused, plain * torch.clamp(plain * 0.5 + 1.0, 0.0, 1.0), rtol=1.6e-2, atol=1e-2)


def test_output_dtype(ttnn, device):
    a, b = torch.randn(32, 64), torch.randn(64, 32)
    out = ttnn.matmul(dev(ttnn, device, a), dev(ttnn, device, b), dtype=ttnn.bfloat8_b)
    assert out.dtype == ttnn.bfloat8_b
    err = (ttnn.to_torch(out) - a @ b).abs().max() / (a @ b).abs().max()
    assert err < 4 * DTYPE_RTOL["bfloat8_b"]


def test_errors(ttnn, device):
    a = dev(ttnn, device, torch.randn(32, 64))
    with pytest.raises(RuntimeError, match="TILE layout"):
        ttnn.matmul(dev(ttnn, device, torch.randn(32, 64), layout="ROW_MAJOR_LAYOUT"), a)
    with pytest.raises(RuntimeError, match="width=64 height=32"):
        ttnn.matmul(a, a)
    with pytest.raises(RuntimeError, match="rank >= 2"):
        ttnn.matmul(a, dev(ttnn, device, torch.randn(64)))
    with pytest.raises(RuntimeError, match="BCMK"):
        ttnn.matmul(dev(ttnn, device, torch.randn(2, 32, 64)), dev(ttnn, device, torch.randn(3, 64, 32)))
    with pytest.raises(RuntimeError, match="INT32 is not supported"):
        ttnn.matmul(dev(ttnn, device, torch.ones(32, 32, dtype=torch.int32), "int32"), a)
    with pytest.raises(RuntimeError, match="bias must be one row"):
        ttnn.linear(a, dev(ttnn, device, torch.randn(64, 32)), bias=dev(ttnn, device, torch.randn(32, 32)))
    with pytest.raises(RuntimeError, match="must be on device"):
        ttnn.matmul(ttnn.from_torch(torch.randn(32, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT), a)


def test_cost_record_counts_padded_flops(ttnn, device):
    a, b = dev(ttnn, device, torch.randn(2, 33, 64)), dev(ttnn, device, torch.randn(64, 40))
    n = len(device.op_records)
    ttnn.matmul(a, b, compute_kernel_config=cfg(ttnn, "HiFi4", True))
    rec = device.op_records[n]
    assert rec.name == "ttnn.matmul" and rec.flops == 2 * 2 * 64 * 64 * 64 and rec.time_ns > 0


@pytest.mark.parametrize("fidelity,fp32_acc", [("HiFi2", True), ("LoFi", False), ("HiFi4", True), ("HiFi3", False)])
@pytest.mark.parametrize("transpose_b,b_dtype", [(False, "bfloat16"), (True, "float32"), (False, "bfloat8_b")])
def test_large_b_in_column_blocks_is_bit_identical(ttnn, device, monkeypatch, fidelity, fp32_acc, transpose_b,
                                                   b_dtype):
    """A large B (an LM head) is converted and multiplied per block of columns: the same values as at once,
    denormal flush included (bits may differ by one bf16 ulp only where BLAS sums a block in another order)."""
    mm = sys.modules["torch_ttnn.sim.ops.matmul"]
    torch.manual_seed(0)
    a = torch.randn(40, 96)
    b = torch.randn(96, 200)
    b[3, 7] = 1e-40
    bt = b.t().contiguous() if transpose_b else b
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=getattr(ttnn.MathFidelity, fidelity), fp32_dest_acc_en=fp32_acc)

    def run():
        ta = ttnn.from_torch(a, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        tb = ttnn.from_torch(bt, dtype=getattr(ttnn, b_dtype), layout=ttnn.TILE_LAYOUT, device=device)
        return ttnn.to_torch(ttnn.matmul(ta, tb, transpose_b=transpose_b, compute_kernel_config=cfg)).float()
    whole = run()
    monkeypatch.setattr(mm, "_CHUNK", 96 * 64)           # blocks of 64 columns: 200 = 64 + 64 + 64 + 8
    blocks = run()
    torch.testing.assert_close(blocks, whole, rtol=2 ** -8, atol=1e-6)
    assert_pcc(a @ b, blocks, 0.99)


@pytest.mark.parametrize("a_shape, b_shape", [((1, 1, 64, 96), (1, 3, 96, 32)), ((1, 64, 96), (5, 96, 32)),
                                              ((1, 1, 1, 32, 64), (2, 3, 4, 64, 32))])
def test_matmul_batch1_a_against_batched_b(ttnn, device, a_shape, b_shape):
    """An A whose batch dims are all 1 broadcasts against a batched B (the real op allows it, tt-metal #12834);
    batch dims that differ otherwise still raise."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(*a_shape, generator=g), torch.randn(*b_shape, generator=g)
    out = ttnn.to_torch(ttnn.matmul(dev(ttnn, device, a), dev(ttnn, device, b))).float()
    ref = a @ b
    assert out.shape == ref.shape
    assert_pcc(ref, out, 0.999)
    with pytest.raises(RuntimeError, match="batch dims"):
        ttnn.matmul(dev(ttnn, device, torch.randn(2, 64, 96)), dev(ttnn, device, torch.randn(3, 96, 32)))
