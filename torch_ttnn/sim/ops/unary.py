"""Element-wise unary operations (ttnn.relu, ttnn.exp, ...), generated from one table.

On the device these run on the vector engine (SFPU), which computes in float32 from exactly unpacked inputs
(bfloat16/block-float unpack losslessly), so the emulator computes in float32 and rounds once to the output
dtype. Approximate modes run the card's approximate algorithm (sim/ops/_sfpu_approx.py, from the 0.81.1 kernel
sources): exp(fast_and_approximate_mode=True) is Schraudolph's exp (~3% relative error); tanh(fast...) a
6-segment linear fit; sigmoid(mode=FastApproximate) a 3-segment LUT; sigmoid(mode=AccurateWithFastExp) and
sigmoid_accurate(fast...) 1/(1 + fast exp(-x)); gelu(fast...) / variant=FastLut the 6-segment LUT GELU and
variant=Tanh the tanh formula; sqrt/rsqrt(fast...) only drop the negative-input guard. Flags whose kernels
differ from the accurate ones by less than a bfloat16 rounding (log/log1p/log2/log10: only -0/denormal
normalisation; erf and mish: a one-step instead of two-step reciprocal, ~1e-4 relative) are computed exactly.
The accurate modes are torch's float32 functions rounded once (the SFPU's own polynomials are not modelled).
Cycle costs per value are estimates for the cost model (simple ops 1, exp/log ~8-10, trigonometry ~16), not
measurements.
Signatures: read from ttnn 0.81.1. Layouts: TILE and ROW_MAJOR are both accepted (the real unary ops
run on either interleaved layout).
"""
from __future__ import annotations

import torch

from ..tensor import Tensor, require_device
from ..types import INTEGERS, TILE_SIZE, DataType, Layout
from . import _eltwise as E
from . import _sfpu_approx as A
from ._eltwise import GeluVariant, SigmoidMode, UnaryOpType, UnaryWithParam  # noqa: F401  (ttnn names)

_TAIL = "memory_config=None, output_tensor=None, sub_core_grids=None"
_PLAIN = f"input_tensor, *, {_TAIL}"
_FAST = f"input_tensor, *, fast_and_approximate_mode=False, {_TAIL}"


def _gelu(x, variant=GeluVariant.Accurate, fast_and_approximate_mode=False):
    """The exact GELU of the chosen form: erf (Accurate) or tanh (Tanh). FastLut is a device approximation of
    the erf form (see _APPROX), so its golden/exact value is the erf form."""
    return torch.nn.functional.gelu(x, approximate="tanh" if variant == GeluVariant.Tanh else "none")


def _approx_when(flag_name, fn):
    """An approximate path taken when the op's `flag_name` parameter is true."""
    return lambda x, dst_fp32, **p: fn(x, dst_fp32) if p.get(flag_name) else None


def _gelu_approx(x, dst_fp32, variant=GeluVariant.Accurate, fast_and_approximate_mode=False, **_):
    """gelu: fast_and_approximate_mode=True is the legacy alias of variant=FastLut (0.81.1 docstring)."""
    if fast_and_approximate_mode or variant == GeluVariant.FastLut:
        return A.gelu_fast(x, dst_fp32)
    return None


def _sigmoid_approx(x, dst_fp32, mode=None, **_):
    if mode == SigmoidMode.FastApproximate:
        return A.sigmoid_fast(x, dst_fp32)
    if mode == SigmoidMode.AccurateWithFastExp:
        return A.sigmoid_fast_exp(x, dst_fp32)
    return None


# name -> approximate path: f(x, dst_fp32, **op params) -> values, or None when the params ask for the exact op.
# dst_fp32: whether the op's Dst register is float32 (a float32 input), which decides how the kernel's
# unrounded result is stored. Only ops whose approximate kernel differs visibly from the accurate one are here.
_APPROX = {
    "exp": _approx_when("fast_and_approximate_mode", A.exp_fast),
    "tanh": _approx_when("fast_and_approximate_mode", A.tanh_fast),
    "sqrt": _approx_when("fast_and_approximate_mode", lambda x, d: A.sqrt_fast(x)),
    "rsqrt": _approx_when("fast_and_approximate_mode", lambda x, d: A.rsqrt_fast(x)),
    "sigmoid_accurate": _approx_when("fast_and_approximate_mode", A.sigmoid_fast_exp),
    "sigmoid": _sigmoid_approx,
    "gelu": _gelu_approx,
}


