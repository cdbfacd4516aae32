"""The vector engine's (SFPU's) approximate algorithms, as the ttnn 0.81.1 kernels compute them.

Each function below re-derives, with torch ops on float32 values, the algorithm of one approximate SFPU kernel
shipped in the ttnn 0.81.1 wheel (the wheel carries the kernel sources it JIT-compiles:
`ttnn/tt_metal/hw/ckernels/wormhole_b0/metal/llk_api/llk_sfpu/ckernel_sfpu_*.h`). Only the algorithm is taken:
its constants, table breakpoints and step order; the code is ours. Where the hardware rounds (an SFPMAD is one
fused multiply-add, a float-to-integer conversion rounds to nearest even, a store to a bfloat16 Dst register
truncates the low 16 bits) we round the same way. Where a detail is our assumption it says so.

Which ttnn calls reach which kernel (from the op-to-kernel table of tt-metal's unary_op_utils.cpp and the
0.81.1 docstrings): `ttnn.exp(fast_and_approximate_mode=True)` -> exp_tile<approx=true> (Schraudolph, below);
`ttnn.tanh(fast_and_approximate_mode=True)` -> the 6-segment piecewise-linear tanh; `ttnn.sigmoid(mode=
SigmoidMode.FastApproximate)` -> the 3-segment LUT sigmoid; `SigmoidMode.AccurateWithFastExp` and
`ttnn.sigmoid_accurate(fast_and_approximate_mode=True)` -> the op chain neg, exp(fast), +1, reciprocal;
`ttnn.gelu(fast_and_approximate_mode=True)` / `variant=GeluVariant.FastLut` -> the 6-segment LUT GELU;
`ttnn.softmax` (and scale_mask_softmax, attention_softmax), SDPA and SDPA decode with their default compute
config (math_approx_mode=True) -> the fast exp (exp_tile<EXP_APPROX>).
Unary ops compile with math_approx_mode=False (get_op_approx_mode returns false for every op), so the flag
each op's parameter sets is the only approximation switch there.
"""
from __future__ import annotations

import math

import torch

# ckernel_sfpu_exp.h, exp_init<APPROXIMATION_MODE=true, CLAMP_NEGATIVE=true>: Schraudolph's exp with 8
# fractional bits: i = A*x + (B - C) with A = 2^8/ln2 (as a float32), B = 127*2^8 and C ~ 11.2 (the error-
# balancing shift), rounded to a 16-bit unsigned integer and shifted left 15 bits into a float32's sign-less
# exponent and top 8 mantissa bits. Inputs are first clamped below at -88.5.
_EXP_A = float(torch.tensor(256.0 * 1.4426950408889634, dtype=torch.float32))      # 369.329925537109375
_EXP_B_MINUS_C = 32500.818359375
_EXP_LOW = -88.5


def _fma32(a, b, c) -> torch.Tensor:
    """a*b + c rounded once to float32 (an SFPMAD): the float64 product of two float32 values is exact."""
    return (torch.as_tensor(a, dtype=torch.float64) * torch.as_tensor(b, dtype=torch.float64)
            + torch.as_tensor(c, dtype=torch.float64)).to(torch.float32)


def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32).contiguous().view(torch.int32)


def _from_bits(i: torch.Tensor) -> torch.Tensor:
    return i.to(torch.int32).contiguous().view(torch.float32)


def store_dst(x: torch.Tensor, dst_fp32: bool) -> torch.Tensor:
    """A float32 SFPU register value as the Dst register keeps it: unchanged in float32 Dst; in bfloat16 Dst the
    store keeps the top 16 bits (truncation, not rounding: ckernel_sfpu_exp.h notes "If DST is bfloat16 then
    SFPSTORE will truncate it", which is why the accurate kernels round explicitly before storing)."""
    x = x.to(torch.float32)
    if dst_fp32:
        return x
    return _from_bits(_bits(x) & torch.tensor(-65536, dtype=torch.int32))


def exp_fast(x: torch.Tensor, dst_fp32: bool = False) -> torch.Tensor:
    """exp as exp_tile<approx=true> computes it (Schraudolph, 8 fractional bits, max relative error ~4%).

    The float-to-uint16 conversion rounds to nearest even; a value past 65535 (x above ~88.7) saturates to
    65535 (our assumption: the kernel notes only that inputs above ~88.5 are out of its range), which reads
    back as NaN, as the bit pattern 0x7fff8000 does."""
    x = torch.maximum(x.to(torch.float32), torch.tensor(_EXP_LOW))
    t = _fma32(_EXP_A, x, _EXP_B_MINUS_C)
    u = torch.clamp(torch.round(t.to(torch.float64)), 0, 65535).to(torch.int64)
    return store_dst(_from_bits((u << 15).to(torch.int32)), dst_fp32)


