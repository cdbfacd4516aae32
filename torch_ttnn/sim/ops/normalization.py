"""Normalization: softmax, layer_norm, rms_norm, group_norm, batch_norm.

softmax models the kernel's dataflow: exp(x - max), the row sum and its reciprocal pass through intermediate
circular buffers that hold bfloat16 unless fp32_dest_acc_en is set or the input is float32 (our reading of
tt-metal's softmax program factory; verify), so a bf16 softmax carries three bf16 roundings before the
output rounding. The exp is the kernel's: with math_approx_mode (on in softmax's default config) the fast
Schraudolph exp of sim/ops/_sfpu_approx.py (~3% relative error per element), else exact.
layer_norm and rms_norm follow their kernel's steps (our reading of tt-metal's layernorm compute kernel; its default config is HiFi4, approximate mode, no fp32 accumulation): the row statistics are
reductions on the matrix engine accumulated per 32-wide tile in the Dst format (reduction.tile_sum: bfloat16
unless fp32_dest_acc_en or a float32 input), with the 1/W scaler a bfloat16 tile; every intermediate (mean,
x - mean, its square, the variance, 1/sqrt(var + eps), the normalised row, the row times weight) is packed to
an intermediate buffer of that same format (verify: we read the buffers as float32 exactly when fp32
accumulation is on); the last step rounds to the output dtype. group_norm and batch_norm compute in float32
and round once. Defaults and argument conventions are the real 0.81.1 ones: layer_norm/rms_norm
epsilon=1e-12; group_norm takes the channels-last form [N, 1, H*W, C]; batch_norm takes [N, C, H, W] with
per-channel tensors of shape [1, C, 1, 1].
"""
from __future__ import annotations

import torch

from ..tensor import Tensor, require_device
from ..types import FLOATS, DataType, Layout
from . import _eltwise as E
from . import _sfpu_approx as A
from . import program_configs as P
from . import reduction as R


def softmax_values(x, dim, dtype, compute_kernel_config=None, numeric_stable=True):
    """The softmax kernel's numerics on float32 values x of a `dtype` tensor, before the output rounding.

    Intermediates (exp, row sum, reciprocal) are float32 with fp32 accumulation (a float32 input or
    fp32_dest_acc_en), else bfloat16. The kernel's exp is exp_tile<EXP_APPROX> with EXP_APPROX = the config's
    math_approx_mode, which softmax's default config sets (HiFi4, approx, fp32 accumulation only for a float32
    input: tt-metal softmax_device_operation.cpp): Schraudolph's fast exp."""
    fp32 = dtype == DataType.FLOAT32 or bool(
        compute_kernel_config is not None and compute_kernel_config.fp32_dest_acc_en)
    inter = DataType.FLOAT32 if fp32 else DataType.BFLOAT16
    if numeric_stable:
        x = x - x.amax(dim=dim, keepdim=True)
    approx = compute_kernel_config is None or bool(compute_kernel_config.math_approx_mode)
    e = E.round_to(A.exp_fast(x, fp32) if approx else torch.exp(x), inter)
    r = E.round_to(torch.reciprocal(E.round_to(e.sum(dim=dim, keepdim=True), inter)), inter)
    return e * r


def _softmax_impl(input_tensor, dim=-1, memory_config=None, compute_kernel_config=None, numeric_stable=True,
                  qual="ttnn.softmax"):
    """Softmax along dim (numeric_stable subtracts the row max first, as the device kernel does)."""
    dev = require_device(qual, input_tensor)
    E.check_dtype(qual, input_tensor.dtype, FLOATS)
    x = E.host_values(input_tensor)
    if x.dim() == 0:
        raise RuntimeError(f"{qual}: input must have rank >= 1")
    rank = x.dim()
    if not -rank <= dim < rank:
        raise RuntimeError(f"{qual}: dim {dim} is out of range for a rank-{rank} tensor")
    y = softmax_values(x, dim, input_tensor.dtype, compute_kernel_config, numeric_stable)
    return E.finish(qual, y, input_tensor.dtype, input_tensor.layout, dev,
                    memory_config or input_tensor.memory_config(), (input_tensor,), flops=2.0 * x.numel(),
                    sfpu_cycles=10)


