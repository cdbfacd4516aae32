"""ttnn.transformer (emulated): scaled_dot_product_attention, attention_softmax(_), concatenate_heads,
split_query_key_value_and_split_heads.

Layouts follow the real ops and their golden functions (ttnn/operations/transformer.py in the package): heads
are [B, NH, S, D]; a fused QKV row is [Q heads | K heads | V heads]; K comes out transposed [B, NKV, D, S] unless
transpose_key=False.

SDPA numerics follow the flash-attention kernel (tt-metal sdpa.cpp and sdpa_program_factory.cpp):
- Both products, Q K^T and P V, run on the matrix engine through the same path as ttnn.matmul
  (sim/ops/matmul.py: operands as the source registers hold them, TF32 for float32, denormals flushed;
  fidelity phases; Dst accumulation in bfloat16 per 32-wide K tile unless fp32_dest_acc_en).
- The compute config is the call's compute_kernel_config, else SDPA's own default: HiFi2, approximate mode,
  no fp32 accumulation (init_device_compute_kernel_config(..., HiFi2, true, false, false)).
- Every intermediate the kernel keeps between steps (scores, probabilities, running max and sum, the output
  accumulator) lives in bfloat16 circular buffers whatever fp32_dest_acc_en says (im_df = stats_df =
  Float16_b, "need to disable fp32 cbs", tt-metal issue #13364); the scale is a bfloat16 scalar unless Q is
  float32. The exp is the fast Schraudolph exp when math_approx_mode is on (the default), else exact. The kernel packs S = Q K^T to a bfloat16 buffer and applies the scale inside the exponent on the
  vector engine (float32). So: S = bf16(Q K^T); x = S * scale + mask; E = bf16(exp(x - rowmax(x)));
  l = bf16(sum E); O = bf16(E V) * bf16(1 / l), rounded to the output dtype. The kernel's split of K into
  chunks (a running max rescaling the partial sums) is not modelled: one chunk spans all keys.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from ..formats import round_bfloat16
from ._sfpu_approx import exp_fast
from ..operation import operation, record
from ..cost import MatmulWork
from ..tensor import nbytes, new_device_tensor, operand, operands, require_device
from ..types import (INTEGERS, BufferType, DataType, Layout, MathFidelity, MemoryConfig, ShardOrientation, ShardSpec,
                     TensorMemoryLayout, shard_spec_2d, tile_bytes)
from . import _eltwise as E
from .data_movement import _check, _finish
from .matmul import _BITS, _accumulate, _phases
from .normalization import softmax_values
from .program_configs import SoftmaxDefaultProgramConfig, sharded_like, validate_softmax

__all__ = ["scaled_dot_product_attention", "scaled_dot_product_attention_decode", "attention_softmax",
           "attention_softmax_", "concatenate_heads", "split_query_key_value_and_split_heads"]


def _sdpa_golden(q, k, v, *, attn_mask=None, is_causal=True, scale=None, **_):
    rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(rep, 1).float(), v.repeat_interleave(rep, 1).float()
    if attn_mask is not None and is_causal:
        causal = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        attn_mask = attn_mask.float().masked_fill(~causal, float("-inf"))
        is_causal = False
    return torch.nn.functional.scaled_dot_product_attention(q.float(), k, v, attn_mask=attn_mask,
                                                            is_causal=is_causal, scale=scale)


@operation("ttnn.transformer.scaled_dot_product_attention", golden_function=_sdpa_golden)
def scaled_dot_product_attention(input_tensor_q, input_tensor_k, input_tensor_v, *, attn_mask=None, is_causal=True,
                                 scale=None, sliding_window_size=None, memory_config=None, program_config=None,
                                 compute_kernel_config=None, attention_sink=None, cu_window_seqlens=None,
                                 windowed_q_token_offset=0, windowed_q_token_offset_tensor=None,
                                 output_concat_heads=False, attn_mask_block_map=None):
    """softmax(Q K^T * scale + mask) V over [B, NH, S, D] (K/V may have fewer heads: grouped-query attention).
    is_causal defaults to True, as in the real op; an attn_mask [B, 1|NH, Sq, Sk] is added to the scores
    (is_causal=False must go with it). scale defaults to 1/sqrt(D). sliding_window_size limits each query
    to the last that many keys. Validation per tt-metal sdpa_device_operation (0.81.1 messages): rank 4, TILE,
    float dtypes, not sharded (DRAM or L1 interleaved), the mask in DRAM, matching batch and head dim, NH
    divisible by NKV, no tile padding of the head dim (D a multiple of 32), is_causal and attn_mask not both,
    causal only with Sq == Sk. output_concat_heads=True writes the heads side by side, [B, 1, S, NH*D], as
    concatenate_heads would lay them out.
    """
    op = "ttnn.transformer.scaled_dot_product_attention"
    dev = require_device(op, input_tensor_q, input_tensor_k, input_tensor_v, attn_mask)
    q, k, v = input_tensor_q, input_tensor_k, input_tensor_v
    for name, t in (("Q", q), ("K", k), ("V", v)):
        _check(len(t.shape) == 4, op, f"{name} must be rank 4 [B, heads, S, D], got {list(t.shape)}")
        _check(t.layout == Layout.TILE, op, f"{name} must be in TILE layout; use ttnn.to_layout")
        _check(t.dtype not in INTEGERS, op, f"{name} must be a float type, got {t.dtype}")
        _check(not t.is_sharded(), op, f"Operands to SDPA need to be DRAM/L1 interleaved ({name} is "
               f"{t.memory_config().memory_layout.name}; ttnn.to_memory_config it to an interleaved config)")
    b, nh, sq, d = q.shape
    _check(k.shape[0] == b and v.shape[0] == b, op, f"batch mismatch: Q {list(q.shape)}, K {list(k.shape)}, "
           f"V {list(v.shape)}")
    _check(k.shape[3] == d and v.shape[3] == d, op, f"head dim mismatch: Q {d}, K {k.shape[3]}, V {v.shape[3]}")
    _check(list(k.shape) == list(v.shape), op, f"K {list(k.shape)} and V {list(v.shape)} must have the same shape")
    nkv, sk = k.shape[1], k.shape[2]
    _check(nh % nkv == 0, op, f"Q heads ({nh}) must be a multiple of K/V heads ({nkv})")
    _check(d % 32 == 0, op, f"Padding is not supported on the head_dim dimension: head dim {d} is not a multiple of "
           f"32, so the tiles pad it; zero-pad Q, K and V's last dim to a multiple of 32, pass "
           f"scale=1/sqrt({d}) and slice the output")
    _check(not (is_causal and attn_mask is not None), op, f"is_causal and attn_mask cannot both be present. Got "
           f"is_causal: {is_causal}, attn_mask: True; pass is_causal=False with the causal part in the mask")
    _check(not is_causal or sq == sk, op, f"Causal SDPA requires Q and K to have the same sequence length. Got Q: "
           f"{sq}, K: {sk}")
    fid, fp32_acc = _sdpa_config(compute_kernel_config)
    kk = E.fpu_operand(k.value, k.dtype).repeat_interleave(nh // nkv, 1)
    vv = E.fpu_operand(v.value, v.dtype).repeat_interleave(nh // nkv, 1)
    scores = _engine(E.fpu_operand(q.value, q.dtype), kk.transpose(-1, -2), fid, fp32_acc,
                     _BITS.get(q.dtype, 7), _BITS.get(k.dtype, 7))
    sc = 1.0 / math.sqrt(d) if scale is None else float(scale)
    sc = sc if q.dtype == DataType.FLOAT32 else float(round_bfloat16(torch.tensor([sc])).float())
    scores = E.round_to(scores, DataType.BFLOAT16) * sc   # S packed to bfloat16; the scale applied in the SFPU
    if attn_mask is not None:
        m = attn_mask.value.float()
        _check(attn_mask.memory_config().buffer_type == BufferType.DRAM, op, "When mask is provided to SDPA, it "
               f"must be in DRAM (it is in {attn_mask.memory_config().buffer_type.name}: pass the op that makes it "
               "memory_config=ttnn.DRAM_MEMORY_CONFIG)")
        _check(m.dim() == 4 and m.shape[-2:] == (sq, sk) and m.shape[0] in (1, b) and m.shape[1] in (1, nh), op,
               f"attn_mask must be [B|1, 1|NH, {sq}, {sk}], got {list(m.shape)}")
        scores = scores + m
    qi = torch.arange(sq).unsqueeze(1)
    kj = torch.arange(sk).unsqueeze(0)
    keep = torch.ones(sq, sk, dtype=torch.bool)
    if is_causal:
        keep &= kj <= qi
    if sliding_window_size is not None:
        keep &= kj > qi - sliding_window_size
    scores = scores.masked_fill(~keep, float("-inf"))
    row_max = scores.amax(-1, keepdim=True)
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))  # a fully masked row
    # exp_tile<approx=EXP_APPROX_MODE> (tt-metal sdpa compute_common.hpp): the config's math_approx_mode, on by
    # default, selects the fast Schraudolph exp (sim/ops/_sfpu_approx.py; inputs here are <= 0, where its
    # unclamped variant agrees with the clamped one).
    approx = compute_kernel_config is None or bool(compute_kernel_config.math_approx_mode)
    x = scores - row_max
    e = E.round_to(exp_fast(x, fp32_acc) if approx else torch.exp(x), DataType.BFLOAT16)
    inv_sum = E.round_to(torch.reciprocal(E.round_to(e.sum(-1, keepdim=True), DataType.BFLOAT16)),
                         DataType.BFLOAT16)
    out = E.round_to(_engine(e, vv, fid, fp32_acc, 7, _BITS.get(v.dtype, 7)), DataType.BFLOAT16) * inv_sum
    if output_concat_heads:   # the heads side by side, [B, 1, S, NH*D] (tt-metal test_sdpa_output_concat_heads)
        out = out.permute(0, 2, 1, 3).reshape(b, 1, sq, nh * d)
    flops = 4.0 * b * nh * sq * sk * d
    # Priced as flash attention runs it: per (batch, head), Q K^T and P V as tile products on the matrix
    # engine (scores stay in L1), softmax on the vector engine; Q, K, V and the mask read once.
    t = lambda n: -(-n // 32)  # noqa: E731
    work = MatmulWork(b * nh, t(sq), 2 * t(d), t(sk), dev.spec.grid.y, dev.spec.grid.x, fid.passes, fp32_acc)
    return _finish(op, dev, out, q, (q, k, v, attn_mask), memory_config=memory_config, flops=flops,
                   matmul=work, sfpu_ops=float(b * nh * t(sq) * t(sk) * 1024), sfpu_cycles=4.0)


def _sdpa_config(cfg) -> tuple[MathFidelity, bool]:
    """(fidelity, fp32 accumulation) of an SDPA call: its compute_kernel_config, else the op's default
    (HiFi2, bfloat16 accumulation: tt-metal sdpa.cpp)."""
    if cfg is None:
        return MathFidelity.HiFi2, False
    fid = cfg.math_fidelity if cfg.math_fidelity != MathFidelity.Invalid else MathFidelity.HiFi2
    return fid, bool(cfg.fp32_dest_acc_en)


def _engine(x_b, x_a, fid, fp32_acc, bits_b, bits_a):
    """x_b @ x_a on the matrix engine (x_b the first input, in SrcB), as ttnn.matmul computes it."""
    return _accumulate(_phases(x_b, x_a, fid, bits_b, bits_a), fp32_acc)


def _decode_chunk(s: int) -> int:
    """The op's K chunk when no program config gives one: the largest power-of-two divisor of S, at most 512
    (tt-metal sdpa_decode.cpp get_chunk_size); it must be a whole number of tiles."""
    i = 1
    while i < s and s % (1 << (i + 1)) == 0:
        i += 1
    return min(512, 1 << i)


def _decode_positions(op, b, s, cur_pos, cur_pos_tensor):
    """Each user's last position (keys 0..pos attend; -1: the user is skipped), from the list or the tensor."""
    if cur_pos_tensor is not None:
        _check(cur_pos_tensor.dtype == DataType.INT32, op, f"Expect cur_pos to be INT32, got {cur_pos_tensor.dtype}")
        _check(cur_pos_tensor.layout == Layout.ROW_MAJOR, op, "Expect cur_pos to be ROW_MAJOR, got TILE")
        pos = cur_pos_tensor.value.reshape(-1).long()
    else:
        _check(len(cur_pos) > 0, op, "is_causal=True needs the users' positions: cur_pos (list of B ints) or "
               "cur_pos_tensor (int32 [B])")
        pos = torch.tensor(list(cur_pos), dtype=torch.long)
    _check(pos.numel() == b, op, f"cur_pos must have batch size equal to Q, got {pos.numel()} and {b}")
    _check(bool((pos < s).all()), op, f"cur_pos must be <= K sequence dim ({s}), got {pos.tolist()}")
    return pos


