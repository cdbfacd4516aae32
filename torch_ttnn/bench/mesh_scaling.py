"""`torch-ttnn bench --mesh RxC`: how data-parallel throughput scales with chips, from est. device time.

For each model, the compiled model runs with `TorchTtnnOption(data_parallel=True)` on meshes of 1, 2, 4, ...
chips up to R x C (1x1, 1x2, .., 1xC, then 2xC, 4xC, .. RxC), each chip given the same batch (weak scaling: the
global batch grows with the chips). Throughput is the global batch over the mesh's est. device time (its busiest
chip's), as samples/s. The card preset holding the mesh is the smallest of sim.mesh.SYSTEMS that can have it.

What the figure does not contain: data-parallel inference needs no collective, so on the emulator each chip runs
the one-chip program on its part and throughput scales with the chips by construction; what would bend the line
on a card (host dispatch to N chips, PCIe transfers of inputs and outputs, one host feeding them) is not in the
device-time model. The figure shows that the compiler splits the work evenly, not a measured speed-up.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Point:
    model: str
    mesh: str               # "RxC"
    chips: int
    batch: int              # global batch (per-chip batch x chips)
    device_time_ms: float   # the busiest chip's est. device time per call
    samples_per_s: float
    pcc: float | None


def parse_mesh(text: str) -> tuple[int, int]:
    """'2x4' -> (2, 4), with a clear error for anything else."""
    try:
        r, c = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"torch-ttnn bench: --mesh takes ROWSxCOLS, e.g. --mesh 2x4; got {text!r}") from None
    if r < 1 or c < 1:
        raise SystemExit(f"torch-ttnn bench: --mesh {text}: rows and columns must be >= 1")
    return r, c


def mesh_steps(rows: int, cols: int) -> list[tuple[int, int]]:
    """1x1, 1x2, 1x4, .. 1xC, then 2xC, 4xC, .. RxC: chip counts doubling up to the whole mesh."""
    shapes, c = [], 1
    while c < cols:
        shapes.append((1, c))
        c *= 2
    r = 1
    while r < rows:
        shapes.append((r, cols))
        r *= 2
    shapes.append((rows, cols))
    return shapes


def preset_for(rows: int, cols: int) -> str:
    """The smallest emulated card preset that can have a rows x cols mesh (a Wormhole one on a tie)."""
    from torch_ttnn.sim.mesh import SYSTEMS, _layout
    fits = [(s.chips, name.startswith("p150"), name) for name, s in SYSTEMS.items()   # Wormhole boxes first
            if _layout((rows, cols), s) is not None]
    if not fits:
        raise SystemExit(f"torch-ttnn bench: no emulated card preset has a {rows}x{cols} mesh (presets: "
                         f"{', '.join(f'{n} {s.grid[0]}x{s.grid[1]}' for n, s in SYSTEMS.items())})")
    return min(fits)[2]


def measure(model: str, size: str, shape: tuple[int, int], per_chip_batch: int) -> Point:
    """One compiled run of zoo `model` data parallel on a `shape` mesh."""
    import torch

    import torch_ttnn
    import torch_ttnn.sim as ttnn
    from torch_ttnn import zoo
    from torch_ttnn.compiler.metrics import pcc
    chips = shape[0] * shape[1]
    ex = zoo.build(model, size, batch=per_chip_batch * chips)
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(*shape))
    try:
        torch._dynamo.reset()
        option = torch_ttnn.TorchTtnnOption(device=mesh, data_parallel=True, verbose=False, runtime="sim")
        got = ex.run(torch.compile(ex.model, backend=torch_ttnn.backend, options=option))
        ms = max(m["device_time_ms"] for m in option.metrics)
        accuracy = pcc(ex.run().float(), got.float())
    finally:
        ttnn.close_mesh_device(mesh)
    return Point(model, f"{shape[0]}x{shape[1]}", chips, per_chip_batch * chips, ms,
                 per_chip_batch * chips / (ms / 1e3), accuracy)


def scaling(models: list[str], size: str, mesh: tuple[int, int], per_chip_batch: int) -> list[Point]:
    """Every model on every mesh step, under the card preset of the whole mesh."""
    saved = os.environ.get("TORCH_TTNN_SIM_ARCH")
    os.environ["TORCH_TTNN_SIM_ARCH"] = preset_for(*mesh)
    try:
        return [measure(m, size, shape, per_chip_batch) for m in models for shape in mesh_steps(*mesh)]
    finally:
        if saved is None:
            os.environ.pop("TORCH_TTNN_SIM_ARCH", None)
        else:
            os.environ["TORCH_TTNN_SIM_ARCH"] = saved


def plot(points: list[Point], path: str, title: str) -> str:
    """Throughput against chips per model (log2 x axis), with the linear ideal from each model's one-chip run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (matplotlib.ticker.ScalarFormatter below)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for model in dict.fromkeys(p.model for p in points):
        pts = sorted((p for p in points if p.model == model), key=lambda p: p.chips)
        xs, ys = [p.chips for p in pts], [p.samples_per_s for p in pts]
        line, = ax.plot(xs, ys, "o-", label=f"{model} (data parallel)")
        base = pts[0].samples_per_s / pts[0].chips
        ax.plot(xs, [base * x for x in xs], ":", color=line.get_color(), alpha=0.6, label=f"{model}: linear")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_yscale("log")
    ax.set_xlabel("chips")
    ax.set_ylabel("samples/s (from est. device time)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run(models: list[str], size: str, mesh_text: str, per_chip_batch: int, out: str) -> tuple[list[Point], list]:
    """Measure, write `{out}/mesh_scaling_{RxC}.json` and `.png`; returns the points and the paths written."""
    mesh = parse_mesh(mesh_text)
    points = scaling(models, size, mesh, per_chip_batch)
    stem = os.path.join(out, f"mesh_scaling_{mesh[0]}x{mesh[1]}")
    os.makedirs(out, exist_ok=True)
    with open(stem + ".json", "w") as f:
        json.dump({"mesh": mesh_text, "size": size, "per_chip_batch": per_chip_batch,
                   "preset": preset_for(*mesh), "points": [asdict(p) for p in points]}, f, indent=1)
    title = (f"Data-parallel scaling on an emulated {mesh[0]}x{mesh[1]} mesh ({preset_for(*mesh)}), {size} "
             f"configs, batch {per_chip_batch} per chip")
    return points, [stem + ".json", plot(points, stem + ".png", title)]


def table(points: list[Point]) -> str:
    from tabulate import tabulate
    return tabulate([(p.model, p.mesh, p.chips, p.batch, f"{p.device_time_ms:.3f}", f"{p.samples_per_s:,.0f}",
                      "" if p.pcc is None else f"{p.pcc:.4f}") for p in points],
                    headers=["model", "mesh", "chips", "batch", "est. device ms", "samples/s", "PCC"])
