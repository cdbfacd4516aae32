"""ttnn.transformer / experimental ops vs torch float32: attention, head split/concat, errors."""
import math

import pytest
import torch
from helpers import assert_pcc
from torch_ttnn.sim.ops._sfpu_approx import exp_fast


def tt(ttnn, device, t, dtype="bfloat16"):
    return ttnn.from_torch(t, dtype=getattr(ttnn, dtype), layout=ttnn.TILE_LAYOUT, device=device)


@pytest.mark.parametrize("b,nh,nkv,s,d", [(1, 2, 2, 32, 32), (2, 4, 2, 40, 64), (1, 4, 1, 7, 64)])
@pytest.mark.parametrize("causal,mask,scale", [(True, False, None), (False, False, 0.3), (False, True, None)])
@pytest.mark.parametrize("dtype", ["bfloat16", "bfloat8_b"])
def test_sdpa(ttnn, device, b, nh, nkv, s, d, causal, mask, scale, dtype):
    torch.manual_seed(0)
    q, k, v = torch.randn(b, nh, s, d), torch.randn(b, nkv, s, d), torch.randn(b, nkv, s, d)
    m = torch.where(torch.rand(b, 1, s, s) < 0.2, -1e9, 0.0) if mask else None
    m = m if m is None else m.masked_fill(torch.eye(s, dtype=torch.bool), 0.0)  # every row keeps one key
    out = ttnn.transformer.scaled_dot_product_attention(
        tt(ttnn, device, q, dtype), tt(ttnn, device, k, dtype), tt(ttnn, device, v, dtype),
        attn_mask=None if m is None else tt(ttnn, device, m), is_causal=causal, scale=scale)
    kk, vv = k.repeat_interleave(nh // nkv, 1), v.repeat_interleave(nh // nkv, 1)
    full = torch.zeros(s, s) if m is None else m
    if causal:
        full = full + torch.full((s, s), float("-inf")).triu(1)
    ref = torch.nn.functional.scaled_dot_product_attention(q, kk, vv, attn_mask=full, scale=scale)
    assert out.shape == ref.shape and out.dtype == getattr(ttnn, dtype)
    assert_pcc(ref, ttnn.to_torch(out), 0.99)


def test_sdpa_default_is_causal(ttnn, device):
    q = torch.randn(1, 1, 32, 32)
    x = tt(ttnn, device, q)
    ref = torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    assert_pcc(ref, ttnn.to_torch(ttnn.transformer.scaled_dot_product_attention(x, x, x)), 0.999)


def test_sdpa_concat_heads_output(ttnn, device):
    q = torch.randn(2, 3, 32, 32)
    x = tt(ttnn, device, q)
    out = ttnn.transformer.scaled_dot_product_attention(x, x, x, is_causal=False, output_concat_heads=True)
    ref = torch.nn.functional.scaled_dot_product_attention(q, q, q).permute(0, 2, 1, 3).reshape(2, 32, 96)
    assert_pcc(ref, ttnn.to_torch(out), 0.999)


@pytest.mark.parametrize("change,msg", [
    (dict(q=(1, 2, 32)), "rank 4"),
    (dict(k=(1, 2, 32, 16)), "head dim mismatch"),
    (dict(k=(1, 3, 32, 32), v=(1, 3, 32, 32)), "multiple of K/V heads"),
    (dict(layout="ROW_MAJOR"), "TILE"),
])
def test_sdpa_rejected(ttnn, device, change, msg):
    shapes = {n: change.get(n, (1, 2, 32, 32)) for n in "qkv"}
    layout = getattr(ttnn.Layout, change.get("layout", "TILE"))
    ts = [ttnn.from_torch(torch.randn(shapes[n]), dtype=ttnn.bfloat16, layout=layout, device=device) for n in "qkv"]
    with pytest.raises(RuntimeError, match=msg):
        ttnn.transformer.scaled_dot_product_attention(*ts)


@pytest.mark.parametrize("head_size,with_mask", [(None, False), (64, True)])
def test_attention_softmax(ttnn, device, head_size, with_mask):
    x, m = torch.randn(2, 3, 32, 40), torch.where(torch.rand(2, 1, 1, 40) < 0.3, -1e4, 0.0)
    scaled = x.bfloat16().float() * (1 / math.sqrt(head_size) if head_size else 1.0)
    ref = torch.softmax(scaled + (m if with_mask else 0), -1)
    kw = dict(head_size=head_size, attention_mask=tt(ttnn, device, m) if with_mask else None)
    assert_pcc(ref, ttnn.to_torch(ttnn.transformer.attention_softmax(tt(ttnn, device, x), **kw)), 0.999)
    inp = tt(ttnn, device, x)
    same = ttnn.transformer.attention_softmax_(inp, **kw)
    assert same is inp
    assert_pcc(ref, ttnn.to_torch(inp), 0.999)


@pytest.mark.parametrize("nh,nkv,transpose_key,separate_kv", [(4, None, True, False), (4, 2, False, False),
                                                               (2, 1, True, True)])
def test_split_and_concat_heads(ttnn, device, nh, nkv, transpose_key, separate_kv):
    b, s, d = 2, 33, 32
    nk = nkv or nh
    x = torch.randn(b, s, (nh + 2 * nk) * d)
    if separate_kv:
        q_in, kv_in = tt(ttnn, device, x[..., : nh * d].contiguous()), tt(ttnn, device, x[..., nh * d:].contiguous())
        q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(q_in, kv_in, num_heads=nh, num_kv_heads=nkv,
                                                                         transpose_key=transpose_key)
    else:
        q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(tt(ttnn, device, x), num_heads=nh,
                                                                         num_kv_heads=nkv, transpose_key=transpose_key)
    xb = x.bfloat16()
    ref_q = xb[..., : nh * d].reshape(b, s, nh, d).permute(0, 2, 1, 3)
    ref_k = xb[..., nh * d:(nh + nk) * d].reshape(b, s, nk, d).permute(0, 2, 1, 3)
    ref_v = xb[..., (nh + nk) * d:].reshape(b, s, nk, d).permute(0, 2, 1, 3)
    assert torch.equal(ttnn.to_torch(q), ref_q)
    assert torch.equal(ttnn.to_torch(k), ref_k.transpose(-1, -2) if transpose_key else ref_k)
    assert torch.equal(ttnn.to_torch(v), ref_v)
    cat = ttnn.transformer.concatenate_heads(q)
    assert torch.equal(ttnn.to_torch(cat), xb[..., : nh * d])
    nlp = ttnn.experimental.nlp_concat_heads(q)
    assert list(nlp.shape) == [b, 1, s, nh * d]


def test_split_rejects_bad_hidden(ttnn, device):
    with pytest.raises(RuntimeError, match="not divisible"):
        ttnn.transformer.split_query_key_value_and_split_heads(tt(ttnn, device, torch.randn(1, 4, 100)), num_heads=3)


def test_heads_must_be_whole_tiles(ttnn, device):
    """Both ops move whole tiles of a head: a head size of 16 is rejected, as TT-NN does."""
    with pytest.raises(RuntimeError, match="multiple of the tile width 32"):
        ttnn.transformer.split_query_key_value_and_split_heads(tt(ttnn, device, torch.randn(1, 32, 96)), num_heads=2)
    with pytest.raises(RuntimeError, match="multiple of 32"):
        ttnn.transformer.concatenate_heads(tt(ttnn, device, torch.randn(1, 4, 32, 16)))


def test_experimental_view_overloads(ttnn, device):
    x = tt(ttnn, device, torch.randn(2, 64, 32))
    assert list(ttnn.experimental.view(x, [1, 2, 64, 32]).shape) == [1, 2, 64, 32]
    assert list(ttnn.experimental.view(x, 1, 1, 128, 32).shape) == [1, 1, 128, 32]


@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, True), ([0, 2], False)])
def test_moreh_reductions(ttnn, device, dim, keepdim):
    x = torch.randn(3, 4, 37)
    t = tt(ttnn, device, x, "float32")
    ref = x.sum(dim=dim, keepdim=keepdim) if dim is not None else x.sum()
    assert torch.allclose(ttnn.to_torch(ttnn.moreh_sum(t, dim, keepdim=keepdim)), ref, atol=1e-4)
    ref_m = x.mean(dim=dim, keepdim=keepdim) if dim is not None else x.mean()
    assert torch.allclose(ttnn.to_torch(ttnn.moreh_mean(t, dim=dim, keepdim=keepdim)), ref_m, atol=1e-5)
    assert torch.allclose(ttnn.to_torch(ttnn.moreh_cumsum(t, 2)), x.cumsum(2), atol=1e-4)


