"""Element-wise rules: unary math, activations, binary arithmetic and comparisons, where.

Guards: float tensors only (TT-NN's eltwise kernels are float kernels; integer tensors stay on CPU unless an
op says otherwise), ranks 1-8. Python numbers are passed as scalar operands, as TT-NN's binary ops take them.
Booleans live on the device as 1.0/0.0 in the float dtype (see lowering.policy), so comparisons and logical
ops return numbers, which is what TT-NN's own comparison ops return.
"""
from __future__ import annotations

import torch

from ..registry import lowering
from ._util import aten, float_or_num, is_float, is_t, named, tile


def _float1(x, *a, **k):
    """A float tensor of any rank: a 0-d one is shape [1] on the device (see the registry conventions)."""
    return is_float(x)


# aten op -> ttnn function of one float tensor.
UNARY = {
    aten.abs.default: "abs", aten.neg.default: "neg", aten.exp.default: "exp", aten.expm1.default: "expm1",
    aten.log.default: "log", aten.log1p.default: "log1p", aten.log2.default: "log2", aten.log10.default: "log10",
    aten.sqrt.default: "sqrt", aten.rsqrt.default: "rsqrt", aten.reciprocal.default: "reciprocal",
    aten.sin.default: "sin", aten.cos.default: "cos", aten.tan.default: "tan", aten.asin.default: "asin",
    aten.acos.default: "acos", aten.atan.default: "atan", aten.sinh.default: "sinh", aten.cosh.default: "cosh",
    aten.tanh.default: "tanh", aten.asinh.default: "asinh", aten.acosh.default: "acosh",
    aten.atanh.default: "atanh", aten.sigmoid.default: "sigmoid", aten.relu.default: "relu",
    aten.silu.default: "silu", aten.erf.default: "erf", aten.erfc.default: "erfc", aten.sign.default: "sign",
    aten.floor.default: "floor", aten.ceil.default: "ceil", aten.trunc.default: "trunc",
    aten.round.default: "round", aten.isnan.default: "isnan", aten.isinf.default: "isinf",
    aten.isfinite.default: "isfinite", aten.logical_not.default: "logical_not", aten.square.default: "square",
    aten.hardsigmoid.default: "hardsigmoid", aten.relu6.default: "relu6", aten.frac.default: "frac",
}


def _unary_rule(name):
    return named(lambda ttnn, x: getattr(ttnn, name)(tile(ttnn, x)), f"unary_{name}")


for _op, _name in UNARY.items():
    lowering(_op, when=_float1)(_unary_rule(_name))


@lowering(aten.bitwise_not.default, when=lambda x: is_t(x) and x.dtype == __import__("torch").bool)
def bool_not(ttnn, x):
    return ttnn.logical_not(tile(ttnn, x))


@lowering(aten.gelu.default, when=lambda x, approximate="none": _float1(x) and approximate in ("none", "tanh"))
def gelu(ttnn, x, approximate="none"):
    """torch's tanh GELU is ttnn.gelu(variant=GeluVariant.Tanh) (the tanh formula in float32), not
    fast_and_approximate_mode=True, which in ttnn 0.81.1 selects the FastLut kernel (a 6-segment
    piecewise-linear fit, ~0.02 absolute error)."""
    if approximate == "tanh":
        return ttnn.gelu(tile(ttnn, x), variant=ttnn.GeluVariant.Tanh)
    return ttnn.gelu(tile(ttnn, x))


@lowering(aten.leaky_relu.default, when=_float1)
def leaky_relu(ttnn, x, negative_slope=0.01):
    return ttnn.leaky_relu(tile(ttnn, x), negative_slope)


@lowering(aten.hardtanh.default, when=_float1)
def hardtanh(ttnn, x, min_val=-1.0, max_val=1.0):
    return ttnn.hardtanh(tile(ttnn, x), min_val=min_val, max_val=max_val)


@lowering(aten.elu.default, when=lambda x, alpha=1.0, scale=1.0, input_scale=1.0: _float1(x) and scale == 1
          and input_scale == 1)
def elu(ttnn, x, alpha=1.0, scale=1.0, input_scale=1.0):
    return ttnn.elu(tile(ttnn, x), alpha=alpha)


@lowering(aten.clamp.default, when=lambda x, min=None, max=None: _float1(x) and (min is not None or max is not None)
          and not is_t(min) and not is_t(max))
def clamp(ttnn, x, min=None, max=None):
    return ttnn.clamp(tile(ttnn, x), min, max)


