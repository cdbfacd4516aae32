"""Element-wise binary and ternary operations with broadcasting and scalar operands.

Which engine runs an op decides its numerics (tt-metal binary_ng `is_binary_sfpu_op`, 2025):
- add/subtract/multiply/rsub/squared_difference run on the vector engine (SFPU, exact float32) only when
  both operands are FLOAT32 (or the same integer type); otherwise on the matrix engine (FPU), whose source
  registers hold bfloat16 or TF32, so a float32 operand mixed with bfloat16 loses its low 13 mantissa bits,
  and denormal inputs/results flush to zero. FPU element-wise multiply runs at full fidelity (the product of
  a bf16 and a TF32 mantissa is exact in float32).
- divide on non-float32 operands is an FPU multiply by the reciprocal of b, which the SFPU computes and stores
  in a bfloat16 intermediate buffer: a * bf16(1/b). Two float32 operands divide exactly on the SFPU.
- A scalar operand is filled into a tile of the tensor's format (bfloat16 unless the tensor is float32).
- Everything else (comparisons, maximum, pow, ...) is SFPU work: exact float32, rounded to the output dtype.
Output dtype: `dtype=` else the first tensor operand's dtype; comparisons and logical ops return 1.0/0.0 in
that dtype, as TT-NN does. Broadcasting: any dims that are equal or 1 (binary_ng broadcasts batch dims,
rows, columns and scalars), ranks aligned from the right.
"""
from __future__ import annotations

import torch

from ..tensor import Tensor, require_device
from ..types import INTEGERS, DataType
from . import _eltwise as E
from . import _sfpu_approx as A
from .program_configs import sharded_like
from .unary import activation_fn

_ACTS = "activations=[], input_tensor_a_activations=[], input_tensor_b_activations=[]"
_GRIDS = "sub_core_grids=None, sub_device_id=None"
_P_ARITH = ("input_tensor_a, input_tensor_b, *, fast_and_approximate_mode={fast}, dtype=None, memory_config=None, "
            f"output_tensor=None, {_ACTS}, {_GRIDS}")
_P_STD = f"input_tensor_a, input_tensor_b, *, dtype=None, memory_config=None, output_tensor=None, {_ACTS}, {_GRIDS}"
_P_MINMAX = f"input_tensor_a, input_tensor_b, *, dtype=None, memory_config=None, output_tensor=None, {_ACTS}"
_P_BITWISE = f"input_tensor_a, input_tensor_b, *, memory_config=None, output_tensor=None, {_ACTS}, {_GRIDS}"
_P_PLAIN = "input_tensor_a, input_tensor_b, *, memory_config=None"


def _apply_acts(acts, x):
    for a in acts or ():
        x = activation_fn(a)(x)
    return x


