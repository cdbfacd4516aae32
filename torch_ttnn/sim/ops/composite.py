"""Composite TT-NN operations: ones the real library builds from its primitive kernels (addmm, stack, the GLU
family, losses, softmax variants with scale and mask, ...), and small tensor utilities (reallocate, narrow, roll,
fill_implicit_tile_padding, ...).

Each computes in float32 from the stored (device-rounded) inputs and rounds once to the output dtype, except
where it reuses a primitive's device numerics: addmm goes through ttnn.matmul's fidelity/accumulation path, the
softmax variants through ttnn.softmax's intermediate roundings. Formulas and defaults follow the real 0.81.1
golden functions and signatures. Costs: one vector-engine pass per output value at a few cycles (estimates).
"""
from __future__ import annotations

import torch

from .. import formats
from ..operation import record
from ..tensor import Tensor, new_device_tensor, operands, require_device
from ..types import FLOATS, INTEGERS, DataType, Layout, _Enum
from . import _eltwise as E
from .data_movement import _check, _dim, _finish
from .matmul import _matmul_core
from .normalization import _softmax_impl
from .program_configs import SoftmaxDefaultProgramConfig

__all__ = ["addmm", "stack", "narrow", "roll", "reallocate", "move", "copy", "assign", "unsqueeze_to_4D",
           "fill_implicit_tile_padding", "pearson_correlation_coefficient", "glu", "reglu", "geglu", "swiglu",
           "l1_loss", "mse_loss", "LossReductionMode", "snake_beta", "clamped_silu_glu", "situ_glu",
           "scale_mask_softmax", "softmax_in_place", "scale_mask_softmax_in_place",
           "scale_causal_mask_hw_dims_softmax_in_place", "nonzero", "tosa_gather",
           "tosa_scatter", "index_fill", "sort", "bcast", "BcastOpMath", "BcastOpDim", "ema"]


# --- matmul composites ---------------------------------------------------------------------------------------
def _addmm_impl(input_tensor, mat1_tensor, mat2_tensor, alpha=1.0, beta=1.0, memory_config=None, dtype=None,
                program_config=None, compute_kernel_config=None, core_grid=None, output_tile=None,
                optional_output_tensor=None):
    """beta * input + alpha * (mat1 @ mat2): the product at matmul's device fidelity, the scaled sum in float32
    rounded once (priced with the matmul, into whose output it is fused)."""
    qual = "ttnn.addmm"
    require_device(qual, input_tensor)
    out = _matmul_core(qual, mat1_tensor, mat2_tensor, None, False, False, memory_config, dtype, program_config,
                       None, compute_kernel_config, core_grid, optional_output_tensor)
    prod = E.host_values(out)
    try:
        bias = torch.broadcast_to(E.host_values(input_tensor), prod.shape)
    except RuntimeError:
        raise RuntimeError(f"{qual}: input of shape {list(input_tensor.shape)} does not broadcast to the product's "
                           f"shape {list(prod.shape)}") from None
    out._values = formats.to_device_format(float(beta) * bias + float(alpha) * prod, out.dtype, out.layout)
    return out


addmm = E.make_op("ttnn.addmm", "input_tensor, mat1_tensor, mat2_tensor, *, alpha=1.0, beta=1.0, memory_config=None, "
                  "dtype=None, program_config=None, compute_kernel_config=None, core_grid=None, output_tile=None, "
                  "optional_output_tensor=None", _addmm_impl,
                  lambda i, a, b, *, alpha=1.0, beta=1.0, **k: torch.addmm(i.float(), a.float(), b.float(),
                                                                           alpha=alpha, beta=beta))


