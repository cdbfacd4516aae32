"""Backward ops of training graphs that have no decomposition into ops with rules (the others are decomposed
by torch._decomp, listed in compiler/decompositions.py): convolution_backward and avg_pool2d_backward.

convolution_backward computes only the gradients its output_mask asks for:
- input: the transposed convolution of the output gradient by the same weight (torch's conv weight
  [OC, IC/groups, KH, KW] is the IOHW weight of that transposed convolution), output_padding chosen so the
  result has the input's size (the rows a strided forward never read get zero gradient);
- weight: for each kernel offset, the strided window of the padded input it saw, times the output gradient,
  summed over batch and positions: one [OC, N*OH*OW] x [N*OH*OW, IC] matmul per offset (per group), or for a
  depthwise convolution a multiply and a sum;
- bias: the output gradient summed over batch and positions.
"""
from __future__ import annotations

from .. import policy
from ..registry import lowering
from ._util import aten, is_float, row_major, tile
from .conv import _pair


def _nhwc_flat(ttnn, x):
    n, c, h, w = x.shape
    return ttnn.reshape(ttnn.permute(tile(ttnn, x), [0, 2, 3, 1]), [1, 1, n * h * w, c])


def _nchw(ttnn, y, n, h, w, c):
    return ttnn.permute(ttnn.reshape(tile(ttnn, y), [n, h, w, c]), [0, 3, 1, 2])


def _grad_input(ttnn, g, w, kernel, in_shape, stride, padding, dilation, groups):
    n, oc, oh, ow = g.shape
    _, ic, h, wd = in_shape
    kh, kw = kernel
    op = [size - ((o - 1) * s - 2 * p + d * (k - 1) + 1)
          for size, o, s, p, d, k in ((h, oh, stride[0], padding[0], dilation[0], kh),
                                      (wd, ow, stride[1], padding[1], dilation[1], kw))]
    dev = policy.device_of(ttnn)
    geometry = dict(in_channels=oc, out_channels=ic, batch_size=n, input_height=oh, input_width=ow,
                    kernel_size=(kh, kw), stride=tuple(stride), padding=tuple(padding), dilation=tuple(dilation),
                    groups=groups, device=dev)
    weight = ttnn.prepare_conv_transpose2d_weights(
        weight_tensor=row_major(ttnn, w), input_memory_config=ttnn.DRAM_MEMORY_CONFIG,
        input_layout=ttnn.TILE_LAYOUT, weights_format="IOHW", output_padding=tuple(op), has_bias=False,
        input_dtype=g.dtype or policy.float_dtype(ttnn), **geometry)
    y = ttnn.conv_transpose2d(input_tensor=_nhwc_flat(ttnn, g), weight_tensor=weight, output_padding=tuple(op),
                              compute_config=policy.compute_config(ttnn, "conv"), **geometry)
    return _nchw(ttnn, y, n, h, wd, ic)


def _windows(ttnn, x, g_shape, k, stride, padding, dilation):
    """For each kernel offset (i, j): the [N, C, OH, OW] input values it multiplied (zero padding included)."""
    n, c, h, w = x.shape
    oh, ow = g_shape[2], g_shape[3]
    xp = x
    if padding[0] or padding[1]:
        xp = ttnn.pad(row_major(ttnn, x), [(0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])], 0.0)
    out = {}
    for i in range(k[0]):
        for j in range(k[1]):
            r0, c0 = i * dilation[0], j * dilation[1]
            out[i, j] = tile(ttnn, ttnn.slice(xp, [0, 0, r0, c0], [n, c, r0 + (oh - 1) * stride[0] + 1,
                                                                  c0 + (ow - 1) * stride[1] + 1],
                                              [1, 1, stride[0], stride[1]]))
    return out


