"""TT-NN's value types: dtypes, layouts, memory configs, core coordinates, compute kernel configs.

Enum member names and values are those of the real `ttnn` 0.81.1 (read from the package), so code that
compares, prints or serialises them behaves the same on the emulator and on a card.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import torch


class _Enum(enum.Enum):
    def __repr__(self):  # the real package prints `DataType.BFLOAT16`
        return f"{type(self).__name__}.{self.name}"

    __str__ = __repr__

    def __int__(self):
        return self.value


class DataType(_Enum):
    BFLOAT16 = 0
    FLOAT32 = 1
    UINT32 = 2
    BFLOAT8_B = 3
    BFLOAT4_B = 4
    UINT8 = 5
    UINT16 = 6
    INT32 = 7
    FP8_E4M3 = 8
    INT8 = 9
    INVALID = 10


class Layout(_Enum):
    ROW_MAJOR = 0
    TILE = 1
    INVALID = 2


class BufferType(_Enum):
    DRAM = 0
    L1 = 1
    L1_SMALL = 3
    TRACE = 4


class TensorMemoryLayout(_Enum):
    INTERLEAVED = 0
    HEIGHT_SHARDED = 2
    WIDTH_SHARDED = 3
    BLOCK_SHARDED = 4
    ND_SHARDED = 5


class ShardOrientation(_Enum):
    ROW_MAJOR = 0
    COL_MAJOR = 1


class MathFidelity(_Enum):
    LoFi = 0
    HiFi2 = 2
    HiFi3 = 3
    HiFi4 = 4
    Invalid = 255

    @property
    def passes(self) -> int:
        """Matrix-engine passes per multiply (LoFi 1 .. HiFi4 4): each one is another cycle."""
        return {0: 1, 2: 2, 3: 3, 4: 4}[self.value]


class StorageType(_Enum):
    HOST = 0
    DEVICE = 1


class Arch(_Enum):
    WORMHOLE_B0 = 2
    BLACKHOLE = 3
    QUASAR = 4


class ThrottleLevel(_Enum):
    NO_THROTTLE = 0
    LEVEL_1 = 1
    LEVEL_2 = 2
    LEVEL_3 = 3
    LEVEL_4 = 4
    LEVEL_5 = 5


bfloat16 = DataType.BFLOAT16
float32 = DataType.FLOAT32
uint32 = DataType.UINT32
bfloat8_b = DataType.BFLOAT8_B
bfloat4_b = DataType.BFLOAT4_B
uint8 = DataType.UINT8
uint16 = DataType.UINT16
int32 = DataType.INT32
int8 = DataType.INT8
ROW_MAJOR_LAYOUT = Layout.ROW_MAJOR
TILE_LAYOUT = Layout.TILE

TILE_SIZE = 32
FACE_SIZE = 16
BLOCK_FLOAT = (DataType.BFLOAT8_B, DataType.BFLOAT4_B)
FLOATS = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B)
INTEGERS = (DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.INT32, DataType.INT8)

# Host element sizes in bytes; block-float sizes are per tile (see tile_bytes).
_ELEMENT_SIZE = {
    DataType.BFLOAT16: 2, DataType.FLOAT32: 4, DataType.UINT32: 4, DataType.INT32: 4,
    DataType.UINT16: 2, DataType.UINT8: 1, DataType.INT8: 1, DataType.FP8_E4M3: 1,
}
# A bfloat8_b tile is 1024 mantissa bytes + 64 shared exponents; bfloat4_b 512 + 64 (block-float.md).
_BLOCK_FLOAT_TILE_BYTES = {DataType.BFLOAT8_B: 1088, DataType.BFLOAT4_B: 576}

# How each device dtype is held on the host by the emulator and handed back by to_torch.
TORCH_DTYPE = {
    DataType.BFLOAT16: torch.bfloat16, DataType.FLOAT32: torch.float32,
    DataType.BFLOAT8_B: torch.float32, DataType.BFLOAT4_B: torch.float32,
    DataType.INT32: torch.int32, DataType.UINT32: torch.int64, DataType.UINT16: torch.int32,
    DataType.UINT8: torch.uint8, DataType.INT8: torch.int8,
}
# Default device dtype for a torch dtype when from_torch gets dtype=None (as the real from_torch infers).
FROM_TORCH_DTYPE = {
    torch.bfloat16: DataType.BFLOAT16, torch.float32: DataType.FLOAT32, torch.float16: DataType.BFLOAT16,
    torch.float64: DataType.FLOAT32, torch.int32: DataType.INT32, torch.int64: DataType.INT32,
    torch.int16: DataType.INT32, torch.int8: DataType.INT8, torch.uint8: DataType.UINT8,
    torch.bool: DataType.UINT8,
}
INT_RANGE = {
    DataType.INT32: (-(2**31), 2**31 - 1), DataType.UINT32: (0, 2**32 - 1), DataType.UINT16: (0, 2**16 - 1),
    DataType.UINT8: (0, 2**8 - 1), DataType.INT8: (-(2**7), 2**7 - 1),
}


def tile_bytes(dtype: DataType) -> int:
    if dtype in _BLOCK_FLOAT_TILE_BYTES:
        return _BLOCK_FLOAT_TILE_BYTES[dtype]
    return TILE_SIZE * TILE_SIZE * element_size(dtype)


def element_size(dtype: DataType) -> int:
    if dtype in _BLOCK_FLOAT_TILE_BYTES:
        raise ValueError(f"{dtype} has no per-element size: it is stored per 32x32 tile; use tile_bytes()")
    return _ELEMENT_SIZE[dtype]


class Shape(tuple):
    """A tensor shape: a tuple of ints with TT-NN's `rank` and `to_rank` helpers."""

    def __new__(cls, shape):
        return super().__new__(cls, (int(d) for d in shape))

    @property
    def rank(self) -> int:
        return len(self)

    def to_rank(self, rank: int) -> "Shape":
        if rank >= len(self):
            return Shape((1,) * (rank - len(self)) + tuple(self))
        drop = self[: len(self) - rank]
        if any(d != 1 for d in drop):
            raise RuntimeError(f"Shape {list(self)} cannot be reduced to rank {rank}: leading dims {list(drop)} are not 1")
        return Shape(self[len(self) - rank:])

    def __repr__(self):
        return f"Shape({list(self)})"

    __str__ = __repr__

    def __eq__(self, other):  # the real Shape equals a list or tuple of the same dims: Shape([4]) == [4]
        return tuple.__eq__(self, tuple(other) if isinstance(other, list) else other)

    def __ne__(self, other):
        return not self == other

    __hash__ = tuple.__hash__


