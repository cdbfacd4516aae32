"""The op wrapper and the one door to the cost model shared by every emulated operation.

Each TT-NN operation is an `Operation` object, as in the real package: callable, with a name, a golden
(torch reference) function, and a recorded cost per call on the device it ran on. `record` turns what an op
declares it did (its operands and where they live, matmul tiles, vector-engine passes) into an `OpRecord`
priced by `sim/cost.py` from the device's ArchSpec.
"""
from __future__ import annotations

import functools
import inspect

from .cost import Operand, OpRecord, Work, price
from .device import Device
from .program_cache import signature


def record(device: Device, name: str, *, operands: list[Operand] | None = None, bytes_moved: float = 0.0,
           flops: float = 0.0, sfpu_ops: float = 0.0, sfpu_cycles: float = 1.0, matmul=None,
           host_only: bool = False) -> OpRecord:
    """Price one op call and add it to the device's records.

    `operands` are the tensors read and written, the output last (`tensor.operand(t)`); ops that only know a
    byte count pass `bytes_moved` (taken as DRAM traffic). `flops` without `matmul` is an eltwise op on the
    matrix engine; `sfpu_ops` values at `sfpu_cycles` each run on the vector engine."""
    if operands is None:
        operands = [Operand(int(bytes_moved))] if bytes_moved else []
    work = declare(operands, flops=flops, sfpu_ops=sfpu_ops, sfpu_cycles=sfpu_cycles, matmul=matmul,
                   host_only=host_only)
    rec = price(name, work, device.spec, flops=flops)
    if not host_only:
        _program(device, rec)
    device.record(rec)
    return rec


def _program(device: Device, rec: OpRecord) -> None:
    """Look the op's program up in the device's program cache (sim/program_cache.py): a replayed trace runs
    cached programs; otherwise the outermost operation call in progress is the program's signature (a
    composite op's inner programs are told apart by their names)."""
    if device._replaying:
        rec.program_cache = "hit"
        return
    call = Operation._call
    if call is None:
        key = (rec.name,)
    else:   # [name, args, kwargs, its signature once worked out, programs run so far in this call]
        if call[3] is None:
            call[3] = signature(*call[:3])
        key = (call[3], rec.name, call[4])
        call[4] += 1
    capturing = Operation._capture is not None and Operation._capture.device is device
    rec.program_cache, rec.compile_ns = device.program_cache.lookup(key, rec.name, capturing)


def declare(operands: list[Operand], *, flops: float = 0.0, sfpu_ops: float = 0.0, sfpu_cycles: float = 1.0,
            matmul=None, host_only: bool = False) -> Work:
    """The Work an op declares from its operands and compute, as `record` prices it: shared with planners
    (compiler/shard.py) that price an op before it runs, so both see one model."""
    last = operands[-1] if operands else None
    out_tiles = sfpu_ops / 1024 if sfpu_ops else (last.bytes / last.tile_bytes if last else 0.0)
    return Work(operands, matmul, out_tiles, sfpu_cycles if sfpu_ops else 0.0, fpu=bool(flops) and matmul is None,
                host_only=host_only)


class Operation:
    """A TT-NN operation: `ttnn.add(...)` etc. Carries its python name and golden function like the real one."""

    def __init__(self, fn, name: str, golden_function=None):
        functools.update_wrapper(self, fn)
        self.function = fn
        self.python_fully_qualified_name = name
        self.golden_function = golden_function
        self.__name__ = name.rsplit(".", 1)[-1]
        self.__qualname__ = self.__name__
        self.__signature__ = inspect.signature(fn)

    _capture = None   # the trace being captured (sim/trace.py), shared by every operation
    _graph = None     # the ttnn.graph capture in progress (sim/graph.py)
    # sim/mesh.py's dispatcher, installed when the first mesh opens: runs an op on every chip of a mesh tensor
    # (or of a mesh device argument) and returns NotImplemented for single-device calls.
    _mesh_dispatch = None

    _call = None      # the outermost operation call in progress: its programs' signature (_program)

    def __call__(self, *args, **kwargs):
        if Operation._call is not None:
            return self._dispatch(args, kwargs)
        Operation._call = [self.python_fully_qualified_name, args, kwargs, None, 0]
        try:
            return self._dispatch(args, kwargs)
        finally:
            Operation._call = None

    def _dispatch(self, args, kwargs):
        if self._graph is not None:
            return self._graph.call(self, args, kwargs)
        if self._mesh_dispatch is not None:
            out = self._mesh_dispatch(self, args, kwargs)
            if out is not NotImplemented:
                return out
        if self._capture is None:
            return self.function(*args, **kwargs)
        return self._capture.call(self, args, kwargs)

    def __repr__(self):
        return f"<emulated {self.python_fully_qualified_name}>"

    def __reduce__(self):  # pickle/deepcopy by name, as module-level functions are
        return (_resolve, (self.python_fully_qualified_name,))


def _resolve(name):
    import torch_ttnn.sim as ttnn
    obj = ttnn
    for part in name.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def operation(name: str, golden_function=None):
    """Decorator: make a function an Operation named `name` (e.g. "ttnn.add")."""
    def wrap(fn):
        return Operation(fn, name, golden_function)
    return wrap


def get_golden_function(operation):
    if getattr(operation, "golden_function", None) is None:
        raise RuntimeError(f"{operation} has no golden function")
    return operation.golden_function
