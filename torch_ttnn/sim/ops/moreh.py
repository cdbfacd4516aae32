"""The moreh operations: TT-NN's training-oriented kernels (softmax family and their backward, matmul/bmm/linear/
dot and their backward, norms, layer/group norm, NLL loss, optimizers, fills).

Moreh kernels run at HiFi4 with fp32 accumulation by default (their compute configs), so computing in float32
from the stored inputs and rounding once to the output dtype is the faithful reading; backward ops differentiate
the forward op with torch autograd as the real golden functions do. Matmul-like ops are priced as matmuls
(tiles at HiFi4), the rest as vector-engine passes (cycle counts are estimates).
"""
from __future__ import annotations

import math

import torch

from .. import formats
from ..operation import record
from ..tensor import Tensor, new_device_tensor, operands, require_device
from ..types import DRAM_MEMORY_CONFIG, DataType, Layout, MathFidelity, _Enum
from . import _eltwise as E
from .data_movement import _check, _dim
from .matmul import _work

__all__ = ["moreh_softmax", "moreh_softmin", "moreh_logsoftmax", "moreh_softmax_backward", "moreh_softmin_backward",
           "moreh_logsoftmax_backward", "moreh_matmul", "moreh_bmm", "moreh_linear", "moreh_dot", "moreh_norm",
           "moreh_abs_pow", "moreh_full", "moreh_full_like", "moreh_sum_backward", "moreh_mean_backward",
           "moreh_cumsum_backward", "moreh_dot_backward", "moreh_bmm_backward", "moreh_matmul_backward",
           "moreh_linear_backward", "moreh_layer_norm", "moreh_layer_norm_backward", "moreh_group_norm",
           "moreh_group_norm_backward", "moreh_norm_backward", "moreh_nll_loss", "moreh_nll_loss_backward",
           "moreh_nll_loss_unreduced_backward", "moreh_sgd", "moreh_adam", "moreh_adamw", "moreh_clip_grad_norm"]


class MorehSoftmaxOp(_Enum):
    SOFTMAX = 0
    SOFTMIN = 1
    LOGSOFTMAX = 2


class MorehSoftmaxBackwardOp(_Enum):
    SOFTMAX = 0
    SOFTMIN = 1
    LOGSOFTMAX = 2


class MorehSoftmaxOpParallelizationStrategy(_Enum):
    NONE = 0
    SMALL_W = 1
    SMALL_H = 2
    LARGE_W = 3
    LARGE_H = 4
    LARGE_C = 5


MorehSoftmaxBackwardOpParallelizationStrategy = _Enum(
    "MorehSoftmaxBackwardOpParallelizationStrategy", {m.name: m.value for m in MorehSoftmaxOpParallelizationStrategy})
_ENV = {"MorehSoftmaxOp": MorehSoftmaxOp, "MorehSoftmaxBackwardOp": MorehSoftmaxBackwardOp,
        "MorehSoftmaxOpParallelizationStrategy": MorehSoftmaxOpParallelizationStrategy,
        "MorehSoftmaxBackwardOpParallelizationStrategy": MorehSoftmaxBackwardOpParallelizationStrategy,
        "DataType": DataType, "Layout": Layout, "DRAM_MEMORY_CONFIG": DRAM_MEMORY_CONFIG}


def _out(qual, values, like: Tensor, dev, memory_config, inputs, output=None, *, dtype=None, cycles=4.0, flops=0.0,
         matmul=None):
    return E.finish(qual, values, dtype or like.dtype, like.layout, dev, memory_config or like.memory_config(),
                    inputs, output_tensor=output, sfpu_cycles=0.0 if matmul is not None else cycles, flops=flops,
                    matmul=matmul)


def _many(qual, dev, pairs, inputs, cycles=4.0):
    """Several outputs (values, like-tensor, preallocated or None; None values stay None), one cost record."""
    res = []
    for v, like, out, mc in pairs:
        if v is None:
            res.append(None)
        elif out is not None:
            out._values = formats.to_device_format(v, out.dtype, out.layout)
            res.append(out)
        else:
            res.append(new_device_tensor(v, like.dtype, like.layout, dev, mc or like.memory_config()))
    made = [r for r in res if r is not None]
    record(dev, qual, operands=operands(*inputs, *made), sfpu_ops=float(sum(r.volume() for r in made)),
           sfpu_cycles=cycles)
    return res


# --- softmax family -------------------------------------------------------------------------------------------
_SOFT = {"SOFTMAX": lambda x, d: torch.softmax(x, d), "SOFTMIN": lambda x, d: torch.softmax(-x, d),
         "LOGSOFTMAX": lambda x, d: torch.log_softmax(x, d)}


def _softmax_family(name, default):
    qual = f"ttnn.{name}"

    def impl(input_tensor, dim, output_tensor=None, op=None, strategy=None, memory_config=None,
             compute_kernel_config=None):
        """Softmax / softmin / log-softmax along dim, in float32 (the moreh kernels accumulate in fp32)."""
        dev = require_device(qual, input_tensor)
        d = _dim(dim, len(input_tensor.shape), qual)
        kind = (op or default).name
        y = _SOFT[kind](E.host_values(input_tensor), d)
        return _out(qual, y, input_tensor, dev, memory_config, (input_tensor,), output_tensor, cycles=12)

    params = (f"input_tensor, dim, *, output_tensor=None, op=MorehSoftmaxOp.{default.name}, "
              "strategy=MorehSoftmaxOpParallelizationStrategy.NONE, memory_config=None, compute_kernel_config=None")
    return E.make_op(qual, params, impl, lambda x, dim, **k: _SOFT[default.name](x.float(), dim), env=_ENV)


