"""Device number formats: bfloat16, block floating point (bfloat8_b/bfloat4_b), integer casts, tile padding.

Everything is vectorised over whole tensors with torch: no Python loops over tiles or elements.
The block-float rules follow tt-metal's host packer (blockfloat_common.cpp) and were checked bit for bit
against the real `ttnn` 0.81.1 host conversion (see shared/reference/block-float.md).
"""
from __future__ import annotations

import functools
import math

import torch

from .types import BLOCK_FLOAT, FACE_SIZE, INT_RANGE, TILE_SIZE, TORCH_DTYPE, DataType, Layout, Shape

# Mantissa width including the explicit leading one, per block-float format.
_BFP_MANTISSA_BITS = {DataType.BFLOAT8_B: 7, DataType.BFLOAT4_B: 3}


def padded_shape(shape, layout: Layout) -> Shape:
    """TILE pads the last two dims to multiples of 32; a 1-D tensor is tiled as a single row."""
    return _padded_shape(tuple(shape), layout)


@functools.lru_cache(maxsize=4096)  # called for every op's inputs and output: a model has few distinct shapes
def _padded_shape(shape: tuple, layout: Layout) -> Shape:
    if layout != Layout.TILE:
        return Shape(shape)
    if len(shape) == 0:
        return Shape((TILE_SIZE, TILE_SIZE))
    if len(shape) == 1:
        return Shape((TILE_SIZE, _round_up(shape[0], TILE_SIZE)))
    return Shape(shape[:-2] + (_round_up(shape[-2], TILE_SIZE), _round_up(shape[-1], TILE_SIZE)))


def broadcast_shape(*shapes) -> tuple:
    """torch.broadcast_shapes for int shapes, cached: torch's version costs ~0.5 ms per call in symbolic checks.
    Raises RuntimeError when the shapes do not broadcast."""
    return _broadcast_shape(tuple(tuple(s) for s in shapes))


@functools.lru_cache(maxsize=4096)
def _broadcast_shape(shapes: tuple) -> tuple:
    rank = max((len(s) for s in shapes), default=0)
    out = [1] * rank
    for s in shapes:
        for i, d in enumerate(s, rank - len(s)):
            if d != out[i] and d != 1:
                if out[i] != 1:
                    raise RuntimeError(f"shapes {[list(x) for x in shapes]} cannot be broadcast")
                out[i] = d
    return tuple(out)


