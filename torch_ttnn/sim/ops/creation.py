"""TT-NN creation operations (emulated): full, zeros, ones, empty, arange, *_like, rand, as_tensor.

Defaults are the real 0.81.1 ones (read from the package's signatures): dtype None means bfloat16 and layout
None means ROW_MAJOR for full/zeros/ones; arange is bfloat16, ROW_MAJOR, DRAM; rand is bfloat16 TILE. Without a
device the tensor is made on the host, as the real factories do. Creating on a device costs writing the output.
"""
from __future__ import annotations

import os
import pathlib
import pickle

import torch

from .. import formats
from ..operation import operation, record
from ..tensor import Tensor, from_torch, nbytes, new_device_tensor, operands, to_device
from ..types import BLOCK_FLOAT, DRAM_MEMORY_CONFIG, DataType, Layout, _Enum

__all__ = ["full", "zeros", "ones", "empty", "arange", "full_like", "zeros_like", "ones_like", "empty_like",
           "rand", "as_tensor", "DumpTensorMode"]


class DumpTensorMode(_Enum):
    """How as_tensor writes a cache miss; one host process writes one file either way on the emulator."""
    DISTRIBUTED_GATHER = 0
    LOCAL = 1


def _make(opname, values, dtype, layout, device, memory_config) -> Tensor:
    dtype = DataType.BFLOAT16 if dtype is None else dtype
    layout = Layout.ROW_MAJOR if layout is None else layout
    if not isinstance(dtype, DataType):
        raise TypeError(f"{opname}: dtype must be a ttnn.DataType such as ttnn.bfloat16, got {dtype!r}")
    if not isinstance(layout, Layout):
        raise TypeError(f"{opname}: layout must be ttnn.ROW_MAJOR_LAYOUT or ttnn.TILE_LAYOUT, got {layout!r}")
    if dtype in BLOCK_FLOAT and layout != Layout.TILE:
        raise RuntimeError(f"{opname}: {dtype.name} needs layout=ttnn.TILE_LAYOUT (block-float is stored per tile)")
    if device is None:
        return Tensor._make(formats.to_device_format(values, dtype, layout), dtype, layout)
    out = new_device_tensor(values, dtype, layout, device, memory_config or DRAM_MEMORY_CONFIG)
    record(device, opname, operands=operands(out))
    return out


def _shape(shape, opname):
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{opname}: shape must be a list of ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{opname}: shape {list(shape)} has a negative dim")
    return shape


@operation("ttnn.full", golden_function=lambda shape, fill_value, **_: torch.full(shape, fill_value))
def full(shape, fill_value, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None) -> Tensor:
    return _make("ttnn.full", torch.full(_shape(shape, "ttnn.full"), float(fill_value)), dtype, layout, device,
                 memory_config)


@operation("ttnn.zeros", golden_function=lambda shape, **_: torch.zeros(shape))
def zeros(shape, dtype=None, layout=None, device=None, memory_config=None) -> Tensor:
    return _make("ttnn.zeros", torch.zeros(_shape(shape, "ttnn.zeros")), dtype, layout, device, memory_config)


@operation("ttnn.ones", golden_function=lambda shape, **_: torch.ones(shape))
def ones(shape, dtype=None, layout=None, device=None, memory_config=None) -> Tensor:
    return _make("ttnn.ones", torch.ones(_shape(shape, "ttnn.ones")), dtype, layout, device, memory_config)


@operation("ttnn.empty", golden_function=lambda shape, **_: torch.empty(shape))
def empty(shape, dtype=DataType.BFLOAT16, layout=Layout.ROW_MAJOR, device=None, memory_config=DRAM_MEMORY_CONFIG):
    """Allocate without initialising. The device would hold stale data; the emulator holds zeros."""
    if device is None:
        raise TypeError("ttnn.empty: device is required (the real op allocates on a device)")
    return _make("ttnn.empty", torch.zeros(_shape(shape, "ttnn.empty")), dtype, layout, device, memory_config)


@operation("ttnn.arange", golden_function=lambda start, end=None, step=1, **_:
           torch.arange(start) if end is None else torch.arange(start, end, step))