def _sdpa_decode_golden(q, k, v, *, is_causal=True, attn_mask=None, cur_pos=(), scale=None, **_):
    b, nh, d = q.shape[1], q.shape[2], q.shape[3]
    qh = q.float().permute(1, 2, 0, 3)  # [B, NH, 1, D]
    rep = nh // k.shape[1]
    kk, vv = k.float().repeat_interleave(rep, 1), v.float().repeat_interleave(rep, 1)
    mask = None
    if is_causal:
        keep = torch.arange(k.shape[2]).unsqueeze(0) <= torch.tensor(list(cur_pos)).unsqueeze(1)
        mask = torch.zeros(b, 1, 1, k.shape[2]).masked_fill(~keep[:, None, None, :], float("-inf"))
    elif attn_mask is not None:
        mask = attn_mask.float().reshape(b, nh, 1, -1)
    out = torch.nn.functional.scaled_dot_product_attention(qh, kk, vv, attn_mask=mask, scale=scale)
    return out.permute(2, 0, 1, 3)


@operation("ttnn.transformer.scaled_dot_product_attention_decode", golden_function=_sdpa_decode_golden)
def scaled_dot_product_attention_decode(input_tensor_q, input_tensor_k, input_tensor_v, *, is_causal=True,
                                        attn_mask=None, cur_pos=(), cur_pos_tensor=None, attention_sink=None,
                                        scale=None, sliding_window_size=None, memory_config=None,
                                        program_config=None, compute_kernel_config=None, share_cache=None):
    """Flash-decode: one new token per user against its K/V cache. Q [1, B, NH, D] (users on dim 1, heads on
    the tile rows), K/V [B, NKV, S, D] with NKV dividing NH (grouped-query attention reads each KV head once
    for its group of query heads); output [1, B, NH, D]. is_causal=True (the default): user b attends keys
    0..cur_pos[b] (cur_pos, or cur_pos_tensor int32 [B] read on the device; -1 skips the user: zeros here);
    otherwise every key, plus attn_mask [1, B, NH, S] if given (added to the scores). Validation per tt-metal
    sdpa_decode_device_operation (unpaged). Numerics as scaled_dot_product_attention's: scores and
    probabilities rounded to bfloat16. Priced as the kernel runs: each user's KV heads split over its share of
    the grid, each reading its K/V chunks once (causal: only the chunks up to its position), Q K^T and P V on
    the matrix engine with the group's query heads as one tile row, the softmax on the vector engine.
    The emulator is kinder than the card in one way: fp32_dest_acc_en is accepted and not modelled."""
    op = "ttnn.transformer.scaled_dot_product_attention_decode"
    dev = require_device(op, input_tensor_q, input_tensor_k, input_tensor_v, attn_mask, cur_pos_tensor)
    q, k, v = input_tensor_q, input_tensor_k, input_tensor_v
    _check(attention_sink is None, op, "attention_sink is not emulated")
    _check(not share_cache, op, "share_cache=True (every user reading one shared K/V cache) is not emulated: "
           "give K/V a batch of B")
    for name, t in (("Q", q), ("K", k), ("V", v)):
        _check(len(t.shape) == 4, op, f"{name} must be rank 4, got {list(t.shape)}")
        _check(t.dtype in (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B), op,
               f"Unsupported data type {t.dtype}.")
    for name, t in (("K", k), ("V", v)):
        _check(t.layout == Layout.TILE, op, "Inputs to SDPA must be tilized except for Q")
        _check(t.memory_config().buffer_type == BufferType.DRAM, op,
               f"Input tensor {name} buffer type must be DRAM but got {t.memory_config().buffer_type}")
    qmc = q.memory_config()
    _check(qmc.memory_layout == TensorMemoryLayout.HEIGHT_SHARDED if q.is_sharded()
           else qmc.buffer_type == BufferType.DRAM, op,
           "Q tensor must be HEIGHT_SHARDED when sharded, else in DRAM")
    one, b, nh, d = q.shape
    _check(one == 1, op, f"Q tensor batch size must be 1 for decode mode but got {one} (Q is [1, B, NH, D])")
    _check(k.shape[0] == b and v.shape[0] == b, op, f"K tensor batch size ({k.shape[0]}) must equal B ({b})")
    nkv, s = k.shape[1], k.shape[2]
    _check(list(k.shape) == list(v.shape), op, f"K {list(k.shape)} and V {list(v.shape)} must have the same shape")
    _check(k.shape[3] == d, op, f"K tensor hidden dimension ({k.shape[3]}) must equal Q tensor hidden dimension "
           f"({d})")
    chunk = program_config.k_chunk_size if program_config is not None and getattr(program_config, "k_chunk_size", 0) \
        else _decode_chunk(s)
    _check(chunk % 32 == 0, op, f"Chunk size must be multiple of 32, but the maximum calculated k_chunk_size is: "
           f"{chunk} (K's sequence length {s} must be a multiple of 32)")
    _check(s % chunk == 0, op, f"K sequence length must be multiple of chunk size, got: {s} and {chunk}")
    if nkv > 1:
        _check(q.dtype == DataType.BFLOAT16, op, f"GQA expects BFLOAT16 input tensor, but got {q.dtype}")
        _check(nh % nkv == 0, op, f"GQA expects Q to have a multiple of K heads, but got {nh} and {nkv}")
        _check(memory_config is None or not memory_config.is_sharded(), op, "Sharded output not supported for GQA")
    pnh = 32 * -(-nh // 32)
    scores = q.value.float().permute(1, 2, 0, 3) @ k.value.float().repeat_interleave(nh // nkv, 1).transpose(-1, -2)
    scores = round_bfloat16(scores * (1.0 / math.sqrt(d) if scale is None else scale)).float()  # [B, NH, 1, S]
    keys = torch.arange(s)
    if is_causal:
        _check(attn_mask is None, op, "Must not have attn_mask tensor for non-causal attention")
        pos = _decode_positions(op, b, s, cur_pos, cur_pos_tensor)
        keep = keys.unsqueeze(0) <= pos.unsqueeze(1)
        if sliding_window_size is not None:
            keep &= keys.unsqueeze(0) > (pos - sliding_window_size).unsqueeze(1)
        scores = scores.masked_fill(~keep[:, None, None, :], float("-inf"))
        read_chunks = float(((pos.clamp(min=-1) + 1 + chunk - 1) // chunk).sum()) / (b * (s // chunk))
    else:
        read_chunks = 1.0
        if attn_mask is not None:
            m = attn_mask.value.float()
            _check(m.dim() == 4 and m.shape[-2:] == (nh, s) and tuple(m.shape[:2]) in ((1, b), (b, 1)), op,
                   f"attn_mask must be [1, B, NH, S] = [1, {b}, {nh}, {s}] (same heads as Q, same sequence as K), "
                   f"got {list(m.shape)}")
            _check(attn_mask.dtype in (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B), op,
                   f"Unsupported data type for mask tensor: {attn_mask.dtype}.")
            scores = scores + m.reshape(b, nh, 1, s)
    if compute_kernel_config is None or compute_kernel_config.math_approx_mode:
        # the flash-decode kernel's exp is compute_common.hpp's exp_tile<EXP_APPROX_MODE>: the fast exp
        row_max = scores.amax(-1, keepdim=True)
        e = exp_fast(scores - torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max)), True)
        probs = round_bfloat16(e / e.sum(-1, keepdim=True)).float()
    else:
        probs = round_bfloat16(torch.softmax(scores, -1)).float()
    out = probs @ v.value.float().repeat_interleave(nh // nkv, 1)         # [B, NH, 1, D]
    if is_causal:
        out = out.masked_fill((pos < 0)[:, None, None, None], 0.0)
    out = out.permute(2, 0, 1, 3)
    t = lambda n: -(-n // 32)  # noqa: E731
    group_rows = t(nh // nkv) if nkv > 1 else t(pnh)
    cfg = compute_kernel_config
    passes = cfg.math_fidelity.passes if cfg is not None and cfg.math_fidelity.name != "Invalid" else 2
    # per (user, KV head): [group rows, D] x [D, S] then [group rows, S] x [S, D], rows one tile
    work = MatmulWork(b * nkv, group_rows, t(d), 2 * t(s), dev.spec.grid.y, dev.spec.grid.x, passes,
                      bool(cfg is not None and cfg.fp32_dest_acc_en))
    kv_read = [dataclasses.replace(operand(x), bytes=operand(x).bytes * read_chunks) for x in (k, v)]
    # the output goes where memory_config says, else to DRAM interleaved (sdpa_decode.cpp: value_or(
    # DEFAULT_OUTPUT_MEMORY_CONFIG)), not where Q is: a height-sharded Q gives an interleaved output
    out_mc = memory_config or MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
    return _finish(op, dev, out, q, (q, attn_mask), memory_config=out_mc, read=kv_read,
                   flops=4.0 * b * nh * s * d * read_chunks, matmul=work,
                   sfpu_ops=float(b * nkv * group_rows * t(s) * 1024 * read_chunks), sfpu_cycles=4.0)


_DEFAULT_PROGRAM = SoftmaxDefaultProgramConfig()


def _attn_softmax_golden(t, *, head_size=None, attention_mask=None, **_):
    t = t.float() * (1.0 / math.sqrt(head_size) if head_size is not None else 1.0)
    return torch.softmax(t + attention_mask.float() if attention_mask is not None else t, -1)


def _attn_softmax_values(op, tensor, head_size, attention_mask, causal_mask, program_config):
    dev = require_device(op, tensor, attention_mask)
    validate_softmax(op, program_config, tensor, dev.compute_with_storage_grid_size())
    _check(len(tensor.shape) == 4, op, f"input must be rank 4 [B, NH, Sq, Sk], got {list(tensor.shape)}")
    x = tensor.value.float() * (1.0 / math.sqrt(head_size) if head_size is not None else 1.0)
    if attention_mask is not None:
        m = attention_mask.value.float()
        try:
            x = x + m
        except RuntimeError:
            raise RuntimeError(f"{op}: attention_mask {list(m.shape)} does not broadcast to the scores "
                               f"{list(tensor.shape)}") from None
    elif causal_mask:
        raise RuntimeError(f"{op}: causal_mask=True needs the causal mask passed as attention_mask")
    # the softmax kernel with its default config (numerics: normalization.softmax_values, fast exp included)
    return dev, softmax_values(x, -1, tensor.dtype)


@operation("ttnn.transformer.attention_softmax", golden_function=_attn_softmax_golden)
def attention_softmax(tensor, *, head_size=None, attention_mask=None, program_config=_DEFAULT_PROGRAM,
                      causal_mask=False, memory_config=None):
    """softmax(x / sqrt(head_size) + attention_mask) over the last dim (no scaling when head_size is None)."""
    op = "ttnn.transformer.attention_softmax"
    dev, y = _attn_softmax_values(op, tensor, head_size, attention_mask, causal_mask, program_config)
    return _finish(op, dev, y, tensor, (tensor, attention_mask), memory_config=sharded_like(memory_config, tensor),
                   sfpu_ops=float(y.numel()), sfpu_cycles=4.0)


@operation("ttnn.transformer.attention_softmax_", golden_function=_attn_softmax_golden)
def attention_softmax_(tensor, *, head_size=None, attention_mask=None, program_config=_DEFAULT_PROGRAM,
                       causal_mask=False,
                       memory_config=None):
    """In-place attention_softmax: the input tensor's buffer is overwritten and the input returned."""
    op = "ttnn.transformer.attention_softmax_"
    dev, y = _attn_softmax_values(op, tensor, head_size, attention_mask, causal_mask, program_config)
    tmp = new_device_tensor(y, tensor.dtype, tensor.layout, dev, tensor.memory_config())
    tensor._values = tmp._values  # the same buffer now holds the result
    tmp.deallocate()
    record(dev, op, operands=operands(tensor, tensor), sfpu_ops=float(tensor.volume()), sfpu_cycles=4.0)
    return tensor


@operation("ttnn.transformer.concatenate_heads",
           golden_function=lambda t, **_: t.permute(0, 2, 1, 3).reshape(t.shape[0], t.shape[2], -1))
def concatenate_heads(input_tensor, *, memory_config=None):
    """[B, NH, S, D] -> [B, S, NH*D] (rank 4, TILE, D a multiple of 32, as the real op requires). The output
    memory config defaults to the input's; validation and the sharded output follow tt-metal's
    ConcatenateHeads / NLPConcatHeadsDeviceOperation (see `_concat_heads_placement`)."""
    op = "ttnn.transformer.concatenate_heads"
    dev = require_device(op, input_tensor)
    _check(len(input_tensor.shape) == 4, op, f"input must be rank 4 [B, NH, S, D], got {list(input_tensor.shape)}")
    _check(input_tensor.layout == Layout.TILE, op, "input must be in TILE layout")
    b, nh, s, d = input_tensor.shape
    _check(d % 32 == 0, op, f"Head size must be a multiple of 32 but was found to be {d} (a whole tile: pad the "
           f"weights of the matmul that produces the heads)")
    y = input_tensor.value.permute(0, 2, 1, 3).reshape(b, s, nh * d)
    return _finish(op, dev, y, input_tensor, memory_config=_concat_heads_placement(op, input_tensor, memory_config))


def _concat_heads_placement(op, t, memory_config):
    """The output's memory config, checked as tt-metal's nlp_concat_heads validates it. A sharded input (not
    width-sharded) must hold whole heads per shard: shard width = D, shard height a multiple of S, and the heads
    split evenly into shards; its output may not be height-sharded. An interleaved input gives an interleaved
    output only. A sharded output always takes the input's grid and orientation, each shard S rows x
    heads_per_shard*D columns (a shard spec passed in is replaced, as the real op does)."""
    mc = memory_config or t.memory_config()
    if not t.is_sharded():
        _check(not mc.is_sharded(), op, f"Output memory config layout must be INTERLEAVED but got "
               f"{mc.memory_layout.name} (an interleaved input concatenates to an interleaved output; shard the "
               f"input to get sharded heads out)")
        return memory_config
    layout = t.memory_config().memory_layout
    _check(layout != TensorMemoryLayout.WIDTH_SHARDED, op, "Input tensor memory layout must not be WIDTH_SHARDED "
           "but got WIDTH_SHARDED")
    spec = shard_spec_2d(t.memory_config(), op)
    rows, width = spec.shard_shape
    nh, s, d = t.padded_shape[1], t.padded_shape[-2], t.padded_shape[-1]
    _check(width == d, op, f"Input tensor shard width ({width}) must equal padded width ({d})")
    _check(rows % s == 0, op, f"Input tensor shard height ({rows}) must be divisible by padded height ({s})")
    _check(nh % (rows // s) == 0, op, f"Input tensor padded height ({nh}) must be divisible by shard height / "
           f"padded height ({rows} / {s})")
    _check(mc.memory_layout != TensorMemoryLayout.HEIGHT_SHARDED, op, "Output memory config layout must not be "
           "HEIGHT_SHARDED but got HEIGHT_SHARDED (pass memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG)")
    if not mc.is_sharded():
        return mc
    heads = rows // s
    return MemoryConfig(mc.memory_layout, mc.buffer_type,
                        ShardSpec(spec.grid, (rows // heads, width * heads), spec.shard_orientation))


def _split_golden(input_tensor, kv_input_tensor=None, *, num_heads, num_kv_heads=None, transpose_key=True, **_):
    x = input_tensor if kv_input_tensor is None else torch.cat([input_tensor, kv_input_tensor], -1)
    return _split_values(x, num_heads, num_kv_heads or num_heads, transpose_key)


def _split_values(x, nh, nkv, transpose_key):
    b, s, hidden = x.shape
    d = hidden // (nh + 2 * nkv)
    q = x[..., : nh * d].reshape(b, s, nh, d).permute(0, 2, 1, 3)
    kv = x[..., nh * d:].reshape(b, s, 2 * nkv, d).permute(0, 2, 1, 3)
    k, v = kv[:, :nkv], kv[:, nkv:]
    return q, (k.transpose(-1, -2) if transpose_key else k), v


def _split_grouped(x, nh, nkv, transpose_key):
    """The sharded kernel's layout (tt-metal create_qkv_heads, used for sharded input): each row holds, per KV
    head, that group's Q heads then its K head then its V head, |q_i k_i v_i| for plain multi-head attention,
    not the interleaved path's [all Q | all K | all V]. Weights must be arranged so (see bench.handwritten)."""
    b, s, hidden = x.shape
    g = nh // nkv
    d = hidden // (nh + 2 * nkv)
    groups = x.reshape(b, s, nkv, g + 2, d)
    q = groups[:, :, :, :g].reshape(b, s, nh, d).permute(0, 2, 1, 3)
    k = groups[:, :, :, g].permute(0, 2, 1, 3)
    v = groups[:, :, :, g + 1].permute(0, 2, 1, 3)
    return q, (k.transpose(-1, -2) if transpose_key else k), v


def _split_shards(op, dev, t, nh, nkv, d, transpose_key, memory_config):
    """Height-sharded Q, K, V memory configs of the sharded kernel, checked as tt-metal's create_qkv_heads
    validates its input and builds its program: a BLOCK_SHARDED input on one rectangle of the compute grid,
    one batch per core along the height (batch = cores along the height, the shard's rows within one sequence),
    the KV heads (one group each: |q_i k_i v_i| columns) split evenly over the cores along the width, and a
    HEIGHT_SHARDED output (memory_config defaults to the input's, which is block-sharded: pass
    ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG). Along the height are the grid's rows with ROW_MAJOR orientation, its
    columns with COL_MAJOR. Each output keeps the input's grid and orientation, its shards the heads of one
    core: [B*heads*S / cores, D] (K transposed: [B*NKV*D / cores, S])."""
    mc = t.memory_config()
    _check(t.dtype in (DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B), op,
           f"Unsupported data format {t.dtype.name} (the sharded kernel takes float32, bfloat16 or bfloat8_b)")
    _check(mc.memory_layout == TensorMemoryLayout.BLOCK_SHARDED, op, f"Input tensor memory layout must be "
           f"BLOCK_SHARDED but got {mc.memory_layout.name}")
    out = memory_config or mc
    _check(out.memory_layout == TensorMemoryLayout.HEIGHT_SHARDED, op, f"Output memory config layout must be "
           f"HEIGHT_SHARDED but got {out.memory_layout.name} (a sharded input gives height-sharded Q, K and V: "
           f"pass memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)")
    spec = shard_spec_2d(mc, op)
    box, grid = spec.grid.bounding_box(), dev.compute_with_storage_grid_size()
    _check(box.end.x < grid.x and box.end.y < grid.y, op, f"the input's shard grid {box} is outside the compute "
           f"grid {grid.x}x{grid.y}")
    row_major = spec.shard_orientation == ShardOrientation.ROW_MAJOR
    h_cores, w_cores = (box.end.y + 1, box.end.x + 1) if row_major else (box.end.x + 1, box.end.y + 1)
    b, s, hidden = t.padded_shape
    _check(hidden % (w_cores * 32) == 0, op, f"Flattened hidden dimension {hidden} must be a multiple of width "
           f"cores {w_cores} * tile width 32 to ensure that each core gets an even amount of tiles")
    _check(b == h_cores, op, f"Batch size {b} must be equal to num cores {h_cores} (one batch per core along the "
           f"height: {'rows' if row_major else 'columns'} of the shard grid with "
           f"{spec.shard_orientation.name} orientation)")
    _check(nkv % w_cores == 0, op, f"number of groups {nkv} must be a multiple of the number of width cores "
           f"{w_cores}")
    _check(s % 32 == 0, op, f"Sequence length {s} must divide evenly into Tiles of Tile Height 32")
    cores = (box.end.x - box.start.x + 1) * (box.end.y - box.start.y + 1)
    per_core_tiles = (b * s // 32 // h_cores) * (hidden // 32 // w_cores)
    tile = tile_bytes(t.dtype)
    _check(2 * per_core_tiles * tile <= dev.spec.l1_bank_size, op, f"Workload of Tiles {per_core_tiles} at Tile "
           f"Size {tile} (times 2 for output) exceeds L1 capacity {dev.spec.l1_bank_size}")

    def height(rows, cols):
        return MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, out.buffer_type,
                            ShardSpec(spec.grid, (rows, cols), spec.shard_orientation))
    k_spec = height(b * nkv * d // cores, s) if transpose_key else height(b * nkv * s // cores, d)
    return height(b * nh * s // cores, d), k_spec, height(b * nkv * s // cores, d)


@operation("ttnn.transformer.split_query_key_value_and_split_heads", golden_function=_split_golden)
def split_query_key_value_and_split_heads(input_tensor, kv_input_tensor=None, *, num_heads, num_kv_heads=None,
                                          transpose_key=True, memory_config=None, use_falcon7b_backend=False):
    """Fused QKV [B, S, (NH + 2*NKV)*D] (or Q [B, S, NH*D] plus kv_input_tensor [B, S, 2*NKV*D]) ->
    Q [B, NH, S, D], K [B, NKV, D, S] (or [B, NKV, S, D] without transpose_key), V [B, NKV, S, D]. The head
    size must be a whole number of tiles (tt-metal split_query_key_value_and_split_heads.cpp). A sharded
    input takes the sharded kernel: per-head grouped columns and height-sharded outputs."""
    op = "ttnn.transformer.split_query_key_value_and_split_heads"
    dev = require_device(op, input_tensor, kv_input_tensor)
    nkv = num_kv_heads or num_heads
    _check(len(input_tensor.shape) == 3, op, f"input must be rank 3 [B, S, hidden], got {list(input_tensor.shape)}")
    x = input_tensor.value
    if kv_input_tensor is not None:
        _check(not input_tensor.is_sharded(), op, "Invalid operation: KV tensor should not be provided when the "
               "input tensor is sharded. Please ensure that the KV tensor is only used in non-sharded configurations.")
        _check(len(kv_input_tensor.shape) == 3 and kv_input_tensor.shape[:2] == input_tensor.shape[:2], op,
               f"kv_input_tensor {list(kv_input_tensor.shape)} must be [B, S, 2*NKV*D] with the input's B and S")
        _check(input_tensor.shape[-1] % num_heads == 0, op,
               f"Q hidden {input_tensor.shape[-1]} is not divisible by num_heads={num_heads}")
        d = input_tensor.shape[-1] // num_heads
        _check(kv_input_tensor.shape[-1] == 2 * nkv * d, op, f"kv_input_tensor hidden {kv_input_tensor.shape[-1]} "
               f"must be 2 * num_kv_heads * head_size = {2 * nkv * d}")
        x = torch.cat([x, kv_input_tensor.value], -1)
    hidden = x.shape[-1]
    _check(hidden % (num_heads + 2 * nkv) == 0, op, f"hidden size {hidden} is not divisible by num_heads + "
           f"2 * num_kv_heads = {num_heads + 2 * nkv}")
    _check(num_heads % nkv == 0, op, f"num_heads ({num_heads}) must be a multiple of num_kv_heads ({nkv})")
    d = hidden // (num_heads + 2 * nkv)
    _check(d % 32 == 0, op, f"head size {d} is not a multiple of the tile width 32 (pad the weights of the matmul "
           f"that produces the heads)")
    if input_tensor.is_sharded():
        parts = _split_grouped(x, num_heads, nkv, transpose_key)
        configs = _split_shards(op, dev, input_tensor, num_heads, nkv, d, transpose_key, memory_config)
    else:
        parts = _split_values(x, num_heads, nkv, transpose_key)
        configs = [memory_config or input_tensor.memory_config()] * 3
    outs = [new_device_tensor(p.contiguous(), input_tensor.dtype, input_tensor.layout, dev, mc)
            for p, mc in zip(parts, configs)]
    record(dev, op, operands=operands(input_tensor, kv_input_tensor, *outs))
    return tuple(outs)
