"""TT-NN's value types: dtypes, layouts, memory configs, core coordinates, compute kernel configs.

Enum member names and values are those of the real `ttnn` 0.81.1 (read from the package), so code that
compares, prints or serialises them behaves the same on the emulator and on a card.
"""
from __future__ import annotations

import enum
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


@dataclass(frozen=True)
class CoreCoord:
    x: int
    y: int

    def __repr__(self):
        return f"({self.x}, {self.y})"


@dataclass(frozen=True)
class CoreRange:
    start: CoreCoord
    end: CoreCoord

    def num_cores(self) -> int:
        return (self.end.x - self.start.x + 1) * (self.end.y - self.start.y + 1)


class CoreRangeSet:
    def __init__(self, core_ranges):
        self.ranges = tuple(core_ranges)

    def num_cores(self) -> int:
        return sum(r.num_cores() for r in self.ranges)

    def __eq__(self, other):
        return isinstance(other, CoreRangeSet) and self.ranges == other.ranges

    def __hash__(self):
        return hash(self.ranges)

    def __repr__(self):
        return f"CoreRangeSet({list(self.ranges)})"


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
    grid: CoreRangeSet
    shard_shape: tuple
    shard_orientation: ShardOrientation

    def num_cores(self) -> int:
        return self.grid.num_cores()


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
