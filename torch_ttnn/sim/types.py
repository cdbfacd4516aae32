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


def _json_core_range(r: CoreRange, closed: bool = True) -> str:
    """A core range as the real library prints it inside shard specs (`{"start":{...},"end":{...}}`)."""
    text = f'{{"start":{{"x":{r.start.x},"y":{r.start.y}}},"end":{{"x":{r.end.x},"y":{r.end.y}}}'
    return text + "}" if closed else text


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
        # The real text, including its quirk: each range lacks its closing brace (seen in ttnn 0.81.1).
        grid = ", ".join(_json_core_range(r, closed=False) for r in self.grid.ranges())
        return (f"ShardSpec{{grid=[{grid}], shape={list(self.shard_shape)}, "
                f"orientation=ShardOrientation::{self.shard_orientation.name}}}")


class ShardDistributionStrategy(_Enum):
    """How an ND-sharded buffer deals its shards to the cores (tt-metal's BufferDistributionSpec):
    ROUND_ROBIN_1D: shard i to core i mod N of the grid's cores listed in the shard orientation's order;
    GRID_2D: a 2-D grid of shards onto the same 2-D grid of cores, one each (2-D shard shapes only);
    CONTIGUOUS_1D: each core a contiguous run of shards."""
    ROUND_ROBIN_1D = 0
    GRID_2D = 1
    CONTIGUOUS_1D = 2


class NdShardSpec:
    """An N-dimensional shard spec (ttnn 0.81.1, "experimental" there): the tensor is cut into shards of
    `shard_shape` (any rank up to the tensor's, aligned to its last dims) dealt to the cores of `grid` by
    `shard_distribution_strategy`, possibly several shards per core. Built as
    `ttnn.NdShardSpec(shard_shape, grid, orientation=ROW_MAJOR, shard_distribution_strategy=ROUND_ROBIN_1D)`
    and placed with `ttnn.MemoryConfig(buffer_type, nd_shard_spec)`. As in the real class, the attributes are
    writable, `==` compares all four, and the hash is the object's identity (the real one defines no hash)."""

    __slots__ = ("shard_shape", "grid", "orientation", "shard_distribution_strategy")

    def __init__(self, shard_shape, grid, orientation=ShardOrientation.ROW_MAJOR,
                 shard_distribution_strategy=ShardDistributionStrategy.ROUND_ROBIN_1D):
        if not isinstance(shard_shape, (Shape, list, tuple, torch.Size)) or \
                not all(hasattr(d, "__index__") and not isinstance(d, bool) and int(d) >= 0 for d in shard_shape):
            raise TypeError(f"NdShardSpec shard_shape must be a ttnn.Shape (or a list of non-negative ints), got "
                            f"{shard_shape!r}")
        if not isinstance(grid, CoreRangeSet):
            raise TypeError(f"NdShardSpec grid must be a ttnn.CoreRangeSet, got {type(grid).__name__} (wrap a "
                            f"CoreRange as ttnn.CoreRangeSet([core_range]))")
        if not isinstance(orientation, ShardOrientation):
            raise TypeError(f"NdShardSpec orientation must be a ttnn.ShardOrientation, got {orientation!r}")
        if not isinstance(shard_distribution_strategy, ShardDistributionStrategy):
            raise TypeError(f"NdShardSpec shard_distribution_strategy must be a ttnn.ShardDistributionStrategy, got "
                            f"{shard_distribution_strategy!r}")
        self.shard_shape = Shape(shard_shape)
        self.grid = grid
        self.orientation = orientation
        self.shard_distribution_strategy = shard_distribution_strategy

    def num_cores(self) -> int:
        return self.grid.num_cores()

    def _key(self) -> tuple:
        return (tuple(self.shard_shape), self.grid, self.orientation, self.shard_distribution_strategy)

    def __eq__(self, other):
        return isinstance(other, NdShardSpec) and self._key() == other._key()

    def __ne__(self, other):
        return not self == other

    __hash__ = object.__hash__

    def __repr__(self):
        grid = ", ".join(_json_core_range(r) for r in self.grid.ranges())
        return (f'{{"shard_shape":{list(self.shard_shape)},"grid":[{grid}],'
                f'"orientation":"ShardOrientation::{self.orientation.name}",'
                f'"shard_distribution_strategy":"ShardDistributionStrategy::{self.shard_distribution_strategy.name}"}}')


