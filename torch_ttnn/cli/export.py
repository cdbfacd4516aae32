"""`torch-ttnn export MODEL -o script.py`: the compiled program as a plain ttnn.* script (see zoo.export)."""
from __future__ import annotations

from ._common import add_model_arguments, quiet_libraries, require_model, select_runtime, steps

HELP = "write the compiled program as a Python script calling ttnn.* directly (data saved beside it)"


def add_arguments(parser):
    add_model_arguments(parser)
    parser.add_argument("-o", "--output", required=True, help="script path; data goes to the same name .pt")


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
        r = export(ex, args.output, args.runtime)
    n_ops = sum(1 for c in r["calls"] for n in c.lowered.graph.nodes if n.op == "call_function")
    print(f"wrote {r['script']} ({len(r['calls'])} graph call(s), {n_ops} calls) and {r['data']}")
    print(f"run it: python -m torch_ttnn.sim {r['script']}   (or python {r['script']} with the real ttnn)")
    return 0