@dataclass(frozen=True)
class CoreCoord:
    x: int
    y: int

    def __repr__(self):
        return f"({self.x}, {self.y})"


@dataclass(frozen=True)
class CoreRange:
    """An inclusive rectangle of cores, start..end (x = column, y = row), as the real CoreRange."""
    start: CoreCoord
    end: CoreCoord

    def num_cores(self) -> int:
        return (self.end.x - self.start.x + 1) * (self.end.y - self.start.y + 1)

    def grid_size(self) -> CoreCoord:
        return CoreCoord(self.end.x - self.start.x + 1, self.end.y - self.start.y + 1)

    def contains(self, other) -> bool:
        """Whether a core, a range or every range of a set lies inside this rectangle."""
        if isinstance(other, CoreCoord):
            return self.start.x <= other.x <= self.end.x and self.start.y <= other.y <= self.end.y
        if isinstance(other, CoreRangeSet):
            return all(self.contains(r) for r in other.ranges())
        return self.contains(other.start) and self.contains(other.end)

    def __repr__(self):
        return f"[{self.start.x}-{self.start.y} - {self.end.x}-{self.end.y}]"


class CoreRangeSet:
    """A set of core rectangles; built from a list or a set of CoreRange (both real overloads)."""

    def __init__(self, core_ranges):
        self._ranges = tuple(sorted(core_ranges, key=lambda r: (r.start.y, r.start.x)))

    def ranges(self) -> tuple:
        return self._ranges

    def num_cores(self) -> int:
        return sum(r.num_cores() for r in self._ranges)

    def bounding_box(self) -> CoreRange:
        if not self._ranges:
            raise RuntimeError("bounding_box of an empty CoreRangeSet")
        return CoreRange(CoreCoord(min(r.start.x for r in self._ranges), min(r.start.y for r in self._ranges)),
                         CoreCoord(max(r.end.x for r in self._ranges), max(r.end.y for r in self._ranges)))

    def contains(self, other) -> bool:
        if isinstance(other, CoreRangeSet):
            return all(self.contains(r) for r in other.ranges())
        if isinstance(other, CoreRange):  # every core of the range must be in some range of the set
            return all(self.contains(CoreCoord(x, y)) for x in range(other.start.x, other.end.x + 1)
                       for y in range(other.start.y, other.end.y + 1))
        return any(r.contains(other) for r in self._ranges)

    def __eq__(self, other):
        return isinstance(other, CoreRangeSet) and self._ranges == other._ranges

    def __hash__(self):
        return hash(self._ranges)

    def __repr__(self):
        return "{" + ", ".join(repr(r) for r in self._ranges) + "}"


