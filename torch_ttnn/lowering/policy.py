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


# --- matrix engine configuration --------------------------------------------------------------------------------
FIDELITIES = ("lofi", "hifi2", "hifi3", "hifi4", "default")
_UNSET = object()


def make_matmul_config(ttnn, fidelity: str = "hifi2", fp32_accumulation: bool = True):
    """The compute kernel config the compiler gives every matmul, linear and conv.

    TT-NN's own defaults accumulate bfloat16 products in a 16-bit Dst register, rounding each time a 32-wide
    K tile's partial sum is added: on K = 768..4096 that costs 2-3 decimal digits, and through 12-24 layers
    it takes a model's PCC below 0.99 (full-size ResNet-50 and Mamba in the zoo). TT's own model code passes
    HiFi2 with fp32_dest_acc_en for that reason, and so do we by default: products of bf16 operands with the
    activations' last mantissa bit dropped (HiFi2), summed in float32. `fidelity="default"` (with
    fp32_accumulation=False) passes no config: TT-NN's per-op defaults (faster on a card, less accurate)."""
    if fidelity not in FIDELITIES:
        raise ValueError(f"matmul fidelity must be one of {FIDELITIES}, got {fidelity!r}")
    if fidelity == "default":
        if fp32_accumulation:
            raise ValueError("matmul fidelity 'default' passes no config, so TT-NN's per-op defaults decide the "
                             "accumulation (bfloat16 for bfloat16 operands); set fp32_accumulation=False with it, "
                             "or choose a fidelity ('hifi2') to accumulate in float32")
        return None
    names = {"lofi": "LoFi", "hifi2": "HiFi2", "hifi3": "HiFi3", "hifi4": "HiFi4"}
    return ttnn.WormholeComputeKernelConfig(math_fidelity=getattr(ttnn.MathFidelity, names[fidelity]),
                                            math_approx_mode=False, fp32_dest_acc_en=fp32_accumulation,
                                            packer_l1_acc=fp32_accumulation)


def matmul_config(ttnn):
    """The config a rule passes as compute_kernel_config / compute_config: the compiler's (an attribute of its
    recording namespace, None for TT-NN's defaults), else make_matmul_config's default (the eager path)."""
    cfg = getattr(ttnn, "TORCH_TTNN_MATMUL_CONFIG", _UNSET)
    if cfg is _UNSET:
        cfg = make_matmul_config(ttnn)
    return cfg