# --- data movement ------------------------------------------------------------------------------------------
def _stack_impl(input_tensors, dim):
    """Stack same-shape tensors along a new dim (unsqueeze each, then concat)."""
    qual = "ttnn.stack"
    _check(len(input_tensors) > 0, qual, "input_tensors must not be empty")
    dev = require_device(qual, *input_tensors)
    first = input_tensors[0]
    for t in input_tensors[1:]:
        _check(tuple(t.shape) == tuple(first.shape), qual, f"all tensors must have the same shape, got "
               f"{list(first.shape)} and {list(t.shape)}")
        _check(t.dtype == first.dtype and t.layout == first.layout, qual, "all tensors must have the same dtype "
               "and layout; typecast / to_layout first")
    d = _dim(dim, len(first.shape) + 1, qual)
    vals = torch.stack([t.value for t in input_tensors], d)
    return _finish(qual, dev, vals, first, tuple(input_tensors))


stack = E.make_op("ttnn.stack", "input_tensors, dim", _stack_impl, lambda ts, dim, **k: torch.stack(ts, dim))


def _narrow_impl(input_tensor, dim, start, length):
    qual = "ttnn.narrow"
    dev = require_device(qual, input_tensor)
    d = _dim(dim, len(input_tensor.shape), qual)
    size = input_tensor.shape[d]
    _check(0 <= start and length >= 0 and start + length <= size, qual,
           f"start {start} + length {length} exceeds dim {d} of size {size}")
    return _finish(qual, dev, input_tensor.value.narrow(d, start, length), input_tensor)


narrow = E.make_op("ttnn.narrow", "input_tensor, dim, start, length", _narrow_impl,
                   lambda t, dim, start, length, **k: t.narrow(dim, start, length))


def _roll_impl(input_tensor, shifts, dim, memory_config=None):
    """Roll along dims (or the flattened tensor when dim is None), elements shifted off one end re-enter at the
    other."""
    qual = "ttnn.roll"
    dev = require_device(qual, input_tensor)
    rank = len(input_tensor.shape)
    if dim is None:
        vals = torch.roll(input_tensor.value, shifts)
    else:
        dims = [_dim(d, rank, qual) for d in (dim if isinstance(dim, (list, tuple)) else [dim])]
        sh = list(shifts) if isinstance(shifts, (list, tuple)) else [shifts]
        _check(len(sh) == len(dims), qual, f"shifts ({len(sh)}) and dim ({len(dims)}) must have the same length")
        vals = torch.roll(input_tensor.value, sh, dims)
    return _finish(qual, dev, vals, input_tensor, memory_config=memory_config)


roll = E.make_op("ttnn.roll", "input_tensor, shifts, dim, *, memory_config=None", _roll_impl,
                 lambda t, shifts, dim=None, **k: torch.roll(t, shifts, dim))


def _copy_to(qual, t: Tensor, memory_config, dtype=None):
    dev = require_device(qual, t)
    return _finish(qual, dev, t.value, t, dtype=dtype, memory_config=memory_config or t.memory_config())


def _reallocate_impl(tensor, memory_config=None):
    """A fresh copy of the tensor in a newly allocated buffer (the real op defragments memory; the old buffer is
    freed, as the real op deallocates its input)."""
    out = _copy_to("ttnn.reallocate", tensor, memory_config)
    tensor.deallocate()
    return out


reallocate = E.make_op("ttnn.reallocate", "tensor, memory_config=None", _reallocate_impl, lambda t, *a, **k: t)
move = E.make_op("ttnn.move", "input_tensor, *, memory_config=None",
                 lambda input_tensor, memory_config=None: _reallocate_impl(input_tensor, memory_config),
                 lambda t, **k: t)


def _copy_into(qual, input_a, input_b):
    """Copy a's values into b (same shape), converting to b's dtype; returns b."""
    dev = require_device(qual, input_a, input_b)
    _check(tuple(input_a.shape) == tuple(input_b.shape), qual,
           f"shapes differ: {list(input_a.shape)} vs {list(input_b.shape)}")
    input_b._values = formats.to_device_format(E.host_values(input_a), input_b.dtype, input_b.layout)
    record(dev, qual, operands=operands(input_a, input_b))
    return input_b


copy = E.make_op("ttnn.copy", "input_a, input_b", lambda input_a, input_b: _copy_into("ttnn.copy", input_a, input_b),
                 lambda a, b, **k: a.clone())
