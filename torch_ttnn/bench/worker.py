"""One model's figures, measured in one process: `python -m torch_ttnn.bench.worker speed|mem-eager|mem-ttnn MODEL`.

`speed` measures figures 1-5 side by side (eager, backend="ttnn" on the emulator, backend="inductor"); the
memory peaks are taken by `mem-*`, each in a fresh process, because a process's peak RSS only ever grows.
The last stdout line is the JSON result. Failures are returned as notes in the row, never raised.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import resource
import statistics
import sys
import time
import traceback

import torch

from .figures import ratio
from .nullrt import bare_call_s, null_runtime


def _t(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _err(stage: str, e: Exception) -> str:
    msg = (str(e).strip().splitlines() or [""])[0]
    return f"{stage}: {type(e).__name__}: {msg}"[:300]


def count_tensors(x, _seen=None, _depth=0) -> int:
    """Distinct tensors reachable from a model's output (ModelOutput fields, tuples, caches' key/value lists)."""
    _seen = set() if _seen is None else _seen
    if isinstance(x, torch.Tensor):
        if id(x) in _seen:
            return 0
        _seen.add(id(x))
        return 1
    if id(x) in _seen or _depth > 6 or x is None or isinstance(x, (str, bytes, int, float, bool)):
        return 0
    _seen.add(id(x))
    if isinstance(x, dict):
        items = x.values()
    elif isinstance(x, (list, tuple)):
        items = x
    elif hasattr(x, "__dict__"):
        items = vars(x).values()
    else:
        return 0
    return sum(count_tensors(v, _seen, _depth + 1) for v in items)


def _device_bytes(t: torch.Tensor) -> int:
    """Bytes of `t` in the device format the compiler uses: bfloat16 floats, 32-bit integers."""
    return t.numel() * (2 if t.is_floating_point() else 4)


def roofline_s(ex, flops: float, out, device) -> tuple[float | None, float]:
    """(seconds, bytes) of the roofline bound on the emulated card: FLOPs at its peak matrix rate (LoFi, one
    pass) or the weights, inputs and outputs read/written once at DRAM bandwidth, whichever is longer."""
    from ..sim import cost
    spec = getattr(device, "spec", None)
    per_cycle = cost.FPU_FLOP_PER_CYCLE
    params = {id(p): p for p in ex.model.parameters()}
    nbytes = sum(_device_bytes(p) for p in params.values())
    nbytes += sum(_device_bytes(t) for t in ex.inputs())
    nbytes += _device_bytes(ex.output(out))
    if spec is None or not per_cycle:
        return None, nbytes
    peak = spec.num_cores * per_cycle * spec.clock_hz
    return max(flops / peak, nbytes / spec.dram_bw), nbytes


def _release(option) -> None:
    """Free the device copies of the parameters a compiled model holds (repeats would pile them up)."""
    if option is None:
        return
    for cg in option.compiled:
        for p in cg.programs.values():
            p.release()


@contextlib.contextmanager
def _cold_inductor():
    from torch._inductor.utils import fresh_cache
    with fresh_cache():
        yield


def warm_up(inductor: bool) -> None:
    """Compile and run a small MLP once per backend: one-time process costs (imports, dynamo and Inductor
    initialisation, the C++ toolchain probe; Inductor from its persistent cache) stay out of the figures."""
    from .. import compiler
    mlp = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.GELU(), torch.nn.Linear(32, 32)).eval()
    x = torch.randn(32, 32)
    backends = [(compiler.backend, {"options": compiler.TorchTtnnOption(runtime="sim", verbose=False)})]
    if inductor:
        backends.append(("inductor", {}))
    for backend, kw in backends:
        torch._dynamo.reset()
        with torch.no_grad():
            torch.compile(mlp, backend=backend, **kw)(x)
    torch._dynamo.reset()


def speed(name: str, size: str = "tiny", batch: int = 1, seed: int = 0, repeats: int = 5,
          compile_repeats: int = 3, inductor: bool = True) -> dict:
    from .. import compiler, zoo
    from ..accuracy import pcc
    from ..zoo.measure import _merge_graphs
    row = {"model": name, "size": size, "batch": batch, "notes": []}
    try:
        ex = zoo.build(name, size, batch=batch, seed=seed)
        row["params"] = sum(p.numel() for p in ex.model.parameters())
        from torch.utils.flop_counter import FlopCounterMode
        ref = ex.run()
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            out = ex.model(*ex.args, **ex.kwargs)
        flops = fc.get_total_flops()
        row["gflop"] = flops / 1e9
        row["min_transfers"] = len(ex.inputs()) + count_tensors(out)
    except Exception as e:
        row["notes"].append(_err("build", e))
        return row

    def steady(compiled):
        """(median compiled s, median eager s): calls interleaved so that drift hits both alike."""
        for _ in range(2):
            ex.run(compiled)
        ts, te = [], []
        for _ in range(repeats):
            ts.append(_t(lambda: ex.run(compiled)))
            te.append(_t(ex.run))
        return statistics.median(ts), statistics.median(te)

    warm_up(inductor)
    # --- backend="ttnn" on the emulator: compile repeats, then steady state, null runtime, metrics ---------
    firsts, option = [], None
    try:
        for r in range(compile_repeats):
            _release(option)
            torch._dynamo.reset()
            gc.collect()
            option = compiler.TorchTtnnOption(runtime="sim", verbose=False)
            compiled = torch.compile(ex.model, backend=compiler.backend, options=option)
            firsts.append(_t(lambda: ex.run(compiled)))
        got = ex.run(compiled)
        row["pcc"] = pcc(ref.float(), got.float())
        emu_s, eager_s = steady(compiled)
        merged = _merge_graphs(option.metrics)
        row.update(graphs=merged["graphs"], cpu_ops=merged["cpu_ops"], fallbacks=merged["fallbacks"],
                   h2d=merged["h2d"], d2h=merged["d2h"], transfers=merged["h2d"] + merged["d2h"],
                   device_ms=merged["device_ms"], host_ms=merged["host_ms"], trace_ms=merged["trace_ms"],
                   ttnn_own_compile_s=merged["compile_s"] / compile_repeats)
        row.update(emu_ms=emu_s * 1e3, eager_ms=eager_s * 1e3, emu_ratio=ratio(emu_s, eager_s),
                   compile_ttnn_s=max(statistics.median(firsts) - emu_s, 0.0))
        row["transfer_ratio"] = ratio(row["transfers"], row["min_transfers"])
        bound, nbytes = roofline_s(ex, flops, out, option.device)
        row["roofline_bytes"] = nbytes
        if bound is not None:
            row["roofline_ms"] = bound * 1e3
            row["efficiency"] = ratio(row["roofline_ms"], row["device_ms"])
        with null_runtime(option, lambda: ex.run(compiled)) as calls:
            for _ in range(3):
                ex.run(compiled)
            null = statistics.median(_t(lambda: ex.run(compiled)) for _ in range(max(repeats, 20)))
        row.update(ttnn_calls=calls.calls, ttnn_ops=calls.ops, null_call_us=null * 1e6,
                   bare_call_us=bare_call_s() * 1e6, overhead_us_per_op=ratio(null * 1e6, calls.ops),
                   overhead_us_per_call=ratio(null * 1e6, calls.calls))
    except Exception as e:
        row["notes"].append(_err("ttnn", e))
        row["traceback"] = traceback.format_exc(limit=-8)
    finally:
        _release(option)
        option = compiled = None
        torch._dynamo.reset()
        gc.collect()

    # --- backend="inductor", cold cache every repeat ---------------------------------------------------
    if inductor:
        firsts = []
        try:
            for r in range(compile_repeats):
                torch._dynamo.reset()
                with _cold_inductor():
                    compiled = torch.compile(ex.model, backend="inductor")
                    firsts.append(_t(lambda: ex.run(compiled)))
                    if r == compile_repeats - 1:
                        ind_s, _ = steady(compiled)
            row["inductor_ms"] = ind_s * 1e3
            row["compile_inductor_s"] = max(statistics.median(firsts) - ind_s, 0.0)
        except Exception as e:
            row["notes"].append(_err("inductor", e))
        finally:
            compiled = None
            torch._dynamo.reset()
    row["compile_ratio"] = ratio(row.get("compile_ttnn_s"), row.get("compile_inductor_s"))
    return row


def memory(name: str, mode: str, size: str = "tiny", batch: int = 1, seed: int = 0, calls: int = 3) -> dict:
    """Peak RSS (MB) of this process after building `name` and running it `calls` times eagerly (mode "eager")
    or compiled with backend="ttnn" on the emulator (mode "ttnn"). Run it in a fresh process."""
    from .. import compiler, zoo
    ex = zoo.build(name, size, batch=batch, seed=seed)
    model = ex.model
    if mode == "ttnn":
        model = torch.compile(ex.model, backend=compiler.backend,
                              options=compiler.TorchTtnnOption(runtime="sim", verbose=False))
    elif mode != "eager":
        raise ValueError(f"memory mode must be 'eager' or 'ttnn', got {mode!r}")
    for _ in range(calls):
        ex.run(model)
    return {"model": name, "mode": mode, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m torch_ttnn.bench.worker")
    p.add_argument("what", choices=("speed", "mem-eager", "mem-ttnn"))
    p.add_argument("model")
    p.add_argument("--size", default="tiny")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--compile-repeats", type=int, default=3)
    p.add_argument("--no-inductor", action="store_true")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (1: stable timings on a shared machine; both sides use the same)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    from ..zoo.quiet import quiet_libraries
    quiet_libraries()
    try:
        if a.what == "speed":
            res = speed(a.model, a.size, a.batch, a.seed, a.repeats, a.compile_repeats, not a.no_inductor)
        else:
            res = memory(a.model, a.what[4:], a.size, a.batch, a.seed)
    except Exception as e:
        res = {"model": a.model, "error": _err(a.what, e)}
    print("\n" + json.dumps(res, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
