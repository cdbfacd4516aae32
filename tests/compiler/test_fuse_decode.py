"""The decode-step fusions on a tiny HF Llama with a StaticCache on the ttnn device (as bench/decode.py runs
Llama-3.2-1B): fuse.rms_norm, fuse.rotate_half and fuse.sink_permutes, plus flash-decode attention; each pass
switched off on its own still gives the right answer with more ops."""
import pytest
import torch
import transformers as hf
from helpers import pcc

import torch_ttnn
from torch_ttnn.bench import decode
from torch_ttnn.compiler.fuse import PASS_NAMES

USERS, CACHE = 8, 64


def _model(kv_heads=2, layers=1):
    cfg = hf.LlamaConfig(vocab_size=128, hidden_size=128, intermediate_size=256, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=kv_heads, head_dim=32,
                         max_position_embeddings=256)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    return hf.LlamaModel(cfg).eval()


def _decode(model, fuse=True):
    """Two decode steps (position 0, then 1) compiled on the device; the second step's output and metrics."""
    ids = torch.randint(0, 128, (USERS, 2), generator=torch.Generator().manual_seed(0))
    step = decode.compile_decode(decode.device_model(model), USERS, CACHE, fuse=fuse, verbose=False)
    step(ids[:, :1], torch.zeros(USERS, 1, dtype=torch.long))
    out = step(ids[:, 1:2], torch.ones(USERS, 1, dtype=torch.long)).cpu().float()
    ref = decode.reference_steps(model, ids, CACHE)[1]
    return out, ref, step.metrics(), step.option


def _ops(option):
    g = option._out_fx_graphs[-1]
    return [n.meta.get("ttnn_name") for n in g.nodes if n.op == "call_function"]


@pytest.fixture(scope="module")
def fused():
    model = _model()
    return model, _decode(model)


def test_decode_step_fused(device, fused):
    _, (out, ref, m, opt) = fused
    assert pcc(ref, out) > 0.999 and m["cpu_ops"] == 0
    f = m["fusions"]
    assert f["rms_norm"] == 3 and f["rotate_half"] == 2 and f["sink_permutes"] > 0 and f["gqa_attention"] == 1, f
    assert f["rotary_embedding"] == 2 and f["qkv_heads_decode"] == 3, f
    ops = _ops(opt)
    assert ops.count("scaled_dot_product_attention_decode") == 1 and ops.count("rms_norm") == 3
    assert ops.count("rotary_embedding_hf") == 2
    for gone in ("rsqrt", "square", "mean", "neg", "slice", "softmax", "repeat_interleave", "rotate_half",
                 "sharded_to_interleaved"):
        assert gone not in ops, (gone, ops)


@pytest.mark.parametrize("off", ["rms_norm", "rotate_half", "sink_permutes", "rotary_embedding",
                                 "qkv_heads_decode"])
def test_each_pass_can_be_switched_off(device, fused, off):
    model, (_, _, _, opt_on) = fused
    out, ref, m, opt = _decode(model, fuse=set(PASS_NAMES) - {off})
    assert off not in m["fusions"] and pcc(ref, out) > 0.999
    n_on, n_off = len(_tt_ops(opt_on)), len(_tt_ops(opt))
    assert n_off > n_on, (off, n_off, n_on)


def _tt_ops(option):
    """The TT-NN ops a call runs (frees excluded)."""
    return [o for o in _ops(option) if o not in (None, "deallocate")]


def _node(option, name):
    return [n for n in option._out_fx_graphs[-1].nodes if n.op == "call_function" and n.meta.get("ttnn_name") == name]


@pytest.fixture(scope="module")
def without_qkv():
    """Every pass but qkv_heads_decode: the rope's own moves to shards are still there."""
    model = _model()
    return _decode(model, fuse=set(PASS_NAMES) - {"qkv_heads_decode"})


def test_rotary_embedding_hands_sharded_heads_to_attention_and_cache(device, fused, without_qkv):
    """The fused RoPE's outputs go, height-sharded as they are, to flash-decode (Q) and to the KV-cache write
    (K, whose own interleaved_to_sharded is gone); cos and sin are sharded once for Q and K."""
    model, _ = fused
    out, ref, m, opt = without_qkv
    assert pcc(ref, out) > 0.999 and m["fusions"]["rotary_embedding"] == 2
    ropes = _node(opt, "rotary_embedding_hf")
    readers = {u.meta.get("ttnn_name") for r in ropes for u in r.users if u.meta.get("ttnn_name") != "deallocate"}
    assert readers == {"scaled_dot_product_attention_decode", "paged_update_cache"}, readers
    assert ropes[0].args[1] is ropes[1].args[1] and ropes[0].args[2] is ropes[1].args[2]
    assert all(r.kwargs["is_decode_mode"] and r.kwargs["memory_config"].is_sharded() for r in ropes)
    # per layer: Q and K to shards for the rope, V for the cache write; cos and sin once
    assert len(_node(opt, "interleaved_to_sharded")) == 5
    _, _, _, off = _decode(model, fuse=set(PASS_NAMES) - {"qkv_heads_decode", "rotary_embedding"})
    kernels = lambda o: [n for n in _tt_ops(o) if n != "reshape"]  # noqa: E731  (reshapes here are views)
    # per layer 4 multiply, 2 add, 2 rotate_half and K's move to shards -> 2 ropes and moves of Q and K (5 fewer);
    # per step cos and sin moved once (2 more)
    assert len(kernels(opt)) == len(kernels(off)) - 5 + 2, (kernels(opt), kernels(off))


def test_qkv_heads_decode(device, fused, without_qkv):
    """Q, K and V (grouped-query: 4 and 2 heads) from one product and nlp_create_qkv_heads_decode, whose
    sharded heads go straight to the ropes and the cache write: 3 products, 3 head copies and 3 moves -> 2 ops."""
    _, (out, ref, m, opt) = fused
    _, _, _, unfused = without_qkv
    assert m["fusions"]["qkv_heads_decode"] == 3 and pcc(ref, out) > 0.999
    (split,) = _node(opt, "nlp_create_qkv_heads_decode")
    assert split.kwargs["num_heads"] == 4 and split.kwargs["num_kv_heads"] == 2
    readers = sorted(u.meta.get("ttnn_name") for g in split.users for u in g.users
                     if u.meta.get("ttnn_name") != "deallocate")
    assert readers == ["paged_update_cache", "rotary_embedding_hf", "rotary_embedding_hf"], readers
    assert len(_node(opt, "interleaved_to_sharded")) == 2   # cos and sin only
    assert len(_node(opt, "matmul")) == len(_node(unfused, "matmul")) - 2
    kernels = lambda o: [n for n in _tt_ops(o) if n not in ("reshape", None)]  # noqa: E731
    assert len(kernels(opt)) == len(kernels(unfused)) - 3   # 3 products + 3 moves -> product + split