# The real assign has two overloads, assign(t, *, memory_config, dtype, output_tensor) and assign(a, b); a Python
# signature holds one: the emulator takes the (a, b) form, the one TT-NN programs use to copy into a tensor.
assign = E.make_op("ttnn.assign", "input_a, input_b",
                   lambda input_a, input_b: _copy_into("ttnn.assign", input_a, input_b), lambda a, b, **k: a.clone())


def _unsqueeze_to_4d_impl(tensor):
    from ..tensor import reshape
    rank = len(tensor.shape)
    _check(rank <= 4, "ttnn.unsqueeze_to_4D", f"tensor rank {rank} is above 4")
    return reshape(tensor, [1] * (4 - rank) + list(tensor.shape))


unsqueeze_to_4D = E.make_op("ttnn.unsqueeze_to_4D", "tensor", _unsqueeze_to_4d_impl,
                            lambda t, **k: t.reshape([1] * (4 - t.dim()) + list(t.shape)))


def _fill_padding_impl(input_tensor, fill_value, memory_config=None):
    """Set the tile padding (the elements past the logical shape in the last 32x32 tiles) to fill_value. The
    emulator's tensors keep their logical values only and the padding is materialised as zeros when a tile is
    read, so the logical result is a copy; ops that read padding (tilize/untilize round trips) see the value."""
    qual = "ttnn.fill_implicit_tile_padding"
    dev = require_device(qual, input_tensor)
    _check(input_tensor.layout == Layout.TILE, qual, "input must be in TILE layout (row-major tensors have no tile "
           "padding); convert with ttnn.to_layout(t, ttnn.TILE_LAYOUT)")
    out = _finish(qual, dev, input_tensor.value, input_tensor, memory_config=memory_config)
    out._pad_value = float(fill_value)
    return out


fill_implicit_tile_padding = E.make_op("ttnn.fill_implicit_tile_padding", "input_tensor, fill_value, *, "
                                       "memory_config=None", _fill_padding_impl, lambda t, v, **k: t)


def _pearson(expected, actual):
    """PCC with the real helper's conventions (TT-NN 0.81.1 ttnn/operations/comparison.py): ttnn.Tensor
    arguments read to torch first; both all-NaN 1.0, one all-NaN 0.0, one all-zero decided by allclose,
    Inf/NaN masked to 0, then torch-ttnn's one PCC (torch_ttnn.accuracy.pcc_tt says what it adds to pcc):
    equal 1.0, a constant tensor decided by allclose (rtol 1e-5, atol 1e-4), else the correlation."""
    from ...accuracy import pcc_tt
    from ..tensor import to_torch
    if isinstance(actual, Tensor):
        actual = to_torch(actual)
    if isinstance(expected, Tensor):
        expected = to_torch(expected)
    if not isinstance(expected, torch.Tensor):
        raise ValueError("Expected tensor is not a torch.Tensor")
    if not isinstance(actual, torch.Tensor):
        actual = torch.as_tensor(actual)
    return pcc_tt(expected, actual)


pearson_correlation_coefficient = E.make_op("ttnn.pearson_correlation_coefficient", "expected, actual",
                                            _pearson, _pearson)


# --- element-wise composites --------------------------------------------------------------------------------
def _unary_like(qual, t: Tensor, out: torch.Tensor, memory_config, cycles, output_tensor=None, inputs=None):
    dev = require_device(qual, t)
    return E.finish(qual, out, t.dtype, t.layout, dev, memory_config or t.memory_config(), inputs or (t,),
                    output_tensor=output_tensor, sfpu_cycles=cycles)


