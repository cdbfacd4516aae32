"""`torch-ttnn bisect MODEL`: find the first lowered op whose own output diverges from CPU (see zoo.bisect)."""
from __future__ import annotations

from ._common import add_model_arguments, quiet_libraries, require_model, select_runtime

HELP = "find the first lowered op whose output diverges from CPU beyond --threshold, and write a repro script"


def add_arguments(parser):
    add_model_arguments(parser)
    parser.add_argument("--threshold", type=float, default=0.99, help="PCC below which an op diverges")
    parser.add_argument("-o", "--repro", default=None,
                        help="repro script path (default bisect_<model>_<op>.py; inputs saved beside it)")
    parser.add_argument("--top", type=int, default=8, help="also list this many worst ops")


def _fmt_pcc(p):
    return "n/a" if p is None else f"{p:.5f}"


def run(args) -> int:
    require_model(args.model)
    quiet_libraries()
    select_runtime(args)
    from tabulate import tabulate
    from tqdm import tqdm

    from torch_ttnn import zoo
    from torch_ttnn.zoo.bisect import bisect, write_repro
    ex = zoo.build(args.model, args.size, batch=args.batch, seed=args.seed)
    r = bisect(ex, args.threshold, args.runtime,
               progress=lambda nodes: tqdm(nodes, desc="checking ops", unit="op", leave=False))
    checks = r["checks"]
    print(f"{args.model} ({args.size}): model PCC {r['model_pcc']:.5f} (threshold {args.threshold}); "
          f"{len(checks)} lowered ops checked, each on its exact CPU inputs")
    ranked = sorted([c for c in checks if c.pcc is not None], key=lambda c: c.pcc)[:args.top]
    print(tabulate([[c.graph, c.node, c.aten, c.rule, _fmt_pcc(c.pcc), f"{c.max_abs_err:.3g}",
                     _fmt_pcc(c.chain_pcc)] for c in ranked],
                   headers=["graph", "node", "ATen op", "rule", "op PCC (alone)", "max |err|",
                            "accumulated PCC"], tablefmt="simple"))
    skipped = [c for c in checks if c.pcc is None]
    if skipped:
        print(f"{len(skipped)} op(s) could not be checked alone: " +
              "; ".join(f"{c.aten} ({c.note})" for c in skipped[:3]))
    first = r["first"]
    if first is None:
        print(f"no lowered op diverges below PCC {args.threshold} on its own inputs")
        acc = r["first_accumulated"]
        if acc is not None:
            print(f"but the error accumulates: the device chain first falls below {args.threshold} at {acc.aten} "
                  f"(node {acc.node}, graph {acc.graph}, rule {acc.rule}): accumulated PCC "
                  f"{_fmt_pcc(acc.chain_pcc)}, its own PCC {_fmt_pcc(acc.pcc)}, output {list(acc.output_shape)}")
            print(tabulate([list(i) for i in acc.inputs], headers=["input", "shape", "torch dtype", "ttnn dtype",
                                                                 "ttnn layout"], tablefmt="simple"))
        return 0
    print(f"\nfirst diverging op: {first.aten} (node {first.node}, graph {first.graph}, rule {first.rule}): "
          f"PCC {_fmt_pcc(first.pcc)}, max |err| {first.max_abs_err:.4g}, output shape {list(first.output_shape)}")
    print(tabulate([list(i) for i in first.inputs], headers=["input", "shape", "torch dtype", "ttnn dtype",
                                                               "ttnn layout"], tablefmt="simple"))
    path = args.repro or f"bisect_{ex.name.replace('/', '_').replace(':', '_')}_{first.aten.replace('.', '_')}.py"
    script, data = write_repro(first, path, ex.name, r["option"], args.threshold)
    print(f"repro: {script} (inputs in {data}); run it with `python -m torch_ttnn.sim {script}`")
    return 1
