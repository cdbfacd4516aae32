"""Emulated meshes spread over several processes (one machine or several), with torch.distributed (gloo) as the
transport between them.

When `torch.distributed` is initialised with more than one process, `ttnn.open_mesh_device` gives each process
(rank) a contiguous block of the mesh's chips in row-major mesh order: with N chips over W ranks (W must divide
N), rank r holds chips r*N/W .. (r+1)*N/W - 1. A process keeps only its own chips: their memory (allocators,
OutOfMemoryError), their shards of every mesh tensor and their op records; the other chips' shards are never
materialised there. Every process runs the same program (SPMD, as torchrun starts it), so an op on a mesh tensor
runs, in each process, on that process's chips. What needs another process's shards goes over gloo:
  * the collectives (ttnn.all_gather, reduce_scatter, all_reduce) exchange the shards of the chip groups that
    span processes, then compute as one process would (the same reduction order: the same bits);
  * ttnn.to_torch(t, mesh_composer=...) and ttnn.aggregate_tensor gather every chip's piece into every process;
  * from_torch(..., mesh_mapper=) needs nothing: each process is handed the same host tensor and uploads its
    chips' pieces only.

Device-time figures: each chip records its own ops, collectives priced by the same cost model as in one
process, so chip k's figures are the same whichever process holds it. A process reports its chips
(MeshDevice.estimated_time_ns is its busiest chip); the mesh's time is the maximum over the processes.

`init()` starts the process group from torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) or
from explicit arguments; a group the program initialised itself is used as it is. Not initialised, or one
process: the mesh is whole in this process, as before. TORCH_TTNN_SIM_DISTRIBUTED=1 asks for the multi-process
mode (open_mesh_device starts the group from the environment, or says why it cannot); =0 keeps every mesh whole
in each process even when a group is initialised.
"""
from __future__ import annotations

import datetime
import os
import warnings
from dataclasses import dataclass

import torch

ENV = "TORCH_TTNN_SIM_DISTRIBUTED"
DEFAULT_TIMEOUT_S = 300.0
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
_warned_env = False


class DistributedMeshError(RuntimeError):
    """A mesh cannot be spread over the processes as asked (or the processes disagree about it)."""


def _dist():
    import torch.distributed as dist
    return dist