def _round(x, decimals=0):
    return torch.round(x, decimals=int(decimals or 0))


def _logit(x, eps=None):
    return torch.logit(x, eps=eps)


def _cmpz(op):
    return lambda x: op(x, 0).to(x.dtype)


def _flag(fn):
    return lambda x: fn(x).to(x.dtype)


def _xielu(x, alpha_p=0.8, alpha_n=0.8):
    """xIELU with beta 0.5 and eps -1e-6: quadratic for x > 0, an expm1 tail below (the real golden's form)."""
    pos = alpha_p * x * x + 0.5 * x
    neg = alpha_n * torch.expm1(torch.clamp(x, max=-1e-6)) - alpha_n * x + 0.5 * x
    return torch.where(x > 0, pos, neg)


def _rotate90(x):
    """Multiply interleaved (real, imag) pairs of the last dim by i: (a, b) -> (-b, a)."""
    if x.shape[-1] % 2:
        raise RuntimeError(f"ttnn.alt_complex_rotate90: the last dimension must be even (interleaved real/imag "
                           f"pairs), got {x.shape[-1]}")
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    return torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).reshape(x.shape)


def _multigammaln(x):
    """log of the multivariate gamma function of order 4, as the device's composite sums it."""
    return torch.lgamma(x) + torch.lgamma(x - 0.5) + torch.lgamma(x - 1.0) + torch.lgamma(x - 1.5) + 3.434189657547


