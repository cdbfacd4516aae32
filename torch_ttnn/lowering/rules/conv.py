"""Convolution and pooling: torch's NCHW around TT-NN's channels-last [1, 1, N*H*W, C] convention."""
from __future__ import annotations

from .. import policy
from ..registry import lowering
from ._util import aten, is_float, row_major, tile


def _pair(v):
    return tuple(v) * (2 // len(v)) if isinstance(v, (list, tuple)) else (v, v)


def _out(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _to_nhwc_flat(ttnn, x):
    n, c, h, w = x.shape
    return ttnn.reshape(ttnn.permute(tile(ttnn, x), [0, 2, 3, 1]), [1, 1, n * h * w, c])


def _to_nchw(ttnn, y, n, oh, ow, c):
    return ttnn.permute(ttnn.reshape(y, [n, oh, ow, c]), [0, 3, 1, 2])


@lowering(aten.convolution.default, when=lambda x, w, b, stride, padding, dilation, transposed, output_padding,
          groups: is_float(x) and x.dim() == 4 and is_float(w) and w.dim() == 4 and not transposed
          and (b is None or is_float(b)) and isinstance(padding, (list, tuple)) and len(padding) == 2)
def conv2d(ttnn, x, w, b, stride, padding, dilation, transposed, output_padding, groups):
    """The weight and bias go through prepare_conv_weights/prepare_conv_bias, which depend only on the
    parameters: the compiler's constant pass runs them once per module, and conv2d gets the prepared matmul
    form every call instead of re-preparing the OIHW weight."""
    n, c, h, wd = x.shape
    oc, _, kh, kw = w.shape
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    oh, ow = _out(h, kh, stride[0], padding[0], dilation[0]), _out(wd, kw, stride[1], padding[1], dilation[1])
    dev = policy.device_of(ttnn)
    geometry = dict(input_memory_config=ttnn.DRAM_MEMORY_CONFIG, input_layout=ttnn.TILE_LAYOUT, in_channels=c,
                    out_channels=oc, batch_size=n, input_height=h, input_width=wd, kernel_size=(kh, kw),
                    stride=stride, padding=padding, dilation=dilation, groups=groups, device=dev,
                    input_dtype=x.dtype or policy.float_dtype(ttnn))
    weight = ttnn.prepare_conv_weights(weight_tensor=row_major(ttnn, w), weights_format="OIHW",
                                       has_bias=b is not None, **geometry)
    bias = None if b is None else ttnn.prepare_conv_bias(
        bias_tensor=row_major(ttnn, ttnn.reshape(b, [1, 1, 1, oc])), **geometry)
    y = ttnn.conv2d(input_tensor=_to_nhwc_flat(ttnn, x), weight_tensor=weight, device=dev,
                    in_channels=c, out_channels=oc, batch_size=n, input_height=h, input_width=wd,
                    kernel_size=(kh, kw), stride=stride, padding=padding, dilation=dilation, groups=groups,
                    bias_tensor=bias, compute_config=policy.compute_config(ttnn, "conv"))
    return _to_nchw(ttnn, tile(ttnn, y), n, oh, ow, oc)


def _pool_size(size, k, s, p, d, ceil_mode):
    """torch's pooling output size; in ceil mode a last window that would start in the right padding is
    dropped."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


@lowering(aten.max_pool2d_with_indices.default, when=lambda x, kernel, stride=(), padding=0, dilation=1,
          ceil_mode=False: is_float(x) and x.dim() == 4)
def max_pool2d(ttnn, x, kernel, stride=(), padding=0, dilation=1, ceil_mode=False):
    """The pooled values, and the indices (flat h * W + w in each input plane, as torch numbers them) from a
    second call with return_indices: a training graph saves them for the backward; elsewhere the compiler
    drops that call."""
    n, c, h, w = x.shape
    k = _pair(kernel)
    s = _pair(stride) if stride else k
    p, d = _pair(padding), _pair(dilation)
    oh, ow = _pool_size(h, k[0], s[0], p[0], d[0], ceil_mode), _pool_size(w, k[1], s[1], p[1], d[1], ceil_mode)
    args = (n, h, w, c, list(k), list(s), list(p), list(d))
    flat = _to_nhwc_flat(ttnn, x)
    y = ttnn.max_pool2d(flat, *args, ceil_mode=ceil_mode)
    both = ttnn.max_pool2d(flat, *args, ceil_mode=ceil_mode, return_indices=True)
    idx = ttnn.typecast(tile(ttnn, both[1]), ttnn.int32)
    return _to_nchw(ttnn, tile(ttnn, y), n, oh, ow, c), _to_nchw(ttnn, idx, n, oh, ow, c)


@lowering(aten.avg_pool2d.default, when=lambda x, kernel, stride=(), padding=0, ceil_mode=False,
          count_include_pad=True, divisor_override=None: is_float(x) and x.dim() == 4 and not ceil_mode
          and divisor_override is None)
def avg_pool2d(ttnn, x, kernel, stride=(), padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    n, c, h, w = x.shape
    k = _pair(kernel)
    s = _pair(stride) if stride else k
    p = _pair(padding)
    oh, ow = _out(h, k[0], s[0], p[0], 1), _out(w, k[1], s[1], p[1], 1)
    y = ttnn.avg_pool2d(_to_nhwc_flat(ttnn, x), n, h, w, c, list(k), list(s), list(p),
                        count_include_pad=count_include_pad)
    return _to_nchw(ttnn, tile(ttnn, y), n, oh, ow, c)


@lowering(aten._adaptive_avg_pool2d.default, when=lambda x, size: is_float(x) and x.dim() == 4
          and tuple(size) == (1, 1))
def global_avg_pool(ttnn, x, size):
    return ttnn.mean(tile(ttnn, x), dim=[2, 3], keepdim=True)


@lowering(aten.convolution.default, when=lambda x, w, b, stride, padding, dilation, transposed, output_padding,
          groups: is_float(x) and x.dim() == 4 and is_float(w) and w.dim() == 4 and transposed
          and (b is None or is_float(b)) and all(len(v) == 2 for v in (stride, padding, dilation, output_padding)))
def conv_transpose2d(ttnn, x, w, b, stride, padding, dilation, transposed, output_padding, groups):
    """ttnn.conv_transpose2d, torch's IOHW weight prepared once (a parameter: the compiler folds it)."""
    n, c, h, wd = x.shape
    oc = int(w.shape[1]) * groups
    kh, kw = int(w.shape[2]), int(w.shape[3])
    oh = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    ow = (wd - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    dev = policy.device_of(ttnn)
    geometry = dict(in_channels=c, out_channels=oc, batch_size=n, input_height=h, input_width=wd, kernel_size=(kh, kw),
                    stride=tuple(stride), padding=tuple(padding), dilation=tuple(dilation), groups=groups, device=dev)
    prep = dict(input_memory_config=ttnn.DRAM_MEMORY_CONFIG, input_layout=ttnn.TILE_LAYOUT,
                input_dtype=x.dtype or policy.float_dtype(ttnn), **geometry)
    weight = ttnn.prepare_conv_transpose2d_weights(weight_tensor=row_major(ttnn, w), weights_format="IOHW",
                                                   output_padding=tuple(output_padding), has_bias=b is not None, **prep)
    bias = None if b is None else ttnn.prepare_conv_transpose2d_bias(
        bias_tensor=row_major(ttnn, ttnn.reshape(b, [1, 1, 1, oc])), **prep)
    y = ttnn.conv_transpose2d(input_tensor=_to_nhwc_flat(ttnn, x), weight_tensor=weight, bias_tensor=bias,
                              output_padding=tuple(output_padding), compute_config=policy.compute_config(ttnn, "conv"),
                              **geometry)
    return _to_nchw(ttnn, tile(ttnn, y), n, oh, ow, oc)
