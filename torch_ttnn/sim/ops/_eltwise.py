"""What every compute op shares: building an Operation with the real signature, input checks, the device's
operand formats (TF32 truncation, mantissa splitting for matmul fidelity phases, denormal flush), and the
round-allocate-record ending.

Ops compute in float32 on the host from the stored values (which already hold what the device format holds),
then round once to the output dtype, so most device numerics come for free; the places where the device
differs from "exact then round" (FPU operand truncation, matmul fidelity, bf16 accumulation, bf16 scalars and
intermediates) are modelled explicitly where the op is defined.
"""
from __future__ import annotations

import enum
import inspect

import torch

from .. import formats
from ..operation import Operation, record
from ..tensor import Tensor, nbytes, new_device_tensor, operands, require_device
from ..types import INTEGERS, DataType, Layout, MathFidelity, _Enum


# --- enums and activation descriptors of the real package ---------------------------------------------------
class GeluVariant(_Enum):
    Accurate = 0
    FastLut = 1
    Tanh = 2


class SigmoidMode(_Enum):
    FastApproximate = 0
    AccurateWithFastExp = 1
    Accurate = 2


# The op types of ttnn 0.81.1, numbered in declaration order (values read from the package).
UnaryOpType = _Enum("UnaryOpType", {n: i for i, n in enumerate("""
    EXP RECIP GELU GELU_TANH RELU SQRT SIGMOID LOG LOG1P TANH LOG2 LOG10
    SIN COS COSH SINH ABS ABS_INT32 SIGN SQUARE EQZ NEZ GTZ LTZ
    GEZ LEZ RELU_MAX RELU_MIN POWER POWER_ITERATIVE LEAKY_RELU ELU EXP2 HEAVISIDE EXPM1 SIGNBIT
    ASIN ACOS ACOSH RSQRT RELU6 ATAN ASINH ATANH ERF ERFC ISINF ISPOSINF
    ISNEGINF ISNAN LOGICAL_NOT_UNARY ISFINITE ERFINV I0 I1 TAN RSUB RDIV SILU SOFTPLUS
    IDENTITY NEG ADD_UNARY_SFPU SUB_UNARY_SFPU MUL_UNARY_SFPU DIV_UNARY_SFPU UNARY_NE UNARY_EQ UNARY_GT UNARY_LT UNARY_GE UNARY_LE
    TILED_PROD TYPECAST BITCAST BITWISE_XOR BITWISE_NOT BITWISE_AND BITWISE_OR RIGHT_SHIFT FLOOR CEIL TRUNC FRAC
    ROUND LEFT_SHIFT REMAINDER FMOD DROPOUT FILL PRELU_SFPU ZERO_POINT ALT_COMPLEX_ROTATE90 MISH HARDMISH MAXIMUM
    MINIMUM TANHSHRINK THRESHOLD SOFTSHRINK HARDSHRINK HARDTANH HARDSIGMOID HARDSWISH WHERE_TSS MAC_TSS SOFTSIGN CELU
    CLAMP_TSS SELU RPOW CBRT LOGSIGMOID LOGIT XIELU LGAMMA DIGAMMA POLYGAMMA SOFTCAP
""".split())})


class UnaryWithParam:
    """A fused activation: an op type and its float parameters (e.g. LEAKY_RELU with the slope)."""

    def __init__(self, op_type, *params):
        if isinstance(op_type, tuple):
            op_type, params = op_type[0], op_type[1:]
        if not isinstance(op_type, UnaryOpType):
            raise TypeError(f"UnaryWithParam needs a ttnn.UnaryOpType, got {op_type!r}")
        self.op_type = op_type
        self.params = [float(p) for p in params]

    def __repr__(self):
        return f"UnaryWithParam(op_type=UnaryOpType::{self.op_type.name}, params={self.params})"

    def __eq__(self, other):
        return isinstance(other, UnaryWithParam) and (self.op_type, self.params) == (other.op_type, other.params)


# --- Operation factory ---------------------------------------------------------------------------------------
def make_op(qualname: str, params: str, impl, golden=None, env: dict | None = None, doc: str | None = None):
    """An Operation whose function has exactly the parameter list `params` (real names, order, keyword-only
    split and defaults) and forwards every argument by name to `impl`. A generated lambda, not a *args
    wrapper, so Python binds arguments natively (fast, with the usual TypeErrors) and inspect shows the truth."""
    ns = dict(env or {})
    ns.update(GeluVariant=GeluVariant, SigmoidMode=SigmoidMode)
    names = list(inspect.signature(eval(f"lambda {params}: None", ns)).parameters)
    ns["_impl"] = impl
    fn = eval(f"lambda {params}: _impl({', '.join(f'{n}={n}' for n in names)})", ns)
    fn.__name__ = fn.__qualname__ = qualname.rsplit(".", 1)[-1]
    fn.__doc__ = doc or impl.__doc__
    fn.__module__ = impl.__module__
    return Operation(fn, qualname, golden)


# --- inputs ----------------------------------------------------------------------------------------------------
def host_values(t: Tensor) -> torch.Tensor:
    """The stored values as float32 (float64 for integer dtypes, exact for every int32/uint32 value)."""
    v = t.value
    if t.dtype in INTEGERS:
        return v.to(torch.float64)
    return v if v.dtype == torch.float32 else v.to(torch.float32)


