"""The mesh matrix: BERT and Llama, tiny and full configs, on emulated 1x2, 2x4 and 8x4 meshes, data parallel,
tensor parallel and both; every cell checked against CPU float32.

`python -m torch_ttnn.bench.mesh_matrix [--write] [--models bert,llama] [--sizes tiny,full] [--meshes 1x2,2x4,8x4]
[--modes dp,tp,dp+tp]` compiles each cell with `torch.compile(backend=torch_ttnn.backend)` on an emulated mesh
(the card preset that has it: n300 1x2, T3000 2x4, Galaxy 8x4), runs it, and records the PCC of the judged output
(BERT's last_hidden_state, Llama's logits) against the same model in float32 on the CPU, the est. device time of
the busiest chip and of every chip, the time the collectives take on the chips, the ATen ops left on the CPU, what
tensor parallel split and what it left replicated (with the reason), and, for a cell that fails, why. `--write`
writes benchmarks/results/mesh-matrix.json and .md (the README's mesh column is generated from the JSON).

The cells. `dp`: `data_parallel=True`, the batch (one sample per chip) split over every chip. `tp`:
`tensor_parallel=True` over every chip, batch 1. `dp+tp`: `data_parallel=True, data_parallel_axis=0,
tensor_parallel=True`: the batch over the mesh rows (one sample per row), each block split Megatron style over
the columns. On the 1x2 mesh, whose row axis has one chip, dp+tp is not a third cell: the batch would be "split"
over one chip and the cell would be the tp cell again, so it is recorded as not applicable (never as a pass).

The configs. Tiny: the zoo's tiny configs (2 layers, hidden 64, 2 attention heads; Llama 1 key/value head), so
their attention cannot split over more chips than it has heads and tensor parallel leaves it replicated (the
record says which linears and why); their MLPs split. Full: the zoo's full configs (bert-base-uncased;
Llama-3.2-1B), all their layers by default; `--full-layers model=N` runs N layers of that config (where a run
must be cut short: the host's memory or time). The emulator holds the chips' tensors in the host's memory, but
chips holding the same values share one copy (sim/mesh_share.py), so a weight replicated over 32 chips costs
one host copy, not 32 (Llama-3.2-1B's 128256 x 2048 embedding and LM head above all). Every
layer has the same shapes, so N layers exercise what all do; the record names the layer count run. Sequences
are short (32 tokens).

Where the emulator is kinder than a card: data-parallel inference has no collective, so its scaling is by
construction; host dispatch to N chips and PCIe are not in the device-time model.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import pathlib
import time
import sys
import traceback
from dataclasses import asdict, dataclass, field

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
JSON_PATH, MD_PATH = RESULTS / "mesh-matrix.json", RESULTS / "mesh-matrix.md"

MODELS = ("bert", "llama")
SIZES = ("tiny", "full")
MESHES = {"1x2": "n300", "2x4": "t3000", "8x4": "galaxy"}
MODES = ("dp", "tp", "dp+tp")
SEQ = 32
PCC_MIN = 0.99
# Full-config layers run by default: all of them (12 for bert-base, 16 for Llama-3.2-1B).
FULL_LAYERS = {"bert": 12, "llama": 16}


@dataclass
class Cell:
    """One run of the matrix: what was asked and what came out (None where a figure was not measured)."""
    model: str
    size: str
    mesh: str
    preset: str
    mode: str
    layers: int | None = None          # encoder/decoder layers of the config that ran
    of_layers: int | None = None       # layers of the config in full
    batch: int | None = None
    seq: int = SEQ
    status: str = "not run"            # pass | low-pcc | failed | n/a | skipped
    reason: str = ""                   # why it failed / was skipped / is not applicable
    pcc: float | None = None
    device_ms: float | None = None     # the busiest chip's est. device time per call
    per_chip_ms: list = field(default_factory=list)
    collective_ms: float | None = None
    cpu_ops: int | None = None
    fallbacks: dict = field(default_factory=dict)
    data_parallel: dict | None = None    # the metrics' mesh.data_parallel entry
    tensor_parallel: dict | None = None  # a summary of mesh.tensor_parallel
    compile_s: float | None = None
    wall_s: float | None = None
    date: str = ""                     # when, and at which commit, the cell was measured
    commit: str = ""
    free_host_params: bool = False     # compiled with free_host_params=True (the CPU model's weights freed once
    #                                    uploaded: host memory only, the device figures are the same)

    @property
    def key(self) -> tuple:
        return self.model, self.size, self.mesh, self.mode


def build(model: str, size: str, batch: int, layers: int | None):
    """The zoo's `model` at `size` with `layers` layers of its config (None: all), seeded, sequence SEQ."""
    import torch
    import transformers as hf

    from torch_ttnn.zoo.inputs import attr, init, tokens
    from torch_ttnn.zoo.registry import Example
    cls = {"bert": hf.BertModel, "llama": hf.LlamaForCausalLM}[model]
    # the zoo's config, read from its builder at batch 1 on the meta device (no memory)
    from torch_ttnn import zoo
    cfg = zoo.build(model, size, batch=1, meta=True).model.config
    full_layers = cfg.num_hidden_layers
    if layers is not None:
        cfg.num_hidden_layers = min(layers, full_layers)
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = init(cls, cfg).eval()
    pad = 0 if model == "bert" else None
    ids, mask = tokens(gen, batch, SEQ, cfg.vocab_size, pad, 3)
    kwargs = dict(input_ids=ids, attention_mask=mask)
    if model == "llama":
        kwargs["use_cache"] = False
    output = "last_hidden_state" if model == "bert" else "logits"
    return Example(net, (), kwargs, attr(output), output, name=model, size=size), cfg.num_hidden_layers, full_layers