def grid_range_set(x: int, y: int) -> CoreRangeSet:
    """The rectangle of x columns by y rows from core (0, 0)."""
    return CoreRangeSet([CoreRange(CoreCoord(0, 0), CoreCoord(x - 1, y - 1))])


def num_cores_to_corerangeset(target_num_cores: int, grid_size: CoreCoord, row_wise: bool = False) -> CoreRangeSet:
    """The first `target_num_cores` cores of a grid, filled row by row (row_wise) or column by column, as
    ranges: full rows (columns) and a partial last one. Same result as the real helper (checked with the real
    package: 20 cores of 8x8 row-wise are {[0-0 - 7-1], [0-2 - 3-2]})."""
    gx, gy = grid_size.x, grid_size.y
    if target_num_cores > gx * gy:
        raise RuntimeError(f"Target number of cores {target_num_cores} is greater than total number of available "
                           f"cores {gx * gy}")
    line, lines = (gx, gy) if row_wise else (gy, gx)
    full, rest = divmod(target_num_cores, line)
    ranges = []
    if full:
        end = CoreCoord(gx - 1, full - 1) if row_wise else CoreCoord(full - 1, gy - 1)
        ranges.append(CoreRange(CoreCoord(0, 0), end))
    if rest:
        start = CoreCoord(0, full) if row_wise else CoreCoord(full, 0)
        end = CoreCoord(rest - 1, full) if row_wise else CoreCoord(full, rest - 1)
        ranges.append(CoreRange(start, end))
    return CoreRangeSet(ranges)


@dataclass(frozen=True)
class CoreGrid:
    """A grid of cores; keyword-only (x=, y=) as in the real package, where positional order is a trap."""
    x: int
    y: int

    def __init__(self, *, x: int, y: int):
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def num_cores(self) -> int:
        return self.x * self.y

    def __repr__(self):
        return f"ttnn.CoreGrid(x={self.x}, y={self.y})"


@dataclass(frozen=True)
class ShardSpec:
    """Which cores hold the shards (grid), each shard's [height, width] in elements, and the order the shards
    are dealt to the cores (orientation). Real attribute names: grid, shape, orientation."""
    grid: CoreRangeSet
    shard_shape: tuple
    shard_orientation: ShardOrientation

    def __init__(self, grid, shard_shape, shard_orientation):
        if not isinstance(grid, CoreRangeSet):
            raise TypeError(f"ShardSpec grid must be a ttnn.CoreRangeSet, got {type(grid).__name__}")
        if len(tuple(shard_shape)) != 2:
            raise TypeError(f"ShardSpec shard_shape must be [height, width], got {list(shard_shape)}")
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "shard_shape", tuple(int(d) for d in shard_shape))
        object.__setattr__(self, "shard_orientation", shard_orientation)

    @property
    def shape(self) -> list:
        return list(self.shard_shape)

    @property
    def orientation(self) -> ShardOrientation:
        return self.shard_orientation

    def num_cores(self) -> int:
        return self.grid.num_cores()

    def __repr__(self):
        return (f"ShardSpec{{grid={self.grid!r}, shape={list(self.shard_shape)}, "
                f"orientation=ShardOrientation::{self.shard_orientation.name}}}")


