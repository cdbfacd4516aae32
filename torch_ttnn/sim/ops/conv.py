"""TT-NN convolutions (emulated): conv2d, conv1d, conv_transpose2d, prepare_conv_weights/bias, Conv2dConfig.

TT-NN convolutions are channels-last: the input is [N, H, W, C] or flattened [1, 1, N*H*W, C], the output is
always flattened [1, 1, N*OH*OW, OC] (TILE by default). The weight comes as torch gives it (OIHW, on the host)
and is "prepared" into the matmul form [1, 1, KH*KW*C/groups, OC] (rows ordered kh, kw, c; TILE, weights_dtype);
already prepared device weights are accepted too, as the real op accepts them.

Numerics: a convolution runs on the matrix engine as a matmul of im2col rows by the prepared weight, so it
has matmul's fidelity and accumulation behaviour (`fidelity_matmul`). The default compute config is the real
one, tt-metal conv2d_utils.cpp `get_conv_default_compute_kernel_config`: HiFi4, approx mode, fp32 accumulation
only when input and weights are both float32. (Older releases defaulted to LoFi; pass compute_config to get it.)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import formats
from ..formats import flush_denormals
from ..operation import operation, record
from ..cost import MatmulWork
from ..tensor import Tensor, nbytes, new_device_tensor, operands, require_device
from ..types import (BLOCK_FLOAT, DataType, Layout, MathFidelity, WormholeComputeKernelConfig, _Enum)
from . import matmul as _mm

__all__ = ["conv2d", "conv1d", "conv_transpose2d", "prepare_conv_weights", "prepare_conv_bias",
           "prepare_conv_transpose2d_weights", "prepare_conv_transpose2d_bias", "Conv2dConfig", "Conv1dConfig",
           "PaddingMode"]


class PaddingMode(_Enum):
    """How a convolution pads its input (only Zeros is emulated)."""
    Zeros = 0
    Replicate = 1


# --- matrix-engine numerics ------------------------------------------------------------------------------
_HELD_BITS = {DataType.BFLOAT16: 7, DataType.BFLOAT8_B: 6, DataType.BFLOAT4_B: 2}  # explicit mantissa bits


def fidelity_matmul(act: torch.Tensor, wt: torch.Tensor, fidelity: MathFidelity, fp32_acc: bool,
                    act_dtype: DataType = DataType.FLOAT32, wt_dtype: DataType = DataType.FLOAT32) -> torch.Tensor:
    """act [..., M, K] @ wt [..., K, N] as the matrix engine computes it: the same phases and Dst accumulation
    as ttnn.matmul (ops/matmul.py, ttnn-facts.md "Numerics"): activations in SrcB, weights in SrcA, float32
    operands TF32-truncated, denormals flushed, bf16 accumulation per 32-wide K tile unless fp32_acc."""
    act, wt = flush_denormals(act.float()), flush_denormals(wt.float())
    f = fidelity if fidelity != MathFidelity.Invalid else MathFidelity.HiFi4
    terms = _mm._phases(act, wt, f, _HELD_BITS.get(act_dtype, 23), _HELD_BITS.get(wt_dtype, 23))
    return _mm._accumulate(terms, fp32_acc)


# --- config ----------------------------------------------------------------------------------------------
@dataclass
class Conv2dConfig:
    """ttnn.Conv2dConfig: the fields of the real 0.81.1 class with its defaults. The emulator uses
    weights_dtype, activation and output_layout; the others are placement and performance knobs."""
    weights_dtype: DataType | None = None
    activation: object = None
    deallocate_activation: bool = False
    reallocate_halo_output: bool = True
    config_tensors_in_dram: bool = False
    act_block_h_override: int = 0
    act_block_w_div: int = 1
    reshard_if_not_optimal: bool = False
    override_sharding_config: bool = False
    shard_layout: object = None
    core_grid: object = None
    transpose_shards: bool = False
    output_layout: Layout = Layout.TILE
    enable_act_double_buffer: bool = False
    enable_weights_double_buffer: bool = False
    full_inner_dim: bool = False
    enable_kernel_stride_folding: bool | None = None
    enable_activation_reuse: bool = False
    force_split_reader: bool | None = None
    override_output_sharding_config: bool = False
    padding_mode: PaddingMode = PaddingMode.Zeros

    def __init__(self, *, weights_dtype=None, activation=None, deallocate_activation=False,
                 reallocate_halo_output=True, config_tensors_in_dram=False, act_block_h_override=0, act_block_w_div=1,
                 reshard_if_not_optimal=False, override_sharding_config=False, shard_layout=None, core_grid=None,
                 transpose_shards=False, output_layout=Layout.TILE, enable_act_double_buffer=False,
                 enable_weights_double_buffer=False, full_inner_dim=False, enable_kernel_stride_folding=None,
                 enable_activation_reuse=False, force_split_reader=None, override_output_sharding_config=False,
                 padding_mode=PaddingMode.Zeros):
        for k, v in locals().items():
            if k != "self":
                setattr(self, k, v)


Conv1dConfig = Conv2dConfig

_ACTIVATIONS = {
    "relu": torch.relu, "relu6": lambda x: x.clamp(0, 6), "silu": F.silu, "gelu": F.gelu,
    "sigmoid": torch.sigmoid, "tanh": torch.tanh,
}


def _activation(act):
    """conv_config.activation: a name ("relu") or a UnaryWithParam-like object (its op type's name is used)."""
    if act is None or act == "":
        return None
    name = act if isinstance(act, str) else str(getattr(act, "op_type", act)).rsplit(".", 1)[-1]
    fn = _ACTIVATIONS.get(name.lower())
    if fn is None:
        raise RuntimeError(f"conv2d: fused activation {act!r} is not supported by the emulator; supported: "
                           f"{sorted(_ACTIVATIONS)} (or apply the activation as a separate op)")
    return fn


def _pair(v, n=2):
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(x) for x in v)
    return v if len(v) == n else v * n if len(v) == 1 else v


