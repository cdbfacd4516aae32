"""`torch-ttnn bench`: the benchmark suite over zoo models, written to benchmarks/results/latest.{json,md}.

Each model runs in its own worker processes (figures 1-5 in one, each memory peak in a fresh one); a model
that fails or times out keeps its row with a note. Definitions and targets: torch_ttnn.bench.figures.
"""
from __future__ import annotations

import time

HELP = "benchmark compile time, emulator speed, host overhead, transfers, roofline and memory (see --help)"


def add_arguments(parser):
    parser.add_argument("--size", choices=("tiny", "full"), default="full")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--models", default="", help="comma-separated zoo names (default: every zoo model for "
                                                     "tiny, torch_ttnn.bench.suite.DEFAULT_FULL for full)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steady-state calls per figure")
    parser.add_argument("--compile-repeats", type=int, default=None,
                        help="compilations per backend after a warm-up (default 3 for tiny, 2 for full)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in the workers (1 keeps timings stable on a shared machine)")
    parser.add_argument("--no-inductor", action="store_true", help="skip the Inductor comparison")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per worker process")
    parser.add_argument("--out", default="benchmarks/results", help="directory of latest.json and latest.md")
    parser.add_argument("--fresh", action="store_true", help="drop the rows of earlier runs from latest.json")
    parser.add_argument("--mesh", default="", metavar="RxC",
                        help="instead of the suite: data-parallel throughput on emulated meshes of 1, 2, 4, .. "
                             "up to RxC chips (e.g. 2x4), plotted as mesh_scaling_RxC.png in --out; --models "
                             "defaults to bert,llama and --batch is the batch per chip")


def run(args) -> int:
    from ._common import require
    require("zoo", "transformers", what="torch-ttnn bench (it measures zoo models)")
    if args.mesh:
        return _run_mesh(args)
    from tqdm import tqdm
    from torch_ttnn import zoo
    from torch_ttnn.bench import suite
    from torch_ttnn.bench.figures import misses
    from torch_ttnn.bench.report import table
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    names = names or (zoo.names() if args.size == "tiny" else list(suite.DEFAULT_FULL))
    for n in names:     # an unknown name fails now, not after an hour of benchmarks
        if not any(c in n for c in ".:/"):
            zoo.get(n)
    if args.compile_repeats is None:
        args.compile_repeats = 3 if args.size == "tiny" else 2
    t0 = time.perf_counter()
    commit = suite.meta({})["commit"]   # the code that runs: HEAD may move during a long run
    settings = {"size": args.size, "batch": args.batch, "models": names, "repeats": args.repeats,
                "compile_repeats": args.compile_repeats, "threads": args.threads}
    old = {"runs": [], "rows": []} if args.fresh else suite.load(f"{args.out}/latest.json")
    rows = []
    bar = tqdm(names, desc=f"bench ({args.size})", unit="model", dynamic_ncols=True)
    for name in bar:
        bar.set_postfix_str(name)
        rows.append(suite.measure_model(name, args.size, args.batch, args.repeats, args.compile_repeats,
                                        not args.no_inductor, not args.no_memory, args.timeout, args.threads))
        # Written after every model, merged with what another run may have written meanwhile: an interrupted
        # run keeps the rows it measured.
        latest = old if args.fresh else suite.load(f"{args.out}/latest.json")
        # dated when written (report.run_of pairs rows with the run that ended after them)
        run_meta = {**suite.meta({**settings, "seconds": round(time.perf_counter() - t0)}), "commit": commit}
        paths = suite.write(suite.merge(latest, rows, run_meta, replace_run=len(rows) > 1), args.out)
    bar.close()
    print(table(rows))
    n_miss = sum(bool(misses(r)) for r in rows)
    print(f"{len(rows) - n_miss}/{len(rows)} models meet every target; {time.perf_counter() - t0:.0f} s; "
          f"wrote {', '.join(paths)}")
    return 0


def _run_mesh(args) -> int:
    """`--mesh RxC`: torch_ttnn.bench.mesh_scaling."""
    from torch_ttnn import zoo
    from torch_ttnn.bench import mesh_scaling
    mesh_scaling.parse_mesh(args.mesh)       # a bad shape fails before any model is built
    names = [n.strip() for n in args.models.split(",") if n.strip()] or ["bert", "llama"]
    for n in names:
        zoo.get(n)
    t0 = time.perf_counter()
    points, paths = mesh_scaling.run(names, args.size, args.mesh, args.batch, args.out)
    print(mesh_scaling.table(points))
    print(f"{time.perf_counter() - t0:.0f} s; wrote {', '.join(paths)}")
    return 0
