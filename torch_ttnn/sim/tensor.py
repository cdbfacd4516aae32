"""The emulated `ttnn.Tensor` and the conversions between torch, host and device.

A tensor's values are held on the host as a torch tensor of its logical shape, already rounded to what the
device format can hold (bfloat16, block-float, saturated integers). Its padded shape, layout, dtype and
memory config are tracked as the real library tracks them, and a device tensor owns a buffer in the device's
allocator, sized as the device sizes it (whole tiles, bank-aligned pages), freed by `deallocate` or when the
tensor is garbage collected (the real Tensor frees its buffer on destruction too).
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from . import formats, spill
from .cost import Operand, Storage
from .device import Device
from .operation import Operation, operation, record
from .types import (BLOCK_FLOAT, DRAM_MEMORY_CONFIG, BufferType, FROM_TORCH_DTYPE, TILE_SIZE, TORCH_DTYPE,
                    DataType, Layout, MemoryConfig, Shape, StorageType, TensorMemoryLayout, element_size,
                    nd_shard_allocation, populate_sharding, shard_allocation, sharded_padded_shape,
                    tile_bytes)

_NUMPY_TO_TORCH = {np.dtype(np.float32): torch.float32, np.dtype(np.int32): torch.int32,
                   np.dtype(np.uint32): torch.int64, np.dtype(np.float64): torch.float32,
                   np.dtype(np.int64): torch.int64, np.dtype(np.uint8): torch.uint8,
                   np.dtype(np.uint16): torch.int32, np.dtype(np.int8): torch.int8, np.dtype(bool): torch.bool}


class Tensor:
    """An emulated TT-NN tensor: on the host (storage HOST) or on a device (storage DEVICE)."""

    __slots__ = ("_values", "_dtype", "_layout", "_device", "_memory_config", "_buffer", "_deallocated",
                 "_fpu_clean", "_operand", "__weakref__")

    def __init__(self, tensor, data_type: DataType | None = None, device: Device | None = None,
                 layout: Layout | None = None, mem_config: MemoryConfig | None = None, tile=None, cq_id=None,
                 pad_value=None, mesh_mapper=None, preserve_nan_values: bool = False, col_tilize: bool = False,
                 enable_bfloat_opt: bool = False):
        """Build a tensor from a torch tensor, a numpy array or a nested list, as `ttnn.Tensor(...)` does."""
        if isinstance(tensor, np.ndarray):
            src = torch.from_numpy(np.ascontiguousarray(tensor))
            if tensor.dtype == np.uint32:
                src = src.to(torch.int64)
        elif isinstance(tensor, torch.Tensor):
            src = tensor
        elif tensor is not None:
            src = torch.tensor(tensor, dtype=torch.float32)
        else:
            raise TypeError("ttnn.Tensor needs data: a torch tensor, a numpy array or a list")
        if src.dtype == torch.float64:
            src = src.to(torch.float32)
        layout = Layout.ROW_MAJOR if layout is None else layout
        dtype = data_type if data_type is not None else _infer_dtype(src.dtype)
        self._init(formats.to_device_format(src, dtype, layout), dtype, layout)
        if device is not None:
            _place(self, device, mem_config or DRAM_MEMORY_CONFIG)

    def _init(self, values, dtype, layout, device=None, memory_config=None):
        self._values = values
        self._dtype = dtype
        self._layout = layout
        self._device = device
        self._memory_config = memory_config
        self._buffer = None
        self._fpu_clean = None  # (values, their _version) known to hold no denormal or -0: see fpu_operand_of
        self._operand = None    # (values, _version, key, derived operand): a constant's re-laid-out form (conv)
        self._deallocated = False

    @classmethod
    def _make(cls, values, dtype, layout, device=None, memory_config=None) -> "Tensor":
        t = cls.__new__(cls)
        t._init(values, dtype, layout)
        if device is not None:
            _place(t, device, memory_config or DRAM_MEMORY_CONFIG)
        return t

    # --- properties of the real Tensor ----------------------------------------------------------------
    @property
    def shape(self) -> Shape:
        return tuple.__new__(Shape, self._values.shape)  # torch.Size holds ints already: skip Shape's int() pass

    @property
    def padded_shape(self) -> Shape:
        return formats.padded_shape(self._values.shape, self._layout)

    @property
    def dtype(self) -> DataType:
        return self._dtype

    @property
    def layout(self) -> Layout:
        return self._layout

    def get_dtype(self) -> DataType:
        return self._dtype

    def get_layout(self) -> Layout:
        return self._layout

    def device(self) -> Device | None:
        return self._device

    def memory_config(self) -> MemoryConfig | None:
        return self._memory_config

    def storage_type(self) -> StorageType:
        return StorageType.DEVICE if self._device is not None else StorageType.HOST

    def is_allocated(self) -> bool:
        return not self._deallocated

    def is_sharded(self) -> bool:
        return self._memory_config is not None and self._memory_config.is_sharded()

    def volume(self) -> int:
        n = 1
        for d in self.padded_shape:
            n *= d
        return n

    def logical_volume(self) -> int:
        return self._values.numel()

    def element_size(self) -> int:
        return element_size(self._dtype)

    def buffer_num_pages(self) -> int:
        return _pages(self)[0]

    def buffer_page_size(self) -> int:
        return _pages(self)[1]

    @property
    def value(self) -> torch.Tensor:
        """The stored values (logical shape, host storage dtype); raises if the tensor was deallocated."""
        if self._deallocated:
            raise RuntimeError("This tensor was deallocated (ttnn.deallocate) and its buffer freed: it can no "
                               "longer be read. Keep a reference alive or recompute it.")
        if self._device is not None:
            self._device.check_open()
        return self._values

    def deallocate(self, force: bool = True):
        deallocate(self, force)

    def __del__(self):  # cheaper than a weakref.finalize per tensor (two per op)
        if getattr(self, "_buffer", None) is not None:  # unset when __init__ raised before _init
            _release(self)

    def cpu(self, blocking: bool = True) -> "Tensor":
        return from_device(self) if self._device is not None else self

    def to_torch(self) -> torch.Tensor:
        return to_torch(self)

    def to_numpy(self) -> np.ndarray:
        v = self.value
        if self._dtype == DataType.BFLOAT16:
            raise RuntimeError("to_numpy cannot express bfloat16: widen first with ttnn.typecast or to_torch")
        return v.numpy().astype(np.uint32) if self._dtype == DataType.UINT32 else v.numpy()

    def item(self):
        if self.logical_volume() != 1:
            raise RuntimeError(f"item() needs a tensor with one element, got shape {list(self.shape)}")
        return self.value.reshape(()).item()

    def to(self, target, memory_config=None):
        if isinstance(target, Layout):
            return to_layout(self, target)
        return to_device(self, target, memory_config)

    def reshape(self, *shape):
        return reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)

    # Python operators, as the real Tensor defines them: each is the TT-NN op (so it runs on the device, with its
    # numerics and cost); a Python number may stand on either side.
    def __add__(self, other):
        return _op("add")(self, other)

    def __radd__(self, other):
        return _op("add")(self, other)

    def __sub__(self, other):
        return _op("subtract")(self, other)

    def __rsub__(self, other):
        return _op("rsub")(self, other)

    def __mul__(self, other):
        return _op("multiply")(self, other)

    def __rmul__(self, other):
        return _op("multiply")(self, other)

    def __truediv__(self, other):
        return _op("divide")(self, other)

    def __rtruediv__(self, other):
        return _op("rdiv")(self, other)

    def __matmul__(self, other):
        return _op("matmul")(self, other)

    def __getitem__(self, key):
        """Basic slicing (ints and slices with steps, one per leading dim) through ttnn.slice; an int index keeps
        its dim as size 1, then drops it, as indexing does."""
        key = key if isinstance(key, tuple) else (key,)
        if len(key) > len(self.shape) or any(not isinstance(k, (int, builtins_slice)) for k in key):
            raise IndexError(f"ttnn.Tensor indexing takes up to {len(self.shape)} ints or slices, got {key!r}")
        starts, ends, steps, drop = [], [], [], []
        for d, size in enumerate(self.shape):
            k = key[d] if d < len(key) else builtins_slice(None)
            if isinstance(k, int):
                i = k + size if k < 0 else k
                if not 0 <= i < size:
                    raise IndexError(f"index {k} is out of range for dim {d} of size {size}")
                k, _ = builtins_slice(i, i + 1), drop.append(d)
            a, b, c = k.indices(size)
            starts.append(a), ends.append(max(a, b)), steps.append(c)
        out = _op("slice")(self, starts, ends, steps)
        if drop:
            out = reshape(out, [s for d, s in enumerate(out.shape) if d not in drop])
        return out

    def __repr__(self):
        where = f"device {self._device.device_id}" if self._device is not None else "host"
        if self._deallocated:
            return f"ttnn.Tensor(<deallocated>, shape={list(self.shape)}, dtype={self._dtype}, on {where})"
        body = str(self._values.to(torch.float32) if self._values.dtype == torch.bfloat16 else self._values)
        body = body.replace("tensor(", "").rstrip(")")
        return (f"ttnn.Tensor({body}, shape={list(self.shape)}, dtype={self._dtype}, layout={self._layout}, "
                f"on {where})")


builtins_slice = slice


def _op(name):
    import torch_ttnn.sim as ttnn
    return getattr(ttnn, name)


def _infer_dtype(torch_dtype) -> DataType:
    if torch_dtype not in FROM_TORCH_DTYPE:
        raise RuntimeError(f"torch dtype {torch_dtype} has no TT-NN equivalent: convert it first "
                           f"(e.g. .float() or .to(torch.int32)) or pass dtype=")
    return FROM_TORCH_DTYPE[torch_dtype]


def _pages(t: Tensor) -> tuple[int, int]:
    """(pages, bytes per page): a tile per page in TILE layout, a row per page in ROW_MAJOR."""
    return _page_info(t._values.shape, t._layout, t._dtype)


@functools.lru_cache(maxsize=4096)  # every op sizes its inputs and output: cache per (shape, layout, dtype)
def _page_info(shape, layout: Layout, dtype: DataType) -> tuple[int, int]:
    if layout == Layout.TILE:
        n = 1
        for d in formats.padded_shape(shape, layout):
            n *= d
        return max(1, n // (TILE_SIZE * TILE_SIZE)), tile_bytes(dtype)
    shape = tuple(shape) or (1,)
    rows = 1
    for d in shape[:-1]:
        rows *= d
    return max(rows, 1), max(shape[-1], 1) * element_size(dtype)


def _place(t: Tensor, device: Device, memory_config: MemoryConfig):
    """Give a tensor a device buffer (raises OutOfMemoryError when it does not fit)."""
    if not isinstance(device, Device):
        raise TypeError(f"device must be an emulated ttnn device (ttnn.open_device), got {type(device).__name__}")
    if not isinstance(memory_config, MemoryConfig):
        raise TypeError(f"memory_config must be a ttnn.MemoryConfig, got {type(memory_config).__name__}")
    device.check_open()
    if memory_config.is_sharded():  # shards on the cores of the shard grid, validated against the tensor
        memory_config = populate_sharding(memory_config, t.padded_shape, t._layout)  # as the real TensorSpec does
        if memory_config.memory_layout == TensorMemoryLayout.ND_SHARDED:
            if memory_config.nd_shard_spec is None:
                raise RuntimeError("An ND_SHARDED MemoryConfig needs an NdShardSpec: build it as "
                                   "ttnn.MemoryConfig(buffer_type, ttnn.NdShardSpec(shard_shape, grid))")
            limit = device.dram_grid_size() if memory_config.buffer_type == BufferType.DRAM else \
                device.compute_with_storage_grid_size()
            shard = nd_shard_allocation(memory_config, t.padded_shape, t._layout, t._dtype, limit)
        else:  # one shard per core
            shard = shard_allocation(memory_config, sharded_padded_shape(memory_config, t.padded_shape, t._layout),
                                     t._layout, t._dtype, device.compute_with_storage_grid_size())
        buf = device.allocate(memory_config.buffer_type, shard.pages_per_core * shard.cores, shard.page_size,
                              shard.cores)
    else:
        pages, page_size = _pages(t)
        buf = device.allocate(memory_config.buffer_type, pages, page_size)
    t._device, t._memory_config, t._buffer = device, memory_config, buf
    if spill._state["dir"] is not None and memory_config.buffer_type == BufferType.DRAM:
        t._values = spill.maybe_spill(t._values)   # large DRAM contents to a mapped file (sim/spill.py)


def _release(t: Tensor):
    """Free t's buffer once (deallocate or garbage collection); a closed device has already dropped it."""
    buf, t._buffer = t._buffer, None
    device, buffer_type = t._device, t._memory_config.buffer_type
    if device._open and buf in device._pools[buffer_type].live:
        device.free(buffer_type, buf)