def _nary(qual, operands, compute, *, engine="sfpu", dtype=None, memory_config=None, output_tensor=None,
          cycles=1.0, pre=None, post=None):
    """The shared body: validate, broadcast, read operands as the chosen engine sees them, compute, finish."""
    tensors = [t for t in operands if isinstance(t, Tensor)]
    if not tensors:
        raise TypeError(f"{qual}: at least one operand must be a ttnn.Tensor")
    for t in operands:
        if not isinstance(t, (Tensor, int, float, bool)) and t is not None:
            raise TypeError(f"{qual}: operands must be ttnn.Tensors or Python numbers, got {type(t).__name__}")
    dev = require_device(qual, *tensors)
    E.check_dtype_arg(qual, dtype)
    first = tensors[0]
    layouts = {t.layout for t in tensors}
    if len(layouts) > 1:
        raise RuntimeError(f"{qual}: operands have different layouts ({', '.join(l.name for l in layouts)}); "
                           f"convert them to one layout with ttnn.to_layout first")
    try:
        shape = E.formats.broadcast_shape(*(t.shape for t in tensors))
    except RuntimeError:
        shapes = " and ".join(str(list(t.shape)) for t in tensors)
        raise RuntimeError(f"{qual}: shapes {shapes} cannot be broadcast: each dimension (aligned from the "
                           f"right) must be equal or 1") from None
    all_f32 = all(t.dtype == DataType.FLOAT32 for t in tensors)
    same_int = len({t.dtype for t in tensors}) == 1 and first.dtype in INTEGERS
    on_fpu = engine == "fpu" and not (all_f32 or same_int)
    scalar_fmt = first.dtype if first.dtype in (DataType.FLOAT32,) + INTEGERS else DataType.BFLOAT16

    def read(x):
        if isinstance(x, Tensor):
            v = E.host_values(x)
            return E.fpu_operand(v, x.dtype) if on_fpu and x.dtype not in INTEGERS else v
        if x is None:
            return None
        v = torch.tensor(float(x), dtype=torch.float64 if scalar_fmt in INTEGERS else torch.float32)
        return E.round_to(v, scalar_fmt) if scalar_fmt not in INTEGERS else v

    vals = [read(x) for x in operands]
    if pre:
        vals = [_apply_acts(pre[i], v) if i < len(pre) and pre[i] else v for i, v in enumerate(vals)]
    out = compute(*vals)
    out = torch.broadcast_to(out, shape) if tuple(out.shape) != tuple(shape) else out
    if on_fpu:
        out = E.formats.flush_denormals(out.to(torch.float32))
    out = _apply_acts(post, out)
    numel = out.numel()
    return E.finish(qual, out, dtype or first.dtype, first.layout, dev, sharded_like(memory_config, first),
                    tensors, output_tensor=output_tensor, flops=numel if on_fpu else 0.0,
                    sfpu_cycles=0.0 if on_fpu else cycles)


_NOT_OP_PARAMS = {"dtype", "memory_config", "output_tensor", "activations", "input_tensor_a_activations",
                  "input_tensor_b_activations", "sub_core_grids", "sub_device_id", "fast_and_approximate_mode"}


def _bin(name, params, compute, *, engine="sfpu", cycles=2.0, golden=None, inplace=False):
    """A binary op from its real parameter list: the first two parameters are the operands (whatever their real
    names: input_tensor_b, input_b, value, ...), other non-standard parameters (alpha, ...) go to `compute`.
    In-place variants write the result into the first operand and return it."""
    qual = f"ttnn.{name}"
    first, second = [p.strip().split("=")[0] for p in params.split(",")[:2]]

    def impl(**kw):
        a, b = kw.pop(first), kw.pop(second)
        extra = {k: v for k, v in kw.items() if k not in _NOT_OP_PARAMS}
        fn = (lambda x, y: compute(x, y, **extra)) if extra else compute
        if inplace and not isinstance(a, Tensor):
            raise TypeError(f"{qual}: the first operand of an in-place op must be a ttnn.Tensor, got "
                            f"{type(a).__name__}")
        return _nary(qual, (a, b), fn, engine=engine, dtype=kw.get("dtype"), memory_config=kw.get("memory_config"),
                     output_tensor=a if inplace else kw.get("output_tensor"), cycles=cycles,
                     pre=(kw.get("input_tensor_a_activations"), kw.get("input_tensor_b_activations")),
                     post=kw.get("activations"))

    impl.__doc__ = f"Element-wise {name} with broadcasting; a Python number may stand for either operand."
    return E.make_op(qual, params, impl, golden or (lambda a, b, *args, **kw: compute(_t(a), _t(b), *args)))


def _t(x):
    return x.float() if isinstance(x, torch.Tensor) else torch.tensor(float(x))


def _flag(fn):
    return lambda a, b: fn(a, b).to(torch.float32)


