"""One model, compiled and run, reduced to one row of numbers: what `torch-ttnn run` prints and `zoo` tabulates.

The counting itself is the compiler's (its run record per compiled graph, `TorchTtnnOption.metrics`); this
module only adds the wall-clock timings around it, the accuracy of the model's judged output, and sums the
graphs of one model. `METRICS` is the one place the columns are defined: the CLI, the report legend and the
README read it.
"""
from __future__ import annotations

import collections
import contextlib
import statistics
import time
import traceback
from dataclasses import dataclass
from typing import Callable

import torch

METRICS = {  # column: (short label, definition)
    "model": ("Model", "zoo name, or the user reference `module:function` / `file.py:function`"),
    "checkpoint": ("Config of", "the published checkpoint whose hyper-parameters the full config reproduces "
                                "(weights are seeded random)"),
    "size": ("Size", "tiny (test config) or full (the family's smallest published size)"),
    "batch": ("Batch", "batch size of the example input"),
    "params": ("Params", "parameter count of the built model"),
    "status": ("Status", "pass: runs with nothing left on CPU and PCC >= 0.99; cpu-ops: some ATen ops still "
                         "run on CPU; low-pcc: PCC below 0.99; failed: an exception (see error); skipped: over the "
                         "memory budget (--max-gib)"),
    "graphs": ("Graphs", "compiled FX graphs (1 + graph breaks); Python between graphs is not counted as ops"),
    "aten_ops": ("ATen ops", "ATen ops in the compiled graphs after the compiler's decompositions"),
    "device_ops": ("Ops on device", "ATen ops of the compiled graphs lowered to TT-NN (a lowering rule "
                                    "applied)"),
    "cpu_ops": ("Ops on CPU", "ops left on CPU: ATen ops in the compiled graphs that no lowering rule took, run "
                              "by torch on the host every call (by name in fallbacks)"),
    "fallbacks": ("CPU ops by name", "ops left on CPU, by ATen op name and count"),
    "h2d": ("To device /call", "host-to-device transfers per steady-state call (ttnn.from_torch of a graph "
                               "input, or of a CPU op's result a device op needs); parameters placed once are "
                               "not counted"),
    "d2h": ("From device /call", "device-to-host transfers per steady-state call (ttnn.to_torch of outputs "
                                 "and of CPU ops' inputs)"),
    "compile_s": ("Compile (s)", "seconds the compiler spent tracing and lowering (its own figure, summed "
                                 "over graphs)"),
    "first_call_s": ("First call (s)", "wall seconds of the first compiled call (dynamo and aot tracing, "
                                       "lowering, parameter placement, first run)"),
    "cpu_ms": ("CPU eager (ms)", "eager PyTorch float32 on the host, wall ms per call: median of up to 5 calls "
                                 "after a warm-up call, torch pinned to the same thread count as the run"),
    "run_ms": ("Run (ms)", "the compiled program on the active runtime, wall ms per call: median of up to 5 "
                           "calls after the first (compiling) and a warm-up call, same thread count: emulation "
                           "time on the emulator, real time on a card"),
    "timing": ("Timing", "how the times were taken: torch threads, calls timed per figure"),
    "device_ms": ("Est. device (ms)", "estimated device time per call from the emulator's per-op cost model "
                                      "(roofline of FLOPs, bytes moved and SFPU work per op, summed)"),
    "pcc": ("PCC", "Pearson correlation of the model's judged output tensor (e.g. logits, last_hidden_state) "
                   "from the compiled run against eager PyTorch float32 on CPU, same weights and inputs"),
    "error": ("Error", "for failed rows: the stage (build/reference/compile/run) and the exception; for "
                       "skipped rows: why"),
}
PCC_THRESHOLD = 0.99
COLUMNS = list(METRICS)


