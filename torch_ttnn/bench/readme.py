"""README's Performance figures, generated from the committed results (never typed by hand).

`python -m torch_ttnn.bench.readme` rewrites two blocks of README.md from benchmarks/results: the one between
`<!-- bench:begin -->` and `<!-- bench:end -->` from `latest.json` (`bench_section`), and the one between
`<!-- compare:begin -->` and `<!-- compare:end -->` from `compare.md` (`compare_section`); and the model table's
mesh column (between `<!-- zoo:begin -->` and `<!-- zoo:end -->`, whose other columns `torch-ttnn zoo --readme`
writes) from `mesh-matrix.json` (`zoo_section`). `make bench` runs it after measuring; `--check` exits 1 when
README.md differs from what the results give (tests/bench/test_readme.py asserts the same).
Every sentence is made from the results file: a figure the file does not hold is not claimed.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

from .figures import TARGETS, met, normalised
from .report import describe_run, runs_used

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
BENCH = ("<!-- bench:begin -->", "<!-- bench:end -->")
COMPARE = ("<!-- compare:begin -->", "<!-- compare:end -->")
ZOO = ("<!-- zoo:begin -->", "<!-- zoo:end -->")

# What each target says in a sentence, and how a row's figure is shown next to a miss.
_TARGET_TEXT = {
    "compile_ratio": ("compile faster than Inductor", lambda v: f"{v:.2f}x"),
    "emu_ratio": ("the emulator within 1.5x of eager CPU", lambda v: f"{v:.2f}x"),
    "overhead_us_per_op": ("host overhead within 5 µs per TT-NN op", lambda v: f"{v:.1f} µs"),
    "transfer_ratio": ("transfers at the minimum", lambda v: f"{v:.2f}x"),
    "mem_ratio": ("peak host memory within 1.5x of eager", lambda v: f"{v:.2f}x"),
}


def _name(model: str) -> str:
    """The zoo model with the checkpoint its full config reproduces (the model name alone if not in the zoo)."""
    from ..zoo import REGISTRY
    spec = REGISTRY.get(str(model).lower())
    return f"{model} ({spec.full})" if spec else str(model)


def _num(v, fmt: str, unit: str = "") -> str:
    return "-" if v is None else f"{v:{fmt}}{unit}"


def _vs(a, b, fmt: str, unit: str, r) -> str:
    if a is None or b is None:
        return "-"
    return f"{a:{fmt}} vs {b:{fmt}} {unit} ({_num(r, '.2f', 'x')})"


def _row(r: dict) -> list[str]:
    eff = r.get("efficiency")
    return [_name(r.get("model")),
            _vs(r.get("compile_ttnn_s"), r.get("compile_inductor_s"), ".1f", "s", r.get("compile_ratio")),
            _vs(r.get("emu_ms"), r.get("eager_ms"), ".0f", "ms", r.get("emu_ratio")),
            _num(r.get("overhead_us_per_op"), ".1f"), _num(r.get("overhead_us_per_call"), ".1f"),
            f"{_num(r.get('transfers'), 'd')} ({_num(r.get('min_transfers'), 'd')})",
            (f"{r['device_ms']:.2f} vs {r['roofline_ms']:.2f} ms ({eff:.1%})"
             if r.get("device_ms") is not None and r.get("roofline_ms") is not None and eff is not None else "-"),
            _num(r.get("mem_ratio"), ".2f", "x")]


_HEAD = ["Model (checkpoint of its config)", "Compile: ttnn vs Inductor (cold)", "Emulator vs eager CPU",
         "Host µs per TT-NN op", "Host µs per call step", "Transfers (minimum)", "Est. device vs roofline",
         "Peak host memory vs eager"]


def _table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
    lines += ["| " + " | ".join(_row(r)) + " |" for r in rows]
    return "\n".join(lines)


def _targets(rows: list[dict]) -> str:
    """One clause per target: met on all / which rows miss it and by how much / not measured."""
    parts = []
    for key, (text, show) in _TARGET_TEXT.items():
        judged = [(r, met(key, r.get(key))) for r in rows]
        unmeasured = [r["model"] for r, ok in judged if ok is None]
        missed = [f"{r['model']} {show(r[key])}" for r, ok in judged if ok is False]
        if len(unmeasured) == len(rows):
            parts.append(f"{text}: not measured by this run")
            continue
        clause = f"{text}: missed by {', '.join(missed)}" if missed else f"{text}: met"
        if unmeasured:
            clause += f" (not measured for {', '.join(unmeasured)})"
        elif not missed:
            clause += " by all " + str(len(rows))
        parts.append(clause)
    return "; ".join(parts)


def _median(vals):
    vals = sorted(v for v in vals if v is not None)
    return vals[len(vals) // 2] if vals else None


def _medians(rows: list[dict]) -> str:
    m = {k: _median(r.get(k) for r in rows) for k in ("compile_ratio", "emu_ratio", "overhead_us_per_op",
                                                      "overhead_us_per_call", "transfer_ratio", "mem_ratio")}
    said = [f"compile {_num(m['compile_ratio'], '.2f', 'x')} Inductor's",
            f"emulator {_num(m['emu_ratio'], '.2f', 'x')} eager CPU"]
    if m["overhead_us_per_op"] is not None:
        said.append(f"{m['overhead_us_per_op']:.1f} µs host overhead per TT-NN op")
    if m["overhead_us_per_call"] is not None:
        said.append(f"{m['overhead_us_per_call']:.1f} µs per call step")
    said += [f"transfers {_num(m['transfer_ratio'], '.2f', 'x')} the minimum",
             f"peak memory {_num(m['mem_ratio'], '.2f', 'x')} eager's"]
    return ", ".join(said)


def _runs(results: dict, rows: list[dict]) -> str:
    return "\n".join(f"- {describe_run(run)}" for run in runs_used(results, rows))


def bench_section(results: dict) -> str:
    """The README's bench block from a latest.json's content."""
    rows = [normalised(r) for r in results.get("rows", [])]
    full = [r for r in rows if r.get("size") == "full"]
    tiny = [r for r in rows if r.get("size") == "tiny"]
    out = ["`make bench` (`torch-ttnn bench`) measures the compiler and the emulator against their peers, side by "
           "side in one run, as ratios (medians after warm-up; absolute times drift on shared machines), and "
           "writes [benchmarks/results/latest.md](benchmarks/results/latest.md) and `latest.json`; "
           "`make bench BENCH_ARGS=\"--size tiny\"` covers every zoo model, `BENCH_ARGS=\"--models bert,llama\"` "
           "picks some. This section is generated from `latest.json` by `python -m torch_ttnn.bench.readme` "
           "(`make bench` runs it). Est. device is the device-time model of the run's commit; the comparison "
           "below names its own."]
    if full:
        batch = ", ".join(str(b) for b in sorted({r.get("batch") for r in full}))
        out += ["", f"Full configs (batch {batch}; sequence 128, images at the config's size), measured by:", "",
                _runs(results, full), "", _table(full), "",
                f"Targets: {_targets(full)}."]
        if any(r.get("overhead_us_per_op") is None and r.get("overhead_us_per_call") is not None for r in full):
            out.append("Host µs per TT-NN op is missing where the run predates its split from the per-call-step "
                       "figure (every step of a compiled call, deallocations included, in the denominator); "
                       "per op, with deallocations left out of the count, it is higher.")
    if tiny:
        out += ["", f"Over the {len(tiny)} tiny configs (sequence 32), medians: {_medians(tiny)}; measured by:", "",
                _runs(results, tiny)]
    return "\n".join(out)


def compare_section(compare_md: str) -> str:
    """The README's compare block: compare.md without its title line."""
    return compare_md.split("\n", 2)[2]