def _divide_compute(path, rounding_mode):
    """a / b on the path binary_ng picks (is_binary_sfpu_op): "sfpu" is div_binary_tile (A.divide_sfpu); "fpu"
    (fast_and_approximate_mode on non-float32 operands) is the RECIP pre-activation of b, stored in the bfloat16
    intermediate buffer, times a on the matrix engine; "exact" keeps integer operands' previous reading."""
    def compute(a, b):
        if path == "sfpu":
            q = A.divide_sfpu(a, b)
        elif path == "fpu":
            q = a * E.round_to(A.store_dst(A.reciprocal_sfpu(b, 0), False), DataType.BFLOAT16)
        else:
            q = a / b
        if rounding_mode == "trunc":
            q = torch.trunc(q)
        elif rounding_mode == "floor":
            q = torch.floor(q)
        elif rounding_mode is not None:
            raise RuntimeError(f"ttnn.divide: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        return q
    return compute


def _divide_path(ops, fast_and_approximate_mode) -> str:
    """binary_ng (0.81.1): DIV runs on the SFPU unless fast_and_approximate_mode is set and the operands are not
    both FLOAT32 (nor both INT32), in which case the FPU multiplies by a reciprocal. Integer operands keep the
    emulator's exact quotient."""
    dtypes = [t.dtype for t in ops if isinstance(t, Tensor)]
    if any(d in INTEGERS for d in dtypes):
        return "exact"
    if fast_and_approximate_mode and not all(d == DataType.FLOAT32 for d in dtypes):
        return "fpu"
    return "sfpu"


def _divide_impl(input_tensor_a, input_tensor_b, fast_and_approximate_mode=False, rounding_mode=None, dtype=None,
                 memory_config=None, output_tensor=None, activations=None, input_tensor_a_activations=None,
                 input_tensor_b_activations=None, _qual="ttnn.divide", **ignored):
    """a / b: the SFPU division kernel, or with fast_and_approximate_mode=True on non-float32 operands a times
    the bfloat16-held approximate reciprocal of b on the FPU (see _divide_compute)."""
    ops = (input_tensor_a, input_tensor_b)
    path = _divide_path(ops, fast_and_approximate_mode)
    return _nary(_qual, ops, _divide_compute(path, rounding_mode), engine="fpu" if path == "fpu" else "sfpu",
                 dtype=dtype, memory_config=memory_config, output_tensor=output_tensor, cycles=8.0,
                 pre=(input_tensor_a_activations, input_tensor_b_activations), post=activations)


def _xlogy(a, b):
    return torch.xlogy(a, b)


def _remainder(a, b):
    return torch.remainder(a, b)


def _ldexp(a, b):
    return a * torch.exp2(b)


def _integer(name, fn):
    """An op defined on integers only (the real kernels take INT32/UINT32): float operands are an error."""
    def compute(a, b):
        for v in (a, b):
            if v.dtype == torch.float32:
                raise RuntimeError(f"ttnn.{name}: operands must be integer tensors (INT32/UINT32); typecast first")
        return fn(a.to(torch.int64), b.to(torch.int64))
    return compute


def _bitwise(fn):
    def compute(a, b):
        if a.is_floating_point() and a.dtype != torch.float64 or b.is_floating_point() and b.dtype != torch.float64:
            raise RuntimeError("bitwise ops need integer (INT32/UINT32/UINT16) operands; typecast first")
        return fn(a.to(torch.int64), b.to(torch.int64))
    return compute


_TABLE = {
    # name: (params, compute, engine, SFPU cycles)
    "add": (_P_ARITH.format(fast=True), torch.add, "fpu", 1),
    "subtract": (_P_ARITH.format(fast=True), torch.sub, "fpu", 1),
    "multiply": (_P_ARITH.format(fast=False), torch.mul, "fpu", 1),
    "rsub": (f"input_tensor_a, input_tensor_b, *, dtype=None, memory_config=None, output_tensor=None, {_ACTS}, "
             f"fast_and_approximate_mode=True", lambda a, b: b - a, "fpu", 1),
    "squared_difference": (_P_STD, lambda a, b: torch.square(a - b), "fpu", 2),
    "eq": (_P_STD, _flag(torch.eq), "sfpu", 2),
    "ne": (_P_STD, _flag(torch.ne), "sfpu", 2),
    "lt": (_P_STD, _flag(torch.lt), "sfpu", 2),
    "le": (_P_STD, _flag(torch.le), "sfpu", 2),
    "gt": (_P_STD, _flag(torch.gt), "sfpu", 2),
    "ge": (_P_STD, _flag(torch.ge), "sfpu", 2),
    "logical_and": (_P_STD, _flag(torch.logical_and), "sfpu", 2),
    "logical_or": (_P_STD, _flag(torch.logical_or), "sfpu", 2),
    "logical_xor": (_P_STD, _flag(torch.logical_xor), "sfpu", 2),
    "maximum": (_P_MINMAX, torch.maximum, "sfpu", 2),
    "minimum": (_P_MINMAX, torch.minimum, "sfpu", 2),
    "remainder": (_P_STD, _remainder, "sfpu", 12),
    "fmod": (f"input_tensor_a, input_tensor_b, *, memory_config=None, {_GRIDS}", torch.fmod, "sfpu", 12),
    "xlogy": (_P_STD, _xlogy, "sfpu", 12),
    "logaddexp": (_P_STD, torch.logaddexp, "sfpu", 20),
    "logaddexp2": (_P_STD, torch.logaddexp2, "sfpu", 20),
    "ldexp": (_P_STD, _ldexp, "sfpu", 10),
    "atan2": (_P_PLAIN, torch.atan2, "sfpu", 20),
    "hypot": (_P_PLAIN, torch.hypot, "sfpu", 10),
    "nextafter": (_P_PLAIN, None, "sfpu", 4),
    "bitwise_and": (_P_BITWISE, _bitwise(torch.bitwise_and), "sfpu", 1),
    "bitwise_or": (_P_BITWISE, _bitwise(torch.bitwise_or), "sfpu", 1),
    "bitwise_xor": (_P_BITWISE, _bitwise(torch.bitwise_xor), "sfpu", 1),
    "bias_gelu": (_P_ARITH.format(fast=False),
                  lambda a, b: torch.nn.functional.gelu(a + b), "fpu", 14),
    # the short names ttnn also exports (separate operations in the real package, same kernels)
    "mul": (_P_ARITH.format(fast=False), torch.mul, "fpu", 1),
    "sub": (_P_ARITH.format(fast=True), torch.sub, "fpu", 1),
    "addalpha": ("input_tensor_a, input_tensor_b, alpha, *, memory_config=None, output_tensor=None",
                 lambda a, b, alpha: a + float(alpha) * b, "sfpu", 2),
    "subalpha": ("input_tensor_a, input_tensor_b, alpha, *, memory_config=None, output_tensor=None",
                 lambda a, b, alpha: a - float(alpha) * b, "sfpu", 2),
    "div_no_nan": (_P_PLAIN, lambda a, b: torch.where(b == 0, torch.zeros_like(a / b), a / b), "sfpu", 10),
    "floor_div": (_P_PLAIN, lambda a, b: torch.floor(a / b), "sfpu", 10),
    "gcd": (f"input_tensor_a, input_tensor_b, *, dtype=None, memory_config=None, output_tensor=None, {_ACTS}",
            _integer("gcd", torch.gcd), "sfpu", 40),
    "lcm": (f"input_tensor_a, input_tensor_b, *, dtype=None, memory_config=None, output_tensor=None, {_ACTS}",
            _integer("lcm", torch.lcm), "sfpu", 44),
}


def _nextafter_for(dtype_holder):
    """nextafter steps to the neighbouring value of the tensor's own format (bf16 steps for bf16 data)."""
    def compute(a, b):
        if dtype_holder[0] == DataType.FLOAT32:
            return torch.nextafter(a.float(), b.float())
        return torch.nextafter(a.to(torch.bfloat16), b.to(torch.bfloat16)).float()
    return compute


def _relational_golden(fn):
    """The real golden of a comparison: torch's op on the tensors as given (torch.eq(a, b) in
    ttnn/operations/binary.py), so int32 operands compare exactly, not through float32."""
    return lambda a, b, *args, **kw: fn(a, b)


_RELATIONAL = {"eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le, "gt": torch.gt, "ge": torch.ge}
for _name, (_params, _compute, _engine, _cycles) in _TABLE.items():
    if _compute is not None:
        _gold = _relational_golden(_RELATIONAL[_name]) if _name in _RELATIONAL else None
        globals()[_name] = _bin(_name, _params, _compute, engine=_engine, cycles=_cycles, golden=_gold)


def _nextafter_impl(input_tensor_a, input_tensor_b, memory_config=None):
    """The next representable value of a's format after a, towards b."""
    holder = [input_tensor_a.dtype if isinstance(input_tensor_a, Tensor) else DataType.BFLOAT16]
    return _nary("ttnn.nextafter", (input_tensor_a, input_tensor_b), _nextafter_for(holder), cycles=4,
                 memory_config=memory_config)


nextafter = E.make_op("ttnn.nextafter", _P_PLAIN, _nextafter_impl, lambda a, b, **k: torch.nextafter(a, b))
divide = E.make_op("ttnn.divide", "input_tensor_a, input_tensor_b, *, fast_and_approximate_mode=False, "
                   f"rounding_mode=None, dtype=None, memory_config=None, output_tensor=None, {_ACTS}, {_GRIDS}",
                   _divide_impl, lambda a, b, *args, rounding_mode=None, **kw: torch.div(_t(a), _t(b),
                                                                                       rounding_mode=rounding_mode))


def _pow_impl(input_tensor, exponent, dtype=None, memory_config=None, output_tensor=None, activations=None,
              input_tensor_a_activations=None, input_tensor_b_activations=None):
    """input ** exponent; either side may be a number (a float base with a tensor exponent is rpow)."""
    return _nary("ttnn.pow", (input_tensor, exponent), torch.pow, dtype=dtype, memory_config=memory_config,
                 output_tensor=output_tensor, cycles=20, pre=(input_tensor_a_activations, input_tensor_b_activations),
                 post=activations)


pow = E.make_op("ttnn.pow", f"input_tensor, exponent, *, dtype=None, memory_config=None, output_tensor=None, {_ACTS}",
                _pow_impl, lambda a, b, **k: torch.pow(_t(a), _t(b)))


def _where_impl(predicate, true_value, false_value, memory_config=None, output_tensor=None, sub_core_grids=None):
    """Select true_value where predicate is non-zero, else false_value; numbers or tensors, broadcast."""
    ops = (predicate, true_value, false_value)
    if not isinstance(predicate, Tensor):
        raise TypeError(f"ttnn.where: predicate must be a ttnn.Tensor, got {type(predicate).__name__}")
    dt = next((t.dtype for t in (true_value, false_value) if isinstance(t, Tensor)), predicate.dtype)
    return _nary("ttnn.where", ops, lambda p, t, f: torch.where(p != 0, t, f), dtype=dt,
                 memory_config=memory_config, output_tensor=output_tensor, cycles=2)


where = E.make_op("ttnn.where", "predicate, true_value, false_value, *, memory_config=None, output_tensor=None, "
                  "sub_core_grids=None", _where_impl, lambda p, t, f, **k: torch.where(p.bool(), _t(t), _t(f)))


def _ternary(name, params, compute_of, golden):
    qual = f"ttnn.{name}"

    def impl(**kw):
        operands = [kw.pop(k) for k in list(kw)[:3]]  # the first three parameters, whatever their real names
        return _nary(qual, operands, compute_of(kw.get("value")), memory_config=kw.get("memory_config"),
                     output_tensor=kw.get("output_tensor"), cycles=4)

    impl.__doc__ = f"Element-wise {name} of three broadcast operands, in float32 on the vector engine."
    return E.make_op(qual, params, impl, golden)


addcmul = _ternary("addcmul", "input_a, input_b, input_c, *, value=1.0, memory_config=None, output_tensor=None",
                   lambda v: (lambda a, b, c: a + v * b * c), lambda a, b, c, value=1.0, **k: torch.addcmul(a, b, c, value=value))
addcdiv = _ternary("addcdiv", "input_a, input_b, input_c, *, value=1.0, memory_config=None, output_tensor=None",
                   lambda v: (lambda a, b, c: a + v * b / c), lambda a, b, c, value=1.0, **k: torch.addcdiv(a, b, c, value=value))
lerp = _ternary("lerp", "input, end, weight, *, memory_config=None, output_tensor=None",
                lambda v: (lambda a, b, w: a + w * (b - a)), lambda a, b, w, **k: torch.lerp(a, b, w))
mac = _ternary("mac", "input_tensor_a, input_tensor_b, input_tensor_c, *, memory_config=None, output_tensor=None, "
               "sub_core_grids=None", lambda v: (lambda a, b, c: a * b + c), lambda a, b, c, **k: a * b + c)


def _isclose_impl(input_tensor_a, input_tensor_b, rtol=1e-05, atol=1e-08, equal_nan=False, memory_config=None):
    """|a - b| <= atol + rtol * |b| element-wise, as 1.0/0.0 in a's dtype. Operands are compared in float32, as
    binary-ng evaluates isclose (an int32 operand included, mixed with a float one or not)."""
    return _nary("ttnn.isclose", (input_tensor_a, input_tensor_b),
                 lambda a, b: torch.isclose(a.float(), b.float(), rtol=rtol, atol=atol,
                                            equal_nan=equal_nan).to(a.dtype),
                 memory_config=memory_config, cycles=6)


def _golden_isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False, **k):
    """The real golden: int32 involved -> both float32; other mixed dtypes -> their promoted type."""
    if torch.is_tensor(b) and torch.int32 in (a.dtype, b.dtype):
        a, b = a.float(), b.float()
    elif torch.is_tensor(b) and a.dtype != b.dtype:
        common = torch.promote_types(a.dtype, b.dtype)
        a, b = a.to(common), b.to(common)
    return torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


isclose = E.make_op("ttnn.isclose", "input_tensor_a, input_tensor_b, *, rtol=9.999999747378752e-06, "
                    "atol=9.99999993922529e-09, equal_nan=False, memory_config=None", _isclose_impl, _golden_isclose)


def _polyval_impl(input_tensor_a, coeffs, memory_config=None):
    """sum(coeffs[i] * x ** (n - 1 - i)): Horner's rule over the coefficients, highest power first."""
    coeffs = [float(c) for c in coeffs]
    if not coeffs:
        raise RuntimeError("ttnn.polyval: coeffs must not be empty")

    def compute(x):
        acc = torch.full_like(x, coeffs[0])
        for c in coeffs[1:]:  # one pass per coefficient (polynomial degree), each over the whole tensor
            acc = acc * x + c
        return acc
    return _nary("ttnn.polyval", (input_tensor_a,), compute, memory_config=memory_config, cycles=2 * len(coeffs))


polyval = E.make_op("ttnn.polyval", "input_tensor_a, coeffs, *, memory_config=None", _polyval_impl)

_P_DIV = ("input_tensor_a, input_tensor_b, *, fast_and_approximate_mode=False, rounding_mode=None, dtype=None, "
          f"memory_config=None, output_tensor=None, {_ACTS}, {_GRIDS}")


def _div_alias_impl(**kw):
    """ttnn.div: the same kernel as ttnn.divide under its short name."""
    return _divide_impl(_qual="ttnn.div", **kw)


div = E.make_op("ttnn.div", _P_DIV, _div_alias_impl,
                lambda a, b, *args, rounding_mode=None, **kw: torch.div(_t(a), _t(b), rounding_mode=rounding_mode))


# --- in-place variants: the result is written into the first operand, which is returned -------------------------
_IP_TAIL = f"{_ACTS}, {{fast}}sub_core_grids=None, sub_device_id=None"
_INPLACE = {  # name: (out-of-place op in _TABLE, operand names, fast_and_approximate_mode default or None)
    "add_": ("add", "input_tensor_a, input_tensor_b", True),
    "sub_": ("subtract", "input_tensor_a, input_tensor_b", True),
    "mul_": ("multiply", "input_a, input_b", False), "rsub_": ("rsub", "input_a, input_b", True),
    "bias_gelu_": ("bias_gelu", "input_a, input_b", None),
    "squared_difference_": ("squared_difference", "input_a, input_b", None),
    "ldexp_": ("ldexp", "input_a, input_b", None), "logaddexp_": ("logaddexp", "input_a, input_b", None),
    "logaddexp2_": ("logaddexp2", "input_a, input_b", None),
    **{f"{n}_": (n, "input_a, input_b", None) for n in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and",
                                                          "logical_or", "logical_xor")},
}
for _name, (_base, _operands, _fast) in _INPLACE.items():
    _fast_param = "" if _fast is None else f"fast_and_approximate_mode={_fast}, "
    _, _compute, _engine, _cycles = _TABLE[_base]
    globals()[_name] = _bin(_name, f"{_operands}, *, " + _IP_TAIL.format(fast=_fast_param), _compute, engine=_engine,
                            cycles=_cycles, inplace=True)