_MC_FORMS = ("ttnn.MemoryConfig takes (memory_layout=INTERLEAVED, buffer_type=DRAM, shard_spec=None) or "
             "(buffer_type, nd_shard_spec)")


@dataclass(frozen=True, eq=False, init=False)
class MemoryConfig:
    """Where a tensor lives: its memory layout, buffer type and shard spec. Two real constructors:
    MemoryConfig(memory_layout, buffer_type, shard_spec) and MemoryConfig(buffer_type, nd_shard_spec); the
    second makes an ND_SHARDED config. When a tensor is placed, the real TensorSpec fills in the other spec
    where an equivalent exists (populate_sharding); `==` then compares only the spec the config was created
    with, as the real operator does, so a tensor's config equals the one it was placed with."""
    memory_layout: TensorMemoryLayout
    buffer_type: BufferType
    shard_spec: ShardSpec | None
    nd_shard_spec: NdShardSpec | None
    created_with_nd_shard_spec: bool

    def __init__(self, memory_layout=TensorMemoryLayout.INTERLEAVED, buffer_type=BufferType.DRAM, shard_spec=None,
                 *, nd_shard_spec=None):
        if isinstance(memory_layout, BufferType):  # the (buffer_type, nd_shard_spec) form, positionally
            if not isinstance(buffer_type, NdShardSpec) or shard_spec is not None or nd_shard_spec is not None:
                raise TypeError(f"{_MC_FORMS}; got a BufferType first, so the second argument must be a "
                                f"ttnn.NdShardSpec, got {type(buffer_type).__name__}")
            memory_layout, buffer_type, nd_shard_spec = TensorMemoryLayout.INTERLEAVED, memory_layout, buffer_type
        if nd_shard_spec is not None:
            if not isinstance(nd_shard_spec, NdShardSpec):
                raise TypeError(f"{_MC_FORMS}; nd_shard_spec must be a ttnn.NdShardSpec, got "
                                f"{type(nd_shard_spec).__name__}")
            if memory_layout != TensorMemoryLayout.INTERLEAVED or shard_spec is not None:
                raise TypeError(f"{_MC_FORMS}: an nd_shard_spec cannot be combined with a memory_layout or "
                                f"shard_spec (the ND form's layout is ND_SHARDED)")
            memory_layout = TensorMemoryLayout.ND_SHARDED
        if not isinstance(memory_layout, TensorMemoryLayout) or not isinstance(buffer_type, BufferType):
            raise TypeError(f"{_MC_FORMS}; got memory_layout={memory_layout!r}, buffer_type={buffer_type!r}")
        if shard_spec is not None and not isinstance(shard_spec, ShardSpec):
            raise TypeError(f"{_MC_FORMS}; shard_spec must be a ttnn.ShardSpec or None, got "
                            f"{type(shard_spec).__name__} (an NdShardSpec goes in the (buffer_type, nd_shard_spec) "
                            f"form)")
        self._set(memory_layout, buffer_type, shard_spec, nd_shard_spec, nd_shard_spec is not None)
        sharded = self.memory_layout not in (TensorMemoryLayout.INTERLEAVED, TensorMemoryLayout.ND_SHARDED)
        if sharded and self.buffer_type == BufferType.DRAM and self.shard_spec is None:
            raise RuntimeError("A sharded MemoryConfig needs a shard_spec (which cores hold which shard); "
                               "pass ttnn.ShardSpec(grid, shard_shape, orientation) or use INTERLEAVED")

    def _set(self, memory_layout, buffer_type, shard_spec, nd_shard_spec, created_nd):
        for k, v in (("memory_layout", memory_layout), ("buffer_type", buffer_type), ("shard_spec", shard_spec),
                     ("nd_shard_spec", nd_shard_spec), ("created_with_nd_shard_spec", bool(created_nd))):
            object.__setattr__(self, k, v)

    @classmethod
    def _prepopulated(cls, memory_layout, buffer_type, shard_spec, nd_shard_spec, created_nd) -> "MemoryConfig":
        """The real create_with_prepopulated_shard_specs: both specs filled in, the creation path kept."""
        mc = cls.__new__(cls)
        mc._set(memory_layout, buffer_type, shard_spec, nd_shard_spec, created_nd)
        return mc

    def is_sharded(self) -> bool:
        return self.memory_layout != TensorMemoryLayout.INTERLEAVED

    @property
    def interleaved(self) -> bool:
        return not self.is_sharded()

    def __eq__(self, other):
        """The real operator (0.81.1, checked with the package): buffer types must match; two configs created
        with an ND spec compare by it alone (a placed tensor's config may have turned HEIGHT_SHARDED); two
        created with a 2-D spec compare layout and shard_spec; mixed ones compare everything."""
        if not isinstance(other, MemoryConfig):
            return NotImplemented
        if self.buffer_type != other.buffer_type:
            return False
        if self.created_with_nd_shard_spec and other.created_with_nd_shard_spec:
            return self.nd_shard_spec == other.nd_shard_spec
        if self.memory_layout != other.memory_layout or self.shard_spec != other.shard_spec:
            return False
        return self.created_with_nd_shard_spec == other.created_with_nd_shard_spec or \
            self.nd_shard_spec == other.nd_shard_spec

    def __hash__(self):  # over every field, as the real hash (so equal configs may hash apart, as there)
        nd = None if self.nd_shard_spec is None else self.nd_shard_spec._key()
        return hash((self.memory_layout, self.buffer_type, self.shard_spec, nd, self.created_with_nd_shard_spec))

    def __repr__(self):
        opt = lambda v: "std::nullopt" if v is None else repr(v)  # noqa: E731
        return (f"MemoryConfig(memory_layout=TensorMemoryLayout::{self.memory_layout.name},"
                f"buffer_type=BufferType::{self.buffer_type.name},shard_spec={opt(self.shard_spec)},"
                f"nd_shard_spec={opt(self.nd_shard_spec)},"
                f"created_with_nd_shard_spec={int(self.created_with_nd_shard_spec)},per_core_allocation=0,"
                f"range_lockstep_allocation=0)")


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


