"""Reductions over dims: sum, mean, amax/amin, max/min with indices, argmax/argmin, var/std, cumsum."""
from __future__ import annotations

import math

import torch

from .. import policy
from ..registry import lowering
from ._util import FLOATS, aten, dim_, is_float, is_t, tile

_ACCUMULATING = ("sum", "mean")  # reductions whose result depends on the accumulation (max/min select)


def _acc_kw(ttnn, name) -> dict:
    """The compiler's reduction compute config (float32 accumulation by default: lowering.policy)."""
    return {"compute_kernel_config": policy.compute_config(ttnn, "reduce")} if name in _ACCUMULATING else {}


def _dims(x, dims):
    r = x.dim() if hasattr(x, "dim") else len(x.shape)
    if dims is None or (isinstance(dims, (list, tuple)) and len(dims) == 0):
        return list(range(r))
    dims = [dims] if isinstance(dims, int) else list(dims)
    return sorted(dim_(d, r) for d in dims)


def _fix_rank(ttnn, out, x, dims, keepdim):
    """The ATen result shape (TT-NN may keep a reduced dim that ATen drops, or the reverse)."""
    shape = [1 if i in dims else s for i, s in enumerate(x.shape)] if keepdim else \
        [s for i, s in enumerate(x.shape) if i not in dims]
    return ttnn.reshape(out, shape) if shape else ttnn.reshape(out, [1])


def _reducible(x, dims=None, keepdim=False, dtype=None, **kw):
    """A float tensor; a dtype= that is a float type only changes the output dtype (the caller casts)."""
    return is_float(x) and x.dim() >= 1 and (dtype is None or dtype in FLOATS)


def _full_reducible(x, dtype=None):
    return is_float(x) and (dtype is None or dtype in FLOATS)


def _red(name):
    def rule(ttnn, x, dims=None, keepdim=False, dtype=None):
        d = _dims(x, dims)
        out = getattr(ttnn, name)(tile(ttnn, x), dim=d if len(d) > 1 else d[0], keepdim=True,
                                  **_acc_kw(ttnn, name))
        return _fix_rank(ttnn, out, x, d, keepdim)
    rule.__name__ = f"reduce_{name}"
    return rule


lowering(aten.sum.dim_IntList, when=_reducible)(_red("sum"))
lowering(aten.mean.dim, when=_reducible)(_red("mean"))
lowering(aten.amax.default, when=_reducible)(_red("max"))
lowering(aten.amin.default, when=_reducible)(_red("min"))


def _full(name):
    def rule(ttnn, x, dtype=None):
        """Over every dim (`x.sum()`, `x.max()`): one TT-NN reduction with dim=None, a [1] result (the 0-d
        ATen value; TT-NN has no rank 0). A 0-d input is already its own sum/max."""
        if len(x.shape) == 0 or (len(x.shape) == 1 and x.shape[0] == 1):
            return x
        return ttnn.reshape(getattr(ttnn, name)(tile(ttnn, x), dim=None, keepdim=True, **_acc_kw(ttnn, name)),
                            [1])
    rule.__name__ = f"reduce_all_{name}"
    return rule


lowering(aten.sum.default, when=_full_reducible)(_full("sum"))
lowering(aten.mean.default, when=_full_reducible)(_full("mean"))
lowering(aten.max.default, when=lambda x: is_float(x))(_full("max"))
lowering(aten.min.default, when=lambda x: is_float(x))(_full("min"))
# int32 on the device, reduced as int32 (exact): e.g. generate()'s `unfinished_sequences.max() == 0` per token
lowering(aten.max.default, when=lambda x: is_t(x) and x.dtype in (torch.int32, torch.int64))(_full("max"))
lowering(aten.min.default, when=lambda x: is_t(x) and x.dtype in (torch.int32, torch.int64))(_full("min"))


_COUNTS = (torch.bool, torch.int32, torch.int64)