def _glu_family(name, act):
    qual = f"ttnn.{name}"

    def impl(input_tensor, dim=-1, memory_config=None, variant=None):
        """Split the last dim in halves a, b and return a * act(b) (the real ops allow only dim -1 / 3)."""
        require_device(qual, input_tensor)
        rank = len(input_tensor.shape)
        _check(dim in (-1, rank - 1), qual, f"dim must be the last dimension (-1), got {dim}")
        x = E.host_values(input_tensor)
        _check(x.shape[-1] % 64 == 0, qual, f"the last dimension ({x.shape[-1]}) must split into two "
               f"tile-aligned halves (a multiple of 64)")
        a, b = x.chunk(2, dim=-1)
        return _unary_like(qual, input_tensor, a * act(b, variant), memory_config, 12)

    def golden(x, dim=-1, **k):
        a, b = x.float().chunk(2, dim=dim)
        return a * act(b, k.get("variant"))

    return impl, golden


_GLU = {
    "glu": lambda b, v: torch.sigmoid(b), "reglu": lambda b, v: torch.relu(b),
    "swiglu": lambda b, v: torch.nn.functional.silu(b),
    "geglu": lambda b, v: torch.nn.functional.gelu(b, approximate="tanh" if v is not None and v.name == "Tanh"
                                                   else "none"),
}
for _n, _act in _GLU.items():
    _impl, _golden = _glu_family(_n, _act)
    _params = "input_tensor, dim=-1, *, memory_config=None" + (
        ", variant=GeluVariant.Accurate" if _n == "geglu" else "")
    globals()[_n] = E.make_op(f"ttnn.{_n}", _params, _impl, _golden)


class LossReductionMode(_Enum):
    NONE = 0
    MEAN = 1
    SUM = 2


def _loss(name, fn):
    qual = f"ttnn.{name}"

    def impl(input_reference, input_prediction, reduction=LossReductionMode.NONE, memory_config=None,
             output_tensor=None):
        """Element-wise loss, then summed or averaged over every element when reduction asks."""
        dev = require_device(qual, input_reference, input_prediction)
        r, p = E.host_values(input_reference), E.host_values(input_prediction)
        _check(tuple(r.shape) == tuple(p.shape), qual, f"shapes differ: {list(r.shape)} vs {list(p.shape)}")
        out = fn(r, p)
        if reduction == LossReductionMode.SUM:
            out = out.sum().reshape([1] * out.dim())
        elif reduction == LossReductionMode.MEAN:
            out = out.mean().reshape([1] * out.dim())
        return E.finish(qual, out, input_reference.dtype, input_reference.layout, dev,
                        memory_config or input_reference.memory_config(), (input_reference, input_prediction),
                        output_tensor=output_tensor, sfpu_cycles=3, sfpu_ops=float(r.numel()))

    def golden(r, p, reduction=LossReductionMode.NONE, **k):
        out = fn(r.float(), p.float())
        return out.sum() if reduction == LossReductionMode.SUM else out.mean() if reduction == \
            LossReductionMode.MEAN else out

    return E.make_op(qual, "input_reference, input_prediction, *, reduction=LossReductionMode.NONE, "
                     "memory_config=None, output_tensor=None", impl, golden,
                     env={"LossReductionMode": LossReductionMode})


l1_loss = _loss("l1_loss", lambda r, p: (r - p).abs())
mse_loss = _loss("mse_loss", lambda r, p: (r - p).square())


def _operand(qual, v, dev):
    if isinstance(v, Tensor):
        if require_device(qual, v) is not dev:
            raise RuntimeError(f"{qual}: operands are on different devices")
        return E.host_values(v)
    return float(v)


def _snake_beta_impl(input_tensor, alpha, beta, memory_config=None, output_tensor=None):
    """x + sin(alpha * x)^2 / beta (BigVGAN's Snake activation), alpha/beta numbers or broadcast tensors."""
    qual = "ttnn.snake_beta"
    dev = require_device(qual, input_tensor)
    x = E.host_values(input_tensor)
    a, b = _operand(qual, alpha, dev), _operand(qual, beta, dev)
    tensors = (input_tensor,) + tuple(t for t in (alpha, beta) if isinstance(t, Tensor))
    return _unary_like(qual, input_tensor, x + torch.sin(a * x) ** 2 / b, memory_config, 20, output_tensor, tensors)