def _rdiv(x, value, rounding_mode=None):
    if rounding_mode not in (None, "trunc", "floor"):
        raise RuntimeError(f"ttnn.rdiv: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    return torch.div(torch.full_like(x, float(value)), x, rounding_mode=rounding_mode)


def _normalize(dims):
    def fn(x):
        if len(dims) == 4 and x.dim() != 4:
            raise RuntimeError(f"ttnn.normalize_global: input must be 4D, got rank {x.dim()}")
        mean = x.mean(dims, keepdim=True)
        return (x - mean) / x.std(dims, keepdim=True, correction=0)
    return fn


def _hw_stat(take_sqrt):
    """Variance over H and W as the device computes it: squared deviations of the logical elements summed, then
    divided by the tile-padded area (so non-tile-aligned planes come out scaled by logical/padded area)."""
    def fn(x):
        h, w = x.shape[-2:]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        var = torch.var(x, dim=(-2, -1), keepdim=True, correction=0) * (h * w) / (ph * pw)
        return torch.sqrt(var) if take_sqrt else var
    return fn


_F = torch.nn.functional
# name -> (params, compute(x, **op params) on float32/float64 values, SFPU cycles per value, golden or None).
_TABLE = {
    "abs": (_PLAIN, torch.abs, 1),
    "neg": (_PLAIN, torch.neg, 1),
    "exp": (_FAST, lambda x, fast_and_approximate_mode=False: torch.exp(x), 8),
    "expm1": (_PLAIN, torch.expm1, 10),
    "exp2": (_PLAIN, torch.exp2, 8),
    "log": (_FAST, lambda x, fast_and_approximate_mode=False: torch.log(x), 10),
    "log1p": (_FAST, lambda x, fast_and_approximate_mode=False: torch.log1p(x), 12),
    "log2": (_FAST, lambda x, fast_and_approximate_mode=False: torch.log2(x), 10),
    "log10": (_FAST, lambda x, fast_and_approximate_mode=False: torch.log10(x), 10),
    "sqrt": (_FAST, lambda x, fast_and_approximate_mode=False: torch.sqrt(x), 8),
    "rsqrt": (_FAST, lambda x, fast_and_approximate_mode=False: torch.rsqrt(x), 8),
    "reciprocal": (_PLAIN, torch.reciprocal, 8),
    "square": (_PLAIN, torch.square, 1),
    "sin": (_PLAIN, torch.sin, 16),
    "cos": (_PLAIN, torch.cos, 16),
    "tan": (_PLAIN, torch.tan, 20),
    "asin": (_PLAIN, torch.asin, 16),
    "acos": (_PLAIN, torch.acos, 16),
    "atan": (_PLAIN, torch.atan, 16),
    "sinh": (_PLAIN, torch.sinh, 16),
    "cosh": (_PLAIN, torch.cosh, 16),
    "tanh": (f"input_tensor, *, memory_config=None, output_tensor=None, fast_and_approximate_mode=False, "
             f"sub_core_grids=None", lambda x, fast_and_approximate_mode=False: torch.tanh(x), 10),
    "asinh": (_PLAIN, torch.asinh, 20),
    "acosh": (_PLAIN, torch.acosh, 20),
    "atanh": (_PLAIN, torch.atanh, 20),
    "sigmoid": (f"input_tensor, *, vector_mode=4, mode=SigmoidMode.Accurate, {_TAIL}",
                lambda x, vector_mode=4, mode=None: torch.sigmoid(x), 10),
    "sigmoid_accurate": (f"input_tensor, fast_and_approximate_mode=False, *, {_TAIL}",
                         lambda x, fast_and_approximate_mode=False: torch.sigmoid(x), 12),
    "log_sigmoid": (_PLAIN, _F.logsigmoid, 14),
    "hardsigmoid": (_PLAIN, _F.hardsigmoid, 2),
    "hardswish": (_PLAIN, _F.hardswish, 3),
    "hardtanh": (f"input_tensor, *, min_val=-1.0, max_val=1.0, {_TAIL}",
                 lambda x, min_val=-1.0, max_val=1.0: torch.clamp(x, min_val, max_val), 2),
    "relu": (_PLAIN, torch.relu, 1),
    "relu6": (_PLAIN, lambda x: torch.clamp(x, 0.0, 6.0), 2),
    "relu_max": (f"input_tensor, upper_limit, *, {_TAIL}", lambda x, upper_limit: torch.clamp(x, 0.0, upper_limit), 2),
    "relu_min": (f"input_tensor, lower_limit, *, {_TAIL}",
                 lambda x, lower_limit: torch.clamp(x, min=lower_limit), 2),
    "leaky_relu": (f"input_tensor, negative_slope, *, {_TAIL}",
                   lambda x, negative_slope: _F.leaky_relu(x, negative_slope), 2),
    "elu": (f"input_tensor, *, alpha=1.0, {_TAIL}", lambda x, alpha=1.0: _F.elu(x, alpha), 10),
    "celu": (f"input_tensor, *, alpha=1.0, {_TAIL}", lambda x, alpha=1.0: _F.celu(x, alpha), 10),
    "selu": (f"input_tensor, *, scale=1.0506999492645264, alpha=1.673259973526001, {_TAIL}",
             lambda x, scale=1.0506999492645264, alpha=1.673259973526001:
             scale * torch.where(x > 0, x, alpha * torch.expm1(x)), 10),
    "gelu": (f"input_tensor, *, variant=GeluVariant.Accurate, fast_and_approximate_mode=False, {_TAIL}", _gelu, 14),
    "silu": (_PLAIN, _F.silu, 12),
    "mish": (_FAST, lambda x, fast_and_approximate_mode=False: _F.mish(x), 20),
    "softplus": (f"input_tensor, *, beta=1.0, threshold=20.0, {_TAIL}",
                 lambda x, beta=1.0, threshold=20.0: _F.softplus(x, beta, threshold), 16),
    "softsign": (_PLAIN, _F.softsign, 10),
    "tanhshrink": (_PLAIN, _F.tanhshrink, 12),
    "hardshrink": (f"input_tensor, *, lambd=0.5, {_TAIL}", lambda x, lambd=0.5: _F.hardshrink(x, lambd), 2),
    "softshrink": (f"input_tensor, *, lambd=0.5, {_TAIL}", lambda x, lambd=0.5: _F.softshrink(x, lambd), 2),
    "threshold": (f"input_tensor, threshold, value, *, {_TAIL}",
                  lambda x, threshold, value: torch.where(x > threshold, x, torch.full_like(x, value)), 2),
    "heaviside": (f"input_tensor, value, *, {_TAIL}",
                  lambda x, value: torch.heaviside(x, torch.tensor(float(value), dtype=x.dtype)), 2),
    "erf": (_FAST, lambda x, fast_and_approximate_mode=False: torch.erf(x), 12),
    "erfc": (_PLAIN, torch.erfc, 12),
    "logit": (f"input_tensor, *, eps=None, {_TAIL}", _logit, 14),
    "cbrt": (_PLAIN, lambda x: torch.sign(x) * torch.abs(x).pow(1.0 / 3.0), 12),
    "i0": (_PLAIN, torch.special.i0, 20),
    "lgamma": (_PLAIN, torch.lgamma, 24),
    "digamma": (_PLAIN, torch.digamma, 24),
    "deg2rad": (_PLAIN, torch.deg2rad, 1),
    "rad2deg": (_PLAIN, torch.rad2deg, 1),
    "sign": (_PLAIN, torch.sign, 2),
    "signbit": (_PLAIN, _flag(torch.signbit), 1),
    "floor": (_PLAIN, torch.floor, 2),
    "ceil": (_PLAIN, torch.ceil, 2),
    "trunc": (_PLAIN, torch.trunc, 2),
    "frac": (_PLAIN, torch.frac, 2),
    "round": (f"input_tensor, *, decimals=0, {_TAIL}", _round, 4),
    "isnan": (_PLAIN, _flag(torch.isnan), 1),
    "isinf": (_PLAIN, _flag(torch.isinf), 1),
    "isfinite": (_PLAIN, _flag(torch.isfinite), 1),
    "logical_not": (_PLAIN, _flag(torch.logical_not), 1),
    "eqz": (_PLAIN, _cmpz(torch.eq), 1),
    "nez": (_PLAIN, _cmpz(torch.ne), 1),
    "gtz": (_PLAIN, _cmpz(torch.gt), 1),
    "gez": (_PLAIN, _cmpz(torch.ge), 1),
    "ltz": (_PLAIN, _cmpz(torch.lt), 1),
    "lez": (_PLAIN, _cmpz(torch.le), 1),
    # TT-NN-specific unaries: formulas from the real package's golden functions (ttnn/operations/unary.py)
    "erfinv": (_PLAIN, torch.erfinv, 14),
    "polygamma": ("input_tensor, k, *, memory_config=None", lambda x, k: torch.special.polygamma(int(k), x), 40),
    "xielu": (f"input_tensor, *, alpha_p=0.800000011920929, alpha_n=0.800000011920929, {_TAIL}", _xielu, 12),
    "hardmish": (_PLAIN, lambda x: x * torch.clamp(x * 0.5 + 1.0, 0.0, 1.0), 3),
    "i1": (_PLAIN, lambda x: torch.special.i1(torch.clamp(x, -88.5, 88.5)), 24),
    "identity": (_PLAIN, lambda x: x, 1),
    "isneginf": (_PLAIN, _flag(torch.isneginf), 1),
    "isposinf": (_PLAIN, _flag(torch.isposinf), 1),
    "swish": (_PLAIN, _F.silu, 12),
    "softcap": (f"input_tensor, beta, *, {_TAIL}", lambda x, beta: beta * torch.tanh(x / beta), 12),
    "alt_complex_rotate90": (_PLAIN, _rotate90, 1),
    "multigammaln": ("input_tensor, *, memory_config=None", _multigammaln, 40),
    "rpow": (f"input_tensor, exponent, *, {_TAIL}", lambda x, exponent: torch.pow(float(exponent), x), 20),
    "rdiv": (f"input_tensor, value, *, rounding_mode=None, {_TAIL}", _rdiv, 8),
    "normalize_hw": ("input_tensor, *, memory_config=None", _normalize((-2, -1)), 8),
    "normalize_global": ("input_tensor, *, memory_config=None", _normalize((0, 1, 2, 3)), 8),
    "var_hw": ("input_tensor, *, memory_config=None", _hw_stat(False), 4),
    "std_hw": ("input_tensor, *, memory_config=None", _hw_stat(True), 6),
}

_VECTOR_MODES = {2: "C", 4: "RC"}  # ckernel VectorMode values sigmoid takes (unary_op_utils: "C (2) or RC (4)")


def _vector_mode_mask(shape, layout: Layout, vector_mode: int) -> torch.Tensor:
    """Which elements the SFPU computes under a vector mode (_llk_math_eltwise_unary_sfpu_params_): a 32x32 tile is
    four 16x16 faces (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right); RC runs all four, C runs faces 0
    and 2 (the tile's left 16 columns). The rest of the Dst tile keeps the unpacked input. In TILE layout an
    element's place in its tile is (row mod 32, column mod 32); for ROW_MAJOR data we take each run of 1024
    elements as one tile in face order (256 per face), our reading of how row-major pages reach the Dst."""
    if vector_mode == 4:
        return torch.ones(shape, dtype=torch.bool)
    if layout == Layout.TILE:
        cols = torch.arange(shape[-1] if len(shape) else 1) % TILE_SIZE
        mask = cols < TILE_SIZE // 2
        return torch.broadcast_to(mask, shape) if len(shape) else mask.reshape(())
    flat = torch.arange(max(1, int(torch.tensor(shape).prod().item())) if len(shape) else 1)
    face = (flat % (TILE_SIZE * TILE_SIZE)) // (TILE_SIZE * TILE_SIZE // 4)
    return ((face == 0) | (face == 2)).reshape(shape)


def _apply_vector_mode(qual, x, out, vector_mode, layout):
    """sigmoid's vector_mode: 4 (RC, every element) or 2 (C, the left half-columns of each tile; the other
    elements come back as the input). Any other value is the real op's TT_FATAL."""
    if not isinstance(vector_mode, int) or isinstance(vector_mode, bool) or vector_mode not in _VECTOR_MODES:
        raise RuntimeError(f"{qual}: Invalid Vector mode value. Expected vector mode C (2) or RC (4) for sigmoid, "
                           f"got {vector_mode!r} (4 computes every element, 2 only the left 16 columns of each "
                           f"tile)")
    if vector_mode == 4:
        return out
    return torch.where(_vector_mode_mask(tuple(x.shape), layout, vector_mode), out, x.to(out.dtype))


def _make_unary(name, params, fn, cycles):
    qual = f"ttnn.{name}"

    def impl(input_tensor, memory_config=None, output_tensor=None, sub_core_grids=None, **op_params):
        dev = require_device(qual, input_tensor)
        E.check_layout(qual, input_tensor)
        x = E.host_values(input_tensor)
        out = None
        if name in _APPROX:
            out = _APPROX[name](x, input_tensor.dtype == DataType.FLOAT32, **op_params)
        if out is None:
            out = fn(x, **op_params)
        if "vector_mode" in op_params:
            out = _apply_vector_mode(qual, x, out, op_params["vector_mode"], input_tensor.layout)
        return E.finish(qual, out, input_tensor.dtype, input_tensor.layout, dev,
                        memory_config or input_tensor.memory_config(), (input_tensor,),
                        output_tensor=output_tensor, sfpu_cycles=cycles)

    def golden(input_tensor, *args, **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if k not in ("memory_config", "output_tensor", "sub_core_grids",
                                                               "device")}
        return fn(input_tensor.float(), *args, **kwargs)

    impl.__doc__ = f"Element-wise {name} on the vector engine, computed in float32, rounded to the input dtype."
    return E.make_op(qual, params, impl, golden)


for _name, (_params, _fn, _cycles) in _TABLE.items():
    globals()[_name] = _make_unary(_name, _params, _fn, _cycles)


def _bitwise_not_impl(input_tensor, memory_config=None, output_tensor=None, sub_core_grids=None):
    """Bitwise NOT of integer data (the real op accepts INT32/UINT16/UINT32 only)."""
    dev = require_device("ttnn.bitwise_not", input_tensor)
    E.check_dtype("ttnn.bitwise_not", input_tensor.dtype, INTEGERS)
    out = torch.bitwise_not(input_tensor.value.to(torch.int64))
    return E.finish("ttnn.bitwise_not", out, input_tensor.dtype, input_tensor.layout, dev,
                    memory_config or input_tensor.memory_config(), (input_tensor,),
                    output_tensor=output_tensor, sfpu_cycles=1)


bitwise_not = E.make_op("ttnn.bitwise_not", _PLAIN, _bitwise_not_impl, lambda x, *a, **k: torch.bitwise_not(x))


def _logical_not_inplace_impl(input_tensor, memory_config=None):
    """logical_not written back into the input tensor, which is returned."""
    dev = require_device("ttnn.logical_not_", input_tensor)
    out = (E.host_values(input_tensor) == 0).to(torch.float32)
    return E.finish("ttnn.logical_not_", out, input_tensor.dtype, input_tensor.layout, dev, None, (input_tensor,),
                    output_tensor=input_tensor, sfpu_cycles=1)


logical_not_ = E.make_op("ttnn.logical_not_", "input_tensor, *, memory_config=None", _logical_not_inplace_impl,
                         lambda x, **k: torch.logical_not(x))


def _tri(name, torch_fn):
    qual = f"ttnn.{name}"

    def impl(input_tensor, diagonal=0, memory_config=None):
        """Keep the lower (tril) / upper (triu) triangle of the last two dims, zero the rest."""
        dev = require_device(qual, input_tensor)
        if len(input_tensor.shape) < 2:
            raise RuntimeError(f"{qual}: input must have rank >= 2, got shape {list(input_tensor.shape)}")
        out = torch_fn(E.host_values(input_tensor), diagonal=int(diagonal))
        return E.finish(qual, out, input_tensor.dtype, input_tensor.layout, dev,
                        memory_config or input_tensor.memory_config(), (input_tensor,), sfpu_cycles=1)

    return E.make_op(qual, "input_tensor, *, diagonal=0, memory_config=None", impl,
                     lambda x, diagonal=0, **k: torch_fn(x, diagonal=diagonal))


tril = _tri("tril", torch.tril)
triu = _tri("triu", torch.triu)


def _bound(qual, v, dev, shape):
    """A clamp bound: None, a Python number, or a device tensor broadcastable to the input."""
    if v is None or isinstance(v, (int, float)):
        return v
    if isinstance(v, Tensor):
        if require_device(qual, v) is not dev:
            raise RuntimeError(f"{qual}: min/max tensor is on a different device than the input")
        try:
            return torch.broadcast_to(E.host_values(v), shape)
        except RuntimeError:
            raise RuntimeError(f"{qual}: bound of shape {list(v.shape)} does not broadcast to the input shape "
                               f"{list(shape)}") from None
    raise TypeError(f"{qual}: min/max must be a number, a ttnn.Tensor or None, got {type(v).__name__}")


def _make_clamp(name, params):
    qual = f"ttnn.{name}"

    def impl(input_tensor, min=None, max=None, memory_config=None, output_tensor=None):
        """Clamp to [min, max]; bounds are numbers or tensors, at least one must be given (as the real op)."""
        dev = require_device(qual, input_tensor)
        if min is None and max is None:
            raise RuntimeError(f"{qual}: only one of 'min' or 'max' can be None; pass at least one bound")
        x = E.host_values(input_tensor)
        lo, hi = _bound(qual, min, dev, x.shape), _bound(qual, max, dev, x.shape)
        out = x
        if lo is not None:
            out = torch.maximum(out, lo if isinstance(lo, torch.Tensor) else torch.tensor(float(lo), dtype=x.dtype))
        if hi is not None:
            out = torch.minimum(out, hi if isinstance(hi, torch.Tensor) else torch.tensor(float(hi), dtype=x.dtype))
        inputs = (input_tensor,) + tuple(b for b in (min, max) if isinstance(b, Tensor))
        return E.finish(qual, out, input_tensor.dtype, input_tensor.layout, dev,
                        memory_config or input_tensor.memory_config(), inputs, output_tensor=output_tensor,
                        sfpu_cycles=2)

    def golden(x, min=None, max=None, **k):
        return torch.clamp(x, min, max)

    return E.make_op(qual, params, impl, golden)


clamp = _make_clamp("clamp", "input_tensor, min=None, max=None, *, memory_config=None, output_tensor=None")
clip = _make_clamp("clip", "input_tensor, min=None, max=None, *, memory_config=None")


# Activations fused into matmul/linear/binary ops (activation="relu" or a UnaryWithParam): strings are resolved
# exactly as TT-NN's string_to_unary_with_param does (tt-metal unary_op_utils.cpp): the names below, matched
# case-sensitively, each to an op type and its parameters; any other string raises "Unknown unary op".
_V = 4.0  # VecMode::RC, the sigmoid's first parameter
_ACTIVATION_STRINGS = {
    "relu": ("RELU",), "relu6": ("RELU6",), "gelu": ("GELU", 0.0), "gelu_approx": ("GELU", 1.0),
    "silu": ("SILU",), "sigmoid": ("SIGMOID", _V, 0.0), "sigmoid_approx": ("SIGMOID", _V, 1.0),
    "hardsigmoid": ("HARDSIGMOID",), "sqrt": ("SQRT", 0.0), "rsqrt": ("RSQRT", 0.0), "exp": ("EXP", 1.0),
    "recip": ("RECIP",), "log": ("LOG", 1.0), "log1p": ("LOG1P", 1.0), "tanh": ("TANH", 0.0),
    "log2": ("LOG2", 1.0), "log10": ("LOG10", 1.0), "sin": ("SIN",), "cos": ("COS",), "cosh": ("COSH",),
    "sinh": ("SINH",), "abs": ("ABS",), "abs_int32": ("ABS_INT32",), "sign": ("SIGN",), "square": ("SQUARE",),
    "softplus": ("SOFTPLUS", 1.0, 20.0, 0.0), "selu": ("SELU",), "alt_complex_rotate90": ("ALT_COMPLEX_ROTATE90",),
    "hardmish": ("HARDMISH", 1.0), "mish": ("MISH",),
}


def string_to_unary_with_param(name: str) -> UnaryWithParam:
    """The op type and parameters TT-NN gives an activation string (case-sensitive, as the real lookup)."""
    spec = _ACTIVATION_STRINGS.get(name)
    if spec is None:
        raise RuntimeError(f"Unknown unary op: {name} (TT-NN accepts {', '.join(sorted(_ACTIVATION_STRINGS))})")
    return UnaryWithParam(getattr(UnaryOpType, spec[0]), *spec[1:])


def activation_fn(activation):
    """Resolve a fused `activation` argument (a string or a ttnn.UnaryWithParam) to a float32 function (None
    passes through). Strings go through string_to_unary_with_param first, so a name TT-NN rejects fails here
    too. Parameters that select an approximate kernel select it here as well: "gelu_approx" (GELU, 1) is the
    LUT GELU, "sigmoid_approx" (SIGMOID, 4, 1) the LUT sigmoid, "exp" (EXP, 1) the fast exp, as on the device.
    The fused result is kept in float32 until the op's output rounding (the Dst store truncation of a bfloat16
    Dst is not applied to fused activations)."""
    if activation is None:
        return None
    if isinstance(activation, str):
        activation = string_to_unary_with_param(activation)
    if isinstance(activation, UnaryWithParam):
        t, p = activation.op_type, activation.params
        special = {
            "GELU": lambda x: A.gelu_fast(x, True) if p and p[0] else _gelu(x),
            "GELU_TANH": lambda x: _gelu(x, variant=GeluVariant.Tanh),
            "EXP": lambda x: A.exp_fast(x, True) if p and p[0] else torch.exp(x),
            "TANH": lambda x: A.tanh_fast(x, True) if p and p[0] else torch.tanh(x),
            "SIGMOID": lambda x: A.sigmoid_fast(x, True) if len(p) > 1 and p[1] else torch.sigmoid(x),
            "SQRT": lambda x: A.sqrt_fast(x) if p and p[0] else torch.sqrt(x),
            "RSQRT": lambda x: A.rsqrt_fast(x) if p and p[0] else torch.rsqrt(x),
            "LEAKY_RELU": lambda x: _F.leaky_relu(x, p[0] if p else 0.01),
            "RELU_MAX": lambda x: torch.clamp(x, 0.0, p[0]),
            "RELU_MIN": lambda x: torch.clamp(x, min=p[0]),
            "ELU": lambda x: _F.elu(x, p[0] if p else 1.0),
            "SOFTPLUS": lambda x: _F.softplus(x, p[0] if p else 1.0, p[1] if len(p) > 1 else 20.0),
            "RECIP": torch.reciprocal,
            "IDENTITY": lambda x: x,
        }
        if t.name in special:
            return special[t.name]
        name = t.name.lower()
        if name in _TABLE:
            return _TABLE[name][1]
        raise RuntimeError(f"Fused activation {activation!r} is not emulated; apply it as a separate op")
    raise TypeError(f"activation must be a string or ttnn.UnaryWithParam, got {type(activation).__name__}")


__all__ = list(_TABLE) + ["bitwise_not", "logical_not_", "tril", "triu", "clamp", "clip", "GeluVariant", "SigmoidMode",
                          "UnaryOpType", "UnaryWithParam"]