softmax = E.make_op("ttnn.softmax", "input_tensor, dim=-1, *, memory_config=None, compute_kernel_config=None, "
                    "numeric_stable=True", _softmax_impl,
                    lambda x, dim=-1, **k: torch.softmax(x.float(), dim))


def _row_param(qual, name, t, width, dev):
    """A per-feature tensor (weight/bias/gamma/beta) of `width` values in any shape holding exactly them."""
    if t is None:
        return None
    if require_device(qual, t) is not dev:
        raise RuntimeError(f"{qual}: {name} is on a different device than the input")
    v = E.host_values(t)
    if v.numel() != width:
        raise RuntimeError(f"{qual}: {name} must hold {width} values (one per normalized feature), got shape "
                           f"{list(t.shape)}")
    return v.reshape(width)


def _norm_common(qual, input_tensor, weight, bias, residual_input_tensor, program_config=None):
    dev = require_device(qual, input_tensor)
    P.validate_layer_norm(qual, program_config, input_tensor, residual_input_tensor,
                          dev.compute_with_storage_grid_size())
    E.check_dtype(qual, input_tensor.dtype, FLOATS)
    if input_tensor.layout != Layout.TILE:
        raise RuntimeError(f"{qual}: input must be in TILE layout, got {input_tensor.layout.name}; convert it with "
                           f"ttnn.to_layout(tensor, ttnn.TILE_LAYOUT)")
    x = E.host_values(input_tensor)
    if x.dim() == 0:
        raise RuntimeError(f"{qual}: input must have rank >= 1")
    if residual_input_tensor is not None:
        if require_device(qual, residual_input_tensor) is not dev or residual_input_tensor.shape != input_tensor.shape:
            raise RuntimeError(f"{qual}: residual_input_tensor must be on the same device with the input's shape "
                               f"{list(input_tensor.shape)}, got {list(residual_input_tensor.shape)}")
        x = x + E.host_values(residual_input_tensor)
    w = x.shape[-1]
    return dev, x, _row_param(qual, "weight", weight, w, dev), _row_param(qual, "bias", bias, w, dev)


def _affine(y, w, b):
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def _affine_rounded(y, w, b, r):
    """y * weight + bias with the product packed to the intermediate buffer before the add (the last step's
    result is rounded to the output dtype by the caller)."""
    if w is not None:
        y = y * w
        if b is not None:
            y = r(y)
    if b is not None:
        y = y + b
    return y


def _layer_norm_impl(input_tensor, epsilon=1e-12, weight=None, bias=None, residual_input_tensor=None,
                     memory_config=None, program_config=None, compute_kernel_config=None, recip_tensor=None):
    """(x [+ residual] - mean) / sqrt(var + epsilon) * weight + bias over the last dim."""
    qual = "ttnn.layer_norm"
    dev, x, w, b = _norm_common(qual, input_tensor, weight, bias, residual_input_tensor, program_config)
    acc = R.acc_dtype(input_tensor.dtype, compute_kernel_config)
    r = lambda t: E.round_to(t, acc)  # noqa: E731  an intermediate circular buffer
    sc = R._scaler(x.shape[-1], input_tensor.dtype)
    x = r(x)
    mu = r(R.tile_sum(x, -1, acc, sc))
    xc = r(x - mu)
    var = r(R.tile_sum(r(xc.square()), -1, acc, sc))
    y = _affine_rounded(r(xc * r(torch.rsqrt(r(var + epsilon)))), w, b, r)
    ins = [t for t in (input_tensor, weight, bias, residual_input_tensor) if isinstance(t, Tensor)]
    return E.finish(qual, y, input_tensor.dtype, input_tensor.layout, dev, P.sharded_like(memory_config, input_tensor),
                    ins, flops=6.0 * x.numel(), sfpu_cycles=2)


