"""Models written by hand against the TT-NN API, the way Tenstorrent's optimized model code is written, so the
benchmark can price a compiled program against what a TT-NN expert would write, both on the same cost model.

Each model takes the `ttnn` module as a parameter (the emulator `torch_ttnn.sim` or the real package) and a
Hugging Face state dict; parameters are converted once, the per-call function holds only per-call work.
`device_cost` measures one call on the emulator: the op records its device appended during the call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class DeviceCost:
    """What one call cost on the device: how many device ops it ran and their estimated time summed."""
    ops: int
    time_ns: float

    @property
    def time_ms(self) -> float:
        return self.time_ns / 1e6


def device_cost(device, fn: Callable[[], Any]) -> tuple[Any, DeviceCost]:
    """Run `fn()` and return its result with the cost of the device ops it recorded (emulator devices keep
    `op_records`; only `time_ns` of each record is read, other fields belong to the cost model)."""
    start = len(device.op_records)
    out = fn()
    records = device.op_records[start:]
    return out, DeviceCost(len(records), float(sum(r.time_ns for r in records)))
