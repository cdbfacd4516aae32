"""The op wrapper and the cost model shared by every emulated operation.

Each TT-NN operation is an `Operation` object, as in the real package: callable, with a name, a golden
(torch reference) function, and a recorded cost per call on the device it ran on. The cost model is a
roofline: time = max(compute time, DRAM time) + a fixed dispatch cost, with figures from the device's
ArchSpec.
"""
from __future__ import annotations

import functools
import inspect

from .device import Device, OpRecord
from .types import MathFidelity

# One matrix-engine pass computes an 8x16x16 multiply-accumulate block per core per cycle: 4096 FLOP.
# 64 cores x 1 GHz x 4096 = 262 TFLOPS, Tenstorrent's n150 "FP8" (LoFi) figure; each extra fidelity pass costs
# another cycle (HiFi2 = 148 "BLOCKFP8" after rounding, HiFi4 = 74 "FP16"). Source: ttnn-facts.md.
FPU_FLOP_PER_CYCLE = 4096
# The vector engine (SFPU) works on 32 lanes per cycle per core; a transcendental costs several cycles per value.
SFPU_LANES = 32
# Fixed host dispatch + kernel launch cost per op without trace capture. Public tt-metal profiles put op-to-op
# gaps at a few to tens of microseconds; we take 5 us (verify on hardware).
DISPATCH_NS = 5_000.0


def estimate_ns(device: Device, *, flops: float = 0.0, bytes_moved: float = 0.0, fidelity=MathFidelity.HiFi4,
                sfpu_ops: float = 0.0, sfpu_cycles: float = 1.0) -> tuple[float, str]:
    """Roofline estimate for one op on `device`; returns (nanoseconds, which bound was hit)."""
    spec = device.spec
    passes = fidelity.passes if isinstance(fidelity, MathFidelity) and fidelity != MathFidelity.Invalid else 4
    fpu_ns = flops / (spec.num_cores * FPU_FLOP_PER_CYCLE / passes * spec.clock_hz) * 1e9
    sfpu_ns = sfpu_ops * sfpu_cycles / (spec.num_cores * SFPU_LANES * spec.clock_hz) * 1e9
    mem_ns = bytes_moved / spec.dram_bw * 1e9
    compute = max(fpu_ns, sfpu_ns)
    bound = "compute" if compute >= mem_ns else "memory"
    return max(compute, mem_ns) + DISPATCH_NS, bound


def record(device: Device, name: str, **kw) -> OpRecord:
    ns, bound = estimate_ns(device, **kw)
    rec = OpRecord(name, ns, kw.get("flops", 0.0), kw.get("bytes_moved", 0.0), bound)
    device.record(rec)
    return rec


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

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

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