snake_beta = E.make_op("ttnn.snake_beta", "input_tensor, alpha, beta, *, memory_config=None, output_tensor=None",
                       _snake_beta_impl, lambda x, a, b, **k: x + torch.sin(a * x) ** 2 / b)


def _glu2(qual, gate, up, fn, memory_config):
    dev = require_device(qual, gate, up)
    _check(tuple(gate.shape) == tuple(up.shape), qual, f"gate and up shapes differ: {list(gate.shape)} vs "
           f"{list(up.shape)}")
    return E.finish(qual, fn(E.host_values(gate), E.host_values(up)), gate.dtype, gate.layout, dev,
                    memory_config or gate.memory_config(), (gate, up), sfpu_cycles=24)


def _clamped_silu(g, u, limit):
    return torch.nn.functional.silu(torch.clamp(g, max=limit)) * torch.clamp(u, -limit, limit)


def _situ(g, u, beta1, beta2):
    return beta1 * torch.tanh(g / beta1) * torch.sigmoid(g) * (beta2 * torch.tanh(u / beta2))


clamped_silu_glu = E.make_op(
    "ttnn.clamped_silu_glu", "gate, up, limit, *, memory_config=None, sub_core_grids=None, sub_device_id=None",
    lambda gate, up, limit, memory_config=None, **k: _glu2("ttnn.clamped_silu_glu", gate, up,
                                                           lambda g, u: _clamped_silu(g, u, float(limit)),
                                                           memory_config),
    lambda g, u, limit, **k: _clamped_silu(g.float(), u.float(), limit))
situ_glu = E.make_op(
    "ttnn.situ_glu", "gate, up, beta1, beta2, *, memory_config=None, sub_core_grids=None, sub_device_id=None",
    lambda gate, up, beta1, beta2, memory_config=None, **k: _glu2(
        "ttnn.situ_glu", gate, up, lambda g, u: _situ(g, u, float(beta1), float(beta2)), memory_config),
    lambda g, u, b1, b2, **k: _situ(g.float(), u.float(), b1, b2))


# --- softmax variants -----------------------------------------------------------------------------------------
def _scaled_masked(qual, x: Tensor, scale, mask, is_causal_mask, dev):
    """The pre-softmax input: x * scale + mask (mask broadcast over rows unless causal, as the real kernel)."""
    v = E.host_values(x)
    if scale is not None:
        v = E.round_to(v * E.round_to(torch.tensor(float(scale)), x.dtype if x.dtype == DataType.FLOAT32
                                      else DataType.BFLOAT16), DataType.FLOAT32 if x.dtype == DataType.FLOAT32
                       else DataType.BFLOAT16)
    if mask is not None:
        if require_device(qual, mask) is not dev:
            raise RuntimeError(f"{qual}: mask is on a different device than the input")
        m = E.host_values(mask)
        try:
            v = v + torch.broadcast_to(m, v.shape)
        except RuntimeError:
            raise RuntimeError(f"{qual}: mask of shape {list(mask.shape)} does not broadcast to the input shape "
                               f"{list(x.shape)}") from None
    return v


def _softmax_of(qual, x, values, compute_kernel_config, numeric_stable, output_tensor=None, memory_config=None):
    """Run ttnn.softmax's device numerics on `values` standing in for x's contents, under `qual`."""
    tmp = Tensor._make(formats.to_device_format(values, x.dtype if x.dtype in FLOATS else DataType.BFLOAT16,
                                                x.layout), x.dtype, x.layout, x.device(), x.memory_config())
    out = _softmax_impl(tmp, -1, memory_config, compute_kernel_config, numeric_stable, qual=qual)
    if output_tensor is not None:
        output_tensor._values = out._values
        out.deallocate()
        return output_tensor
    return out


def _scale_mask_softmax_impl(input_tensor, scale=None, mask=None, memory_config=None, is_causal_mask=False,
                             compute_kernel_config=None, numeric_stable=True):
    """softmax(x * scale + mask) over the last dim."""
    qual = "ttnn.scale_mask_softmax"
    dev = require_device(qual, input_tensor)
    v = _scaled_masked(qual, input_tensor, scale, mask, is_causal_mask, dev)
    return _softmax_of(qual, input_tensor, v, compute_kernel_config, numeric_stable, memory_config=memory_config)


