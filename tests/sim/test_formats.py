"""Device number formats against references computed independently (scalar, bit by bit)."""
import math
import struct

import pytest
import torch

from torch_ttnn.sim import formats


def f32_bits(v: float) -> int:
    return struct.unpack("<I", struct.pack("<f", v))[0]


def bits_f32(b: int) -> float:
    return struct.unpack("<f", struct.pack("<I", b & 0xFFFFFFFF))[0]


def ref_bf16(v: float) -> float:
    """Round-to-nearest-even on the top 16 bits, by integer arithmetic."""
    b = f32_bits(v)
    if (b >> 23) & 0xFF == 0xFF:
        return v
    lsb = (b >> 16) & 1
    return bits_f32(((b + 0x7FFF + lsb) >> 16) << 16)


def ref_block(values, w):
    """One 16-value block, scalar: shared exponent, truncating shift, RNE to w bits, saturate."""
    bits = [f32_bits(v) for v in values]
    exps = [(b >> 23) & 0xFF for b in bits]
    shared = max(exps)
    out = []
    for b, e in zip(bits, exps):
        if e == 0:
            out.append(0.0)
            continue
        m = ((b & 0x7FFFFF) | 0x800000) >> min(shared - e, 40)
        drop = 24 - w
        q, rem = m >> drop, m & ((1 << drop) - 1)
        if rem > (1 << (drop - 1)) or (rem == (1 << (drop - 1)) and q & 1):
            q += 1
        q = min(q, (1 << w) - 1)
        if shared == 255 and q >= 1 << (w - 1):   # renormalising keeps exponent 255 only for a top leading one
            mag = math.inf if q == 1 << (w - 1) else math.nan
        else:
            mag = math.ldexp(q, shared - 127 - (w - 1))
        out.append(-mag if (b >> 31) and q else mag)
    return out


BF16_CASES = [1.0, 1.00390625, 1.005859375, 1.0078125 + 2**-9, -3.14159, 1e-40, -1e-40, -0.0, 65504.0,
              3.3895e38, float("inf"), 2**-133, 1 + 2**-8, 1 + 3 * 2**-8]


@pytest.mark.parametrize("v", BF16_CASES)
def test_bfloat16_round_to_nearest_even(v):
    got = formats.round_bfloat16(torch.tensor([v])).float().item()
    ref = ref_bf16(v)
    assert f32_bits(got) == f32_bits(ref), (v, got, ref)


@pytest.mark.parametrize("dtype,w", [("BFLOAT8_B", 7), ("BFLOAT4_B", 3)])
@pytest.mark.parametrize("case", ["random", "mixed", "ties", "integers", "special"])
def test_block_float_matches_scalar_reference(ttnn, dtype, w, case):
    g = torch.Generator().manual_seed(hash(case) % 1000)
    x = torch.randn(32, 48, generator=g)
    if case == "mixed":
        x = x * torch.exp(torch.randn(32, 48, generator=g) * 5)
    elif case == "ties":
        x = torch.tensor([1.0 + k / 128 + 1 / 256 for k in range(48)]).repeat(32, 1)
    elif case == "integers":
        x = torch.randint(-300, 300, (32, 48), generator=g).float()
    elif case == "special":
        x[0, 0], x[1, 5], x[2, 2], x[3, 3], x[4, 4] = math.inf, math.nan, 1e-40, -0.0, 3.3e38
    got = formats.quantize_block_float(x, getattr(ttnn.DataType, dtype))
    ref = torch.tensor([ref_block(row[c:c + 16].tolist(), w) for row in x for c in range(0, 64, 16)
                        if c < 48]).reshape(32, 48)
    same = (got.view(torch.int32) == ref.view(torch.int32)) | (got.isnan() & ref.isnan())
    assert bool(same.all()), f"{int((~same).sum())} values differ"


