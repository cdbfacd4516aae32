"""Program configs: how a hand-tuned TT-NN model tells matmul, layer_norm and softmax to split their work over
the cores, and the checks the real ops run on them.

The classes have the real 0.81.1 constructors (keyword-only, same names, defaults and conversions, read from
the package: a (x, y) tuple becomes a CoreCoord, a (UnaryOpType, param) tuple a UnaryWithParam, out_block_h/w
default to per_core_M/N). The checks follow tt-metal's matmul_device_operation.cpp (validate and
compute_output_specs), the layernorm and softmax validate functions; the messages are the 0.81.1 ones (found
in the package's library). A config does not change the emulator's numerics (each op still computes in
float32 with the fidelity and accumulation of its compute config); it decides whether the call is legal, which
activation is fused into the kernel, and the shard spec of a sharded output, which a cost model reads from
tensor.memory_config().
"""
from __future__ import annotations

from dataclasses import dataclass

from ..tensor import Tensor
from ..types import (TILE_SIZE, CoreCoord, CoreRange, CoreRangeSet, MemoryConfig, ShardOrientation, shard_spec_2d,
                     ShardSpec, TensorMemoryLayout, num_cores_to_corerangeset)
from ._eltwise import UnaryOpType, UnaryWithParam

__all__ = ["MatmulMultiCoreReuseProgramConfig", "MatmulMultiCoreReuseMultiCastProgramConfig",
           "MatmulMultiCoreReuseMultiCast1DProgramConfig", "LayerNormDefaultProgramConfig",
           "LayerNormShardedMultiCoreProgramConfig", "SoftmaxDefaultProgramConfig",
           "SoftmaxShardedMultiCoreProgramConfig"]

_HEIGHT, _WIDTH, _BLOCK = (TensorMemoryLayout.HEIGHT_SHARDED, TensorMemoryLayout.WIDTH_SHARDED,
                           TensorMemoryLayout.BLOCK_SHARDED)


def _coord(value) -> CoreCoord:
    """compute_with_storage_grid_size accepts a CoreCoord or an (x, y) pair, as the real binding converts."""
    if isinstance(value, CoreCoord):
        return value
    x, y = value
    return CoreCoord(int(x), int(y))


def _activation(value):
    """fused_activation accepts a UnaryWithParam or a (UnaryOpType, param...) tuple (GELU, True) -> params [1.0]."""
    if value is None or isinstance(value, UnaryWithParam):
        return value
    if isinstance(value, tuple) and value and isinstance(value[0], UnaryOpType):
        return UnaryWithParam(value[0], *[float(p) for p in value[1:]])
    raise TypeError(f"fused_activation must be a ttnn.UnaryWithParam or (ttnn.UnaryOpType, param), got {value!r}")


def _show(v) -> str:
    if v is None:
        return "std::nullopt"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, CoreCoord):
        return f"{v.x}-{v.y}"
    return str(v)


class _Config:
    """Shared repr in the real package's style: ClassName(field=value,...)."""

    def __repr__(self):
        body = ",".join(f"{k}={_show(getattr(self, k))}" for k in self.__dataclass_fields__)
        return f"{type(self).__name__}({body})"


@dataclass(kw_only=True, repr=False)
class _BlockedMatmul(_Config):
    """The multicast configs' shared leading fields (same names and order in both real classes) and
    conversions: grid pair -> CoreCoord, activation tuple -> UnaryWithParam, output blocks defaulting to the
    whole per-core block."""
    compute_with_storage_grid_size: CoreCoord
    in0_block_w: int
    out_subblock_h: int
    out_subblock_w: int
    out_block_h: int | None = None
    out_block_w: int | None = None
    per_core_M: int
    per_core_N: int

    def __post_init__(self):
        self.compute_with_storage_grid_size = _coord(self.compute_with_storage_grid_size)
        self.fused_activation = _activation(self.fused_activation)
        self.out_block_h = self.per_core_M if self.out_block_h is None else self.out_block_h
        self.out_block_w = self.per_core_N if self.out_block_w is None else self.out_block_w


class _NormConfig(_Config):
    def __repr__(self):  # the real repr leaves out the deprecated legacy_rsqrt
        return super().__repr__().replace(f",legacy_rsqrt={int(self.legacy_rsqrt)}", "")


