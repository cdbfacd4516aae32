"""What the benchmark measures: each figure's definition and its target, in one place (JSON, Markdown, CLI).

Every figure is a ratio of two things measured in the same process run, so that the drift of a shared,
noisy machine cancels out; times are medians over repeats after a warm-up.
"""
from __future__ import annotations

import math

FIGURES = {  # key: (label, definition)
    "compile_ttnn_s": ("Compile ttnn (s)", "torch.compile(backend='ttnn'): wall seconds of the first call minus "
                                           "the median steady-state call (dynamo + aot tracing, lowering, "
                                           "parameter placement), median over compile repeats"),
    "compile_inductor_s": ("Compile Inductor (s)", "the same for backend='inductor' with a fresh (cold) "
                                                   "Inductor cache for every repeat (codegen + C++ build)"),
    "compile_ratio": ("Compile ttnn/Inductor", "compile_ttnn_s / compile_inductor_s (target < 1)"),
    "eager_ms": ("Eager CPU (ms)", "eager PyTorch float32 on the host, median ms per call, interleaved with "
                                   "the emulator's calls"),
    "emu_ms": ("Emulator (ms)", "the ttnn-compiled model on the emulator, median ms per steady-state call"),
    "emu_ratio": ("Emulator/eager", "emu_ms / eager_ms (target <= 1.5)"),
    "inductor_ms": ("Inductor (ms)", "the Inductor-compiled model, median ms per call (for reference)"),
    "ttnn_calls": ("TT-NN calls /call", "TT-NN calls one compiled call makes (ops, transfers, deallocations, "
                                        "plus host fallback ops): the executor's per-call steps"),
    "null_call_us": ("Null-runtime call (us)", "one compiled call with every op returning at once (median)"),
    "ttnn_ops": ("TT-NN ops /call", "ttnn_calls without the deallocations (freeing a buffer is not an op)"),
    "overhead_us_per_op": ("Host us/op", "null_call_us / ttnn_ops: host overhead per TT-NN op, the "
                                         "deallocations' cost counted in the numerator only (target <= 5)"),
    "overhead_us_per_call": ("Host us/call", "null_call_us / ttnn_calls: host overhead per executor step"),
    "bare_call_us": ("Bare call (us)", "a bare Python call of a closure returning a constant: the floor"),
    "transfers": ("Transfers /call", "host<->device transfers per steady-state call, from the compiler's "
                                     "metrics (h2d + d2h)"),
    "min_transfers": ("Min transfers", "tensor inputs + tensor outputs of the model (the minimum)"),
    "transfer_ratio": ("Transfers/min", "transfers / min_transfers (target = 1)"),
    "gflop": ("GFLOP /call", "FLOPs of one eager call (torch.utils.flop_counter), in GFLOP"),
    "roofline_ms": ("Roofline (ms)", "max(FLOPs at the card's peak rate, weight + input/output bytes in the "
                                     "device formats at DRAM bandwidth)"),
    "device_ms": ("Est. device (ms)", "the emulator's estimated device kernel time per call (compiler metrics; "
                                      "sim/cost.py)"),
    "host_ms": ("Est. host-visible (ms)", "estimated time per call as the host sees it on a card without trace: "
                                          "the slower of total op dispatch and total device time"),
    "trace_ms": ("Est. traced (ms)", "estimated time per call replayed from a captured trace (no dispatch)"),
    "efficiency": ("Efficiency", "roofline_ms / device_ms (1 = at the roofline)"),
    "mem_eager_mb": ("Peak RSS eager (MB)", "peak resident memory of a process that builds the model and runs it "
                                            "eagerly on CPU (ru_maxrss, own subprocess)"),
    "mem_ttnn_mb": ("Peak RSS emulator (MB)", "the same for a process that compiles it with backend='ttnn' "
                                              "and runs it on the emulator"),
    "mem_ratio": ("Memory emu/eager", "mem_ttnn_mb / mem_eager_mb (target <= 1.5)"),
}

# figure: (test, text) of each target the issue sets.
TARGETS = {
    "compile_ratio": (lambda v: v < 1.0, "< 1 (faster than Inductor)"),
    "emu_ratio": (lambda v: v <= 1.5, "<= 1.5x eager CPU"),
    "overhead_us_per_op": (lambda v: v <= 5.0, "<= 5 us per op"),
    # Below 1 when some outputs never touch the device (e.g. an input handed back as is).
    "transfer_ratio": (lambda v: v <= 1.0, "<= 1 (inputs + outputs only)"),
    "mem_ratio": (lambda v: v <= 1.5, "<= 1.5x eager CPU"),
}

RATIOS = ("compile_ratio", "emu_ratio", "transfer_ratio", "efficiency", "mem_ratio")


def ratio(a, b):
    """a / b when both are finite numbers and b > 0, else None (a figure that could not be measured)."""
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or b <= 0:
        return None
    return a / b


def met(figure: str, value) -> bool | None:
    """Whether `value` meets `figure`'s target (None: no target, or no value)."""
    if figure not in TARGETS or value is None:
        return None
    return bool(TARGETS[figure][0](value))


def normalised(row: dict) -> dict:
    """A results row as the current definitions read it. Rows measured before host overhead was split per op
    and per call (no `ttnn_ops`) hold null_call_us / ttnn_calls, deallocations included, under
    `overhead_us_per_op`: that is the per-call figure, and the per-op one was not measured."""
    if "ttnn_ops" in row or "overhead_us_per_call" in row or row.get("overhead_us_per_op") is None:
        return row
    return {**row, "overhead_us_per_call": row["overhead_us_per_op"], "overhead_us_per_op": None}


def misses(row: dict) -> list[str]:
    return [f for f in TARGETS if met(f, row.get(f)) is False]