# --- ND sharding: the real TensorSpec's spec population and the BufferDistributionSpec's footprint ----------
def _physical_2d(padded_shape) -> tuple[int, int]:
    """The tensor seen as [prod(leading dims), last dim], as sharding sees it."""
    dims = tuple(padded_shape) or (1,)
    return math.prod(dims[:-1]), dims[-1]


def _check_nd_shard(nd: NdShardSpec, padded_shape, layout: Layout):
    """What the real TensorLayout rejects when an ND shard spec meets a tensor (host side, checked against 0.81.1):
    a shard of higher rank than the tensor, and in TILE layout a shard that is not whole tiles."""
    shard = tuple(nd.shard_shape)
    if not shard:
        raise RuntimeError("NdShardSpec shard_shape must have at least one dimension")
    if len(shard) > len(padded_shape):
        raise RuntimeError(f"NdShardSpec shard_shape {list(shard)} has rank {len(shard)}, more than the tensor's rank "
                           f"{len(padded_shape)} (shape {list(padded_shape)}): give one shard size per tensor dim, "
                           f"or fewer (the shard then spans the leading dims)")
    if math.prod(shard) == 0:  # the real library divides by zero here (the process dies with SIGFPE)
        raise RuntimeError(f"Shard shape must have non zero volume! (NdShardSpec shard_shape {list(shard)})")
    if layout == Layout.TILE and (shard[-1] % TILE_SIZE or (len(shard) > 1 and shard[-2] % TILE_SIZE)):
        raise RuntimeError(f"Physical shard shape Shape({list(shard)}) must be tile {{{TILE_SIZE}, {TILE_SIZE}}} "
                           f"sized! (TILE layout shards hold whole tiles: make the last two shard dims multiples of "
                           f"{TILE_SIZE}, or use ROW_MAJOR)")


def _nd_as_2d(nd_shape: tuple, padded: tuple) -> tuple[int, int] | None:
    """Fold an ND shard shape into [height, width] when it cuts the tensor as a 2-D shard would: every shard dim
    above the first one that differs from the tensor's is 1, and that dim divides the tensor's (or is the shard's
    top dim, or everything above it is 1). None when no 2-D shard is equivalent (tt-metal's TensorSpec rule)."""
    height, width = 1, nd_shape[-1]
    tensor_volume, seen = math.prod(padded), padded[-1]
    for dim in range(-2, -len(nd_shape) - 1, -1):
        t, s = padded[dim], nd_shape[dim]
        seen *= t
        height *= s
        if t == s:
            continue
        if math.prod(nd_shape) != height * width:
            return None
        if dim == -len(nd_shape) or t % s == 0 or seen == tensor_volume:
            break
        return None
    return height, width