def new_device_tensor(values: torch.Tensor, dtype: DataType, layout: Layout, device: Device,
                      memory_config: MemoryConfig | None = None) -> Tensor:
    """How device ops make their output: store values as `dtype` can hold them, then allocate."""
    return Tensor._make(formats.to_device_format(values, dtype, layout), dtype, layout, device,
                        memory_config or DRAM_MEMORY_CONFIG)


def nbytes(t: Tensor) -> int:
    pages, size = _pages(t)
    return pages * size


def operand(t: Tensor) -> Operand:
    """The cost model's view of a tensor an op reads or writes: its bytes, where they live, its tile size."""
    pages, size = _pages(t)
    mc = t._memory_config
    if t._device is None or mc is None:
        where = Storage.HOST
    elif mc.buffer_type == BufferType.DRAM:
        where = Storage.DRAM
    else:
        where = Storage.L1_SHARDED if mc.is_sharded() else Storage.L1
    tile = tile_bytes(t._dtype) if t._layout == Layout.TILE else TILE_SIZE * TILE_SIZE * element_size(t._dtype)
    cores = None
    if where == Storage.L1_SHARDED:
        spec = mc.shard_spec if mc.shard_spec is not None else mc.nd_shard_spec
        cores = spec.num_cores() if spec is not None else None
    return Operand(pages * size, where, tile, cores)