def test_device_queries(ttnn, device):
    assert ttnn.device.is_wormhole_b0(device) and not ttnn.device.is_blackhole(device)
    assert ttnn.device.is_wormhole_b0() == (device.arch() == ttnn.Arch.WORMHOLE_B0)


def _cfg(ttnn, fidelity, fp32):
    return ttnn.WormholeComputeKernelConfig(math_fidelity=getattr(ttnn.MathFidelity, fidelity), fp32_dest_acc_en=fp32)


def _bf16(x):
    return x.bfloat16().float()


@pytest.mark.parametrize("cfg", [None, ("LoFi", False), ("HiFi2", True), ("HiFi4", True)])
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_sdpa_products_go_through_the_matmul_engine(ttnn, device, cfg, dtype):
    """SDPA = the recipe of the module docstring, step by step (exp: the kernel's fast exp, _sfpu_approx.py): both products bit-identical to ttnn.matmul with
    the same config (fidelity phases, TF32, bf16 accumulation per 32-wide K tile), every intermediate a bfloat16
    buffer; the default config is HiFi2 with bfloat16 accumulation."""
    torch.manual_seed(1)
    b, nh, s, d = 1, 2, 64, 96                       # d = 3 K tiles, s = 2 K tiles of P V
    q, k, v = (torch.randn(b, nh, s, d) * 2 for _ in range(3))
    tq, tk, tv = (tt(ttnn, device, x, dtype) for x in (q, k, v))
    c = None if cfg is None else _cfg(ttnn, *cfg)
    out = ttnn.to_torch(ttnn.transformer.scaled_dot_product_attention(tq, tk, tv, is_causal=True,
                                                                      compute_kernel_config=c))
    mm_cfg = c or _cfg(ttnn, "HiFi2", False)        # SDPA's own default
    scores = ttnn.to_torch(ttnn.matmul(tq, ttnn.permute(tk, (0, 1, 3, 2)), compute_kernel_config=mm_cfg,
                                       dtype=ttnn.bfloat16)).float()
    sc = 1 / math.sqrt(d)
    x = scores * (sc if dtype == "float32" else _bf16(torch.tensor(sc)).item())
    x = x.masked_fill(torch.ones(s, s, dtype=torch.bool).triu(1), float("-inf"))
    # math_approx_mode is on in every config here (the default and the constructor's): the fast exp, stored to
    # a Dst of the config's accumulation format, then packed to a bfloat16 buffer
    e = _bf16(exp_fast(x - x.amax(-1, keepdim=True), mm_cfg.fp32_dest_acc_en))
    inv = _bf16(1 / _bf16(e.sum(-1, keepdim=True)))
    ev = ttnn.to_torch(ttnn.matmul(tt(ttnn, device, e), tv, compute_kernel_config=mm_cfg, dtype=ttnn.bfloat16))
    want = ev.float() * inv
    want = want if dtype == "float32" else _bf16(want)
    assert torch.equal(out.float(), want), (out.float() - want).abs().max()