@dataclass(kw_only=True, repr=False)
class MatmulMultiCoreReuseProgramConfig(_Config):
    """Batched matmul without multicast: each core computes whole per_core_M x per_core_N output blocks (N must
    fit one block); used for attention's Q@K^T and P@V on height-sharded heads."""
    compute_with_storage_grid_size: CoreCoord
    in0_block_w: int
    out_subblock_h: int
    out_subblock_w: int
    per_core_M: int
    per_core_N: int
    allowed_worker_cores: CoreRangeSet | None = None

    def __post_init__(self):
        self.compute_with_storage_grid_size = _coord(self.compute_with_storage_grid_size)


@dataclass(kw_only=True, repr=False)
class MatmulMultiCoreReuseMultiCastProgramConfig(_BlockedMatmul):
    """2D multicast matmul: the output is tiled in per_core_M x per_core_N blocks over a grid; rows of A are
    multicast along one grid axis and columns of B along the other (swapped by transpose_mcast, which goes
    with COL_MAJOR block-sharded activations)."""
    transpose_mcast: bool
    fused_activation: UnaryWithParam | None = None
    fuse_batch: bool = True
    allowed_worker_cores: CoreRangeSet | None = None


@dataclass(kw_only=True, repr=False)
class MatmulMultiCoreReuseMultiCast1DProgramConfig(_BlockedMatmul):
    """1D multicast matmul: blocks laid along one line of cores; mcast_in0 multicasts A to cores that each own
    per_core_N columns (wide outputs, decode), otherwise B is multicast to cores owning rows (tall outputs)."""
    fuse_batch: bool
    fused_activation: UnaryWithParam | None = None
    mcast_in0: bool
    gather_in0: bool = False
    hop_cores: CoreRangeSet = CoreRangeSet([])  # immutable: a shared empty set is safe
    num_global_cb_receivers: int = 1
    untilize_out: bool = False
    allowed_worker_cores: CoreRangeSet | None = None
    stream_in1: bool = False


@dataclass(kw_only=True, repr=False)
class LayerNormDefaultProgramConfig(_NormConfig):
    """Interleaved layer_norm/rms_norm (the default when no config is given)."""
    legacy_reduction: bool = False
    legacy_rsqrt: bool = False
    use_welford: bool = False


@dataclass(kw_only=True, repr=False)
class LayerNormShardedMultiCoreProgramConfig(_NormConfig):
    """layer_norm/rms_norm over a sharded input: each core normalises its block_h rows, exchanging partial
    statistics with the cores that hold the other block_w-tile pieces of the same rows."""
    compute_with_storage_grid_size: CoreCoord
    subblock_w: int
    block_h: int
    block_w: int
    inplace: bool
    legacy_reduction: bool = False
    legacy_rsqrt: bool = False
    use_welford: bool = False

    def __post_init__(self):
        self.compute_with_storage_grid_size = _coord(self.compute_with_storage_grid_size)

class SoftmaxDefaultProgramConfig:
    """Interleaved softmax (the default of attention_softmax(_))."""

    def __init__(self):
        pass

    def __eq__(self, other):
        return isinstance(other, SoftmaxDefaultProgramConfig)

    def __hash__(self):
        return hash(SoftmaxDefaultProgramConfig)


@dataclass(kw_only=True, repr=False)
class SoftmaxShardedMultiCoreProgramConfig(_Config):
    """Softmax over a sharded input: each core holds block_h tile-rows of block_w tiles (the whole row)."""
    compute_with_storage_grid_size: CoreCoord
    subblock_w: int
    block_h: int
    block_w: int

    def __post_init__(self):
        self.compute_with_storage_grid_size = _coord(self.compute_with_storage_grid_size)

    def __repr__(self):  # the real one prints this config with ", " separators
        return (f"SoftmaxShardedMultiCoreProgramConfig(compute_with_storage_grid_size="
                f"{_show(self.compute_with_storage_grid_size)}, subblock_w={self.subblock_w}, "
                f"block_h={self.block_h}, block_w={self.block_w})")


for _cls in (MatmulMultiCoreReuseProgramConfig, MatmulMultiCoreReuseMultiCastProgramConfig,
             MatmulMultiCoreReuseMultiCast1DProgramConfig):
    _cls.__module__ = "ttnn._ttnn.operations.matmul"
for _cls in (LayerNormDefaultProgramConfig, LayerNormShardedMultiCoreProgramConfig, SoftmaxDefaultProgramConfig,
             SoftmaxShardedMultiCoreProgramConfig):
    _cls.__module__ = "ttnn._ttnn.operations.normalization"

