"""Matrix products and attention: mm/bmm/addmm -> ttnn.matmul/linear, sdpa -> ttnn.transformer.sdpa.

Every product gets the compiler's compute config (lowering.policy.compute_config: TT-NN's default fidelity
for the operands' dtypes, float32 accumulation, unless the user chose otherwise)."""
from __future__ import annotations

import torch

from .. import policy
from ..registry import lowering
from ._util import aten, is_float, is_t, tile


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
    if dropout_p != 0.0 or kw.get("return_debug_mask") or kw.get("enable_gqa"):
        return False
    if k.shape[1] != v.shape[1] or q.shape[1] % k.shape[1]:
        return False  # grouped-query attention needs whole groups of query heads per key/value head
    if is_causal and attn_mask is not None:
        return False
    if attn_mask is not None and not (is_t(attn_mask) and attn_mask.dtype in (torch.bool, *(torch.float32,
                                      torch.bfloat16))):
        return False
    return True


def _sdpa(ttnn, q, k, v, is_causal, attn_mask, scale):
    q, k, v = tile(ttnn, q), tile(ttnn, k), tile(ttnn, v)
    groups = q.shape[1] // k.shape[1]
    if groups > 1:  # grouped-query attention: each key/value head serves `groups` query heads
        k = ttnn.repeat_interleave(k, groups, dim=1)
        v = ttnn.repeat_interleave(v, groups, dim=1)
    if attn_mask is not None:
        attn_mask = tile(ttnn, attn_mask)
        if len(attn_mask.shape) < 4:  # TT-NN wants [B|1, NH|1, Sq, Sk]
            attn_mask = ttnn.reshape(attn_mask, [1] * (4 - len(attn_mask.shape)) + list(attn_mask.shape))
    return ttnn.transformer.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=bool(is_causal),
                                                         scale=scale,
                                                         compute_kernel_config=policy.compute_config(ttnn, "matmul",
                                                                                                     q, k))


def _bool_mask(*a, attn_mask=None, **k):
    return _sdpa_guard(*a, attn_mask=attn_mask, **k) and is_t(attn_mask) and attn_mask.dtype == torch.bool


def _float_mask(*a, attn_mask=None, **k):
    return _sdpa_guard(*a, attn_mask=attn_mask, **k) and (attn_mask is None or attn_mask.dtype != torch.bool)


def _keep_to_additive(ttnn, mask):
    """torch's boolean mask says where to attend (1.0 on the device); TT-NN adds its mask to the scores."""
    return ttnn.where(tile(ttnn, mask), 0.0, -1e9)


@lowering(aten._scaled_dot_product_flash_attention_for_cpu.default, when=_bool_mask)
def sdpa_cpu_flash_bool_mask(ttnn, q, k, v, dropout_p=0.0, is_causal=False, *, attn_mask=None, scale=None):
    return _sdpa(ttnn, q, k, v, is_causal, _keep_to_additive(ttnn, attn_mask), scale), None


@lowering(aten._scaled_dot_product_flash_attention_for_cpu.default, when=_float_mask)
def sdpa_cpu_flash(ttnn, q, k, v, dropout_p=0.0, is_causal=False, *, attn_mask=None, scale=None):
    return _sdpa(ttnn, q, k, v, is_causal, attn_mask, scale), None


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
    return _sdpa(ttnn, q, k, v, is_causal, _keep_to_additive(ttnn, attn_mask), scale)


@lowering(aten.scaled_dot_product_attention.default, when=_sdpa_float)
def sdpa(ttnn, q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None, enable_gqa=False):
    return _sdpa(ttnn, q, k, v, is_causal, attn_mask, scale)