def _softmax_backward(name, default):
    qual = f"ttnn.{name}"

    def impl(output_tensor, output_grad_tensor, dim, input_grad_tensor=None, op=None, strategy=None,
             memory_config=None, compute_kernel_config=None):
        """Input gradient from the forward output y and dy: softmax y*(dy - sum(dy*y)), softmin -y*(dy - sum(dy*y)),
        log-softmax dy - exp(y)*sum(dy)."""
        dev = require_device(qual, output_tensor, output_grad_tensor)
        d = _dim(dim, len(output_tensor.shape), qual)
        y, g = E.host_values(output_tensor), E.host_values(output_grad_tensor)
        kind = (op or default).name
        if kind == "LOGSOFTMAX":
            gx = g - torch.exp(y) * g.sum(d, keepdim=True)
        else:
            gx = y * (g - (g * y).sum(d, keepdim=True))
            gx = -gx if kind == "SOFTMIN" else gx
        return _out(qual, gx, output_tensor, dev, memory_config, (output_tensor, output_grad_tensor),
                    input_grad_tensor, cycles=6)

    params = (f"output_tensor, output_grad_tensor, dim, *, input_grad_tensor=None, op=MorehSoftmaxBackwardOp."
              f"{default.name}, strategy=MorehSoftmaxBackwardOpParallelizationStrategy.NONE, memory_config=None, "
              f"compute_kernel_config=None")
    return E.make_op(qual, params, impl, env=_ENV)


moreh_softmax = _softmax_family("moreh_softmax", MorehSoftmaxOp.SOFTMAX)
moreh_softmin = _softmax_family("moreh_softmin", MorehSoftmaxOp.SOFTMIN)
moreh_logsoftmax = _softmax_family("moreh_logsoftmax", MorehSoftmaxOp.LOGSOFTMAX)
moreh_softmax_backward = _softmax_backward("moreh_softmax_backward", MorehSoftmaxBackwardOp.SOFTMAX)
moreh_softmin_backward = _softmax_backward("moreh_softmin_backward", MorehSoftmaxBackwardOp.SOFTMIN)
moreh_logsoftmax_backward = _softmax_backward("moreh_logsoftmax_backward", MorehSoftmaxBackwardOp.LOGSOFTMAX)


# --- matmul family ------------------------------------------------------------------------------------------
def _mm(qual, a: Tensor, b: Tensor, ta=False, tb=False):
    """(float32 product with batch broadcasting, matmul work for the cost model)."""
    xa, xb = E.host_values(a), E.host_values(b)
    xa = xa.transpose(-1, -2) if ta and xa.dim() > 1 else xa
    xb = xb.transpose(-1, -2) if tb and xb.dim() > 1 else xb
    if xa.shape[-1] != xb.shape[-2 if xb.dim() > 1 else -1]:
        raise RuntimeError(f"{qual}: inner dimensions differ: {list(xa.shape)} @ {list(xb.shape)}")
    out = torch.matmul(xa, xb)
    m = xa.shape[-2] if xa.dim() > 1 else 1
    k = xa.shape[-1]
    n = xb.shape[-1] if xb.dim() > 1 else 1
    batch = out.numel() // max(1, m * n)
    return out, _work(a.device(), batch, m, k, n, MathFidelity.HiFi4, True, None, None), 2.0 * batch * m * k * n


def _matmul_impl(input, other, transpose_input=False, transpose_other=False, output=None, bias=None,
                 memory_config=None, compute_kernel_config=None):
    """input @ other (optionally transposed) (+ bias), fp32-accumulated."""
    qual = "ttnn.moreh_matmul"
    dev = require_device(qual, input, other)
    y, work, flops = _mm(qual, input, other, transpose_input, transpose_other)
    inputs = (input, other)
    if bias is not None:
        require_device(qual, bias)
        y = y + E.host_values(bias)
        inputs += (bias,)
    return _out(qual, y, input, dev, memory_config, inputs, output, flops=flops, matmul=work)


moreh_matmul = E.make_op("ttnn.moreh_matmul", "input, other, *, transpose_input=False, transpose_other=False, "
                         "output=None, bias=None, memory_config=None, compute_kernel_config=None", _matmul_impl,
                         lambda a, b, transpose_input=False, transpose_other=False, **k: torch.matmul(
                             a.float().mT if transpose_input else a.float(),
                             b.float().mT if transpose_other else b.float()))


def _bmm_impl(input, mat2, output=None, memory_config=None, compute_kernel_config=None):
    """Batched [B, M, K] @ [B, K, N]."""
    qual = "ttnn.moreh_bmm"
    dev = require_device(qual, input, mat2)
    _check(len(input.shape) == 3 and len(mat2.shape) == 3 and input.shape[0] == mat2.shape[0], qual,
           f"inputs must be [B, M, K] and [B, K, N], got {list(input.shape)} and {list(mat2.shape)}")
    y, work, flops = _mm(qual, input, mat2)
    return _out(qual, y, input, dev, memory_config, (input, mat2), output, flops=flops, matmul=work)


moreh_bmm = E.make_op("ttnn.moreh_bmm", "input, mat2, *, output=None, memory_config=None, compute_kernel_config=None",
                      _bmm_impl, lambda a, b, **k: torch.bmm(a.float(), b.float()))


def _linear_impl(input, weight, bias=None, output=None, memory_config=None, compute_kernel_config=None):
    """input @ weight^T + bias, torch.nn.functional.linear's convention (weight [out, in])."""
    qual = "ttnn.moreh_linear"
    dev = require_device(qual, input, weight)
    y, work, flops = _mm(qual, input, weight, tb=True)
    inputs = (input, weight)
    if bias is not None:
        require_device(qual, bias)
        y = y + E.host_values(bias).reshape(-1)
        inputs += (bias,)
    return _out(qual, y, input, dev, memory_config, inputs, output, flops=flops, matmul=work)


