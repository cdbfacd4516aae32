"""Programs over ttnn.experimental and the smaller ops: rotary embeddings, head helpers, typecast, dropout, isin,
quantization, random tensors, complex tensors, bitcast, unary_chain, cache writes."""
import pytest
import torch

from .utils import assert_equal, assert_with_pcc


def dev(ttnn, device, x, dtype=None, layout=None):
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.TILE_LAYOUT, device=device)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


@pytest.mark.parametrize("token_index", [None, 0, 7])
def test_rotary_embedding(ttnn, device, token_index):
    x, cos, sin = torch.randn(1, 4, 32, 64), torch.randn(1, 1, 128, 64), torch.randn(1, 1, 128, 64)
    rows = slice(0, 32) if token_index is None else slice(token_index, token_index + 1)
    expected = x * cos[:, :, rows] + rotate_half(x) * sin[:, :, rows]
    out = ttnn.experimental.rotary_embedding(dev(ttnn, device, x), dev(ttnn, device, cos), dev(ttnn, device, sin),
                                             token_index)
    assert_with_pcc(expected, ttnn.to_torch(out), 0.999)


def test_rotary_embedding_hf_and_rotate_half(ttnn, device):
    x, cos, sin = torch.randn(1, 4, 32, 64), torch.randn(1, 1, 32, 64), torch.randn(1, 1, 32, 64)
    out = ttnn.experimental.rotary_embedding_hf(dev(ttnn, device, x), dev(ttnn, device, cos), dev(ttnn, device, sin))
    assert_with_pcc(x * cos + rotate_half(x) * sin, ttnn.to_torch(out), 0.999)
    assert_equal(rotate_half(x.bfloat16()), ttnn.to_torch(ttnn.experimental.rotate_half(dev(ttnn, device, x))))


@pytest.mark.parametrize("num_heads", [2, 4])
def test_bert_style_head_split_and_concat(ttnn, device, num_heads):
    b, s, d = 1, 64, 32
    qkv = torch.randn(b, 1, s, 3 * num_heads * d)
    grid = ttnn.CoreGrid(y=8, x=8)
    q, k, v = ttnn.experimental.split_query_key_value_and_split_heads(dev(ttnn, device, qkv), grid,
                                                                      num_heads=num_heads)
    tq, tk, tv = qkv.bfloat16().reshape(b, s, 3, num_heads, d).permute(2, 0, 3, 1, 4)
    assert_equal(tq, ttnn.to_torch(q))
    assert_equal(tk.transpose(-1, -2), ttnn.to_torch(k))
    assert_equal(tv, ttnn.to_torch(v))
    merged = ttnn.experimental.concatenate_heads(q, grid)
    assert_equal(tq.permute(0, 2, 1, 3).reshape(b, 1, s, num_heads * d), ttnn.to_torch(merged))


def test_head_helpers_reject_a_grid_larger_than_the_device(ttnn, device):
    t = dev(ttnn, device, torch.randn(1, 2, 32, 32))
    with pytest.raises(RuntimeError, match="exceeds the device"):
        ttnn.experimental.concatenate_heads(t, ttnn.CoreGrid(y=12, x=8))


@pytest.mark.parametrize("dtype", ["float32", "bfloat8_b", "int32"])
def test_experimental_typecast(ttnn, device, dtype):
    x = torch.randn(32, 64) * 10
    out = ttnn.experimental.typecast(dev(ttnn, device, x), getattr(ttnn, dtype))
    assert out.dtype == getattr(ttnn, dtype)
    ref = ttnn.to_torch(ttnn.typecast(dev(ttnn, device, x), getattr(ttnn, dtype)))
    assert_equal(ref, ttnn.to_torch(out))


def test_dropout_keeps_the_expected_fraction(ttnn, device):
    x = torch.ones(1, 1, 128, 128)
    out = ttnn.to_torch(ttnn.experimental.dropout(dev(ttnn, device, x), 0.2, 1.25, 7)).float()
    kept = (out != 0).float().mean().item()
    assert abs(kept - 0.8) < 0.02
    assert torch.all((out == 0) | (out == 1.25))


def test_isin_broadcast_to_and_minimal_matmul(ttnn, device):
    e, t = torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([[2.0, 4.0]])
    got = ttnn.to_torch(ttnn.experimental.isin(dev(ttnn, device, e), dev(ttnn, device, t), invert=True))
    assert_equal(torch.isin(e, t, invert=True).bfloat16(), got)
    x = torch.randn(1, 1, 1, 64)
    assert_equal(x.bfloat16().expand(2, 3, 32, 64),
                 ttnn.to_torch(ttnn.experimental.broadcast_to(dev(ttnn, device, x), [2, 3, 32, 64])))
    a, w, bias = torch.randn(64, 96), torch.randn(96, 64), torch.randn(1, 64)
    out = ttnn.experimental.minimal_matmul(dev(ttnn, device, a), dev(ttnn, device, w), bias_tensor=dev(ttnn, device, bias))
    assert_with_pcc(a @ w + bias, ttnn.to_torch(out), 0.999)


