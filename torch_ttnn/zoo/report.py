"""Zoo results as files: Markdown, CSV, JSON, PNG plots, and the README's model table (between markers)."""
from __future__ import annotations

import csv
import json
import math
import os
import re

from .measure import METRICS, PCC_THRESHOLD

BEGIN, END = "<!-- zoo:begin -->", "<!-- zoo:end -->"
# Columns of the human tables (CSV and JSON keep every field).
TABLE = ["model", "checkpoint", "status", "params", "device_ops", "cpu_ops", "h2d", "d2h", "compile_s",
         "cpu_ms", "run_ms", "device_ms", "pcc"]
HEADERS = {k: label for k, (label, _) in METRICS.items()}


def _fmt(key, v):
    if v is None or v == "":
        return ""
    if key == "params":
        return f"{v / 1e6:.1f}M" if v >= 1e5 else f"{v / 1e3:.0f}K"
    if key == "pcc":
        return f"{v:.5f}"
    if isinstance(v, float):
        return f"{v:.3g}" if v < 100 else f"{v:.0f}"
    return str(v)


def table_rows(rows: list[dict]) -> list[list[str]]:
    return [[_fmt(k, r.get(k)) for k in TABLE] for r in rows]


def markdown(rows: list[dict], title: str = "", note: str = "") -> str:
    from tabulate import tabulate
    body = tabulate(table_rows(rows), headers=[HEADERS[k] for k in TABLE], tablefmt="github", disable_numparse=True)
    failed = [r for r in rows if r.get("error")]
    cpu = [r for r in rows if r.get("fallbacks")]
    parts = [f"## {title}\n" if title else "", f"{note}\n" if note else "", body, ""]
    if failed:
        parts += ["Failed or skipped:", ""] + [f"- `{r['model']}`: {r['error']}" for r in failed] + [""]
    if cpu:
        parts += ["Ops left on CPU:", ""] + [
            f"- `{r['model']}`: " + ", ".join(f"{k} x{v}" for k, v in sorted(r["fallbacks"].items())) for r in cpu
        ] + [""]
    return "\n".join(parts)


def legend() -> str:
    return "\n".join(f"- **{label}** (`{k}`): {d}" for k, (label, d) in METRICS.items() if k in TABLE)


def write_csv(rows: list[dict], path: str) -> None:
    keys = list(METRICS)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: json.dumps(r.get(k)) if isinstance(r.get(k), dict) else r.get(k) for k in keys})


