"""Graph output: the lowered graph as a picture (gen_graphviz) and as a TT-NN Python script (export_code)."""
from __future__ import annotations

import os
import shutil
import subprocess

import torch
import torch.fx as fx


def _label(n: fx.Node) -> str:
    if n.op == "placeholder":
        return f"{n.name} ({n.meta.get('kind')})"
    if n.op == "output":
        return "output"
    if n.meta.get("fallback"):
        return f"CPU: {n.meta.get('aten')}"
    return f"ttnn.{n.meta.get('ttnn_name', getattr(n.target, '__name__', n.target))}"


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


def _arg(a, names) -> str:
    if isinstance(a, fx.Node):
        return names[a]
    if isinstance(a, (list, tuple)):
        inner = ", ".join(_arg(x, names) for x in a)
        return f"[{inner}]" if isinstance(a, list) else f"({inner}{',' if len(a) == 1 else ''})"
    if isinstance(a, torch.dtype):
        return str(a)
    t = type(a).__name__
    if t in ("DataType", "Layout", "MathFidelity", "BufferType", "TensorMemoryLayout"):
        return f"ttnn.{t}.{a.name}"
    if t in ("Device", "MeshDevice"):
        return "device"
    return repr(a)


def to_code(graph: fx.Graph, fn_name: str) -> str:
    """The lowered graph as a Python function over `ttnn` (fallback ops as torch.ops.aten calls)."""
    names, params, body = {}, [], []
    for n in graph.nodes:
        names[n] = n.name
        if n.op == "placeholder":
            params.append(n.name)
        elif n.op == "call_function":
            if isinstance(n.target, torch._ops.OpOverload):
                fn = f"torch.ops.{n.target.namespace}.{n.target._opname}.{n.target._overloadname}"
            elif getattr(n.target, "__name__", "") == "getitem":
                body.append(f"    {n.name} = {_arg(n.args[0], names)}[{n.args[1]!r}]")
                continue
            else:
                qual = getattr(n.target, "python_fully_qualified_name", None) or f"ttnn.{n.target.__name__}"
                fn = "ttnn." + qual.split(".", 1)[1] if qual.startswith("ttnn.") else qual
            args = [_arg(a, names) for a in n.args] + [f"{k}={_arg(v, names)}" for k, v in n.kwargs.items()]
            lhs = "" if n.meta.get("ttnn_name") == "deallocate" else f"{n.name} = "
            body.append(f"    {lhs}{fn}({', '.join(args)})")
        elif n.op == "output":
            body.append(f"    return {_arg(n.args[0], names)}")
    return f"def {fn_name}(device, {', '.join(params)}):\n" + "\n".join(body) + "\n"
