"""Check (and re-fit) the collective-time model (`sim.cost.ccl_time_ns`) against TT's measured Wormhole CCLs.

`python -m torch_ttnn.bench.ccl` prints how well the model explains every row of
benchmarks/reference/ccl-wormhole-measured.csv (tt-metal tech_reports/CCLs: all_gather, reduce_scatter and
all_reduce on 2, 4 and 8 Wormhole chips, line and ring, 4 KiB to 8 GiB, traced kernel time, 1 link per
direction); `--fit` re-fits each curve's setup time and link efficiency (least squares of the log ratio over all
of that curve's sizes) and prints the table to paste into `cost.CCL_FIT`.
"""
from __future__ import annotations

import argparse
import csv
import math
import pathlib
from typing import NamedTuple

import numpy as np

from torch_ttnn.sim import cost

TABLE = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "reference" / "ccl-wormhole-measured.csv"


class CclRow(NamedTuple):
    op: str
    topology: str
    n: int
    size_bytes: int
    time_ns: float


class CclFit(NamedTuple):
    rows: int
    within: float          # share of rows the model gets within 1.25x
    median: float          # median model/measured ratio
    worst: tuple[float, float]


def load(path: pathlib.Path = TABLE) -> list[CclRow]:
    with open(path) as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    return [CclRow(r["op"], r["topology"], int(r["n"]), int(r["size_bytes"]), float(r["time_us"]) * 1e3)
            for r in rows]


def predict(row: CclRow, fit=None) -> float:
    return cost.ccl_time_ns(row.op, row.n, row.size_bytes, topology=row.topology, links=1,
                            link_bw=cost.WORMHOLE_LINK_BW, fit=fit)


def evaluate(rows: list[CclRow] | None = None, fit=None) -> CclFit:
    rows = rows or load()
    ratios = np.array([predict(r, fit) / r.time_ns for r in rows])
    within = float(np.mean((ratios <= 1.25) & (ratios >= 0.8)))
    return CclFit(len(rows), within, float(np.median(ratios)), (float(ratios.min()), float(ratios.max())))


def fit_curves(rows: list[CclRow] | None = None) -> dict:
    """Per (op, topology) and chip count: (setup_ns, efficiency) minimising the mean squared log ratio."""
    rows = rows or load()
    curves: dict = {}
    for r in rows:
        curves.setdefault((r.op, r.topology, r.n), []).append(r)
    out: dict = {}
    setups = np.exp(np.linspace(math.log(1e3), math.log(80e3), 400))
    for (op, topo, n), pts in sorted(curves.items()):
        t = np.array([p.time_ns for p in pts])
        moved = np.array([cost.ccl_bottleneck_bytes(op, n, p.size_bytes) for p in pts])
        dirs = 2 if topo == "ring" else 1
        best = None
        for eff in np.arange(0.30, 1.0001, 0.0025):
            wire = moved / (dirs * eff * cost.WORMHOLE_LINK_BW) * 1e9
            err = np.mean(np.log((setups[:, None] + wire[None, :]) / t[None, :]) ** 2, axis=1)
            i = int(err.argmin())
            if best is None or err[i] < best[0]:
                best = (err[i], float(setups[i]), float(eff))
        out.setdefault((op, topo), {})[n] = (round(best[1], -1), round(best[2], 4))
    return out


def report(fit: CclFit) -> str:
    return (f"collective-time model vs {fit.rows} measured Wormhole CCL rows: {fit.within:.0%} within 1.25x, "
            f"median model/measured {fit.median:.2f}, range {fit.worst[0]:.2f}..{fit.worst[1]:.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="re-fit cost.CCL_FIT and print it")
    args = ap.parse_args(argv)
    if args.fit:
        fitted = fit_curves()
        for key, per_n in fitted.items():
            print(f"    {key!r}: {per_n},")
        print(report(evaluate(fit=fitted)))
    else:
        print(report(evaluate()))


if __name__ == "__main__":
    main()
