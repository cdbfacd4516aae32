"""Convolution forms that reduce to the 2-D rule in conv.py: 1-D convolutions (Whisper's stem, Mamba's causal
depthwise conv) as 2-D ones of height 1, and 2-D convolutions whose stride/padding/dilation come as one-element
lists (torch broadcasts them; EfficientNet's "same"-padded convs arrive that way).

TT-NN's conv1d is itself a conv2d over [N, 1, L, C] rows; going through the 2-D rule keeps one place that
prepares weights (prepare_conv_weights, folded once per module by the compiler's constant pass).
"""
from __future__ import annotations

from ..registry import lowering
from . import conv
from ._util import aten, is_float


def _one(v):
    return isinstance(v, (list, tuple)) and len(v) == 1 and isinstance(v[0], int)


def _conv1d_guard(x, w, b, stride, padding, dilation, transposed, output_padding, groups):
    return is_float(x) and x.dim() == 3 and is_float(w) and w.dim() == 3 and not transposed \
        and (b is None or is_float(b)) and all(_one(v) for v in (stride, padding, dilation))


@lowering(aten.convolution.default, when=_conv1d_guard)
def conv1d(ttnn, x, w, b, stride, padding, dilation, transposed, output_padding, groups):
    n, c, length = x.shape
    oc, cg, k = w.shape
    x4 = ttnn.reshape(x, [n, c, 1, length])
    w4 = ttnn.reshape(w, [oc, cg, 1, k])
    y = conv.conv2d(ttnn, x4, w4, b, [1, stride[0]], [0, padding[0]], [1, dilation[0]], False, [0, 0], groups)
    out_len = (length + 2 * padding[0] - dilation[0] * (k - 1) - 1) // stride[0] + 1
    return ttnn.reshape(y, [n, oc, out_len])


def _conv2d_one_guard(x, w, b, stride, padding, dilation, transposed, output_padding, groups):
    return is_float(x) and x.dim() == 4 and is_float(w) and w.dim() == 4 and not transposed \
        and (b is None or is_float(b)) and any(_one(v) for v in (stride, padding, dilation)) \
        and all(_one(v) or (isinstance(v, (list, tuple)) and len(v) == 2) for v in (stride, padding, dilation))


@lowering(aten.convolution.default, when=_conv2d_one_guard)
def conv2d_broadcast_args(ttnn, x, w, b, stride, padding, dilation, transposed, output_padding, groups):
    two = [list(v) * 2 if len(v) == 1 else list(v) for v in (stride, padding, dilation)]
    return conv.conv2d(ttnn, x, w, b, *two, False, [0, 0], groups)


def _pool_out(size, k, s, ceil_mode):
    """torch's pooling output size with no padding (ceil mode drops a window starting past the input)."""
    num = size - k
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size:
        out -= 1
    return out


def _whole_window_guard(x, kernel, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
                        divisor_override=None):
    if not (is_float(x) and x.dim() == 4 and divisor_override is None):
        return False
    h, w = x.shape[2], x.shape[3]
    k = conv._pair(kernel)
    s = conv._pair(stride) if stride else k
    return tuple(conv._pair(padding)) == (0, 0) and k[0] >= h and k[1] >= w \
        and _pool_out(h, k[0], s[0], ceil_mode) == 1 and _pool_out(w, k[1], s[1], ceil_mode) == 1


@lowering(aten.avg_pool2d.default, when=_whole_window_guard)
def avg_pool_whole(ttnn, x, kernel, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
                   divisor_override=None):
    """One window covering the whole input (EfficientNet's final AvgPool2d(hidden_dim, ceil_mode=True) on a
    smaller map): torch clips the window to the input and divides by the clipped size, i.e. a global mean."""
    return ttnn.mean(ttnn.to_layout(x, ttnn.TILE_LAYOUT), dim=[2, 3], keepdim=True)
