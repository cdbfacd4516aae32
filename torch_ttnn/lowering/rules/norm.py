"""Normalizations and softmax: layer_norm, batch_norm (inference), softmax, log_softmax."""
from __future__ import annotations

import torch

from .. import policy
from ..registry import lowering
from ._util import aten, dim_, is_float, tile


def _ln_guard(x, shape, w, b, eps):
    return is_float(x) and 1 <= len(shape) <= x.dim() and (w is None or is_float(w)) and (b is None or is_float(b))


@lowering(aten.native_layer_norm.default, when=_ln_guard)
def layer_norm(ttnn, x, shape, w, b, eps):
    """ttnn.layer_norm over the last dim (several normalized dims are flattened into one), plus the mean and
    1/std that training graphs save for the backward ([..., 1, ...1] as torch returns them). The compiler drops
    the statistics where nothing reads them."""
    k = len(shape)
    # leading sizes stay symbolic (int() would pin a dynamic-shape graph to this call's sequence length)
    outer = [s if isinstance(s, torch.SymInt) else int(s) for s in x.shape[:len(x.shape) - k]]
    n = 1
    for s in shape:
        n *= int(s)
    xt = tile(ttnn, x)
    flat = xt if k == 1 else ttnn.reshape(xt, outer + [n])

    def vec(t):
        return None if t is None else tile(ttnn, t if k == 1 else ttnn.reshape(t, [n]))
    cfg = policy.compute_config(ttnn, "reduce")   # the statistics accumulate in float32 (lowering.policy)
    out = ttnn.layer_norm(flat, epsilon=eps, weight=vec(w), bias=vec(b), compute_kernel_config=cfg)
    mean = ttnn.mean(flat, dim=-1, keepdim=True, compute_kernel_config=cfg)
    var = ttnn.mean(ttnn.square(ttnn.subtract(flat, mean)), dim=-1, keepdim=True, compute_kernel_config=cfg)
    rstd = ttnn.rsqrt(ttnn.add(var, eps))
    stat = outer + [1] * k
    if k > 1:
        out = ttnn.reshape(out, list(x.shape))
    return out, ttnn.reshape(mean, stat or [1]), ttnn.reshape(rstd, stat or [1])


@lowering(aten._native_batch_norm_legit_no_training.default,
          when=lambda x, w, b, rm, rv, momentum, eps: is_float(x) and x.dim() == 4 and is_float(rm) and is_float(rv))
def batch_norm(ttnn, x, w, b, rm, rv, momentum, eps):
    """Inference batch norm, NCHW, as per-channel scale and shift (running stats folded with the weights:
    all of it depends on parameters only, so the compiler folds it once)."""
    c = x.shape[1]

    def chan(t):
        return ttnn.reshape(tile(ttnn, t), (1, c, 1, 1))
    scale = ttnn.rsqrt(ttnn.add(tile(ttnn, rv), eps))
    if w is not None:
        scale = ttnn.multiply(scale, tile(ttnn, w))
    shift = ttnn.multiply(ttnn.neg(tile(ttnn, rm)), scale)
    if b is not None:
        shift = ttnn.add(shift, tile(ttnn, b))
    return ttnn.add(ttnn.multiply(tile(ttnn, x), chan(scale)), chan(shift)), None, None


@lowering(aten._softmax.default, when=lambda x, dim, half_to_float: is_float(x) and x.dim() >= 1 and not half_to_float)
def softmax(ttnn, x, dim, half_to_float=False):
    return ttnn.softmax(tile(ttnn, x), dim_(dim, len(x.shape)))


@lowering(aten._log_softmax.default, when=lambda x, dim, half_to_float: is_float(x) and x.dim() >= 1
          and not half_to_float)
def log_softmax(ttnn, x, dim, half_to_float=False):
    """x - max - log(sum(exp(x - max))): log(softmax) would lose the small probabilities to bf16."""
    d = dim_(dim, len(x.shape))
    x = tile(ttnn, x)
    shifted = ttnn.subtract(x, ttnn.max(x, dim=d, keepdim=True))
    return ttnn.subtract(shifted, ttnn.log(ttnn.sum(ttnn.exp(shifted), dim=d, keepdim=True)))


@lowering(aten._softmax_backward_data.default,
          when=lambda g, y, dim, input_dtype: is_float(g) and is_float(y) and g.dim() >= 1)
def softmax_backward(ttnn, grad, out, dim, input_dtype):
    """dx = y * (dy - sum(dy * y, dim)): the eager device's autograd calls it (compiled training graphs get
    torch's decomposition into the same ops); the row sum accumulates as the reductions' do."""
    d = dim_(dim, len(out.shape))
    g, y = tile(ttnn, grad), tile(ttnn, out)
    dot = ttnn.sum(ttnn.multiply(g, y), dim=d, keepdim=True,
                   compute_kernel_config=policy.compute_config(ttnn, "reduce"))
    return ttnn.multiply(y, ttnn.subtract(g, dot))


@lowering(aten._safe_softmax.default, when=lambda x, dim, dtype=None: is_float(x) and x.dim() >= 1
          and (dtype is None or dtype == x.dtype))
def safe_softmax(ttnn, x, dim, dtype=None):
    """softmax, except that a row whose every entry is -inf (a query that may attend to nothing) gives zeros
    instead of NaN: torch's attention uses it for fully masked rows."""
    d = dim_(dim, len(x.shape))
    x = tile(ttnn, x)
    empty = ttnn.eq(ttnn.max(x, dim=d, keepdim=True), float("-inf"))
    return ttnn.where(empty, 0.0, ttnn.softmax(x, d))