# ckernel_sfpu_tanh.h, tanh_init<APPROXIMATION_MODE=true>: a 6-entry SFPLUTFP32 table with FP16 coefficients;
# segment k covers |x| in [edge_k, edge_k+1) with edges 0, 0.5, 1, 1.5, 2, 3; the result is A*|x| + B with the
# sign of x (SGN_RETAIN). No min(result, 1), no explicit rounding before the store.
_TANH_EDGES = (0.5, 1.0, 1.5, 2.0, 3.0)
_TANH_SLOPE = (0.96191406, 0.57617188, 0.28710938, 0.0964355469, 0.0390625, 0.0)
_TANH_INTERCEPT = (0.0, 0.192871094, 0.48193359, 0.76806641, 0.8828125, 1.0)

# ckernel_sfpu_gelu.h, gelu_init<APPROXIMATION_MODE=true> and calculate_gelu_appx: the same 6-entry FP16 table
# shape (same edges), evaluated on |x| keeping the computed (positive) sign (LutSign::Update), plus 0.5*x:
# gelu(x) = 0.5*x + f(|x|) with f(|x|) ~ 0.5*|x|*erf(|x|/sqrt 2).
_GELU_SLOPE = (0.1928, 0.4939, 0.6188, 0.6099, 0.5402, 0.5)
_GELU_INTERCEPT = (-0.00010443, -0.1604, -0.2796, -0.2635, -0.1194, 0.0)

# ckernel_sfpu_sigmoid_appx.h: SFPLUT with 8-bit coefficients over |x| in [0, 1), [1, 2), [2, inf), sign of x
# kept, then + 0.5. The source writes the coefficients as 0.22656, 0.26562, -0.04687 and 0.5: to five digits
# the 8-bit LUT values 0.2265625, 0.265625 and -0.046875, which we use (our reading of the LUT8 encoding).
_SIGMOID_EDGES = (1.0, 2.0)
_SIGMOID_SLOPE = (0.2265625, 0.265625, 0.0)
_SIGMOID_INTERCEPT = (0.0, -0.046875, 0.5)


def _fp16(values) -> torch.Tensor:
    """LUT coefficients as the FP16 table holds them."""
    return torch.tensor(values, dtype=torch.float32).to(torch.float16).to(torch.float32)


def _piecewise_linear(a: torch.Tensor, edges, slopes: torch.Tensor, intercepts: torch.Tensor) -> torch.Tensor:
    """A*a + B with (A, B) picked by the segment of a (a >= 0), one fused multiply-add."""
    seg = torch.bucketize(a, torch.tensor(edges, dtype=a.dtype), right=True)
    return _fma32(slopes[seg], a, intercepts[seg])


def tanh_fast(x: torch.Tensor, dst_fp32: bool = False) -> torch.Tensor:
    """tanh as tanh_tile<approx=true> computes it: a 6-segment piecewise-linear fit (max abs error ~0.019)."""
    x = x.to(torch.float32)
    r = _piecewise_linear(x.abs(), _TANH_EDGES, _fp16(_TANH_SLOPE), _fp16(_TANH_INTERCEPT))
    return store_dst(torch.copysign(r, x), dst_fp32)


def gelu_fast(x: torch.Tensor, dst_fp32: bool = False) -> torch.Tensor:
    """GELU as gelu_tile<approx=true> (GeluVariant.FastLut) computes it: 0.5*x plus a 6-segment fit of
    0.5*|x|*erf(|x|/sqrt 2) (the 0.81.1 docstring: "~1% absolute error")."""
    x = x.to(torch.float32)
    f = _piecewise_linear(x.abs(), _TANH_EDGES, _fp16(_GELU_SLOPE), _fp16(_GELU_INTERCEPT))
    return store_dst((x * 0.5) + f, dst_fp32)