def plot(rows: list[dict], key: str, path: str, title: str, xlabel: str, log: bool = False,
         line: float | None = None, left: float = 0.0) -> None:
    """Horizontal bars, one per model (green pass, orange not yet, red failed with a label)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["model"] for r in rows]
    vals = [r.get(key) if isinstance(r.get(key), (int, float)) else math.nan for r in rows]
    colors = ["#999999" if r.get("status") == "skipped" else "#c0392b" if r.get("error") else "#e67e22" if r.get("status") != "pass" else "#27ae60" for r in rows]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.2))
    ax.barh(names, [0 if math.isnan(v) else v - left for v in vals], left=left, color=colors)
    for i, r in enumerate(rows):
        if r.get("error"):
            ax.text(left, i, f" {r.get('status') or 'failed'}", va="center", fontsize=7, color="#c0392b")
    if line is not None:
        ax.axvline(line, color="k", lw=0.8, ls="--")
    if log and any(v > 0 for v in vals if not math.isnan(v)):
        ax.set_xscale("log")
    elif left:
        ax.set_xlim(left, max([1.0] + [v for v in vals if not math.isnan(v)]))
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_info(settings: dict) -> dict:
    """What a results.json needs to be read later: when, from which commit (provenance.UNKNOWN outside a git
    checkout), with which versions and runtime, and how (`settings`, with the command line)."""
    import importlib.metadata as md
    import platform

    import torch

    import torch_ttnn
    from torch_ttnn import provenance, runtime

    def version(dist):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return None
    return {"date": provenance.now(), "commit": provenance.git_commit() or provenance.UNKNOWN,
            "versions": {"torch_ttnn": torch_ttnn.__version__, "torch": torch.__version__,
                         "transformers": version("transformers"), "ttnn": version("ttnn"),
                         "python": platform.python_version()},
            "runtime": runtime.reason(), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", **settings}


def read_results(path: str) -> list[dict]:
    """The rows of a results.json (a run record with rows, or the bare list older versions wrote)."""
    with open(path) as f:
        data = json.load(f)
    return data["rows"] if isinstance(data, dict) else data


def read_run(path: str) -> dict:
    """The run record of a results.json ({} for the bare lists older versions wrote, which had none)."""
    with open(path) as f:
        data = json.load(f)
    return (data.get("run") or {}) if isinstance(data, dict) else {}


def rendered_info(saved: dict, path: str, command: str) -> dict:
    """The run record of a report re-rendered `--from` a saved results.json: the saved measurement's record,
    plus when, at which commit and by which command it was rendered (`rendered`)."""
    from torch_ttnn import provenance
    return {**saved, "rendered": {"from": path, "date": provenance.now(),
                                  "commit": provenance.git_commit() or provenance.UNKNOWN, "command": command}}


def provenance_line(info: dict | None) -> str:
    """One sentence saying how, when, at which commit and on which runtime the rows were made, and, for a
    report rendered `--from` saved results, that it was and when."""
    from torch_ttnn.provenance import when_and_where
    info = info or {}
    how = f"`{info['command']}`" if info.get("command") else "a run whose command was not recorded"
    measured = (f"Measured by {how} on {when_and_where(info)}, runtime: {info.get('runtime') or 'not recorded'}"
                if info.get("date") else "Measured by a run that left no record (date, commit and runtime unknown)")
    r = info.get("rendered")
    if not r:
        return measured + "."
    return (f"{measured}. This table was rendered from those saved results ({r['from']}) by `{r['command']}` on "
            f"{when_and_where(r)}, not measured again.")


def write_all(rows: list[dict], out: str, size: str, info: dict | None = None) -> dict:
    """Write results.{md,csv,json} and the three plots into `out`; returns {kind: path}. results.json holds
    the run record (`run_info`) beside the rows."""
    os.makedirs(out, exist_ok=True)
    paths = {k: os.path.join(out, f) for k, f in (("md", "results.md"), ("csv", "results.csv"),
                                                   ("json", "results.json"), ("pcc", "pcc.png"),
                                                   ("cpu_ops", "cpu_ops.png"), ("device_ms", "device_time.png"))}
    with open(paths["md"], "w") as f:
        f.write(markdown(rows, f"torch-ttnn model zoo ({size} configs)", provenance_line(info)) + "\n" + legend()
                + "\n")
    write_csv(rows, paths["csv"])
    with open(paths["json"], "w") as f:
        json.dump({"run": info or {}, "rows": rows}, f, indent=1, default=str)
    # PCCs cluster near 1: zoom on [lowest - margin, 1] unless something is far off.
    pccs = [r["pcc"] for r in rows if isinstance(r.get("pcc"), (int, float)) and not math.isnan(r["pcc"])]
    lo = min(pccs + [PCC_THRESHOLD])
    left = max(0.0, lo - (1 - lo) * 0.25) if lo > 0.5 else 0.0
    plot(rows, "pcc", paths["pcc"], "PCC vs CPU float32", "PCC", line=PCC_THRESHOLD, left=left)
    plot(rows, "cpu_ops", paths["cpu_ops"], "Ops left on CPU", "ATen ops per call")
    plot(rows, "device_ms", paths["device_ms"], "Estimated device time", "ms per call", log=True)
    return paths


def readme_section(rows: list[dict], size: str, info: dict) -> str:
    ok = sum(r.get("status") == "pass" for r in rows)
    return (f"{provenance_line(info)} {ok}/{len(rows)} pass: nothing on CPU, PCC >= {PCC_THRESHOLD}. "
            f"Weights are seeded random (no downloads); configs reproduce the named checkpoints' "
            f"hyper-parameters ({size} size), except where a random model needs help to be well-conditioned as "
            f"a trained one is: BatchNorm statistics are calibrated on inputs like the example's, and Mamba is "
            f"drawn at init std 0.02 instead of its config's 0.1 (why in torch_ttnn/zoo).\n\n" + markdown(rows) + "\nColumns:\n\n" + legend() + "\n")


MESH_HEADER = "Mesh (largest run, PCC)"
MESH_LEGEND = (f"- **{MESH_HEADER}** (`mesh`): the largest emulated mesh the full config passed on (PCC >= 0.99 "
               f"vs CPU float32) with data parallel (dp), tensor parallel (tp) or both (dp+tp), and its PCC; fewer "
               f"layers of the config where that is what ran; `-`: not run on a mesh. From "
               f"benchmarks/results/mesh-matrix.json (`python -m torch_ttnn.bench.mesh_matrix`)")


def with_column(section: str, header: str, cells: dict[str, str], legend: str = "") -> str:
    """The zoo section with its model table's `header` column set from `cells` ({model: text}; "-" for a model
    not in it), added as the last column or replaced where it is there; `legend` added to (or replaced in) the
    column list. The rest of the section is kept as it is; the table is rendered again with tabulate as
    `markdown` renders it, so its other cells come out as they were."""
    from tabulate import tabulate
    lines = section.split("\n")
    start = next((i for i, ln in enumerate(lines) if ln.startswith("| Model ")), None)
    if start is None:
        raise ValueError("the zoo section has no model table (a line starting `| Model `)")
    stop = start
    while stop < len(lines) and lines[stop].startswith("|"):
        stop += 1

    def cells_of(line):
        return [c.strip() for c in line.strip().strip("|").split("|")]
    head = cells_of(lines[start])
    body = [cells_of(ln) for ln in lines[start + 2:stop]]
    if header in head:
        j = head.index(header)
        head, body = head[:j] + head[j + 1:], [r[:j] + r[j + 1:] for r in body]
    rows = [r + [cells.get(r[0], "-")] for r in body]
    table = tabulate(rows, headers=head + [header], tablefmt="github", disable_numparse=True).split("\n")
    lines[start:stop] = table
    if legend:
        lines = [ln for ln in lines if not ln.startswith(legend.split(":")[0] + ":")]
        last = max((i for i, ln in enumerate(lines) if ln.startswith("- **")), default=None)
        if last is not None:
            lines.insert(last + 1, legend)
    return "\n".join(lines)


def update_readme(path: str, content: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace what lies between the markers (the zoo's by default) in `path`; everything else is left byte
    for byte."""
    with open(path) as f:
        text = f.read()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"{path} must contain exactly one `{begin}` ... `{end}` block; add the two marker "
                         f"lines where the generated section should go")
    with open(path, "w") as f:
        f.write(pattern.sub(lambda m: f"{begin}\n{content.rstrip()}\n{end}", text))


def read_readme_section(path: str) -> str:
    with open(path) as f:
        text = f.read()
    m = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    if not m:
        raise ValueError(f"{path} has no zoo section between `{BEGIN}` and `{END}`")
    return m.group(1)
