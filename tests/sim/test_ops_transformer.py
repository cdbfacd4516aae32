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
    ref = torch.nn.functional.scaled_dot_product_attention(q, q, q).permute(0, 2, 1, 3).reshape(2, 1, 32, 96)
    assert list(out.shape) == [2, 1, 32, 96]   # [B, 1, S, NH*D], as tt-metal's test_sdpa_output_concat_heads
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


# --- the sharded head split and concat: tt-metal create_qkv_heads / nlp_concat_heads validation ---------------
def _block_sharded(ttnn, device, x, grid, orientation="ROW_MAJOR", dtype="bfloat16"):
    """x [B, S, W] block-sharded on grid (x, y) = cores along the width, the height (ROW_MAJOR) or the reverse."""
    gx, gy = grid
    rows, cols = (gy, gx) if orientation == "ROW_MAJOR" else (gx, gy)
    cores = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(gx - 1, gy - 1))})
    spec = ttnn.ShardSpec(cores, [x.shape[0] * x.shape[1] // rows, x.shape[2] // cols],
                          getattr(ttnn.ShardOrientation, orientation))
    mc = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1, spec)
    return ttnn.to_memory_config(tt(ttnn, device, x, dtype), mc)


@pytest.mark.parametrize("orientation,grid", [("ROW_MAJOR", (4, 2)), ("COL_MAJOR", (2, 4))])
@pytest.mark.parametrize("transpose_key", [False, True])
def test_sharded_split_then_concat(ttnn, device, orientation, grid, transpose_key):
    """One batch per core along the height, 4 heads over 4 cores along the width: each core splits its own
    |q_i k_i v_i| columns, and concatenate_heads puts the heads back on the same cores; costs no data movement
    beyond the cores (launch-bound)."""
    b, s, nh, d = 2, 64, 4, 32
    x = torch.randn(b, s, 3 * nh * d)
    fused = _block_sharded(ttnn, device, x, grid, orientation)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        fused, num_heads=nh, transpose_key=transpose_key, memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    groups = x.bfloat16().reshape(b, s, nh, 3, d)
    heads = [groups[:, :, :, i].permute(0, 2, 1, 3) for i in range(3)]
    assert torch.equal(ttnn.to_torch(q), heads[0]) and torch.equal(ttnn.to_torch(v), heads[2])
    assert torch.equal(ttnn.to_torch(k), heads[1].transpose(-1, -2) if transpose_key else heads[1])
    assert q.memory_config().shard_spec.shard_shape == (b * nh * s // 8, d)
    assert k.memory_config().shard_spec.shard_shape == ((b * nh * d // 8, s) if transpose_key else (b * nh * s // 8, d))
    assert device.op_records[-1].bound == "launch"
    merged = ttnn.transformer.concatenate_heads(v, memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG)
    assert merged.memory_config().shard_spec == fused.memory_config().shard_spec.__class__(
        fused.memory_config().shard_spec.grid, (s, nh * d // 4), getattr(ttnn.ShardOrientation, orientation))
    assert torch.equal(ttnn.to_torch(merged), heads[2].permute(0, 2, 1, 3).reshape(b, s, nh * d))
    assert device.op_records[-1].bound == "launch"


@pytest.mark.parametrize("case,message", [
    ("no output config", "Output memory config layout must be HEIGHT_SHARDED but got BLOCK_SHARDED"),
    ("block output", "Output memory config layout must be HEIGHT_SHARDED but got BLOCK_SHARDED"),
    ("batch != height cores", "Batch size 2 must be equal to num cores 4"),
    ("heads over width cores", "number of groups 4 must be a multiple of the number of width cores 8"),
    ("height-sharded input", "Input tensor memory layout must be BLOCK_SHARDED but got HEIGHT_SHARDED"),
    ("kv tensor", "KV tensor should not be provided when the input tensor is sharded"),
])
def test_sharded_split_rejects_what_create_qkv_heads_rejects(ttnn, device, case, message):
    b, s, nh, d = 2, 64, 4, 32
    x = torch.randn(b, s, 3 * nh * d)
    out = {"no output config": None, "block output": ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG}.get(
        case, ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    kv = None
    if case == "batch != height cores":
        fused = _block_sharded(ttnn, device, x, (2, 4))               # 4 rows of cores for 2 batches
    elif case == "heads over width cores":
        fused = _block_sharded(ttnn, device, torch.randn(b, s, 3 * nh * 64), (8, 2))   # 8 width cores, 4 heads
    elif case == "height-sharded input":
        fused = ttnn.to_memory_config(tt(ttnn, device, x), ttnn.create_sharded_memory_config(
            x.shape, ttnn.CoreGrid(x=2, y=1), ttnn.ShardStrategy.HEIGHT))
    else:
        fused = _block_sharded(ttnn, device, x, (4, 2))
        if case == "kv tensor":
            fused = _block_sharded(ttnn, device, x[..., : nh * d].contiguous(), (4, 2))
            kv = tt(ttnn, device, x[..., nh * d:].contiguous())
    with pytest.raises(RuntimeError, match=message):
        ttnn.transformer.split_query_key_value_and_split_heads(fused, kv, num_heads=nh, memory_config=out)


@pytest.mark.parametrize("case,message", [
    ("height output", "Output memory config layout must not be HEIGHT_SHARDED"),
    ("interleaved input, sharded output", "Output memory config layout must be INTERLEAVED but got BLOCK_SHARDED"),
    ("shard narrower than a head", r"shard width \(32\) must equal padded width \(64\)"),
])
def test_concat_heads_rejects_what_nlp_concat_heads_rejects(ttnn, device, case, message):
    b, nh, s, d = 2, 4, 64, 64
    x = torch.randn(b, nh, s, d)
    if case == "height output":
        t = ttnn.to_memory_config(tt(ttnn, device, x), ttnn.create_sharded_memory_config(
            x.shape, ttnn.CoreGrid(x=8, y=1), ttnn.ShardStrategy.HEIGHT))
        out = None                                        # defaults to the input's: height-sharded
    elif case == "interleaved input, sharded output":
        t, out = tt(ttnn, device, x), ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG
    else:
        t = ttnn.to_memory_config(tt(ttnn, device, x), ttnn.create_sharded_memory_config(
            x.shape, ttnn.CoreGrid(x=2, y=4), ttnn.ShardStrategy.BLOCK))
        out = ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG
    with pytest.raises(RuntimeError, match=message):
        ttnn.transformer.concatenate_heads(t, memory_config=out)


def test_sdpa_rejects_sharded_operands(ttnn, device):
    """TT-NN's SDPA reads DRAM or L1 interleaved operands only (tt-metal sdpa_device_operation)."""
    x = torch.randn(1, 2, 64, 32)
    q = ttnn.to_memory_config(tt(ttnn, device, x), ttnn.create_sharded_memory_config(
        x.shape, ttnn.CoreGrid(x=2, y=1), ttnn.ShardStrategy.HEIGHT))
    k = tt(ttnn, device, x)
    with pytest.raises(RuntimeError, match="Operands to SDPA need to be DRAM/L1 interleaved"):
        ttnn.transformer.scaled_dot_product_attention(q, k, k, is_causal=False)


def test_sdpa_wants_its_mask_in_dram(ttnn, device):
    """Q, K and V may be in L1, the mask may not (tt-metal sdpa_device_operation)."""
    x = torch.randn(1, 2, 64, 32)
    q = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                        memory_config=ttnn.L1_MEMORY_CONFIG)
    mask = torch.zeros(1, 1, 64, 64)
    in_l1 = ttnn.from_torch(mask, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                            memory_config=ttnn.L1_MEMORY_CONFIG)
    with pytest.raises(RuntimeError, match="When mask is provided to SDPA, it must be in DRAM"):
        ttnn.transformer.scaled_dot_product_attention(q, q, q, attn_mask=in_l1, is_causal=False)
    out = ttnn.transformer.scaled_dot_product_attention(q, q, q, attn_mask=tt(ttnn, device, mask), is_causal=False)
    assert_pcc(torch.nn.functional.scaled_dot_product_attention(x, x, x), ttnn.to_torch(out), 0.999)


def _rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


def _user_shards(ttnn, device, t, users, rows):
    mc = ttnn.create_sharded_memory_config((32 * -(-rows // 32), t.shape[-1]), ttnn.CoreGrid(x=users, y=1),
                                           ttnn.ShardStrategy.HEIGHT, use_height_and_width_as_shard_shape=True)
    return ttnn.interleaved_to_sharded(tt(ttnn, device, t), mc)


@pytest.mark.parametrize("heads,d", [(4, 64), (32, 64), (8, 128), (2, 32)])
def test_rotary_embedding_hf_decode(ttnn, device, heads, d):
    """Decode mode: x [1, B, NH, D] height-sharded one user per core, cos/sin [1, B, 1, D] sharded: each
    user's row rotates all its heads; the output stays sharded like x."""
    b = 8
    g = torch.Generator().manual_seed(0)
    x, cos, sin = torch.randn(1, b, heads, d, generator=g), torch.randn(1, b, 1, d, generator=g), \
        torch.randn(1, b, 1, d, generator=g)
    xs = _user_shards(ttnn, device, x, b, heads)
    out = ttnn.experimental.rotary_embedding_hf(xs, _user_shards(ttnn, device, cos, b, 1),
                                                _user_shards(ttnn, device, sin, b, 1), is_decode_mode=True)
    assert out.memory_config() == xs.memory_config() and list(out.shape) == [1, b, heads, d]
    assert_pcc(x * cos + _rotate_half(x) * sin, ttnn.to_torch(out).float(), 0.999)


@pytest.mark.parametrize("change,msg", [
    ("interleaved_x", "Input must be HEIGHT_SHARDED in decode mode"),
    ("interleaved_cos", "Cos and Sin must be sharded in decode mode"),
    ("head_dim_96", "must be either 32 .single tile. or divisible by 64"),
    ("prefill_per_user_cos", "Cos must have batch dim = 1 in prefill mode"),
    ("prefill_short_cos", "Cos seq_len must be >= input seq_len"),
    ("row_major_cos", "Cos must be tilized"),
])
def test_rotary_embedding_hf_rejects(ttnn, device, change, msg):
    """The real op's checks (rotary_embedding_hf_device_operation.cpp), with its messages."""
    b, h, d = 4, 4, 96 if change == "head_dim_96" else 64
    x, row = torch.randn(1, b, h, d), torch.randn(1, b, 1, d)
    xs = tt(ttnn, device, x) if change in ("interleaved_x", "prefill_per_user_cos") else \
        _user_shards(ttnn, device, x, b, h)
    cs = tt(ttnn, device, row) if change in ("interleaved_cos", "prefill_per_user_cos") else \
        _user_shards(ttnn, device, row, b, 1)
    decode = not change.startswith("prefill")
    if change == "prefill_short_cos":
        xs, cs = tt(ttnn, device, torch.randn(1, h, 64, d)), tt(ttnn, device, torch.randn(1, 1, 32, d))
    if change == "row_major_cos":
        cs = ttnn.from_torch(row, dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)
    with pytest.raises(RuntimeError, match=msg):
        ttnn.experimental.rotary_embedding_hf(xs, cs, cs, is_decode_mode=decode)


@pytest.mark.parametrize("users,nh,nkv,d", [(32, 32, 8, 64), (8, 4, 2, 32), (5, 8, 8, 128)])
def test_nlp_create_qkv_heads_decode(ttnn, device, users, nh, nkv, d):
    """[1, 1, B, (NH + 2 NKV) D] -> Q [1, B, NH, D], K/V [1, B, NKV, D], exact copies, height-sharded with user
    b's heads (padded to whole tiles) on core b of the first B cores row by row."""
    x = torch.randn(1, 1, users, (nh + 2 * nkv) * d)
    q, k, v = ttnn.experimental.nlp_create_qkv_heads_decode(tt(ttnn, device, x), num_heads=nh, num_kv_heads=nkv,
                                                           memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    heads = x.bfloat16().reshape(users, nh + 2 * nkv, d)
    for t, want, h in ((q, heads[:, :nh], nh), (k, heads[:, nh:nh + nkv], nkv), (v, heads[:, nh + nkv:], nkv)):
        assert torch.equal(ttnn.to_torch(t)[0], want)
        spec = t.memory_config().shard_spec
        assert t.memory_config().memory_layout == ttnn.TensorMemoryLayout.HEIGHT_SHARDED
        assert tuple(spec.shape) == (32 * -(-h // 32), d) and spec.grid.num_cores() == users


@pytest.mark.parametrize("change,msg", [
    ("users_33", "at most 32 users"), ("heads_64", "at most 32 query heads"), ("head_dim_48", "multiple of 32"),
    ("bfloat8_b", "Unsupported data format"), ("interleaved_out", "must be HEIGHT_SHARDED"),
    ("rank_3", "Unsupported input shape"),
])
def test_nlp_create_qkv_heads_decode_rejects(ttnn, device, change, msg):
    users, nh, nkv, d = (33 if change == "users_33" else 8), (64 if change == "heads_64" else 4), 2, \
        (48 if change == "head_dim_48" else 32)
    shape = (1, users, (nh + 2 * nkv) * d) if change == "rank_3" else (1, 1, users, (nh + 2 * nkv) * d)
    x = tt(ttnn, device, torch.randn(shape), "bfloat8_b" if change == "bfloat8_b" else "bfloat16")
    mc = ttnn.L1_MEMORY_CONFIG if change == "interleaved_out" else None
    with pytest.raises(RuntimeError, match=msg):
        ttnn.experimental.nlp_create_qkv_heads_decode(x, num_heads=nh, num_kv_heads=nkv, memory_config=mc)