def _grad_weight(ttnn, g, x, w_shape, stride, padding, dilation, groups):
    n, oc, oh, ow = g.shape
    ic = int(x.shape[1])
    k = (int(w_shape[2]), int(w_shape[3]))
    wins = _windows(ttnn, x, g.shape, k, stride, padding, dilation)
    gt = tile(ttnn, g)
    cfg = policy.compute_config(ttnn, "matmul", g, x)
    if groups > 1 and groups == ic == oc:  # depthwise: each channel with itself
        parts = [ttnn.reshape(ttnn.sum(ttnn.multiply(gt, wins[i, j]), dim=[0, 2, 3], keepdim=True), [oc, 1, 1])
                 for i in range(k[0]) for j in range(k[1])]
        out = ttnn.concat(parts, 2)
        return ttnn.reshape(out, [oc, 1, k[0], k[1]])
    m = n * oh * ow
    g2 = ttnn.reshape(ttnn.permute(gt, [1, 0, 2, 3]), [oc, m])           # [OC, N*OH*OW]
    ocg, icg = oc // groups, ic // groups
    per_group = []
    for gi in range(groups):
        gg = g2 if groups == 1 else ttnn.slice(g2, [gi * ocg, 0], [(gi + 1) * ocg, m], [1, 1])
        parts = []
        for i in range(k[0]):
            for j in range(k[1]):
                xs = ttnn.reshape(ttnn.permute(wins[i, j], [0, 2, 3, 1]), [m, ic])   # [N*OH*OW, IC]
                if groups > 1:
                    xs = ttnn.slice(xs, [0, gi * icg], [m, (gi + 1) * icg], [1, 1])
                parts.append(ttnn.reshape(ttnn.matmul(gg, xs, compute_kernel_config=cfg), [ocg, icg, 1]))
        per_group.append(ttnn.reshape(parts[0] if len(parts) == 1 else ttnn.concat(parts, 2),
                                      [ocg, icg, k[0], k[1]]))
    return per_group[0] if groups == 1 else ttnn.concat(per_group, 0)


def _conv_bwd_guard(g, x, w, bias_sizes, stride, padding, dilation, transposed, output_padding, groups,
                    output_mask):
    return is_float(g) and is_float(x) and is_float(w) and not transposed and x.dim() in (3, 4) \
        and w.dim() == x.dim() and all(len(v) in (1, 2) for v in (stride, padding, dilation))


@lowering(aten.convolution_backward.default, when=_conv_bwd_guard)
def convolution_backward(ttnn, g, x, w, bias_sizes, stride, padding, dilation, transposed, output_padding, groups,
                         output_mask):
    """A 1-D convolution is the 2-D one of height 1 (as the forward rules run it)."""
    one_d = len(x.shape) == 3
    if one_d:
        g = ttnn.reshape(g, [g.shape[0], g.shape[1], 1, g.shape[2]])
        x = ttnn.reshape(x, [x.shape[0], x.shape[1], 1, x.shape[2]])
        w = ttnn.reshape(w, [w.shape[0], w.shape[1], 1, w.shape[2]])
        stride, padding, dilation = [1, stride[0]], [0, padding[0]], [1, dilation[0]]
    stride, padding, dilation = _pair(list(stride)), _pair(list(padding)), _pair(list(dilation))
    gi = gw = gb = None
    if output_mask[0]:
        gi = _grad_input(ttnn, g, w, (int(w.shape[2]), int(w.shape[3])), x.shape, stride, padding, dilation,
                         groups)
        if one_d:
            gi = ttnn.reshape(gi, [x.shape[0], x.shape[1], x.shape[3]])
    if output_mask[1]:
        gw = _grad_weight(ttnn, g, x, w.shape, stride, padding, dilation, groups)
        if one_d:
            gw = ttnn.reshape(gw, [w.shape[0], w.shape[1], w.shape[3]])
    if output_mask[2]:
        gb = ttnn.reshape(ttnn.sum(tile(ttnn, g), dim=[0, 2, 3], keepdim=True), [g.shape[1]])
    return gi, gw, gb


def _avg_bwd_guard(g, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    p = _pair(padding)
    return is_float(g) and is_float(x) and x.dim() == 4 and not ceil_mode \
        and (count_include_pad or p == (0, 0) or tuple(p) == (0, 0))


@lowering(aten.avg_pool2d_backward.default, when=_avg_bwd_guard)
def avg_pool2d_backward(ttnn, g, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """Each output's gradient spread evenly over its window: a depthwise transposed convolution of the output
    gradient by a constant 1/divisor kernel."""
    n, c, h, w = x.shape
    k = _pair(kernel)
    s = _pair(stride) if stride else k
    p = _pair(padding)
    div = divisor_override or k[0] * k[1]
    ones = ttnn.full([c, 1, k[0], k[1]], 1.0 / div, dtype=ttnn.float32, layout=ttnn.ROW_MAJOR_LAYOUT,
                     device=policy.device_of(ttnn))
    return _grad_input(ttnn, g, ones, k, (n, c, h, w), s, p, (1, 1), c)
