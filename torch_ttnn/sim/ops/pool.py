"""TT-NN pooling and resampling (emulated): max_pool2d, avg_pool2d, global_avg_pool2d, upsample.

Channels-last, as TT-NN: pool inputs are [N, H, W, C] or flattened [1, 1, N*H*W, C], pool outputs flattened
[1, 1, N*OH*OW, C] (ROW_MAJOR bfloat16 by default, per the real signatures). global_avg_pool2d returns
[N, 1, 1, C] in TILE layout (the real Python wrapper around avg_pool2d). upsample takes and returns [N, H, W, C].
Max pooling is exact; averages are computed in float32 and rounded to the output dtype.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..operation import operation
from ..tensor import require_device
from ..types import BLOCK_FLOAT, DataType, Layout
from .conv import _pad4, _pair
from .data_movement import _finish

__all__ = ["max_pool2d", "avg_pool2d", "global_avg_pool2d", "upsample", "adaptive_avg_pool2d", "adaptive_max_pool2d"]


def _nchw(op, x, n, h, w, c):
    shape = list(x.shape)
    v = x.value.float()
    if len(shape) == 4 and shape == [n, h, w, c]:
        nhwc = v
    elif len(shape) == 4 and shape[:2] == [1, 1] and shape[2] == n * h * w and shape[3] == c:
        nhwc = v.reshape(n, h, w, c)
    else:
        raise RuntimeError(f"{op}: input of shape {shape} does not match batch_size={n}, input_h={h}, input_w={w}, "
                           f"channels={c}: expected [N, H, W, C] or [1, 1, N*H*W, C]")
    return nhwc.permute(0, 3, 1, 2)


def _flat(y):
    return y.permute(0, 2, 3, 1).reshape(1, 1, -1, y.shape[1])


def _check_pool(op, x, kernel, pad4, dtype, output_layout):
    require_device(op, x)
    if x.dtype not in (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B):
        raise RuntimeError(f"{op}: input dtype must be a float type, got {x.dtype}")
    if dtype in BLOCK_FLOAT and output_layout != Layout.TILE:
        raise RuntimeError(f"{op}: output dtype {dtype.name} needs output_layout=ttnn.TILE_LAYOUT")
    kh, kw = kernel
    if max(pad4[0], pad4[1]) * 2 > kh or max(pad4[2], pad4[3]) * 2 > kw:  # torch's rule, the device's too
        raise RuntimeError(f"{op}: padding {list(pad4)} must be at most half the kernel {list(kernel)}")


def _max_golden(input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride, padding, dilation,
                ceil_mode=False, **_):
    x = input_tensor.reshape(batch_size, input_h, input_w, channels).permute(0, 3, 1, 2).float()
    t, b, l, r = _pad4(padding)
    x = F.pad(x, (l, r, t, b), value=float("-inf"))
    return _flat(F.max_pool2d(x, kernel_size, stride, 0, dilation, ceil_mode))


@operation("ttnn.max_pool2d", golden_function=_max_golden)
def max_pool2d(input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride, padding, dilation,
               ceil_mode=False, *, memory_config=None, dram_slice_config=None, applied_shard_scheme=None,
               deallocate_input=False, reallocate_halo_output=True, return_indices=False, dtype=DataType.BFLOAT16,
               output_layout=Layout.ROW_MAJOR, config_tensor_in_dram=False):
    """Max over each window (padding counts as -inf). With return_indices, also the flat h*W+w input index of
    each maximum (uint32), as [output, indices]."""
    op = "ttnn.max_pool2d"
    kernel, pad4 = _pair(kernel_size), _pad4(padding)
    _check_pool(op, input_tensor, kernel, pad4, dtype, output_layout)
    x = _nchw(op, input_tensor, batch_size, input_h, input_w, channels)
    t, b, l, r = pad4
    xp = F.pad(x, (l, r, t, b), value=float("-inf"))
    y, idx = F.max_pool2d(xp, kernel, _pair(stride), 0, _pair(dilation), ceil_mode, return_indices=True)
    dev = input_tensor.device()
    out = _finish(op, dev, _flat(y), input_tensor, dtype=dtype, layout=output_layout, memory_config=memory_config)
    if deallocate_input:
        input_tensor.deallocate()
    if not return_indices:
        return out
    wp = xp.shape[-1]
    ih, iw = idx // wp - t, idx % wp - l  # back to unpadded input coordinates
    ind = _finish(op + ".indices", dev, _flat(ih * input_w + iw), out, dtype=DataType.UINT32,
                  layout=output_layout, memory_config=memory_config)
    return [out, ind]


def _avg(x, kernel, stride, pad4, ceil_mode, count_include_pad, divisor_override):
    t, b, l, r = pad4
    if t == b and l == r:
        return F.avg_pool2d(x, kernel, stride, (t, l), ceil_mode, count_include_pad, divisor_override)
    ones = torch.ones_like(x[:, :1])
    s = F.avg_pool2d(F.pad(x, (l, r, t, b)), kernel, stride, 0, ceil_mode, True, 1)
    if divisor_override:
        return s / divisor_override
    if count_include_pad:
        return s / (kernel[0] * kernel[1])
    return s / F.avg_pool2d(F.pad(ones, (l, r, t, b)), kernel, stride, 0, ceil_mode, True, 1)


def _avg_golden(input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride, padding, ceil_mode=False,
                count_include_pad=True, divisor_override=None, **_):
    x = input_tensor.reshape(batch_size, input_h, input_w, channels).permute(0, 3, 1, 2).float()
    return _flat(_avg(x, _pair(kernel_size), _pair(stride), _pad4(padding), ceil_mode, count_include_pad,
                      divisor_override))


@operation("ttnn.avg_pool2d", golden_function=_avg_golden)
def avg_pool2d(input_tensor, batch_size, input_h, input_w, channels, kernel_size, stride, padding, ceil_mode=False,
               count_include_pad=True, divisor_override=None, *, memory_config=None, dram_slice_config=None,
               applied_shard_scheme=None, compute_kernel_config=None, deallocate_input=False,
               reallocate_halo_output=True, dtype=DataType.BFLOAT16, output_layout=Layout.ROW_MAJOR,
               config_tensor_in_dram=False):
    op = "ttnn.avg_pool2d"
    kernel, pad4 = _pair(kernel_size), _pad4(padding)
    _check_pool(op, input_tensor, kernel, pad4, dtype, output_layout)
    x = _nchw(op, input_tensor, batch_size, input_h, input_w, channels)
    y = _avg(x, kernel, _pair(stride), pad4, ceil_mode, count_include_pad, divisor_override)
    out = _finish(op, input_tensor.device(), _flat(y), input_tensor, dtype=dtype, layout=output_layout,
                  memory_config=memory_config)
    if deallocate_input:
        input_tensor.deallocate()
    return out


def _global_golden(input_tensor, **_):
    return input_tensor.float().mean(dim=(-3, -2), keepdim=True) if input_tensor.dim() >= 3 else \
        input_tensor.float().mean()


def global_avg_pool2d(input_tensor, *, memory_config=None, dtype=None):
    """Mean over H and W of an NHWC tensor (rank 4 [N,H,W,C], 3 [H,W,C] or 2 [H,W]) -> [N, 1, 1, C], TILE.
    A plain Python function in the real package too (a wrapper of avg_pool2d)."""
    op = "ttnn.global_avg_pool2d"
    dev = require_device(op, input_tensor)
    shape = list(input_tensor.shape)
    if len(shape) not in (2, 3, 4):
        raise ValueError(f"global_avg_pool2d expects rank 2, 3, or 4 input, got rank {len(shape)}")
    v = input_tensor.value.float()
    v = v.reshape([1] * (4 - len(shape)) + shape) if len(shape) > 2 else v.reshape(1, *shape, 1)
    y = v.mean(dim=(1, 2), keepdim=True)
    return _finish(op, dev, y, input_tensor, dtype=dtype or DataType.BFLOAT16, layout=Layout.TILE,
                   memory_config=memory_config)


def _up_golden(input_tensor, scale_factor, mode="nearest", **_):
    sf = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    y = F.interpolate(input_tensor.permute(0, 3, 1, 2).float(), scale_factor=sf, mode=mode)
    return y.permute(0, 2, 3, 1)


@operation("ttnn.upsample", golden_function=_up_golden)
def upsample(input_tensor, scale_factor, *, mode="nearest", memory_config=None, compute_kernel_config=None):
    """[N, H, W, C] -> [N, H*sh, W*sw, C]; mode "nearest" or "bilinear" (half-pixel centres, align_corners
    False, as torch's default and the real golden)."""
    op = "ttnn.upsample"
    dev = require_device(op, input_tensor)
    if mode not in ("nearest", "bilinear"):
        raise RuntimeError(f"{op}: mode must be \"nearest\" or \"bilinear\", got {mode!r}")
    if len(input_tensor.shape) != 4:
        raise RuntimeError(f"{op}: input must be rank 4 [N, H, W, C], got {list(input_tensor.shape)}")
    sf = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(sf) != 2 or min(sf) <= 0:
        raise RuntimeError(f"{op}: scale_factor must be a positive number or [scale_h, scale_w], got {scale_factor}")
    x = input_tensor.value.float().permute(0, 3, 1, 2)
    kw = {} if mode == "nearest" else {"align_corners": False}
    y = F.interpolate(x, scale_factor=sf, mode=mode, **kw).permute(0, 2, 3, 1)
    return _finish(op, dev, y, input_tensor, memory_config=memory_config)


global_avg_pool2d.golden_function = _global_golden


def _adaptive(op, fn, input_tensor, batch_size, input_h, input_w, channels, output_size, memory_config,
              deallocate_input):
    """An adaptive pool over the flattened channels-last input [1, 1, N*H*W, C] (or [N, H, W, C]) to output_size
    [oh, ow], as [1, 1, N*oh*ow, C] like the other pools: window i spans floor(i*H/oh) .. ceil((i+1)*H/oh)."""
    require_device(op, input_tensor)
    if input_tensor.dtype not in (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B):
        raise RuntimeError(f"{op}: input dtype must be a float type, got {input_tensor.dtype}")
    out_hw = _pair(output_size)
    if any(o < 1 for o in out_hw):
        raise RuntimeError(f"{op}: output_size must be positive, got {list(out_hw)}")
    x = _nchw(op, input_tensor, batch_size, input_h, input_w, channels)
    out = _finish(op, input_tensor.device(), _flat(fn(x, out_hw)), input_tensor, memory_config=memory_config)
    if deallocate_input:
        input_tensor.deallocate()
    return out


@operation("ttnn.adaptive_avg_pool2d", golden_function=lambda x, *a, **k: F.adaptive_avg_pool2d(x.float(), a[-1]))
def adaptive_avg_pool2d(input_tensor, batch_size, input_h, input_w, channels, output_size, *, memory_config=None,
                        dram_slice_config=None, applied_shard_scheme=None, compute_kernel_config=None,
                        deallocate_input=False, reallocate_output=True):
    return _adaptive("ttnn.adaptive_avg_pool2d", F.adaptive_avg_pool2d, input_tensor, batch_size, input_h, input_w,
                     channels, output_size, memory_config, deallocate_input)


@operation("ttnn.adaptive_max_pool2d", golden_function=lambda x, *a, **k: F.adaptive_max_pool2d(x.float(), a[-1]))
def adaptive_max_pool2d(input_tensor, batch_size, input_h, input_w, channels, output_size, *, memory_config=None,
                        dram_slice_config=None, applied_shard_scheme=None, deallocate_input=False,
                        reallocate_output=True):
    return _adaptive("ttnn.adaptive_max_pool2d", F.adaptive_max_pool2d, input_tensor, batch_size, input_h, input_w,
                     channels, output_size, memory_config, deallocate_input)