def operands(*tensors) -> list[Operand]:
    return [operand(t) for t in tensors if isinstance(t, Tensor)]


def require_device(opname: str, *tensors):
    """The real ops' first check: inputs live on an open device, and on the same one."""
    dev = None
    for i, t in enumerate(tensors):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{opname}: input {i} must be a ttnn.Tensor, got {type(t).__name__}")
        if t._device is None:
            raise RuntimeError(f"{opname}: input tensor {i} must be on device, got storage type: HOST. "
                               f"Move it first with ttnn.to_device(tensor, device)")
        t.value  # raises if deallocated or the device closed
        if dev is not None and t._device is not dev:
            raise RuntimeError(f"{opname}: inputs are on different devices (device {dev.device_id} and device "
                               f"{t._device.device_id}); move them to one device first")
        dev = t._device
    return dev


# --- conversions ----------------------------------------------------------------------------------------
@operation("ttnn.from_torch")
def from_torch(tensor, dtype: DataType | None = None, *, spec=None, tile=None, pad_value=None, layout=None,
               device=None, memory_config=None, mesh_mapper=None, cq_id=None, preserve_nan_values=False,
               col_tilize=False, enable_bfloat_opt=False) -> Tensor:
    """torch.Tensor -> ttnn.Tensor on host, or on `device` when given (then DRAM unless memory_config says)."""
    if tensor is None:
        return None
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"from_torch expects a torch.Tensor, got {type(tensor).__name__}")
    if spec is not None:  # a ttnn.TensorSpec fixes dtype, layout and memory config
        if tuple(spec.shape) != tuple(tensor.shape):
            raise RuntimeError(f"from_torch: spec shape {list(spec.shape)} does not match the tensor's shape "
                               f"{list(tensor.shape)}")
        dtype, layout, memory_config = spec.dtype, spec.layout, memory_config or spec.memory_config
    layout = Layout.ROW_MAJOR if layout is None else layout
    if not isinstance(layout, Layout):
        raise TypeError(f"layout must be ttnn.ROW_MAJOR_LAYOUT or ttnn.TILE_LAYOUT, got {layout!r}")
    if dtype is not None and not isinstance(dtype, DataType):
        raise TypeError(f"dtype must be a ttnn.DataType such as ttnn.bfloat16, got {dtype!r}")
    if dtype in BLOCK_FLOAT and layout != Layout.TILE:
        raise RuntimeError(f"{dtype.name} is only supported in TILE layout: pass layout=ttnn.TILE_LAYOUT")
    src = tensor.detach()
    if src.device.type != "cpu":
        src = src.cpu()
    if src.dtype == torch.int64 and (dtype in (None, DataType.INT32)):
        lo, hi = int(src.min()) if src.numel() else 0, int(src.max()) if src.numel() else 0
        if lo < -(2**31) or hi > 2**31 - 1:
            raise RuntimeError(f"from_torch: int64 values in [{lo}, {hi}] do not fit int32, TT-NN's widest "
                               f"signed integer; pass dtype=ttnn.uint32 or reduce the range")
    dtype = dtype if dtype is not None else _infer_dtype(src.dtype)
    t = Tensor._make(formats.to_device_format(src, dtype, layout), dtype, layout)
    if device is not None:
        t = to_device(t, device, memory_config)
    return t