def test_sdpa_honours_its_compute_config(ttnn, device):
    """Fidelity and accumulation change the result as they change a matmul's: LoFi is worst, and bfloat16
    accumulation of a long P V product (s = 512: 16 K tiles) loses to float32 accumulation."""
    torch.manual_seed(2)
    b, nh, s, d = 1, 1, 512, 64
    q, k, v = torch.randn(b, nh, s, d), torch.randn(b, nh, s, d), torch.randn(b, nh, s, d)
    ref = torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=False)
    tq, tk, tv = (tt(ttnn, device, x, "float32") for x in (q, k, v))
    err = {}
    for name, c in {"lofi": _cfg(ttnn, "LoFi", True), "default": None, "hifi4_bf16acc": _cfg(ttnn, "HiFi4", False),
                    "hifi4_fp32acc": _cfg(ttnn, "HiFi4", True)}.items():
        got = ttnn.to_torch(ttnn.transformer.scaled_dot_product_attention(tq, tk, tv, is_causal=False,
                                                                          compute_kernel_config=c))
        err[name] = (got.double() - ref).abs().mean().item()
    assert err["lofi"] > err["default"] > err["hifi4_fp32acc"], err
    assert err["hifi4_bf16acc"] > err["hifi4_fp32acc"], err


@pytest.mark.parametrize("case", ["head_dim", "causal_and_mask", "causal_lengths"])
def test_sdpa_rejects_what_the_real_op_rejects(ttnn, device, case):
    """0.81.1's validation: no tile padding of the head dim, not is_causal with attn_mask, causal only with
    Sq == Sk (the real messages)."""
    d = 48 if case == "head_dim" else 32
    sk = 64 if case == "causal_lengths" else 32
    q, k = tt(ttnn, device, torch.randn(1, 2, 32, d)), tt(ttnn, device, torch.randn(1, 2, sk, d))
    mask = tt(ttnn, device, torch.zeros(1, 1, 32, sk)) if case == "causal_and_mask" else None
    match = {"head_dim": "Padding is not supported on the head_dim", "causal_and_mask": "cannot both be present",
             "causal_lengths": "same sequence length"}[case]
    with pytest.raises(RuntimeError, match=match):
        ttnn.transformer.scaled_dot_product_attention(q, k, k, attn_mask=mask)