def _golden_sms(x, scale=None, mask=None, **k):
    v = x.float() * (scale if scale is not None else 1.0)
    return torch.softmax(v + (mask.float() if mask is not None else 0.0), -1)


scale_mask_softmax = E.make_op("ttnn.scale_mask_softmax", "input_tensor, scale=None, mask=None, *, memory_config=None, "
                               "is_causal_mask=False, compute_kernel_config=None, numeric_stable=True",
                               _scale_mask_softmax_impl, _golden_sms)
_DEFAULT_SOFTMAX = SoftmaxDefaultProgramConfig()


def _softmax_in_place_impl(input_tensor, dim=-1, program_config=None, compute_kernel_config=None,
                           numeric_stable=True):
    """Softmax along dim written back into the input (the real in-place op supports the last dim only)."""
    qual = "ttnn.softmax_in_place"
    require_device(qual, input_tensor)
    _check(dim in (-1, len(input_tensor.shape) - 1), qual, f"only the last dim is supported, got {dim}")
    return _softmax_of(qual, input_tensor, E.host_values(input_tensor), compute_kernel_config, numeric_stable,
                       output_tensor=input_tensor)


def _sms_in_place(qual):
    def impl(input_tensor, scale=None, mask=None, program_config=None, is_causal_mask=False,
             compute_kernel_config=None, numeric_stable=False):
        """softmax(x * scale + mask) written back into the input."""
        dev = require_device(qual, input_tensor)
        v = _scaled_masked(qual, input_tensor, scale, mask, is_causal_mask, dev)
        return _softmax_of(qual, input_tensor, v, compute_kernel_config, numeric_stable, output_tensor=input_tensor)
    return impl


_ENV = {"SoftmaxDefaultProgramConfig": SoftmaxDefaultProgramConfig, "_DEFAULT_SOFTMAX": _DEFAULT_SOFTMAX}
softmax_in_place = E.make_op("ttnn.softmax_in_place", "input_tensor, dim=-1, *, program_config=_DEFAULT_SOFTMAX, "
                             "compute_kernel_config=None, numeric_stable=True", _softmax_in_place_impl,
                             lambda x, dim=-1, **k: torch.softmax(x.float(), dim), env=_ENV)
scale_mask_softmax_in_place = E.make_op(
    "ttnn.scale_mask_softmax_in_place", "input_tensor, scale=None, mask=None, *, program_config=_DEFAULT_SOFTMAX, "
    "is_causal_mask=False, compute_kernel_config=None, numeric_stable=False",
    _sms_in_place("ttnn.scale_mask_softmax_in_place"), _golden_sms, env=_ENV)
scale_causal_mask_hw_dims_softmax_in_place = E.make_op(
    "ttnn.scale_causal_mask_hw_dims_softmax_in_place", "input_tensor, scale=None, mask=None, *, "
    "program_config=_DEFAULT_SOFTMAX, compute_kernel_config=None, numeric_stable=False",
    lambda input_tensor, scale=None, mask=None, program_config=None, compute_kernel_config=None,
    numeric_stable=False: _sms_in_place("ttnn.scale_causal_mask_hw_dims_softmax_in_place")(
        input_tensor, scale, mask, program_config, True, compute_kernel_config, numeric_stable),
    _golden_sms, env=_ENV)


# --- indexing ------------------------------------------------------------------------------------------------
def _index_values(qual, t: Tensor) -> torch.Tensor:
    if t.dtype not in INTEGERS:
        raise RuntimeError(f"{qual}: index tensor must be INT32/UINT32/UINT16, got {t.dtype.name}; typecast first")
    return t.value.to(torch.int64)


