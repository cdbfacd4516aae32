"""`torch-ttnn zoo`: every zoo model compiled and run, one row each, as Markdown, CSV, JSON and PNG plots.

A model that fails (an exception, a crash, a timeout) becomes a failed row with its error; the run goes on.
With `--jobs N` each model runs in its own process (N at a time), so even a crash or an out-of-memory kill
stays in its row. Column definitions: torch_ttnn.zoo.measure.METRICS (also written under the table).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

HELP = "run every zoo model (or --models a,b) and write the table (md/csv/json) and plots; --readme updates it"


def add_arguments(parser):
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--models", default="", help="comma-separated subset (zoo names or your own references)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="models measured at once, each in its own process (1: in this process)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per model in its own process")
    parser.add_argument("--isolate", action="store_true", help="one process per model even with --jobs 1")
    parser.add_argument("--max-gib", type=float, default=None,
                        help="skip (as a row saying so) models whose weights on host and device would need more "
                             "than this many GiB (estimated from the parameter count, without building them)")
    parser.add_argument("--out", default="zoo-results", help="directory for results.{md,csv,json} and plots")
    parser.add_argument("--runtime", choices=("auto", "sim", "ttnn"), default=None)
    parser.add_argument("--readme", nargs="?", const="README.md", default=None, metavar="PATH",
                        help="also rewrite the model table between the zoo markers of PATH (default README.md)")
    parser.add_argument("--from", dest="from_json", default=None, metavar="RESULTS_JSON",
                        help="do not measure: re-render the reports (and --readme) from a results.json")
    parser.add_argument("--list", action="store_true", help="list the zoo models and their checkpoints, then exit")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads while timing (1, as the bench: stable on a shared machine)")


def needed_gib(name: str, size: str) -> float | None:
    """Host weights + their device copy + a working margin, from a meta-device build (no memory used)."""
    import torch

    from torch_ttnn import zoo
    if name.lower() not in zoo.REGISTRY:
        return None
    ex = zoo.build(name, size, meta=True)
    weights = sum(p.numel() * p.element_size() for p in ex.model.parameters())
    device_copy = sum(p.numel() for p in ex.model.parameters()) * 2          # bfloat16 on the device
    del ex
    torch._dynamo.reset()
    return (weights + device_copy) * 1.5 / 2**30


def _failed_row(name, args, error, status="failed"):
    from torch_ttnn import zoo
    from torch_ttnn.zoo.measure import COLUMNS
    spec = zoo.REGISTRY.get(name.lower())
    row = {k: None for k in COLUMNS}
    row.update(model=name, size=args.size, batch=args.batch, checkpoint=spec.full if spec else name,
               status=status, error=error)
    return row


def _in_subprocess(name, args):
    cmd = [sys.executable, "-m", "torch_ttnn.zoo", name, "--size", args.size, "--batch", str(args.batch),
           "--threads", str(args.threads)]
    if args.runtime:
        cmd += ["--runtime", args.runtime]
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // max(1, args.jobs))))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
    except subprocess.TimeoutExpired:
        return _failed_row(name, args, f"timeout: no result after {args.timeout:.0f} s")
    last = p.stdout.strip().splitlines()[-1:] or [""]
    try:
        return json.loads(last[0])
    except json.JSONDecodeError:
        tail = "\n".join(p.stderr.strip().splitlines()[-20:]) or f"exit code {p.returncode}"
        return _failed_row(name, args, f"crash: process exited with code {p.returncode}: {tail}")


def measure_all(names, args, progress=True) -> list[dict]:
    from tqdm import tqdm
    from torch_ttnn.zoo.measure import measure
    rows = {}
    if args.max_gib:
        for name in names:
            gib = needed_gib(name, args.size)
            if gib is not None and gib > args.max_gib:
                rows[name] = _failed_row(name, args, f"skipped: needs about {gib:.0f} GiB (weights on host and "
                                                     f"device, plus half again to work in), over --max-gib "
                                                     f"{args.max_gib:g}", "skipped")
        names_left = [n for n in names if n not in rows]
    else:
        names_left = list(names)
    bar = tqdm(total=len(names_left), desc=f"zoo ({args.size})", unit="model", disable=not progress,
               dynamic_ncols=True)
    if args.jobs <= 1 and not args.isolate:
        for name in names_left:
            bar.set_postfix_str(name)
            rows[name] = measure(name, args.size, batch=args.batch, runtime=args.runtime, threads=args.threads)
            bar.update(1)
    else:
        from concurrent.futures import ThreadPoolExecutor, as_completed
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            futures = {pool.submit(_in_subprocess, n, args): n for n in names_left}
            for f in as_completed(futures):
                rows[futures[f]] = f.result()
                bar.set_postfix_str(futures[f])
                bar.update(1)
    bar.close()
    return [rows[n] for n in names]


def run(args) -> int:
    from ._common import is_zoo_name, quiet_libraries, require, select_runtime
    asked = [n.strip() for n in args.models.split(",") if n.strip()]
    if not args.from_json and (not asked or any(is_zoo_name(n) for n in asked)):
        require("zoo", "transformers", what="torch-ttnn zoo")
    require("zoo", "matplotlib", what="torch-ttnn zoo's plots")
    quiet_libraries()
    from torch_ttnn import zoo
    from torch_ttnn.zoo import report
    if args.list:
        for name in zoo.names():
            s = zoo.get(name)
            print(f"{name:14s} {s.task:22s} full = {s.full} ({s.params / 1e6:.1f}M params)")
        return 0
    select_runtime(args)
    names = asked or zoo.names()
    unknown = [n for n in names if is_zoo_name(n) and n.lower() not in zoo.REGISTRY]
    if unknown and not args.from_json:
        for n in unknown:
            print(f"torch-ttnn zoo: {_unknown(zoo, n)}", file=sys.stderr)
        return 2
    t = time.perf_counter()
    if args.from_json:
        rows = report.read_results(args.from_json)
        if args.models:
            rows = [r for r in rows if r["model"] in names]
        info = report.rendered_info(report.read_run(args.from_json), args.from_json, _command(args))
    else:
        rows = measure_all(names, args)
        info = report.run_info({"size": args.size, "batch": args.batch, "threads": args.threads,
                                "seconds": round(time.perf_counter() - t), "command": _command(args)})
    paths = report.write_all(rows, args.out, args.size, info)
    print(report.markdown(rows, note=report.provenance_line(info)))
    n_pass = sum(r["status"] == "pass" for r in rows)
    print(f"{n_pass}/{len(rows)} pass in {time.perf_counter() - t:.0f} s; wrote " + ", ".join(paths.values()))
    if args.readme:
        from torch_ttnn.bench.readme import mesh_matrix, zoo_section   # the mesh column, from its results
        report.update_readme(args.readme, zoo_section(report.readme_section(rows, args.size, info), mesh_matrix()))
        print(f"updated the model table in {args.readme}")
    failed = [r["model"] for r in rows if r["status"] == "failed"]
    if failed:
        print(f"torch-ttnn zoo: {len(failed)} model(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _command(args) -> str:
    """The command line that made (or, with --from, re-rendered) a report, for its provenance line."""
    parts = ["torch-ttnn zoo", f"--size {args.size}"]
    if args.batch != 1:
        parts.append(f"--batch {args.batch}")
    if args.models:
        parts.append(f"--models {args.models}")
    if args.max_gib:
        parts.append(f"--max-gib {args.max_gib:g}")
    if args.from_json:
        parts.append(f"--from {args.from_json}")
    return " ".join(parts)


def _unknown(zoo, name: str) -> str:
    try:
        zoo.get(name)
    except KeyError as e:
        return str(e)
    return ""