def _div_inplace_impl(input_a, input_b, activations=None, input_tensor_a_activations=None,
                      input_tensor_b_activations=None, fast_and_approximate_mode=False, sub_core_grids=None,
                      sub_device_id=None):
    """a / b written into a (same reciprocal-multiply numerics as ttnn.divide)."""
    if not isinstance(input_a, Tensor):
        raise TypeError(f"ttnn.div_: the first operand must be a ttnn.Tensor, got {type(input_a).__name__}")
    return _divide_impl(input_a, input_b, fast_and_approximate_mode=fast_and_approximate_mode, output_tensor=input_a,
                        activations=activations,
                        input_tensor_a_activations=input_tensor_a_activations,
                        input_tensor_b_activations=input_tensor_b_activations, _qual="ttnn.div_")


div_ = E.make_op("ttnn.div_", "input_a, input_b, *, " + _IP_TAIL.format(fast="fast_and_approximate_mode=False, "),
                 _div_inplace_impl, lambda a, b, **kw: torch.div(_t(a), _t(b)))


# --- shifts: int32 words, shifted as the SFPU shifts them (wrapping to 32 bits) ----------------------------------
def _wrap32(v: torch.Tensor, signed: bool) -> torch.Tensor:
    v = v & 0xFFFFFFFF
    return torch.where(v >= 2 ** 31, v - 2 ** 32, v) if signed else v