def _nonzero_impl(input_tensor, memory_config=None):
    """[count, indices]: the number of non-zero elements and their positions in the last dim of a [1, 1, 1, W]
    row-major tensor, indices padded with zeros to W (the real op's output format), both UINT32."""
    qual = "ttnn.nonzero"
    dev = require_device(qual, input_tensor)
    shape = list(input_tensor.shape)
    _check(len(shape) == 4 and shape[:3] == [1, 1, 1], qual, f"input must have shape [1, 1, 1, W], got {shape}")
    _check(input_tensor.layout == Layout.ROW_MAJOR, qual, "input must be in ROW_MAJOR layout")
    nz = torch.nonzero(E.host_values(input_tensor).reshape(-1)).reshape(-1)
    count = torch.zeros(1, 1, 1, 8, dtype=torch.int64)
    count[..., 0] = nz.numel()
    idx = torch.zeros(shape, dtype=torch.int64)
    idx.reshape(-1)[:nz.numel()] = nz
    mc = memory_config or input_tensor.memory_config()
    outs = [new_device_tensor(v, DataType.UINT32, Layout.ROW_MAJOR, dev, mc) for v in (count, idx)]
    record(dev, qual, operands=operands(input_tensor, *outs))
    return outs


nonzero = E.make_op("ttnn.nonzero", "input_tensor, *, memory_config=None", _nonzero_impl,
                    lambda x, **k: torch.nonzero(x.reshape(-1)).reshape(-1))


# ttnn.scatter / scatter_add live in data_movement.py (with the real op's refusals).


def _tosa_gather_impl(input, index, memory_config=None):
    """TOSA gather: input [N, K, C], index [N, W] -> output [N, W, C] with output[n, w] = input[n, index[n, w]]."""
    qual = "ttnn.tosa_gather"
    dev = require_device(qual, input, index)
    _check(len(input.shape) == 3 and len(index.shape) == 2, qual, "input must be [N, K, C] and index [N, W]")
    idx = _index_values(qual, index)
    x = E.host_values(input)
    _check(not idx.numel() or (idx.min() >= 0 and idx.max() < x.shape[1]), qual, f"index out of range")
    out = torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[2]))
    return E.finish(qual, out, input.dtype, input.layout, dev, memory_config or input.memory_config(),
                    (input, index), sfpu_cycles=1)


tosa_gather = E.make_op("ttnn.tosa_gather", "input, index, *, memory_config=None", _tosa_gather_impl,
                        lambda x, idx, **k: torch.gather(x, 1, idx.long().unsqueeze(-1).expand(-1, -1, x.shape[2])))


def _tosa_scatter_impl(input, index, src, memory_config=None):
    """TOSA scatter: output = input with output[n, index[n, w]] = src[n, w] (input [N, K, C], src [N, W, C])."""
    qual = "ttnn.tosa_scatter"
    dev = require_device(qual, input, index, src)
    idx = _index_values(qual, index)
    x = E.host_values(input)
    out = x.scatter(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[2]), E.host_values(src))
    return E.finish(qual, out, input.dtype, input.layout, dev, memory_config or input.memory_config(),
                    (input, index, src), sfpu_cycles=1)


tosa_scatter = E.make_op("ttnn.tosa_scatter", "input, index, src, *, memory_config=None", _tosa_scatter_impl)


def _index_fill_impl(input, dim, index, value, memory_config=None):
    """Set the slices at `index` along dim to value."""
    qual = "ttnn.index_fill"
    dev = require_device(qual, input, index)
    d = _dim(dim, len(input.shape), qual)
    idx = _index_values(qual, index).reshape(-1)
    _check(not idx.numel() or (idx.min() >= 0 and idx.max() < input.shape[d]), qual, "index out of range")
    out = E.host_values(input).index_fill(d, idx, float(value))
    return E.finish(qual, out, input.dtype, input.layout, dev, memory_config or input.memory_config(),
                    (input, index), sfpu_cycles=1)


index_fill = E.make_op("ttnn.index_fill", "input, dim, index, value, *, memory_config=None", _index_fill_impl,
                       lambda x, dim, index, value, **k: x.index_fill(dim, index.long(), value))


