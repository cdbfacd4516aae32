"""Matrix products and attention: mm/bmm/addmm -> ttnn.matmul/linear, sdpa -> ttnn.transformer.sdpa.

Every product gets the compiler's compute config (lowering.policy.compute_config: TT-NN's default fidelity
for the operands' dtypes, float32 accumulation, unless the user chose otherwise)."""
from __future__ import annotations

import math

import torch
from torch.fx.experimental.symbolic_shapes import statically_known_true

from .. import policy
from ..registry import lowering
from ._util import aten, is_float, is_t, row_major, tile


def _mats(a, b, ra, rb):
    return is_float(a) and is_float(b) and a.dim() == ra and b.dim() == rb


@lowering(aten.mm.default, when=lambda a, b: _mats(a, b, 2, 2))
def mm(ttnn, a, b):
    return ttnn.matmul(tile(ttnn, a), tile(ttnn, b), compute_kernel_config=policy.compute_config(ttnn, "matmul", a, b))


@lowering(aten.bmm.default, when=lambda a, b: _mats(a, b, 3, 3))
def bmm(ttnn, a, b):
    return ttnn.matmul(tile(ttnn, a), tile(ttnn, b), compute_kernel_config=policy.compute_config(ttnn, "matmul", a, b))


@lowering(aten.addmm.default, when=lambda bias, a, b, beta=1, alpha=1: _mats(a, b, 2, 2) and is_float(bias)
          and beta == 1 and alpha == 1 and bias.dim() in (1, 2) and bias.shape[-1] == b.shape[1])
def addmm(ttnn, bias, a, b, beta=1, alpha=1):
    cfg = policy.compute_config(ttnn, "matmul", a, b)
    if len(bias.shape) == 2 and bias.shape[0] != 1:  # a full [M, N] addend: matmul then add
        return ttnn.add(ttnn.matmul(tile(ttnn, a), tile(ttnn, b), compute_kernel_config=cfg), tile(ttnn, bias))
    return ttnn.linear(tile(ttnn, a), tile(ttnn, b), bias=tile(ttnn, bias), compute_kernel_config=cfg)


def _sdpa_guard(q, k, v, dropout_p=0.0, is_causal=False, attn_mask=None, scale=None, **kw):
    if not (is_float(q) and is_float(k) and is_float(v) and q.dim() == 4 and k.dim() == 4 and v.dim() == 4):
        return False
    if dropout_p != 0.0 or kw.get("return_debug_mask"):
        return False
    if k.shape[0] != q.shape[0] or v.shape[0] != q.shape[0] or k.shape[1] != v.shape[1] or q.shape[1] % k.shape[1]:
        return False  # grouped-query attention needs whole groups of query heads per key/value head
    if k.shape[1] != q.shape[1] and not (kw.get("enable_gqa", True) or k.shape[1] == 1):
        return False  # torch's sdpa only broadcasts a single K/V head unless enable_gqa (its CPU flash op: any)
    if is_causal and attn_mask is not None:
        return False
    if attn_mask is not None and not (is_t(attn_mask) and attn_mask.dtype in (torch.bool, *(torch.float32,
                                      torch.bfloat16)) and 2 <= attn_mask.dim() <= 4):
        return False
    return True


def _decode_form(q, k, is_causal, attn_mask) -> bool:
    """One query per sequence against a cache (S_q == 1, K's length whole tiles): TT-NN's flash-decode op.
    Not for is_causal: torch aligns its causal mask top-left, so a single query would see key 0 only.
    A symbolic K length (a growing cache under dynamic shapes) takes the general op: asking whether it is whole
    tiles would guard on it, and split the one decode graph in two (lengths % 32 == 0 and the rest)."""
    if q.shape[2] != 1 or is_causal or not statically_known_true(k.shape[2] % 32 == 0):
        return False
    return attn_mask is None or (attn_mask.shape[-2] == 1 and (len(attn_mask.shape) < 4 or attn_mask.shape[0]
                                                               in (1, q.shape[0])))