def _shift(name, left: bool, logical: bool):
    qual = f"ttnn.{name}"

    def compute(a, b):
        if a.dtype == torch.float32 or b.dtype == torch.float32:
            raise RuntimeError(f"{qual}: operands must be integer tensors (INT32/UINT32); typecast first")
        x, n = a.to(torch.int64), b.to(torch.int64)
        if ((n < 0) | (n > 31)).any():
            raise RuntimeError(f"{qual}: shift amounts must be in [0, 31]")
        if left:
            return _wrap32(x << n, signed=not logical)
        if logical:  # zero-filling: shift the 32-bit pattern as unsigned
            return _wrap32((x & 0xFFFFFFFF) >> n, signed=True)
        return x >> n  # arithmetic: sign-filling
    return compute


_P_SHIFT = f"input_tensor_a, input_b, *, memory_config=None, output_tensor=None, {_ACTS}, {_GRIDS}"
bitwise_left_shift = _bin("bitwise_left_shift", _P_SHIFT, _shift("bitwise_left_shift", True, False), cycles=1)
bitwise_right_shift = _bin("bitwise_right_shift", _P_SHIFT, _shift("bitwise_right_shift", False, False), cycles=1)
logical_left_shift = _bin("logical_left_shift", _P_SHIFT, _shift("logical_left_shift", True, True), cycles=1)
logical_right_shift = _bin("logical_right_shift", "input_tensor_a, input_tensor_b, *, dtype=None, memory_config=None, "
                           f"output_tensor=None, {_ACTS}, {_GRIDS}", _shift("logical_right_shift", False, True),
                           cycles=1)


