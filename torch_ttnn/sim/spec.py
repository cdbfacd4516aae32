"""Descriptions that TT-NN programs pass around without computing: TensorSpec (what a tensor will be: shape,
dtype, layout, where it lives), the dispatch-core configuration of open_device, the reshape tile-mapping mode,
print options, and allocating an uninitialised tensor from a spec."""
from __future__ import annotations

import inspect
import math

import torch

from . import formats
from .operation import operation, record
from .tensor import Tensor, new_device_tensor, operands
from .types import (TILE_SIZE, BufferType, CoreRangeSet, DataType, Layout, MemoryConfig, NdShardSpec, Shape,
                    ShardDistributionStrategy, ShardOrientation, TensorMemoryLayout, _Enum, element_size,
                    populate_sharding)

__all__ = ["TensorSpec", "ShardShapeAlignment", "DispatchCoreAxis", "DispatchCoreType", "DispatchCoreConfig", "TileReshapeMapMode",
           "set_printoptions", "allocate_tensor_on_device", "allocate_tensor_on_host"]


class TileReshapeMapMode(_Enum):
    CACHE = 0
    RECREATE = 1


class DispatchCoreAxis(_Enum):
    ROW = 0
    COL = 1


class DispatchCoreType(_Enum):
    WORKER = 0
    ETH = 1


class DispatchCoreConfig:
    """Which cores run the command dispatchers (worker rows/columns or Ethernet cores). The emulator has no
    dispatcher to place, so it records the choice and validates its types; defaults are the real ones
    (WORKER cores, the architecture's default axis)."""

    def __init__(self, type=None, axis=None, fabric_tensix_config=None):
        if type is not None and not isinstance(type, DispatchCoreType):
            raise TypeError(f"DispatchCoreConfig: type must be a ttnn.DispatchCoreType, got {type!r}")
        if axis is not None and not isinstance(axis, DispatchCoreAxis):
            raise TypeError(f"DispatchCoreConfig: axis must be a ttnn.DispatchCoreAxis, got {axis!r}")
        self.type = type if type is not None else DispatchCoreType.WORKER
        self.axis = axis if axis is not None else DispatchCoreAxis.ROW
        self.fabric_tensix_config = fabric_tensix_config

    def __repr__(self):
        return f"DispatchCoreConfig(type={self.type!r}, axis={self.axis!r})"

    def __eq__(self, other):
        return isinstance(other, DispatchCoreConfig) and (self.type, self.axis) == (other.type, other.axis)


class ShardShapeAlignment(_Enum):
    """How TensorSpec.sharded rounds a shard shape up: NONE leaves it; REQUIRED to what the layout needs (whole
    32x32 tiles in TILE, nothing in ROW_MAJOR); RECOMMENDED also rounds ROW_MAJOR shard rows to 64 bytes (seen
    with the real 0.81.1: a bfloat16 width 30 becomes 32, float32 3 becomes 16, uint8 3 becomes 64)."""
    NONE = 0
    REQUIRED = 1
    RECOMMENDED = 2


_ROW_ALIGN_BYTES = 64

