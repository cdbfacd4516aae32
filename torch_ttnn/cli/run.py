"""`torch-ttnn run MODEL`: compile one model, run it, print its metrics (definitions: torch_ttnn.zoo.measure)."""
from __future__ import annotations

import json

from ._common import add_model_arguments, quiet_libraries, require_model, select_runtime, steps

HELP = "compile and run one model (zoo name or your own) and print its metrics summary"


def add_arguments(parser):
    add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the row as JSON instead of a table")


def summary(row: dict) -> str:
    from tabulate import tabulate
    from torch_ttnn.zoo.measure import METRICS
    from torch_ttnn.zoo.report import _fmt
    shown = [k for k in METRICS if k not in ("fallbacks", "error") and row.get(k) not in (None, "")]
    lines = [tabulate([[METRICS[k][0], _fmt(k, row[k])] for k in shown], tablefmt="simple",
                      disable_numparse=True)]
    if row.get("fallbacks"):
        lines.append("ops left on CPU: " + ", ".join(f"{k} x{v}" for k, v in sorted(row["fallbacks"].items())))
    if row.get("error"):
        lines.append(f"error: {row['error']}")
    return "\n".join(lines)


def run(args) -> int:
    require_model(args.model)
    quiet_libraries()
    select_runtime(args)
    from torch_ttnn import runtime
    from torch_ttnn.zoo.measure import measure
    with steps(["build", "CPU reference", "compile + first call", "steady-state call"], args.model) as step:
        row = measure(args.model, args.size, batch=args.batch, seed=args.seed, runtime=args.runtime, step=step)
    if args.json:
        print(json.dumps({k: v for k, v in row.items() if k != "traceback"}, indent=1, default=str))
    else:
        print(f"{args.model} ({args.size}, batch {args.batch}); runtime: {runtime.reason()}")
        print(summary(row))
    return 1 if row.get("error") else 0