moreh_linear = E.make_op("ttnn.moreh_linear", "input, weight, *, bias=None, output=None, memory_config=None, "
                         "compute_kernel_config=None", _linear_impl,
                         lambda x, w, bias=None, **k: torch.nn.functional.linear(
                             x.float(), w.float(), None if bias is None else bias.float().reshape(-1)))


def _dot_impl(input_tensor_a, input_tensor_b, output=None, dtype=None, memory_config=None, compute_kernel_config=None):
    """The dot product of two [1, 1, 1, W] vectors, as a [1, 1, 1, 1] tensor."""
    qual = "ttnn.moreh_dot"
    dev = require_device(qual, input_tensor_a, input_tensor_b)
    a, b = E.host_values(input_tensor_a), E.host_values(input_tensor_b)
    _check(a.shape == b.shape and all(d == 1 for d in a.shape[:-1]), qual,
           f"inputs must be equal-shape vectors [1, ..., 1, W], got {list(a.shape)} and {list(b.shape)}")
    y = (a * b).sum().reshape([1] * a.dim())
    return _out(qual, y, input_tensor_a, dev, memory_config, (input_tensor_a, input_tensor_b), output, dtype=dtype,
                flops=2.0 * a.numel())


moreh_dot = E.make_op("ttnn.moreh_dot", "input_tensor_a, input_tensor_b, *, output=None, dtype=None, "
                      "memory_config=None, compute_kernel_config=None", _dot_impl,
                      lambda a, b, **k: torch.dot(a.float().reshape(-1), b.float().reshape(-1)))


# --- norms ----------------------------------------------------------------------------------------------------
def _dims(dim, rank, qual):
    if dim is None:
        return list(range(rank))
    return sorted({_dim(d, rank, qual) for d in ([dim] if isinstance(dim, int) else dim)})


def _norm_impl(input, p, dim=None, keepdim=False, output=None, memory_config=None, compute_kernel_config=None):
    """The p-norm over dims (all when None): (sum |x|^p)^(1/p); p = inf/-inf are max/min |x|, p = 0 counts non-zeros."""
    qual = "ttnn.moreh_norm"
    dev = require_device(qual, input)
    dims = _dims(dim, len(input.shape), qual)
    y = torch.linalg.vector_norm(E.host_values(input), ord=float(p), dim=dims, keepdim=keepdim)
    return _out(qual, y, input, dev, memory_config, (input,), output, cycles=10, )


moreh_norm = E.make_op("ttnn.moreh_norm", "input, p, *, dim=None, keepdim=False, output=None, memory_config=None, "
                       "compute_kernel_config=None", _norm_impl,
                       lambda x, p, dim=None, keepdim=False, **k: torch.linalg.vector_norm(x.float(), p, dim, keepdim))


def _norm_backward_impl(input, output, output_grad, p, dim=None, keepdim=False, input_grad=None, memory_config=None,
                        compute_kernel_config=None):
    """d||x||_p/dx * dy by autograd of the forward norm."""
    qual = "ttnn.moreh_norm_backward"
    dev = require_device(qual, input, output, output_grad)
    dims = _dims(dim, len(input.shape), qual)
    x = E.host_values(input).detach().requires_grad_(True)
    with torch.enable_grad():
        y = torch.linalg.vector_norm(x, ord=float(p), dim=dims, keepdim=keepdim)
        g = E.host_values(output_grad).reshape(y.shape)
        (gx,) = torch.autograd.grad(y, x, g)
    return _out(qual, gx, input, dev, memory_config, (input, output, output_grad), input_grad, cycles=10)


moreh_norm_backward = E.make_op("ttnn.moreh_norm_backward", "input, output, output_grad, p, *, dim=None, "
                                "keepdim=False, input_grad=None, memory_config=None, compute_kernel_config=None",
                                _norm_backward_impl)


def _abs_pow_impl(input, p, output=None, memory_config=None, compute_kernel_config=None):
    """|x| ** p."""
    qual = "ttnn.moreh_abs_pow"
    dev = require_device(qual, input)
    return _out(qual, E.host_values(input).abs().pow(float(p)), input, dev, memory_config, (input,), output, cycles=10)


moreh_abs_pow = E.make_op("ttnn.moreh_abs_pow", "input, p, *, output=None, memory_config=None, "
                          "compute_kernel_config=None", _abs_pow_impl, lambda x, p, **k: x.float().abs().pow(p))


# --- fills ----------------------------------------------------------------------------------------------------
def _full_impl(shape, fill_value, device, dtype=DataType.BFLOAT16, layout=Layout.TILE,
               memory_config=DRAM_MEMORY_CONFIG):
    out = new_device_tensor(torch.full(tuple(shape), float(fill_value)), dtype, layout, device, memory_config)
    record(device, "ttnn.moreh_full", operands=operands(out))
    return out


moreh_full = E.make_op("ttnn.moreh_full", "shape, fill_value, device, *, dtype=DataType.BFLOAT16, layout=Layout.TILE, "
                       "memory_config=DRAM_MEMORY_CONFIG", _full_impl, env=_ENV)


def _full_like_impl(input, fill_value, dtype=None, layout=None, memory_config=None):
    dev = require_device("ttnn.moreh_full_like", input)
    out = new_device_tensor(torch.full(tuple(input.shape), float(fill_value)), dtype or input.dtype,
                            layout or input.layout, dev, memory_config or input.memory_config())
    record(dev, "ttnn.moreh_full_like", operands=operands(out))
    return out


moreh_full_like = E.make_op("ttnn.moreh_full_like", "input, fill_value, dtype=None, layout=None, memory_config=None",
                            _full_like_impl, lambda x, v, **k: torch.full_like(x, v))