def _round_up(n: int, m: int) -> int:
    return max(m, -(-n // m) * m) if n > 0 else m


def round_bfloat16(x: torch.Tensor) -> torch.Tensor:
    """Round float32 to bfloat16, nearest-even, subnormals and -0 kept (as the host converter does)."""
    return x.to(torch.float32).to(torch.bfloat16)


def flush_denormals(x: torch.Tensor) -> torch.Tensor:
    """The matrix engine flushes denormal inputs and results to zero (and reads -0 as 0)."""
    return flush_denormals_checked(x)[0]


def _any(mask: torch.Tensor) -> bool:
    # torch's any() over a bool tensor is ~25x slower on CPU than max() over the same bytes
    return mask.numel() > 0 and bool(mask.view(torch.uint8).max())


def flush_denormals_checked(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """flush_denormals(x) and whether it changed nothing (no denormal, no -0): then x itself is returned.

    Speed: activations reach every matmul, so the check runs as float reductions (boolean masks cost 3-5x
    more per element in torch on CPU, and any() 25x): the smallest magnitude decides most tensors in two
    passes; with zeros present (ReLU, padding), a denormal shows as 0 < min(|x|, tiny) * 2^126 < 1 and a -0 as
    a -inf reciprocal. Only a NaN takes the exact masked path."""
    tiny = torch.finfo(torch.float32).tiny
    if x.numel() == 0:
        return x, True
    z = x.abs()
    lo = float(z.amin())
    if lo >= tiny:                       # no zero, no denormal
        return x, True
    if lo == lo:                         # not NaN
        c = z.clamp_(max=tiny).mul_(2.0 ** 126)   # zero -> 0, denormal -> (0, 1), normal -> 1 (exact)
        if float(c.sub_(c * c).amax()) == 0.0 and float(torch.reciprocal(x).amin()) != -math.inf:
            return x, True
        z = x.abs()
    small = z < tiny
    if not _any(small) or not _any(small & (x.view(torch.int32) != 0)):
        return x, True
    return torch.where(small, 0.0, x), False


def _as_face_rows(x: torch.Tensor, pad_value: float = 0.0) -> tuple[torch.Tensor, tuple]:
    """View x (padded to tiles) as blocks of 16 values: one row of one 16x16 face each."""
    shape = tuple(x.shape)
    x2 = x.reshape(1, -1) if x.dim() <= 1 else x
    h, w = x2.shape[-2], x2.shape[-1]
    ph, pw = _round_up(h, TILE_SIZE), _round_up(w, TILE_SIZE)
    if (ph, pw) != (h, w):
        x2 = torch.nn.functional.pad(x2, (0, pw - w, 0, ph - h), value=pad_value)
    return x2.reshape(*x2.shape[:-1], pw // FACE_SIZE, FACE_SIZE), (shape, h, w)


def quantize_block_float(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Round float32 values to what bfloat8_b/bfloat4_b store, returned as float32 of the same shape.

    A block is 16 values of one face row; its shared exponent is the largest biased float32 exponent in
    it. Each mantissa (hidden one made explicit) is shifted right to that exponent, dropping bits, then
    rounded to `w` bits nearest-even and saturated. A block holding Inf/NaN gets exponent 255. Reading back
    renormalises each mantissa (its leading one into the hidden position, the exponent lowered by the shift),
    so under exponent 255 only a mantissa whose leading one stays on top is special (the bare one: Inf, more
    bits: NaN); a finite value that kept a lower bit reads back finite, e.g. [inf, 1e37] -> [inf, 2^123 =
    1.06e37] in bfloat8_b (one bit kept needs >= 2^(128 - w), about 2.7e36 for bfloat8_b); smaller finite
    values flush to zero. Checked against the real ttnn 0.81.1 packer (conformance corpus
    `fmt/inf_with_large_finite`). Subnormals flush to zero and -0 becomes +0.
    """
    if dtype not in BLOCK_FLOAT:
        raise ValueError(f"{dtype} is not a block-float format")
    w = _BFP_MANTISSA_BITS[dtype]
    blocks, (shape, h, wdt) = _as_face_rows(x.to(torch.float32).contiguous())
    bits = blocks.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    sign = bits >> 31
    exp = (bits >> 23) & 0xFF
    mant = torch.where(exp == 0, torch.zeros_like(bits), (bits & 0x7FFFFF) | 0x800000)
    exp = torch.where(exp == 0, torch.zeros_like(exp), exp)
    shared = exp.amax(dim=-1, keepdim=True)
    shift = (shared - exp).clamp(max=40)
    m = mant >> shift
    drop = 24 - w
    q = m >> drop
    rem = m & ((1 << drop) - 1)
    half = 1 << (drop - 1)
    up = (rem > half) | ((rem == half) & ((q & 1) == 1))
    q = torch.clamp(q + up.to(torch.int64), max=(1 << w) - 1)
    # Decode: value = sign * q * 2^(shared - 127 - (w - 1)); under exponent 255, a mantissa whose leading one
    # is in the top bit keeps that exponent on renormalising: Inf (the bare one) or NaN; any other is finite.
    mag = torch.ldexp(q.to(torch.float64), (shared - 127 - (w - 1)).to(torch.float64))
    top = (shared == 255) & (q >= (1 << (w - 1)))
    mag = torch.where(top & (q == (1 << (w - 1))), torch.full_like(mag, math.inf), mag)
    mag = torch.where(top & (q != (1 << (w - 1))), torch.full_like(mag, math.nan), mag)
    val = torch.where((sign == 1) & (q != 0), -mag, mag).to(torch.float32)
    val = val.reshape(*val.shape[:-2], -1)[..., :h, :wdt]
    return val.reshape(shape)


# Host float->integer casts are C++ static_casts (undefined out of range), compiled to x86 SIMD: the real
# library's results are those instructions' results, checked bit for bit by `make conformance`. Out-of-range
# and NaN give INT_MIN from the 32-bit truncating convert; the SIMD path saturates uint16/uint8 and builds
# uint32 from two int32 converts, while the last `numel % width` elements of a ROW_MAJOR buffer take the
# scalar path, which keeps low bits instead. A TILE buffer (whole tiles) has no such tail.
_SIMD_WIDTH = {DataType.UINT32: 8, DataType.UINT16: 4, DataType.UINT8: 8}
_INT_BITS = {DataType.INT32: 32, DataType.UINT32: 32, DataType.UINT16: 16, DataType.UINT8: 8, DataType.INT8: 8}


def _cvt(f: torch.Tensor, bits: int) -> torch.Tensor:
    """x86 truncating convert to a signed `bits` integer: NaN and out-of-range give the minimum."""
    t = f.trunc()
    ok = (t >= -(2.0 ** (bits - 1))) & (t < 2.0 ** (bits - 1))
    return torch.where(ok, t, torch.full_like(t, -(2.0 ** (bits - 1)))).to(torch.int64)


def cast_to_integer(x: torch.Tensor, dtype: DataType, layout: Layout = Layout.TILE) -> torch.Tensor:
    """To an integer dtype as the real host conversion does (see above); integer sources wrap to the width."""
    lo, hi = INT_RANGE[dtype]
    bits = _INT_BITS[dtype]
    if not x.is_floating_point():
        v = x.to(torch.int64) & ((1 << bits) - 1)
        v = torch.where(v > hi, v - (1 << bits), v) if lo < 0 else v
        return v.to(TORCH_DTYPE[dtype])
    f = x.to(torch.float64)
    if dtype == DataType.INT8:  # not produced by the host converter: truncate and saturate
        return torch.nan_to_num(f, nan=0.0).trunc().clamp(lo, hi).to(TORCH_DTYPE[dtype])
    if dtype == DataType.INT32:
        return _cvt(f, 32).to(TORCH_DTYPE[dtype])
    if dtype == DataType.UINT32:
        low = _cvt(f, 32) & 0xFFFFFFFF
        vec = torch.where(f >= 2.0 ** 31, (_cvt(f - 2.0 ** 31, 32) & 0xFFFFFFFF) | 0x80000000, low)
        scalar = _cvt(f, 64) & 0xFFFFFFFF
    else:  # UINT16 / UINT8
        c = _cvt(f, 32)
        vec, scalar = c.clamp(0, hi), c & hi
    tail = x.numel() % _SIMD_WIDTH[dtype] if layout == Layout.ROW_MAJOR else 0
    if tail:
        idx = torch.arange(x.numel()).reshape(x.shape)
        vec = torch.where(idx >= x.numel() - tail, scalar, vec)
    return vec.to(TORCH_DTYPE[dtype])


def to_device_format(x: torch.Tensor, dtype: DataType, layout: Layout) -> torch.Tensor:
    """Convert a torch tensor to the values a tensor of `dtype` holds, in the emulator's host storage dtype."""
    if dtype in BLOCK_FLOAT:
        if layout != Layout.TILE:
            raise RuntimeError(f"{dtype.name} is only supported in TILE layout: pass layout=ttnn.TILE_LAYOUT "
                               f"(block-float data is stored per 32x32 tile)")
        src = x.to(torch.float32) if x.dtype != torch.bool else x.to(torch.float32)
        return quantize_block_float(src, dtype)
    if dtype == DataType.BFLOAT16:
        y = x.to(torch.float32).to(torch.bfloat16) if x.dtype != torch.bfloat16 else x.clone()
        # The converter writes +NaN only. A finite sum rules NaN out in one fast pass (a NaN mask costs 20x
        # more); only a NaN or infinite sum pays for the exact check.
        if y.numel() and not math.isfinite(float(y.sum())) and _any(torch.isnan(y)):
            y = torch.where(torch.isnan(y), torch.full_like(y, math.nan), y)
        return y
    if dtype == DataType.FLOAT32:
        return x.to(torch.float32).clone() if x.dtype == torch.float32 else x.to(torch.float32)
    if dtype in INT_RANGE:
        return cast_to_integer(x, dtype, layout)
    raise RuntimeError(f"Unsupported data type {dtype}: the emulator stores bfloat16, float32, bfloat8_b, "
                       f"bfloat4_b, int32, uint32, uint16, uint8 and int8")


def tilize(x: torch.Tensor, pad_value: float = 0.0) -> torch.Tensor:
    """Physical TILE order: [..., tiles_h, tiles_w, 4 faces, 16, 16] (faces TL, TR, BL, BR, each row-major)."""
    x2 = x.reshape(1, -1) if x.dim() <= 1 else x
    h, w = x2.shape[-2:]
    ph, pw = _round_up(h, TILE_SIZE), _round_up(w, TILE_SIZE)
    x2 = torch.nn.functional.pad(x2, (0, pw - w, 0, ph - h), value=pad_value)
    lead = x2.shape[:-2]
    t = x2.reshape(*lead, ph // 32, 2, 16, pw // 32, 2, 16)
    n = len(lead)
    t = t.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2, n + 5)
    return t.reshape(*lead, ph // 32, pw // 32, 4, 16, 16)


def untilize(t: torch.Tensor, shape) -> torch.Tensor:
    """Inverse of tilize: back to row-major, unpadded to the logical `shape`."""
    lead = t.shape[:-5]
    th, tw = t.shape[-5], t.shape[-4]
    n = len(lead)
    x = t.reshape(*lead, th, tw, 2, 2, 16, 16).permute(*range(n), n, n + 2, n + 4, n + 1, n + 3, n + 5)
    x = x.reshape(*lead, th * 32, tw * 32)
    shape = tuple(shape)
    if len(shape) <= 1:
        return x.reshape(-1)[: (shape[0] if shape else 1)].reshape(shape)
    return x[..., : shape[-2], : shape[-1]].reshape(shape)
