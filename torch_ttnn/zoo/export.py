"""`torch-ttnn export`: the compiled program as a plain Python script of `ttnn.*` calls, data saved beside it.

The script holds one function per compiled graph (exactly the lowered graph that ran: transfers, TT-NN ops,
deallocations, CPU ops as `torch.ops.aten` calls) and `<script>.pt` holds each graph call's arguments
(parameters and inputs as CPU tensors, as the backend received them) and the outputs the compiled run gave.
Running it (`python -m torch_ttnn.sim script.py`, or `python script.py` with the real ttnn and a card)
replays every graph call and prints each output's PCC against the compiled run; `--save out.pt` keeps the
outputs. Python code between graphs (graph breaks) is not part of the program and is not exported.
"""
from __future__ import annotations

import os

import torch

from .capture import compile_and_capture
from ..compiler import codegen
from ..compiler.codegen import to_source

TEMPLATE = '''"""{doc}

Run it on the emulator with `python -m torch_ttnn.sim {script}`, or with `python {script}` where the real
ttnn and a card are installed. Each compiled graph call is replayed on the arguments it had and compared
with the output the compiled run gave. `--save out.pt` writes the outputs.
"""
import os
import sys

import torch
import ttnn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = torch.load(os.path.join(HERE, {data!r}), weights_only=False)
CONST = DATA["const"]


{functions}
GRAPHS = [{graphs}]


{pcc}

def main(argv):
    device = ttnn.open_device(device_id=0, l1_small_size=65536)
    results, worst = [], 1.0
    try:
        for i, (fn, call) in enumerate(zip(GRAPHS, DATA["calls"])):
            outs = fn(device, *call["args"])
            results.append(outs)
            for j, (got, want) in enumerate(zip(outs, call["expected"])):
                if isinstance(want, torch.Tensor):
                    p = pcc(got, want)
                    worst = min(worst, p)
                    diff = (got.double() - want.double()).abs().max().item() if want.numel() else 0.0
                    print(f"graph call {{i}} output {{j}}: shape {{tuple(got.shape)}} {{got.dtype}}  "
                          f"PCC vs compiled run {{p:.6f}}  max |diff| {{diff:.3g}}")
    finally:
        ttnn.close_device(device)
    if "--save" in argv:
        torch.save(results, argv[argv.index("--save") + 1])
    print(f"worst PCC {{worst:.6f}}")
    return 0 if worst >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''


def write_program(calls, path: str, doc: str) -> tuple[str, str]:
    """Write the script for captured graph calls and its data file; returns (script path, data path)."""
    base, _ = os.path.splitext(path)
    data_path = base + ".pt"
    consts: dict = {}
    functions, names, data_calls = [], [], []
    for i, c in enumerate(calls):
        name = f"graph_{i}"
        src, params = to_source(c.lowered.graph, name, consts)
        args = iter(c.args)
        values = []
        for n in c.lowered.graph.nodes:
            if n.op == "placeholder":
                values.append(c.lowered.constants[n.name] if n.meta.get("kind") == "const" else next(args))
        functions.append(src)
        names.append(name)
        data_calls.append({"args": values, "expected": c.outputs})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({"const": consts, "calls": data_calls}, data_path)
    with open(path, "w") as f:
        f.write(TEMPLATE.format(pcc=codegen.PCC_SOURCE,
                                doc=doc, script=os.path.basename(path), data=os.path.basename(data_path),
                                functions="\n\n".join(functions), graphs=", ".join(names)))
    return path, data_path


def export(ex, path: str, runtime: str | None = None) -> dict:
    """Compile and run `ex` once, then write its program to `path` (and `<path>.pt`)."""
    out, option, calls = compile_and_capture(ex, runtime)
    doc = (f"{ex.name} ({ex.size}) compiled by torch-ttnn for TT-NN: {len(calls)} graph call(s), "
           f"exported as plain ttnn.* calls")
    script, data = write_program(calls, path, doc)
    return {"script": script, "data": data, "calls": calls, "output": out, "option": option}
