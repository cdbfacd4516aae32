"""Reductions: sum, mean, max, min, std, var, prod, argmax, topk, cumsum, cumprod, moreh_cumsum.

The emulator holds logical values only, so tile padding can never leak into a reduction. Numerics of sum,
mean, var and std, as the device's reduce kernel runs them (our reading of tt-metal's reduce_op compute
kernels, reduce_w/reduce_h: each input tile is reduced on the matrix engine into one Dst register that
accumulates the tiles of the reduced dim in turn, then packed):
- each 32-wide tile of the reduced dim is summed in float32 (scaled by the scaler: `mean`'s 1/N packed into a
  bfloat16 tile for non-float32 inputs, so a mean over 3 values is scaled by bf16(1/3) = 0.333984375);
- the running total is held in the Dst format and rounded there after every tile: bfloat16, unless the
  compute_kernel_config sets fp32_dest_acc_en or the input is float32 (verify the float32 default for 0.81.1);
- several dims are reduced one at a time, last first (as the real op transposes each to H and reduces it).
`tile_sum` is that accumulation; the norms (normalization.py) use it for their statistics. max/min select a
value and round nothing. `dim` is an int, a list of ints, or None (all dims), as the
real ops take it; `scalar` multiplies the result.
"""
from __future__ import annotations

import builtins

import torch

from ..tensor import require_device
from ..types import FLOATS, DataType, Layout
from . import _eltwise as E

_RED_TAIL = ("memory_config=None, compute_kernel_config=None, scalar=1.0, correction={corr}, sub_core_grids=None")
_SUM_P = f"input_tensor, dim=None, keepdim=False, *, {_RED_TAIL.format(corr=None)}, fast_and_approximate_mode=False, " \
         "output_layout=None"
_MAX_P = f"input_tensor, dim=None, keepdim=False, *, {_RED_TAIL.format(corr=None)}, fast_and_approximate_mode=False"
_VAR_P = f"input_tensor, dim=None, keepdim=False, *, {_RED_TAIL.format(corr=True)}"


def normalize_dims(qual, dim, rank):
    """int | sequence | None -> sorted tuple of non-negative dims, with the real ops' range check."""
    if dim is None:
        return tuple(range(rank))
    dims = [dim] if isinstance(dim, int) else list(dim)
    out = []
    for d in dims:
        r = builtins.max(rank, 1)  # this module's `max` is ttnn.max
        if not isinstance(d, int) or not -r <= d < r:
            raise RuntimeError(f"{qual}: dim {d!r} is out of range for a rank-{rank} tensor "
                               f"(valid: {-rank}..{rank - 1})")
        out.append(d % r)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{qual}: dim {dim!r} names a dimension twice")
    return tuple(sorted(out))


TILE = 32


def acc_dtype(input_dtype, compute_kernel_config) -> DataType:
    """The Dst register format a reduction accumulates in: float32 with fp32_dest_acc_en or a float32 input,
    else bfloat16."""
    fp32 = input_dtype == DataType.FLOAT32 or bool(getattr(compute_kernel_config, "fp32_dest_acc_en", False))
    return DataType.FLOAT32 if fp32 else DataType.BFLOAT16


def tile_sum(x: torch.Tensor, dim: int, acc: DataType, scaler: float = 1.0, keepdim: bool = True) -> torch.Tensor:
    """sum(x * scaler) along `dim` as the device accumulates it: a float32 sum per 32-wide tile, the running
    total rounded to `acc` (the Dst format) after each tile is added."""
    x = torch.movedim(x, dim, -1) * scaler
    n = x.shape[-1]
    pad = -n % TILE
    if pad:
        x = torch.nn.functional.pad(x, (0, pad))
    parts = x.reshape(*x.shape[:-1], -1, TILE).sum(-1)
    if acc == DataType.FLOAT32 or parts.shape[-1] <= 1:
        total = parts.sum(-1)
        total = total if acc == DataType.FLOAT32 else E.round_to(total, acc)
    else:  # a sequential scan over the tiles, vectorised over everything else, in reused buffers
        parts = torch.movedim(parts, -1, 0).contiguous()
        held = parts[0].to(torch.bfloat16)           # the Dst register, 16-bit
        wide = torch.empty_like(parts[0])
        for part in parts[1:]:
            wide.copy_(held)
            wide += part                             # float32 add, rounded nearest-even on the copy back
            held.copy_(wide)
        total = held.float()
    total = total.unsqueeze(-1)
    total = torch.movedim(total, -1, dim)
    return total if keepdim else total.squeeze(dim)


def _tile_sum_dims(x, dims, keepdim, acc, scaler=1.0):
    """Several dims reduced one at a time, last first; the scaler applied once, on the first."""
    out = x
    for i, d in enumerate(sorted(dims, reverse=True)):
        out = tile_sum(out, d, acc, scaler if i == 0 else 1.0, keepdim=True)
    if not keepdim:
        for d in sorted(dims, reverse=True):
            out = out.squeeze(d)
    return out