# --- reduction backward -----------------------------------------------------------------------------------------
def _sum_backward_impl(output_grad, input=None, dim=None, keepdim=False, input_grad=None, memory_config=None,
                       compute_kernel_config=None):
    """The sum's gradient: dy broadcast back over the reduced dims (the input shape from `input` or input_grad)."""
    qual = "ttnn.moreh_sum_backward"
    require_device(qual, output_grad)
    like = input if input is not None else input_grad
    _check(like is not None, qual, "pass input (or input_grad) to give the input shape")
    dev = require_device(qual, output_grad, like)
    shape = list(like.shape)
    dims = _dims(dim, len(shape), qual)
    g = E.host_values(output_grad)
    if not keepdim:
        for d in dims:
            g = g.unsqueeze(d)
    try:
        g = g.expand(shape).clone()
    except RuntimeError:
        raise RuntimeError(f"{qual}: output_grad of shape {list(output_grad.shape)} is not the sum of an input of "
                           f"shape {shape} over dims {dims} (keepdim={keepdim})") from None
    return _out(qual, g, like, dev, memory_config, (output_grad,), input_grad, cycles=1)


moreh_sum_backward = E.make_op("ttnn.moreh_sum_backward", "output_grad, *, input=None, dim=None, keepdim=False, "
                               "input_grad=None, memory_config=None, compute_kernel_config=None", _sum_backward_impl)


def _mean_backward_impl(output_grad, dim=None, keepdim=False, input_grad_shape=None, input_grad=None,
                        memory_config=None, compute_kernel_config=None):
    """dy / count broadcast back over the reduced dims."""
    qual = "ttnn.moreh_mean_backward"
    dev = require_device(qual, output_grad)
    shape = list(input_grad.shape) if input_grad is not None else list(input_grad_shape or [])
    _check(bool(shape), qual, "pass input_grad_shape (or input_grad) to give the input shape")
    dims = _dims(dim, len(shape), qual)
    g = E.host_values(output_grad)
    if not keepdim:
        for d in dims:
            g = g.unsqueeze(d)
    count = math.prod(shape[d] for d in dims)
    like = input_grad if input_grad is not None else output_grad
    return _out(qual, (g / count).expand(shape).clone(), like, dev, memory_config, (output_grad,), input_grad,
                cycles=2)


moreh_mean_backward = E.make_op("ttnn.moreh_mean_backward", "output_grad, *, dim=None, keepdim=False, "
                                "input_grad_shape=None, input_grad=None, memory_config=None, "
                                "compute_kernel_config=None",
                                _mean_backward_impl)


def _cumsum_backward_impl(output_grad, dim, input_grad=None, memory_config=None):
    """Reverse cumulative sum of dy along dim."""
    qual = "ttnn.moreh_cumsum_backward"
    dev = require_device(qual, output_grad)
    d = _dim(dim, len(output_grad.shape), qual)
    g = E.host_values(output_grad).flip(d).cumsum(d).flip(d)
    return _out(qual, g, output_grad, dev, memory_config, (output_grad,), input_grad, cycles=2)


moreh_cumsum_backward = E.make_op("ttnn.moreh_cumsum_backward", "output_grad, dim, *, input_grad=None, "
                                  "memory_config=None", _cumsum_backward_impl)


# --- matmul backward --------------------------------------------------------------------------------------------
def _autograd(fwd, leaves: list, grad: torch.Tensor):
    xs = [v.detach().requires_grad_(True) for v in leaves]
    with torch.enable_grad():
        y = fwd(*xs)
        return list(torch.autograd.grad(y, xs, grad.reshape(y.shape), allow_unused=True))


def _dot_backward_impl(output_grad, input, other, input_grad=None, other_grad=None, memory_config=None):
    qual = "ttnn.moreh_dot_backward"
    dev = require_device(qual, output_grad, input, other)
    a, b = E.host_values(input), E.host_values(other)
    g = E.host_values(output_grad).reshape(())
    return _many(qual, dev, [(g * b, input, input_grad, memory_config), (g * a, other, other_grad, memory_config)],
                 (output_grad, input, other), cycles=2)


moreh_dot_backward = E.make_op("ttnn.moreh_dot_backward", "output_grad, input, other, *, input_grad=None, "
                               "other_grad=None, memory_config=None", _dot_backward_impl)


def _mm_backward(qual, fwd, output_grad, tensors, outs, required, mcs):
    dev = require_device(qual, output_grad, *[t for t in tensors if t is not None])
    present = [t for t in tensors if t is not None]
    grads = _autograd(fwd, [E.host_values(t) for t in present], E.host_values(output_grad))
    pairs, k = [], 0
    for t, out, req, mc in zip(tensors, outs, required, mcs):
        if t is None:
            pairs.append((None, None, None, None))
            continue
        g = grads[k]
        k += 1
        pairs.append((g if req else None, t, out, mc))
    return _many(qual, dev, pairs, (output_grad, *present), cycles=4)


def _bmm_backward_impl(output_grad, input, mat2, are_required_outputs=None, input_grad=None, mat2_grad=None,
                       input_grad_memory_config=None, mat2_grad_memory_config=None, compute_kernel_config=None):
    req = list(are_required_outputs or [True, True])
    return _mm_backward("ttnn.moreh_bmm_backward", torch.bmm, output_grad, [input, mat2], [input_grad, mat2_grad],
                        req, [input_grad_memory_config, mat2_grad_memory_config])


moreh_bmm_backward = E.make_op("ttnn.moreh_bmm_backward", "output_grad, input, mat2, *, are_required_outputs=[True, "
                               "True], input_grad=None, mat2_grad=None, input_grad_memory_config=None, "
                               "mat2_grad_memory_config=None, compute_kernel_config=None", _bmm_backward_impl)