def _rms_norm_impl(input_tensor, epsilon=1e-12, weight=None, bias=None, residual_input_tensor=None,
                   memory_config=None, program_config=None, compute_kernel_config=None):
    """x [+ residual] / sqrt(mean(x^2) + epsilon) * weight + bias over the last dim."""
    qual = "ttnn.rms_norm"
    dev, x, w, b = _norm_common(qual, input_tensor, weight, bias, residual_input_tensor, program_config)
    acc = R.acc_dtype(input_tensor.dtype, compute_kernel_config)
    r = lambda t: E.round_to(t, acc)  # noqa: E731  an intermediate circular buffer
    x = r(x)
    ms = r(R.tile_sum(r(x.square()), -1, acc, R._scaler(x.shape[-1], input_tensor.dtype)))
    y = _affine_rounded(r(x * r(torch.rsqrt(r(ms + epsilon)))), w, b, r)
    ins = [t for t in (input_tensor, weight, bias, residual_input_tensor) if isinstance(t, Tensor)]
    return E.finish(qual, y, input_tensor.dtype, input_tensor.layout, dev, P.sharded_like(memory_config, input_tensor),
                    ins, flops=4.0 * x.numel(), sfpu_cycles=2)


_NORM_TAIL = "residual_input_tensor=None, memory_config=None, program_config=None, compute_kernel_config=None"
layer_norm = E.make_op("ttnn.layer_norm", f"input_tensor, *, epsilon=1e-12, weight=None, bias=None, {_NORM_TAIL}, "
                       "recip_tensor=None", _layer_norm_impl,
                       lambda x, *, epsilon=1e-12, weight=None, bias=None, **k: torch.nn.functional.layer_norm(
                           x.float(), x.shape[-1:], None if weight is None else weight.float().reshape(-1),
                           None if bias is None else bias.float().reshape(-1), epsilon))
rms_norm = E.make_op("ttnn.rms_norm", f"input_tensor, *, epsilon=1e-12, weight=None, bias=None, {_NORM_TAIL}",
                     _rms_norm_impl,  # the real golden takes weight positionally (ttnn/operations/normalization.py)
                     lambda x, weight=None, *, epsilon=1e-12, bias=None, **k: _affine(
                         x.float() * torch.rsqrt(x.float().square().mean(-1, keepdim=True) + epsilon),
                         None if weight is None else weight.float().reshape(-1),
                         None if bias is None else bias.float().reshape(-1)))