MATMUL_CONFIGS = (MatmulMultiCoreReuseProgramConfig, MatmulMultiCoreReuseMultiCastProgramConfig,
                  MatmulMultiCoreReuseMultiCast1DProgramConfig)


# --- matmul ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatmulTiles:
    """A matmul's sizes in tiles after transposes: A is [batch_a, m, k], B is [batch_b, k, n] (m per batch)."""
    batch_a: int
    batch_b: int
    m: int
    k: int
    n: int

    @property
    def total_m(self) -> int:
        return self.batch_a * self.m


def _fatal(cond: bool, msg: str):
    if not cond:
        raise RuntimeError(msg)


def _shard_tiles(t: Tensor) -> tuple[int, int]:
    h, w = shard_spec_2d(t.memory_config(), "ttnn.matmul").shard_shape
    return h // TILE_SIZE, w // TILE_SIZE


def _dest_registers(compute_kernel_config, fp32_acc: bool) -> int:
    """Dst holds 16 tiles; half of them unless dst_full_sync_en; half again with fp32 accumulation."""
    full = bool(compute_kernel_config is not None and compute_kernel_config.dst_full_sync_en)
    return (16 if full else 8) // (2 if fp32_acc else 1)


def _check_common(name: str, cfg, dims: MatmulTiles, device_grid: CoreCoord, registers: int):
    grid = cfg.compute_with_storage_grid_size
    _fatal(grid.x > 0 and grid.y > 0, f"{name}: compute_with_storage_grid_size must be non-zero, got ({grid.x}, "
                                      f"{grid.y})")
    if not getattr(cfg, "gather_in0", False):
        _fatal(grid.x <= device_grid.x and grid.y <= device_grid.y,
               f"{name}: compute_with_storage_grid_size ({grid.x}, {grid.y}) must fit within device grid "
               f"({device_grid.x}, {device_grid.y})")
    for attr in ("in0_block_w", "per_core_M", "per_core_N", "out_subblock_h", "out_subblock_w"):
        _fatal(getattr(cfg, attr) != 0, f"{name}: {attr} is 0, which is not valid")
    h, w = cfg.out_subblock_h, cfg.out_subblock_w
    if isinstance(cfg, MatmulMultiCoreReuseProgramConfig):
        _fatal(cfg.per_core_M % h == 0, f"{name}: per_core_M ({cfg.per_core_M}) must be divisible by "
                                        f"out_subblock_h ({h})")
        _fatal(cfg.per_core_N % w == 0, f"{name}: per_core_N ({cfg.per_core_N}) must be divisible by "
                                        f"out_subblock_w ({w})")
    else:
        _fatal(cfg.out_block_h % h == 0, f"{name}: out_block_h ({cfg.out_block_h}) must be divisible by "
                                         f"out_subblock_h ({h})")
        _fatal(cfg.out_block_w % w == 0, f"{name}: out_block_w ({cfg.out_block_w}) must be divisible by "
                                         f"out_subblock_w ({w})")
        _fatal(cfg.per_core_M % cfg.out_block_h == 0, f"{name}: per_core_M ({cfg.per_core_M}) must be divisible "
                                                      f"by out_block_h ({cfg.out_block_h})")
        _fatal(cfg.per_core_N % cfg.out_block_w == 0, f"{name}: per_core_N ({cfg.per_core_N}) must be divisible "
                                                      f"by out_block_w ({cfg.out_block_w})")
    _fatal(h * w <= registers, f"{name}: out_subblock_w {w} times out_subblock_h {h} needs to be at most "
                               f"{registers} to fit in hardware")
    _fatal(dims.k % cfg.in0_block_w == 0, f"{name}: Kt ({dims.k}) must be divisible by in0_block_w "
                                          f"({cfg.in0_block_w})")


def _check_sharded_output_subblocks(name: str, cfg, out_mc: MemoryConfig):
    if out_mc.is_sharded():
        _fatal(cfg.out_subblock_w == cfg.per_core_N or cfg.out_subblock_h == 1,
               f"{name}: out_subblock_w ({cfg.out_subblock_w}) must equal per_core_N ({cfg.per_core_N}) or "
               f"out_subblock_h ({cfg.out_subblock_h}) must be 1")