def _matmul_backward_impl(output_grad, input_a, input_b, are_required_outputs=None, input_a_grad=None,
                          input_b_grad=None, memory_config=None, compute_kernel_config=None):
    req = list(are_required_outputs or [True, True])
    return _mm_backward("ttnn.moreh_matmul_backward", torch.matmul, output_grad, [input_a, input_b],
                        [input_a_grad, input_b_grad], req, [memory_config, memory_config])


moreh_matmul_backward = E.make_op("ttnn.moreh_matmul_backward", "output_grad, input_a, input_b, *, "
                                  "are_required_outputs=[True, True], input_a_grad=None, input_b_grad=None, "
                                  "memory_config=None, compute_kernel_config=None", _matmul_backward_impl)


def _linear_backward_impl(output_grad, input, weight, are_required_outputs=None, bias=None, input_grad=None,
                          weight_grad=None, bias_grad=None, input_grad_memory_config=None,
                          weight_grad_memory_config=None, bias_grad_memory_config=None, compute_kernel_config=None):
    req = list(are_required_outputs or [True, True, True])

    def fwd(x, w, *b):
        return torch.nn.functional.linear(x, w, b[0].reshape(-1) if b else None)
    res = _mm_backward("ttnn.moreh_linear_backward", fwd, output_grad, [input, weight, bias],
                       [input_grad, weight_grad, bias_grad], req,
                       [input_grad_memory_config, weight_grad_memory_config, bias_grad_memory_config])
    return res


moreh_linear_backward = E.make_op(
    "ttnn.moreh_linear_backward", "output_grad, input, weight, *, are_required_outputs=[True, True, True], bias=None, "
    "input_grad=None, weight_grad=None, bias_grad=None, input_grad_memory_config=None, weight_grad_memory_config=None, "
    "bias_grad_memory_config=None, compute_kernel_config=None", _linear_backward_impl)


# --- layer / group norm ----------------------------------------------------------------------------------------
def _stats(x, dims, eps):
    mean = x.mean(dims, keepdim=True)
    rstd = torch.rsqrt(x.var(dims, keepdim=True, correction=0) + eps)
    return mean, rstd


def _layer_norm_impl(input, normalized_dims, eps=1e-05, gamma=None, beta=None, output=None, mean=None, rstd=None,
                     memory_config=None, compute_kernel_config=None):
    """Layer norm over the last `normalized_dims` dims; returns [output, mean, rstd] (statistics keep the
    normalised dims as size 1)."""
    qual = "ttnn.moreh_layer_norm"
    dev = require_device(qual, input)
    x = E.host_values(input)
    _check(1 <= int(normalized_dims) <= x.dim(), qual, f"normalized_dims must be in [1, {x.dim()}]")
    dims = list(range(x.dim() - int(normalized_dims), x.dim()))
    m, r = _stats(x, dims, float(eps))
    y = (x - m) * r
    inputs = [input]
    for p, op in ((gamma, torch.mul), (beta, torch.add)):
        if p is not None:
            require_device(qual, p)
            y = op(y, E.host_values(p).reshape(x.shape[dims[0]:]))
            inputs.append(p)
    return _many(qual, dev, [(y, input, output, memory_config), (m, input, mean, memory_config),
                             (r, input, rstd, memory_config)], inputs, cycles=8)


moreh_layer_norm = E.make_op("ttnn.moreh_layer_norm", "input, normalized_dims, eps=9.999999747378752e-06, gamma=None, "
                             "beta=None, *, output=None, mean=None, rstd=None, memory_config=None, "
                             "compute_kernel_config=None", _layer_norm_impl)


def _layer_norm_backward_impl(output_grad, input, mean, rstd, normalized_dims, gamma=None, input_grad=None,
                              gamma_grad=None, beta_grad=None, memory_config=None, compute_kernel_config=None):
    """[input_grad, gamma_grad, beta_grad] from the saved mean/rstd (by autograd of the normalisation)."""
    qual = "ttnn.moreh_layer_norm_backward"
    dev = require_device(qual, output_grad, input, mean, rstd)
    x = E.host_values(input)
    n = int(normalized_dims)
    dims = list(range(x.dim() - n, x.dim()))
    stat_shape = [*x.shape[:-n], *[1] * n]
    m, r = E.host_values(mean).reshape(stat_shape), E.host_values(rstd).reshape(stat_shape)
    g = E.host_values(output_grad)
    xhat = (x - m) * r
    w = E.host_values(gamma).reshape(x.shape[-n:]) if gamma is not None else torch.ones(x.shape[-n:])
    dxhat = g * w
    count = math.prod(x.shape[-n:])
    dx = r / count * (count * dxhat - dxhat.sum(dims, keepdim=True) - xhat * (dxhat * xhat).sum(dims, keepdim=True))
    batch = list(range(x.dim() - n))
    dgamma = (g * xhat).sum(batch) if gamma is not None else None
    dbeta = g.sum(batch)
    like_g = gamma if gamma is not None else input
    if gamma is not None:
        dgamma, dbeta = dgamma.reshape(gamma.shape), dbeta.reshape(gamma.shape)
    inputs = (output_grad, input, mean, rstd) + ((gamma,) if gamma is not None else ())
    return _many(qual, dev, [(dx, input, input_grad, memory_config), (dgamma, like_g, gamma_grad, memory_config),
                             (dbeta, like_g, beta_grad, memory_config)], inputs, cycles=10)


moreh_layer_norm_backward = E.make_op(
    "ttnn.moreh_layer_norm_backward", "output_grad, input, mean, rstd, normalized_dims, *, gamma=None, "
    "input_grad=None, gamma_grad=None, beta_grad=None, memory_config=None, compute_kernel_config=None", _layer_norm_backward_impl)


