"""The program cache: a device program is compiled on the host the first time it is needed, then reused.

On a card, the first call of an op with a given signature (the op, its input shapes, dtypes, layouts and memory
configs, its attributes: program config, compute kernel config, ...) builds a program and JIT-compiles its
kernels on the host. With the device's program cache on, later calls with the same signature find the
program and only update its runtime arguments; with it off, every call builds its program again. The cache is
on by default in TT-NN 0.81.1 (tt-metal PR #23268, June 2025, made `ProgramCache` enabled at creation);
`device.enable_program_cache()`, `disable_and_clear_program_cache()`, `clear_program_cache()` and
`num_program_cache_entries()` are the real MeshDevice methods. A trace cannot be captured over a program that
is not cached yet: building it writes to the device, and writes are refused while capturing; so a traced
loop runs once before its capture (every TT model does: "compile run", then capture).

Emulated: the outermost operation call of each device program is its key (`signature`); every OpRecord with
a device program says whether it hit the cache ("hit"), compiled ("miss") or ran with the cache off
("uncached"), and carries the host time that cost (`compile_ns`), which host-visible figures add.

Figures (host time, not device time):
- `COMPILE_NS` = 640 ms, a program whose kernels were never compiled in this process: tt-metal's own example
  `ttnn/examples/usage/program_cache.py` records 0.639 s for the first `ttnn.exp` of a 2x4 tensor (with its
  host transfers) and 0.74 ms for the second. One data point, for a small eltwise op; a matmul's three
  kernels may take longer, a model's first call is the sum over its distinct programs.
- `REBUILD_NS` = 2 ms, a call with the cache off whose kernels are already compiled (tt-metal keeps built
  kernel binaries per process, keyed by their hash, whatever the program cache does): an ASSUMPTION, no
  public per-op figure was found. For scale: pytorch2.0_ttnn PR #961 saw MNIST's steady-state forward drop
  from about 30 ms to 10 ms when the program cache was enabled (BERT: about 10%).

The emulator is kinder than a card in one way: the in-process kernel cache is keyed here by the program's
signature, while on a card two programs of different signatures may share kernel binaries (fewer compiles).
"""
from __future__ import annotations

import enum

import torch

COMPILE_NS = 640e6
REBUILD_NS = 2e6


class ProgramCacheMiss(RuntimeError):
    """A program had to be built where that is not allowed (misses forbidden, or during a trace capture)."""


def signature(op_name: str, args, kwargs) -> tuple:
    """What keys an op's program: the op and its arguments, tensors by shape, dtype, layout and memory config
    (not their values), configs by value."""
    return (op_name, _key(args), _key(kwargs))


def _key(x):
    from .tensor import Tensor
    if isinstance(x, Tensor):
        return ("tensor", tuple(x.shape), x.dtype, x.layout, repr(x.memory_config()))
    if isinstance(x, torch.Tensor):
        return ("torch", tuple(x.shape), x.dtype)
    if isinstance(x, (list, tuple)):
        return tuple(_key(v) for v in x)
    if isinstance(x, dict):
        return tuple((k, _key(v)) for k, v in x.items())
    if x is None or isinstance(x, (bool, int, float, str, enum.Enum)):
        return x
    if hasattr(x, "check_open"):          # a device or mesh device: its identity, not its state
        return ("device", id(x))
    return repr(x)


class ProgramCache:
    """One device's program cache and its process-wide record of compiled kernels."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.misses_allowed = True
        self.entries: dict = {}           # signature -> hits since it was compiled
        self.compiled: set = set()        # signatures whose kernels were built in this process

    def lookup(self, key, what: str, capturing: bool) -> tuple[str, float]:
        """(outcome, host compile ns) of running the program `key`; raises where a build is not allowed."""
        if self.enabled and key in self.entries:
            self.entries[key] += 1
            return "hit", 0.0
        if not self.misses_allowed:
            raise ProgramCacheMiss(f"{what}: program cache miss occurred, but cache misses are forbidden "
                                   f"(device.set_program_cache_misses_allowed(False)); run the op once before "
                                   f"forbidding misses")
        if capturing:
            raise ProgramCacheMiss(
                f"Writes are not supported during trace capture: {what} has no program in the program cache "
                f"yet, and building one writes its kernels to the device"
                + ("" if self.enabled else " (the program cache is disabled: device.enable_program_cache())")
                + "; run the captured ops once before ttnn.begin_trace_capture")
        cost = REBUILD_NS if key in self.compiled else COMPILE_NS
        self.compiled.add(key)
        if self.enabled:
            self.entries[key] = 0
            return "miss", cost
        return "uncached", cost

    def clear(self):
        self.entries.clear()