@operation("ttnn.to_torch")
def to_torch(tensor, dtype=None, *, torch_rank=None, mesh_composer=None, device=None, cq_id=None) -> torch.Tensor:
    """ttnn.Tensor (host or device) -> torch.Tensor of the logical shape."""
    if isinstance(tensor, torch.Tensor):
        return tensor if dtype is None else tensor.to(dtype)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_torch expects a ttnn.Tensor, got {type(tensor).__name__}")
    if tensor._device is not None and Operation._capture is not None:
        Operation._capture.refuse(tensor._device, "Reads")
    if tensor._device is not None:
        _count(tensor, "download")
    out = tensor.value.clone()
    if torch_rank is not None:
        out = out.reshape(tuple(Shape(out.shape).to_rank(torch_rank)))
    return out if dtype is None else out.to(dtype)


@operation("ttnn.to_device")
def to_device(tensor, device, memory_config=None, *, queue_id=None) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_device expects a ttnn.Tensor, got {type(tensor).__name__}")
    if tensor._device is not None:
        if tensor._device is device and (memory_config is None or memory_config == tensor._memory_config):
            return tensor
        return to_memory_config(tensor, memory_config or tensor._memory_config) \
            if tensor._device is device else to_device(from_device(tensor), device, memory_config)
    if Operation._capture is not None:
        Operation._capture.refuse(device, "Writes")
    t = Tensor._make(tensor.value, tensor._dtype, tensor._layout)
    _place(t, device, memory_config or DRAM_MEMORY_CONFIG)
    record(device, "ttnn.to_device", host_only=True)  # the host->device copy: PCIe, not a device program
    _count(t, "upload")
    return t