def check_layout(opname: str, t: Tensor, layouts=(Layout.TILE, Layout.ROW_MAJOR)):
    if t.layout not in layouts:
        want = " or ".join(l.name for l in layouts)
        raise RuntimeError(f"{opname}: input must be in {want} layout, got {t.layout.name}; "
                           f"convert with ttnn.to_layout(tensor, ttnn.{layouts[0].name}_LAYOUT)")


def check_dtype(opname: str, dtype, allowed, what="input"):
    if dtype not in allowed:
        names = ", ".join(d.name for d in allowed)
        raise RuntimeError(f"{opname}: {what} dtype {dtype.name} is not supported (supported: {names}); "
                           f"typecast with ttnn.typecast first")


def check_dtype_arg(opname: str, dtype):
    if dtype is not None and not isinstance(dtype, DataType):
        raise TypeError(f"{opname}: dtype must be a ttnn.DataType such as ttnn.bfloat16, got {dtype!r}")


# --- device operand formats ------------------------------------------------------------------------------------
def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.int32)


def truncate_mantissa(x: torch.Tensor, keep: int) -> torch.Tensor:
    """Keep the top `keep` explicit mantissa bits of float32 values, dropping (not rounding) the rest."""
    if keep >= 23:
        return x
    mask = ~((1 << (23 - keep)) - 1)
    return (_bits(x.to(torch.float32)) & mask).view(torch.float32)


def tf32(x: torch.Tensor) -> torch.Tensor:
    """Float32 read into a 19-bit FPU source register: the low 13 mantissa bits are dropped."""
    return truncate_mantissa(x, 10)


def fpu_read(values: torch.Tensor, dtype: DataType, known_clean: bool = False) -> tuple[torch.Tensor, bool]:
    """(what the matrix engine sees of stored `values` of `dtype`, whether the denormal flush changed nothing):
    TF32 for float32 data, denormals flushed unless `known_clean`. bfloat16 and block-float values already fit
    the source registers exactly. The result may alias `values`: callers must not modify it in place."""
    x = values if values.dtype == torch.float32 else values.to(torch.float32)
    if dtype == DataType.FLOAT32:
        x = tf32(x)
    return (x, True) if known_clean else formats.flush_denormals_checked(x)


def fpu_operand(t_values: torch.Tensor, dtype: DataType) -> torch.Tensor:
    return fpu_read(t_values, dtype)[0]


def fpu_clean(t: Tensor) -> bool:
    """Whether t's stored values (this object, this version) are known to hold no denormal or -0."""
    c, v = t._fpu_clean, t._values
    return c is not None and c[0] is v and c[1] == v._version


def mark_fpu_clean(t: Tensor) -> None:
    t._fpu_clean = (t._values, t._values._version)


def fpu_operand_of(t: Tensor) -> torch.Tensor:
    """fpu_operand of a tensor, remembering (per values object and version) that the denormal flush changes
    nothing, so a weight read by every call skips the flush after its first use."""
    known = fpu_clean(t)
    x, clean = fpu_read(t.value, t.dtype, known)
    if clean and not known:
        mark_fpu_clean(t)
    return x


def round_to(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Round float32 intermediate values as an on-chip buffer of `dtype` holds them (bf16 or fp32)."""
    if dtype == DataType.FLOAT32:
        return x
    return formats.round_bfloat16(x).to(torch.float32)


# --- output ----------------------------------------------------------------------------------------------------
def finish(opname: str, values: torch.Tensor, dtype: DataType, layout: Layout, device, memory_config,
           inputs, *, output_tensor: Tensor | None = None, flops: float = 0.0, matmul=None,
           sfpu_cycles: float = 0.0, sfpu_ops: float | None = None) -> Tensor:
    """Round to the output dtype, allocate (or fill `output_tensor`), record the cost, return the result.

    Cost basis: bytes = every tensor input read once + the output written once (whole tiles/pages, as
    nbytes counts them); SFPU work = one pass over the output's padded volume at `sfpu_cycles` per value."""
    if dtype in (DataType.BFLOAT8_B, DataType.BFLOAT4_B) and layout != Layout.TILE:
        raise RuntimeError(f"{opname}: output dtype {dtype.name} needs TILE layout; pass dtype=ttnn.bfloat16 "
                           f"or convert the input with ttnn.to_layout(tensor, ttnn.TILE_LAYOUT)")
    if output_tensor is not None:
        require_device(opname, output_tensor)
        if tuple(output_tensor.shape) != tuple(values.shape):
            raise RuntimeError(f"{opname}: output_tensor has shape {list(output_tensor.shape)} but the result "
                               f"has shape {list(values.shape)}")
        output_tensor._values = formats.to_device_format(values, output_tensor.dtype, output_tensor.layout)
        out = output_tensor
    else:
        out = new_device_tensor(values, dtype, layout, device, memory_config)
    ops = out.volume() if sfpu_ops is None else sfpu_ops
    record(device, opname, operands=operands(*inputs, out), flops=flops, matmul=matmul,
           sfpu_ops=ops if sfpu_cycles else 0.0, sfpu_cycles=sfpu_cycles or 1.0)
    return out
