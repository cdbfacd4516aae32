"""The generated inputs both libraries convert. numpy only: the real side imports this file too.

Keys: `fmt/<case>` float32 arrays for the format round trips (integer formats take `integer_source` of them),
`cast/<case>` arrays (float32, int32 or uint32) for the host typecasts. Each case targets a way a converter
goes wrong: rounding ties, a block's shared exponent, specials, the last partial SIMD vector of a buffer,
tile padding of odd shapes.
"""
import numpy as np

EDGE_DIMS = (1, 31, 32, 33, 65)
FORMATS = ("bfloat16", "bfloat8_b", "bfloat4_b", "float32", "int32", "uint32")
LAYOUTS = ("ROW_MAJOR", "TILE")
TYPECAST_TARGETS = ("int32", "uint32", "uint16", "uint8", "float32", "bfloat16")


def _bits(u):
    return np.array(u, dtype=np.uint32).view(np.float32)


def _face_rows(values, rows=32, width=64):
    """Tile `values` (a multiple of 16 long) into a (rows, width) array, one 16-value block per face row."""
    flat = np.resize(np.asarray(values, np.float32), rows * width)
    return flat.reshape(rows, width)


def format_cases(rng):
    c = {}
    c["random"] = rng.standard_normal((40, 70)).astype(np.float32)
    c["random_wide"] = (rng.standard_normal((2, 3, 33, 65)) * 10.0 ** rng.integers(-6, 6, (2, 3, 33, 65)))\
        .astype(np.float32)
    # Magnitudes 2^-24 .. 2^24 inside one 16-value block: the shared exponent drops the small ones.
    c["mixed_face_row"] = _face_rows(np.ldexp(rng.uniform(1, 2, 16 * 8), np.tile(np.arange(-24, 24, 3), 8)) *
                                     rng.choice([-1, 1], 16 * 8))
    # Exact halfway points: of bfloat16 (1 + odd * 2^-8), and of bfloat8_b/bfloat4_b steps under a block max 1.x.
    k = np.arange(64)
    bf16_ties = (1.0 + (2 * k + 1) * 2.0 ** -8) * np.where(k % 2, -1, 1)
    bfp8_ties = np.concatenate([[1.5], (np.arange(15) + 0.5) * 2.0 ** -6])
    bfp4_ties = np.concatenate([[1.0], (np.arange(15) % 7 + 0.5) * 2.0 ** -2])
    c["ties"] = _face_rows(np.concatenate([bf16_ties, np.tile(bfp8_ties, 4), np.tile(bfp4_ties, 4)]))
    c["integers"] = rng.integers(-300, 300, (33, 65)).astype(np.float32)
    tiny = np.finfo(np.float32).tiny
    c["subnormals"] = _face_rows(np.concatenate([
        _bits([1, 2, 3, 0x7FFFFF, 0x400000, 0x80000001, 0x807FFFFF, 0x00100000]),
        [tiny, -tiny, tiny * 2, 1e-39, -1e-40, 1e-45, 3e-42, -2e-44]]))
    c["signed_zeros"] = _face_rows(np.array([0.0, -0.0] * 8 + [-0.0, 1.0] * 8 + [-0.0] * 16, np.float32))
    c["specials"] = _face_rows(np.array([np.inf, -np.inf, np.nan, 1.0, -2.0, 0.5, -np.nan, 3.0] * 2 +
                                        [1.0, np.inf] + [0.25] * 14 + [np.nan] + [-7.0] * 15 +
                                        [-np.inf] + [1e-3] * 15, np.float32))
    # A block holding Inf/NaN with large finite values: they keep a bit under the shared exponent 255 and read
    # back finite (renormalised), the smaller ones flush; around the ~2.7e36 (bfloat8_b) and ~4e37 (bfloat4_b)
    # thresholds, with both signs and a NaN block.
    c["inf_with_large_finite"] = _face_rows(np.array(
        [np.inf, 1e37, 1.0, 3e36, 2.7e36, 2.6e36, -1e37, 3e38, 1e38, 5e37, 4e37, 1e30, 2.0 ** 126, 2.0 ** 125,
         -3e38, 0.0] +
        [np.nan, 1e37, -5e37, 1.7e38] + [0.5] * 12 +
        [-np.inf, np.inf, 2.1e37, 6e36] + [2.6e36] * 12 +
        [1e37, 1.0] * 8, np.float32))
    fmax = np.finfo(np.float32).max
    c["near_max"] = _face_rows(np.array([fmax, -fmax, fmax * 0.999, 3.39e38, 1.7e38, -3.0e38, 2.0 ** 127,
                                         -(2.0 ** 127) * 1.9999, 1.0, 3.3961775e38, 3.3895314e38, 1e38,
                                         -3.4e38, 2e38, 2.5e38, 3.4e38], np.float32))
    c["1d_70"] = rng.standard_normal(70).astype(np.float32)
    c["1d_1"] = np.array([1.2345678], np.float32)
    c["1d_33"] = rng.standard_normal(33).astype(np.float32)
    c["3d_odd"] = rng.standard_normal((3, 5, 7)).astype(np.float32)
    c["4d_odd"] = rng.standard_normal((2, 3, 5, 37)).astype(np.float32)
    for h in EDGE_DIMS:
        for w in EDGE_DIMS:
            c[f"edge_{h}x{w}"] = (rng.standard_normal((h, w)) * 3).astype(np.float32)
    return c