@dataclass(frozen=True)
class MemoryConfig:
    memory_layout: TensorMemoryLayout = TensorMemoryLayout.INTERLEAVED
    buffer_type: BufferType = BufferType.DRAM
    shard_spec: ShardSpec | None = None

    def __post_init__(self):
        sharded = self.memory_layout not in (TensorMemoryLayout.INTERLEAVED,)
        if sharded and self.buffer_type == BufferType.DRAM and self.shard_spec is None:
            raise RuntimeError("A sharded MemoryConfig needs a shard_spec (which cores hold which shard); "
                               "pass ttnn.ShardSpec(grid, shard_shape, orientation) or use INTERLEAVED")

    def is_sharded(self) -> bool:
        return self.memory_layout != TensorMemoryLayout.INTERLEAVED

    @property
    def interleaved(self) -> bool:
        return not self.is_sharded()

    def __repr__(self):
        return (f"MemoryConfig(memory_layout=TensorMemoryLayout::{self.memory_layout.name},"
                f"buffer_type=BufferType::{self.buffer_type.name},shard_spec={self.shard_spec})")


DRAM_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
L1_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.L1)
L1_HEIGHT_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1)
L1_WIDTH_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.WIDTH_SHARDED, BufferType.L1)
L1_BLOCK_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.BLOCK_SHARDED, BufferType.L1)


class ShardStrategy(enum.Enum):
    """ttnn.ShardStrategy (a plain Python enum in the real ttnn.types, values 1..3)."""
    HEIGHT = 1
    WIDTH = 2
    BLOCK = 3


_STRATEGY_LAYOUT = {ShardStrategy.HEIGHT: TensorMemoryLayout.HEIGHT_SHARDED,
                    ShardStrategy.WIDTH: TensorMemoryLayout.WIDTH_SHARDED,
                    ShardStrategy.BLOCK: TensorMemoryLayout.BLOCK_SHARDED}


def _shard_grid(core_grid, use_height_and_width_as_shard_shape: bool) -> CoreRangeSet:
    """The cores of create_sharded_memory_config's core_grid argument (a CoreGrid, a pair of CoreGrids, or a
    CoreRangeSet, which is only allowed with an explicit shard shape)."""
    if isinstance(core_grid, CoreGrid):
        return grid_range_set(core_grid.x, core_grid.y)
    if isinstance(core_grid, (list, tuple)):
        if len(core_grid) != 2:
            raise RuntimeError("Invalid core_grid")
        if not all(isinstance(g, CoreGrid) for g in core_grid):
            raise RuntimeError("Invalid core_grid type")
        first, second = core_grid
        return CoreRangeSet([CoreRange(CoreCoord(0, 0), CoreCoord(first.x - 1, first.y - 1)),
                             CoreRange(CoreCoord(0, first.y), CoreCoord(second.x - 1, first.y))])
    if isinstance(core_grid, CoreRangeSet):
        if not use_height_and_width_as_shard_shape:
            raise RuntimeError("height and width must be shard shape with CoreRangeSet")
        return core_grid
    raise RuntimeError("Invalid core_grid type")


def _divide(total: int, parts: int) -> int:
    if total % parts:
        raise RuntimeError("Invalid sharding core_grid")
    return total // parts


def _shard_shape(shape, core_grid, strategy, orientation, explicit: bool) -> tuple:
    """Shard [height, width] as create_sharded_memory_config computes it: the tensor is seen as
    [prod(leading dims) * height, width] (logical sizes) and split evenly, or used as is when explicit."""
    *batch, height, width = shape
    if explicit:
        return (height, width) if orientation == ShardOrientation.ROW_MAJOR else (width, height)
    rows = math.prod(batch) * height
    if strategy == ShardStrategy.BLOCK:
        across, down = (core_grid.x, core_grid.y) if orientation == ShardOrientation.ROW_MAJOR else \
            (core_grid.y, core_grid.x)
        return _divide(rows, down), _divide(width, across)
    cores = core_grid.x * core_grid.y
    if strategy == ShardStrategy.HEIGHT:
        return _divide(rows, cores), width
    return rows, _divide(width, cores)


