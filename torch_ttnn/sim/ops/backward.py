"""Backward (gradient) operations: ttnn.relu_bw, ttnn.mul_bw, ... generated from one table.

TT-NN's `*_bw` ops take the upstream gradient and the forward op's inputs and return a list of input gradients
(one per tensor input, None where `are_required_outputs` says it is not wanted). Their golden functions in the
real package differentiate the torch forward op with autograd, so the table gives each op's torch forward and
the emulator differentiates it the same way, in float32 from the stored (device-rounded) inputs, then rounds
each gradient to its input's dtype. A parameter the caller passes as a Python number is a constant of the
forward op; passed as a tensor it is an input and gets a gradient (the real package's scalar and tensor
overloads of add_bw, mul_bw, fmod_bw, ... are told apart the same way).
On the device these are chains of unary/binary SFPU kernels; the cost is priced as one vector-engine pass per
output at a few cycles per value (estimates, not measurements).
Signatures: read from ttnn 0.81.1 (the first overload where there are several).
"""
from __future__ import annotations

import inspect

import torch

from .. import formats
from ..operation import record
from ..tensor import Tensor, new_device_tensor, operands, require_device
from ..types import INTEGERS, DataType
from . import _eltwise as E
from ._eltwise import GeluVariant

_F = torch.nn.functional
_MC = "*, memory_config=None"
_U = f"grad_tensor, input_tensor, {_MC}"
_UG = f"grad_tensor, input_tensor, {_MC}, input_grad=None"
_B = f"grad_tensor, input_tensor_a, input_tensor_b, {_MC}"
_BS = f"grad_tensor, input_tensor_a, scalar, {_MC}, input_grad=None"
# names that configure the op rather than feed the forward function
_CONTROL = {"grad_tensor", "memory_config", "are_required_outputs", "input_grad", "other_grad", "input_a_grad",
            "input_b_grad", "dtype", "output_tensor"}


def _gelu(x, variant=GeluVariant.Accurate, approximate=None):
    tanh = approximate == "tanh" or variant in (GeluVariant.Tanh, GeluVariant.FastLut)
    return _F.gelu(x, approximate="tanh" if tanh else "none")


def _div(a, b, rounding_mode=None):
    return torch.div(a, b, rounding_mode=rounding_mode) if rounding_mode else a / b


def _div_no_nan(a, b):
    return torch.where(torch.as_tensor(b) == 0, torch.zeros_like(a), a / b)


def _rdiv(x, scalar, rounding_mode=None):
    return _div(torch.full_like(x, float(scalar)), x, rounding_mode)


def _prod(x, dim=None):
    return torch.prod(x) if dim is None else torch.prod(x, dim)


def _where(c, a, b):
    return torch.where(c != 0, a, b)


