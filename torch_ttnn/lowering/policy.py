"""What rules need to know beyond their arguments: the device to create tensors on and the dtype policy.

Both paths pass a `ttnn` namespace to rules. The compiler's recording namespace carries its device and its
float policy as attributes (`TORCH_TTNN_DEVICE`, `TORCH_TTNN_FLOAT_DTYPE`); the real module (eager path) does
not, so the defaults apply there: the runtime's default device, and float32 kept as float32 so that eager
round trips are exact.

Two dtype policies live here, because both paths need both and neither may import the other: `ttnn_dtype`,
what a torch dtype computes in (the rules' and the compiler's choice, bfloat16 floats when compiling), and
`device_dtype`, what the eager `ttnn` torch device stores a torch dtype as. The compiler needs the second
where it meets the device's tensors: a compiled graph takes inputs living on the `ttnn` torch device, and can
leave its outputs there.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import runtime


def device_of(ttnn):
    dev = getattr(ttnn, "TORCH_TTNN_DEVICE", None)
    return dev if dev is not None else runtime.default_device()


def float_dtype(ttnn):
    """The device dtype that holds torch float32 values."""
    return getattr(ttnn, "TORCH_TTNN_FLOAT_DTYPE", None) or ttnn.float32


def is_block_float(dtype) -> bool:
    """bfloat8_b / bfloat4_b: tiles of 16 values sharing an exponent (TILE layout only)."""
    return getattr(dtype, "name", str(dtype)).lower() in ("bfloat8_b", "bfloat4_b")


def ttnn_dtype(ttnn, torch_dtype: torch.dtype):
    """Device dtype for a torch dtype. bool is held as 0/1 in the float dtype: TT-NN's comparisons and
    `where` work on numbers, and there is no boolean device type.

    torch bfloat16/float16 stay bfloat16 (exact) under a float32 or bfloat16 float dtype, but a block-float one
    (TorchTtnnOption(float_dtype="bfloat8_b")) holds them too: it asks for every float tensor in that format,
    and a bfloat16 model (an LLM on the ttnn device) would otherwise keep all its weights and activations in
    bfloat16 while only its few float32 tensors (RoPE tables, masks) dropped to block-float."""
    if torch_dtype in (torch.float32, torch.float64):
        return float_dtype(ttnn)
    if torch_dtype in (torch.bfloat16, torch.float16):
        return float_dtype(ttnn) if is_block_float(float_dtype(ttnn)) else ttnn.bfloat16
    if torch_dtype == torch.bool:
        return float_dtype(ttnn) if float_dtype(ttnn) != ttnn.float32 else ttnn.bfloat16
    if torch_dtype == torch.uint8:
        return ttnn.uint8
    if torch_dtype in (torch.int64, torch.int32, torch.int16, torch.int8):
        return ttnn.int32
    raise TypeError(f"torch dtype {torch_dtype} has no TT-NN device dtype")


def device_dtype(ttnn, dtype: torch.dtype):
    """The TT-NN dtype the eager `ttnn` torch device stores a torch dtype as (what a copy to it holds):

      torch dtype            device dtype   why
      float32                FLOAT32        exact round trip (compute rules typecast to bfloat16 where they want)
      bfloat16               BFLOAT16       exact
      float16, float64       FLOAT32        float16 is exact in float32; float64 loses precision (no f64)
      int32, int16, int8     INT32          exact
      int64                  INT32          exact inside int32 range; outside it the device refuses the copy
      uint8                  UINT8          exact
      bool                   BFLOAT16       0/1, read back as value != 0: the lowering rules' convention (TT-NN
                                            comparisons and `where` work on numbers; there is no boolean dtype)
    """
    table = {torch.float32: ttnn.float32, torch.bfloat16: ttnn.bfloat16, torch.float16: ttnn.float32,
             torch.float64: ttnn.float32, torch.int32: ttnn.int32, torch.int16: ttnn.int32,
             torch.int8: ttnn.int32, torch.int64: ttnn.int32, torch.uint8: ttnn.uint8, torch.bool: ttnn.bfloat16}
    if dtype not in table:
        raise TypeError(f"torch dtype {dtype} cannot live on the ttnn device (TT-NN has no equivalent); "
                        f"convert it on the CPU first, e.g. x.float().to('ttnn')")
    return table[dtype]


def is_float(torch_dtype) -> bool:
    return torch_dtype.is_floating_point


# --- matrix engine configuration --------------------------------------------------------------------------------
FIDELITIES = ("auto", "lofi", "hifi2", "hifi3", "hifi4", "default")
KINDS = ("matmul", "conv", "reduce")   # reduce: sum/mean/var/std and the norms' statistics
_NAMES = {"lofi": "LoFi", "hifi2": "HiFi2", "hifi3": "HiFi3", "hifi4": "HiFi4"}
_UNSET = object()


@dataclass(frozen=True)
class AutoCompute:
    """`math_fidelity="auto"`: the config is decided per call, from the operands' dtypes, as TT-NN's own
    default for that op and those dtypes (`default_fidelity`), with the accumulation the options ask for.
    A marker in the compute-config table; `compute_config` turns it into a real config when a rule asks."""
    fp32_accumulation: bool = True


def default_fidelity(kind: str, dtype_names) -> str:
    """TT-NN's own default fidelity (0.81.1-era tt-metal) for an op family given its operands' dtype names.

    matmul/linear (matmul_device_operation.cpp, create_matmul_attributes): HiFi4 when both inputs are float32;
    LoFi when both are block-float (bfloat8_b/bfloat4_b); HiFi2 otherwise. (It also drops to LoFi when a
    program config or core grid is given; "auto" does not follow that: choosing a program config is a speed
    decision the compiler makes, and must not cost precision behind the user's back. Newer tt-metal picks
    HiFi3 for float32 on Wormhole because of a HiFi4 + fp32-accumulation hardware erratum, #38306.)
    conv2d/conv_transpose2d (get_conv_default_compute_kernel_config): HiFi4 for every dtype. Reductions and
    layer_norm/rms_norm (init_device_compute_kernel_config(..., HiFi4, ...)): HiFi4."""
    if kind in ("conv", "reduce"):
        return "HiFi4"
    names = [str(n).lower() for n in dtype_names]
    if names and all(n == "float32" for n in names):
        return "HiFi4"
    if names and all(n in ("bfloat8_b", "bfloat4_b") for n in names):
        return "LoFi"
    return "HiFi2"


def check_compute_options(fidelity: str, fp32_accumulation: bool, name: str = "math_fidelity") -> None:
    """Raise ValueError for a fidelity/accumulation pair make_compute_configs cannot honour."""
    if fidelity not in FIDELITIES:
        raise ValueError(f"{name} must be one of {FIDELITIES}, got {fidelity!r}")
    if fidelity == "default" and fp32_accumulation:
        raise ValueError(f"{name}='default' passes no compute config, so TT-NN's per-op defaults decide the "
                         f"accumulation (bfloat16 for bfloat16 operands); add fp32_accumulation=False, or choose a "
                         f"fidelity ('auto', 'hifi2') to accumulate in float32")


def make_compute_configs(ttnn, fidelity: str = "auto", fp32_accumulation: bool = True) -> dict:
    """The compute kernel config the compiler gives every matmul/linear ("matmul") and conv ("conv").

    TT-NN's defaults accumulate bfloat16 products in a 16-bit Dst register, rounding each time a 32-wide K
    tile's partial sum is added: on K = 768..4096 that loses 2-3 decimal digits per product (a K = 4096 linear
    has several times the error; tests/compiler/test_backend.py). TT's own model code passes fp32_dest_acc_en
    for that reason, and so do we by default; reductions and norms ("reduce") get the same accumulation, since
    their Dst register rounds the running total after every 32-wide tile in bfloat16 otherwise (a Llama
    RMSNorm's mean of squares drifts enough to move greedy decoding's logits). "auto" keeps TT-NN's own default fidelity for each op and its
    operands' dtypes (`default_fidelity`: HiFi2 for bfloat16 matmuls, HiFi4 for float32 ones and for conv),
    decided per call (an `AutoCompute` marker here, resolved by `compute_config`). A named fidelity applies to
    every op; `fidelity="default"` (with fp32_accumulation=False) passes no config at all: TT-NN's per-op
    defaults (faster on a card, less accurate). On the emulator float32 accumulation is also the fast path:
    one float32 matmul per product instead of one per K tile."""
    check_compute_options(fidelity, fp32_accumulation)
    if fidelity == "default":
        return {k: None for k in KINDS}
    if fidelity == "auto":
        return {k: AutoCompute(fp32_accumulation) for k in KINDS}
    return {k: _config(ttnn, _NAMES[fidelity], fp32_accumulation) for k in KINDS}


def _config(ttnn, fidelity_name: str, fp32_accumulation: bool):
    return ttnn.WormholeComputeKernelConfig(
        math_fidelity=getattr(ttnn.MathFidelity, fidelity_name), math_approx_mode=False,
        fp32_dest_acc_en=fp32_accumulation, packer_l1_acc=fp32_accumulation)


def _dtype_name(ttnn, x) -> str:
    """The dtype name of an operand (a TT-NN tensor or a compiler handle); the float dtype when unknown."""
    dt = getattr(x, "dtype", None)
    if dt is None or callable(dt):
        dt = float_dtype(ttnn)
    return getattr(dt, "name", str(dt)).lower()


def compute_config(ttnn, kind: str = "matmul", *operands):
    """The config a rule passes as compute_kernel_config (matmul, linear) or compute_config (conv): the
    compiler's (an attribute of its recording namespace; None for TT-NN's defaults), else
    make_compute_configs' default (the eager path). `operands` are the op's tensor inputs (activations,
    weights): "auto" picks TT-NN's default fidelity for their dtypes."""
    cfgs = getattr(ttnn, "TORCH_TTNN_COMPUTE_CONFIGS", _UNSET)
    if cfgs is _UNSET or cfgs is None:
        cfgs = make_compute_configs(ttnn)
    cfg = cfgs[kind]
    if isinstance(cfg, AutoCompute):
        names = [_dtype_name(ttnn, x) for x in operands if x is not None and not isinstance(x, (int, float))]
        cfg = _config(ttnn, default_fidelity(kind, names), cfg.fp32_accumulation)
    return cfg


def less_op_types(ttnn) -> bool:
    """TorchTtnnOption(use_less_ttnn_op_types=...): True (0.5's default, and the eager path's) lowers
    squeeze/unsqueeze as ttnn.reshape, so a program uses fewer distinct TT-NN ops; False uses ttnn.squeeze and
    ttnn.unsqueeze."""
    return bool(getattr(ttnn, "TORCH_TTNN_LESS_OP_TYPES", True))