def create_sharded_memory_config(shape, core_grid, strategy, orientation=None,
                                 use_height_and_width_as_shard_shape=False) -> MemoryConfig:
    """An L1 sharded MemoryConfig splitting a tensor of `shape` over `core_grid` by `strategy`: HEIGHT (rows
    over all cores), WIDTH (columns over all cores) or BLOCK (rows over the grid's rows and columns over its
    columns, or the reverse with COL_MAJOR orientation). Sizes must divide evenly ("Invalid sharding
    core_grid" otherwise), as in the real ttnn.create_sharded_memory_config (ttnn/types.py, read from 0.81.1);
    orientation defaults to ROW_MAJOR."""
    if not isinstance(shape, (list, tuple)):
        raise RuntimeError("Invalid input shape")
    if not isinstance(core_grid, (CoreGrid, tuple, list, CoreRangeSet)):
        raise RuntimeError("Invalid core_grid type")
    if strategy not in _STRATEGY_LAYOUT:
        raise RuntimeError("Invalid sharding strategy")
    orientation = ShardOrientation.ROW_MAJOR if orientation is None else orientation
    if orientation not in (ShardOrientation.ROW_MAJOR, ShardOrientation.COL_MAJOR):
        raise RuntimeError("Invalid shard orientation")
    grid = _shard_grid(core_grid, use_height_and_width_as_shard_shape)
    shard = _shard_shape(shape, core_grid, strategy, orientation, use_height_and_width_as_shard_shape)
    return MemoryConfig(_STRATEGY_LAYOUT[strategy], BufferType.L1, ShardSpec(grid, shard, orientation))


@dataclass
class WormholeComputeKernelConfig:
    """How an op's compute kernel runs: multiplier passes, SFPU approximations and accumulator width."""
    math_fidelity: MathFidelity = MathFidelity.Invalid
    math_approx_mode: bool = True
    fp32_dest_acc_en: bool = False
    packer_l1_acc: bool = False
    dst_full_sync_en: bool = False
    throttle_level: ThrottleLevel = ThrottleLevel.NO_THROTTLE

    def __init__(self, *, math_fidelity=MathFidelity.Invalid, math_approx_mode=True, fp32_dest_acc_en=False,
                 packer_l1_acc=False, dst_full_sync_en=False, throttle_level=ThrottleLevel.NO_THROTTLE):
        self.math_fidelity = math_fidelity
        self.math_approx_mode = math_approx_mode
        self.fp32_dest_acc_en = fp32_dest_acc_en
        self.packer_l1_acc = packer_l1_acc
        self.dst_full_sync_en = dst_full_sync_en
        self.throttle_level = throttle_level


BlackholeComputeKernelConfig = WormholeComputeKernelConfig
GrayskullComputeKernelConfig = WormholeComputeKernelConfig


def init_device_compute_kernel_config(arch, device_kernel_config=None, *, math_fidelity=MathFidelity.LoFi,
                                      math_approx_mode=True, fp32_dest_acc_en=False, packer_l1_acc=False,
                                      dst_full_sync_en=False, throttle_level=ThrottleLevel.NO_THROTTLE):
    """The portable constructor: an explicit config wins, otherwise the keyword defaults (LoFi, approx)."""
    if device_kernel_config is not None:
        return device_kernel_config
    return WormholeComputeKernelConfig(math_fidelity=math_fidelity, math_approx_mode=math_approx_mode,
                                       fp32_dest_acc_en=fp32_dest_acc_en, packer_l1_acc=packer_l1_acc,
                                       dst_full_sync_en=dst_full_sync_en, throttle_level=throttle_level)