def _clamp(x, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("clamp_bw: only one of 'min' or 'max' can be None; pass at least one bound")
    return torch.clamp(x, min, max)


# name -> (real parameter list, torch forward op, SFPU cycles per value)
_TABLE = {
    "abs_bw": (_U, torch.abs, 2), "acos_bw": (_U, torch.acos, 12), "acosh_bw": (_U, torch.acosh, 12),
    "asin_bw": (_U, torch.asin, 12), "asinh_bw": (_U, torch.asinh, 12), "atan_bw": (_U, torch.atan, 10),
    "atanh_bw": (_U, torch.atanh, 10), "ceil_bw": (_U, torch.ceil, 1), "cos_bw": (_U, torch.cos, 16),
    "cosh_bw": (_U, torch.cosh, 16), "deg2rad_bw": (_U, torch.deg2rad, 1), "digamma_bw": (_U, torch.digamma, 30),
    "erf_bw": (_U, torch.erf, 10), "erfc_bw": (_U, torch.erfc, 10), "erfinv_bw": (_U, torch.erfinv, 14),
    "exp2_bw": (_U, torch.exp2, 8), "exp_bw": (_UG, torch.exp, 8), "expm1_bw": (_U, torch.expm1, 8),
    "fill_bw": (_UG, lambda x: torch.fill(x, 0.0), 1), "fill_zero_bw": (_U, torch.zeros_like, 1),
    "floor_bw": (_U, torch.floor, 1), "frac_bw": (_U, torch.frac, 2),
    "hardsigmoid_bw": (_U, _F.hardsigmoid, 3), "hardswish_bw": (_U, _F.hardswish, 4),
    "i0_bw": (_U, torch.special.i0, 24), "lgamma_bw": (_U, torch.lgamma, 30), "log10_bw": (_U, torch.log10, 8),
    "log1p_bw": (_U, torch.log1p, 8), "log2_bw": (_U, torch.log2, 8), "log_bw": (_U, torch.log, 8),
    "log_sigmoid_bw": (_U, _F.logsigmoid, 12), "logit_bw": (_U, torch.logit, 10),
    "multigammaln_bw": (_U, lambda x: torch.mvlgamma(x, 4), 40), "neg_bw": (_UG, torch.neg, 1),
    "rad2deg_bw": (_U, torch.rad2deg, 1), "reciprocal_bw": (_U, torch.reciprocal, 8),
    "relu6_bw": (_U, _F.relu6, 2), "relu_bw": (_U, torch.relu, 1), "round_bw": (_U, torch.round, 1),
    "rsqrt_bw": (_UG, torch.rsqrt, 10), "selu_bw": (_U, _F.selu, 10), "sigmoid_bw": (_U, torch.sigmoid, 10),
    "sign_bw": (_U, torch.sign, 1), "silu_bw": (_UG, _F.silu, 12), "sin_bw": (_U, torch.sin, 16),
    "sinh_bw": (_U, torch.sinh, 16), "softsign_bw": (_U, _F.softsign, 8), "sqrt_bw": (_UG, torch.sqrt, 8),
    "square_bw": (_U, torch.square, 1), "tan_bw": (_U, torch.tan, 16), "tanh_bw": (_UG, torch.tanh, 10),
    "tanhshrink_bw": (_U, _F.tanhshrink, 12), "trunc_bw": (_U, torch.trunc, 1),
    # unary with parameters
    "celu_bw": (f"grad_tensor, input_tensor, *, alpha=1.0, memory_config=None",
                lambda x, alpha=1.0: _F.celu(x, alpha), 10),
    "elu_bw": (f"grad_tensor, input_tensor, *, alpha=1.0, memory_config=None",
               lambda x, alpha=1.0: _F.elu(x, alpha), 10),
    "gelu_bw": ("grad_tensor, input_tensor, *, variant=GeluVariant.Accurate, memory_config=None, input_grad=None",
                _gelu, 16),
    "hardshrink_bw": ("grad_tensor, input_tensor, *, lambd=0.5, memory_config=None",
                      lambda x, lambd=0.5: _F.hardshrink(x, lambd), 2),
    "softshrink_bw": ("grad_tensor, input_tensor, *, lambd=0.5, memory_config=None",
                      lambda x, lambd=0.5: _F.softshrink(x, lambd), 2),
    "hardtanh_bw": ("grad_tensor, input_tensor, *, min=-1.0, max=1.0, memory_config=None",
                    lambda x, min=-1.0, max=1.0: _F.hardtanh(x, min, max), 2),
    "leaky_relu_bw": ("grad_tensor, input_tensor, *, negative_slope=0.009999999776482582, memory_config=None",
                      lambda x, negative_slope=0.01: _F.leaky_relu(x, negative_slope), 2),
    "logiteps_bw": ("grad_tensor, input_tensor, *, eps=0.0, memory_config=None",
                    lambda x, eps=0.0: torch.logit(x, eps or None), 10),
    "softplus_bw": ("grad_tensor, input_tensor, *, beta=1.0, threshold=20.0, memory_config=None",
                    lambda x, beta=1.0, threshold=20.0: _F.softplus(x, beta, threshold), 14),
    "clamp_bw": ("grad_tensor, input_tensor, min=None, max=None, *, memory_config=None", _clamp, 2),
    "clip_bw": ("grad_tensor, input_tensor, min=None, max=None, *, memory_config=None", _clamp, 2),
    "threshold_bw": ("grad_tensor, input_tensor, min, max, *, memory_config=None",
                     lambda x, min, max: _F.threshold(x, min, max), 2),
    "polygamma_bw": ("grad_tensor, input_tensor, n, *, memory_config=None",
                     lambda x, n: torch.polygamma(int(n), x), 40),
    "pow_bw": ("grad_tensor, input_tensor, exponent, *, memory_config=None, input_grad=None", torch.pow, 20),
    "rpow_bw": ("grad_tensor, input_tensor, exponent, *, memory_config=None",
                lambda x, exponent: torch.pow(exponent, x), 20),
    "rdiv_bw": ("grad_tensor, input_tensor, scalar, *, rounding_mode=None, memory_config=None", _rdiv, 10),
    "div_no_nan_bw": ("grad_tensor, input_tensor, scalar, *, memory_config=None", _div_no_nan, 10),
    "prod_bw": ("grad_tensor, input_tensor, *, dim=None, memory_config=None", _prod, 8),
    "repeat_bw": ("grad_tensor, input_tensor, shape, *, memory_config=None",
                  lambda x, shape: x.repeat(*list(shape)), 1),
    # binary: a tensor second operand gets a gradient too
    "add_bw": (_BS, torch.add, 1), "sub_bw": (_BS, torch.sub, 1), "mul_bw": (_BS, torch.mul, 2),
    "div_bw": ("grad_tensor, input_tensor_a, scalar, rounding_mode=None, *, memory_config=None, input_grad=None",
               _div, 10),
    "fmod_bw": (_B, torch.fmod, 12), "remainder_bw": (_B, torch.remainder, 12),
    "addalpha_bw": ("grad_tensor, input_tensor_a, input_tensor_b, alpha=1.0, *, are_required_outputs=[True, True], "
                    "memory_config=None, input_a_grad=None, input_b_grad=None",
                    lambda a, b, alpha=1.0: a + alpha * b, 2),
    "subalpha_bw": ("grad_tensor, input_tensor_a, input_tensor_b, alpha=1.0, *, are_required_outputs=[True, True], "
                    "memory_config=None, input_grad=None, other_grad=None", lambda a, b, alpha=1.0: a - alpha * b, 2),
    "rsub_bw": ("grad_tensor, input_tensor_a, input_tensor_b, *, are_required_outputs=[True, True], "
                "memory_config=None, input_grad=None, other_grad=None", lambda a, b: b - a, 1),
    "assign_bw": ("grad_tensor, input_tensor, *, memory_config=None, input_a_grad=None", lambda x: x.clone(), 1),
    "atan2_bw": (_B, torch.atan2, 20), "hypot_bw": (_B, torch.hypot, 10),
    "ldexp_bw": (_B, lambda a, b: a * torch.exp2(b), 10), "logaddexp_bw": (_B, torch.logaddexp, 20),
    "logaddexp2_bw": (_B, torch.logaddexp2, 20), "max_bw": (_B, torch.maximum, 2),
    "min_bw": (_B, torch.minimum, 2), "squared_difference_bw": (_B, lambda a, b: torch.square(a - b), 2),
    "xlogy_bw": (_B, torch.xlogy, 14),
    "bias_gelu_bw": ("grad_tensor, input_tensor_a, input_tensor_b, *, variant=GeluVariant.Accurate, "
                     "memory_config=None", lambda a, b, variant=GeluVariant.Accurate: _gelu(a + b, variant), 16),
    "concat_bw": ("grad_tensor, input_tensor_a, input_tensor_b, dim=0, *, are_required_outputs=[True, True], "
                  "memory_config=None, input_a_grad=None, input_b_grad=None",
                  lambda a, b, dim=0: torch.cat([a, b], dim), 1),
    # ternary
    "addcdiv_bw": ("grad_tensor, input_tensor_a, input_tensor_b, input_tensor_c, alpha, *, memory_config=None",
                   lambda a, b, c, alpha: torch.addcdiv(a, b, c, value=alpha), 10),
    "addcmul_bw": ("grad_tensor, input_tensor_a, input_tensor_b, input_tensor_c, alpha, *, memory_config=None",
                   lambda a, b, c, alpha: torch.addcmul(a, b, c, value=alpha), 4),
    "lerp_bw": ("grad_tensor, input_tensor_a, input_tensor_b, input_tensor_c, *, memory_config=None",
                torch.lerp, 4),
    "where_bw": ("grad_tensor, input_tensor_a, input_tensor_b, input_tensor_c, *, memory_config=None, "
                 "are_required_outputs=[True, True], input_a_grad=None, input_b_grad=None", _where, 2),
}
# Ops whose first tensor is a selector with no gradient: their outputs are for the tensors after it.
_NO_GRAD_FIRST = {"where_bw"}
# Preallocated-output parameter names, in output order.
_OUT_NAMES = ("input_grad", "input_a_grad", "other_grad", "input_b_grad")


def _leaf(t: Tensor) -> torch.Tensor:
    return E.host_values(t).to(torch.float32).detach().requires_grad_(True)


def _grads(qual, fwd, grad: torch.Tensor, args: list, kwargs: dict, wanted: list[int]):
    """Gradients of fwd(*args, **kwargs) with respect to args[i] for i in wanted, contracted with `grad`."""
    with torch.enable_grad():
        y = fwd(*args, **kwargs)
        if tuple(y.shape) != tuple(grad.shape):
            raise RuntimeError(f"{qual}: grad_tensor has shape {list(grad.shape)} but the forward output has "
                               f"shape {list(y.shape)}")
        if not y.requires_grad:  # a piecewise-constant op (floor, round, sign, ...): zero gradient everywhere
            return [torch.zeros_like(args[i]) for i in wanted]
        got = torch.autograd.grad(y, [args[i] for i in wanted], grad, allow_unused=True)
    return [torch.zeros_like(args[i]) if g is None else g.detach() for i, g in zip(wanted, got)]


def _finish_many(qual, dev, values, like, inputs, outs, memory_config, cycles):
    """Round each gradient to its input's dtype, allocate (or fill a preallocated output), record one cost."""
    results = []
    for v, t, out in zip(values, like, outs):
        if v is None:
            results.append(None)
            continue
        if out is not None:
            out._values = formats.to_device_format(v, out.dtype, out.layout)
            results.append(out)
        else:
            results.append(new_device_tensor(v, t.dtype, t.layout, dev, memory_config or t.memory_config()))
    made = [r for r in results if r is not None]
    vol = sum(r.volume() for r in made)
    record(dev, qual, operands=operands(*inputs, *made), sfpu_ops=vol, sfpu_cycles=cycles)
    return results


def _make_bw(name, params, fwd, cycles):
    qual = f"ttnn.{name}"
    sig = inspect.signature(eval(f"lambda {params}: None", {"GeluVariant": GeluVariant}))
    positional = [p.name for p in sig.parameters.values()
                  if p.kind == p.POSITIONAL_OR_KEYWORD and p.name not in _CONTROL]
    keyword = [p.name for p in sig.parameters.values() if p.kind == p.KEYWORD_ONLY and p.name not in _CONTROL]

    def impl(**kw):
        grad = kw["grad_tensor"]
        args = [kw[n] for n in positional]
        tensors = [a for a in args if isinstance(a, Tensor)]
        dev = require_device(qual, grad, *tensors)
        for t in tensors:
            if t.dtype in INTEGERS:
                E.check_dtype(qual, t.dtype, (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B))
        vals = [_leaf(a) if isinstance(a, Tensor) else a for a in args]
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if name in _NO_GRAD_FIRST:
            vals[0] = vals[0].detach()
            idx = idx[1:]
        req = list(kw.get("are_required_outputs") or [True] * len(idx)) + [True] * len(idx)
        wanted = [i for k, i in enumerate(idx) if req[k]]
        g = E.host_values(grad).to(torch.float32)
        computed = dict(zip(wanted, _grads(qual, fwd, g, vals, {k: kw[k] for k in keyword}, wanted)))
        values = [computed.get(i) for i in idx]
        outs = [kw.get(n) for n in _OUT_NAMES if n in kw] + [None] * len(idx)
        return _finish_many(qual, dev, values, [args[i] for i in idx], [grad, *tensors], outs[:len(idx)],
                            kw.get("memory_config"), cycles)

    def golden(grad_tensor, *args, **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if k not in _CONTROL and k != "device"}
        vals = [a.detach().float().requires_grad_(True) if isinstance(a, torch.Tensor) else a for a in args]
        idx = [i for i, a in enumerate(vals) if isinstance(a, torch.Tensor)][1 if name in _NO_GRAD_FIRST else 0:]
        return _grads(qual, fwd, grad_tensor.float(), vals, kwargs, idx)

    impl.__doc__ = f"Gradient of {name[:-3]} by autograd of its torch forward op, rounded to each input's dtype."
    return E.make_op(qual, params, impl, golden)


for _name, (_params, _fwd, _cycles) in _TABLE.items():
    globals()[_name] = _make_bw(_name, _params, _fwd, _cycles)


def _embedding_bw_impl(input_tensor, weight_tensor, output_gradient_tensor, dtype=None, memory_config=None,
                       output_tensor=None):
    """The weight gradient of an embedding lookup: each output row's gradient summed into its index's row."""
    qual = "ttnn.embedding_bw"
    dev = require_device(qual, input_tensor, weight_tensor, output_gradient_tensor)
    E.check_dtype(qual, input_tensor.dtype, (DataType.UINT32, DataType.INT32, DataType.BFLOAT16),
                  "index")
    idx = input_tensor.value.to(torch.int64).reshape(-1)
    vocab, width = weight_tensor.shape[-2], weight_tensor.shape[-1]
    if idx.numel() and (idx.min() < 0 or idx.max() >= vocab):
        raise RuntimeError(f"{qual}: index out of range [0, {vocab}); check the input ids")
    g = E.host_values(output_gradient_tensor).reshape(-1, width)
    if g.shape[0] != idx.numel():
        raise RuntimeError(f"{qual}: output_gradient_tensor holds {g.shape[0]} rows of width {width} but the "
                           f"input has {idx.numel()} indices")
    out = torch.zeros(vocab, width).index_add_(0, idx, g).reshape(weight_tensor.shape)
    return E.finish(qual, out, dtype or weight_tensor.dtype, weight_tensor.layout, dev,
                    memory_config or weight_tensor.memory_config(),
                    (input_tensor, output_gradient_tensor), output_tensor=output_tensor, sfpu_cycles=2)


embedding_bw = E.make_op(
    "ttnn.embedding_bw", "input_tensor, weight_tensor, output_gradient_tensor, *, dtype=None, memory_config=None, "
    "output_tensor=None", _embedding_bw_impl,
    lambda input_tensor, weight_tensor, grad, **k: torch.zeros(weight_tensor.shape[-2:]).index_add_(
        0, input_tensor.reshape(-1).long(), grad.reshape(-1, weight_tensor.shape[-1]).float()))

__all__ = list(_TABLE) + ["embedding_bw"]
