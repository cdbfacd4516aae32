"""`torch-ttnn export`: the compiled program as a plain Python script of `ttnn.*` calls, its parameters on disk.

The script is the program the backend built, split as the backend runs it (compiler/program.py):

- **Parameters, preprocessed once.** Everything the compiled program computes from parameters alone (uploads,
  transposes, layout and dtype conversions, block-float casts, folded BatchNorms) is not in the script: the
  values the compiled program keeps on the device are written with `ttnn.dump_tensor`, one `.tensorbin` file
  each in `<script>_params/`, with the dtype, layout and memory config they have there, and the script loads
  them once at start with `ttnn.load_tensor(..., device=device)`. This is how TT's model code caches
  preprocessed weights (`ttnn.as_tensor(cache_file_name=...)`, `ttnn.model_preprocessing`).
- **One function per compiled graph holding only per-call work**: input uploads, the device ops exactly as
  lowered and optimised (fusions, L1 and sharded memory configs, program configs, block-float weights when
  chosen), output downloads, deallocations, and CPU fallbacks as `torch.ops.aten` calls.
- **Trace, when the compiled program traced**: the graph's device ops are a function of their own, captured once
  and replayed (`ttnn.begin_trace_capture` / `execute_trace`, inputs written with
  `ttnn.copy_host_to_device_tensor`), as compiler/trace.py replays them.

`<script>.pt` holds each graph call's inputs and the outputs the compiled run gave, host-side parameters (a
parameter a CPU fallback reads) and tensor constants. Running the script (`python -m torch_ttnn.sim script.py`,
or `python script.py` with the real ttnn and a card) replays every call and prints each output's PCC against the
compiled run; `--save out.pt` keeps the outputs, `--repeat N` times each call N more times. The parameter files
are written by the runtime that compiled (the emulator's files are not the real flatbuffer format: export again
with the real ttnn to run on a card). Python code between graphs (graph breaks) is not part of the program and is
not exported.
"""
from __future__ import annotations

import keyword
import os
import re
from dataclasses import dataclass, field

import torch
import torch.fx as fx

from .capture import compile_and_capture
from ..compiler import codegen

TEMPLATE = '''"""{doc}

Run it on the emulator with `python -m torch_ttnn.sim {script}`, or with `python {script}` where the real
ttnn and a card are installed. The parameters were preprocessed at export (layouts, dtypes, memory configs as
the compiled program holds them) and are loaded once from {params}/; each graph function holds only per-call
work. Each compiled graph call is replayed on the inputs it had and compared with the output the compiled run
gave. `--save out.pt` writes the outputs; `--repeat N` runs each call N more times and prints the median time.
"""
import os
import statistics
import sys
import time

import torch
import ttnn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = torch.load(os.path.join(HERE, {data!r}), weights_only=False)
PARAMS = os.path.join(HERE, {params!r})
CONST = DATA["const"]
OPEN_ARGS = dict({open_args})   # as the compiled program's device was opened (L1 and trace region sizes)


def load_parameters(device):
    """The preprocessed parameters, by name: device tensors placed with the memory config they were saved with."""
    P, loaded = dict(DATA["host_params"]), {{}}
    for name, (file, on_device) in DATA["tensorbin"].items():
        if file not in loaded:
            loaded[file] = ttnn.load_tensor(os.path.join(PARAMS, file), device=device if on_device else None)
        P[name] = loaded[file]
    return P
{traced}

{functions}
GRAPHS = [{graphs}]


{pcc}

def main(argv):
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 0
    device = ttnn.open_device(device_id=0, **OPEN_ARGS)
    results, worst = [], 1.0
    try:
        P = load_parameters(device)
        for i, call in enumerate(DATA["calls"]):
            fn = GRAPHS[call["graph"]]
            outs = fn(device, P, *call["args"])
            results.append(outs)
            for j, (got, want) in enumerate(zip(outs, call["expected"])):
                if isinstance(want, torch.Tensor):
                    p = pcc(got, want)
                    worst = min(worst, p)
                    diff = (got.double() - want.double()).abs().max().item() if want.numel() else 0.0
                    print(f"graph call {{i}} output {{j}}: shape {{tuple(got.shape)}} {{got.dtype}}  "
                          f"PCC vs compiled run {{p:.6f}}  max |diff| {{diff:.3g}}")
            if repeat:
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    fn(device, P, *call["args"])
                    times.append(time.perf_counter() - t0)
                print(f"graph call {{i}}: median {{statistics.median(times) * 1e3:.3f}} ms per call over {{repeat}}")
    finally:
        ttnn.close_device(device)
    if "--save" in argv:
        torch.save(results, argv[argv.index("--save") + 1])
    print(f"worst PCC {{worst:.6f}}")
    return 0 if worst >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''

# The runner of a traced graph, written into scripts that have one (compiler/trace.py does the same).
TRACED_SOURCE = '''