def zoo_section(section: str, mesh_matrix: dict | None) -> str:
    """The README's zoo block (as `torch-ttnn zoo --readme` wrote it) with its mesh column from a
    mesh-matrix.json's content (every model "-" without one)."""
    from ..zoo.report import MESH_HEADER, MESH_LEGEND, with_column
    from .mesh_matrix import mesh_cells
    return with_column(section, MESH_HEADER, mesh_cells(mesh_matrix) if mesh_matrix else {}, MESH_LEGEND)


def _block(text: str, begin: str, end: str) -> str:
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start or text.count(begin) != 1:
        raise ValueError(f"README.md must contain exactly one `{begin}` ... `{end}` block")
    return text[start + len(begin) + 1:stop].rstrip("\n")


def expected(results_dir: pathlib.Path = RESULTS, readme: pathlib.Path = ROOT / "README.md") -> dict:
    """{markers: the block content the committed results give} (the zoo block: the README's own, its mesh column
    from the results)."""
    latest = json.loads((results_dir / "latest.json").read_text())
    return {BENCH: bench_section(latest), COMPARE: compare_section((results_dir / "compare.md").read_text()),
            ZOO: zoo_section(_block(readme.read_text(), *ZOO), mesh_matrix(results_dir))}


def mesh_matrix(results_dir: pathlib.Path = RESULTS) -> dict | None:
    """The committed mesh-matrix.json's content, None where there is none."""
    path = results_dir / "mesh-matrix.json"
    return json.loads(path.read_text()) if path.exists() else None


def current(readme: pathlib.Path = ROOT / "README.md") -> dict:
    text = readme.read_text()
    return {m: _block(text, *m) for m in (BENCH, COMPARE, ZOO)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m torch_ttnn.bench.readme", description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if README.md's blocks differ from the results")
    p.add_argument("--readme", default=str(ROOT / "README.md"))
    a = p.parse_args(argv)
    want = expected(readme=pathlib.Path(a.readme))
    if a.check:
        stale = [m[0] for m, text in current(pathlib.Path(a.readme)).items() if text != want[m].rstrip("\n")]
        if stale:
            print(f"{a.readme}: {', '.join(stale)} block(s) differ from benchmarks/results; run "
                  f"`python -m torch_ttnn.bench.readme`", file=sys.stderr)
            return 1
        return 0
    from ..zoo.report import update_readme
    for (begin, end), content in want.items():
        update_readme(a.readme, content, begin, end)
    print(f"updated the bench and compare blocks and the model table's mesh column of {a.readme} from {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
