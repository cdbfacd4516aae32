"""Per-op trace records of a compiled graph (`TorchTtnnOption(tracer_option={...})`, 0.5's option).

Written once, after the graph's first call, to `<out_folder>/fw_<model_name>_<graph>.json`: with `trace_orig`
(default on) the ATen ops the graph was traced to, each with its argument shapes and dtypes and whether it ran
on the device or the CPU; with `trace_modi` (default off) the TT-NN calls of the lowered program in order, each
with the ATen op and rule it came from, and the device ops the first call ran with their estimated time and
bound (from the emulator's cost model; none on a card).
"""
from __future__ import annotations

import json
import os

import torch
import torch.fx as fx


def _describe(v):
    if isinstance(v, torch.Tensor):
        return {"shape": [str(d) for d in v.shape], "dtype": str(v.dtype).replace("torch.", "")}
    if isinstance(v, (list, tuple)):
        return [_describe(x) for x in v]
    return v if isinstance(v, (int, float, bool, str, type(None))) else repr(v)


def aten_records(cg) -> list[dict]:
    fallback = set()
    if cg.lowered is not None:
        fallback = {n.meta.get("aten_node") for n in cg.lowered.graph.nodes if n.meta.get("fallback")}
    out = []
    for n in cg.gm.graph.nodes:
        if n.op != "call_function" or not isinstance(n.target, torch._ops.OpOverload):
            continue
        args = fx.node.map_aggregate(n.args, lambda a: cg.metas.get(a) if isinstance(a, fx.Node) else a)
        out.append({"node": n.name, "op": str(n.target), "args": _describe(args),
                    "output": _describe(cg.metas.get(n)), "on_cpu": n.name in fallback})
    return out


def ttnn_records(cg, op_records) -> list[dict]:
    calls = [n for n in cg.lowered.graph.nodes if n.op == "call_function" and n.meta.get("device")
             and n.meta.get("ttnn_name") != "deallocate"] if cg.lowered is not None else []
    return [{"node": n.name, "op": n.meta.get("ttnn_name") or getattr(n.target, "__name__", str(n.target)),
             "aten": n.meta.get("aten"), "rule": n.meta.get("rule")} for n in calls]


def write(opt: dict, cg, op_records) -> str:
    os.makedirs(opt["out_folder"], exist_ok=True)
    record = {"model": opt["model_name"], "graph": cg.index}
    if opt["trace_orig"]:
        record["aten"] = aten_records(cg)
    if opt["trace_modi"]:
        record["ttnn"] = ttnn_records(cg, op_records)
        # what the device ran on the first call, in order, priced by the emulator's cost model (none on a card)
        record["device_ops_run"] = [{"op": r.name, "device_ns": r.time_ns, "bound": r.bound} for r in op_records]
    path = os.path.join(opt["out_folder"], f"fw_{opt['model_name']}_{cg.index}.json")
    with open(path, "w") as f:
        json.dump(record, f, indent=1, default=str)
    return path
