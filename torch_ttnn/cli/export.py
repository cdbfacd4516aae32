"""`torch-ttnn export MODEL -o script.py`: the compiled program as a plain ttnn.* script (see zoo.export)."""
from __future__ import annotations

from ._common import add_model_arguments, quiet_libraries, require_model, select_runtime, steps

HELP = ("write the compiled program as a Python script calling ttnn.* directly (parameters preprocessed once and "
        "saved beside it)")


def add_arguments(parser):
    add_model_arguments(parser)
    parser.add_argument("-o", "--output", required=True,
                        help="script path; data goes to the same name .pt, parameters to <name>_params/")
    parser.add_argument("--trace", action="store_true",
                        help="compile with TorchTtnnOption(trace=True): traceable graphs are exported traced")
    parser.add_argument("--weight-dtype", choices=("bfloat8_b", "bfloat4_b"), default=None,
                        help="matmul/linear weights stored in this block-float format (TorchTtnnOption.weight_dtype)")


def run(args) -> int:
    require_model(args.model)
    quiet_libraries()
    select_runtime(args)
    from torch_ttnn import zoo
    from torch_ttnn.zoo.export import export
    with steps(["build", "compile, run and write"], args.model) as step:
        step("build")
        ex = zoo.build(args.model, args.size, batch=args.batch, seed=args.seed)
        step("compile, run and write")
        options = {"trace": args.trace, "weight_dtype": args.weight_dtype}
        r = export(ex, args.output, args.runtime, options)
    n_ops = sum(g.uses for g in r["graphs"])
    traced = sum(g.traced for g in r["graphs"])
    print(f"wrote {r['script']} ({len(r['graphs'])} graph(s){f', {traced} traced' if traced else ''}, "
          f"{len(r['calls'])} call(s), {n_ops} per-call calls), {r['n_params']} preprocessed parameters in "
          f"{r['params']}/, and {r['data']}")
    print(f"run it: python -m torch_ttnn.sim {r['script']}   (or python {r['script']} with the real ttnn)")
    return 0
