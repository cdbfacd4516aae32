"""Integer and boolean element-wise rules: the index arithmetic and mask building of HF models (positions,
cumsum of attention masks, causal masks from integer comparisons, T5's relative-position buckets).

Integers live on the device as int32 (lowering.policy), which TT-NN's binary_ng arithmetic, comparisons,
min/max, abs/neg and cumsum take directly. Comparisons on int32 return int32 1/0; the rules cast them to the
policy's boolean dtype (1.0/0.0 in the float dtype) so that every boolean on the device has one form, whatever
made it. torch int64 values outside int32 cannot be held: guards accept Python integer operands only within
int32 range (tensor values are not visible to guards; int64 data beyond int32 is the caller's contract, as for
every transfer of int64 to the device).
"""
from __future__ import annotations

import torch

from .. import policy
from ..registry import lowering
from ._util import aten, is_float, is_t, named, tile

INTS = (torch.int32, torch.int64)
_I32 = (-(2 ** 31), 2 ** 31 - 1)


def is_int(x) -> bool:
    return is_t(x) and x.dtype in INTS


def int_num(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and _I32[0] <= x <= _I32[1]


def is_bool(x) -> bool:
    return is_t(x) and x.dtype == torch.bool


def _ints(a, b, *rest, **kw):
    """Integer operands (int tensors, Python ints in int32 range, or booleans, which torch promotes to the
    integer type), at least one an int tensor."""
    return (is_int(a) or is_int(b)) and all(is_int(x) or is_bool(x) or int_num(x) for x in (a, b))


def as_int(ttnn, x):
    """A TILE int32 operand (booleans are 1.0/0.0 in the float dtype on the device); numbers pass."""
    x = tile(ttnn, x)
    return x if isinstance(x, int) or x.dtype == ttnn.int32 else ttnn.typecast(x, ttnn.int32)


def as_bool(ttnn, x):
    """A 1/0 device tensor in the policy's boolean dtype."""
    return ttnn.typecast(x, policy.ttnn_dtype(ttnn, torch.bool))


# --- comparisons ------------------------------------------------------------------------------------------
_MIRROR = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _int_cmp(name):
    def rule(ttnn, a, b):
        a, b = as_int(ttnn, a), as_int(ttnn, b)
        out = getattr(ttnn, _MIRROR[name])(b, a) if isinstance(a, int) else getattr(ttnn, name)(a, b)
        return as_bool(ttnn, out)
    return named(rule, f"int_compare_{name}")


for _name in _MIRROR:
    lowering(getattr(aten, _name).Tensor, getattr(aten, _name).Scalar, when=_ints)(_int_cmp(_name))


# --- arithmetic -------------------------------------------------------------------------------------------
def _int_arith(name):
    def rule(ttnn, a, b):
        a, b = as_int(ttnn, a), as_int(ttnn, b)
        if isinstance(a, int):  # multiply/minimum/maximum commute
            a, b = b, a
        return getattr(ttnn, name)(a, b)
    return named(rule, f"int_{name}")


lowering(aten.mul.Tensor, aten.mul.Scalar, when=_ints)(_int_arith("multiply"))
lowering(aten.minimum.default, when=_ints)(_int_arith("minimum"))
lowering(aten.maximum.default, when=_ints)(_int_arith("maximum"))

for _op, _name in ((aten.abs.default, "abs"), (aten.neg.default, "neg")):
    lowering(_op, when=lambda x: is_int(x))(named(lambda ttnn, x, _n=_name: getattr(ttnn, _n)(tile(ttnn, x)),
                                                  f"int_{_name}"))


@lowering(aten.clamp.default, when=lambda x, min=None, max=None: is_int(x) and (min is not None or max is not None)
          and (min is None or int_num(min)) and (max is None or int_num(max)))
def int_clamp(ttnn, x, min=None, max=None):
    """As max then min with scalars: the int32 forms of binary_ng's maximum/minimum."""
    x = tile(ttnn, x)
    if min is not None:
        x = ttnn.maximum(x, min)
    if max is not None:
        x = ttnn.minimum(x, max)
    return x


@lowering(aten.where.self, when=lambda c, a, b: (is_bool(c) or is_float(c)) and _ints(a, b))
def int_where(ttnn, c, a, b):
    return ttnn.where(tile(ttnn, c), as_int(ttnn, a), as_int(ttnn, b))


@lowering(aten.masked_fill.Scalar, when=lambda x, m, v: is_int(x) and is_bool(m) and int_num(v))
def int_masked_fill(ttnn, x, m, v):
    return ttnn.where(tile(ttnn, m), v, tile(ttnn, x))


@lowering(aten.cumsum.default, when=lambda x, dim, dtype=None: (is_int(x) or is_bool(x)) and x.dim() >= 1
          and (dtype is None or dtype in INTS))
def int_cumsum(ttnn, x, dim, dtype=None):
    """Running count of an int or bool tensor (e.g. positions from an attention mask), in int32."""
    x = tile(ttnn, x)
    if x.dtype != ttnn.int32:  # a boolean (1.0/0.0) counts as int32
        x = ttnn.typecast(x, ttnn.int32)
    return ttnn.cumsum(x, dim + len(x.shape) if dim < 0 else dim)


# --- booleans ---------------------------------------------------------------------------------------------
def _bools(a, b):
    return is_bool(a) and is_bool(b)


for _op, _name in ((aten.bitwise_and.Tensor, "logical_and"), (aten.bitwise_or.Tensor, "logical_or"),
                   (aten.bitwise_xor.Tensor, "logical_xor")):
    lowering(_op, when=_bools)(named(lambda ttnn, a, b, _n=_name: getattr(ttnn, _n)(tile(ttnn, a), tile(ttnn, b)),
                                     f"bool_{_name}"))

for _op, _name in ((aten.bitwise_and.Tensor, "bitwise_and"), (aten.bitwise_or.Tensor, "bitwise_or"),
                   (aten.bitwise_xor.Tensor, "bitwise_xor")):
    # an int with an int, or with a bool (torch promotes it to 0/1: generate()'s `unfinished & ~stop`)
    lowering(_op, when=lambda a, b: (is_int(a) or is_int(b)) and all(is_int(x) or is_bool(x) for x in (a, b)))(
        named(lambda ttnn, a, b, _n=_name: getattr(ttnn, _n)(as_int(ttnn, a), as_int(ttnn, b)), f"int_{_name}"))


@lowering(aten.rsub.Scalar, when=lambda x, other, alpha=1: is_int(x) and int_num(other) and int_num(alpha))
def int_rsub(ttnn, x, other, alpha=1):
    """other - alpha * x in int32 (generate()'s `1 - unfinished_sequences`)."""
    x = as_int(ttnn, x)
    return ttnn.rsub(x if alpha == 1 else ttnn.multiply(x, alpha), other)


ISIN_MAX_TEST = 64  # test elements compared at once: a [.., n] comparison per element, then a max over n


@lowering(aten.isin.Tensor_Tensor, when=lambda x, test, assume_unique=False, invert=False: is_int(x) and is_int(test)
          and 1 <= test.numel() <= ISIN_MAX_TEST and 1 <= x.dim() <= 3)
def int_isin(ttnn, x, test, assume_unique=False, invert=False):
    """Membership in a short list (generate()'s EOS check on the last tokens): every element against every test
    value, then any over the test values; exact in int32. A long list would make an [elements, n] mask, so
    the guard caps n."""
    rank, n = len(x.shape), 1
    for d in test.shape:
        n *= d
    xs = ttnn.reshape(as_int(ttnn, x), list(x.shape) + [1])
    ts = ttnn.reshape(as_int(ttnn, test), [1] * rank + [n])
    hit = ttnn.max(ttnn.eq(xs, ts), dim=rank, keepdim=True)  # int32 1/0
    hit = ttnn.reshape(hit, list(x.shape))
    return as_bool(ttnn, ttnn.eq(hit, 0) if invert else hit)


# --- float and integer mixed ------------------------------------------------------------------------------
def _mixed(a, b, *rest, **kw):
    """A float tensor with an int tensor (e.g. ALiBi slopes times positions): torch computes in the float."""
    return ((is_float(a) and is_int(b)) or (is_int(a) and is_float(b))) and kw.get("alpha", 1) == 1


def _to_float(ttnn, x, like):
    """An int operand as the float dtype of the other operand (exact for |x| < 2**8 in bf16, 2**24 in fp32)."""
    return ttnn.typecast(tile(ttnn, x), like.dtype) if x.dtype == ttnn.int32 else tile(ttnn, x)


def _mixed_rule(name):
    def rule(ttnn, a, b, alpha=1):
        fa = a.dtype != ttnn.int32
        f = a if fa else b
        return getattr(ttnn, name)(_to_float(ttnn, a, f), _to_float(ttnn, b, f))
    return named(rule, f"mixed_{name}")


for _ops, _name in (((aten.add.Tensor,), "add"), ((aten.sub.Tensor,), "subtract"), ((aten.mul.Tensor,), "multiply"),
                    ((aten.div.Tensor,), "divide"), ((aten.pow.Tensor_Tensor,), "pow")):
    lowering(*_ops, when=_mixed)(_mixed_rule(_name))


@lowering(aten.bitwise_not.default, when=lambda x: is_int(x))
def int_bitwise_not(ttnn, x):
    return ttnn.bitwise_not(as_int(ttnn, x))