@pytest.mark.parametrize("dtype,row,want", [
    # Values read from the real ttnn 0.81.1 packer (conformance corpus fmt/inf_with_large_finite).
    ("BFLOAT8_B", [math.inf, 1e37, 1.0], [math.inf, 2.0 ** 123, 0.0]),
    ("BFLOAT8_B", [math.inf, 2.7e36, 2.6e36], [math.inf, 2.0 ** 122, 0.0]),
    ("BFLOAT8_B", [math.nan, -1e37], [math.nan, -(2.0 ** 123)]),
    ("BFLOAT8_B", [math.inf, 3e38], [math.inf, 56 * 2.0 ** 122]),
    ("BFLOAT4_B", [math.inf, 1e37], [math.inf, 0.0]),
    ("BFLOAT4_B", [math.inf, 1e38, 3e38], [math.inf, 2.0 ** 126, math.inf]),
])
def test_block_with_inf_keeps_large_finite_values(ttnn, dtype, row, want):
    """A face row holding Inf/NaN: a finite value that keeps a mantissa bit under the shared exponent 255 reads
    back finite (renormalised), as the real packer does, not NaN."""
    x = torch.zeros(32, 32)
    x[0, :len(row)] = torch.tensor(row)
    got = formats.quantize_block_float(x, getattr(ttnn.DataType, dtype))[0, :len(row)].tolist()
    assert all((math.isnan(g) and math.isnan(e)) or g == e for g, e in zip(got, want)), got


def test_one_large_value_flushes_only_its_face_row(ttnn):
    x = torch.full((32, 32), 0.01)
    x[0, 3] = 1000.0
    q = formats.quantize_block_float(x, ttnn.bfloat8_b)
    assert q[0, 3] == 1000.0
    assert torch.all(q[0, :16][torch.arange(16) != 3] == 0)      # same face row: flushed
    assert torch.all(q[0, 16:] != 0) and torch.all(q[1, :] != 0)  # next face and next row: kept


def test_padded_shapes(ttnn):
    assert formats.padded_shape((40, 70), ttnn.TILE_LAYOUT) == (64, 96)
    assert formats.padded_shape((70,), ttnn.TILE_LAYOUT) == (32, 96)
    assert formats.padded_shape((2, 3, 33, 65), ttnn.TILE_LAYOUT) == (2, 3, 64, 96)
    assert formats.padded_shape((40, 70), ttnn.ROW_MAJOR_LAYOUT) == (40, 70)


@pytest.mark.parametrize("shape", [(32, 32), (40, 70), (2, 3, 33, 65), (70,)])
def test_tilize_face_order_and_round_trip(shape):
    x = torch.arange(math.prod(shape), dtype=torch.float32).reshape(shape)
    t = formats.tilize(x)
    assert t.shape[-3:] == (4, 16, 16)
    if shape == (32, 32):  # faces: top-left, top-right, bottom-left, bottom-right, each row-major
        assert t[0, 0, 1, 0, 0] == x[0, 16] and t[0, 0, 2, 0, 0] == x[16, 0] and t[0, 0, 3, 15, 15] == x[31, 31]
    assert torch.equal(formats.untilize(t, shape), x)


# Expected values are the real ttnn 0.81.1 host conversion's (TILE: the SIMD path; see formats.cast_to_integer).
@pytest.mark.parametrize("dtype,values,expected", [
    ("INT32", [1.7, -1.7, 2.5, -2.5, 3e9], [1, -1, 2, -2, -2**31]),
    ("UINT16", [1.7, -1.7, 70000, 3.5], [1, 0, 65535, 3]),
    ("UINT8", [255.9, -3, 300, 7], [255, 0, 255, 7]),
    ("UINT32", [-1.0, 4e9, 5e9, 2.9], [2**32 - 1, 4000000000, 2**31, 2]),
])
def test_float_to_integer_as_the_real_host_cast(ttnn, dtype, values, expected):
    got = formats.cast_to_integer(torch.tensor(values, dtype=torch.float32), getattr(ttnn.DataType, dtype))
    assert got.tolist() == expected