def arange(start, end=None, step=1, *, dtype=DataType.BFLOAT16, device=None, memory_config=DRAM_MEMORY_CONFIG,
           layout=Layout.ROW_MAJOR) -> Tensor:
    """arange(end) or arange(start, end, step=1): a 1-D tensor, computed in int and rounded to dtype (so large
    bfloat16 ranges repeat values exactly as the device's would)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("ttnn.arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"ttnn.arange: the range [{start}, {end}) cannot be walked with step {step}")
    vals = torch.arange(int(start), int(end), int(step), dtype=torch.int64)
    return _make("ttnn.arange", vals, dtype, layout, device, memory_config)


def _like(opname, tensor, values, dtype, layout, device, memory_config):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{opname}: expects a ttnn.Tensor, got {type(tensor).__name__}")
    device = device if device is not None else tensor.device()
    return _make(opname, values, dtype or tensor.dtype, layout or tensor.layout, device,
                 memory_config or tensor.memory_config())


@operation("ttnn.full_like", golden_function=lambda t, v, **_: torch.full_like(t, v))
def full_like(tensor, fill_value, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None):
    return _like("ttnn.full_like", tensor, torch.full(tuple(tensor.shape), float(fill_value)), dtype, layout,
                 device, memory_config)


@operation("ttnn.zeros_like", golden_function=lambda t, **_: torch.zeros_like(t))
def zeros_like(tensor, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None):
    return _like("ttnn.zeros_like", tensor, torch.zeros(tuple(tensor.shape)), dtype, layout, device, memory_config)


@operation("ttnn.ones_like", golden_function=lambda t, **_: torch.ones_like(t))
def ones_like(tensor, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None):
    return _like("ttnn.ones_like", tensor, torch.ones(tuple(tensor.shape)), dtype, layout, device, memory_config)


@operation("ttnn.empty_like", golden_function=lambda t, **_: torch.empty_like(t))
def empty_like(tensor, *, dtype=None, layout=None, device=None, memory_config=None):
    """Allocates on a device (the real op crashes on a host tensor without one: we raise instead)."""
    if device is None and isinstance(tensor, Tensor) and tensor.device() is None:
        raise RuntimeError("ttnn.empty_like: input tensor must be on device (got storage type HOST), or pass "
                           "device=: empty_like allocates device memory")
    return _like("ttnn.empty_like", tensor, torch.zeros(tuple(tensor.shape)), dtype, layout, device, memory_config)


@operation("ttnn.rand", golden_function=lambda shape, **_: torch.rand(shape))
def rand(shape, device, *, dtype=DataType.BFLOAT16, layout=Layout.TILE, memory_config=DRAM_MEMORY_CONFIG,
         low=0.0, high=1.0, seed=0, mesh_mapper=None) -> Tensor:
    """Uniform in [low, high). seed=0 draws from torch's global generator; any other seed is reproducible."""
    if device is None:
        raise TypeError("ttnn.rand: device is required")
    if not high > low:
        raise RuntimeError(f"ttnn.rand: high ({high}) must be greater than low ({low})")
    gen = torch.Generator().manual_seed(int(seed)) if seed else None
    vals = torch.rand(_shape(shape, "ttnn.rand"), generator=gen) * (high - low) + low
    return _make("ttnn.rand", vals, dtype, layout, device, memory_config)


@operation("ttnn.as_tensor")
def as_tensor(tensor, dtype=None, *, layout=Layout.ROW_MAJOR, device=None, memory_config=None, cache_file_name=None,
              preprocess=None, mesh_mapper=None, cache_dump_mode=DumpTensorMode.DISTRIBUTED_GATHER) -> Tensor:
    """from_torch with a file cache, as the real one: the file is `{cache_file_name}_dtype_{DTYPE}_layout_{LAYOUT}
    .tensorbin`; a miss converts (after `preprocess`) and writes the host tensor, a hit loads it instead of
    converting. The emulator's file is a pickle of the stored values, not the real flatbuffer format."""
    if device is not None and memory_config is None:
        raise RuntimeError("memory_config must be specified when device is specified")

    def convert():
        src = preprocess(tensor) if preprocess is not None else tensor
        return from_torch(src, dtype=dtype, layout=layout)

    if cache_file_name is None:
        host = convert()
    else:
        dname = dtype.name if dtype is not None else "None"
        lname = layout.name if layout is not None else "None"
        path = pathlib.Path(f"{cache_file_name}_dtype_{dname}_layout_{lname}.tensorbin")
        host = _load(path)
        if host is None:
            host = convert()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                pickle.dump({"values": host.value, "dtype": host.dtype.name, "layout": host.layout.name}, f)
            os.replace(tmp, path)  # readers never see a partial file
    return host if device is None else to_device(host, device, memory_config)


def _load(path: pathlib.Path):
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            d = pickle.load(f)
        return Tensor._make(d["values"], DataType[d["dtype"]], Layout[d["layout"]])
    except Exception:  # a corrupt or foreign file is a miss, as the real loader falls back to converting
        return None