@lowering(aten.clamp_min.default, when=lambda x, m: _float1(x) and not is_t(m))
def clamp_min(ttnn, x, m):
    return ttnn.clamp(tile(ttnn, x), m, None)


@lowering(aten.clamp_max.default, when=lambda x, m: _float1(x) and not is_t(m))
def clamp_max(ttnn, x, m):
    return ttnn.clamp(tile(ttnn, x), None, m)


@lowering(aten.pow.Tensor_Scalar, when=lambda x, e: _float1(x) and isinstance(e, (int, float)))
def pow_scalar(ttnn, x, e):
    x = tile(ttnn, x)
    if e == 2:
        return ttnn.square(x)
    if e == 1:
        return x
    if e == 0.5:
        return ttnn.sqrt(x)
    return ttnn.pow(x, e)


@lowering(aten.pow.Tensor_Tensor, when=lambda x, e: _float1(x) and _float1(e))
def pow_tensor(ttnn, x, e):
    return ttnn.pow(tile(ttnn, x), tile(ttnn, e))


# --- binary -----------------------------------------------------------------------------------------------
def _binary_guard(a, b, *rest, **kw):
    """Two operands, at least one a float tensor of rank >= 1, the other a float tensor or a number."""
    tensors = [x for x in (a, b) if is_t(x)]
    return (tensors and all(is_float(x) for x in tensors) and float_or_num(a) and float_or_num(b)
            and kw.get("alpha", 1) is not None)


def _binary(name, swap=False):
    def rule(ttnn, a, b, alpha=1):
        a, b = tile(ttnn, a), tile(ttnn, b)
        if alpha != 1:
            b = ttnn.multiply(b, alpha) if not isinstance(b, (int, float)) else b * alpha
        if isinstance(a, (int, float)) and not isinstance(b, (int, float)):
            if name in ("add", "multiply"):
                a, b = b, a
            elif name == "subtract":
                return ttnn.rsub(b, a)
            elif name == "divide":
                return ttnn.multiply(ttnn.reciprocal(b), a)
            else:
                a = ttnn.full_like(b, a)
        return getattr(ttnn, name)(a, b)
    return named(rule, f"binary_{name}")


for _ops, _name in (((aten.add.Tensor, aten.add.Scalar), "add"), ((aten.sub.Tensor, aten.sub.Scalar), "subtract"),
                    ((aten.mul.Tensor, aten.mul.Scalar), "multiply"), ((aten.div.Tensor, aten.div.Scalar), "divide"),
                    ((aten.maximum.default,), "maximum"), ((aten.minimum.default,), "minimum"),
                    ((aten.atan2.default,), "atan2"), ((aten.remainder.Tensor, aten.remainder.Scalar), "remainder"),
                    ((aten.fmod.Tensor, aten.fmod.Scalar), "fmod")):
    lowering(*_ops, when=_binary_guard)(_binary(_name))


def _int_guard(a, b, alpha=1):
    """Integer add/subtract (positions, cache indices): int32 on the device, int operands only."""
    import torch
    ints = (torch.int32, torch.int64)
    ok = [(is_t(x) and x.dtype in ints) or (isinstance(x, (int, torch.SymInt)) and not isinstance(x, bool))
          for x in (a, b)]  # a SymInt: a length in a graph traced with dynamic shapes (a KV cache's)
    return all(ok) and is_t(a) and isinstance(alpha, int)


def _int_binary(name):
    def rule(ttnn, a, b, alpha=1):
        a = tile(ttnn, a)
        if isinstance(b, (int, torch.SymInt)):  # a number, or a SymInt the executor evaluates per call
            b = b * alpha if alpha != 1 else b
            return a if isinstance(b, int) and b == 0 else getattr(ttnn, name)(a, b)
        b = tile(ttnn, b)
        if alpha != 1:
            b = ttnn.multiply(b, alpha)
        return getattr(ttnn, name)(a, b)
    return named(rule, f"int_{name}")


lowering(aten.add.Tensor, aten.add.Scalar, when=_int_guard)(_int_binary("add"))
lowering(aten.sub.Tensor, aten.sub.Scalar, when=_int_guard)(_int_binary("subtract"))


@lowering(aten.rsub.Scalar, aten.rsub.Tensor, when=_binary_guard)
def rsub(ttnn, a, b, alpha=1):
    a = tile(ttnn, a)
    if alpha != 1:
        a = ttnn.multiply(a, alpha)
    if isinstance(b, (int, float)):
        return ttnn.rsub(a, b)
    return ttnn.subtract(tile(ttnn, b), a)


