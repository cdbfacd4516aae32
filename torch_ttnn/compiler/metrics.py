"""The run record of a compiled graph and its one-screen summary.

Counted once, where it happens: ATen ops before lowering and their fate (device or CPU, by name) at
lowering; transfers and estimated device time per call by the executor; compile time by the backend.
"""
from __future__ import annotations

import json
import os

from ..accuracy import pcc  # noqa: F401  (the one PCC, re-exported: check_accuracy reports it)


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
        mesh = r.get("mesh")
        if mesh:
            line += "; " + mesh_summary(mesh)
        if r.get("pcc") is not None:
            line += f"; PCC vs CPU float32 {r['pcc']:.5f}"
        lines.append(line)
    return "\n".join(lines)


def mesh_summary(mesh: dict) -> str:
    """One clause on a graph compiled for a mesh: chips used, the batch split, per-chip and collective time."""
    shape = "x".join(map(str, mesh["shape"]))
    per_chip = mesh.get("device_time_per_chip_ms") or []
    times = f"est. device time per chip {min(per_chip):.3f}-{max(per_chip):.3f} ms" if per_chip else \
        "not run yet"
    text = f"mesh {shape}, {mesh['chips']} chips: {times}, collectives {mesh.get('collective_ms', 0):.3f} ms"
    moved = mesh.get("transfer_bytes_per_call") or {}
    if moved:
        text += (f", host transfers {moved['h2d_bytes'] / 1024:.1f} KiB in / {moved['d2h_bytes'] / 1024:.1f} KiB "
                 f"out per call (not timed: no PCIe model)")
    dp = mesh.get("data_parallel")
    if dp:
        axis = "" if mesh.get("data_parallel_axis") is None else f" of mesh axis {mesh['data_parallel_axis']}"
        text += (f"; data parallel: batch {dp['batch']} over {dp['chips']} chips{axis}, {dp['per_chip_batch']} "
                 f"per chip" + (f", padded with {dp['padding']} repeated sample(s)" if dp["padding"] else ""))
    tp = mesh.get("tensor_parallel")
    if tp and (tp["column_parallel"] or tp["replicated_linears"]):
        over = "every chip" if tp["cluster_axis"] is None else f"mesh axis {tp['cluster_axis']}"
        text += (f"; tensor parallel over {over} ({tp['chips']} chips): {len(tp['column_parallel'])} column- and "
                 f"{len(tp['row_parallel'])} row-parallel linears, {tp['all_reduces']} all_reduce, "
                 f"{tp['all_gathers']} all_gather" + (f", {len(tp['replicated_linears'])} linear(s) replicated "
                                                      f"(reasons in the metrics)" if tp["replicated_linears"] else ""))
    return text


def write(path: str, records: list[dict]) -> str:
    os.makedirs(path, exist_ok=True)
    out = os.path.join(path, "torch_ttnn_metrics.json")
    with open(out, "w") as f:
        json.dump(records, f, indent=1, default=str)
    return out