@dataclass(frozen=True)
class ShardAllocation:
    """How a sharded buffer sits in L1: every core of the shard grid holds one shard of `pages_per_core`
    pages of `page_size` bytes (the last shards are padded, as the real allocator pads them)."""
    cores: int
    pages_per_core: int
    page_size: int


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_shard_counts(memory_layout, orientation, grid: CoreRangeSet, along_h: int, along_w: int):
    """The number of shards along each dim must fit the grid, per the real TensorLayout checks."""
    cores = grid.num_cores()
    if memory_layout == TensorMemoryLayout.HEIGHT_SHARDED and along_h > cores:
        raise RuntimeError(f"Number of shards along height {along_h} must not exceed number of cores {cores}")
    if memory_layout == TensorMemoryLayout.WIDTH_SHARDED and along_w > cores:
        raise RuntimeError(f"Number of shards along width {along_w} must not exceed number of cores {cores}")
    if memory_layout == TensorMemoryLayout.BLOCK_SHARDED:
        size = grid.bounding_box().grid_size()
        rows, cols = (size.y, size.x) if orientation == ShardOrientation.ROW_MAJOR else (size.x, size.y)
        if along_h > rows:
            raise RuntimeError("Number of shards along height must not exceed core grid height!")
        if along_w > cols:
            kind = "columns" if orientation == ShardOrientation.ROW_MAJOR else "rows"
            raise RuntimeError(f"Number of shards along width {along_w} must not exceed number of {kind} {cols} "
                               f"for {'row' if kind == 'columns' else 'column'} major orientation!")


def shard_allocation(memory_config: MemoryConfig, padded_shape, layout: Layout, dtype: DataType,
                     device_grid: CoreCoord) -> ShardAllocation:
    """Validate a sharded memory config against a tensor (padded shape, layout, dtype) and the device's
    compute grid, as the real TensorLayout does when the tensor is allocated, and size its per-core shard.
    The tensor is seen as [prod(leading dims), last dim]; TILE shards must be whole tiles."""
    spec = memory_config.shard_spec
    if spec is None:
        raise RuntimeError(f"A {memory_config.memory_layout.name} tensor needs a shard spec (which cores hold which "
                           f"rows and columns): build the memory config with ttnn.create_sharded_memory_config "
                           f"or ttnn.ShardSpec, or let the op derive it from a program config")
    full = CoreRange(CoreCoord(0, 0), CoreCoord(device_grid.x - 1, device_grid.y - 1))
    if not full.contains(spec.grid):
        raise RuntimeError(f"Invalid shard grid: shard grid {spec.grid!r} does not lie within the device's compute "
                           f"grid ({device_grid.x}, {device_grid.y})")
    sh, sw = spec.shard_shape
    if sh <= 0 or sw <= 0:
        raise RuntimeError("Shard shape must have non zero volume!")
    height = math.prod(tuple(padded_shape)[:-1]) if len(padded_shape) > 1 else 1
    width = tuple(padded_shape)[-1] if len(padded_shape) else 1
    if layout == Layout.TILE and (sh % TILE_SIZE or sw % TILE_SIZE):
        raise RuntimeError(f"Physical shard shape [{sh}, {sw}] must be tile [{TILE_SIZE}, {TILE_SIZE}] sized!")
    if memory_config.memory_layout == TensorMemoryLayout.HEIGHT_SHARDED and sw != width:
        raise RuntimeError(f"Shard width {sw} must match physical width {width} for height sharded")
    if memory_config.memory_layout == TensorMemoryLayout.WIDTH_SHARDED and sh != height:
        raise RuntimeError(f"Shard height {sh} must match physical height {height} for width sharded")
    _check_shard_counts(memory_config.memory_layout, spec.shard_orientation, spec.grid, _ceil_div(height, sh),
                        _ceil_div(width, sw))
    if layout == Layout.TILE:
        pages, page = (sh // TILE_SIZE) * (sw // TILE_SIZE), tile_bytes(dtype)
    else:
        pages, page = sh, sw * element_size(dtype)
    return ShardAllocation(spec.num_cores(), pages, page)