class Traced:
    """A graph run as the compiled program runs it with trace on: the first call runs untraced (it builds the
    device programs into the program cache: TT-NN refuses to build one during a capture); the second uploads the
    inputs, captures the device ops and replays them; later calls write the new inputs into the captured input
    tensors and replay, with no host dispatch per op. The captured inputs and outputs are fixed buffers: nothing
    frees them."""

    def __init__(self, feed, body, drain, input_memory_configs, drain_reads):
        self.feed, self.body, self.drain, self.drain_reads = feed, body, drain, drain_reads
        self.memory_configs = input_memory_configs
        self.trace_id, self.inputs, self.outputs, self.warm = None, None, None, False

    def __call__(self, device, P, *args):
        host_inputs, carried = self.feed(device, P, *args)
        if not self.warm or self.trace_id is None:
            self.inputs = [ttnn.to_device(h, device, memory_config=mc)
                           for h, mc in zip(host_inputs, self.memory_configs)]
        if not self.warm:
            self.warm = True
            outputs = self.body(device, P, *self.inputs)
            return self.drain(device, P, *carried, *outputs[:self.drain_reads])
        if self.trace_id is None:
            self.trace_id = ttnn.begin_trace_capture(device, cq_id=0)
            self.outputs = self.body(device, P, *self.inputs)
            ttnn.end_trace_capture(device, self.trace_id, cq_id=0)
        else:
            for h, captured in zip(host_inputs, self.inputs):
                ttnn.copy_host_to_device_tensor(h, captured)
        ttnn.execute_trace(device, self.trace_id, cq_id=0, blocking=True)
        return self.drain(device, P, *carried, *self.outputs[:self.drain_reads])