def _option(mesh, mode: str, free_host_params: bool = False):
    import torch_ttnn
    kw = {"dp": dict(data_parallel=True), "tp": dict(tensor_parallel=True),
          "dp+tp": dict(data_parallel=True, data_parallel_axis=0, tensor_parallel=True)}[mode]
    return torch_ttnn.TorchTtnnOption(device=mesh, verbose=False, free_host_params=free_host_params, **kw)


def _batch(shape: tuple[int, int], mode: str) -> int:
    return {"dp": shape[0] * shape[1], "tp": 1, "dp+tp": shape[0]}[mode]


def _tp_summary(tp: dict | None) -> dict | None:
    if not tp:
        return None
    keep = ("chips", "cluster_axis", "all_reduces", "all_gathers", "replicated_linears")
    out = {k: tp[k] for k in keep if k in tp}
    out["column_parallel"] = len(tp.get("column_parallel") or [])
    out["row_parallel"] = len(tp.get("row_parallel") or [])
    return out


def _merge_metrics(ms: list[dict]) -> dict:
    """One record from the compiled graphs of a call (a graph break makes more than one)."""
    per_chip = None
    for m in ms:
        pc = (m.get("mesh") or {}).get("device_time_per_chip_ms") or [m.get("device_time_ms") or 0.0]
        per_chip = pc if per_chip is None else [a + b for a, b in zip(per_chip, pc)]
    fallbacks: dict = {}
    for m in ms:
        for k, v in (m.get("fallbacks") or {}).items():
            fallbacks[k] = fallbacks.get(k, 0) + v
    mesh = [m.get("mesh") or {} for m in ms]
    return {"per_chip": per_chip or [], "device_ms": sum(m.get("device_time_ms") or 0.0 for m in ms),
            "collective_ms": sum(x.get("collective_ms") or 0.0 for x in mesh),
            "cpu_ops": sum(m.get("cpu_ops") or 0 for m in ms), "fallbacks": fallbacks,
            "compile_s": sum(m.get("compile_s") or 0.0 for m in ms),
            "dp": next((x["data_parallel"] for x in mesh if x.get("data_parallel")), None),
            "tp": next((x["tensor_parallel"] for x in mesh if x.get("tensor_parallel")), None)}


