"""Graph output: the lowered graph as a picture (gen_graphviz) and as a TT-NN Python script (export_code)."""
from __future__ import annotations

import os
import shutil
import subprocess

import torch
import torch.fx as fx

from . import codegen


def _label(n: fx.Node) -> str:
    if n.op == "placeholder":
        return f"{n.name} ({n.meta.get('kind')})"
    if n.op == "output":
        return "output"
    if n.meta.get("fallback"):
        return f"CPU: {n.meta.get('aten')}"
    name = n.meta.get('ttnn_name', getattr(n.target, '__name__', n.target))
    prefix = "host: " if getattr(n.target, "__module__", "").endswith("compiler.mesh") else "ttnn."
    return f"{prefix}{name}{_placement(n)}"


def _placement(n: fx.Node) -> str:
    """On a mesh: how a transfer places its value (compiler.mesh): the batch split over the chips, a value
    replicated on every chip, or the chips' shards gathered back."""
    mapper = n.kwargs.get("mesh_mapper")
    if mapper is not None:
        config = mapper.config() if hasattr(mapper, "config") else None
        places = [repr(p) for p in config.placements] if config is not None else []
        split = [p for p in places if "Shard" in p]
        return f"\\n[{' x '.join(places)}]" if split else "\\n[replicated on every chip]"
    if "chips" in n.kwargs and "dim" in n.kwargs:   # compiler.mesh.gather
        chips = len(n.kwargs["chips"])
        return "\\n[one chip's copy]" if n.kwargs["dim"] is None else \
            f"\\n[{chips} chips' shards joined on dim {n.kwargs['dim']}]"
    return ""


def to_dot(graph: fx.Graph, name: str = "ttnn") -> str:
    lines = [f'digraph "{name}" {{', '  node [shape=box, style=filled, fontname="Helvetica", fillcolor=white];']
    for n in graph.nodes:
        if n.meta.get("ttnn_name") == "deallocate":
            continue
        color = "#ff9999" if n.meta.get("fallback") else "#9ecbff" if n.meta.get("transfer") else \
            "#dddddd" if n.op in ("placeholder", "output") else "#c8f7c5"
        lines.append(f'  "{n.name}" [label="{_label(n)}", fillcolor="{color}"];')
        for a in n.all_input_nodes:
            lines.append(f'  "{a.name}" -> "{n.name}";')
    lines.append("}")
    return "\n".join(lines)


def write_graph(graph: fx.Graph, directory: str, stem: str) -> str:
    """SVG through graphviz's `dot` when installed, the DOT source otherwise; returns the file written."""
    os.makedirs(directory or ".", exist_ok=True)
    dot = to_dot(graph, stem)
    base = os.path.join(directory or ".", stem)
    exe = shutil.which("dot")
    if exe:
        subprocess.run([exe, "-Tsvg", "-o", base + ".svg"], input=dot.encode(), check=True)
        return base + ".svg"
    with open(base + ".dot", "w") as f:
        f.write(dot)
    return base + ".dot"


def to_code(graph: fx.Graph, fn_name: str, const_path: str | None = None) -> str:
    """The lowered graph as a Python function over `ttnn` (CPU ops as torch.ops.aten calls), via codegen.

    Tensor constants the graph holds are saved to `const_path` (a torch.save file) and read back as CONST.
    """
    consts: dict = {}
    src, _ = codegen.to_source(graph, fn_name, consts)
    if consts:
        if const_path is None:
            raise codegen.Unspellable(f"{fn_name} holds {len(consts)} tensor constant(s): give a const_path")
        torch.save(consts, const_path)
        src = f"CONST = torch.load({const_path!r})\n" + src
    return src