def _group_norm_impl(input, num_groups, eps=1e-05, gamma=None, beta=None, are_required_outputs=None, output=None,
                     mean=None, rstd=None, memory_config=None, mean_memory_config=None, rstd_memory_config=None,
                     compute_kernel_config=None):
    """Group norm of [N, C, H, W] input; returns [output, mean, rstd] ([N, num_groups] statistics), None for the
    outputs are_required_outputs leaves out."""
    qual = "ttnn.moreh_group_norm"
    dev = require_device(qual, input)
    x = E.host_values(input)
    _check(x.dim() >= 2 and x.shape[1] % int(num_groups) == 0, qual,
           f"channels ({x.shape[1] if x.dim() > 1 else '?'}) must divide into num_groups ({num_groups})")
    n, c = x.shape[:2]
    xg = x.reshape(n, int(num_groups), -1)
    m, r = _stats(xg, [2], float(eps))
    y = ((xg - m) * r).reshape(x.shape)
    shape_c = [1, c] + [1] * (x.dim() - 2)
    inputs = [input]
    for p, op in ((gamma, torch.mul), (beta, torch.add)):
        if p is not None:
            y = op(y, E.host_values(p).reshape(shape_c))
            inputs.append(p)
    req = list(are_required_outputs or [True, False, False])
    return _many(qual, dev, [(y if req[0] else None, input, output, memory_config),
                             (m.reshape(n, -1) if req[1] else None, input, mean, mean_memory_config),
                             (r.reshape(n, -1) if req[2] else None, input, rstd, rstd_memory_config)], inputs, cycles=8)


moreh_group_norm = E.make_op(
    "ttnn.moreh_group_norm", "input, num_groups, eps=9.999999747378752e-06, gamma=None, beta=None, *, "
    "are_required_outputs=[True, False, False], output=None, mean=None, rstd=None, memory_config=None, "
    "mean_memory_config=None, rstd_memory_config=None, compute_kernel_config=None", _group_norm_impl)


def _group_norm_backward_impl(output_grad, input, mean, rstd, num_groups, are_required_outputs=None, gamma=None,
                              input_grad=None, gamma_grad=None, beta_grad=None, input_grad_memory_config=None,
                              gamma_grad_memory_config=None, beta_grad_memory_config=None, compute_kernel_config=None):
    """[input_grad, gamma_grad, beta_grad] by autograd of the group norm."""
    qual = "ttnn.moreh_group_norm_backward"
    dev = require_device(qual, output_grad, input, mean, rstd)
    x, g = E.host_values(input), E.host_values(output_grad)
    c = x.shape[1]
    w = E.host_values(gamma).reshape(-1) if gamma is not None else torch.ones(c)
    b = torch.zeros(c)
    n = x.shape[0]
    r = E.host_values(rstd).reshape(n, int(num_groups), 1)  # eps is folded into the saved rstd

    def fwd(xx, ww, bb):
        xg = xx.reshape(n, int(num_groups), -1)
        mu = xg.mean(2, keepdim=True)
        # rstd as saved (its eps included), with the dependence on x through the variance kept for the gradient
        var = xg.var(2, keepdim=True, correction=0)
        eps = (1.0 / (r * r) - var).detach()
        y = ((xg - mu) * torch.rsqrt(var + eps)).reshape(xx.shape)
        shape_c = [1, c] + [1] * (xx.dim() - 2)
        return y * ww.reshape(shape_c) + bb.reshape(shape_c)
    dx, dw, db = _autograd(fwd, [x, w, b], g)
    req = list(are_required_outputs or [True, False, False])
    like_g = gamma if gamma is not None else input
    inputs = (output_grad, input, mean, rstd) + ((gamma,) if gamma is not None else ())
    return _many(qual, dev, [(dx if req[0] else None, input, input_grad, input_grad_memory_config),
                             (dw.reshape(like_g.shape) if req[1] and gamma is not None else dw if req[1] else None,
                              like_g, gamma_grad, gamma_grad_memory_config),
                             (db.reshape(like_g.shape) if req[2] and gamma is not None else db if req[2] else None,
                              like_g, beta_grad, beta_grad_memory_config)], inputs, cycles=10)


moreh_group_norm_backward = E.make_op(
    "ttnn.moreh_group_norm_backward", "output_grad, input, mean, rstd, num_groups, *, are_required_outputs=[True, "
    "False, False], gamma=None, input_grad=None, gamma_grad=None, beta_grad=None, input_grad_memory_config=None, "
    "gamma_grad_memory_config=None, beta_grad_memory_config=None, compute_kernel_config=None",
    _group_norm_backward_impl)


# --- NLL loss -------------------------------------------------------------------------------------------------
def _nll_parts(qual, input_tensor, target_tensor, weight_tensor, ignore_index):
    x = E.host_values(input_tensor)
    t = target_tensor.value.to(torch.int64)
    c = x.shape[1]
    w = E.host_values(weight_tensor).reshape(-1) if weight_tensor is not None else torch.ones(c)
    valid = t != ignore_index
    tc = torch.where(valid, t, torch.zeros_like(t))
    _check(bool(((tc >= 0) & (tc < c)).all()), qual, f"target values must be class ids in [0, {c})")
    wt = w[tc] * valid
    return x, tc, wt


