"""A null TT-NN runtime for a compiled program: every op returns, at once, what it returned in a real call.

What a user pays on the host on top of the device is the compiled program's own Python: dynamo's guards, the
aot_autograd wrappers, the backend's per-call bookkeeping and the executor resolving each op's arguments. To
time only that, a real call first records each per-call step's result, then every per-call step's function is
swapped for a closure handing back that recorded result (an op of zero cost), and the same compiled model is
called again. Constant steps (parameter placement, folded weights) run once and are left alone. Steps that are
host torch ops (CPU fallbacks) are nulled too: they are host work, but not the dispatch being measured.
"""
from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import NamedTuple


def _programs(option) -> list:
    return [p for cg in option.compiled for p in cg.programs.values()]


class NullCalls(NamedTuple):
    calls: int      # every per-call step one run executes: ops, transfers, deallocations, host fallbacks
    ops: int        # the same without deallocations (a deallocation frees a buffer; it is not an op)

    def __str__(self):
        return f"{self.calls} calls ({self.ops} without deallocations)"


@contextlib.contextmanager
def null_runtime(option, run):
    """Within the block, `option`'s compiled programs run with null ops; yields the `NullCalls` that one
    `run()` executes. `run` is called once here, for real, to record the results the null ops hand back."""
    progs = _programs(option)
    saved = [p.steps for p in progs]
    results: dict = {}

    def recording(key, fn):
        def call(*a, **k):
            r = fn(*a, **k)
            results[key] = r
            return r
        return call

    def null(r):
        return lambda *a, **k: r

    try:
        for j, p in enumerate(progs):
            p.steps = [s if s.const else replace(s, fn=recording((j, i), s.fn)) for i, s in enumerate(p.steps)]
        run()
        for j, p in enumerate(progs):
            p.steps = [s if s.const else replace(s, fn=null(results.get((j, i)))) for i, s in enumerate(saved[j])]
        yield NullCalls(len(results), sum(1 for j, i in results if not saved[j][i].dealloc))
    finally:
        for p, steps in zip(progs, saved):
            p.steps = steps


def bare_call_s(repeats: int = 7, number: int = 200_000) -> float:
    """Seconds per call of the cheapest op a Python executor could make: a closure returning a constant, called
    with two arguments (median of `repeats` timings). The floor of per-op host dispatch in Python."""
    import statistics
    import timeit
    env = {"f": (lambda r: lambda *a, **k: r)(object()), "x": object(), "y": object()}
    return statistics.median(timeit.repeat("f(x, y)", globals=env, repeat=repeats, number=number)) / number