def integer_source(a):
    """The int32 array the integer formats are fed for a float case: rounded, specials to 0, clipped."""
    a = np.where(np.isfinite(a), a, 0.0).astype(np.float64)
    return np.clip(np.rint(a * 1000.0), -(2 ** 31), 2 ** 31 - 1).astype(np.int32)


def cast_cases(rng):
    c = {}
    edges = np.array([1.7, -1.7, 2.5, -2.5, 0.5, -0.5, -0.0, 255.9, 256.0, 300.0, 65535.5, 65536.0, 70000.0,
                      2147483520.0, 2.0 ** 31, -(2.0 ** 31), -3e9, 3e9, 4294967040.0, 2.0 ** 32, 5e9, 1e20,
                      -1e20, 3.4e38, np.nan, -np.nan, np.inf, -np.inf, 1e-40, 40000.0, 127.5, -129.0],
                     np.float32)
    # Lengths that leave 1..7 elements after the last full SIMD vector of the row-major buffer.
    for shape in ((37,), (3, 13), (2, 3, 7), (64,), (5, 11)):
        n = int(np.prod(shape))
        c[f"float_{'x'.join(map(str, shape))}"] = np.resize(rng.permutation(edges), n).reshape(shape)
    c["float_random"] = (rng.standard_normal((40, 70)) * 1e5).astype(np.float32)
    ints = np.array([0, 1, -1, 7, 255, 256, 65535, 65536, 16777217, 16777219, 2 ** 31 - 1, -(2 ** 31), 33554435,
                     65793, 16842753, -300], np.int32)
    c["int32_edges"] = np.resize(ints, (3, 13))
    c["int32_random"] = rng.integers(-(2 ** 31), 2 ** 31 - 1, (33, 65), dtype=np.int64).astype(np.int32)
    c["uint32_edges"] = np.resize(np.array([0, 1, 2 ** 31, 2 ** 32 - 1, 16777217, 4294967040, 2 ** 31 + 129, 65537],
                                           np.uint32), (37,))
    return c


def generate(seed=9):
    rng = np.random.default_rng(seed)
    out = {f"fmt/{k}": v for k, v in format_cases(rng).items()}
    out.update({f"cast/{k}": v for k, v in cast_cases(rng).items()})
    return out