def _nll_loss_impl(input_tensor, target_tensor, reduction, weight_tensor=None, divisor_tensor=None,
                   output_tensor=None, ignore_index=-100, memory_config=None, compute_kernel_config=None):
    """Negative log-likelihood of log-probabilities [N, C, ...] at integer targets [N, ...]; reduction "none",
    "sum" or "mean" (mean divides by the summed weights of non-ignored targets, as torch does)."""
    qual = "ttnn.moreh_nll_loss"
    dev = require_device(qual, input_tensor, target_tensor)
    _check(reduction in ("none", "sum", "mean"), qual, f"reduction must be 'none', 'sum' or 'mean', got {reduction!r}")
    x, tc, wt = _nll_parts(qual, input_tensor, target_tensor, weight_tensor, ignore_index)
    loss = -x.gather(1, tc.unsqueeze(1)).squeeze(1) * wt
    if reduction == "sum":
        loss = loss.sum().reshape([1])
    elif reduction == "mean":
        loss = (loss.sum() / wt.sum()).reshape([1])
    return _out(qual, loss, input_tensor, dev, memory_config, (input_tensor, target_tensor), output_tensor, cycles=4)


moreh_nll_loss = E.make_op("ttnn.moreh_nll_loss", "input_tensor, target_tensor, reduction, *, weight_tensor=None, "
                           "divisor_tensor=None, output_tensor=None, ignore_index=-100, memory_config=None, "
                           "compute_kernel_config=None", _nll_loss_impl,
                           lambda x, t, reduction, weight_tensor=None, ignore_index=-100, **k:
                           torch.nn.functional.nll_loss(x.float(), t.long(), weight_tensor, ignore_index=ignore_index,
                                                        reduction=reduction))


def _nll_grad(qual, target_tensor, output_grad_tensor, weight_tensor, ignore_index, input_grad_tensor, shape_like,
              scale):
    t = target_tensor.value.to(torch.int64)
    if input_grad_tensor is None:
        raise RuntimeError(f"{qual}: pass input_grad_tensor (its shape [N, C, ...] is the input's)")
    shape = list(input_grad_tensor.shape)
    c = shape[1]
    w = E.host_values(weight_tensor).reshape(-1) if weight_tensor is not None else torch.ones(c)
    valid = t != ignore_index
    tc = torch.where(valid, t, torch.zeros_like(t))
    wt = w[tc] * valid
    g = torch.zeros(shape)
    g.scatter_(1, tc.unsqueeze(1), (-wt * scale(wt)).unsqueeze(1))
    return g


def _nll_backward_impl(target_tensor, output_grad_tensor, reduction_mean, weight_tensor=None, input_grad_tensor=None,
                       divisor_tensor=None, ignore_index=-100, memory_config=None, compute_kernel_config=None):
    """The reduced NLL loss's input gradient: -w[target] * dy (/ sum of weights for mean) at the target class."""
    qual = "ttnn.moreh_nll_loss_backward"
    dev = require_device(qual, target_tensor, output_grad_tensor)
    dy = E.host_values(output_grad_tensor).reshape(-1)[0]
    g = _nll_grad(qual, target_tensor, output_grad_tensor, weight_tensor, ignore_index, input_grad_tensor, None,
                  lambda wt: dy / wt.sum() if reduction_mean else dy)
    return _out(qual, g, input_grad_tensor, dev, memory_config, (target_tensor, output_grad_tensor),
                input_grad_tensor, cycles=2)


moreh_nll_loss_backward = E.make_op(
    "ttnn.moreh_nll_loss_backward", "target_tensor, output_grad_tensor, reduction_mean, *, weight_tensor=None, "
    "input_grad_tensor=None, divisor_tensor=None, ignore_index=-100, memory_config=None, compute_kernel_config=None",
    _nll_backward_impl)


def _nll_unreduced_backward_impl(target_tensor, output_grad_tensor, weight_tensor=None, input_grad_tensor=None,
                                 ignore_index=-100, memory_config=None, compute_kernel_config=None):
    """The unreduced NLL loss's input gradient: -w[target] * dy[n] at each target class."""
    qual = "ttnn.moreh_nll_loss_unreduced_backward"
    dev = require_device(qual, target_tensor, output_grad_tensor)
    dy = E.host_values(output_grad_tensor)
    g = _nll_grad(qual, target_tensor, output_grad_tensor, weight_tensor, ignore_index, input_grad_tensor, None,
                  lambda wt: dy)
    return _out(qual, g, input_grad_tensor, dev, memory_config, (target_tensor, output_grad_tensor),
                input_grad_tensor, cycles=2)


moreh_nll_loss_unreduced_backward = E.make_op(
    "ttnn.moreh_nll_loss_unreduced_backward", "target_tensor, output_grad_tensor, *, weight_tensor=None, "
    "input_grad_tensor=None, ignore_index=-100, memory_config=None, compute_kernel_config=None",
    _nll_unreduced_backward_impl)


# --- optimizers ---------------------------------------------------------------------------------------------------
def _sgd_impl(param_in, grad, momentum_buffer_in=None, param_out=None, momentum_buffer_out=None, lr=0.001,
              momentum=0, dampening=0, weight_decay=0, nesterov=False, momentum_initialized=None,
              param_out_memory_config=None, momentum_buffer_out_memory_config=None, compute_kernel_config=None):
    """One torch.optim.SGD step; returns [param_out, momentum_buffer_out] (the buffer None without momentum)."""
    qual = "ttnn.moreh_sgd"
    dev = require_device(qual, param_in, grad)
    p, g = E.host_values(param_in), E.host_values(grad)
    if weight_decay:
        g = g + weight_decay * p
    buf = None
    if momentum:
        if momentum_initialized:
            _check(momentum_buffer_in is not None, qual, "momentum_initialized needs momentum_buffer_in")
            buf = momentum * E.host_values(momentum_buffer_in) + (1 - dampening) * g
        else:
            buf = g.clone()
        g = g + momentum * buf if nesterov else buf
    out_p = p - lr * g
    inputs = (param_in, grad) + ((momentum_buffer_in,) if momentum_buffer_in is not None else ())
    return _many(qual, dev, [(out_p, param_in, param_out, param_out_memory_config),
                             (buf, param_in, momentum_buffer_out, momentum_buffer_out_memory_config)], inputs)