def sigmoid_fast(x: torch.Tensor, dst_fp32: bool = False) -> torch.Tensor:
    """sigmoid as sigmoid_tile<approx=true> (SigmoidMode.FastApproximate) computes it: a 3-segment LUT of
    sigmoid(x) - 0.5, odd in x, plus 0.5 (max abs error ~0.05, at |x| = 2, where it saturates to 0 or 1)."""
    x = x.to(torch.float32)
    slopes = torch.tensor(_SIGMOID_SLOPE, dtype=torch.float32)
    intercepts = torch.tensor(_SIGMOID_INTERCEPT, dtype=torch.float32)
    r = torch.copysign(_piecewise_linear(x.abs(), _SIGMOID_EDGES, slopes, intercepts), x)
    return store_dst(r + 0.5, dst_fp32)


def sigmoid_fast_exp(x: torch.Tensor, dst_fp32: bool = False) -> torch.Tensor:
    """SigmoidMode.AccurateWithFastExp / sigmoid_accurate(fast_and_approximate_mode=True): the unary chain
    NEG, EXP(fast), ADD_UNARY_SFPU(1), RECIP run in one kernel, each step's result stored to Dst. The accurate
    reciprocal (Newton-Raphson, rounded to the Dst format) is taken as exact, rounded to nearest."""
    e = exp_fast(-x.to(torch.float32), dst_fp32)
    d = _round_dst(e + 1.0, dst_fp32)
    return _round_dst(torch.reciprocal(d), dst_fp32)


def _round_dst(x: torch.Tensor, dst_fp32: bool) -> torch.Tensor:
    """A kernel that rounds explicitly (convert to bfloat16, nearest even) before its store."""
    if dst_fp32:
        return x.to(torch.float32)
    return x.to(torch.bfloat16).to(torch.float32)


# ckernel_sfpu_sqrt.h: sqrt and rsqrt both run Kokosinski-Moroz "SQRT_23-bits" (with unary ops' math_approx_mode
# off, APPROXIMATION_MODE is false whatever the op's flag): a magic-constant seed 0x5f1110a0 - (bits(x) >> 1),
# one polynomial refinement y*(2.2825186 + c*(2.2533049 + c)) with c = -y*(x*y), then one Newton-style
# correction. fast_and_approximate_mode selects FAST_APPROX, which only drops the edge guards: negative inputs
# are not mapped to NaN and -0.0 is not kept. On non-negative inputs the result equals the accurate one.
_SQRT_MAGIC = 0x5F1110A0
_SQRT_K1 = 2.2825186
_SQRT_K2 = 2.2533049


def _sqrt23(x: torch.Tensor, reciprocal: bool) -> torch.Tensor:
    x = x.to(torch.float32)
    i = (_bits(x).to(torch.int64) & 0xFFFFFFFF) >> 1                          # logical shift: the sign moves in
    y = _from_bits(_wrap32(_SQRT_MAGIC - i))
    xy = x * y
    c = (-y) * xy
    y = y * _fma32(c, c + _SQRT_K2, _SQRT_K1)
    xy = x * y
    one_minus = _fma32(-y, xy, 1.0)
    if reciprocal:
        return _fma32(one_minus, y * 0.5, y)
    return _fma32(one_minus, xy * 0.5, xy)


def _wrap32(v: torch.Tensor) -> torch.Tensor:
    """An int64 holding a 32-bit pattern, as the int32 with the same bits."""
    v = v & 0xFFFFFFFF
    return torch.where(v >= 2 ** 31, v - 2 ** 32, v).to(torch.int32)


def sqrt_fast(x: torch.Tensor) -> torch.Tensor:
    """sqrt_tile<FAST_APPROX=true>: the accurate result on x >= 0 (including inf), sqrt(-0.0) = +0.0 (the kernel
    comment: the fast path does not keep -0), and for x < 0 whatever the refinement makes of the negative bits
    instead of NaN (here under IEEE float32 arithmetic, e.g. +inf for -4; the card's overflow handling in that
    garbage path is not modelled)."""
    x = x.to(torch.float32)
    neg = x < 0
    garbage = _sqrt23(torch.where(neg, x, torch.ones_like(x)), reciprocal=False)
    return torch.where(neg, garbage, torch.sqrt(torch.clamp(x, min=0.0)))


def rsqrt_fast(x: torch.Tensor) -> torch.Tensor:
    """rsqrt_tile<RsqrtMode::Fast>: the accurate result on x >= 0, no NaN for x < 0 (the refinement runs on the
    negative input's bits)."""
    x = x.to(torch.float32)
    neg = x < 0
    garbage = _sqrt23(torch.where(neg, x, torch.ones_like(x)), reciprocal=True)
    return torch.where(neg, garbage, torch.rsqrt(torch.where(neg, torch.ones_like(x), x)))