def run_cell(cell: Cell, full_layers: dict) -> Cell:
    """Compile and run one cell on its mesh; fill in its figures or why it failed."""
    import torch

    import torch_ttnn
    import torch_ttnn.sim as ttnn
    from torch_ttnn.compiler.metrics import pcc
    shape = tuple(int(v) for v in cell.mesh.split("x"))
    if cell.mode == "dp+tp" and shape[0] == 1:
        cell.status, cell.reason = "n/a", (f"the {cell.mesh} mesh has one chip along its row axis: data parallel "
                                           f"over it splits nothing, so dp+tp is the tp cell")
        return cell
    cell.batch = _batch(shape, cell.mode)
    t0 = time.perf_counter()
    saved = os.environ.get("TORCH_TTNN_SIM_ARCH")
    os.environ["TORCH_TTNN_SIM_ARCH"] = cell.preset
    mesh = ex = compiled = option = ref = got = None
    try:
        ex, cell.layers, cell.of_layers = build(cell.model, cell.size, cell.batch,
                                                full_layers.get(cell.model) if cell.size == "full" else None)
        ref = ex.run().float()
        mesh = ttnn.open_mesh_device(ttnn.MeshShape(*shape))
        option = _option(mesh, cell.mode, cell.free_host_params)
        torch._dynamo.reset()
        compiled = torch.compile(ex.model, backend=torch_ttnn.backend, options=option)
        got = ex.run(compiled).float()
        m = _merge_metrics(option.metrics)
        cell.pcc = float(pcc(ref, got)) if got.shape == ref.shape else None
        cell.per_chip_ms, cell.device_ms = m["per_chip"], max(m["per_chip"]) if m["per_chip"] else m["device_ms"]
        cell.collective_ms, cell.cpu_ops, cell.fallbacks = m["collective_ms"], m["cpu_ops"], m["fallbacks"]
        cell.compile_s, cell.data_parallel, cell.tensor_parallel = m["compile_s"], m["dp"], _tp_summary(m["tp"])
        if got.shape != ref.shape:
            cell.status, cell.reason = "failed", f"output shape {list(got.shape)}, CPU's {list(ref.shape)}"
        elif cell.pcc is None or not math.isfinite(cell.pcc) or cell.pcc < PCC_MIN:
            cell.status, cell.reason = "low-pcc", f"PCC {cell.pcc} < {PCC_MIN}"
        else:
            cell.status = "pass"
    except Exception as e:  # a cell's failure is a result of the matrix, recorded with its reason
        cell.status = "failed"
        cell.reason = f"{type(e).__name__}: {e}".strip()
        if os.environ.get("MESH_MATRIX_TRACEBACK"):
            traceback.print_exc()
    finally:
        if mesh is not None:
            ttnn.close_mesh_device(mesh)
        if saved is None:
            os.environ.pop("TORCH_TTNN_SIM_ARCH", None)
        else:
            os.environ["TORCH_TTNN_SIM_ARCH"] = saved
        torch._dynamo.reset()
        # this cell's model, program and device values go before the next cell builds its own (a full Llama's are
        # GBs: a run of several cells in one process was OOM-killed holding two cells' worth)
        mesh = ex = compiled = option = ref = got = None
        gc.collect()
        cell.wall_s = round(time.perf_counter() - t0, 2)
        from torch_ttnn import provenance
        cell.date, cell.commit = provenance.now(), provenance.git_commit() or provenance.UNKNOWN
    return cell


def cells(models, sizes, meshes, modes, free_host_params: bool = False) -> list[Cell]:
    return [Cell(m, s, mesh, MESHES[mesh], mode, free_host_params=free_host_params)
            for m in models for s in sizes for mesh in meshes for mode in modes]


def _fmt(v, f):
    return "-" if v is None else format(v, f)


