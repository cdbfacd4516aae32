"""ttnn.transformer.scaled_dot_product_attention_decode (emulated): flash-decode over a KV cache, by position
(is_causal, cur_pos / cur_pos_tensor) or by mask; grouped-query attention; the real op's checks; cost that
follows the cache bytes it reads."""
import pytest
import torch
from helpers import pcc

OP = "scaled_dot_product_attention_decode"


def _tensors(ttnn, device, b=4, nh=8, nkv=2, s=128, d=64, kv_dtype=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = torch.randn(1, b, nh, d, generator=g), torch.randn(b, nkv, s, d, generator=g), \
        torch.randn(b, nkv, s, d, generator=g)
    kw = dict(layout=ttnn.TILE_LAYOUT, device=device)
    return (q, k, v), (ttnn.from_torch(q, dtype=ttnn.bfloat16, **kw),
                       ttnn.from_torch(k, dtype=kv_dtype or ttnn.bfloat16, **kw),
                       ttnn.from_torch(v, dtype=kv_dtype or ttnn.bfloat16, **kw))


def _reference(q, k, v, lengths=None, mask=None):
    b, nh = q.shape[1], q.shape[2]
    qh = q.permute(1, 2, 0, 3)
    kk, vv = k.repeat_interleave(nh // k.shape[1], 1), v.repeat_interleave(nh // k.shape[1], 1)
    if lengths is not None:
        keep = torch.arange(k.shape[2])[None] <= torch.tensor(lengths)[:, None]
        mask = torch.zeros(b, 1, 1, k.shape[2]).masked_fill(~keep[:, None, None], float("-inf"))
    return torch.nn.functional.scaled_dot_product_attention(qh, kk, vv, attn_mask=mask).permute(2, 0, 1, 3)


@pytest.mark.parametrize("nkv", [1, 2, 8])
@pytest.mark.parametrize("kv", ["bfloat16", "bfloat8_b"])
def test_causal_positions(ttnn, device, nkv, kv):
    pos = [0, 5, 63, 127]
    (q, k, v), (tq, tk, tv) = _tensors(ttnn, device, nkv=nkv, kv_dtype=getattr(ttnn, kv))
    out = ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, cur_pos=pos)
    assert list(out.shape) == [1, 4, 8, 64]
    assert pcc(_reference(q, k, v, pos), ttnn.to_torch(out).float()) > (0.999 if kv == "bfloat16" else 0.99)
    pos_t = ttnn.from_torch(torch.tensor(pos, dtype=torch.int32), dtype=ttnn.int32, device=device)
    again = ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, cur_pos_tensor=pos_t)
    assert torch.equal(ttnn.to_torch(out), ttnn.to_torch(again))


def test_mask_instead_of_positions(ttnn, device):
    (q, k, v), (tq, tk, tv) = _tensors(ttnn, device)
    m = torch.where(torch.rand(1, 4, 8, 128, generator=torch.Generator().manual_seed(1)) > 0.5, 0.0, -1e9)
    tm = ttnn.from_torch(m, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, is_causal=False, attn_mask=tm)
    ref = _reference(q, k, v, mask=m.permute(1, 2, 0, 3))
    assert pcc(ref, ttnn.to_torch(out).float()) > 0.999


def test_reads_only_the_chunks_up_to_the_position(ttnn, device):
    (_, _, _), (tq, tk, tv) = _tensors(ttnn, device, s=1024)

    def cost(pos):
        start = len(device.op_records)
        ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, cur_pos=pos)
        return device.op_records[start].bytes
    assert cost([10] * 4) < cost([1000] * 4)


@pytest.mark.parametrize("case, message", [
    ("no_positions", "cur_pos"),
    ("mask_with_causal", "Must not have attn_mask"),
    ("gqa_bf8_q", "GQA expects BFLOAT16"),
    ("bad_seq", "multiple of 32"),
    ("q_batch", "Q tensor batch size must be 1"),
    ("pos_past_cache", "cur_pos must be <= K sequence dim"),
    ("mask_shape", "attn_mask must be"),
])
def test_real_checks(ttnn, device, case, message):
    (q, k, v), (tq, tk, tv) = _tensors(ttnn, device)
    kw = dict(layout=ttnn.TILE_LAYOUT, device=device, dtype=ttnn.bfloat16)
    sdpa = ttnn.transformer.scaled_dot_product_attention_decode
    with pytest.raises(RuntimeError, match=message):
        if case == "no_positions":
            sdpa(tq, tk, tv)
        elif case == "mask_with_causal":
            sdpa(tq, tk, tv, cur_pos=[1] * 4, attn_mask=ttnn.from_torch(torch.zeros(1, 4, 8, 128), **kw))
        elif case == "gqa_bf8_q":
            sdpa(ttnn.from_torch(q, **{**kw, "dtype": ttnn.bfloat8_b}), tk, tv, cur_pos=[1] * 4)
        elif case == "bad_seq":
            kk = ttnn.from_torch(torch.randn(4, 2, 100, 64), **kw)
            sdpa(tq, kk, kk, cur_pos=[1] * 4)
        elif case == "q_batch":
            sdpa(ttnn.from_torch(q.reshape(4, 1, 8, 64), **kw), tk, tv, cur_pos=[1] * 4)
        elif case == "pos_past_cache":
            sdpa(tq, tk, tv, cur_pos=[128] * 4)
        else:
            sdpa(tq, tk, tv, is_causal=False, attn_mask=ttnn.from_torch(torch.zeros(4, 1, 1, 128), **kw))


def test_exp_follows_math_approx_mode(ttnn, device):
    """The flash-decode kernel's exp is exp_tile<EXP_APPROX_MODE>: the fast exp under math_approx_mode (the
    default), exact without it; both attend like the reference, the exact one closer."""
    pos = [3, 40, 90, 127]
    (q, k, v), (tq, tk, tv) = _tensors(ttnn, device)
    ref = _reference(q, k, v, pos)
    exact_cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2, math_approx_mode=False)
    fast = ttnn.to_torch(ttnn.transformer.scaled_dot_product_attention_decode(tq, tk, tv, cur_pos=pos)).float()
    exact = ttnn.to_torch(ttnn.transformer.scaled_dot_product_attention_decode(
        tq, tk, tv, cur_pos=pos, compute_kernel_config=exact_cfg)).float()
    assert not torch.equal(fast, exact)
    assert pcc(ref, fast) > 0.999 and (exact - ref).abs().mean() < (fast - ref).abs().mean()


def test_height_sharded_q_gives_a_dram_output(ttnn, device):
    """Q may come height-sharded (a user's heads per core, as rotary_embedding_hf leaves it); the output goes
    to DRAM interleaved unless memory_config says otherwise (sdpa_decode.cpp's default), not where Q is."""
    (q, k, v), (tq, tk, tv) = _tensors(ttnn, device)
    mc = ttnn.create_sharded_memory_config((32, 64), ttnn.CoreGrid(x=4, y=1), ttnn.ShardStrategy.HEIGHT,
                                           use_height_and_width_as_shard_shape=True)
    out = ttnn.transformer.scaled_dot_product_attention_decode(ttnn.interleaved_to_sharded(tq, mc), tk, tv,
                                                               cur_pos=[3, 3, 3, 3])
    assert not out.is_sharded() and out.memory_config().buffer_type == ttnn.BufferType.DRAM
    assert pcc(_reference(q, k, v, [3] * 4), ttnn.to_torch(out).float()) > 0.999