def max_rel_error_exp_fast() -> float:
    """The largest relative error of exp_fast over one octave of inputs (it is periodic in x*log2(e)), for
    documentation and tests: derived from the algorithm, not measured on a card."""
    x = torch.linspace(0.0, math.log(2.0), 20001, dtype=torch.float32)
    return float(((exp_fast(x, True).double() - torch.exp(x.double())) / torch.exp(x.double())).abs().max())


# --- reciprocal and division (Wormhole ckernel_sfpu_recip.h / ckernel_sfpu_binary.h, read as facts) -----------
# _init_reciprocal_: the quadratic y = k2 - k1*x + k0*x**2 minimising the absolute error of 1/x on [1, 2).
_RECIP_K0 = 0.343145549297332763671875
_RECIP_K1 = 1.51471805572509765625
_RECIP_K2 = 2.1642131805419921875


def _flush_denormals(x: torch.Tensor) -> torch.Tensor:
    """The SFPU has no denormals: a result below 2**-126 in magnitude is a (signed) zero."""
    return torch.where(x.abs() < 2.0 ** -126, torch.zeros_like(x).copysign(x), x)


def reciprocal_sfpu(x: torch.Tensor, newton_steps: int) -> torch.Tensor:
    """1/x as _sfpu_reciprocal_<max_iter> computes it on Wormhole: the mantissa m of x (as -m, m in [1, 2))
    gets the quadratic estimate, then `newton_steps` Newton-Raphson steps y += y*(1 - m*y) (each an SFPMAD
    rounded to float32), then the power of two 2**(127 - exp) (built as ~exp with a cleared mantissa, halved),
    then x's sign. max_iter=0 (the approximate mode) does one step, as max_iter=1 does ("the same effect at the
    moment", per the source); 1 step is ~bfloat16-exact, 2 steps ~1 float32 ulp. x = +-0 (and denormals, which
    the SFPU reads as zero) give +-inf; +-inf and NaN give +-0."""
    x = x.to(torch.float32)
    bits = _bits(x)
    exp = (bits >> 23) & 0xFF
    neg_m = _from_bits(torch.tensor(-1082130432, dtype=torch.int32) | (bits & 0x7FFFFF))  # 0xBF800000 | mantissa
    y = _fma32(_RECIP_K0, neg_m, _RECIP_K1)
    y = _fma32(y, neg_m, _RECIP_K2)
    for _ in range(max(newton_steps, 1)):
        t = _fma32(neg_m, y, 1.0)
        y = _fma32(y, t, y)
    scale = _from_bits(((255 - exp) << 23).to(torch.int32))  # 2**(128 - exp): +inf for exp 0, 0 for exp 255
    scale = _flush_denormals(scale * 0.5)
    y = _flush_denormals((y.to(torch.float64) * scale.to(torch.float64)).to(torch.float32))
    return y.abs().copysign(x)


def divide_sfpu(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a / b as div_binary_tile computes it (calculate_sfpu_binary_div): a * _sfpu_reciprocal_<2>(b) in float32,
    with b == 0 giving NaN for a == 0 and otherwise inf carrying a's sign (setsgn(inf, a), whatever b's sign), and
    a == b giving exactly 1. The kernel's APPROXIMATION_MODE is unused: its error is that of the 2-step
    reciprocal times one rounding (within ~2 float32 ulp of a/b)."""
    a, b = a.to(torch.float32), b.to(torch.float32)
    a_in = _flush_denormals(a)
    b_in = _flush_denormals(b)
    q = _flush_denormals((a_in.to(torch.float64) * reciprocal_sfpu(b_in, 2).to(torch.float64)).to(torch.float32))
    inf = torch.full_like(a, float("inf")).copysign(a_in)
    q = torch.where(b_in == 0, torch.where(a_in == 0, torch.full_like(a, float("nan")), inf), q)
    return torch.where((b_in != 0) & (a_in == b_in), torch.ones_like(a), q)


def max_rel_error_reciprocal(newton_steps: int) -> float:
    """The largest relative error of reciprocal_sfpu over one octave of mantissas (it scales exactly by powers
    of two), for tests and docs."""
    x = torch.linspace(1.0, 2.0, 1 << 16, dtype=torch.float32)
    return float(((reciprocal_sfpu(x, newton_steps).double() - 1.0 / x.double()) * x.double()).abs().max())