def table(rows: list[Cell]) -> str:
    """The matrix as a GitHub Markdown table (tabulate)."""
    from tabulate import tabulate

    def layers(c):
        if c.layers is None:
            return "-"
        return f"{c.layers}" if c.layers == c.of_layers else f"{c.layers} of {c.of_layers}"

    def split(c):
        tp = c.tensor_parallel
        if not tp or c.mode == "dp":
            return "-"
        rep = sum(len(v) if isinstance(v, (list, tuple)) else 1 for v in (tp.get("replicated_linears") or {}).values())
        return f"{tp.get('column_parallel', 0)} col / {tp.get('row_parallel', 0)} row / {rep} replicated"
    body = [(c.model, c.size, layers(c), f"{c.mesh} ({c.preset})", c.mode, _fmt(c.batch, "d"), c.status,
             _fmt(c.pcc, ".5f"), _fmt(c.device_ms, ".3f"), _fmt(c.collective_ms, ".3f"), _fmt(c.cpu_ops, "d"),
             split(c), (c.reason[:160] + ("..." if len(c.reason) > 160 else "")).replace("|", "/").replace("\n", " "))
            for c in rows]
    return tabulate(body, headers=["model", "config", "layers", "mesh", "mode", "batch", "status", "PCC",
                                   "est. device ms / chip", "collective ms", "CPU ops", "TP linears",
                                   "reason"], tablefmt="github", disable_numparse=True)


def _provenance(cells_json: list[dict], commands: list[str]) -> str:
    """Which commands measured the cells, when and at which commits (cells are merged over runs)."""
    from torch_ttnn.provenance import at_commit
    dates = sorted(c.get("date") or "" for c in cells_json if c.get("date"))
    commits = sorted({c.get("commit") or "" for c in cells_json})
    when = (f"{dates[0]} .. {dates[-1]}" if dates and dates[0] != dates[-1] else
            dates[0] if dates else "an unknown date")
    return (f"Measured by {', '.join(f'`{c}`' for c in commands) or 'an unrecorded command'} on {when}, "
            f"{', '.join(at_commit(c) for c in commits)} (each cell's date and commit are in the JSON)")


def markdown(record: dict) -> str:
    rows = [_cell(c) for c in record["cells"]]
    have = {c.key for c in rows}
    missing = [c for c in cells(MODELS, SIZES, list(MESHES), MODES) if c.key not in have]
    for c in missing:
        c.reason = "not measured: see the notes"
    rows = sorted(rows + missing, key=lambda c: (MODELS.index(c.model), SIZES.index(c.size),
                                                 list(MESHES).index(c.mesh), MODES.index(c.mode)))
    ran = [c for c in rows if c.status not in ("n/a", "not run")]
    ok = sum(c.status == "pass" for c in ran)
    full: dict = {}
    for c in rows:
        if c.size == "full" and c.layers:
            full.setdefault(c.model, {})[c.layers] = c.of_layers
    layers = "; ".join(m + " " + " or ".join(f"{n} of {of}" if n != of else f"all {of}" for n, of in sorted(d.items()))
                       + " layers" for m, d in full.items())
    cut = any(n != of for d in full.values() for n, of in d.items())
    lines = ["# Mesh matrix: BERT and Llama on emulated meshes", "",
             f"{_provenance(record['cells'], record.get('commands') or [record.get('command', '')])}. "
             f"{ok} of {len(ran)} cells run pass (PCC >= {PCC_MIN} against CPU float32; n/a cells not counted)"
             f"{f'; {len(missing)} cells not run' if missing else ''}. "
             f"Sequence {record['seq']}; batch: one sample per chip (dp), 1 (tp), one per mesh row (dp+tp). "
             f"Full configs (bert-base-uncased, Llama-3.2-1B): {layers or 'not run'}"
             f"{'; where fewer than the config has, the notes say why' if cut else ''}. "
             f"Chips holding the same values share one host copy in the emulator (sim/mesh_share.py); every "
             f"chip's memory and device time are its own.", "",
             "Est. device ms / chip is the busiest chip's est. device time per call (the chips run in parallel); "
             "collective ms is the time the chips spend in all_reduce / all_gather (priced from TT's measured "
             "Ethernet figures). TP linears: column-parallel / row-parallel / left replicated (why, per linear, is "
             "in the JSON's tensor_parallel.replicated_linears: mostly head counts that the chip count does not "
             "divide). On the 1x2 mesh dp+tp is n/a: its row axis has one chip, so the cell would be the tp cell.",
             "", table(rows), ""]
    notes = record.get("notes") or []
    if notes or missing:
        lines += ["Notes:", ""] + [f"- {n}" for n in notes] + \
            ([] if notes else ["- the cells not run were not measured by any run merged here"]) + [""]
    return "\n".join(lines)