# Classes whose methods are compared too, not only their constructors (the mesh API: users call
# MeshDevice.create_submesh, reshape, get_device_ids, ...). Shared by both sides like the corpus itself.
METHOD_CLASSES = ("MeshDevice", "MeshShape", "MeshCoordinate", "PlacementShard", "MeshMapperConfig",
                  "CppTensorToMesh")


# --- ND sharding (issue 16): memory configs the real TensorSpec fills in, reprs, equality ----------------------
# A grid is a list of inclusive [x0, y0, x1, y1] rectangles; the default is 4 columns x 2 rows.
_G8 = [[0, 0, 3, 1]]
ND_SPEC_CASES = [  # (tensor shape, shard shape, layout, distribution strategy, orientation, grid)
    ([2, 64, 128], [1, 32, 128], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [2, 64, 32], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [1, 32, 32], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [2, 32, 64], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [1, 64, 128], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [64, 128], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [2, 64, 128], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [1, 16, 128], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [1, 16, 128], "ROW_MAJOR", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [1, 30, 100], "ROW_MAJOR", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [1, 1, 2, 64, 128], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([4, 64, 128], [1, 32, 32], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([64, 128], [32, 64], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([64, 128], [64, 32], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([64, 128], [32, 32], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([64, 128], [32, 32], "TILE", "GRID_2D", "ROW_MAJOR", _G8),
    ([64, 256], [32, 32], "TILE", "GRID_2D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [1, 32, 128], "TILE", "GRID_2D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [1, 32, 128], "TILE", "CONTIGUOUS_1D", "ROW_MAJOR", _G8),
    ([2, 64, 128], [1, 32, 128], "TILE", "ROUND_ROBIN_1D", "COL_MAJOR", _G8),
    ([64, 128], [32, 32], "TILE", "ROUND_ROBIN_1D", "COL_MAJOR", [[0, 0, 1, 3]]),
    ([1, 64, 128], [1, 32, 128], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([128], [32], "ROW_MAJOR", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 3, 64, 128], [1, 3, 32, 128], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([2, 3, 64, 128], [2, 1, 32, 128], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", _G8),
    ([64, 128], [32, 32], "TILE", "ROUND_ROBIN_1D", "ROW_MAJOR", [[0, 0, 3, 0], [0, 1, 3, 1]]),
]
# Memory configs named for the equality probes: ("nd", buffer, shard, orientation, strategy), ("legacy", layout,
# buffer, shard) or ("placed", tensor shape, name of another config) = that config as a TILE bfloat16 tensor of
# that shape reports it (the real TensorSpec's memory_config).
ND_CONFIGS = {
    "nd_a": ("nd", "L1", [1, 32, 64], "ROW_MAJOR", "ROUND_ROBIN_1D"),
    "nd_a2": ("nd", "L1", [1, 32, 64], "ROW_MAJOR", "ROUND_ROBIN_1D"),
    "nd_b": ("nd", "L1", [1, 32, 32], "ROW_MAJOR", "ROUND_ROBIN_1D"),
    "nd_col": ("nd", "L1", [1, 32, 64], "COL_MAJOR", "ROUND_ROBIN_1D"),
    "nd_grid2d": ("nd", "L1", [1, 32, 64], "ROW_MAJOR", "GRID_2D"),
    "nd_dram": ("nd", "DRAM", [1, 32, 64], "ROW_MAJOR", "ROUND_ROBIN_1D"),
    "nd_h": ("nd", "L1", [32, 128], "ROW_MAJOR", "ROUND_ROBIN_1D"),
    "height": ("legacy", "HEIGHT_SHARDED", "L1", [32, 128]),
    "block": ("legacy", "BLOCK_SHARDED", "L1", [32, 128]),
    "nd_empty": ("legacy", "ND_SHARDED", "L1", None),
    "l1": ("legacy", "INTERLEAVED", "L1", None),
    "dram": ("legacy", "INTERLEAVED", "DRAM", None),
    "placed_nd_a": ("placed", [2, 64, 128], "nd_a"),
    "placed_nd_h": ("placed", [64, 128], "nd_h"),
    "placed_height": ("placed", [64, 128], "height"),
}
ND_EQ_PAIRS = [("nd_a", "nd_a2"), ("nd_a", "nd_b"), ("nd_a", "nd_col"), ("nd_a", "nd_grid2d"), ("nd_a", "nd_dram"),
               ("height", "block"), ("placed_nd_a", "nd_a"), ("placed_nd_h", "placed_height"),
               ("nd_h", "placed_height"), ("height", "placed_nd_h"), ("height", "placed_height"),
               ("nd_empty", "nd_a"), ("nd_empty", "l1"), ("l1", "dram")]
# TensorSpec's sharding helpers on the 4x2 grid: (shape, dtype, layout, method, argument); each answers with the
# memory config the resulting spec reports (or its error).
_TS = ([2, 50, 70], "bfloat16")
ND_TENSOR_SPEC_CASES = [
    (*_TS, layout, method, arg) for layout in ("TILE", "ROW_MAJOR") for method, arg in (
        ("sharded", ([1, 20, 30], None)), ("sharded", ([1, 20, 30], "REQUIRED")), ("sharded", ([1, 20, 30], "NONE")),
        ("sharded_nd", [1, 20, 30]), ("sharded_across_dims", [0]), ("sharded_across_dims", [1]),
        ("sharded_across_dims_except", [0]), ("sharded_across_dims_except", [-1]), ("height_sharded", "ROW_MAJOR"),
        ("width_sharded", "ROW_MAJOR"), ("block_sharded", "ROW_MAJOR"), ("block_sharded", "COL_MAJOR"),
        ("block_sharded_range", "ROW_MAJOR"))
] + [([2, 50, 70], dt, "ROW_MAJOR", "sharded", ([1, 20, 3], al)) for dt in ("float32", "uint8")
     for al in (None, "REQUIRED")] + [([2, 64, 128], "bfloat16", "TILE", "constructor_nd", [1, 32, 128]),
                                      ([64, 128], "bfloat16", "TILE", "constructor_legacy", [32, 32])]


def tensor_spec_case(ttnn, shape, dtype, layout, method, arg):
    """One ND_TENSOR_SPEC_CASES entry, built with the given ttnn module (the real one on the real side, the
    emulator in tests/real_ttnn/test_nd_sharding.py)."""
    g = ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(3, 1))])
    dt, lay, l1 = getattr(ttnn, dtype), getattr(ttnn, f"{layout}_LAYOUT"), ttnn.BufferType.L1
    if method == "constructor_nd":
        return ttnn.TensorSpec(ttnn.Shape(shape), dt, lay, ttnn.NdShardSpec(ttnn.Shape(arg), g), l1)
    if method == "constructor_legacy":
        return ttnn.TensorSpec(ttnn.Shape(shape), dt, lay, ttnn.TensorMemoryLayout.BLOCK_SHARDED,
                               ttnn.ShardSpec(g, arg, ttnn.ShardOrientation.ROW_MAJOR), l1)
    ts = ttnn.TensorSpec(ttnn.Shape(shape), dt, lay, l1)
    if method == "sharded":
        shard, align = arg
        if align is None:
            return ts.sharded(ttnn.Shape(shard), g)
        return ts.sharded(ttnn.Shape(shard), g, getattr(ttnn.ShardShapeAlignment, align))
    if method == "sharded_nd":
        return ts.sharded(ttnn.NdShardSpec(ttnn.Shape(arg), g))
    if method in ("sharded_across_dims", "sharded_across_dims_except"):
        return getattr(ts, method)(arg, g)
    orientation = getattr(ttnn.ShardOrientation, arg)
    if method == "block_sharded_range":
        return ts.block_sharded(ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(3, 1)), orientation)
    return getattr(ts, method)(g, orientation)