def _make_reduce(name, params, compute, *, sfpu_cycles=0.0):
    qual = f"ttnn.{name}"

    def impl(input_tensor, dim=None, keepdim=False, memory_config=None, compute_kernel_config=None, scalar=1.0,
             correction=None, sub_core_grids=None, fast_and_approximate_mode=False, output_layout=None):
        dev = require_device(qual, input_tensor)
        E.check_dtype(qual, input_tensor.dtype, FLOATS + (DataType.INT32, DataType.UINT32))
        x = E.host_values(input_tensor)
        dims = normalize_dims(qual, dim, x.dim())
        acc = acc_dtype(input_tensor.dtype, compute_kernel_config) if input_tensor.dtype in FLOATS else None
        if x.dim() == 0:
            out = compute(x, dims, True, input_tensor.dtype, correction, acc)
        else:
            out = compute(x, dims, keepdim, input_tensor.dtype, correction, acc)
        if scalar != 1.0:
            out = out * float(scalar)
        layout = output_layout or input_tensor.layout
        return E.finish(qual, out, input_tensor.dtype, layout, dev, memory_config or input_tensor.memory_config(),
                        (input_tensor,), flops=float(x.numel()), sfpu_cycles=sfpu_cycles,
                        sfpu_ops=float(x.numel()))

    def golden(x, dim=None, keepdim=False, **kw):
        x = x.float()
        dims = normalize_dims(qual, dim, x.dim())
        return compute(x, dims, keepdim, DataType.FLOAT32, kw.get("correction", True), None)

    impl.__doc__ = f"{name} over `dim` (int, list or None for all), keepdim as in torch."
    return E.make_op(qual, params, impl, golden)


def _sum(x, dims, keepdim, dtype, corr, acc=None, scaler=1.0):
    """acc None: exact (golden functions, integer inputs); else the device's per-tile accumulation."""
    if not dims:
        return x.clone() * scaler
    if acc is None:
        return x.sum(dim=dims, keepdim=keepdim) * scaler
    return _tile_sum_dims(x, dims, keepdim, acc, scaler)


def _count(x, dims):
    n = 1
    for d in dims:
        n *= x.shape[d]
    return builtins.max(n, 1)


def _scaler(n, dtype):
    """1/n as the reduce kernel's scaler tile holds it: bfloat16 unless the input is float32."""
    s = torch.tensor(1.0 / n)
    return float(s if dtype == DataType.FLOAT32 else E.round_to(s, DataType.BFLOAT16))


def _mean(x, dims, keepdim, dtype, corr, acc=None):
    return _sum(x, dims, keepdim, dtype, corr, acc, _scaler(_count(x, dims), dtype))


def _amax(x, dims, keepdim, dtype, corr, acc=None):
    return x.amax(dim=dims, keepdim=keepdim) if dims else x.clone()


def _amin(x, dims, keepdim, dtype, corr, acc=None):
    return x.amin(dim=dims, keepdim=keepdim) if dims else x.clone()


def _var(x, dims, keepdim, dtype, corr, acc=None):
    if acc is None or not dims:
        return torch.var(x, dim=dims, keepdim=keepdim, correction=1 if corr in (None, True) else 0)
    n = _count(x, dims)
    dof = builtins.max(n - (1 if corr in (None, True) else 0), 1)
    mu = E.round_to(_sum(x, dims, True, dtype, corr, acc, _scaler(n, dtype)), acc)
    dev = E.round_to(E.round_to(x - mu, acc).square(), acc)
    return _sum(dev, dims, keepdim, dtype, corr, acc, _scaler(dof, dtype))


def _std(x, dims, keepdim, dtype, corr, acc=None):
    return torch.sqrt(_var(x, dims, keepdim, dtype, corr, acc))


sum = _make_reduce("sum", _SUM_P, _sum)
mean = _make_reduce("mean", _SUM_P, _mean)
max = _make_reduce("max", _MAX_P, _amax)
min = _make_reduce("min", _MAX_P, _amin)
var = _make_reduce("var", _VAR_P, _var, sfpu_cycles=2)
std = _make_reduce("std", _VAR_P, _std, sfpu_cycles=4)


def _prod_impl(input_tensor, dim=None, keepdim=False, memory_config=None):
    """Product over one dim, or over everything when dim is None."""
    dev = require_device("ttnn.prod", input_tensor)
    x = E.host_values(input_tensor)
    if dim is None:
        out = x.prod().reshape([1] * x.dim() if keepdim else [])
    else:
        (d,) = normalize_dims("ttnn.prod", dim, x.dim())
        out = x.prod(dim=d, keepdim=keepdim)
    return E.finish("ttnn.prod", out, input_tensor.dtype, input_tensor.layout, dev,
                    memory_config or input_tensor.memory_config(), (input_tensor,), flops=float(x.numel()))


prod = E.make_op("ttnn.prod", "input_tensor, dim=None, keepdim=False, *, memory_config=None", _prod_impl,
                 lambda x, dim=None, keepdim=False, **k: x.prod() if dim is None else x.prod(dim, keepdim))