def mesh_cells(record: dict) -> dict[str, str]:
    """The README model table's mesh column: for each model, the largest mesh its FULL config passed on (most
    chips; dp+tp before tp before dp on a tie), with the mode and PCC; a run of fewer layers says so."""
    order = {"dp+tp": 0, "tp": 1, "dp": 2}
    best: dict[str, Cell] = {}
    for c in (_cell(d) for d in record["cells"]):
        if c.size != "full" or c.status != "pass":
            continue
        chips = math.prod(int(v) for v in c.mesh.split("x"))
        have = best.get(c.model)
        if have is None or (chips, -order[c.mode]) > (math.prod(int(v) for v in have.mesh.split("x")),
                                                      -order[have.mode]):
            best[c.model] = c
    out = {}
    for name, c in best.items():
        layers = "" if c.layers == c.of_layers else f", {c.layers} of {c.of_layers} layers"
        out[name] = f"{c.mesh} {c.mode} ({c.pcc:.4f}{layers})"
    return out


def _record(cells_done: list[Cell], command: str) -> dict:
    from torch_ttnn import provenance
    commit = provenance.git_commit() or provenance.UNKNOWN
    date = provenance.now()
    return {"date": date, "commit": commit, "command": command, "seq": SEQ,
            "cells": [dict(asdict(c), date=c.date or date, commit=c.commit or commit) for c in cells_done]}


def write(cells_done: list[Cell], out: pathlib.Path, command: str) -> dict:
    """Merge `cells_done` into out/mesh-matrix.json (a cell measured again replaces its old record; the others
    are kept, each with the date and commit it was measured at) and write mesh-matrix.md from the result."""
    record = _record(cells_done, command)
    out.mkdir(parents=True, exist_ok=True)
    path = out / JSON_PATH.name
    old = json.loads(path.read_text()) if path.exists() else {}
    mine = {c.key for c in cells_done}
    kept = [c for c in old.get("cells", []) if _key(c) not in mine]
    record["cells"] = sorted(kept + record["cells"], key=lambda c: (
        MODELS.index(c["model"]), SIZES.index(c["size"]), list(MESHES).index(c["mesh"]), MODES.index(c["mode"])))
    record["commands"] = [x for x in old.get("commands", []) if x != command] + [command]
    record["notes"] = old.get("notes") or []
    record.pop("command", None)
    path.write_text(json.dumps(record, indent=1) + "\n")
    (out / MD_PATH.name).write_text(markdown(record))
    return record


def merge(paths: list[str], out: pathlib.Path, notes: list[str] = ()) -> dict:
    """Merge the cells of other runs' mesh-matrix.json files (runs made in parallel, each with its own --out)
    into out/mesh-matrix.json, in the order given (a later file's cell replaces an earlier one's). A cell keeps
    the date and commit it was measured at (a file that recorded them per run only gives its run's)."""
    path = out / JSON_PATH.name
    record = json.loads(path.read_text()) if path.exists() else {"seq": SEQ, "cells": [], "commands": []}
    cells = {_key(c): c for c in record["cells"]}
    commands = list(record.get("commands") or [])
    for p in paths:
        other = json.loads(pathlib.Path(p).read_text())
        if other.get("seq", SEQ) != record.get("seq", SEQ):
            raise SystemExit(f"mesh_matrix --merge: {p} ran sequence {other.get('seq')}, "
                             f"{path} {record.get('seq')}: measure them alike")
        for c in other["cells"]:
            cells[_key(c)] = {**c, "date": c.get("date") or other.get("date"),
                              "commit": c.get("commit") or other.get("commit")}
        for cmd in other.get("commands") or [other.get("command")]:
            if cmd and cmd not in commands:
                commands.append(cmd)
    record.update(cells=sorted(cells.values(), key=lambda c: (
        MODELS.index(c["model"]), SIZES.index(c["size"]), list(MESHES).index(c["mesh"]), MODES.index(c["mode"]))),
        commands=commands)
    record["notes"] = list(dict.fromkeys([*(record.get("notes") or []), *notes]))
    record.pop("command", None)
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    (out / MD_PATH.name).write_text(markdown(record))
    return record


