"""`TorchTtnnOption(export_code="accuracy" | "profiling")`: torch-ttnn 0.5's standalone debugging scripts.

0.5 took these two values and wrote, relative to the working directory, `tests/export_code/<mode>/<model>_code.py`
with the model's inputs beside it (`<model>_inputs.*`), `<model>` being `metrics_path` (0.5 used that option as
the model's name). Its "accuracy" script ran the ATen graph next to the TT-NN one and printed each forward's
accuracy (`forward_<i> accuracy: <pcc>`); its "profiling" script ran the TT-NN program several times between
profiler signposts, reading the device profiler as it went. Both are written here with those paths and that
output, from the compiled program (compiler/codegen.py: the lowered graph exactly as it runs):

- accuracy: per compiled graph, the ATen graph the backend received (a torch module, CPU float32: the
  reference) and the lowered TT-NN function; `main` runs both on the graph's first-call inputs and prints
  `<graph> accuracy: <min PCC over its outputs>`, exiting non-zero below `--pcc` (0.99 by default). 0.5 also
  compared every ATen op with the last TT-NN op lowered from it; this compares graph outputs (to find the op,
  `torch-ttnn bisect` cuts the graph down to it).
- profiling: the TT-NN functions only, run `total_num_iterations` times (5 when that is 1, as 0.5 ran), with a
  Tracy signpost per run and `ttnn.ReadDeviceProfiler` (0.5's `DumpDeviceProfiler`) after each graph where the
  installed ttnn and tracy have them; it prints each graph's median host time.

Inputs are written with `torch.save` as `<model>_inputs.pt` (0.5: an lzma pickle). A graph is added on its first
call (its inputs are known then) and the script is rewritten with all graphs so far. Not exported, with a
warning that says why: graphs over ttnn-device tensors (the inputs live on the device, not in a file), graphs on
a mesh (the path form of export_code writes those) and graphs whose lowering has no spelling as code.
Any other string is a path, where the lowered graphs are appended as functions (compiler/graphviz.to_code).
"""
from __future__ import annotations

import os
import warnings

import torch
import torch.fx as fx

from . import codegen
from .mesh import is_mesh

MODES = ("accuracy", "profiling")

HEADER = '''"""torch-ttnn export_code={mode!r}:
{what}.

Run it with `python -m torch_ttnn.sim {script}` (the emulator) or `python {script}` with the real ttnn and a card.
Written by torch_ttnn.compiler.export_code from the compiled program; inputs from {inputs}.
"""
import os
import statistics
import sys
import time

import torch
import ttnn

aten = torch.ops.aten
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = torch.load(os.path.join(HERE, {inputs!r}), weights_only=False)
'''

ACCURACY_MAIN = '''

def main(argv):
    floor = float(argv[argv.index("--pcc") + 1]) if "--pcc" in argv else 0.99
    device = ttnn.open_device(device_id=0)
    worst = 1.0
    try:
        for name, reference, fn in GRAPHS:
            args = DATA[name]["args"]
            with torch.no_grad():
                expected = reference(*[a.float() if a.is_floating_point() else a for a in args])
            actual = fn(device, *args)
            pccs = [pcc(e.float(), a.float()) for e, a in zip(expected, actual)
                    if isinstance(e, torch.Tensor) and isinstance(a, torch.Tensor) and e.numel()]
            accuracy = min(pccs) if pccs else 1.0
            worst = min(worst, accuracy)
            print(f"{name} accuracy: {accuracy:.6f}")
    finally:
        ttnn.close_device(device)
    return 0 if worst >= floor else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''

PROFILING_MAIN = '''

ITERATIONS = {iterations}


def _profiler():
    try:
        from tracy import signpost
    except ImportError:
        signpost = None
    read = getattr(ttnn, "ReadDeviceProfiler", None) or getattr(ttnn, "DumpDeviceProfiler", None)
    return signpost, read


