"""Check (and re-fit) the emulator's device-time model against matmuls measured on real cards.

`python -m torch_ttnn.bench.calibrate` prints how well `torch_ttnn.sim.cost` explains every row of
benchmarks/reference/gemm-n150-measured.csv (TT's GEMM_FLOPS report: one `ttnn.matmul` on an n150, out-of-box
and tuned configs, DRAM or L1-sharded operands, three dtypes, three fidelities, with and without trace);
`--fit` re-fits the fitted figures of `CostFigures` over the whole table (least squares of the log ratio;
never to one row) and prints them to paste into the card's figures with the fit's quality.

Two figures are compared per row: device kernel time (derived from the row's device utilisation, the
publisher's definition: ideal cycles / utilisation) and host-visible time (the row's measured time per op,
which includes dispatch unless the row was traced).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import pathlib
from typing import NamedTuple

from torch_ttnn.sim import cost
from torch_ttnn.sim.device import ARCHS
from torch_ttnn.sim.types import DataType, tile_bytes

REFERENCE = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "reference"
TABLE = REFERENCE / "gemm-n150-measured.csv"
# Blackhole rows are the out-of-sample check: the figures were fitted to the n150 table only.
TABLES = {"n150": TABLE, "p150": REFERENCE / "gemm-p150-measured.csv"}
_PASSES = {"LoFi": 1, "HiFi2": 2, "HiFi3": 3, "HiFi4": 4}


class GemmRow(NamedTuple):
    mode: str
    m: int
    k: int
    n: int
    trace: bool
    grid: tuple[int, int]
    in0: str
    in1: str
    out: str
    dtype: DataType
    fidelity: str
    time_ns: float          # measured host-visible time per op
    device_ns: float        # derived device kernel time

    @property
    def label(self) -> str:
        return (f"{self.mode} {'trace' if self.trace else 'dispatch'} {self.in0}/{self.in1}/{self.out} "
                f"{self.dtype.name} {self.fidelity} {self.m}x{self.k}x{self.n}")


def load(path: pathlib.Path = TABLE) -> list[GemmRow]:
    with open(path) as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    out = []
    for r in rows:
        m, k, n = int(r["M"]), int(r["K"]), int(r["N"])
        gx, gy = (int(v) for v in r["grid"].split("x"))  # written (x, y) as the report prints it
        ideal_cycles = m * k * n / 32 ** 3 * cost.LOFI_TILE_CYCLES * _PASSES[r["fidelity"]] / (gy * gx)
        device_ns = ideal_cycles / (float(r["device_util_pct"]) / 100) / ARCHS[r["card"]].clock_hz * 1e9
        out.append(GemmRow(r["mode"], m, k, n, r["trace"] == "True", (gy, gx), r["in0"], r["in1"], r["out"],
                           DataType[r["dtype"]], r["fidelity"], float(r["time_ns"]), device_ns))
    return out


def _operand(rows: int, cols: int, dtype: DataType, where: str) -> cost.Operand:
    tb = tile_bytes(dtype)
    tiles = -(-rows // 32) * -(-cols // 32)
    return cost.Operand(tiles * tb, cost.Storage.L1_SHARDED if where == "L1" else cost.Storage.DRAM, tb)


def predict(row: GemmRow, spec) -> cost.OpRecord:
    """The model's record for one table row, built exactly as `ttnn.matmul` builds its own."""
    work = cost.matmul_work(1, row.m, row.k, row.n, _operand(row.m, row.k, row.dtype, row.in0),
                            _operand(row.k, row.n, row.dtype, row.in1), _operand(row.m, row.n, row.dtype, row.out),
                            passes=_PASSES[row.fidelity], fp32_acc=False, grid_y=row.grid[0], grid_x=row.grid[1])
    return cost.price("ttnn.matmul", work, spec)


class Fit(NamedTuple):
    rows: int
    device_within: float     # share of rows whose predicted kernel time is within 1.25x of the measured one
    host_within: float
    device_median: float     # median predicted / measured
    host_median: float
    worst: list              # (ratio, row label), worst first


def evaluate(spec=None, rows=None, tolerance: float = 1.25) -> Fit:
    spec = spec or ARCHS["n150"]
    rows = rows if rows is not None else load()
    dev, host, worst = [], [], []
    for r in rows:
        rec = predict(r, spec)
        d, h = rec.kernel_ns / r.device_ns, (rec.trace_ns if r.trace else rec.host_ns) / r.time_ns
        dev.append(d)
        host.append(h)
        worst.append((max(d, 1 / d, h, 1 / h), r.label))

    def within(xs):
        return sum(1 / tolerance <= x <= tolerance for x in xs) / len(xs)
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    return Fit(len(rows), within(dev), within(host), med(dev), med(host), sorted(worst, reverse=True)[:10])