# The real constructor's three overloads (told apart here by the fourth argument's type, or by keyword).
_SPEC_FORMS = (
    inspect.Signature([inspect.Parameter("buffer_type", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=BufferType.DRAM),
                       inspect.Parameter("tile", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]),
    inspect.Signature([inspect.Parameter("memory_layout", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                       inspect.Parameter("shard_spec", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
                       inspect.Parameter("buffer_type", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=BufferType.DRAM),
                       inspect.Parameter("tile", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]),
    inspect.Signature([inspect.Parameter("nd_shard_spec", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                       inspect.Parameter("buffer_type", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=BufferType.DRAM),
                       inspect.Parameter("tile", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]),
)


def _spec_form(args, kwargs) -> dict:
    first = args[0] if args else None
    if isinstance(first, TensorMemoryLayout) or "memory_layout" in kwargs:
        form = _SPEC_FORMS[1]
    elif isinstance(first, NdShardSpec) or "nd_shard_spec" in kwargs:
        form = _SPEC_FORMS[2]
    else:
        form = _SPEC_FORMS[0]
    try:
        bound = form.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"TensorSpec(shape, dtype, layout, ...) takes (buffer_type=DRAM, tile=None), (memory_layout, "
                        f"shard_spec=None, buffer_type=DRAM, tile=None) or (nd_shard_spec, buffer_type=DRAM, "
                        f"tile=None) after the layout: {e}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


class TensorSpec:
    """A tensor's shape, dtype, layout and memory config, without data (`from_torch(spec=...)`,
    `allocate_tensor_on_device(spec, device)`). The three real constructors are one here: after the layout come
    (buffer_type=DRAM, tile=None), (memory_layout, shard_spec=None, buffer_type=DRAM, tile=None) or
    (nd_shard_spec, buffer_type=DRAM, tile=None). `memory_config` is filled in as the real TensorSpec fills it
    (an ND spec gains its 2-D equivalent where one exists, a 2-D one its ND spec). The sharding helpers
    (sharded, sharded_across_dims[_except], height/width/block_sharded) return ND-sharded specs computed as
    tt-metal's TensorSpec computes them; tests/real_ttnn/test_nd_sharding.py checks them against 0.81.1."""

    def __init__(self, shape, dtype, layout, *args, **kwargs):
        if not isinstance(dtype, DataType) or not isinstance(layout, Layout):
            raise TypeError("TensorSpec: dtype must be a ttnn.DataType and layout a ttnn.Layout")
        if dtype in (DataType.BFLOAT8_B, DataType.BFLOAT4_B) and layout != Layout.TILE:
            raise RuntimeError(f"TensorSpec: {dtype.name} needs TILE layout")
        a = _spec_form(args, kwargs)
        if not isinstance(a["buffer_type"], BufferType):
            raise TypeError(f"TensorSpec: buffer_type must be a ttnn.BufferType, got {a['buffer_type']!r}")
        self.shape = Shape(shape)
        self.dtype = dtype
        self.layout = layout
        self.tile = a["tile"]
        if "nd_shard_spec" in a:
            mc = MemoryConfig(a["buffer_type"], a["nd_shard_spec"])
        elif "memory_layout" in a:
            mc = MemoryConfig(a["memory_layout"], a["buffer_type"], a["shard_spec"])
        else:
            mc = MemoryConfig(TensorMemoryLayout.INTERLEAVED, a["buffer_type"])
        self.memory_config = populate_sharding(mc, self.padded_shape, layout) if mc.is_sharded() else mc

    @property
    def padded_shape(self) -> Shape:
        return formats.padded_shape(tuple(self.shape), self.layout)

    def _physical(self) -> tuple[int, int]:
        dims = tuple(self.padded_shape) or (1,)
        return math.prod(dims[:-1]), dims[-1]

    def _aligned(self, shard, alignment) -> list:
        """Round the last dims of a shard shape up as the real TensorSpec.sharded does."""
        shard = list(shard)
        if alignment == ShardShapeAlignment.NONE:
            return shard
        if self.layout == Layout.TILE:
            align = [TILE_SIZE, TILE_SIZE]
        elif alignment == ShardShapeAlignment.RECOMMENDED:
            align = [max(1, _ROW_ALIGN_BYTES // element_size(self.dtype))]
        else:
            align = []
        for i, a in enumerate(reversed(align), start=1):
            if i <= len(shard):
                shard[-i] = -(-shard[-i] // a) * a
        return shard

    def sharded(self, shard_shape, grid=None, shard_alignment=ShardShapeAlignment.RECOMMENDED,
                orientation=ShardOrientation.ROW_MAJOR,
                shard_distribution_strategy=ShardDistributionStrategy.ROUND_ROBIN_1D) -> "TensorSpec":
        """This spec ND-sharded: sharded(shard_shape, grid, shard_alignment, orientation, strategy) or
        sharded(nd_shard_spec, shard_alignment); the shard shape is aligned first (ShardShapeAlignment)."""
        if isinstance(shard_shape, NdShardSpec):
            nd = shard_shape
            if isinstance(grid, ShardShapeAlignment):
                shard_alignment = grid
        else:
            nd = NdShardSpec(shard_shape, grid, orientation, shard_distribution_strategy)
        nd = NdShardSpec(self._aligned(nd.shard_shape, shard_alignment), nd.grid, nd.orientation,
                         nd.shard_distribution_strategy)
        return TensorSpec(self.shape, self.dtype, self.layout, nd, self.memory_config.buffer_type, self.tile)

    def sharded_across_dims(self, dims, grid, orientation=ShardOrientation.ROW_MAJOR) -> "TensorSpec":
        """Shard size 1 (then aligned) in `dims`, the whole tensor in the others."""
        shard = list(self.padded_shape)
        for d in dims:
            shard[d] = 1
        return self.sharded(NdShardSpec(shard, grid, orientation))

    def sharded_across_dims_except(self, dims, grid, orientation=ShardOrientation.ROW_MAJOR) -> "TensorSpec":
        """The whole tensor in `dims`, shard size 1 (then aligned) in the others."""
        padded = list(self.padded_shape)
        shard = [1] * len(padded)
        for d in dims:
            shard[d] = padded[d]
        return self.sharded(NdShardSpec(shard, grid, orientation))

    def height_sharded(self, grid, orientation=ShardOrientation.ROW_MAJOR) -> "TensorSpec":
        height, width = self._physical()
        nd = NdShardSpec([-(-height // grid.num_cores()), width], grid, orientation)
        return self.sharded(nd, ShardShapeAlignment.REQUIRED)

    def width_sharded(self, grid, orientation=ShardOrientation.ROW_MAJOR) -> "TensorSpec":
        height, width = self._physical()
        nd = NdShardSpec([height, -(-width // grid.num_cores())], grid, orientation)
        return self.sharded(nd, ShardShapeAlignment.REQUIRED)

    def block_sharded(self, grid, orientation=ShardOrientation.ROW_MAJOR) -> "TensorSpec":
        """Rows over the grid's rows and columns over its columns (swapped for COL_MAJOR), dealt GRID_2D (as
        0.81.1 does); `grid` is a CoreRange or a CoreRangeSet (its bounding box)."""
        rect = grid.bounding_box() if isinstance(grid, CoreRangeSet) else grid
        size, (height, width) = rect.grid_size(), self._physical()
        rows, cols = (size.y, size.x) if orientation == ShardOrientation.ROW_MAJOR else (size.x, size.y)
        nd = NdShardSpec([-(-height // rows), -(-width // cols)], CoreRangeSet([rect]), orientation,
                         ShardDistributionStrategy.GRID_2D)
        return self.sharded(nd, ShardShapeAlignment.RECOMMENDED)

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype}, layout={self.layout}, memory_config=" \
               f"{self.memory_config})"

    def __eq__(self, other):
        return isinstance(other, TensorSpec) and (self.shape, self.dtype, self.layout, self.memory_config) == \
            (other.shape, other.dtype, other.layout, other.memory_config)

    __hash__ = object.__hash__


_PRINT_PROFILES = ("empty", "short", "full")


def set_printoptions(*, profile, sci_mode=None, precision=None):
    """How tensors print: profile "short" (edge items), "full" or "empty", scientific notation, precision.
    Applied to the torch print options the emulator's tensor repr uses."""
    p = str(profile).lower()
    if p not in _PRINT_PROFILES:
        raise RuntimeError(f"set_printoptions: profile must be one of {', '.join(_PRINT_PROFILES)}, got {profile!r}")
    kwargs = {"profile": "full" if p == "full" else "short" if p == "empty" else "default"}
    if sci_mode not in (None, "default"):
        kwargs["sci_mode"] = bool(sci_mode)
    if precision is not None:
        kwargs["precision"] = int(precision)
    torch.set_printoptions(**kwargs)


def _check_spec(qual, tensor_spec):
    if not isinstance(tensor_spec, TensorSpec):
        raise TypeError(f"{qual}: expected a ttnn.TensorSpec, got {type(tensor_spec).__name__} (build one with "
                        f"ttnn.TensorSpec(shape, dtype, layout))")


@operation("ttnn.allocate_tensor_on_device")
def allocate_tensor_on_device(tensor_spec, mesh_device):
    """A device tensor of `tensor_spec`, zero-filled: the real buffer is uninitialised, so programs must write it
    (copy_host_to_device_tensor, an op's output_tensor) before reading."""
    _check_spec("ttnn.allocate_tensor_on_device", tensor_spec)
    s = tensor_spec
    out = new_device_tensor(torch.zeros(tuple(s.shape)), s.dtype, s.layout, mesh_device, s.memory_config)
    record(mesh_device, "ttnn.allocate_tensor_on_device", operands=operands(out), host_only=True)
    return out


@operation("ttnn.allocate_tensor_on_host")
def allocate_tensor_on_host(tensor_spec, mesh_device):
    """A host tensor of `tensor_spec` (zero-filled), e.g. the staging buffer of copy_device_to_host_tensor."""
    from . import formats
    _check_spec("ttnn.allocate_tensor_on_host", tensor_spec)
    s = tensor_spec
    return Tensor._make(formats.to_device_format(torch.zeros(tuple(s.shape)), s.dtype, s.layout), s.dtype, s.layout)