def main(argv):
    signpost, read = _profiler()
    device = ttnn.open_device(device_id=0)
    times = {{name: [] for name, _ in GRAPHS}}
    try:
        for i in range(ITERATIONS):
            if signpost:
                signpost(header=f"Run number {{i}}")
            for name, fn in GRAPHS:
                t0 = time.perf_counter()
                fn(device, *DATA[name]["args"])
                ttnn.synchronize_device(device)
                times[name].append(time.perf_counter() - t0)
                if read:
                    read(device)
    finally:
        ttnn.close_device(device)
    for name, ts in times.items():
        print(f"{{name}}: median {{statistics.median(ts) * 1e3:.3f}} ms over {{len(ts)}} runs "
              f"(first {{ts[0] * 1e3:.3f}} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''


def model_name(option) -> str:
    """0.5 named the files after `metrics_path`; ours is a directory, so its last component (else "model")."""
    if option.metrics_path:
        return os.path.basename(os.path.normpath(str(option.metrics_path))) or "model"
    tracer = option.tracer_option or {}
    return str(tracer.get("model_name") or "model")


def paths(option) -> tuple[str, str]:
    """(script, inputs file) where 0.5 wrote them: tests/export_code/<mode>/<model>_code.py."""
    directory = os.path.join("tests", "export_code", option.export_code)
    name = model_name(option)
    return os.path.join(directory, f"{name}_code.py"), os.path.join(directory, f"{name}_inputs.pt")


def _host(a):
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().clone()
    return a


def _aten_module_source(gm: fx.GraphModule, cls: str, attrs: dict) -> str:
    """The ATen graph as a torch module class; tensors it reads with get_attr come from DATA (`attrs`)."""
    for n in gm.graph.nodes:
        if n.op == "get_attr":
            attrs[n.target] = _host(getattr(gm, n.target) if "." not in n.target else
                                    gm.get_submodule(n.target.rsplit(".", 1)[0]).get_parameter(
                                        n.target.rsplit(".", 1)[1]))
    code = gm.code.strip("\n")
    body = "\n".join("    " + line if line else line for line in code.splitlines())
    return (f"class {cls}(torch.nn.Module):\n"
            f"    \"\"\"The ATen graph the backend received: the CPU reference.\"\"\"\n\n"
            f"    def __init__(self, attrs):\n"
            f"        super().__init__()\n"
            f"        for name, value in attrs.items():\n"
            f"            owner = self\n"
            f"            *path, leaf = name.split('.')\n"
            f"            for p in path:\n"
            f"                if not hasattr(owner, p):\n"
            f"                    owner.add_module(p, torch.nn.Module())\n"
            f"                owner = getattr(owner, p)\n"
            f"            setattr(owner, leaf, value)\n\n"
            f"{body}\n")


def exportable(compiled) -> str | None:
    """Why this graph is not exported in a 0.5 mode (None: it is)."""
    if compiled.device_io:
        return "its inputs are tensors of the ttnn device (export with host inputs)"
    if compiled.dp is not None or compiled.tp is not None or is_mesh(compiled.device):
        return "it runs on a mesh (pass export_code a file path to write a mesh program)"
    return None


def add_graph(compiled, args) -> str | None:
    """Adds a compiled graph (at its first call, `args` its inputs) to the option's 0.5 export and rewrites the
    script; returns the script's path (None if the graph was not exported, with a warning saying why)."""
    option = compiled.option
    why = exportable(compiled)
    name = f"graph_{compiled.index}"
    entry = {"name": name, "args": [_host(a) for a in args]}
    if why is None:
        consts: dict = {}
        try:
            entry["ttnn_src"], _ = codegen.to_source(compiled.lowered.graph, f"ttnn_{name}", consts)
        except codegen.Unspellable as e:
            why = f"its lowering has no spelling as code ({e})"
        entry["const"] = {k: _host(v) for k, v in consts.items()}
    if why is not None:
        warnings.warn(f"torch-ttnn: export_code={option.export_code!r}: {name} not exported: {why}", stacklevel=3)
        return None
    attrs: dict = {}
    entry["aten_src"] = _aten_module_source(compiled.gm, f"Aten{name.title().replace('_', '')}", attrs)
    entry["attrs"] = attrs
    done = getattr(option, "_export_code_graphs", None)
    if done is None:
        done = option._export_code_graphs = []
    done[:] = [e for e in done if e["name"] != name] + [entry]
    return write(option, done)


def write(option, graphs: list) -> str:
    script, inputs = paths(option)
    os.makedirs(os.path.dirname(script), exist_ok=True)
    mode = option.export_code
    what = ("each compiled graph's TT-NN program against its ATen graph on CPU (float32), printed as\n"
            "'<graph> accuracy: <PCC>' (exit 1 when one is below --pcc, 0.99 by default)" if mode == "accuracy" else
            "the TT-NN programs run repeatedly between profiler signposts, each graph's median time printed")
    parts = [HEADER.format(mode=mode, what=what, script=os.path.basename(script), inputs=os.path.basename(inputs))]
    if mode == "accuracy":
        parts.append("\n" + codegen.PCC_SOURCE)
    for e in graphs:
        parts.append("\n\n" + e["ttnn_src"].replace("CONST[", f"DATA[{e['name']!r}]['const']["))
        if mode == "accuracy":
            parts.append("\n\n" + e["aten_src"])
    if mode == "accuracy":
        rows = ", ".join(f"({e['name']!r}, Aten{e['name'].title().replace('_', '')}(DATA[{e['name']!r}]['attrs'])"
                         f", ttnn_{e['name']})" for e in graphs)
        parts.append(f"\n\nGRAPHS = [{rows}]\n" + ACCURACY_MAIN)
    else:
        rows = ", ".join(f"({e['name']!r}, ttnn_{e['name']})" for e in graphs)
        iterations = option.total_num_iterations if option.total_num_iterations > 1 else 5
        parts.append(f"\n\nGRAPHS = [{rows}]\n" + PROFILING_MAIN.format(iterations=iterations))
    torch.save({e["name"]: {"args": e["args"], "const": e["const"], "attrs": e["attrs"]} for e in graphs}, inputs)
    with open(script, "w") as f:
        f.write("".join(parts))
    return script