_FITTED = ("math_efficiency", "unpack_bytes_per_cycle", "noc_bytes_per_cycle", "kernel_launch_ns",
           "dispatch_ns", "sharded_dispatch_ns", "trace_launch_ns", "dram_tail")


def _loss(spec, rows) -> float:
    total = 0.0
    for r in rows:
        rec = predict(r, spec)
        total += math.log(rec.kernel_ns / r.device_ns) ** 2
        total += math.log((rec.trace_ns if r.trace else rec.host_ns) / r.time_ns) ** 2
    return total


def fit(spec=None, rows=None, iters: int = 3000):
    """Nelder-Mead over the log of the fitted figures (numpy only); returns the spec with the best figures."""
    import numpy as np
    spec = spec or ARCHS["n150"]
    rows = rows if rows is not None else load()
    x0 = np.log([getattr(spec.cost, f) for f in _FITTED])

    def f(z):
        figs = dataclasses.replace(spec.cost, **{k: float(v) for k, v in zip(_FITTED, np.exp(z))})
        return _loss(dataclasses.replace(spec, cost=figs), rows)
    simplex = [x0] + [x0 + 0.2 * np.eye(len(x0))[i] for i in range(len(x0))]
    vals = [f(s) for s in simplex]
    for _ in range(iters):
        order = np.argsort(vals)
        simplex, vals = [simplex[i] for i in order], [vals[i] for i in order]
        c = np.mean(simplex[:-1], axis=0)
        xr = 2 * c - simplex[-1]
        fr = f(xr)
        if fr < vals[0]:
            xe = 3 * c - 2 * simplex[-1]
            fe = f(xe)
            simplex[-1], vals[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < vals[-2]:
            simplex[-1], vals[-1] = xr, fr
        else:
            xc = (c + simplex[-1]) / 2
            fc = f(xc)
            if fc < vals[-1]:
                simplex[-1], vals[-1] = xc, fc
            else:
                simplex = [simplex[0]] + [(s + simplex[0]) / 2 for s in simplex[1:]]
                vals = [vals[0]] + [f(s) for s in simplex[1:]]
    best = simplex[int(np.argmin(vals))]
    figs = dataclasses.replace(spec.cost, **{k: float(v) for k, v in zip(_FITTED, np.exp(best))})
    return dataclasses.replace(spec, cost=figs)


def report(fit_: Fit, card: str = "n150") -> str:
    lines = [f"{fit_.rows} measured {card} matmuls: kernel time within 1.25x for {fit_.device_within:.0%} "
             f"(median ratio {fit_.device_median:.2f}), host-visible time within 1.25x for {fit_.host_within:.0%} "
             f"(median ratio {fit_.host_median:.2f})", "worst rows (predicted/measured, further from 1 of the two):"]
    lines += [f"  {ratio:5.2f}x  {label}" for ratio, label in fit_.worst]
    return "\n".join(lines)


RESULT = TABLE.parents[1] / "results" / "cost-model-fit.md"


def write(fits: dict, path: pathlib.Path = RESULT) -> pathlib.Path:
    """The fits as a Markdown page saying how, when and at which commit it was made (the README links it)."""
    from ..provenance import when_and_where
    from .suite import meta
    prov = meta({})
    blocks = "\n\n".join(f"```\n{report(f, card)}\n```" for card, f in fits.items())
    path.write_text(
        f"# Device-time model vs measured matmuls\n\n"
        f"Made by `python -m torch_ttnn.bench.calibrate --write` on {when_and_where(prov)} "
        f"(torch {prov['torch']}): `torch_ttnn.sim.cost` with each card's figures of `sim/device.py`, against "
        f"{', '.join(TABLES[c].name for c in fits)} (TT's GEMM_FLOPS report). The fitted figures were fitted "
        f"to the n150 table only: the p150 rows (both grids the report measured) are out of sample. Kernel "
        f"time is compared with the row's device utilisation turned into time (the publisher's definition), "
        f"host-visible time with the row's measured time per op (traced rows: replayed from a "
        f"trace).\n\n{blocks}\n")
    return path


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m torch_ttnn.bench.calibrate", description=__doc__.split("\n")[0])
    p.add_argument("--fit", action="store_true", help="re-fit the fitted figures over the whole table")
    p.add_argument("--write", action="store_true", help=f"write the fit to {RESULT.relative_to(TABLE.parents[2])}")
    a = p.parse_args(argv)
    spec = ARCHS["n150"]
    if a.fit:
        spec = fit(spec)
        print("fitted figures:", {k: round(getattr(spec.cost, k), 3) for k in _FITTED})
    fits = {"n150": evaluate(spec), "p150": evaluate(ARCHS["p150"], load(TABLES["p150"]))}
    for card, f in fits.items():
        print(report(f, card))
    if a.write:
        print("wrote", write(fits))


if __name__ == "__main__":
    main()