def _count_guard(x, dims=None, keepdim=False, dtype=None):
    return is_t(x) and x.dtype in _COUNTS and x.dim() >= 1 and (dtype is None or dtype in (torch.int32, torch.int64))


@lowering(aten.sum.default, when=lambda x, dtype=None: _count_guard(x, dtype=dtype))
@lowering(aten.sum.dim_IntList, when=_count_guard)
def sum_int(ttnn, x, dims=None, keepdim=False, dtype=None):
    """A count (`mask.sum()`, torch gives int64) or an integer sum, in int32: exact, where a bfloat16 sum
    of 1.0/0.0 booleans would stop counting at 256."""
    xt = tile(ttnn, x)
    if xt.dtype != ttnn.int32:
        xt = ttnn.typecast(xt, ttnn.int32)
    d = _dims(x, dims)
    out = ttnn.sum(xt, dim=d if len(d) > 1 else d[0], keepdim=True)
    return _fix_rank(ttnn, out, x, d, keepdim)


def _with_index(name):
    def rule(ttnn, x, dim, keepdim=False):
        """max/min along a dim with its index: the value reduction and argmax (first index on ties, as
        torch's CPU kernel; TT-NN has no argmin: argmax of the negation), indices cast to the device's int32
        for torch's int64."""
        d = dim_(dim, len(x.shape))
        xt = tile(ttnn, x)
        vals = _fix_rank(ttnn, getattr(ttnn, name)(xt, dim=d, keepdim=True), x, [d], keepdim)
        idx = ttnn.argmax(xt if name == "max" else ttnn.neg(xt), dim=d, keepdim=True)
        return vals, ttnn.typecast(_fix_rank(ttnn, idx, x, [d], keepdim), ttnn.int32)
    rule.__name__ = f"{name}_dim"
    return rule


_dim_guard = (lambda x, dim, keepdim=False: is_float(x) and x.dim() >= 1)
lowering(aten.max.dim, when=_dim_guard)(_with_index("max"))
lowering(aten.min.dim, when=_dim_guard)(_with_index("min"))


@lowering(aten.var_mean.correction, when=lambda x, dims=None, *, correction=None, keepdim=False: is_float(x)
          and x.dim() >= 1)
def var_mean(ttnn, x, dims=None, *, correction=None, keepdim=False):
    """Both from one centring: the training batch norm's statistics (its decomposition calls var_mean)."""
    d = _dims(x, dims)
    var, mean = _centred_var(ttnn, x, d, correction)
    return _fix_rank(ttnn, var, x, d, keepdim), _fix_rank(ttnn, mean, x, d, keepdim)


def _centred_var(ttnn, x, d, correction):
    """Variance and mean over dims d from one centring (two passes, as the device would run them: the one-pass
    E[x^2] - E[x]^2 loses everything to cancellation in bfloat16)."""
    n = math.prod(int(x.shape[i]) for i in d)
    c = 1 if correction is None else correction
    xt = tile(ttnn, x)
    dd = d if len(d) > 1 else d[0]
    acc = _acc_kw(ttnn, "sum")
    mean = ttnn.mean(xt, dim=dd, keepdim=True, **acc)
    var = ttnn.multiply(ttnn.sum(ttnn.square(ttnn.subtract(xt, mean)), dim=dd, keepdim=True, **acc),
                        1.0 / max(n - c, 1))
    return var, mean


def _var(name):
    def rule(ttnn, x, dims=None, *, correction=None, keepdim=False):
        d = _dims(x, dims)
        var, _ = _centred_var(ttnn, x, d, correction)
        out = ttnn.sqrt(var) if name == "std" else var
        return _fix_rank(ttnn, out, x, d, keepdim)
    rule.__name__ = name
    return rule


_var_guard = (lambda x, dims=None, *, correction=None, keepdim=False: is_float(x) and x.dim() >= 1)
lowering(aten.var.correction, when=_var_guard)(_var("var"))
lowering(aten.std.correction, when=_var_guard)(_var("std"))


