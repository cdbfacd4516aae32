"""`torch-ttnn graph MODEL -o out.svg`: the lowered graph as a picture (SVG, PNG) or as DOT source (.dot).

Node colours are the compiler's (its `to_dot`): TT-NN ops green, transfers blue, CPU ops red. Pictures come
from graphviz's `dot` when installed; without it, a layered drawing is made with networkx and matplotlib (the
`plots` extra). The output path is checked before the model is built and compiled.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from ._common import add_model_arguments, quiet_libraries, require_model, select_runtime, steps

HELP = "draw the lowered graph(s) of a model as SVG or PNG (or DOT source with -o x.dot)"
FORMATS = (".svg", ".png", ".dot")


def add_arguments(parser):
    add_model_arguments(parser, batch=False)
    parser.add_argument("-o", "--output", required=True, help="out.svg, out.png or out.dot (one file per extra "
                                                               "graph: out_1.svg, ...)")
    parser.add_argument("--mesh", default="", metavar="RxC",
                        help="compile data parallel on an emulated RxC mesh (batch = its chips): the transfers "
                             "show how each value is placed (split over the chips, replicated, gathered)")


def check_output(path: str) -> None:
    """Fail before any work: a known extension, a directory that exists (or can be made) and is writable, and
    what drawing needs (graphviz's `dot`, or matplotlib)."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise SystemExit(f"torch-ttnn graph: the output must end in {', '.join(FORMATS)}; got {path!r}")
    parent = os.path.dirname(os.path.abspath(path))
    existing = parent
    while not os.path.isdir(existing):
        if os.path.exists(existing):
            raise SystemExit(f"torch-ttnn graph: cannot write {path!r}: {existing!r} is a file, not a directory")
        existing = os.path.dirname(existing)
    if not os.access(existing, os.W_OK):
        raise SystemExit(f"torch-ttnn graph: cannot write {path!r}: {existing!r} is not writable")
    if ext != ".dot" and not shutil.which("dot"):
        from ._common import require
        require("plots", "matplotlib", what=f"drawing {ext} without graphviz's `dot` program")


def _layered(graph, path: str, fmt: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    from torch_ttnn.compiler.graphviz import _label
    g = nx.DiGraph()
    colors = {}
    for n in graph.nodes:
        if n.meta.get("ttnn_name") == "deallocate":
            continue
        g.add_node(n.name)
        colors[n.name] = "#ff9999" if n.meta.get("fallback") else "#9ecbff" if n.meta.get("transfer") else \
            "#dddddd" if n.op in ("placeholder", "output") else "#c8f7c5"
        for a in n.all_input_nodes:
            g.add_edge(a.name, n.name)
    labels = {n.name: _label(n) for n in graph.nodes if n.name in g}
    for layer, nodes in enumerate(nx.topological_generations(g)):
        for v in nodes:
            g.nodes[v]["layer"] = layer
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal")
    pos = {k: (x, -y) for k, (y, x) in pos.items()}          # layers top to bottom
    depth = 1 + max(nx.get_node_attributes(g, "layer").values(), default=0)
    width = max(len(v) for v in nx.topological_generations(g)) if len(g) else 1
    fig, ax = plt.subplots(figsize=(min(60, max(6, 1.8 * width)), min(200, max(4, 0.55 * depth))))
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, arrowsize=6, width=0.5, edge_color="#888888")
    for v, (x, y) in pos.items():
        ax.text(x, y, labels[v], ha="center", va="center", fontsize=6,
                bbox=dict(boxstyle="round,pad=0.2", fc=colors[v], ec="#555555", lw=0.4))
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=150)
    plt.close(fig)


def write(graph, path: str) -> str:
    from torch_ttnn.compiler.graphviz import to_dot
    base, ext = os.path.splitext(path)
    ext = ext.lower()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if ext == ".dot":
        with open(path, "w") as f:
            f.write(to_dot(graph, os.path.basename(base)))
    elif ext in (".svg", ".png"):
        exe = shutil.which("dot")
        if exe:
            subprocess.run([exe, f"-T{ext[1:]}", "-o", path], input=to_dot(graph).encode(), check=True)
        else:
            _layered(graph, path, ext[1:])
    else:
        raise ValueError(f"graph output must end in {', '.join(FORMATS)}, got {path!r}")
    return path


def run(args) -> int:
    check_output(args.output)
    require_model(args.model)
    quiet_libraries()
    select_runtime(args)
    from torch_ttnn import zoo
    from torch_ttnn.zoo.capture import compile_and_capture
    mesh = _open_mesh(args.mesh) if args.mesh else None
    with steps(["build", "compile", "draw"], args.model) as step:
        step("build")
        chips = mesh.get_num_devices() if mesh is not None else 1
        ex = zoo.build(args.model, args.size, batch=chips, seed=args.seed)
        step("compile")
        options = {"device": mesh, "data_parallel": True} if mesh is not None else None
        _, option, calls = compile_and_capture(ex, args.runtime, options)
        step("draw")
        graphs = []
        for c in calls:
            if all(c.lowered.graph is not g for g in graphs):
                graphs.append(c.lowered.graph)
        base, ext = os.path.splitext(args.output)
        written = [write(g, args.output if i == 0 else f"{base}_{i}{ext}") for i, g in enumerate(graphs)]
    print("wrote " + ", ".join(written))
    return 0


def _open_mesh(text: str):
    """An emulated mesh of RxC chips on the smallest card preset that has it (bench.mesh_scaling.preset_for)."""
    import os

    from torch_ttnn.bench.mesh_scaling import parse_mesh, preset_for
    shape = parse_mesh(text)
    os.environ["TORCH_TTNN_SIM_ARCH"] = preset_for(*shape)
    import torch_ttnn.sim as ttnn
    return ttnn.open_mesh_device(ttnn.MeshShape(*shape))