def _block_or_bf16(ttnn, *ts) -> bool:
    """The flash-decode op's dtypes (bfloat16 or block-float: a float32 cache would be converted every step)."""
    return all(t.dtype in (ttnn.bfloat16, ttnn.bfloat8_b, ttnn.bfloat4_b) for t in ts)


def _mask4(ttnn, mask):
    mask = tile(ttnn, mask)
    if len(mask.shape) < 4:  # TT-NN wants [B|1, NH|1, Sq, Sk]
        mask = ttnn.reshape(mask, [1] * (4 - len(mask.shape)) + list(mask.shape))
    return mask


def _sdpa(ttnn, q, k, v, is_causal, attn_mask, scale, keep=None):
    """TT-NN's SDPA takes K/V with fewer heads than Q (grouped-query attention) as they are. `keep` [B|1, NH|1,
    Sq, 1], if given, multiplies the result (rows that attend nothing: see _sdpa_bool_mask)."""
    q, k, v = tile(ttnn, q), tile(ttnn, k), tile(ttnn, v)
    if attn_mask is not None:
        attn_mask = _mask4(ttnn, attn_mask)
    cfg = policy.compute_config(ttnn, "matmul", q, k)
    if _decode_form(q, k, is_causal, attn_mask) and _block_or_bf16(ttnn, k, v, q):
        return _sdpa_decode(ttnn, q, k, v, attn_mask, scale, keep, cfg)
    d = int(q.shape[-1])   # the head dim only: int() of a symbolic sequence length would specialise it
    shape = list(q.shape) if d % 32 else None  # the slice end, symbolic sizes kept
    if d % 32:  # TT-NN's SDPA rejects a tile-padded head dim: zero columns add nothing to Q K^T, and give zero
        pad = [(0, 0)] * 3 + [(0, -(-d // 32) * 32 - d)]  # output columns, sliced off after
        q, k, v = (tile(ttnn, ttnn.pad(row_major(ttnn, t), pad, 0.0)) for t in (q, k, v))
        scale = 1.0 / math.sqrt(d) if scale is None else scale
    out = ttnn.transformer.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=bool(is_causal),
                                                        scale=scale, compute_kernel_config=cfg)
    if d % 32:
        out = ttnn.slice(out, [0, 0, 0, 0], shape, [1, 1, 1, 1])
    return out if keep is None else ttnn.multiply(out, keep)


def _sdpa_decode(ttnn, q, k, v, attn_mask, scale, keep=None, cfg=None):
    """q [B, NH, 1, D] -> the decode layout [1, B, NH, D] (a permute moving a size-1 dim: the compiler's
    reshape pass turns it and the head split/merge around it into reshapes) -> scaled_dot_product_attention_
    decode over the whole cache (is_causal=False: which keys count is the mask's business, as in torch), the
    mask [B|1, 1|NH, 1, S] broadcast to [1, B, NH, S] as the op requires -> back to [B, NH, 1, D]."""
    b, nh = q.shape[0], q.shape[1]
    if attn_mask is not None and not _block_or_bf16(ttnn, attn_mask):
        attn_mask = ttnn.typecast(attn_mask, ttnn.bfloat16)
    if k.shape[1] > 1 and q.dtype != ttnn.bfloat16:
        q = ttnn.typecast(q, ttnn.bfloat16)  # the op's grouped-query path wants bfloat16 queries
    qd = ttnn.permute(q, (2, 0, 1, 3), memory_config=ttnn.DRAM_MEMORY_CONFIG)  # the op reads Q from DRAM
    if attn_mask is not None:
        mb, mh = attn_mask.shape[0], attn_mask.shape[1]
        m = ttnn.permute(attn_mask, (2, 0, 1, 3))   # [1, B|1, 1|NH, S]
        reps = [1, b // mb, nh // mh, 1]
        attn_mask = ttnn.repeat(m, reps) if reps != [1, 1, 1, 1] else m
    out = ttnn.transformer.scaled_dot_product_attention_decode(qd, k, v, is_causal=False, attn_mask=attn_mask,
                                                               scale=scale, compute_kernel_config=cfg)
    if keep is not None:   # [B|1, NH|1, 1, 1] -> [1, B|1, NH|1, 1]: a size-1 dim moved, the same tiles
        out = ttnn.multiply(out, ttnn.permute(keep, (2, 0, 1, 3)))
    return ttnn.permute(out, (1, 2, 0, 3))


def _bool_mask(*a, attn_mask=None, **k):
    return _sdpa_guard(*a, attn_mask=attn_mask, **k) and is_t(attn_mask) and attn_mask.dtype == torch.bool


def _float_mask(*a, attn_mask=None, **k):
    return _sdpa_guard(*a, attn_mask=attn_mask, **k) and (attn_mask is None or attn_mask.dtype != torch.bool)


def _sdpa_bool_mask(ttnn, q, k, v, is_causal, mask, scale):
    """torch's boolean mask says where to attend (1.0 on the device); TT-NN adds its mask to the scores, so it
    becomes 0 / -1e9 (finite: a row with nothing to attend gives no NaN). torch gives 0 for such a row (its
    safe softmax), so the result is multiplied by whether the row attends anything (any(mask) over the keys):
    the mask-only work is the same for every layer and the compiler computes it once."""
    mask = _mask4(ttnn, mask)
    keep = ttnn.max(mask, dim=-1, keepdim=True)               # [B|1, NH|1, Sq, 1]: 1.0 where the row attends
    return _sdpa(ttnn, q, k, v, is_causal, ttnn.where(mask, 0.0, -1e9), scale, keep)


def _sdpa_float_mask(ttnn, q, k, v, is_causal, mask, scale):
    """An additive mask may hold -inf (torch's own composite turns a boolean mask into 0/-inf before its CPU
    flash op): a row of -inf only gives NaN on the device, where torch gives 0. So the mask is clamped to a
    finite -1e9 and the result multiplied by whether the row attends anything (its max above -1e9); all but the
    multiply is the mask's own work, the same for every layer, computed once by the compiler."""
    if mask is None:
        return _sdpa(ttnn, q, k, v, is_causal, None, scale)
    mask = _mask4(ttnn, mask)
    keep = ttnn.gt(ttnn.max(mask, dim=-1, keepdim=True), -1e9)
    return _sdpa(ttnn, q, k, v, is_causal, ttnn.maximum(mask, -1e9), scale, keep)


@lowering(aten._scaled_dot_product_flash_attention_for_cpu.default, when=_bool_mask)
def sdpa_cpu_flash_bool_mask(ttnn, q, k, v, dropout_p=0.0, is_causal=False, *, attn_mask=None, scale=None):
    return _sdpa_bool_mask(ttnn, q, k, v, is_causal, attn_mask, scale), None


@lowering(aten._scaled_dot_product_flash_attention_for_cpu.default, when=_float_mask)
def sdpa_cpu_flash(ttnn, q, k, v, dropout_p=0.0, is_causal=False, *, attn_mask=None, scale=None):
    return _sdpa_float_mask(ttnn, q, k, v, is_causal, attn_mask, scale), None


def _sdpa_args(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None, enable_gqa=False):
    return dict(q=q, k=k, v=v, dropout_p=dropout_p, is_causal=is_causal, attn_mask=attn_mask, scale=scale,
                enable_gqa=enable_gqa)


def _sdpa_bool(*a, **k):
    d = _sdpa_args(*a, **k)
    return _bool_mask(d.pop("q"), d.pop("k"), d.pop("v"), **d)


def _sdpa_float(*a, **k):
    d = _sdpa_args(*a, **k)
    return _float_mask(d.pop("q"), d.pop("k"), d.pop("v"), **d)


@lowering(aten.scaled_dot_product_attention.default, when=_sdpa_bool)
def sdpa_bool_mask(ttnn, q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None, enable_gqa=False):
    return _sdpa_bool_mask(ttnn, q, k, v, is_causal, attn_mask, scale)


@lowering(aten.scaled_dot_product_attention.default, when=_sdpa_float)
def sdpa(ttnn, q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None, enable_gqa=False):
    return _sdpa_float_mask(ttnn, q, k, v, is_causal, attn_mask, scale)
