"""Descriptions that TT-NN programs pass around without computing: TensorSpec (what a tensor will be: shape,
dtype, layout, where it lives), the dispatch-core configuration of open_device, the reshape tile-mapping mode,
print options, and allocating an uninitialised tensor from a spec."""
from __future__ import annotations

import torch

from .operation import operation, record
from .tensor import Tensor, new_device_tensor, operands
from .types import BufferType, DataType, Layout, MemoryConfig, Shape, TensorMemoryLayout, _Enum

__all__ = ["TensorSpec", "DispatchCoreAxis", "DispatchCoreType", "DispatchCoreConfig", "TileReshapeMapMode",
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


class TensorSpec:
    """A tensor's shape, dtype, layout and memory config, without data (`from_torch(spec=...)`,
    `allocate_tensor_on_device(spec, device)`)."""

    def __init__(self, shape, dtype, layout, buffer_type=BufferType.DRAM, tile=None):
        if not isinstance(dtype, DataType) or not isinstance(layout, Layout):
            raise TypeError("TensorSpec: dtype must be a ttnn.DataType and layout a ttnn.Layout")
        if dtype in (DataType.BFLOAT8_B, DataType.BFLOAT4_B) and layout != Layout.TILE:
            raise RuntimeError(f"TensorSpec: {dtype.name} needs TILE layout")
        self.shape = Shape(shape)
        self.dtype = dtype
        self.layout = layout
        self.tile = tile
        self.memory_config = MemoryConfig(TensorMemoryLayout.INTERLEAVED, buffer_type)

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype}, layout={self.layout}, memory_config=" \
               f"{self.memory_config})"

    def __eq__(self, other):
        return isinstance(other, TensorSpec) and (self.shape, self.dtype, self.layout, self.memory_config) == \
            (other.shape, other.dtype, other.layout, other.memory_config)


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