def _pad4(padding):
    """[pad_h, pad_w] or [top, bottom, left, right] -> (top, bottom, left, right)."""
    p = _pair(padding)
    if len(p) == 2:
        return (p[0], p[0], p[1], p[1])
    if len(p) == 4:
        return p
    raise RuntimeError(f"conv2d: padding must be [pad_h, pad_w] or [top, bottom, left, right], got {padding}")


def _compute_config(compute_config, in_dtype, w_dtype):
    if compute_config is not None:
        return compute_config
    both_fp32 = in_dtype == DataType.FLOAT32 and w_dtype == DataType.FLOAT32
    return WormholeComputeKernelConfig(math_fidelity=MathFidelity.HiFi4, math_approx_mode=True,
                                       fp32_dest_acc_en=both_fp32)


# --- weight preparation ----------------------------------------------------------------------------------
def _is_prepared(w: Tensor) -> bool:
    return w.device() is not None and len(w.shape) == 4 and w.shape[0] == 1 and w.shape[1] == 1


def _prepare_weight_values(w: torch.Tensor, groups: int) -> torch.Tensor:
    """OIHW [OC, C/g, KH, KW] -> [1, 1, KH*KW*C/g, OC]; for groups > 1 each output channel's column holds its
    group's rows (block structure kept dense per group, as the emulator applies groups itself)."""
    oc, cg, kh, kw = w.shape
    return w.permute(2, 3, 1, 0).reshape(1, 1, kh * kw * cg, oc)


def _weights_dtype(conv_config, weight):
    wd = conv_config.weights_dtype if conv_config is not None and conv_config.weights_dtype is not None else None
    return wd or weight.dtype


def prepare_conv_weights(*, weight_tensor, input_memory_config, input_layout, weights_format, in_channels,
                         out_channels, batch_size, input_height, input_width, kernel_size, stride, padding, dilation,
                         has_bias, groups, device, input_dtype, output_dtype=None, conv_config=None,
                         compute_config=None, slice_config=None) -> Tensor:
    """Host OIHW weights -> device matmul weights [1, 1, KH*KW*C/groups, OC], TILE, in conv_config.weights_dtype
    (else the weight's own dtype)."""
    if weights_format != "OIHW":
        raise RuntimeError(f"prepare_conv_weights: weights_format must be \"OIHW\" (PyTorch's), got {weights_format!r}")
    return _prepare_weight(weight_tensor, device, conv_config, in_channels, out_channels, kernel_size, groups)