def _count(t: Tensor, direction: str):
    """A copy across PCIe, in the device's transfer counters (Device.transfers), by the buffer's size."""
    counters = getattr(t._device, "transfers", None)
    if counters is not None:
        pages, page_size = _pages(t)
        getattr(counters, direction)(pages * page_size)


@operation("ttnn.from_device")
def from_device(tensor, blocking: bool = True, *, queue_id=None) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"from_device expects a ttnn.Tensor, got {type(tensor).__name__}")
    if tensor._device is not None:
        _count(tensor, "download")
    return Tensor._make(tensor.value, tensor._dtype, tensor._layout)


@operation("ttnn.to_layout")
def to_layout(tensor, layout, dtype=None, memory_config=None, sub_core_grids=None, pad_value=0.0) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_layout expects a ttnn.Tensor, got {type(tensor).__name__}")
    if not isinstance(layout, Layout) or layout == Layout.INVALID:
        raise TypeError(f"layout must be ttnn.ROW_MAJOR_LAYOUT or ttnn.TILE_LAYOUT, got {layout!r}")
    out_dtype = dtype or tensor._dtype
    if out_dtype in BLOCK_FLOAT and layout != Layout.TILE:
        raise RuntimeError(f"Cannot convert to ROW_MAJOR with dtype {out_dtype.name}: block-float data exists "
                           f"only in TILE layout; typecast to ttnn.bfloat16 first")
    if layout == tensor._layout and out_dtype == tensor._dtype and memory_config in (None, tensor._memory_config):
        return tensor
    values = tensor.value
    if out_dtype != tensor._dtype:
        values = formats.to_device_format(values, out_dtype, layout)
    if tensor._device is None:
        return Tensor._make(values, out_dtype, layout)
    out = Tensor._make(values, out_dtype, layout, tensor._device, memory_config or tensor._memory_config)
    record(tensor._device, "ttnn.to_layout", operands=operands(tensor, out))
    return out