def _prelu_impl(input_tensor_a, weight, memory_config=None):
    """max(0, x) + weight * min(0, x), weight a number or one slope per channel (dim 1), as torch's prelu."""
    qual = "ttnn.prelu"
    dev = require_device(qual, input_tensor_a)
    x = E.host_values(input_tensor_a)
    if isinstance(weight, Tensor):
        require_device(qual, weight)
        w = E.host_values(weight).reshape(-1)
        channels = x.shape[1] if x.dim() > 1 else 1
        if w.numel() not in (1, channels):
            raise RuntimeError(f"{qual}: weight has {w.numel()} elements; it must have 1 or one per channel "
                               f"({channels}, dim 1 of the input)")
        w = w.reshape([1, -1] + [1] * (x.dim() - 2)) if w.numel() > 1 else w.reshape(())
    else:
        w = E.round_to(torch.tensor(float(weight)), DataType.BFLOAT16 if input_tensor_a.dtype != DataType.FLOAT32
                       else DataType.FLOAT32)
    out = torch.where(x >= 0, x, w * x)
    inputs = (input_tensor_a, weight) if isinstance(weight, Tensor) else (input_tensor_a,)
    return E.finish(qual, out, input_tensor_a.dtype, input_tensor_a.layout, dev,
                    memory_config or input_tensor_a.memory_config(), inputs, sfpu_cycles=2)