def init(*, backend: str = "gloo", init_method: str | None = None, rank: int | None = None,
         world_size: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Start the gloo process group emulated meshes are spread over: from torchrun's environment variables, or
    from `init_method` (e.g. "tcp://host:port") with `rank` and `world_size`. A no-op when already started.
    `timeout_s` bounds every collective: a process that never arrives is an error, not a hang."""
    dist = _dist()
    if not dist.is_available():
        raise DistributedMeshError("torch.distributed is not available in this build of torch: a mesh cannot be "
                                   "spread over processes")
    if dist.is_initialized():
        _check_backend(dist)
        return
    if backend != "gloo":
        raise DistributedMeshError(f"init(backend={backend!r}): emulated chips live on the host, so their "
                                   f"tensors move with backend='gloo'")
    if init_method is None and rank is None and not all(v in os.environ for v in _TORCHRUN_VARS):
        missing = [v for v in _TORCHRUN_VARS if v not in os.environ]
        raise DistributedMeshError(
            f"cannot start the gloo process group: no init_method/rank/world_size given and {', '.join(missing)} "
            f"not set. Start the script with `torchrun --nproc-per-node 2 script.py` (it sets them), or call "
            f"torch_ttnn.sim.multiprocess.init(init_method='tcp://HOST:PORT', rank=R, world_size=W)")
    kwargs = {"timeout": datetime.timedelta(seconds=timeout_s)}
    if init_method is not None:
        kwargs["init_method"] = init_method
    if rank is not None:
        kwargs["rank"] = rank
    if world_size is not None:
        kwargs["world_size"] = world_size
    dist.init_process_group("gloo", **kwargs)


def _check_backend(dist) -> None:
    backend = str(dist.get_backend())
    if "gloo" not in backend:
        raise DistributedMeshError(
            f"torch.distributed is initialised with backend {backend!r}: emulated chips live on the host, so the "
            f"mesh needs a gloo group (torch.distributed.init_process_group('gloo'), or 'cpu:gloo,cuda:nccl')")


def _asked() -> str | None:
    v = os.environ.get(ENV)
    return None if v is None or v.strip() == "" else v.strip()


def active() -> tuple[int, int] | None:
    """(rank, world size) when meshes are spread over processes, else None (the default: one process)."""
    global _warned_env
    asked = _asked()
    if asked == "0":
        return None
    if asked not in (None, "1"):
        raise DistributedMeshError(f"{ENV}={asked!r}: use 1 (spread meshes over the torch.distributed processes) "
                                   f"or 0 (keep every mesh whole in each process)")
    dist = _dist()
    started = dist.is_available() and dist.is_initialized()
    if not started and asked == "1":
        init()   # from torchrun's environment, or a clear error saying what is missing
        started = True
    if not started:
        if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and not _warned_env:
            _warned_env = True
            warnings.warn(f"WORLD_SIZE={os.environ['WORLD_SIZE']} (torchrun?) but torch.distributed is not "
                          f"initialised: every process emulates the whole mesh. To spread the mesh over the "
                          f"processes, call torch_ttnn.sim.multiprocess.init() first or set {ENV}=1",
                          stacklevel=3)
        return None
    _check_backend(dist)
    world = dist.get_world_size()
    return None if world == 1 else (dist.get_rank(), world)


@dataclass(frozen=True)
class Processes:
    """How a mesh's chips (row-major indices 0..chips-1) are spread over the processes: contiguous blocks."""
    rank: int
    world_size: int
    chips: int

    @property
    def per_rank(self) -> int:
        return self.chips // self.world_size

    def owner(self, chip: int) -> int:
        return chip // self.per_rank

    def is_local(self, chip: int) -> bool:
        return self.owner(chip) == self.rank

    @property
    def local(self) -> range:
        return range(self.rank * self.per_rank, (self.rank + 1) * self.per_rank)

    def spans(self, group) -> bool:
        """Whether a group of chips lies in more than one process."""
        return len({self.owner(i) for i in group}) > 1

    def as_dict(self) -> dict:
        return {"rank": self.rank, "world_size": self.world_size, "chips": list(self.local)}


def processes_for(shape: tuple[int, ...], arch: str, chips: int) -> Processes | None:
    """The spread of a mesh about to open (None: one process). Every process must open the same mesh: they
    compare what they open (one small collective), so a mismatch is an error in all of them rather than a hang
    in a later collective."""
    rw = active()
    if rw is None:
        return None
    rank, world = rw
    dist = _dist()
    mine = (tuple(shape), arch)
    everyone = [None] * world
    dist.all_gather_object(everyone, mine)
    if any(o != mine for o in everyone):
        seen = "; ".join(f"rank {r}: {s[1]} mesh {list(s[0])}" for r, s in enumerate(everyone))
        raise DistributedMeshError(f"open_mesh_device: the {world} processes opened different meshes ({seen}); "
                                   f"every process must open the same mesh shape on the same preset "
                                   f"(TORCH_TTNN_SIM_ARCH)")
    if chips % world:
        raise DistributedMeshError(
            f"open_mesh_device: a {chips}-chip mesh {list(shape)} cannot be spread evenly over {world} processes "
            f"(each holds a contiguous block of chips); run with a number of processes that divides {chips} "
            f"(torchrun --nproc-per-node N), or open a mesh whose chip count it divides")
    return Processes(rank, world, chips)


def exchange(local: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    """Every process's {chip: tensor} in every process, bit for bit (one all_gather of the metadata, one of the
    bytes). Each process must call it at the same point of the program (every collective is called so)."""
    dist = _dist()
    world = dist.get_world_size()
    flat = {i: t.detach().contiguous().cpu() for i, t in local.items()}
    meta = [(i, t.dtype, tuple(t.shape), t.numel() * t.element_size()) for i, t in sorted(flat.items())]
    metas = [None] * world
    dist.all_gather_object(metas, meta)
    sizes = [sum(m[3] for m in ms) for ms in metas]
    width = max(max(sizes), 1)
    buf = torch.zeros(width, dtype=torch.uint8)
    at = 0
    for i, _dt, _shape, n in meta:
        if n:
            buf[at:at + n] = flat[i].reshape(-1).view(torch.uint8)
        at += n
    bufs = [torch.empty(width, dtype=torch.uint8) for _ in range(world)]
    dist.all_gather(bufs, buf)
    out: dict[int, torch.Tensor] = {}
    for r, ms in enumerate(metas):
        at = 0
        for i, dt, shape, n in ms:
            out[i] = flat[i] if r == dist.get_rank() else \
                bufs[r][at:at + n].clone().view(dt).reshape(shape)
            at += n
    return out
