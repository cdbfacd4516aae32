"""Miscellaneous TT-NN operations (emulated) the original torch-ttnn emitted: the moreh reductions.

moreh_sum / moreh_mean / moreh_cumsum reduce in float32 and round to the input dtype. Their kernels use HiFi4
and (for sums) fp32 accumulation by default, so float32 on the host is the faithful choice.
"""
from __future__ import annotations

import torch

from ..operation import operation
from ..tensor import require_device
from .data_movement import _check, _dim, _finish

__all__ = ["moreh_sum", "moreh_mean", "moreh_cumsum"]


def _dims(dim, rank, op):
    if dim is None:
        return list(range(rank))
    return sorted({_dim(d, rank, op) for d in ([dim] if isinstance(dim, int) else dim)})


@operation("ttnn.moreh_sum", golden_function=lambda t, dim=None, *, keepdim=False, **_:
           t.sum(dim=dim, keepdim=keepdim) if dim is not None else t.sum())
def moreh_sum(input, dim=None, *, keepdim=False, output=None, memory_config=None, compute_kernel_config=None):
    op = "ttnn.moreh_sum"
    dev = require_device(op, input)
    dims = _dims(dim, len(input.shape), op)
    y = input.value.float().sum(dim=dims, keepdim=keepdim)
    return _finish(op, dev, y, input, memory_config=memory_config, flops=float(input.value.numel()))


@operation("ttnn.moreh_mean", golden_function=lambda t, *, dim=None, keepdim=False, **_:
           t.float().mean(dim=dim, keepdim=keepdim) if dim is not None else t.float().mean())
def moreh_mean(input, *, dim=None, keepdim=False, divisor=None, output=None, memory_config=None,
               compute_kernel_config=None):
    """Mean over `dim`; `divisor` replaces the element count when given."""
    op = "ttnn.moreh_mean"
    dev = require_device(op, input)
    dims = _dims(dim, len(input.shape), op)
    v = input.value.float()
    count = 1
    for d in dims:
        count *= v.shape[d]
    _check(divisor is None or divisor != 0, op, "divisor must be nonzero")
    y = v.sum(dim=dims, keepdim=keepdim) / (divisor if divisor is not None else count)
    return _finish(op, dev, y, input, memory_config=memory_config, flops=float(v.numel()))


@operation("ttnn.moreh_cumsum", golden_function=lambda t, dim, **_: torch.cumsum(t, dim))
def moreh_cumsum(input, dim, *, output=None, memory_config=None):
    op = "ttnn.moreh_cumsum"
    dev = require_device(op, input)
    d = _dim(dim, len(input.shape), op)
    return _finish(op, dev, torch.cumsum(input.value.float(), d), input, memory_config=memory_config,
                   flops=float(input.value.numel()))