prelu = E.make_op("ttnn.prelu", "input_tensor_a, weight, *, memory_config=None", _prelu_impl,
                  lambda a, w, **k: torch.nn.functional.prelu(a, w if isinstance(w, torch.Tensor) else torch.tensor(
                      [float(w)], dtype=a.dtype)))


def _vector(qual, t: Tensor) -> torch.Tensor:
    dims = [d for d in t.shape if d != 1]
    if len(dims) > 1:
        raise RuntimeError(f"{qual}: each input must be a vector (all dims 1 but one), got shape {list(t.shape)}")
    return E.host_values(t).reshape(-1)


def _outer_impl(input_tensor_a, input_tensor_b, memory_config=None):
    """The outer product of two vectors (shapes like [1, 1, N, 1] and [1, 1, 1, M]) as a [1, 1, N, M] tensor."""
    qual = "ttnn.outer"
    dev = require_device(qual, input_tensor_a, input_tensor_b)
    a, b = _vector(qual, input_tensor_a), _vector(qual, input_tensor_b)
    out = torch.outer(a, b).reshape(1, 1, a.numel(), b.numel())
    return E.finish(qual, out, input_tensor_a.dtype, input_tensor_a.layout, dev, memory_config,
                    (input_tensor_a, input_tensor_b), flops=float(out.numel()))


outer = E.make_op("ttnn.outer", "input_tensor_a, input_tensor_b, *, memory_config=None", _outer_impl,
                  lambda a, b, **k: torch.outer(a.reshape(-1), b.reshape(-1)))

__all__ = [n for n, v in _TABLE.items() if v[1] is not None] + [
    "nextafter", "divide", "pow", "where", "addcmul", "addcdiv", "lerp", "mac", "isclose", "polyval", "div",
    "div_", *_INPLACE, "bitwise_left_shift", "bitwise_right_shift", "logical_left_shift", "logical_right_shift",
    "prelu", "outer"]