def _merge_graphs(records: list[dict]) -> dict:
    fb = collections.Counter()
    for r in records:
        fb.update(r.get("fallbacks", {}))
    total = lambda k: sum(r.get(k) or 0 for r in records)  # noqa: E731
    return {"graphs": len(records), "aten_ops": total("aten_ops"), "device_ops": total("device_ops"),
            "cpu_ops": total("cpu_ops"), "fallbacks": dict(fb), "h2d": total("h2d_per_call"),
            "d2h": total("d2h_per_call"), "compile_s": total("compile_s"),
            "device_ms": total("device_time_ms"), "host_ms": total("host_time_ms"),
            "trace_ms": total("trace_time_ms")}


def status_of(row: dict, threshold: float = PCC_THRESHOLD) -> str:
    if row.get("error"):
        return "failed"
    if row.get("cpu_ops"):
        return "cpu-ops"
    if row.get("pcc") is None or row["pcc"] < threshold:
        return "low-pcc"
    return "pass"


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


@dataclass
class Timing:
    median_s: float
    runs: int


def _median(fn, runs: int = 5, budget_s: float = 3.0):
    """Median of up to `runs` calls after one warm-up call (stopping once `budget_s` is spent), as the bench
    measures: the machines are shared, and a median is stable where a single run is not (the same tiny BERT
    read 204, 88 and 2.3 ms as single runs)."""
    out = fn()                      # warm-up: caches, allocator, lazily built kernels
    times = []
    while len(times) < runs and sum(times) < budget_s:
        out, t = _timed(fn)
        times.append(t)
    return out, Timing(statistics.median(times), len(times))


@contextlib.contextmanager
def pinned_threads(n: int):
    """torch's intra-op threads pinned to `n` for the timings (eager and compiled alike), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def measure(name: str, size: str = "tiny", batch: int = 1, seed: int = 0, runtime: str | None = None,
            threshold: float = PCC_THRESHOLD, step: Callable[[str], None] | None = None,
            options: dict | None = None, threads: int = 1) -> dict:
    """Build, run on CPU, compile with backend="ttnn", run twice; return the row. Never raises for the model's
    own failures: they become `status="failed"` with `error` saying at which stage and why."""
    from .. import compiler, zoo
    from ..accuracy import pcc

    step = step or (lambda s: None)
    spec = zoo.REGISTRY.get(name.lower())
    row = {k: None for k in COLUMNS}
    row.update(model=name, size=size, batch=batch, checkpoint=spec.full if spec else name, error="")
    stage = "build"
    try:
        step("build")
        ex = zoo.build(name, size, batch=batch, seed=seed)
        row["params"] = sum(p.numel() for p in ex.model.parameters())
        # one thread count for everything timed, compile included: dynamo guards on torch's thread count, so
        # a call under another count would recompile
        with pinned_threads(threads):
            stage = "reference"
            step("CPU reference")
            ref, t = _median(ex.run)
            row["cpu_ms"] = t.median_s * 1e3
            stage = "compile"
            step("compile + first call")
            torch._dynamo.reset()
            option = compiler.TorchTtnnOption(runtime=runtime, **{"verbose": False, **(options or {})})
            compiled = torch.compile(ex.model, backend=compiler.backend, options=option)
            got, row["first_call_s"] = _timed(lambda: ex.run(compiled))
            stage = "run"
            step("steady-state call")
            got, t2 = _median(lambda: ex.run(compiled))
        row["run_ms"] = t2.median_s * 1e3
        row["timing"] = f"{threads} thread(s); median of {t.runs} (CPU) and {t2.runs} (run) calls after a warm-up"
        row.update(_merge_graphs(option.metrics))
        row["pcc"] = pcc(ref.float(), got.float())
    except Exception as e:  # the row records it; the caller's loop goes on
        row["error"] = f"{stage}: {type(e).__name__}: {str(e).strip()}"
        row["traceback"] = traceback.format_exc(limit=-6)
    row["status"] = status_of(row, threshold)
    return row