moreh_sgd = E.make_op("ttnn.moreh_sgd", "param_in, grad, momentum_buffer_in=None, param_out=None, "
                      "momentum_buffer_out=None, lr=0.001, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, "
                      "momentum_initialized, param_out_memory_config=None, momentum_buffer_out_memory_config=None, "
                      "compute_kernel_config=None", _sgd_impl)


def _adam_step(qual, param_in, grad, exp_avg_in, exp_avg_sq_in, lr, beta1, beta2, eps, weight_decay, step, amsgrad,
               max_exp_avg_sq_in, decoupled):
    _check(int(step) >= 1, qual, f"step must be >= 1 (the step being taken, used for bias correction), got {step}")
    p, g = E.host_values(param_in), E.host_values(grad)
    if decoupled:
        p = p * (1 - lr * weight_decay)
    elif weight_decay:
        g = g + weight_decay * p
    m = beta1 * E.host_values(exp_avg_in) + (1 - beta1) * g
    v = beta2 * E.host_values(exp_avg_sq_in) + (1 - beta2) * g * g
    bc1, bc2 = 1 - beta1 ** int(step), 1 - beta2 ** int(step)
    vmax = None
    if amsgrad:
        _check(max_exp_avg_sq_in is not None, qual, "amsgrad needs max_exp_avg_sq_in")
        vmax = torch.maximum(E.host_values(max_exp_avg_sq_in), v)
        denom = (vmax / bc2).sqrt() + eps
    else:
        denom = (v / bc2).sqrt() + eps
    return p - lr * (m / bc1) / denom, m, v, vmax


def _adam_like(qual, decoupled):
    def impl(param_in, grad, exp_avg_in, exp_avg_sq_in, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08,
             weight_decay=0.0, step=0, amsgrad=False, max_exp_avg_sq_in=None, param_out=None, exp_avg_out=None,
             exp_avg_sq_out=None, max_exp_avg_sq_out=None, memory_config=None, compute_kernel_config=None):
        """One torch.optim.Adam (AdamW: decoupled weight decay) step; returns [param, exp_avg, exp_avg_sq,
        max_exp_avg_sq (amsgrad only)]."""
        tensors = [t for t in (param_in, grad, exp_avg_in, exp_avg_sq_in, max_exp_avg_sq_in) if t is not None]
        dev = require_device(qual, *tensors)
        p, m, v, vmax = _adam_step(qual, param_in, grad, exp_avg_in, exp_avg_sq_in, float(lr), float(beta1),
                                   float(beta2), float(eps), float(weight_decay), step, amsgrad, max_exp_avg_sq_in,
                                   decoupled)
        return _many(qual, dev, [(p, param_in, param_out, memory_config), (m, exp_avg_in, exp_avg_out, memory_config),
                                 (v, exp_avg_sq_in, exp_avg_sq_out, memory_config),
                                 (vmax, exp_avg_sq_in, max_exp_avg_sq_out, memory_config)], tensors, cycles=12)
    return impl


_ADAM_TAIL = ("max_exp_avg_sq_in=None, param_out=None, exp_avg_out=None, exp_avg_sq_out=None, "
              "max_exp_avg_sq_out=None, memory_config=None, compute_kernel_config=None")
moreh_adam = E.make_op("ttnn.moreh_adam", "param_in, grad, exp_avg_in, exp_avg_sq_in, *, lr=0.0010000000474974513, "
                       "beta1=0.8999999761581421, beta2=0.9990000128746033, eps=9.99999993922529e-09, "
                       f"weight_decay=0.0, step=0, amsgrad=False, {_ADAM_TAIL}", _adam_like("ttnn.moreh_adam", False))
moreh_adamw = E.make_op("ttnn.moreh_adamw", "param_in, grad, exp_avg_in, exp_avg_sq_in, lr=0.0010000000474974513, "
                        "beta1=0.8999999761581421, beta2=0.9990000128746033, eps=9.99999993922529e-09, "
                        f"weight_decay=0.009999999776482582, step=0, amsgrad=False, *, {_ADAM_TAIL}",
                        _adam_like("ttnn.moreh_adamw", True))


def _clip_grad_norm_impl(inputs, max_norm, norm_type=2.0, error_if_nonfinite=False, total_norm=None,
                         memory_config=None, compute_kernel_config=None):
    """Scale every gradient in `inputs` in place so their joint norm is at most max_norm (torch's
    clip_grad_norm_); returns the total norm as a [1, 1] tensor."""
    qual = "ttnn.moreh_clip_grad_norm"
    _check(len(inputs) > 0, qual, "inputs must not be empty")
    dev = require_device(qual, *inputs)
    vals = [E.host_values(t) for t in inputs]
    p = float(norm_type)
    norms = torch.stack([torch.linalg.vector_norm(v, p) for v in vals])
    total = torch.linalg.vector_norm(norms, p)
    if error_if_nonfinite and not torch.isfinite(total):
        raise RuntimeError(f"{qual}: the total norm of order {norm_type} is non-finite; pass "
                           f"error_if_nonfinite=False to clip anyway")
    coef = torch.clamp(float(max_norm) / (total + 1e-6), max=1.0)
    for t, v in zip(inputs, vals):
        t._values = formats.to_device_format(v * coef, t.dtype, t.layout)
    return _out(qual, total.reshape(1, 1), inputs[0], dev, memory_config, tuple(inputs), total_norm, cycles=6)


moreh_clip_grad_norm = E.make_op("ttnn.moreh_clip_grad_norm", "inputs, max_norm, norm_type=2.0, "
                                 "error_if_nonfinite=False, *, total_norm=None, memory_config=None, "
                                 "compute_kernel_config=None", _clip_grad_norm_impl)