def test_kv_cache_slices_and_fill_cache(ttnn, device):
    cache = torch.zeros(2, 4, 128, 32)
    prefill = torch.randn(1, 4, 32, 32)
    tc = dev(ttnn, device, cache)
    ttnn.fill_cache(tc, dev(ttnn, device, prefill), 1, update_idx=64)
    cache[1, :, 64:96] = prefill[0].bfloat16().float()
    assert_equal(cache.bfloat16(), ttnn.to_torch(tc))
    sl = ttnn.experimental.nlp_kv_cache_load_slice(tc, seq_len_start=64, seq_len_end=96)
    assert_equal(cache[:, :, 64:96].bfloat16(), ttnn.to_torch(sl))


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int8"])
def test_quantize_round_trip(ttnn, device, dtype):
    x = torch.randn(32, 64)
    scale, zero = 0.02, 3
    q = ttnn.quantize(dev(ttnn, device, x, ttnn.float32), scale, zero, dtype=getattr(ttnn, dtype))
    xq = torch.round(x / scale + zero)
    if dtype != "int32":
        xq = xq.clamp(*((-128, 127) if dtype == "int8" else (0, 255)))
    assert_equal(xq.to(torch.int64), ttnn.to_torch(q).to(torch.int64))
    back = ttnn.dequantize(q, scale, zero, dtype=ttnn.float32)
    torch.testing.assert_close(ttnn.to_torch(back), (xq - zero) * scale)


def test_random_ops_are_seeded_and_shaped(ttnn, device):
    ttnn.manual_seed(11)
    a = ttnn.to_torch(ttnn.randn([2, 32, 32], device))
    ttnn.manual_seed(11)
    b = ttnn.to_torch(ttnn.randn([2, 32, 32], device))
    assert_equal(a, b)
    t = dev(ttnn, device, torch.zeros(64, 64), ttnn.float32)
    ttnn.uniform(t, -2.0, 3.0)
    v = ttnn.to_torch(t)
    assert v.min() >= -2.0 and v.max() < 3.0 and v.std() > 1.0
    p = ttnn.to_torch(ttnn.bernoulli(dev(ttnn, device, torch.full((64, 64), 0.3)))).float()
    assert abs(p.mean().item() - 0.3) < 0.05


def test_complex_tensor_ops(ttnn, device):
    re, im = torch.randn(32, 32), torch.randn(32, 32)
    z = ttnn.complex_tensor(dev(ttnn, device, re, ttnn.float32), dev(ttnn, device, im, ttnn.float32))
    c = torch.complex(re, im)
    torch.testing.assert_close(ttnn.to_torch(ttnn.angle(z)), torch.angle(c))
    assert_equal(-im, ttnn.to_torch(ttnn.conj(z).imag))
    assert_equal(re, ttnn.to_torch(ttnn.real(z)))
    pol = ttnn.polar(z)
    torch.testing.assert_close(ttnn.to_torch(pol.real), re * torch.cos(im))
    (g,) = ttnn.angle_bw(dev(ttnn, device, torch.ones(32, 32), ttnn.float32), z, memory_config=None)
    r2 = re * re + im * im
    torch.testing.assert_close(ttnn.to_torch(g.real), -im / r2)
    out = ttnn.experimental.complex_mul(*(dev(ttnn, device, t, ttnn.float32) for t in (re, im, im, re)))
    prod = c * torch.complex(im, re)
    torch.testing.assert_close(ttnn.to_torch(out[0]), prod.real, rtol=1e-5, atol=1e-5)


def test_bitcast_unary_chain_and_plus_one(ttnn, device):
    x = torch.tensor([[1.0, -2.0, 0.5, 3.0]] * 32)
    bits = ttnn.bitcast(dev(ttnn, device, x, ttnn.float32, ttnn.ROW_MAJOR_LAYOUT), ttnn.int32)
    assert_equal(x.view(torch.int32), ttnn.to_torch(bits))
    chain = [ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU), ttnn.UnaryWithParam(ttnn.UnaryOpType.SQRT)]
    out = ttnn.unary_chain(dev(ttnn, device, x, ttnn.float32), chain)
    torch.testing.assert_close(ttnn.to_torch(out), torch.sqrt(torch.relu(x)))
    i = ttnn.from_torch(torch.tensor([[-1, 0, 5]], dtype=torch.int32), dtype=ttnn.int32, device=device)
    ttnn.plus_one(i, skip_negative_entries=True)
    assert ttnn.to_torch(i).tolist() == [[-1, 1, 6]]


@pytest.mark.parametrize("h_ones, w_ones", [(1, 2), (32, 5), (0, 0)])
def test_fill_rm(ttnn, device, h_ones, w_ones):
    any_tensor = dev(ttnn, device, torch.zeros(1, 1, 32, 32))
    out = ttnn.fill_rm(1, 2, 32, 64, h_ones, w_ones, any_tensor, 3.0, -1.0)
    expected = torch.full((1, 2, 32, 64), -1.0)
    expected[:, :, :h_ones, :w_ones] = 3.0
    assert out.layout == ttnn.ROW_MAJOR_LAYOUT
    assert_equal(expected.bfloat16(), ttnn.to_torch(out))
    ones = ttnn.to_torch(ttnn.fill_ones_rm(1, 1, 32, 32, h_ones, w_ones, any_tensor)).float()
    assert ones.sum().item() == h_ones * min(w_ones, 32)


def test_hc_sum_reduce(ttnn, device):
    x = torch.randn(1, 1, 32, 128)
    out = ttnn.experimental.hc_sum_reduce(dev(ttnn, device, x, ttnn.float32))
    torch.testing.assert_close(ttnn.to_torch(out), x.reshape(1, 1, 32, 4, 32).sum(-1), rtol=1e-5, atol=1e-5)