def _group_norm_impl(input_tensor, num_groups, epsilon=1e-12, input_mask=None, weight=None, bias=None,
                     memory_config=None, dtype=None, core_grid=None, inplace=True, output_layout=None,
                     num_out_blocks=None, compute_kernel_config=None, negative_mask=None, use_welford=False):
    """Group norm of channels-last activations [N, 1, H*W, C]: statistics per (sample, group of C/G channels)
    over all H*W positions; weight/bias hold one value per channel (any shape with C values)."""
    qual = "ttnn.group_norm"
    dev = require_device(qual, input_tensor)
    E.check_dtype(qual, input_tensor.dtype, FLOATS)
    E.check_dtype_arg(qual, dtype)
    x = E.host_values(input_tensor)
    if x.dim() != 4 or x.shape[1] != 1:
        raise RuntimeError(f"{qual}: input must be [N, 1, H*W, C] (channels last, spatial dims flattened), got "
                           f"shape {list(x.shape)}; permute NCHW to NHWC and reshape first")
    n, _, hw, c = x.shape
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"{qual}: num_groups={num_groups} must divide the channel count C={c}")
    g = x.reshape(n, hw, num_groups, c // num_groups)
    mu = g.mean(dim=(1, 3), keepdim=True)
    var = (g - mu).square().mean(dim=(1, 3), keepdim=True)
    y = ((g - mu) * torch.rsqrt(var + epsilon)).reshape(n, 1, hw, c)
    y = _affine(y, _row_param(qual, "weight", weight, c, dev), _row_param(qual, "bias", bias, c, dev))
    ins = [t for t in (input_tensor, weight, bias, input_mask) if isinstance(t, Tensor)]
    return E.finish(qual, y, dtype or input_tensor.dtype, output_layout or input_tensor.layout, dev,
                    memory_config or input_tensor.memory_config(), ins, flops=6.0 * x.numel(), sfpu_cycles=2)


def _golden_group_norm(x, *, num_groups, epsilon=1e-12, weight=None, bias=None, **k):
    n, _, hw, c = x.shape
    y = torch.nn.functional.group_norm(x.float().reshape(n, hw, c).permute(0, 2, 1), num_groups, None, None, epsilon)
    y = y.permute(0, 2, 1).reshape(n, 1, hw, c)
    return _affine(y, None if weight is None else weight.float().reshape(-1),
                   None if bias is None else bias.float().reshape(-1))


group_norm = E.make_op("ttnn.group_norm", "input_tensor, *, num_groups, epsilon=1e-12, input_mask=None, weight=None, "
                       "bias=None, memory_config=None, dtype=None, core_grid=None, inplace=True, output_layout=None, "
                       "num_out_blocks=None, compute_kernel_config=None, negative_mask=None, use_welford=False",
                       _group_norm_impl, _golden_group_norm)


def _channel(qual, name, t, c, dev):
    v = _row_param(qual, name, t, c, dev)
    return None if v is None else v.reshape(1, c, 1, 1)


def _batch_norm_impl(input, running_mean=None, running_var=None, training=False, eps=1e-05, momentum=0.1,
                     weight=None, bias=None, output=None, memory_config=None, compute_kernel_config=None):
    """Batch norm of [N, C, H, W]. Inference uses running_mean/var; training uses the batch statistics and
    updates running_mean/var in place (momentum, unbiased variance), as torch and TT-NN do."""
    qual = "ttnn.batch_norm"
    dev = require_device(qual, input)
    E.check_dtype(qual, input.dtype, FLOATS)
    x = E.host_values(input)
    if x.dim() != 4:
        raise RuntimeError(f"{qual}: input must be rank 4 [N, C, H, W], got shape {list(x.shape)}")
    c = x.shape[1]
    rm, rv = _channel(qual, "running_mean", running_mean, c, dev), _channel(qual, "running_var", running_var, c, dev)
    if training:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = x.var(dim=(0, 2, 3), keepdim=True, correction=0)
        count = x.numel() // c
        for t, old, new in ((running_mean, rm, mean), (running_var, rv, var * count / max(count - 1, 1))):
            if t is not None:
                upd = (1 - momentum) * old + momentum * new
                t._values = E.formats.to_device_format(upd.reshape(t.shape), t.dtype, t.layout)
    else:
        if rm is None or rv is None:
            raise RuntimeError(f"{qual}: inference (training=False) needs running_mean and running_var")
        mean, var = rm, rv
    y = (x - mean) * torch.rsqrt(var + eps)
    w, b = _channel(qual, "weight", weight, c, dev), _channel(qual, "bias", bias, c, dev)
    y = _affine(y, w, b)
    ins = [t for t in (input, running_mean, running_var, weight, bias) if isinstance(t, Tensor)]
    return E.finish(qual, y, input.dtype, input.layout, dev, memory_config or input.memory_config(), ins,
                    output_tensor=output, flops=4.0 * x.numel(), sfpu_cycles=2)


batch_norm = E.make_op("ttnn.batch_norm", "input, *, running_mean=None, running_var=None, training=False, eps=1e-05, "
                       "momentum=0.1, weight=None, bias=None, output=None, memory_config=None, "
                       "compute_kernel_config=None", _batch_norm_impl,
                       lambda x, *, running_mean=None, running_var=None, training=False, eps=1e-5, weight=None,
                       bias=None, **k: torch.nn.functional.batch_norm(
                           x.float(), None if running_mean is None else running_mean.float().reshape(-1),
                           None if running_var is None else running_var.float().reshape(-1),
                           None if weight is None else weight.float().reshape(-1),
                           None if bias is None else bias.float().reshape(-1), training, 0.1, eps))

__all__ = ["softmax", "layer_norm", "rms_norm", "group_norm", "batch_norm"]