def _legacy_from_nd(mc: MemoryConfig, padded_shape) -> MemoryConfig | None:
    """The HEIGHT/WIDTH/BLOCK config equivalent to an ND-sharded one, or None (the tensor stays ND_SHARDED)."""
    nd, padded = mc.nd_shard_spec, tuple(padded_shape) or (1,)
    hw = _nd_as_2d(tuple(nd.shard_shape), padded)
    if hw is None:
        return None
    (sh, sw), (height, width) = hw, _physical_2d(padded)
    along_h, along_w = _ceil_div(height, sh), _ceil_div(width, sw)
    if nd.orientation != ShardOrientation.ROW_MAJOR:
        along_h, along_w = along_w, along_h
    if along_h * along_w > nd.grid.num_cores():
        return None
    spec = ShardSpec(nd.grid, (sh, sw), nd.orientation)
    kind = TensorMemoryLayout.BLOCK_SHARDED
    if nd.shard_distribution_strategy == ShardDistributionStrategy.ROUND_ROBIN_1D:
        if sh == height:
            kind = TensorMemoryLayout.WIDTH_SHARDED
        elif sw == width:
            kind = TensorMemoryLayout.HEIGHT_SHARDED
    if kind == TensorMemoryLayout.BLOCK_SHARDED:
        if len(nd.grid.ranges()) != 1:
            return None
        size = nd.grid.ranges()[0].grid_size()
        if nd.shard_distribution_strategy == ShardDistributionStrategy.ROUND_ROBIN_1D and along_w != size.x:
            return None
        if along_w > size.x or along_h > size.y:
            return None
    return MemoryConfig._prepopulated(kind, mc.buffer_type, spec, nd, True)


def sharded_padded_shape(mc: MemoryConfig, padded_shape, layout: Layout) -> tuple:
    """The padded shape sharding sees: in ROW_MAJOR a config created with an ND spec pads the width up to a
    multiple of the shard width (its pages are shard-wide rows), which is why [2, 50, 70] in [1, 50, 96] shards
    is HEIGHT_SHARDED on the real 0.81.1; otherwise the tensor's padded shape."""
    padded = tuple(padded_shape) or (1,)
    if layout == Layout.ROW_MAJOR and mc.created_with_nd_shard_spec and mc.nd_shard_spec is not None:
        w = mc.nd_shard_spec.shard_shape[-1]
        padded = padded[:-1] + (_ceil_div(padded[-1], w) * w if w else padded[-1],)
    return padded


def populate_sharding(mc: MemoryConfig, padded_shape, layout: Layout) -> MemoryConfig:
    """The memory config a tensor placed with `mc` reports, as the real TensorSpec fills it in: an ND-created
    config gains the equivalent 2-D shard spec and layout where one exists (else stays ND_SHARDED); a 2-D
    sharded config gains its ND spec ([height, width], GRID_2D for BLOCK). Validates the ND shard first."""
    if mc.created_with_nd_shard_spec:
        _check_nd_shard(mc.nd_shard_spec, padded_shape, layout)
        return _legacy_from_nd(mc, sharded_padded_shape(mc, padded_shape, layout)) or mc
    spec = mc.shard_spec
    if spec is None or mc.nd_shard_spec is not None:
        return mc
    sh, sw = spec.shard_shape
    if len(tuple(padded_shape)) == 1:
        if sh != 1:
            raise RuntimeError(f"Shard shape must be 1D for 1D tensor! (shard shape {[sh, sw]} on a rank-1 tensor)")
        nd_shape = [sw]
    else:
        nd_shape = [sh, sw]
    strategy = ShardDistributionStrategy.GRID_2D if mc.memory_layout == TensorMemoryLayout.BLOCK_SHARDED else \
        ShardDistributionStrategy.ROUND_ROBIN_1D
    return MemoryConfig._prepopulated(mc.memory_layout, mc.buffer_type, spec,
                                      NdShardSpec(nd_shape, spec.grid, spec.shard_orientation, strategy), False)


