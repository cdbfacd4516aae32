"""`ttnn.dump_tensor` / `ttnn.load_tensor` (emulated): a tensor written to disk with its spec, read back placed.

What the real 0.81.1 pair does (ttnn/operations/core.py and tt-metal's ttnn/core/tensor/serialization.cpp):
the file name must end in `.tensorbin`; `dump_tensor` copies a device tensor to the host first and writes its
values in the stored format (tiles, block-float) together with its spec: shape, dtype, layout and memory config,
shard spec included; `load_tensor(file, device=None)` gives the host tensor, and with a device places it with
the memory config the file holds (`tensor.to_device(device, spec.memory_config())`). TT's model code caches
preprocessed weights this way (`as_tensor(cache_file_name=...)`, `model_preprocessing`): loading skips every
conversion, transpose and tilization.

The emulator's file is a pickle of the stored values and the spec, not the real flatbuffer format: files do
not move between the emulator and a card (each side writes its own from the same script).
"""
from __future__ import annotations

import os
import pathlib
import pickle

from ..operation import operation
from ..tensor import Tensor, to_device
from ..types import DataType, Layout, MemoryConfig
from .creation import DumpTensorMode

__all__ = ["dump_tensor", "load_tensor"]

_FORMAT = "torch_ttnn.sim tensorbin 1"


def _check_name(file_name) -> pathlib.Path:
    path = pathlib.Path(file_name)
    if not str(path).endswith(".tensorbin"):
        raise RuntimeError(f"File {path} must have .tensorbin extension")
    return path


@operation("ttnn.dump_tensor")
def dump_tensor(file_name, tensor, *, mode=DumpTensorMode.DISTRIBUTED_GATHER) -> None:
    """Write `tensor` (host or device) with its dtype, layout and memory config; a device tensor stays as it is."""
    path = _check_name(file_name)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"dump_tensor expects a ttnn.Tensor, got {type(tensor).__name__} (convert a torch tensor "
                        f"with ttnn.from_torch first)")
    if not isinstance(mode, DumpTensorMode):
        raise TypeError(f"dump_tensor: mode must be a ttnn.DumpTensorMode, got {mode!r}")
    record = {"format": _FORMAT, "values": tensor.value.clone(), "dtype": tensor.dtype.name,
              "layout": tensor.layout.name, "memory_config": tensor.memory_config()}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(record, f)
    os.replace(tmp, path)  # readers never see a partial file


@operation("ttnn.load_tensor")
def load_tensor(file_name, *, device=None) -> Tensor:
    """The tensor in `file_name`: on the host, or on `device` with the memory config it was dumped with."""
    path = _check_name(file_name)
    if not path.exists():
        raise RuntimeError(f"Unable to load the tensor from {path}.  The file does not exist.")
    if not path.is_file():
        raise RuntimeError(f"Unable to load the tensor from {path}.  The file is not a file.")
    try:
        with open(path, "rb") as f:
            record = pickle.load(f)
        ok = isinstance(record, dict) and record.get("format") == _FORMAT
    except Exception:
        ok = False
    if not ok:
        raise RuntimeError(f"Cannot validate tensor data in {path}: it was not written by the emulator's "
                           f"ttnn.dump_tensor (files written by the real ttnn use another format; dump the "
                           f"tensor again under `python -m torch_ttnn.sim`)")
    host = Tensor._make(record["values"], DataType[record["dtype"]], Layout[record["layout"]])
    if device is None:
        return host
    mc = record["memory_config"]
    return to_device(host, device, mc if isinstance(mc, MemoryConfig) else None)
