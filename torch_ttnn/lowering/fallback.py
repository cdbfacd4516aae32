"""What both paths say when ATen ops run on the CPU: one warning class, and the compiler's per-graph report.

Never silent: the eager device warns once per op (device/dispatch.py), the compiler once per compiled graph
that has CPU work, naming every op, how many times it appears and why it is not lowered (no rule, a guard
that refused with the condition that failed, a guard or rule that crashed with the exception). Both go to
Python's `warnings` (shown once by default, filterable by class) and to the `torch_ttnn` logger.
"""
from __future__ import annotations


class TtnnFallbackWarning(UserWarning):
    """ATen ops run on the CPU instead of TT-NN (the eager device: once per op; the compiler: once per graph)."""


def graph_report(index: int, fallbacks: dict, reasons: dict) -> str:
    """The one-message report of a compiled graph's CPU ops, most frequent first."""
    n = sum(fallbacks.values())
    lines = [f"torch-ttnn: compiled graph {index} runs {n} ATen op(s) on the CPU ({len(fallbacks)} kind(s)); "
             f"each copies its inputs to the host and its result back on every call:"]
    for name, count in sorted(fallbacks.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {name} x{count}: {reasons.get(name, 'no lowering rule for this op')}")
    lines.append("The same is in option.metrics[...]['fallback_reasons']; TORCH_LOGS=torch_ttnn logs every "
                 "graph's lowering.")
    return "\n".join(lines)