'''


@dataclass
class ExportedGraph:
    """One compiled program of the export: its function's source and the parameters it reads."""
    index: int
    name: str
    source: str
    traced: bool
    params: dict = field(default_factory=dict)    # P key -> the value the compiled program keeps
    uses: int = 0                                  # per-call TT-NN/aten calls in its function(s)


class ExportError(RuntimeError):
    pass


def _is_ttnn_tensor(v) -> bool:
    return hasattr(v, "storage_type") and hasattr(v, "layout") and not isinstance(v, torch.Tensor)


def _fqn(dynamo_name: str) -> str:
    """`l_self_modules_encoder_modules_layer_modules_0_parameters_weight_` -> `encoder.layer.0.weight`."""
    s = re.sub(r"^l_", "", dynamo_name).rstrip("_")
    parts = re.split(r"_(?:modules|parameters|buffers)_", s)
    if len(parts) > 1:   # an attribute path: the first part is the frame's name for the module (self, fn, ...)
        parts = parts[1:]
    return ".".join(p for p in parts if p) or dynamo_name


def _joined(fqns: list[str]) -> str:
    """One name for a value made from several parameters: `attn.{query,key,value}.weight` for a fused QKV,
    `conv.weight(+bn)` for a weight with a BatchNorm folded in (named after its first parameter)."""
    split = [f.split(".") for f in fqns]
    head = 0
    while all(len(p) > head + 1 for p in split) and len({p[head] for p in split}) == 1:
        head += 1
    tail = 0
    while all(len(p) > head + tail + 1 for p in split) and len({p[-1 - tail] for p in split}) == 1:
        tail += 1
    mids = list(dict.fromkeys(".".join(p[head:len(p) - tail]) for p in split))
    if any("." in m for m in mids):
        others = dict.fromkeys(p[head] for p in split[1:] if p[head] != split[0][head])
        return fqns[0] + (f"(+{','.join(others)})" if others else f"(+{len(fqns) - 1})")
    return ".".join(split[0][:head] + ["{" + ",".join(mids) + "}"] + split[0][len(split[0]) - tail:])


def _param_names(c, graph: fx.Graph) -> dict:
    """fx node -> a readable name: the model parameters it is computed from (dynamo's names for the graph's
    inputs, noted by capture), `const.<node>` for values made from graph constants only."""
    dyn = getattr(c.compiled, "input_names", None)
    phs = [n for n in graph.nodes if n.op == "placeholder" and n.meta.get("kind") != "const"]
    base = {n: _fqn(dyn[i]) if dyn else n.name for i, n in enumerate(phs)}
    sources: dict = {}
    for n in graph.nodes:
        if n.op == "placeholder":
            sources[n] = [n] if n in base and n.meta.get("const") else []
        else:
            sources[n] = list(dict.fromkeys(s for a in n.all_input_nodes for s in sources.get(a, [])))
    names = {}
    for n in graph.nodes:
        src = [base[s] for s in sources[n]]
        names[n] = src[0] if len(src) == 1 else _joined(src) if src else f"const.{n.name}"
    return names


def _kept_values(c, graph: fx.Graph, taken: set) -> dict:
    """fx node -> (P key, value) for every value the per-call work reads from the constant part: the compiled
    program's kept device tensors (its env after the call), parameters read directly, graph constants."""
    prog, nodes = c.program, list(graph.nodes)
    if prog is None or len(prog.env) != len(nodes):
        raise ExportError(f"graph {c.compiled.index}: the program that ran does not match its lowered graph "
                          f"(lowered again after the call?); export needs the program itself")
    readable = _param_names(c, graph)
    args = iter(c.args)
    kept = {}
    for i, n in enumerate(nodes):
        v = None
        if n.op == "placeholder":
            kind = n.meta.get("kind")
            v = c.lowered.constants[n.name] if kind == "const" else next(args)
        if not n.meta.get("kept"):
            continue
        if n.op == "call_function":
            v = prog.env[i]
            if v is None:
                raise ExportError(f"graph {c.compiled.index}: kept value {n.name} is not held by the program")
        key = readable[n]
        if key in taken:   # two forms of one parameter (or one name in two graphs): the node tells them apart
            key = f"{key}~{n.name}" if f"{key}~{n.name}" not in taken else f"{key}~g{c.compiled.index}.{n.name}"
        taken.add(key)
        kept[n] = (key, v)
    return kept


def _input_names(c, graph: fx.Graph) -> dict:
    """Per-call input placeholder -> the function parameter's name: the model's argument name where dynamo
    gave one (`input_ids`), else the graph's; never one a statement of the function assigns."""
    dyn = getattr(c.compiled, "input_names", None)
    phs = [n for n in graph.nodes if n.op == "placeholder" and n.meta.get("kind") != "const"]
    assigned = {n.name for n in graph.nodes if n.op != "placeholder"} | {"device", "P", "ttnn", "torch", "CONST"}
    out = {}
    for i, n in enumerate(phs):
        if n.meta.get("const"):
            continue
        ident = n.name
        if dyn:
            cand = re.sub(r"^(kwargs|args)_", "", re.sub(r"\W", "_", _fqn(dyn[i])))
            cand = f"input_{cand}" if cand.isdigit() else cand      # a positional argument: `args_0`
            if cand.isidentifier() and not keyword.iskeyword(cand):
                ident = cand
        while ident in assigned:
            ident += "_"
        assigned.add(ident)
        out[n] = ident
    return out


def _per_call_args(c, graph) -> list:
    """The call's arguments that are per-call inputs (not parameters): what the exported function takes."""
    args, out = iter(c.args), []
    for n in graph.nodes:
        if n.op == "placeholder" and n.meta.get("kind") != "const":
            a = next(args)
            if not n.meta.get("const"):
                out.append(a)
    return out


def _untraced_source(graph, name, names, consts, inputs) -> str:
    body = codegen.statements(graph.nodes, names, consts, skip=lambda n: n.meta.get("const"))
    out = next(n for n in graph.nodes if n.op == "output")
    body.append(f"    return {codegen.literal(out.args[0], names, consts)}")
    doc = '    """Per-call work only: input uploads, device ops, output downloads, deallocations."""'
    return f"def {name}(device, P, {', '.join(inputs)}):\n{doc}\n" + "\n".join(body) + "\n"


def _is_device_op(n) -> bool:
    return bool(n.meta.get("device")) and not n.meta.get("transfer") and n.meta.get("ttnn_name") != "deallocate"


def _traced_source(graph, name, names, consts, inputs) -> str:
    """feed (host work, inputs as host tensors) / device (the traced ops) / drain (downloads, host work), split as
    compiler.trace.split splits the compiled program's per-call steps."""
    per_call = [n for n in graph.nodes if n.op == "call_function" and not n.meta.get("const")]
    dev = [i for i, n in enumerate(per_call) if _is_device_op(n)]
    feed, body, drain = per_call[:dev[0]], per_call[dev[0]:dev[-1] + 1], per_call[dev[-1] + 1:]
    out = next(n for n in graph.nodes if n.op == "output")
    uploads = [n for n in feed if n.meta.get("transfer") == "h2d"]
    later = set(body) | set(drain) | {out}
    carried = [n for n in feed if n not in uploads and any(u in later for u in n.users)
               and n.meta.get("ttnn_name") != "deallocate"]
    def read_after(n):   # read by the drain or the output (its deallocation in the drain is no read)
        return any((u in drain and u.meta.get("ttnn_name") != "deallocate") or u is out for u in n.users)
    # the trace's outputs: what the drain reads, then what the compiled program keeps because the drain would free
    # it (a buffer the trace writes on every replay must outlive the call); never freed
    body_out = [n for n in body if n.meta.get("ttnn_name") != "deallocate" and read_after(n)]
    body_out += [n for n in body if n.meta.get("ttnn_name") != "deallocate" and n not in body_out
                 and any(u in drain for u in n.users)]
    n_read = sum(1 for n in body_out if read_after(n))
    fixed = set(uploads) | set(body_out)

    def skip(n):
        return n.meta.get("const") or (n.meta.get("ttnn_name") == "deallocate" and n.args[0] in fixed)

    # feed: uploads become host tensors (the runner places or copies them into the captured inputs)
    mcs = []
    feed_lines = []
    for n in feed:
        if n in uploads:
            kw = {k: v for k, v in n.kwargs.items() if k not in ("device", "memory_config")}
            mcs.append(n.kwargs.get("memory_config"))
            args = [codegen.literal(a, names, consts) for a in n.args] + \
                [f"{k}={codegen.literal(v, names, consts)}" for k, v in kw.items()]
            names[n] = n.name
            feed_lines.append(f"    {n.name} = {codegen.function_name(n.target)}({', '.join(args)})")
        else:
            feed_lines += codegen.statements([n], names, consts, skip=skip)
    lst = lambda ns: "[" + ", ".join(names[n] for n in ns) + "]"   # noqa: E731
    feed_src = (f"def {name}_feed(device, P, {', '.join(inputs)}):\n"
                f'    """Host work before the device ops; the inputs to upload, as host tensors."""\n'
                + "\n".join(feed_lines + [f"    return {lst(uploads)}, {lst(carried)}"]) + "\n")
    body_lines = codegen.statements(body, names, consts, skip=skip)
    body_src = (f"def {name}_device(device, P, {', '.join(names[n] for n in uploads)}):\n"
                f'    """The traced part: device ops only."""\n'
                + "\n".join(body_lines + [f"    return {lst(body_out)}"]) + "\n")
    drain_lines = codegen.statements(drain, names, consts, skip=skip)
    drain_lines.append(f"    return {codegen.literal(out.args[0], names, consts)}")
    drain_args = ", ".join(names[n] for n in carried + body_out[:n_read])
    drain_src = (f"def {name}_drain(device, P, {drain_args}):\n"
                 f'    """Downloads and host work after the device ops."""\n' + "\n".join(drain_lines) + "\n")
    runner = (f"{name} = Traced({name}_feed, {name}_device, {name}_drain, "
              f"{codegen.literal(mcs, names, consts)}, drain_reads={n_read})\n")
    return "\n\n".join([feed_src, body_src, drain_src, runner])


def export_graph(c, index: int, consts: dict, taken: set) -> ExportedGraph:
    """The script source of one captured graph's program, and the parameters it reads (names in `taken` are used
    by other graphs)."""
    graph = c.lowered.graph
    name = f"graph_{index}"
    kept = _kept_values(c, graph, taken)
    names = {n: f"P[{key!r}]" for n, (key, _v) in kept.items()}
    inputs = _input_names(c, graph)
    for n, ident in inputs.items():
        names[n] = ident
    inputs = list(inputs.values())
    traced = bool(c.program.will_trace)
    src = (_traced_source if traced else _untraced_source)(graph, name, names, consts, inputs)
    uses = sum(1 for n in graph.nodes if n.op == "call_function" and not n.meta.get("const"))
    return ExportedGraph(index, name, src, traced, {key: v for key, v in kept.values()}, uses)


def _save_params(graphs, ttnn, params_dir: str) -> tuple[dict, dict]:
    """TT-NN tensors to `<name>.tensorbin` (ttnn.dump_tensor, spec included); others stay in the data file.
    Returns (host params, {P key: (file name, placed on the device)})."""
    os.makedirs(params_dir, exist_ok=True)
    for stale in os.listdir(params_dir):   # an earlier export's files: the data file would not name them
        if stale.endswith(".tensorbin"):
            os.remove(os.path.join(params_dir, stale))
    host, files, used, written = {}, {}, set(), {}
    for g in graphs:
        for key, v in g.params.items():
            if _is_ttnn_tensor(v):
                if id(v) in written:   # one tensor kept under two names (a view): one file, loaded once
                    files[key] = written[id(v)]
                    continue
                stem = re.sub(r"[^A-Za-z0-9._~+(){},-]+", "_", key)
                while stem.lower() in used:     # names that differ in characters a file name cannot keep
                    stem += "_"
                used.add(stem.lower())
                ttnn.dump_tensor(os.path.join(params_dir, stem + ".tensorbin"), v)
                files[key] = written[id(v)] = (stem + ".tensorbin", bool(ttnn.is_tensor_storage_on_device(v)))
            elif isinstance(v, torch.Tensor) or v is None or isinstance(v, (bool, int, float)):
                host[key] = v.detach().clone() if isinstance(v, torch.Tensor) else v
            else:
                raise ExportError(f"parameter {key} is a {type(v).__name__}: export writes TT-NN tensors, torch "
                                  f"tensors and numbers; extend torch_ttnn.zoo.export._save_params")
    return host, files


def _open_args(ttnn, device) -> dict:
    """open_device's sizes as the compiling device has them (or as runtime.default_device opens one)."""
    from .. import runtime
    small = getattr(device, "l1_small_size", None)
    if small is None:
        small = 0 if runtime.is_emulator(ttnn) else 65536
    region = getattr(device, "trace_region_size", None) or runtime.TRACE_REGION_SIZE
    return {"l1_small_size": int(small), "trace_region_size": int(region)}


def write_program(calls, path: str, doc: str) -> dict:
    """Write the script for captured graph calls, its data file and its parameter files."""
    base, _ = os.path.splitext(path)
    data_path, params_dir = base + ".pt", base + "_params"
    consts: dict = {}
    graphs, index_of, data_calls, taken = [], {}, [], set()
    on_device = [c.compiled.index for c in calls if c.compiled.device_io]
    if on_device:
        raise ExportError(f"graph(s) {sorted(set(on_device))} ran over tensors of the `ttnn` torch device "
                          f"(model.to('ttnn')): export replays calls from host inputs; build the model and its "
                          f"inputs on the CPU for export (the device ops are the same; only the transfers differ)")
    for c in calls:
        key = id(c.program)
        if key not in index_of:
            index_of[key] = len(graphs)
            graphs.append(export_graph(c, len(graphs), consts, taken))
        data_calls.append({"graph": index_of[key], "args": _per_call_args(c, c.lowered.graph),
                           "expected": c.outputs})
    ttnn = calls[0].compiled.ttnn
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    host, files = _save_params(graphs, ttnn, params_dir)
    torch.save({"const": consts, "calls": data_calls, "host_params": host, "tensorbin": files}, data_path)
    open_args = _open_args(ttnn, calls[0].compiled.device)
    with open(path, "w") as f:
        f.write(TEMPLATE.format(pcc=codegen.PCC_SOURCE, doc=doc, script=os.path.basename(path),
                                data=os.path.basename(data_path), params=os.path.basename(params_dir),
                                traced=TRACED_SOURCE if any(g.traced for g in graphs) else "",
                                open_args=", ".join(f"{k}={v}" for k, v in open_args.items()),
                                functions="\n\n".join(g.source for g in graphs),
                                graphs=", ".join(g.name for g in graphs)))
    return {"script": path, "data": data_path, "params": params_dir, "graphs": graphs,
            "n_params": len(host) + len(files)}


def export(ex, path: str, runtime: str | None = None, options: dict | None = None) -> dict:
    """Compile and run `ex` once, then write its program to `path` (data `<path>.pt`, parameters
    `<path>_params/`)."""
    out, option, calls = compile_and_capture(ex, runtime, options)
    doc = (f"{ex.name} ({ex.size}) compiled by torch-ttnn for TT-NN: {len(calls)} graph call(s), "
           f"exported as plain ttnn.* calls")
    r = write_program(calls, path, doc)
    return {**r, "calls": calls, "output": out, "option": option}
