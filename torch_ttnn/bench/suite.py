"""The benchmark suite: each model's figures in its own worker processes, merged into one results file.

Per model, one process measures figures 1-5 side by side (so their ratios share the machine's state), and two
fresh processes take the peak memory of an eager run and of a compiled emulator run. Results accumulate in
`latest.json` keyed by (model, size, batch): a run replaces the rows it measured and keeps the others, so tiny
and full runs can be made separately and summarised together.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

from .. import provenance
from .figures import ratio

# Full configs `make bench` runs by default: an encoder, a decoder, a vision transformer and a convnet whose full
# configs keep the whole run within ~30 minutes on 2 cores (BERT-base alone takes ~7 minutes: two cold
# Inductor builds of a minute each, seven emulated calls of ~6 s, three processes); pick others with --models.
DEFAULT_FULL = ("bert", "gpt2", "vit", "resnet")


def _run_worker(args: list[str], timeout: float, threads: int) -> dict:
    cmd = [sys.executable, "-m", "torch_ttnn.bench.worker", *args, "--threads", str(threads)]
    env = dict(os.environ, TORCH_TTNN_RUNTIME="sim", OMP_NUM_THREADS=str(threads))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    lines = p.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (p.stderr.strip().splitlines() or [""])[-1]
        return {"error": f"worker exited with code {p.returncode}: {tail}"[:300]}


def measure_model(name: str, size: str, batch: int = 1, repeats: int = 5, compile_repeats: int = 3,
                  inductor: bool = True, memory: bool = True, timeout: float = 3600, threads: int = 1) -> dict:
    common = [name, "--size", size, "--batch", str(batch)]
    row = _run_worker(["speed", *common, "--repeats", str(repeats), "--compile-repeats", str(compile_repeats)]
                      + ([] if inductor else ["--no-inductor"]), timeout, threads)
    row.setdefault("model", name)
    row.update(size=size, batch=batch)
    notes = row.setdefault("notes", [])
    err = row.pop("error", None)
    if err:
        notes.append(err)
    if memory:
        for mode in ("eager", "ttnn"):
            res = _run_worker([f"mem-{mode}", *common], timeout, threads)
            if "peak_mb" in res:
                row[f"mem_{mode}_mb"] = res["peak_mb"]
            else:
                notes.append(f"memory ({mode}): {res.get('error')}")
        row["mem_ratio"] = ratio(row.get("mem_ttnn_mb"), row.get("mem_eager_mb"))
    row["measured_at"] = provenance.now()
    row["commit"] = provenance.git_commit() or provenance.UNKNOWN
    return row


def meta(args: dict) -> dict:
    """The run record every results file carries: when, at which commit (provenance.UNKNOWN outside a git
    checkout), with which versions, on which runtime, and the settings it was run with (`args`)."""
    import torch
    return {"date": provenance.now(), "commit": provenance.git_commit() or provenance.UNKNOWN,
            "python": platform.python_version(), "torch": torch.__version__, "machine": platform.machine(),
            "cpus": os.cpu_count(), "runtime": "emulator (torch_ttnn.sim), n150 figures", **args}


def load(path: str) -> dict:
    if not os.path.exists(path):
        return {"runs": [], "rows": []}
    with open(path) as f:
        return json.load(f)


def merge(old: dict, rows: list[dict], run_meta: dict, replace_run: bool = False) -> dict:
    """`old` with `rows` in place of its rows of the same (model, size, batch); `replace_run` updates the last
    run's record (the same run writing again after another model) instead of adding one."""
    key = lambda r: (r.get("model"), r.get("size"), r.get("batch"))  # noqa: E731
    new = {key(r) for r in rows}
    kept = [r for r in old.get("rows", []) if key(r) not in new]
    order = {"tiny": 0, "full": 1}
    merged = sorted(kept + rows, key=lambda r: (order.get(r.get("size"), 2), r.get("model") or ""))
    runs = old.get("runs", [])
    if replace_run and runs and runs[-1].get("date") and runs[-1].get("models") == run_meta.get("models"):
        runs = runs[:-1]
    return {"runs": (runs + [run_meta])[-20:], "rows": merged}


def write(results: dict, out_dir: str) -> tuple[str, str]:
    from .report import markdown
    from .figures import FIGURES, TARGETS
    os.makedirs(out_dir, exist_ok=True)
    results = dict(results, figures={k: {"label": v[0], "definition": v[1]} for k, v in FIGURES.items()},
                   targets={k: v[1] for k, v in TARGETS.items()})
    js, md = os.path.join(out_dir, "latest.json"), os.path.join(out_dir, "latest.md")
    with open(js, "w") as f:
        json.dump(results, f, indent=1, default=str)
        f.write("\n")
    with open(md, "w") as f:
        f.write(markdown(results))
    return js, md