def _arg(name):
    def rule(ttnn, x, dim=None, keepdim=False):
        if dim is None:  # over the flattened tensor: torch gives a 0-d index ([1] on the device)
            n = 1
            for s in x.shape:
                n *= s
            xt = ttnn.reshape(tile(ttnn, x), [1, n])
            out = ttnn.argmax(xt if name == "argmax" else ttnn.neg(xt), dim=1, keepdim=True)
            return ttnn.typecast(ttnn.reshape(out, [1] * len(x.shape) if keepdim else [1]), ttnn.int32)
        """TT-NN returns UINT32 indices; torch's int64 lives on the device as int32 (lowering.policy), so the
        indices are cast to it and index arithmetic downstream sees one integer dtype. TT-NN has no argmin:
        argmax of the negation (exact in every float format: negation flips the sign bit)."""
        d = dim_(dim, len(x.shape))
        xt = tile(ttnn, x)
        out = ttnn.argmax(xt if name == "argmax" else ttnn.neg(xt), dim=d, keepdim=True)
        return ttnn.typecast(_fix_rank(ttnn, out, x, [d], keepdim), ttnn.int32)
    rule.__name__ = name
    return rule


def _arg_guard(x, dim=None, keepdim=False):
    """Float or integer input (e.g. CLIP's argmax over token ids to find the end-of-text token)."""
    return is_t(x) and x.dtype in (*FLOATS, torch.int32, torch.int64) and x.dim() >= 1


lowering(aten.argmax.default, when=_arg_guard)(_arg("argmax"))
lowering(aten.argmin.default, when=_arg_guard)(_arg("argmin"))


def _all_guard(x, dims=None, keepdim=False):
    return is_t(x) and x.dtype == torch.bool and x.dim() >= 1


def _logical_red(name, red):
    def rule(ttnn, x, dims=None, keepdim=False):
        """Booleans are 1.0/0.0 on the device: all = min, any = max."""
        if isinstance(dims, int):
            dims = [dims]
        d = _dims(x, dims)
        out = getattr(ttnn, red)(tile(ttnn, x), dim=d if len(d) > 1 else d[0], keepdim=True)
        return _fix_rank(ttnn, out, x, d, keepdim)
    rule.__name__ = name
    return rule


lowering(aten.all.default, when=_all_guard)(_logical_red("all", "min"))


@lowering(aten.all.default, when=lambda x: is_float(x) and x.dim() >= 1)
def all_nonzero(ttnn, x):
    """all() of numbers: whether every one is non-zero (the minimum of x != 0)."""
    return ttnn.reshape(ttnn.min(ttnn.ne(tile(ttnn, x), 0.0), dim=None, keepdim=True), [1])


@lowering(aten.any.default, when=lambda x: is_float(x) and x.dim() >= 1)
def any_nonzero(ttnn, x):
    return ttnn.reshape(ttnn.max(ttnn.ne(tile(ttnn, x), 0.0), dim=None, keepdim=True), [1])


@lowering(aten.prod.dim_int, when=lambda x, dim, keepdim=False, dtype=None: is_float(x) and x.dim() >= 1
          and dtype is None)
def prod(ttnn, x, dim, keepdim=False, dtype=None):
    d = dim_(dim, len(x.shape))
    return _fix_rank(ttnn, ttnn.prod(tile(ttnn, x), d, keepdim=True), x, [d], keepdim)
lowering(aten.any.default, when=_all_guard)(_logical_red("any", "max"))
lowering(aten.all.dim, aten.all.dims, when=_all_guard)(_logical_red("all_dim", "min"))
lowering(aten.any.dim, aten.any.dims, when=_all_guard)(_logical_red("any_dim", "max"))


@lowering(aten.cumsum.default, when=lambda x, dim, dtype=None: is_float(x) and dtype is None and x.dim() >= 1)
def cumsum(ttnn, x, dim, dtype=None):
    return ttnn.cumsum(tile(ttnn, x), dim_(dim, len(x.shape)))