def _in_pages(shape: tuple, page_h: int, page_w: int) -> list:
    out = list(shape)
    out[-1] = _ceil_div(out[-1], page_w)
    if len(out) > 1:
        out[-2] = _ceil_div(out[-2], page_h)
    return out


def nd_shard_allocation(memory_config: MemoryConfig, padded_shape, layout: Layout, dtype: DataType,
                        grid_limit: CoreCoord) -> ShardAllocation:
    """Per-core footprint of an ND_SHARDED tensor (tt-metal's BufferDistributionSpec): shapes in pages (a tile,
    or one shard-wide row in ROW_MAJOR), the tensor's dims above the shard's rank folded into its top dim, one
    shard per step of the shard grid; every core holding data reserves room for the most shards any core gets
    (ceil(shards / cores)), at the same address on each core as the real lockstep allocator does."""
    nd = memory_config.nd_shard_spec
    _check_nd_shard(nd, padded_shape, layout)
    full = CoreRange(CoreCoord(0, 0), CoreCoord(grid_limit.x - 1, grid_limit.y - 1))
    if not full.contains(nd.grid):
        raise RuntimeError(f"Invalid shard grid: NdShardSpec grid {nd.grid!r} does not lie within the device's "
                           f"{memory_config.buffer_type.name} grid ({grid_limit.x}, {grid_limit.y})")
    shard = tuple(nd.shard_shape)
    if layout == Layout.TILE:
        page_h, page_w, page_size = TILE_SIZE, TILE_SIZE, tile_bytes(dtype)
    else:
        page_h, page_w, page_size = 1, shard[-1], shard[-1] * element_size(dtype)
    tensor = _in_pages(tuple(padded_shape) or (1,), page_h, page_w)
    shard_pages = _in_pages(shard, page_h, page_w)
    lead = len(tensor) - len(shard_pages)
    tensor = [math.prod(tensor[:lead + 1])] + tensor[lead + 1:]
    num_shards = math.prod(_ceil_div(t, s) for t, s in zip(tensor, shard_pages)) if math.prod(tensor) else 0
    cores = nd.grid.num_cores()
    if nd.shard_distribution_strategy == ShardDistributionStrategy.GRID_2D:
        if len(nd.grid.ranges()) != 1:
            raise RuntimeError("2D grid distribution is only supported for one contiguous core grid!")
        along_w = max(_ceil_div(tensor[-1], shard_pages[-1]), 1)
        along_h = max(_ceil_div(tensor[-2], shard_pages[-2]), 1) if len(tensor) > 1 else 1
        if nd.orientation != ShardOrientation.ROW_MAJOR:
            along_h, along_w = along_w, along_h
        size = nd.grid.ranges()[0].grid_size()
        if along_w > size.x:
            raise RuntimeError("Number of shards along width must not exceed core grid width!")
        if along_h > size.y:
            raise RuntimeError("Number of shards along height must not exceed core grid height!")
        cores = along_w * along_h
    if num_shards and not cores:
        raise RuntimeError("Can't distribute non zero volume tensor over an empty set of cores")
    per_core = _ceil_div(num_shards, cores) if cores else 0
    return ShardAllocation(min(cores, num_shards), per_core * math.prod(shard_pages), page_size)


def shard_spec_2d(memory_config: MemoryConfig, op: str) -> ShardSpec:
    """The 2-D shard spec an op's program reads (its shard height/width, grid, orientation). ND-sharded tensors
    without an equivalent 2-D spec have none: those ops reject them, as the real ones do (they read
    shard_spec().value() or accept only HEIGHT/WIDTH/BLOCK layouts)."""
    if memory_config.shard_spec is None:
        raise RuntimeError(f"{op}: needs a HEIGHT/WIDTH/BLOCK sharded tensor (it reads a 2-D shard spec), got "
                           f"memory_layout {memory_config.memory_layout.name} with nd_shard_spec "
                           f"{memory_config.nd_shard_spec!r}. ND-sharded tensors are not supported by this op: move "
                           f"the tensor with ttnn.to_memory_config to a 2-D sharded or an interleaved config first")
    return memory_config.shard_spec