def _sort_impl(input_tensor, dim=-1, descending=False, stable=False, memory_config=None, out=None):
    """[values, indices] sorted along dim; indices UINT16 (the real op's index type)."""
    qual = "ttnn.sort"
    dev = require_device(qual, input_tensor)
    d = _dim(dim, len(input_tensor.shape), qual)
    v, i = torch.sort(E.host_values(input_tensor), dim=d, descending=descending, stable=stable)
    mc = memory_config or input_tensor.memory_config()
    vals = new_device_tensor(v, input_tensor.dtype, input_tensor.layout, dev, mc)
    idx = new_device_tensor(i, DataType.UINT16, input_tensor.layout, dev, mc)
    if out is not None:
        for o, r in zip(out, (vals, idx)):
            o._values = formats.to_device_format(E.host_values(r), o.dtype, o.layout)
        vals, idx = out
    n = input_tensor.shape[d] if input_tensor.shape else 1
    record(dev, qual, operands=operands(input_tensor, vals, idx), sfpu_ops=float(input_tensor.volume()),
           sfpu_cycles=4.0 * max(1, n.bit_length()))
    return [vals, idx]


sort = E.make_op("ttnn.sort", "input_tensor, dim=-1, descending=False, stable=False, *, memory_config=None, out=None",
                 _sort_impl, lambda x, dim=-1, descending=False, stable=False, **k: list(
                     torch.sort(x, dim=dim, descending=descending, stable=stable)))


# --- broadcast op -------------------------------------------------------------------------------------------
class BcastOpMath(_Enum):
    ADD = 0
    SUB = 1
    MUL = 2


class BcastOpDim(_Enum):
    H = 0
    W = 1
    HW = 2


def _bcast_impl(input_a, input_b, math_op, dim, memory_config=None, output_tensor=None):
    """a (op) b with b broadcast over rows (H: b is [.., 1, W]), columns (W: [.., H, 1]) or both (HW: [.., 1, 1])."""
    qual = "ttnn.bcast"
    dev = require_device(qual, input_a, input_b)
    a, b = E.host_values(input_a), E.host_values(input_b)
    want = {BcastOpDim.H: (1, a.shape[-1]), BcastOpDim.W: (a.shape[-2], 1), BcastOpDim.HW: (1, 1)}[dim]
    _check(tuple(b.shape[-2:]) == want, qual, f"for dim {dim.name} input_b's last two dims must be {list(want)}, "
           f"got {list(b.shape[-2:])}")
    fn = {BcastOpMath.ADD: torch.add, BcastOpMath.SUB: torch.sub, BcastOpMath.MUL: torch.mul}[math_op]
    return E.finish(qual, fn(a, b), input_a.dtype, input_a.layout, dev, memory_config or input_a.memory_config(),
                    (input_a, input_b), output_tensor=output_tensor, flops=float(a.numel()))


bcast = E.make_op("ttnn.bcast", "input_a, input_b, math_op, dim, *, memory_config=None, output_tensor=None",
                  _bcast_impl)


def _ema_impl(input_tensor, alpha, out=None, core_grid=None, memory_config=None, compute_kernel_config=None):
    """Exponential moving average along the last dim: y[0] = x[0], y[t] = alpha y[t-1] + (1 - alpha) x[t]."""
    qual = "ttnn.ema"
    dev = require_device(qual, input_tensor)
    x = E.host_values(input_tensor)
    ys, prev = [x[..., 0]], x[..., 0]
    for t in range(1, x.shape[-1]):
        prev = alpha * prev + (1 - alpha) * x[..., t]
        ys.append(prev)
    y = torch.stack(ys, -1) if ys else x.clone()
    return E.finish(qual, y, input_tensor.dtype, input_tensor.layout, dev,
                    memory_config or input_tensor.memory_config(), (input_tensor,), output_tensor=out, sfpu_cycles=4)


ema = E.make_op("ttnn.ema", "input_tensor, alpha, *, out=None, core_grid=None, memory_config=None, "
                "compute_kernel_config=None", _ema_impl)