def _prepare_weight(weight, device, conv_config, in_channels, out_channels, kernel_size, groups, op="conv2d"):
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight_tensor must be a ttnn.Tensor, got {type(weight).__name__}")
    kh, kw = _pair(kernel_size)
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise RuntimeError(f"{op}: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible "
                           f"by groups ({groups})")
    if _is_prepared(weight):
        k = weight.shape[2]
        if weight.shape[3] != out_channels or k != kh * kw * (in_channels // groups):
            raise RuntimeError(f"{op}: prepared weight of shape {list(weight.shape)} does not match kernel "
                               f"{kh}x{kw}, {in_channels // groups} channels per group and {out_channels} outputs; "
                               f"expected [1, 1, {kh * kw * (in_channels // groups)}, {out_channels}]")
        return weight
    want = [out_channels, in_channels // groups, kh, kw]
    if list(weight.shape) != want:
        raise RuntimeError(f"{op}: weight shape {list(weight.shape)} does not match OIHW {want} "
                           f"(out_channels, in_channels/groups, kernel_h, kernel_w)")
    if weight.layout != Layout.ROW_MAJOR or weight.dtype not in (DataType.FLOAT32, DataType.BFLOAT16):
        raise RuntimeError(f"{op}: host weights must be ROW_MAJOR float32 or bfloat16 (got {weight.layout}, "
                           f"{weight.dtype})")
    wd = _weights_dtype(conv_config, weight)
    out = new_device_tensor(_prepare_weight_values(weight.value.float(), groups), wd, Layout.TILE, device)
    record(device, "ttnn.prepare_conv_weights", operands=operands(out))
    return out


def _prepare_bias(bias, device, conv_config, out_channels, weights_dtype, op="conv2d"):
    if bias is None:
        return None
    if bias.value.numel() != out_channels:
        raise RuntimeError(f"{op}: bias has {bias.value.numel()} values, expected out_channels={out_channels}")
    if bias.device() is not None and list(bias.shape) == [1, 1, 1, out_channels] and bias.layout == Layout.TILE:
        return bias
    out = new_device_tensor(bias.value.float().reshape(1, 1, 1, out_channels), weights_dtype, Layout.TILE, device)
    record(device, "ttnn.prepare_conv_bias", operands=operands(out))
    return out


def prepare_conv_bias(*, bias_tensor, input_memory_config, input_layout, in_channels, out_channels, batch_size,
                      input_height, input_width, kernel_size, stride, padding, dilation, groups, device, input_dtype,
                      output_dtype=None, conv_config=None, compute_config=None, slice_config=None) -> Tensor:
    """Host bias (OC values) -> device [1, 1, 1, OC] TILE in conv_config.weights_dtype (else the bias's dtype)."""
    return _prepare_bias(bias_tensor, device, conv_config, out_channels, _weights_dtype(conv_config, bias_tensor))


# --- the convolution core --------------------------------------------------------------------------------
def _input_nchw(x: Tensor, n, h, w, c, op):
    shape = list(x.shape)
    vals = x.value.float()
    if len(shape) == 4 and shape[:3] == [n, h, w] and shape[3] >= c:
        nhwc = vals
    elif len(shape) == 4 and shape[:2] == [1, 1] and shape[2] == n * h * w and shape[3] >= c:
        nhwc = vals.reshape(n, h, w, shape[3])
    elif len(shape) == 3 and h == 1 and shape[:2] == [n, w] and shape[2] >= c:  # conv1d's [N, L, C]
        nhwc = vals.reshape(n, 1, w, shape[2])
    else:
        raise RuntimeError(f"{op}: input of shape {shape} does not match batch_size={n}, input_height={h}, "
                           f"input_width={w}, in_channels={c}: expected [N, H, W, C] or [1, 1, N*H*W, C]")
    return nhwc[..., :c].permute(0, 3, 1, 2)


def _oihw_operand(w: Tensor, kernel, cg: int) -> torch.Tensor:
    """A prepared weight [K = KH*KW*Cg, OC] as the fused float32 conv reads it: OIHW, contiguous, denormals
    flushed, in the storage dtype. Kept on the tensor per stored values and version: weights are constants, and
    re-laying them out every call cost a third of ResNet-50's emulated time (the cache holds half what a
    float32 copy would)."""
    v = w.value
    c = w._operand
    key = (tuple(kernel), cg)
    if c is not None and c[0] is v and c[1] == v._version and c[2] == key:
        return c[3]
    oc = v.shape[-1]
    oihw = v.reshape(kernel[0], kernel[1], cg, oc).permute(3, 2, 0, 1)
    flushed, clean = formats.flush_denormals_checked(oihw.float())
    op = oihw.contiguous() if clean else flushed.to(v.dtype).contiguous()
    w._operand = (v, v._version, key, op)
    return op


def _conv_core(op, x_nchw, w_prep, bias, *, kernel, stride, pad4, dilation, groups, cfg, dtypes, w_oihw=None):
    """im2col rows x prepared weight, per group, with the engine's numerics. Returns [N*OH*OW, OC] float32.
    `w_oihw`: the weight already in OIHW (see _oihw_operand), for the float32-accumulation path."""
    n, c = x_nchw.shape[:2]
    kh, kw = kernel
    x = F.pad(x_nchw, (pad4[2], pad4[3], pad4[0], pad4[1]))
    oh = (x.shape[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (x.shape[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"{op}: the kernel {kh}x{kw} (dilation {dilation}) does not fit the padded input "
                           f"{x.shape[2]}x{x.shape[3]}")
    cg = c // groups
    oc = w_prep.shape[-1]
    if cfg.fp32_dest_acc_en:
        # Float32 accumulation: the fidelity phases truncate each operand element-wise, so a float32 conv of
        # the truncated operands sums the same products as im2col + matmul (in another order) in one fused call.
        f = cfg.math_fidelity if cfg.math_fidelity != MathFidelity.Invalid else MathFidelity.HiFi4
        if w_oihw is None:
            w_oihw = flush_denormals(w_prep.reshape(kh, kw, cg, oc).permute(3, 2, 0, 1).float())
        bits = (_HELD_BITS.get(dtypes[0], 23), _HELD_BITS.get(dtypes[1], 23))
        terms = _mm._phases(flush_denormals(x.float()), w_oihw.float().contiguous(), f, *bits)
        out = None
        for b, a in terms:
            y = F.conv2d(b, a, stride=stride, dilation=dilation, groups=groups)
            out = y if out is None else out + y
        out = out.permute(0, 2, 3, 1).reshape(n * oh * ow, oc)
        if bias is not None:
            out = out + bias.reshape(1, oc)
        return out, oh, ow
    cols = F.unfold(x, (kh, kw), dilation=dilation, stride=stride)           # [N, C*KH*KW, L], rows (c, kh, kw)
    cols = cols.reshape(n, groups, cg, kh * kw, oh * ow).permute(1, 0, 4, 3, 2)  # [G, N, L, KH*KW, Cg]
    act = cols.reshape(groups, n * oh * ow, kh * kw * cg)
    wt = w_prep.reshape(kh * kw * cg, groups, oc // groups).permute(1, 0, 2)       # [G, K, OC/g]
    out = fidelity_matmul(act, wt, cfg.math_fidelity, cfg.fp32_dest_acc_en, *dtypes)  # [G, M, OC/g]
    out = out.permute(1, 0, 2).reshape(n * oh * ow, oc)
    if bias is not None:
        out = out + bias.reshape(1, oc)
    return out, oh, ow


def _run_conv(op, *, input_tensor, weight_tensor, device, in_channels, out_channels, batch_size, input_height,
              input_width, kernel_size, stride, padding, dilation, groups, dtype, bias_tensor, conv_config,
              compute_config, memory_config, return_output_dim, return_weights_and_bias, dims=2,
              transpose=None):
    name = f"ttnn.{op}"
    if input_tensor.device() is not None:
        require_device(name, input_tensor)
        if input_tensor.device() is not device:
            raise RuntimeError(f"{name}: input is on device {input_tensor.device().id()}, not the given device")
    device.check_open()
    if input_tensor.dtype not in (DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B):
        raise RuntimeError(f"{name}: input dtype must be float32, bfloat16 or bfloat8_b, got {input_tensor.dtype}")
    out_dtype = dtype or input_tensor.dtype
    cfg_conv = conv_config or Conv2dConfig()
    out_layout = cfg_conv.output_layout
    if out_dtype in BLOCK_FLOAT and out_layout != Layout.TILE:
        raise RuntimeError(f"{name}: Conv output can't be in Row Major if output dtype is {out_dtype.name}")
    kernel = _pair(kernel_size)
    if transpose is None:
        w_prep = _prepare_weight(weight_tensor, device, conv_config, in_channels, out_channels, kernel, groups, name)
    else:
        w_prep = transpose(weight_tensor)
    b_prep = _prepare_bias(bias_tensor, device, conv_config, out_channels, w_prep.dtype, name)
    cfg = _compute_config(compute_config, input_tensor.dtype, w_prep.dtype)
    x = _input_nchw(input_tensor, batch_size, input_height, input_width, in_channels, name)
    pad4, strd, dil = _pad4(padding), _pair(stride), _pair(dilation)
    if transpose is not None:
        x, pad4, strd = transpose.input(x)
    w_oihw = _oihw_operand(w_prep, kernel, in_channels // groups) if cfg.fp32_dest_acc_en else None
    out, oh, ow = _conv_core(name, x, w_prep.value, None if b_prep is None else b_prep.value.float(),
                             kernel=kernel, stride=strd, pad4=pad4, dilation=dil, groups=groups, cfg=cfg,
                             dtypes=(input_tensor.dtype, w_prep.dtype), w_oihw=w_oihw)
    act = _activation(cfg_conv.activation)
    if act is not None:
        out = act(out)
    result = new_device_tensor(out.reshape(1, 1, -1, out_channels), out_dtype, out_layout, device,
                               memory_config or (input_tensor.memory_config() if input_tensor.device() else None))
    k = kernel[0] * kernel[1] * (in_channels // groups)
    # Priced as the implicit-GEMM it is on the device: output pixels x (kernel window x in channels) x out channels.
    t = lambda d: -(-d // 32)  # noqa: E731
    work = MatmulWork(1, t(out.shape[0]), t(k), t(out_channels), device.spec.grid.y, device.spec.grid.x,
                      cfg.math_fidelity.passes, bool(cfg.fp32_dest_acc_en))
    record(device, name, flops=2.0 * out.shape[0] * k * out_channels, matmul=work,
           operands=operands(input_tensor, w_prep, result))
    dim_out = (oh, ow) if dims == 2 else ow
    wb = (w_prep, b_prep)
    if return_output_dim and return_weights_and_bias:
        return result, dim_out, wb
    if return_output_dim:
        return result, dim_out
    if return_weights_and_bias:
        return result, wb
    return result


def _conv2d_golden(input_tensor, weight_tensor, *, in_channels, batch_size, input_height, input_width,
                   stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias_tensor=None, **_):
    x = input_tensor.reshape(batch_size, input_height, input_width, -1)[..., :in_channels].permute(0, 3, 1, 2)
    t, b, l, r = _pad4(padding)
    x = F.pad(x.float(), (l, r, t, b))
    y = F.conv2d(x, weight_tensor.float(), None if bias_tensor is None else bias_tensor.reshape(-1).float(),
                 _pair(stride), 0, _pair(dilation), groups)
    return y.permute(0, 2, 3, 1).reshape(1, 1, -1, y.shape[1])


@operation("ttnn.conv2d", golden_function=_conv2d_golden)
def conv2d(*, input_tensor, weight_tensor, device, in_channels, out_channels, batch_size, input_height, input_width,
           kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, dtype=None, bias_tensor=None,
           conv_config=None, compute_config=None, memory_config=None, slice_config=None, return_output_dim=False,
           return_weights_and_bias=False):
    """2-D convolution, channels-last. Returns the output [1, 1, N*OH*OW, OC]; with return_output_dim also
    (OH, OW); with return_weights_and_bias also (prepared weight, prepared bias) for reuse in later calls."""
    return _run_conv("conv2d", input_tensor=input_tensor, weight_tensor=weight_tensor, device=device,
                     in_channels=in_channels, out_channels=out_channels, batch_size=batch_size,
                     input_height=input_height, input_width=input_width, kernel_size=kernel_size, stride=stride,
                     padding=padding, dilation=dilation, groups=groups, dtype=dtype, bias_tensor=bias_tensor,
                     conv_config=conv_config, compute_config=compute_config, memory_config=memory_config,
                     return_output_dim=return_output_dim, return_weights_and_bias=return_weights_and_bias)


@operation("ttnn.conv1d")
def conv1d(*, input_tensor, weight_tensor, device, in_channels, out_channels, batch_size, input_length, kernel_size,
           stride=1, padding=0, dilation=1, groups=1, dtype=None, bias_tensor=None, conv_config=None,
           compute_config=None, memory_config=None, slice_config=None, return_output_dim=False,
           return_weights_and_bias=False):
    """1-D convolution: input [N, L, C] (or [1, 1, N*L, C]), weight [OC, C/groups, K]; run as a 2-D
    convolution of height 1. return_output_dim gives the output length."""
    w = weight_tensor
    if not _is_prepared(w):
        if len(w.shape) != 3:
            raise RuntimeError(f"ttnn.conv1d: weight must be [out_channels, in_channels/groups, kernel], "
                               f"got {list(w.shape)}")
        w = Tensor._make(w.value.unsqueeze(2), w.dtype, w.layout)
    p = [padding, padding] if isinstance(padding, int) else list(padding)
    return _run_conv("conv1d", input_tensor=input_tensor, weight_tensor=w,
                     device=device, in_channels=in_channels, out_channels=out_channels, batch_size=batch_size,
                     input_height=1, input_width=input_length, kernel_size=(1, kernel_size), stride=(1, stride),
                     padding=(0, 0, p[0], p[1]), dilation=(1, dilation), groups=groups, dtype=dtype,
                     bias_tensor=bias_tensor, conv_config=conv_config, compute_config=compute_config,
                     memory_config=memory_config, return_output_dim=return_output_dim,
                     return_weights_and_bias=return_weights_and_bias, dims=1)


class _Transpose:
    """conv_transpose2d as a stride-1 convolution: zero-insert the input by the stride, pad by
    dilation*(k-1) - padding (+ output_padding at the bottom/right), convolve with the spatially flipped kernel
    whose in/out channels are swapped (per group). mirror_kernel=False means the caller already flipped it."""

    def __init__(self, device, conv_config, in_channels, out_channels, kernel, stride, padding, output_padding,
                 dilation, groups, mirror):
        self.device, self.cfg, self.ic, self.oc = device, conv_config, in_channels, out_channels
        self.k, self.s, self.p = _pair(kernel), _pair(stride), _pad4(padding)
        self.op_, self.d, self.g, self.mirror = _pair(output_padding), _pair(dilation), groups, mirror

    def __call__(self, w: Tensor) -> Tensor:
        if _is_prepared(w):
            return w
        want = [self.ic, self.oc // self.g, *self.k]
        if list(w.shape) != want:
            raise RuntimeError(f"ttnn.conv_transpose2d: weight shape {list(w.shape)} does not match IOHW {want} "
                               f"(in_channels, out_channels/groups, kernel_h, kernel_w)")
        v = w.value.float().reshape(self.g, self.ic // self.g, self.oc // self.g, *self.k).transpose(1, 2)
        v = v.reshape(self.oc, self.ic // self.g, *self.k)
        if self.mirror:
            v = v.flip(-1, -2)
        out = new_device_tensor(_prepare_weight_values(v, self.g), _weights_dtype(self.cfg, w), Layout.TILE,
                                self.device)
        record(self.device, "ttnn.prepare_conv_transpose2d_weights", operands=operands(out))
        return out

    def input(self, x):
        n, c, h, w = x.shape
        sh, sw = self.s
        z = x.new_zeros(n, c, (h - 1) * sh + 1, (w - 1) * sw + 1)
        z[:, :, ::sh, ::sw] = x
        kh, kw = self.k
        t, b, l, r = self.p
        pads = (self.d[0] * (kh - 1) - t, self.d[0] * (kh - 1) - b + self.op_[0],
                self.d[1] * (kw - 1) - l, self.d[1] * (kw - 1) - r + self.op_[1])
        if min(pads) < 0:  # padding larger than the kernel reach crops the result instead
            z = F.pad(z, (min(pads[2], 0), min(pads[3], 0), min(pads[0], 0), min(pads[1], 0)))
            pads = tuple(max(p, 0) for p in pads)
        return z, pads, (1, 1)


@operation("ttnn.conv_transpose2d")
def conv_transpose2d(*, input_tensor, weight_tensor, device, in_channels, out_channels, batch_size, input_height,
                     input_width, kernel_size, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                     dilation=(1, 1), groups=1, dtype=None, bias_tensor=None, conv_config=None, compute_config=None,
                     memory_config=None, dram_slice_config=None, mirror_kernel=True, return_output_dim=False,
                     return_weights_and_bias=False):
    """Transposed 2-D convolution, channels-last, weight IOHW as torch gives it. Output [1, 1, N*OH*OW, OC]
    with OH = (H-1)*stride - pad_top - pad_bottom + dilation*(KH-1) + output_padding + 1."""
    tr = _Transpose(device, conv_config, in_channels, out_channels, kernel_size, stride, padding, output_padding,
                    dilation, groups, mirror_kernel)
    return _run_conv("conv_transpose2d", input_tensor=input_tensor, weight_tensor=weight_tensor, device=device,
                     in_channels=in_channels, out_channels=out_channels, batch_size=batch_size,
                     input_height=input_height, input_width=input_width, kernel_size=kernel_size, stride=(1, 1),
                     padding=(0, 0), dilation=dilation, groups=groups, dtype=dtype, bias_tensor=bias_tensor,
                     conv_config=conv_config, compute_config=compute_config, memory_config=memory_config,
                     return_output_dim=return_output_dim, return_weights_and_bias=return_weights_and_bias,
                     transpose=tr)


def prepare_conv_transpose2d_weights(*, weight_tensor, input_memory_config, input_layout, weights_format,
                                     in_channels, out_channels, batch_size, input_height, input_width, kernel_size,
                                     stride, padding, output_padding=(0, 0), dilation, has_bias, groups, device,
                                     input_dtype, output_dtype=None, conv_config=None, compute_config=None,
                                     dram_slice_config=None, mirror_kernel=True):
    """Host IOHW weights -> device matmul weights (channels swapped per group, kernel mirrored unless told not)."""
    if weights_format != "IOHW":
        raise RuntimeError(f"prepare_conv_transpose2d_weights: weights_format must be \"IOHW\" (PyTorch's "
                           f"ConvTranspose2d), got {weights_format!r}")
    return _Transpose(device, conv_config, in_channels, out_channels, kernel_size, stride, padding, (0, 0),
                      dilation, groups, mirror_kernel)(weight_tensor)


def prepare_conv_transpose2d_bias(*, bias_tensor, input_memory_config, input_layout, in_channels, out_channels,
                                  batch_size, input_height, input_width, kernel_size, stride, padding, dilation,
                                  groups, device, input_dtype, output_dtype=None, conv_config=None,
                                  compute_config=None, dram_slice_config=None):
    return _prepare_bias(bias_tensor, device, conv_config, out_channels, _weights_dtype(conv_config, bias_tensor))
