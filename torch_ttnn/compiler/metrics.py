"""The run record of a compiled graph and its one-screen summary.

Counted once, where it happens: ATen ops before lowering and their fate (device or CPU, by name) at
lowering; transfers and estimated device time per call by the executor; compile time by the backend.
"""
from __future__ import annotations

import json
import os

import torch


def pcc(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().flatten(), b.detach().double().flatten()
    if a.numel() == 0 or torch.equal(a, b):
        return 1.0
    if a.std() == 0 or b.std() == 0:
        return 1.0 if torch.allclose(a, b, rtol=1e-2, atol=1e-2) else 0.0
    return torch.corrcoef(torch.stack([a, b]))[0, 1].item()


def summary(records: list[dict]) -> str:
    if not records:
        return "torch-ttnn: nothing compiled yet"
    lines = []
    for r in records:
        fb = ", ".join(f"{k} x{v}" for k, v in sorted(r["fallbacks"].items())) or "none"
        line = (f"graph {r['graph']}: ATen ops {r['aten_ops']} ({r['aten_ops_unique']} unique) -> on device "
                f"{r['device_ops']}, on CPU {r['cpu_ops']} ({r['cpu_ops_unique']} unique: {fb}); "
                f"transfers {'on the first call (parameters placed once included)' if r['calls'] == 1 else 'per call'}: "
                f"{r['h2d_per_call']} to device, {r['d2h_per_call']} from device; "
                f"compile {r['compile_s']:.2f} s; est. device time {r['device_time_ms']:.3f} ms/call "
                f"(host-visible {r.get('host_time_ms', 0):.3f} ms, traced {r.get('trace_time_ms', 0):.3f} ms); "
                f"calls {r['calls']}, lowerings {r.get('lowerings', r['specializations'])}"
                f"{' (a dynamo recompile, ' + str(r['compile_id']) + ')' if r.get('recompile') else ''}"
                f"{' (symbolic shapes)' if r.get('symbolic') else ''}")
        pc = r.get("program_cache") or {}
        if pc:
            line += (f"; program cache (latest call): {pc['hit']} hits, {pc['miss']} misses, {pc['uncached']} "
                     f"uncached ({pc['compile_ms']:.0f} ms building programs), {pc['entries']} entries")
        fused = ", ".join(f"{k} x{v}" for k, v in r.get("fusions", {}).items() if v)
        if fused:
            line += f"; fusions {fused}"
        shard = r.get("shard") or {}
        if shard.get("configs"):
            configs = ", ".join(f"{k} x{v}" for k, v in shard["configs"].items())
            line += f"; program configs {configs} ({shard.get('regions', 0)} sharded regions"
            line += f", left interleaved: {shard['rejected']})" if shard.get("rejected") else ")"
        if r.get("pcc") is not None:
            line += f"; PCC vs CPU float32 {r['pcc']:.5f}"
        lines.append(line)
    return "\n".join(lines)


def write(path: str, records: list[dict]) -> str:
    os.makedirs(path, exist_ok=True)
    out = os.path.join(path, "torch_ttnn_metrics.json")
    with open(out, "w") as f:
        json.dump(records, f, indent=1, default=str)
    return out
