"""Quantization (quantize / dequantize / requantize), random tensors (uniform, bernoulli, randn, manual_seed) and
host dtype conversion (to_dtype).

Quantization follows the real golden functions: q = round(x / scale + zero_point) (INT32 by default, narrow
integer outputs saturate), x = (q - zero_point) * scale (BFLOAT16 by default); per-channel scale/zero-point
tensors broadcast along `axis`. Random ops draw from one emulator-wide torch generator that manual_seed and the
`seed` arguments reset, so runs are reproducible; the device's own generator streams are not reproduced (the
values differ from a card's, the distributions do not).
"""
from __future__ import annotations

import torch

from .. import formats
from ..tensor import Tensor, new_device_tensor, require_device
from ..types import DataType, Layout, DRAM_MEMORY_CONFIG
from . import _eltwise as E
from .data_movement import _check

__all__ = ["quantize", "dequantize", "requantize", "uniform", "bernoulli", "randn", "manual_seed", "to_dtype"]

_GEN = torch.Generator().manual_seed(0)
_NARROW = {DataType.INT8: (-128, 127), DataType.UINT8: (0, 255), DataType.UINT16: (0, 65535)}


def _qarg(qual, v, x: torch.Tensor, axis):
    """A scale/zero-point: a number, or a tensor of one value per slice along `axis`."""
    if not isinstance(v, Tensor):
        return float(v)
    vals = E.host_values(v).reshape(-1)
    if vals.numel() == 1:
        return vals.reshape(())
    _check(axis is not None, qual, "a per-channel scale/zero_point tensor needs `axis`")
    ax = axis % x.dim()
    _check(vals.numel() == x.shape[ax], qual, f"per-channel argument has {vals.numel()} values but dim {ax} has "
           f"{x.shape[ax]}")
    shape = [1] * x.dim()
    shape[ax] = -1
    return vals.reshape(shape)


def _q_finish(qual, t, out, dtype, memory_config, output_tensor, extra):
    dev = require_device(qual, t, *[e for e in extra if isinstance(e, Tensor)])
    inputs = (t,) + tuple(e for e in extra if isinstance(e, Tensor))
    return E.finish(qual, out, dtype, t.layout, dev, memory_config or t.memory_config(), inputs,
                    output_tensor=output_tensor, sfpu_cycles=4)


def _quantize_impl(input_tensor, scale, zero_point, axis=None, dtype=None, memory_config=None, output_tensor=None):
    qual = "ttnn.quantize"
    x = E.host_values(input_tensor)
    dtype = dtype or DataType.INT32
    out = torch.round(x / _qarg(qual, scale, x, axis) + _qarg(qual, zero_point, x, axis))
    if dtype in _NARROW:
        out = out.clamp(*_NARROW[dtype])
    return _q_finish(qual, input_tensor, out, dtype, memory_config, output_tensor, (scale, zero_point))


def _dequantize_impl(input_tensor, scale, zero_point, axis=None, dtype=None, memory_config=None, output_tensor=None):
    qual = "ttnn.dequantize"
    x = E.host_values(input_tensor)
    out = (x - _qarg(qual, zero_point, x, axis)) * _qarg(qual, scale, x, axis)
    return _q_finish(qual, input_tensor, out, dtype or DataType.BFLOAT16, memory_config, output_tensor,
                     (scale, zero_point))


def _requantize_impl(input_tensor, in_scale, in_zero_point, out_scale, out_zero_point, axis=None, dtype=None,
                     memory_config=None, output_tensor=None):
    qual = "ttnn.requantize"
    x = E.host_values(input_tensor)
    a = [_qarg(qual, v, x, axis) for v in (in_scale, in_zero_point, out_scale, out_zero_point)]
    dtype = dtype or input_tensor.dtype
    out = torch.round((x - a[1]) * (a[0] / a[2]) + a[3])
    if dtype in _NARROW:
        out = out.clamp(*_NARROW[dtype])
    return _q_finish(qual, input_tensor, out, dtype, memory_config, output_tensor,
                     (in_scale, in_zero_point, out_scale, out_zero_point))


_Q = "*, axis=None, dtype=None, memory_config=None, output_tensor=None"
quantize = E.make_op("ttnn.quantize", f"input_tensor, scale, zero_point, {_Q}", _quantize_impl,
                     lambda x, s, z, **k: torch.round(x / s + z).to(torch.int32))
dequantize = E.make_op("ttnn.dequantize", f"input_tensor, scale, zero_point, {_Q}", _dequantize_impl,
                       lambda q, s, z, **k: ((q - z) * s).to(torch.bfloat16))