_CMP = {"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}
_MIRROR = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _cmp(name):
    def rule(ttnn, a, b):
        a, b = tile(ttnn, a), tile(ttnn, b)
        if isinstance(a, (int, float)):
            return getattr(ttnn, _MIRROR[name])(b, a)
        return getattr(ttnn, name)(a, b)
    return named(rule, f"compare_{name}")


for _name in _CMP:
    lowering(getattr(aten, _name).Tensor, getattr(aten, _name).Scalar, when=_binary_guard)(_cmp(_name))


def _bool_or_float(x):
    import torch
    return is_t(x) and x.dim() >= 1 and (x.dtype == torch.bool or is_float(x))


for _name in ("logical_and", "logical_or", "logical_xor"):
    lowering(getattr(aten, _name).default, when=lambda a, b: _bool_or_float(a) and _bool_or_float(b))(
        named(lambda ttnn, a, b, _n=_name: getattr(ttnn, _n)(tile(ttnn, a), tile(ttnn, b)), _name))


@lowering(aten.where.self, when=lambda c, a, b: _bool_or_float(c) and float_or_num(a) and float_or_num(b)
          and (is_t(a) or is_t(b)))
def where(ttnn, c, a, b):
    return ttnn.where(tile(ttnn, c), tile(ttnn, a), tile(ttnn, b))


@lowering(aten.masked_fill.Scalar, when=lambda x, m, v: _float1(x) and _bool_or_float(m)
          and isinstance(v, (int, float)))
def masked_fill(ttnn, x, m, v):
    return ttnn.where(tile(ttnn, m), float(v), tile(ttnn, x))


@lowering(aten.masked_fill.Tensor, when=lambda x, m, v: _float1(x) and _bool_or_float(m) and is_float(v)
          and v.dim() == 0)
def masked_fill_t(ttnn, x, m, v):
    # v is a 0-d float tensor; the compiler passes graph constants of that kind as numbers
    return ttnn.where(tile(ttnn, m), v, tile(ttnn, x))


def _masky(x, diagonal=0):
    """A float tensor, or a boolean (1.0/0.0 on the device: HF's causal masks are `tril` of a bool matrix)."""
    return (_float1(x) or (is_t(x) and x.dtype == torch.bool)) and x.dim() >= 2 and isinstance(diagonal, int)


@lowering(aten.tril.default, when=_masky)
def tril(ttnn, x, diagonal=0):
    return ttnn.tril(tile(ttnn, x), diagonal=diagonal)


@lowering(aten.triu.default, when=_masky)
def triu(ttnn, x, diagonal=0):
    return ttnn.triu(tile(ttnn, x), diagonal=diagonal)


@lowering(aten.floor_divide.default, aten.floor_divide.Scalar, when=_binary_guard)
def floor_divide(ttnn, a, b):
    """ttnn.divide with rounding_mode="floor", then one correction step. The device divides bfloat16 operands
    as a times the bfloat16 reciprocal of b, so 6 / 3 comes out 1.998 and floors to 1: the remainder
    r = a - q * b says by how much q is off (r must lie in [0, b) for b > 0, (b, 0] for b < 0)."""
    a, b = tile(ttnn, a), tile(ttnn, b)
    if isinstance(a, (int, float)):
        a = ttnn.full_like(b, a)
    q = ttnn.divide(a, b, rounding_mode="floor")
    r = ttnn.subtract(a, ttnn.multiply(q, b))
    if isinstance(b, (int, float)):
        rs, mag = (r if b > 0 else ttnn.neg(r)), abs(b)
    else:
        rs, mag = ttnn.multiply(r, ttnn.sign(b)), ttnn.abs(b)
    return ttnn.subtract(ttnn.add(q, ttnn.ge(rs, mag)), ttnn.lt(rs, 0.0))


@lowering(aten.xlogy.Tensor, when=lambda a, b: is_float(a) and is_float(b))
def xlogy(ttnn, a, b):
    return ttnn.xlogy(tile(ttnn, a), tile(ttnn, b))


@lowering(aten.pow.Scalar, when=lambda base, e: isinstance(base, (int, float)) and not isinstance(base, bool)
          and _float1(e))
def pow_number_base(ttnn, base, e):
    """A number raised to a tensor (TT-NN's pow takes the number as its first operand)."""
    return ttnn.pow(float(base), tile(ttnn, e))


@lowering(aten.round.decimals, when=lambda x, *, decimals=0: _float1(x) and isinstance(decimals, int))
def round_decimals(ttnn, x, *, decimals=0):
    return ttnn.round(tile(ttnn, x), decimals=decimals)
