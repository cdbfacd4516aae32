"""Compiling for a mesh device: the plumbing every multi-chip mode shares (data parallel here, tensor parallel
beside it).

What the compiler needs from a mesh is small, and kept in small functions here so that each parallel mode uses
the same ones:
  * `is_mesh(device)`: a TT-NN `MeshDevice` (emulated or real), duck-typed so the real package's class works;
  * `axis_size(mesh, axis)` / `axis_groups(mesh, axis)`: how many chips lie along a mesh axis (None: all chips,
    row-major), and which chips form each line along it;
  * `MeshIO`: how host tensors reach the mesh and come back, given a per-value placement. A lowered program on
    a mesh records the same TT-NN calls as on one chip with the mesh as their device: the emulator (and TT-NN)
    runs each call on every chip's shard. Only the transfers differ: `ttnn.from_torch(..., mesh_mapper=...)`
    splits a batch (`ShardTensorToMesh` over the data-parallel axis) or replicates a value
    (`ReplicateTensorToMesh`: parameters, once, as constants), and `gather` reads the chips' shards back and
    concatenates them along the dim their batch lies in (a value that is the same on every chip: one chip's).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


def is_mesh(device) -> bool:
    """Whether `device` is a mesh device (ttnn.open_mesh_device), not one chip."""
    return device is not None and hasattr(device, "get_num_devices") and hasattr(device, "shape") \
        and not hasattr(device, "device_id")


def mesh_shape(mesh) -> tuple[int, ...]:
    return tuple(int(s) for s in mesh.shape)


def axis_size(mesh, axis: int | None) -> int:
    """Chips along mesh axis `axis` (None: every chip of the mesh)."""
    shape = mesh_shape(mesh)
    if axis is None:
        return int(mesh.get_num_devices())
    if not 0 <= axis < len(shape):
        raise ValueError(f"mesh axis {axis} is not an axis of this {list(shape)} mesh (axes 0..{len(shape) - 1})")
    return shape[axis]


def axis_groups(mesh, axis: int | None) -> list[list[int]]:
    """Row-major chip indices of each line of chips along `axis` (None: one group of all chips)."""
    shape = mesh_shape(mesh)
    n = int(mesh.get_num_devices())
    if axis is None:
        return [list(range(n))]
    rows, cols = (shape[0], shape[1]) if len(shape) == 2 else (1, shape[0])
    if len(shape) == 1 or axis == 1:
        return [[r * cols + c for c in range(cols)] for r in range(rows)]
    return [[r * cols + c for r in range(rows)] for c in range(cols)]


def shard_mapper(ttnn, mesh, dim: int, axis: int | None):
    """A mapper splitting `dim` over the chips of `axis` (all chips when None), replicated along the other."""
    if axis is None or len(mesh_shape(mesh)) == 1:
        return ttnn.ShardTensorToMesh(mesh, dim=dim)
    places = [ttnn.PlacementReplicate(), ttnn.PlacementReplicate()]
    places[axis] = ttnn.PlacementShard(dim)
    return ttnn.create_mesh_mapper(mesh, ttnn.MeshMapperConfig(places))


def gather(tensor, *, ttnn, chips: tuple, dim: int | None, dtype=None) -> torch.Tensor:
    """One host tensor from a mesh tensor: the shards of `chips` concatenated along `dim` (their batch dim), or
    with `dim` None a value every chip holds alike (a replicated one): the first chip's. On an emulated mesh
    spread over processes (sim/multiprocess.py) every process gets the whole value: the chips it does not hold
    send theirs over torch.distributed."""
    picks = list(chips[:1] if dim is None else chips)
    read = getattr(tensor, "read_shards", None)   # the emulator's: also when other processes hold some chips
    if read is not None:
        pieces = read(picks, dtype=dtype)
    else:
        shards = ttnn.get_device_tensors(tensor)
        pieces = [ttnn.to_torch(shards[i], dtype=dtype) for i in picks]
    return pieces[0] if dim is None else torch.cat(pieces, dim=dim)


@dataclass
class MeshIO:
    """How the lowering moves values between host and mesh: `placement` maps id(ATen value) -> the dim its
    batch lies in, split over the chips of `axis` (values absent: replicated). Used by compiler.lower."""
    ttnn: object
    mesh: object
    axis: int | None = None
    placement: dict = field(default_factory=dict)

    def __post_init__(self):
        self._mappers: dict = {}
        self.chips = tuple(axis_groups(self.mesh, self.axis)[0])   # the chips one batch is split over

    def batch_dim(self, meta) -> int | None:
        return self.placement.get(id(meta))

    def mapper(self, meta):
        """The mesh_mapper of a value moved to the mesh: its batch split, or replicated."""
        dim = self.batch_dim(meta)
        if dim not in self._mappers:
            self._mappers[dim] = self.ttnn.ReplicateTensorToMesh(self.mesh) if dim is None else \
                shard_mapper(self.ttnn, self.mesh, dim, self.axis)
        return self._mappers[dim]

    def gather_kwargs(self, meta, dtype) -> dict:
        return {"ttnn": self.ttnn, "chips": self.chips, "dim": self.batch_dim(meta), "dtype": dtype}