requantize = E.make_op("ttnn.requantize", f"input_tensor, in_scale, in_zero_point, out_scale, out_zero_point, {_Q}",
                       _requantize_impl, lambda x, si, zi, so, zo, **k: torch.round((x - zi) * (si / so) + zo))


# --- random -----------------------------------------------------------------------------------------------
def _generator(seed):
    return torch.Generator().manual_seed(int(seed)) if seed else _GEN


def _uniform_impl(input, from_=0.0, to=1.0, seed=0, memory_config=None, compute_kernel_config=None):
    """Fill `input` in place with values uniform in [from, to); returns it."""
    qual = "ttnn.uniform"
    dev = require_device(qual, input)
    _check(float(from_) < float(to), qual, f"from ({from_}) must be below to ({to})")
    vals = torch.rand(tuple(input.shape), generator=_generator(seed)) * (float(to) - float(from_)) + float(from_)
    return E.finish(qual, vals, input.dtype, input.layout, dev, None, (), output_tensor=input, sfpu_cycles=4)


uniform = E.make_op("ttnn.uniform", "input, from_=0, to=1, seed=0, *, memory_config=None, compute_kernel_config=None",
                    _uniform_impl, lambda x, from_=0.0, to=1.0, *a, **k: torch.rand(x.shape) * (to - from_) + from_)


def _bernoulli_impl(input, seed=0, output=None, dtype=None, memory_config=None, compute_kernel_config=None):
    """1 with the probability each input element holds, else 0."""
    qual = "ttnn.bernoulli"
    dev = require_device(qual, input)
    p = E.host_values(input)
    _check(bool(((p >= 0) & (p <= 1)).all()), qual, "input probabilities must be in [0, 1]")
    out = torch.bernoulli(p, generator=_generator(seed))
    return E.finish(qual, out, dtype or input.dtype, input.layout, dev, memory_config or input.memory_config(),
                    (input,), output_tensor=output, sfpu_cycles=4)


bernoulli = E.make_op("ttnn.bernoulli", "input, seed=0, *, output=None, dtype=None, memory_config=None, "
                      "compute_kernel_config=None", _bernoulli_impl, lambda x, *a, **k: torch.bernoulli(x.float()))


def _randn_impl(shape, device, dtype=DataType.BFLOAT16, layout=Layout.TILE, memory_config=DRAM_MEMORY_CONFIG,
                compute_kernel_config=None, seed=None):
    """Standard normal values of `shape` on the device."""
    from ..operation import record
    from ..tensor import operands
    vals = torch.randn(tuple(shape), generator=_generator(seed))
    out = new_device_tensor(vals, dtype, layout, device, memory_config)
    record(device, "ttnn.randn", operands=operands(out), sfpu_ops=float(out.volume()), sfpu_cycles=8)
    return out


randn = E.make_op("ttnn.randn", "shape, device, *, dtype=DataType.BFLOAT16, layout=Layout.TILE, "
                  "memory_config=DRAM_MEMORY_CONFIG, compute_kernel_config=None, seed=None", _randn_impl,
                  env={"DataType": DataType, "Layout": Layout, "DRAM_MEMORY_CONFIG": DRAM_MEMORY_CONFIG})


def _manual_seed_impl(seeds=0, device=None, user_ids=None, sub_core_grids=None):
    """Reseed the emulator's random generator (the real op seeds the device's per-core generators)."""
    s = seeds if isinstance(seeds, int) else int(E.host_values(seeds).reshape(-1)[0].item())
    _GEN.manual_seed(s)


manual_seed = E.make_op("ttnn.manual_seed", "seeds=0, *, device=None, user_ids=None, sub_core_grids=None",
                        _manual_seed_impl)


def _to_dtype_impl(tensor, dtype):
    """Convert a host tensor's data to `dtype` (the real op is host-only and raises for device tensors)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"ttnn.to_dtype: expected a ttnn.Tensor, got {type(tensor).__name__}")
    if tensor.device() is not None:
        raise RuntimeError("ttnn.to_dtype: the tensor must be on host; use ttnn.typecast for device tensors or "
                           "ttnn.from_device first")
    if dtype in (DataType.BFLOAT8_B, DataType.BFLOAT4_B) and tensor.layout != Layout.TILE:
        raise RuntimeError(f"ttnn.to_dtype: {dtype.name} needs TILE layout")
    return Tensor._make(formats.to_device_format(E.host_values(tensor), dtype, tensor.layout), dtype, tensor.layout)


to_dtype = E.make_op("ttnn.to_dtype", "tensor, dtype", _to_dtype_impl)