def _argmax_impl(input_tensor, dim=None, keepdim=False, sub_core_grids=None, memory_config=None, output_tensor=None,
                 enable_secondary_dm=None):
    """Index of the largest value (first one on ties) along dim, or over the flattened tensor; UINT32 output."""
    dev = require_device("ttnn.argmax", input_tensor)
    x = E.host_values(input_tensor)
    if dim is None:
        out = x.reshape(-1).argmax()
        out = out.reshape([1] * x.dim()) if keepdim else out
    else:
        (d,) = normalize_dims("ttnn.argmax", dim, x.dim())
        out = x.argmax(dim=d, keepdim=keepdim)
    return E.finish("ttnn.argmax", out, DataType.UINT32, Layout.ROW_MAJOR, dev,
                    memory_config or input_tensor.memory_config(), (input_tensor,), output_tensor=output_tensor,
                    sfpu_cycles=2, sfpu_ops=float(x.numel()))


argmax = E.make_op("ttnn.argmax", "input_tensor, dim=None, keepdim=False, *, sub_core_grids=None, memory_config=None, "
                   "output_tensor=None, enable_secondary_dm=None", _argmax_impl,
                   lambda x, dim=None, keepdim=False, **k: torch.argmax(x, dim=dim, keepdim=keepdim))


def _topk_impl(input_tensor, k=32, dim=-1, largest=True, sorted=True, memory_config=None, sub_core_grids=None,
               indices_tensor=None, output_tensor=None, stable=False):
    """The k largest (or smallest) values along dim and their indices (UINT16, as the device returns them)."""
    dev = require_device("ttnn.topk", input_tensor)
    x = E.host_values(input_tensor)
    (d,) = normalize_dims("ttnn.topk", dim, x.dim())
    if not 1 <= k <= x.shape[d]:
        raise RuntimeError(f"ttnn.topk: k={k} must be between 1 and the size of dim {dim} ({x.shape[d]})")
    if x.shape[d] > 65536:
        raise RuntimeError(f"ttnn.topk: dim {dim} has {x.shape[d]} entries, more than UINT16 indices can address")
    vals, idx = torch.topk(x, k, dim=d, largest=largest, sorted=True)
    values = E.finish("ttnn.topk", vals, input_tensor.dtype, input_tensor.layout, dev,
                      memory_config or input_tensor.memory_config(), (input_tensor,), sfpu_cycles=4,
                      sfpu_ops=float(x.numel()) * 4)
    indices = E.finish("ttnn.topk", idx, DataType.UINT16, input_tensor.layout, dev,
                       memory_config or input_tensor.memory_config(), (), sfpu_cycles=0)
    dev.op_records.pop()  # one op, one record: the second finish only allocated the indices
    return [values, indices]


topk = E.make_op("ttnn.topk", "input_tensor, k=32, dim=-1, largest=True, sorted=True, *, memory_config=None, "
                 "sub_core_grids=None, indices_tensor=None, output_tensor=None, stable=False", _topk_impl,
                 lambda x, k=32, dim=-1, largest=True, sorted=True, **kw: torch.topk(x, k, dim, largest, sorted))


def _scan(name, torch_fn):
    qual = f"ttnn.{name}"

    def impl(input, dim, dtype=None, reverse_order=False, out=None, memory_config=None, disable_compensated_sum=False):
        """Running sum/product along dim (reverse_order scans from the end); dtype= sets the output dtype."""
        dev = require_device(qual, input)
        E.check_dtype_arg(qual, dtype)
        x = E.host_values(input)
        if x.dim() == 0:
            raise RuntimeError(f"{qual}: input must have rank >= 1")
        (d,) = normalize_dims(qual, dim, x.dim())
        res = torch_fn(x.flip(d), dim=d).flip(d) if reverse_order else torch_fn(x, dim=d)
        return E.finish(qual, res, dtype or input.dtype, input.layout, dev, memory_config or input.memory_config(),
                        (input,), output_tensor=out, flops=float(x.numel()))

    return impl


_cumsum_impl = _scan("cumsum", torch.cumsum)
cumsum = E.make_op("ttnn.cumsum", "input, dim, *, dtype=None, reverse_order=False, out=None, memory_config=None, "
                   "disable_compensated_sum=False", _cumsum_impl,
                   lambda x, dim, **k: torch.cumsum(x.float(), dim))
_cumprod_impl = _scan("cumprod", torch.cumprod)
cumprod = E.make_op("ttnn.cumprod", "input_tensor, dim, *, dtype=None, reverse_order=False, out=None, "
                    "memory_config=None", lambda input_tensor, dim, **kw: _cumprod_impl(input_tensor, dim, **kw),
                    lambda x, dim, **k: torch.cumprod(x.float(), dim),
                    doc="Running product along dim (reverse_order scans from the end).")
moreh_cumsum = E.make_op("ttnn.moreh_cumsum", "input, dim, *, output=None, memory_config=None",
                         lambda input, dim, output=None, memory_config=None:
                         _cumsum_impl(input, dim, out=output, memory_config=memory_config),
                         lambda x, dim, **k: torch.cumsum(x.float(), dim), doc="Running sum along dim.")

__all__ = ["sum", "mean", "max", "min", "std", "var", "prod", "argmax", "topk", "cumsum", "cumprod", "moreh_cumsum"]