@operation("ttnn.typecast")
def typecast(input_tensor, dtype, *args, memory_config=None, output_tensor=None, sub_core_grids=None) -> Tensor:
    """Device typecast. The two-dtype overload typecast(t, input_dtype, output_dtype) is accepted too."""
    if args:  # typecast(t, input_dtype, output_dtype)
        if dtype != input_tensor.dtype:
            raise RuntimeError(f"typecast: input_dtype {dtype} does not match the tensor's dtype {input_tensor.dtype}")
        dtype = args[0]
    dev = require_device("ttnn.typecast", input_tensor)
    if not isinstance(dtype, DataType):
        raise TypeError(f"typecast: dtype must be a ttnn.DataType, got {dtype!r}")
    if dtype in BLOCK_FLOAT and input_tensor.layout != Layout.TILE:
        raise RuntimeError(f"typecast to {dtype.name} needs TILE layout; call ttnn.to_layout first")
    out = new_device_tensor(input_tensor.value, dtype, input_tensor.layout, dev,
                            memory_config or input_tensor.memory_config())
    record(dev, "ttnn.typecast", operands=operands(input_tensor, out), sfpu_ops=float(out.volume()))
    return out


@operation("ttnn.reshape")
def reshape(input_tensor, shape, *args, memory_config=None, pad_value=None, reshape_tile_mode=None,
            sub_core_grids=None, skip_padding_fill=False) -> Tensor:
    """Reshape to `shape` (one -1 allowed). The (logical_shape, padded_shape) overload is accepted too."""
    if not isinstance(input_tensor, Tensor):
        raise TypeError(f"reshape expects a ttnn.Tensor, got {type(input_tensor).__name__}")
    shape = [int(s) for s in shape]
    values = input_tensor.value
    if shape.count(-1) > 1:
        raise RuntimeError(f"reshape: only one dimension can be -1, got {shape}")
    try:
        new = values.reshape(shape)
    except RuntimeError:
        raise RuntimeError(f"reshape: cannot reshape a tensor of shape {list(values.shape)} "
                           f"({values.numel()} elements) to {shape}") from None
    dev = input_tensor._device
    if dev is None:
        return Tensor._make(new, input_tensor._dtype, input_tensor._layout)
    out = Tensor._make(new, input_tensor._dtype, input_tensor._layout, dev,
                       memory_config or input_tensor._memory_config)
    if _is_view(input_tensor, out):
        record(dev, "ttnn.reshape", host_only=True)
    else:
        record(dev, "ttnn.reshape", operands=operands(input_tensor, out))
    return out


def _is_view(src: Tensor, out: Tensor) -> bool:
    """TT-NN's reshape is a view (no device program, metadata only) when the last dim is unchanged and, in TILE
    layout, the rows stay whole tiles: the second-to-last dim unchanged, or tile-aligned before and after (the
    tiles' order in memory is the same). Otherwise it moves data."""
    if src.shape[-1:] != out.shape[-1:]:
        return False
    if src._layout == Layout.ROW_MAJOR:
        return True
    h_in = src.shape[-2] if len(src.shape) > 1 else 1
    h_out = out.shape[-2] if len(out.shape) > 1 else 1
    return h_in == h_out or (h_in % TILE_SIZE == 0 and h_out % TILE_SIZE == 0)


@operation("ttnn.to_memory_config")
def to_memory_config(tensor, memory_config, dtype=None, output_tensor=None) -> Tensor:
    dev = require_device("ttnn.to_memory_config", tensor)
    out_dtype = dtype or tensor._dtype
    values = tensor.value if out_dtype == tensor._dtype else formats.to_device_format(tensor.value, out_dtype,
                                                                                      tensor._layout)
    out = Tensor._make(values, out_dtype, tensor._layout, dev, memory_config)
    record(dev, "ttnn.to_memory_config", operands=operands(tensor, out))
    return out


@operation("ttnn.clone")
def clone(input, *, dtype=None, memory_config=None, compute_kernel_config=None) -> Tensor:
    dev = require_device("ttnn.clone", input)
    out = new_device_tensor(input.value, dtype or input._dtype, input._layout, dev,
                            memory_config or input._memory_config)
    record(dev, "ttnn.clone", operands=operands(input, out))
    return out


@operation("ttnn.deallocate")
def deallocate(tensor, force: bool = True) -> None:
    """Free a device tensor's buffer now; using the tensor afterwards raises."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"deallocate expects a ttnn.Tensor, got {type(tensor).__name__}")
    if tensor._buffer is not None:
        _release(tensor)
    if tensor._device is not None:
        tensor._deallocated = True
        # The host memory that emulates the buffer goes now too (the shape stays readable, as on the real
        # tensor): a program's freed intermediates must not stay resident until its last reference dies.
        tensor._values = tensor._values.to("meta")


def is_tensor_storage_on_device(tensor) -> bool:
    return isinstance(tensor, Tensor) and tensor._device is not None
