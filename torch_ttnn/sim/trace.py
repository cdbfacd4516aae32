"""Trace capture and replay (`ttnn.begin_trace_capture`, `end_trace_capture`, `execute_trace`, `release_trace`).

On a card, a trace records the dispatch commands of a sequence of ops into a reserved DRAM region, and replays
them with no host work per op: the buffers the ops used during capture keep their addresses, so a steady-state
loop writes new inputs into the captured input tensors (`ttnn.copy_host_to_device_tensor`), replays, and reads
the captured output tensors. Host reads and writes are not allowed while capturing.

Emulated the same way: every top-level operation called while capturing is remembered with its arguments and
results; replay calls them again in order on the same tensors (results of earlier steps substituted), and the
captured tensors that are still allocated take the new values, so they behave as fixed buffers. Replayed ops
are priced as traced (kernel time, no host dispatch: `OpRecord.traced`). Capture itself is not charged: on a
card it only records commands. The emulator is kinder than a card in one way: captured outputs hold real
values right after capture (on a card their contents are undefined until the first replay).

The trace region must hold the commands: TT's model code reserves ~23 MB for ~1,000 traced ops (its Llama
demos), so each op is counted at `COMMAND_BYTES_PER_OP` (an estimate); a region too small raises as the real
allocator does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .device import Device
from .operation import Operation, operation
from .tensor import Tensor, _count

COMMAND_BYTES_PER_OP = 24 * 1024


class MeshTraceId:
    """The id `begin_trace_capture` returns: an opaque handle, compared and hashed by its number."""

    def __init__(self, number: int, /):
        self._id = int(number)

    def __int__(self):
        return self._id

    def __eq__(self, other):
        return isinstance(other, MeshTraceId) and other._id == self._id

    def __hash__(self):
        return hash(self._id)

    def __repr__(self):
        return f"MeshTraceId({self._id})"


@dataclass
class _Step:
    op: Operation
    args: tuple
    kwargs: dict
    out: object


@dataclass
class _Trace:
    device: Device
    trace_id: int
    steps: list = field(default_factory=list)
    depth: int = 0        # nesting of operation calls: only the outermost is a step
    records_at_start: int = 0
    done: bool = False

    def refuse(self, device, what: str):
        if device is self.device:
            raise RuntimeError(f"{what} are not supported during trace capture: move host reads and writes "
                               f"outside begin_trace_capture / end_trace_capture")

    def call(self, op: Operation, args, kwargs):
        self.depth += 1
        try:
            out = op.function(*args, **kwargs)
        finally:
            self.depth -= 1
        if self.depth == 0:
            self.steps.append(_Step(op, args, kwargs, out))
        return out


def _capturing(device: Device) -> _Trace | None:
    cap = Operation._capture
    return cap if cap is not None and cap.device is device else None


def begin_trace_capture(mesh_device, *, cq_id=None) -> MeshTraceId:
    mesh_device.check_open()
    if Operation._capture is not None:
        raise RuntimeError("begin_trace_capture: a trace capture is already in progress; end it with "
                           "ttnn.end_trace_capture(device, trace_id) first")
    traces = mesh_device._traces
    tid = MeshTraceId(max((int(t) for t in traces), default=-1) + 1)
    Operation._capture = _Trace(mesh_device, tid, records_at_start=len(mesh_device.op_records))
    traces[tid] = Operation._capture
    return tid


def end_trace_capture(mesh_device, trace_id, *, cq_id=None) -> None:
    cap = _capturing(mesh_device)
    if cap is None or cap.trace_id != trace_id:
        raise RuntimeError(f"end_trace_capture: trace {int(trace_id)} is not being captured on this device")
    Operation._capture = None
    del mesh_device.op_records[cap.records_at_start:]  # capture records commands; it runs no kernels
    need = COMMAND_BYTES_PER_OP * len(cap.steps)
    region = mesh_device.trace_region_size
    if need > region:
        mesh_device._traces.pop(trace_id, None)
        raise RuntimeError(f"Creating trace buffers of size {need}B on device {mesh_device.id()}, but only "
                           f"{region}B is allocated for trace region: open the device with a larger "
                           f"trace_region_size, e.g. ttnn.open_device(device_id={mesh_device.id()}, "
                           f"trace_region_size={max(need * 2, 1 << 20)})")
    cap.done = True


def _trace_of(device, trace_id) -> _Trace:
    trace = device._traces.get(trace_id)
    if trace is None or not trace.done:
        raise RuntimeError(f"Trace {int(trace_id)} does not exist on device {device.id()} (captured traces: "
                           f"{sorted(int(t) for t in device._traces)}); capture it with "
                           f"ttnn.begin_trace_capture / ttnn.end_trace_capture first")
    return trace


def _map(x, fresh: dict):
    if isinstance(x, Tensor):
        return fresh.get(id(x), x)
    if isinstance(x, (list, tuple)):
        return type(x)(_map(v, fresh) for v in x)
    if isinstance(x, dict):
        return {k: _map(v, fresh) for k, v in x.items()}
    return x


def _pair(captured, new, fresh: dict):
    if isinstance(captured, Tensor) and isinstance(new, Tensor):
        fresh[id(captured)] = new
    elif isinstance(captured, (list, tuple)) and isinstance(new, (list, tuple)):
        for c, n in zip(captured, new):
            _pair(c, n, fresh)


def execute_trace(mesh_device, trace_id, *, cq_id=None, blocking: bool = True) -> None:
    """Replay: each captured op again, on the captured tensors; live captured results take the new values."""
    trace = _trace_of(mesh_device, trace_id)
    if Operation._capture is not None:
        raise RuntimeError("execute_trace: cannot replay a trace while another is being captured")
    fresh: dict = {}
    mesh_device._replaying = True
    try:
        for st in trace.steps:
            _pair(st.out, st.op.function(*_map(st.args, fresh), **_map(st.kwargs, fresh)), fresh)
    finally:
        mesh_device._replaying = False
    for st in trace.steps:
        _adopt(st.out, fresh)


def _adopt(captured, fresh: dict):
    """A captured result still allocated is a fixed buffer: it takes the replayed values, the replay's own
    buffer is freed."""
    if isinstance(captured, (list, tuple)):
        for c in captured:
            _adopt(c, fresh)
        return
    new = fresh.get(id(captured))
    if isinstance(captured, Tensor) and new is not None and new is not captured and captured.is_allocated() \
            and new.is_allocated():
        captured._values = new._values
        new.deallocate()


def release_trace(mesh_device, trace_id) -> None:
    _trace_of(mesh_device, trace_id)
    del mesh_device._traces[trace_id]


@operation("ttnn.copy_host_to_device_tensor")
def copy_host_to_device_tensor(host_tensor, device_tensor, cq_id=None) -> None:
    """Write a host tensor's values into an existing device tensor (same shape, dtype and layout): how a
    traced loop feeds new inputs to the captured input buffers."""
    if not isinstance(host_tensor, Tensor) or not isinstance(device_tensor, Tensor):
        raise TypeError("copy_host_to_device_tensor expects (host ttnn.Tensor, device ttnn.Tensor)")
    if device_tensor.device() is None:
        raise RuntimeError("copy_host_to_device_tensor: the destination tensor must be on device: place it first "
                           "with ttnn.to_device(tensor, device)")
    if Operation._capture is not None:
        Operation._capture.refuse(device_tensor.device(), "Writes")
    same = (tuple(host_tensor.shape), host_tensor.dtype, host_tensor.layout) == \
        (tuple(device_tensor.shape), device_tensor.dtype, device_tensor.layout)
    if not same:
        raise RuntimeError(f"copy_host_to_device_tensor: host tensor {list(host_tensor.shape)} "
                           f"{host_tensor.dtype.name} {host_tensor.layout.name} does not match the device tensor "
                           f"{list(device_tensor.shape)} {device_tensor.dtype.name} {device_tensor.layout.name}; "
                           f"convert it first (ttnn.from_torch(..., dtype=, layout=))")
    device_tensor._values = host_tensor.value
    _count(device_tensor, "upload")



__all__ = ["begin_trace_capture", "end_trace_capture", "execute_trace", "release_trace",
           "copy_host_to_device_tensor", "MeshTraceId"]