def _key(d: dict) -> tuple:
    return d["model"], d["size"], d["mesh"], d["mode"]


def _cell(d: dict) -> Cell:
    """A Cell from its JSON record (the record's date and commit are not Cell fields)."""
    return Cell(**{k: v for k, v in d.items() if k in Cell.__dataclass_fields__})


def main(argv=None) -> dict:
    from tqdm import tqdm

    ap = argparse.ArgumentParser(prog="python -m torch_ttnn.bench.mesh_matrix", description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--meshes", default=",".join(MESHES))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--full-layers", default=",".join(f"{k}={v}" for k, v in FULL_LAYERS.items()),
                    help="layers of each full config to run, e.g. bert=12,llama=2")
    ap.add_argument("--free-host-params", action="store_true", help="compile with free_host_params=True: the CPU "
                    "model's weights are freed once on the mesh (after its CPU reference ran), for a cell that does "
                    "not fit the host's memory otherwise; the device figures do not change")
    ap.add_argument("--write", action="store_true", help=f"write {JSON_PATH.name} and {MD_PATH.name} under --out "
                                                         f"after every cell (merged with the cells already there)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--note", action="append", default=[], help="a note for the results' Notes (why cells "
                    "were not run, what limited them); with --merge or --write")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="measure nothing: merge these runs' "
                    "mesh-matrix.json files into --out's (runs made in parallel, each with its own --out)")
    a = ap.parse_args(argv)
    if a.merge:
        record = merge(a.merge, pathlib.Path(a.out), a.note)
        print(f"merged {len(a.merge)} file(s) into {pathlib.Path(a.out) / JSON_PATH.name}")
        print(table([_cell(c) for c in record["cells"]]))
        return record
    pick = {k: [v for v in getattr(a, k).split(",") if v] for k in ("models", "sizes", "meshes", "modes")}
    for k, allowed in (("models", MODELS), ("sizes", SIZES), ("meshes", tuple(MESHES)), ("modes", MODES)):
        bad = [v for v in pick[k] if v not in allowed]
        if bad:
            ap.error(f"--{k}: {', '.join(bad)} not one of {', '.join(allowed)}")
    full_layers = {k: int(v) for k, v in (kv.split("=") for kv in a.full_layers.split(",") if kv)}
    todo = cells(pick["models"], pick["sizes"], pick["meshes"], pick["modes"], a.free_host_params)
    command = "python -m torch_ttnn.bench.mesh_matrix " + " ".join(argv if argv is not None else sys.argv[1:])
    done: list[Cell] = []
    bar = tqdm(todo, unit="cell")
    for c in bar:
        bar.set_description(f"{c.model} {c.size} {c.mesh} {c.mode}")
        done.append(run_cell(c, full_layers))
        tqdm.write(f"{c.model:5} {c.size:4} {c.mesh} {c.mode:5} {c.status:7} pcc={_fmt(c.pcc, '.5f')} "
                   f"dev={_fmt(c.device_ms, '.3f')}ms coll={_fmt(c.collective_ms, '.3f')}ms {c.wall_s}s "
                   f"{c.reason[:200]}")
        if a.write:    # after every cell: a long run that dies keeps what it measured
            record = write(done, pathlib.Path(a.out), command)
    if not a.write:
        record = _record(done, command)
    else:
        print(f"wrote {pathlib.Path(a.out) / JSON_PATH.name} and {pathlib.Path(a.out) / MD_PATH.name}")
    print(table(done))
    return record


if __name__ == "__main__":
    main()
