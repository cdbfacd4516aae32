"""What rules need to know beyond their arguments: the device to create tensors on and the dtype policy.

Both paths pass a `ttnn` namespace to rules. The compiler's recording namespace carries its device and its
float policy as attributes (`TORCH_TTNN_DEVICE`, `TORCH_TTNN_FLOAT_DTYPE`); the real module (eager path) does
not, so the defaults apply there: the runtime's default device, and float32 kept as float32 so that eager
round trips are exact.
"""
from __future__ import annotations

import torch

from .. import runtime


def device_of(ttnn):
    dev = getattr(ttnn, "TORCH_TTNN_DEVICE", None)
    return dev if dev is not None else runtime.default_device()


def float_dtype(ttnn):
    """The device dtype that holds torch float32 values."""
    return getattr(ttnn, "TORCH_TTNN_FLOAT_DTYPE", None) or ttnn.float32


def ttnn_dtype(ttnn, torch_dtype: torch.dtype):
    """Device dtype for a torch dtype. bool is held as 0/1 in the float dtype: TT-NN's comparisons and
    `where` work on numbers, and there is no boolean device type."""
    if torch_dtype in (torch.float32, torch.float64):
        return float_dtype(ttnn)
    if torch_dtype in (torch.bfloat16, torch.float16):
        return ttnn.bfloat16
    if torch_dtype == torch.bool:
        return float_dtype(ttnn) if float_dtype(ttnn) != ttnn.float32 else ttnn.bfloat16
    if torch_dtype == torch.uint8:
        return ttnn.uint8
    if torch_dtype in (torch.int64, torch.int32, torch.int16, torch.int8):
        return ttnn.int32
    raise TypeError(f"torch dtype {torch_dtype} has no TT-NN device dtype")


def is_float(torch_dtype) -> bool:
    return torch_dtype.is_floating_point