def _check_block_sharded_a(name: str, cfg, a: Tensor, out_mc: MemoryConfig):
    want = ShardOrientation.COL_MAJOR if cfg.transpose_mcast else ShardOrientation.ROW_MAJOR
    got = shard_spec_2d(a.memory_config(), name).shard_orientation
    kind = "transpose MCAST" if cfg.transpose_mcast else "non-transpose MCAST"
    _fatal(got == want, f"{name}: Input tensor A must have {want.name} shard orientation for {kind}, got: "
                        f"ShardOrientation::{got.name}")
    if out_mc.is_sharded():
        _fatal(a.memory_config().buffer_type == out_mc.buffer_type,
               f"{name}: Input tensor A and output buffer types must match, got input: "
               f"{a.memory_config().buffer_type.name} vs output: {out_mc.buffer_type.name}")
        _fatal(a.memory_config().memory_layout == out_mc.memory_layout,
               f"{name}: Input tensor A and output memory layouts must match, got input: "
               f"{a.memory_config().memory_layout.name} vs output: {out_mc.memory_layout.name}")


def _output_blocks(name: str, cfg, dims: MatmulTiles) -> tuple[int, int]:
    """(blocks down M, blocks across N) of a multicast config; fusing the batch into M needs an unbatched B."""
    if cfg.fuse_batch:
        _fatal(dims.batch_b == 1, f"{name}: Matmul with fused batch requires input tensors of shapes BCMK*11KN=BCMN "
                                  f"or equivalent. Please change the second input tensor or adjust the program "
                                  f"config.")
    rows = dims.total_m if cfg.fuse_batch else dims.m
    return -(-rows // cfg.per_core_M), -(-dims.n // cfg.per_core_N)


def _check_mcast_2d(name: str, cfg, a: Tensor, b: Tensor, dims: MatmulTiles, out_mc: MemoryConfig):
    grid = cfg.compute_with_storage_grid_size
    blocks_y, blocks_x = _output_blocks(name, cfg, dims)
    if cfg.transpose_mcast:
        blocks_x, blocks_y = blocks_y, blocks_x
    _fatal(blocks_x <= grid.x, f"{name}: Num output blocks along x ({blocks_x}) must be smaller than or equal to the "
                               f"number of columns in compute grid ({grid.x})!")
    _fatal(blocks_y <= grid.y, f"{name}: Num output blocks along y ({blocks_y}) must be smaller than or equal to the "
                               f"number of rows in compute grid ({grid.y})!")
    if a.is_sharded():
        layout = a.memory_config().memory_layout
        _fatal(cfg.fuse_batch, f"{name}: Batch fusion is required when input A is sharded")
        _fatal(layout in (_BLOCK, _HEIGHT), f"{name}: Unsupported memory layout {layout.name}.")
        sh, sw = _shard_tiles(a)
        if layout == _BLOCK:
            _check_block_sharded_a(name, cfg, a, out_mc)
        else:
            _fatal(not cfg.transpose_mcast, f"{name}: Transpose MCAST not supported with HEIGHT_SHARDED layout")
            _fatal(dims.k == cfg.in0_block_w, f"{name}: K ({dims.k}) must equal in0_block_w ({cfg.in0_block_w})")
        _fatal(cfg.per_core_M == sh, f"{name}: per_core_M ({cfg.per_core_M}) must equal shard_shape[0] / "
                                     f"in0_tile.get_height() ({sh})")
        _fatal(sw % cfg.in0_block_w == 0, f"{name}: shard_shape[1] / in0_tile.get_width() ({sw}) must be divisible "
                                          f"by in0_block_w ({cfg.in0_block_w})")
    if b.is_sharded():
        _fatal(not cfg.transpose_mcast, f"{name}: Transpose MCAST not supported when input B is sharded")
    if out_mc.is_sharded():
        _fatal(out_mc.memory_layout == _BLOCK, f"{name}: Output memory layout must be BLOCK_SHARDED, got: "
                                               f"TensorMemoryLayout::{out_mc.memory_layout.name}")
    _check_sharded_output_subblocks(name, cfg, out_mc)


def _check_reuse_rows(name: str, cfg, dims: MatmulTiles):
    if cfg.per_core_M > dims.m:
        _fatal(cfg.per_core_M % dims.m == 0, f"{name}: per_core_M, {cfg.per_core_M}, must be a multiple of M, "
                                             f"{dims.m} if per_core_M > M!")
        _fatal(dims.total_m % cfg.per_core_M == 0, f"{name}: input a total height, {dims.total_m}, must be "
                                                   f"divisible by per_core_M, {cfg.per_core_M}!")
    else:
        _fatal(dims.m % cfg.per_core_M == 0, f"{name}: per_core_M, {cfg.per_core_M}, must divide M, {dims.m}, if "
                                             f"per_core_M < M!")
    _fatal(dims.n == cfg.per_core_N, f"Error: N, {dims.n}, is not equal to per_core_N, {cfg.per_core_N}")


def _check_reuse_sharded_a(name: str, cfg, a: Tensor, b: Tensor, dims: MatmulTiles, out_mc: MemoryConfig):
    amc = a.memory_config()
    _fatal(amc.memory_layout != _WIDTH, f"Error: memory layout, TensorMemoryLayout::{amc.memory_layout.name}, is "
                                        f"not width sharded")
    sh, sw = _shard_tiles(a)
    _fatal(dims.k == sw, f"Error: K, {dims.k * TILE_SIZE}, needs to be equal to {sw * TILE_SIZE}")
    _fatal(sw == cfg.in0_block_w, f"Error: {sw * TILE_SIZE} needs to equal {cfg.in0_block_w} * {TILE_SIZE}")
    _fatal(cfg.per_core_M == sh, f"Error: {cfg.per_core_M} * {TILE_SIZE} needs to equal {sh * TILE_SIZE}")
    if b.is_sharded():
        bmc = b.memory_config()
        _fatal(amc.buffer_type == bmc.buffer_type and amc.memory_layout == bmc.memory_layout,
               f"Input tensors A and B must have matching buffer types and memory layouts, got A: "
               f"{amc.memory_layout.name}/{amc.buffer_type.name} vs B: {bmc.memory_layout.name}/{bmc.buffer_type.name}")
        _fatal(amc.shard_spec.grid == bmc.shard_spec.grid, "Input tensors A and B must have matching shard spec grids")
        _fatal(amc.shard_spec.shard_orientation == bmc.shard_spec.shard_orientation,
               "Input tensors A and B must have matching shard orientations")
    if out_mc.is_sharded():
        _fatal(amc.memory_layout == out_mc.memory_layout,
               f"{name}: Input tensor A and output memory layouts must match, got input: {amc.memory_layout.name} "
               f"vs output: {out_mc.memory_layout.name}")


def _check_reuse(name: str, cfg, a: Tensor, b: Tensor, dims: MatmulTiles, out_mc: MemoryConfig):
    _check_reuse_rows(name, cfg, dims)
    if a.is_sharded():
        _check_reuse_sharded_a(name, cfg, a, b, dims, out_mc)
    _fatal(not (dims.batch_a > 1 and dims.batch_b == 1),
           f"{name}: Batch broadcasting is not supported for the chosen program config")
    if b.is_sharded():
        bmc = b.memory_config()
        _fatal(cfg.per_core_M % dims.m == 0, f"{name}: per_core_M ({cfg.per_core_M}) must be a multiple of M "
                                             f"({dims.m}) when input B is sharded")
        _fatal(bmc.memory_layout != _WIDTH, f"Input B memory layout must not be WIDTH_SHARDED, got: "
                                            f"TensorMemoryLayout::{bmc.memory_layout.name}")
        bh, bw = _shard_tiles(b)
        _fatal(bw == dims.n == cfg.per_core_N, f"per_core_N * in1_tile.get_width() ({cfg.per_core_N * TILE_SIZE}) "
                                               f"must equal in1_shard_shape[1] ({bw * TILE_SIZE})")
        _fatal(bh % dims.k == 0, f"Input B shard shape[0] ({bh * TILE_SIZE}) must be divisible by K "
                                 f"({dims.k * TILE_SIZE})")
    if out_mc.is_sharded():
        _fatal(out_mc.memory_layout != _WIDTH, f"Output memory layout must not be WIDTH_SHARDED, got: "
                                               f"TensorMemoryLayout::{out_mc.memory_layout.name}")
    _check_sharded_output_subblocks(name, cfg, out_mc)


def _check_mcast_1d(name: str, cfg, a: Tensor, dims: MatmulTiles, out_mc: MemoryConfig):
    grid = cfg.compute_with_storage_grid_size
    blocks_y, blocks_x = _output_blocks(name, cfg, dims)
    cores = grid.x * grid.y
    _fatal(blocks_x * blocks_y <= cores, f"{name}: Number of blocks exceeds number of cores: {blocks_x * blocks_y} "
                                         f"blocks > {cores} cores")
    if cfg.mcast_in0:
        rows = dims.total_m if cfg.fuse_batch else dims.m
        _fatal(blocks_y == 1, f"{name}: mcast_in0 requires M ({rows}) to fit within a single per_core_M block "
                              f"({cfg.per_core_M}), got num_blocks_y={blocks_y}")
    if out_mc.is_sharded():
        want = _WIDTH if cfg.mcast_in0 else _HEIGHT
        _fatal(out_mc.memory_layout in (want, _BLOCK), f"Error: Output memory layout must be {want.name} or "
                                                       f"BLOCK_SHARDED on a 1D grid.")
    _check_sharded_output_subblocks(name, cfg, out_mc)


def validate_matmul(cfg, a: Tensor, b: Tensor, dims: MatmulTiles, out_mc: MemoryConfig, fp32_acc: bool,
                    compute_kernel_config, device_grid: CoreCoord):
    """Raise as the real matmul does when `cfg` cannot compute A @ B with this output memory config."""
    if not isinstance(cfg, MATMUL_CONFIGS):
        raise TypeError(f"program_config must be a ttnn matmul program config (e.g. "
                        f"ttnn.MatmulMultiCoreReuseMultiCastProgramConfig), got {type(cfg).__name__}")
    name = type(cfg).__name__
    _check_common(name, cfg, dims, device_grid, _dest_registers(compute_kernel_config, fp32_acc))
    if isinstance(cfg, MatmulMultiCoreReuseMultiCastProgramConfig):
        _check_mcast_2d(name, cfg, a, b, dims, out_mc)
    elif isinstance(cfg, MatmulMultiCoreReuseProgramConfig):
        _check_reuse(name, cfg, a, b, dims, out_mc)
    else:
        _check_mcast_1d(name, cfg, a, dims, out_mc)


def matmul_output_memory_config(cfg, a: Tensor, b: Tensor, dims: MatmulTiles, out_mc: MemoryConfig) -> MemoryConfig:
    """The output's memory config: a sharded output gets the shard spec the program config implies (shards of
    per_core_M x per_core_N tiles; the user's shard grid when given), as compute_output_specs builds it."""
    if not out_mc.is_sharded():
        return out_mc
    shard = (cfg.per_core_M * TILE_SIZE, cfg.per_core_N * TILE_SIZE)
    grid = cfg.compute_with_storage_grid_size
    blocks_y, blocks_x = -(-dims.total_m // cfg.per_core_M), -(-dims.n // cfg.per_core_N)
    user = out_mc.shard_spec.grid if out_mc.shard_spec is not None else None
    if isinstance(cfg, MatmulMultiCoreReuseMultiCastProgramConfig):
        orient = ShardOrientation.COL_MAJOR if cfg.transpose_mcast else ShardOrientation.ROW_MAJOR
        ex, ey = (blocks_y, blocks_x) if cfg.transpose_mcast else (blocks_x, blocks_y)
        cores = user or CoreRangeSet([CoreRange(CoreCoord(0, 0), CoreCoord(ex - 1, ey - 1))])
    elif isinstance(cfg, MatmulMultiCoreReuseProgramConfig):
        orient = next((shard_spec_2d(t.memory_config(), "ttnn.matmul").shard_orientation for t in (a, b) if t.is_sharded()),
                      ShardOrientation.COL_MAJOR)
        cores = user or num_cores_to_corerangeset(blocks_x * blocks_y, grid, orient == ShardOrientation.ROW_MAJOR)
    else:
        orient = ShardOrientation.ROW_MAJOR
        cores = user or num_cores_to_corerangeset(blocks_x * blocks_y, grid, True)
    return MemoryConfig(out_mc.memory_layout, out_mc.buffer_type, ShardSpec(cores, shard, orient))


# --- layer_norm and softmax -----------------------------------------------------------------------------------
def _rows_and_tiles(x: Tensor) -> tuple[int, int]:
    """(rows in tiles, row width in tiles) of the tensor seen as [prod(leading dims), last dim], padded."""
    shape = x.padded_shape
    rows = 1
    for d in shape[:-1]:
        rows *= d
    return rows // TILE_SIZE, shape[-1] // TILE_SIZE


def _sharded_checks(qual: str, cfg, default_cls, sharded_cls, x: Tensor, device_grid: CoreCoord) -> bool:
    """The checks layer_norm's and softmax's sharded configs share; False for a default (or no) config, which
    needs none."""
    if cfg is None or isinstance(cfg, default_cls):
        return False
    if not isinstance(cfg, sharded_cls):
        raise TypeError(f"{qual}: program_config must be a ttnn.{default_cls.__name__} or "
                        f"ttnn.{sharded_cls.__name__}, got {type(cfg).__name__}")
    grid = cfg.compute_with_storage_grid_size
    _fatal(grid.x <= device_grid.x and grid.y <= device_grid.y,
           f"{qual}: compute_with_storage_grid_size ({grid.x}, {grid.y}) must fit within device grid "
           f"({device_grid.x}, {device_grid.y})")
    _fatal(x.is_sharded(), f"{qual}: {sharded_cls.__name__} needs a sharded input; shard it first "
                           f"(ttnn.to_memory_config with a sharded memory config)")
    _fatal(cfg.block_w % cfg.subblock_w == 0, "block_w must be divisible by subblock_w.")
    return True


def validate_layer_norm(qual: str, cfg, x: Tensor, residual: Tensor | None, device_grid: CoreCoord):
    """A LayerNormShardedMultiCoreProgramConfig needs a sharded input whose shards are block_h x block_w tiles on
    a grid within the config's; the residual must share the input's shard spec."""
    if not _sharded_checks(qual, cfg, LayerNormDefaultProgramConfig, LayerNormShardedMultiCoreProgramConfig, x,
                           device_grid):
        return
    grid = cfg.compute_with_storage_grid_size
    spec = shard_spec_2d(x.memory_config(), qual)
    box = spec.grid.bounding_box()
    _fatal(box.end.x - box.start.x < grid.x and box.end.y - box.start.y < grid.y,
           "Shard grid bounding box must fit within compute grid size")
    mt, kt = _rows_and_tiles(x)
    if mt == cfg.block_h:
        _fatal(-(-kt // spec.num_cores()) == cfg.block_w,
               f"block_w ({cfg.block_w}) must equal to K (in tiles) / num_cores ({-(-kt // spec.num_cores())})")
    else:
        across, down = (box.end.x + 1, box.end.y + 1) if spec.shard_orientation == ShardOrientation.ROW_MAJOR \
            else (box.end.y + 1, box.end.x + 1)
        _fatal(-(-kt // across) == cfg.block_w, f"block_w ({cfg.block_w}) must equal to K (in tiles) / num_cores "
                                                f"({-(-kt // across)})")
        _fatal(mt // down == cfg.block_h, f"block_h ({cfg.block_h}) must equal to M (in tiles) / num_cores "
                                          f"({mt // down})")
    if residual is not None:
        _fatal(residual.is_sharded() and residual.memory_config().shard_spec == spec,
               f"{qual}: residual_input_tensor must be sharded with the input's shard spec")


def validate_softmax(qual: str, cfg, x: Tensor, device_grid: CoreCoord):
    """A SoftmaxShardedMultiCoreProgramConfig needs a sharded input whose shard is block_h tile rows of the
    whole row (block_w tiles)."""
    if not _sharded_checks(qual, cfg, SoftmaxDefaultProgramConfig, SoftmaxShardedMultiCoreProgramConfig, x,
                           device_grid):
        return
    _, kt = _rows_and_tiles(x)
    _fatal(cfg.block_w == kt, f"{qual}: block_w ({cfg.block_w}) * tile width must equal the input's width "
                              f"({kt * TILE_SIZE})")
    sh, _ = _shard_tiles(x)
    _fatal(cfg.block_h == sh, f"{qual}: block_h ({cfg.block_h}) * tile height must equal the shard height "
                              f"({sh * TILE_SIZE})")


def sharded_like(out_mc: MemoryConfig | None, x: Tensor) -> MemoryConfig:
    """An op's output config when it keeps its input's placement: a sharded request without a shard spec takes
    the input's spec (same buffer type and layout), as the sharded norm/softmax kernels write in place."""
    if out_mc is None:
        return x.memory_config()
    if out_mc.is_sharded() and out_mc.shard_spec is None and x.is_sharded():
        return MemoryConfig(out_mc.memory_layout, out_mc.buffer_type, x.memory_config().shard_spec)
    return out_mc


