"""Emulated multi-chip meshes: `ttnn.open_mesh_device`, mesh tensors, mappers and composers (TT-NN 0.81.1 names).

A `MeshDevice` is a grid of emulated chips (one `Device` each, with its own DRAM/L1 allocator and op records),
laid over the physical chips of the card preset (`TORCH_TTNN_SIM_ARCH`: n300 1x2, t3000 2x4, galaxy 8x4,
p150x2/x4/x8 lines). A mesh tensor (`MeshTensor`, a `ttnn.Tensor`) holds one per-chip tensor per chip of its
mesh, row-major over the mesh, plus its placement (shard dim or replicate per mesh axis) as TT-NN's tensor
topology keeps it. Every operation called with a mesh tensor (or with a mesh device as its device) runs on each
chip's shard: the `Operation` wrapper hands the call to `_dispatch`, which calls the op's own single-chip
function once per chip and gathers the results into mesh tensors. So the emulated op library works on meshes
unchanged, each chip charges its own memory (a chip that runs out raises OutOfMemoryError naming it) and
records its own device time; the chips run in parallel, so a mesh's time is its slowest chip's. Chips whose
inputs hold the same host values (replicated tensors, collective results) compute an op once and share its result
(`sim/mesh_share.py`): one host copy, each chip's own allocations and op records, bit for bit.

Moving data between chips is what the collectives do (`sim/ops/ccl.py`: all_gather, reduce_scatter,
all_reduce), priced from TT's measured Ethernet figures (`cost.ccl_time_ns`). Nothing here assumes the chips
share memory beyond handing per-chip tensors to the collectives.

A mesh can also be spread over several processes, on one machine or several (`sim/multiprocess.py`): with
torch.distributed initialised (gloo), each process holds a contiguous block of the chips (row-major) and only
their shards; the other chips are `RemoteChip`s there and their shards `None`, an op runs on the local shards
only, and what needs other processes' shards (the collectives, to_torch with a composer) goes over gloo.

Not emulated: trace capture on a mesh, sub-device managers, 3-D meshes, submeshes and reshape of a mesh spread
over processes.
"""
from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass

import torch

from . import mesh_share, multiprocess
from .device import ARCHS, Device, _arch_from_env
from .operation import Operation, operation
from .tensor import Tensor, to_device
from .types import Shape, StorageType

__all__ = ["MeshShape", "MeshCoordinate", "MeshCoordinateRange", "MeshDevice", "PlacementShard",
           "PlacementReplicate", "MeshMapperConfig", "MeshComposerConfig", "CppTensorToMesh", "CppMeshToTensor",
           "TensorToMesh", "MeshToTensor", "ReplicateTensorToMeshWrapper", "open_mesh_device", "close_mesh_device",
           "create_mesh_device", "ShardTensorToMesh", "ReplicateTensorToMesh", "ShardTensor2dMesh",
           "ConcatMeshToTensor", "ConcatMesh2dToTensor", "shard_tensor_to_mesh_mapper",
           "replicate_tensor_to_mesh_mapper", "concat_mesh_to_tensor_composer", "create_mesh_mapper",
           "create_mesh_composer", "distribute_tensor", "aggregate_tensor", "get_device_tensors",
           "combine_device_tensors", "get_num_devices", "get_device_ids", "get_num_pcie_devices",
           "get_pcie_device_ids", "distribute"]


# --- coordinates and shapes ---------------------------------------------------------------------------------
class _Coords:
    """A short tuple of non-negative ints with TT-NN's repr (`MeshShape([2, 4])`)."""

    def __init__(self, *args):
        vals = args[0] if len(args) == 1 and not isinstance(args[0], int) else args
        try:
            self._v = tuple(int(v) for v in vals)
        except (TypeError, ValueError):
            raise TypeError(f"{type(self).__name__} takes ints, e.g. {type(self).__name__}(2, 4) or "
                            f"{type(self).__name__}([2, 4]); got {args!r}") from None

    def dims(self) -> int:
        return len(self._v)

    def __getitem__(self, i):
        return self._v[i]

    def __iter__(self):
        return iter(self._v)

    def __eq__(self, other):
        return type(other) is type(self) and other._v == self._v

    def __hash__(self):
        return hash((type(self).__name__, self._v))

    def __repr__(self):
        return f"{type(self).__name__}({list(self._v)})"


class MeshShape(_Coords):
    """Shape of a mesh device: MeshShape(rows, cols), MeshShape(s0, s1, s2) or MeshShape([...])."""

    def mesh_size(self) -> int:
        n = 1
        for v in self._v:
            n *= v
        return n


class MeshCoordinate(_Coords):
    """Coordinate within a mesh device: MeshCoordinate(row, col) or MeshCoordinate([...])."""


class MeshCoordinateRange:
    """The coordinates of a mesh shape (or between two corners, inclusive), row-major."""

    def __init__(self, start, end=None):
        if end is None:
            shape = start
            start, end = MeshCoordinate([0] * shape.dims()), MeshCoordinate([s - 1 for s in shape])
        self.start, self.end = start, end

    def __iter__(self):
        ranges = [range(a, b + 1) for a, b in zip(self.start, self.end)]
        return (MeshCoordinate(list(c)) for c in itertools.product(*ranges))

    def __repr__(self):
        return f"MeshCoordinateRange(start={self.start!r}, end={self.end!r})"


# --- placements, mapper and composer configs ----------------------------------------------------------------
class PlacementShard:
    """Split the tensor's `dim` over a mesh axis."""

    def __init__(self, dim: int, /):
        self._dim = int(dim)

    @property
    def dim(self) -> int:
        return self._dim

    def __eq__(self, other):
        return isinstance(other, PlacementShard) and other.dim == self.dim

    def __hash__(self):
        return hash(("shard", self.dim))

    def __repr__(self):
        return f"PlacementShard({self.dim})"


class PlacementReplicate:
    """Copy the whole tensor to every chip along a mesh axis."""

    def __init__(self):
        pass

    def __eq__(self, other):
        return isinstance(other, PlacementReplicate)

    def __hash__(self):
        return hash("replicate")

    def __repr__(self):
        return "PlacementReplicate()"


def _placement(dim):
    return PlacementReplicate() if dim is None else PlacementShard(dim)


class MeshMapperConfig:
    """How a tensor maps to a mesh: one placement per mesh axis. Both real overloads:
    MeshMapperConfig(placements, mesh_shape_override=None, mesh_offset_override=MeshCoordinate([])) and
    MeshMapperConfig(row_dim=None, col_dim=None, mesh_shape_override=None, mesh_offset_override=...)."""

    def __init__(self, *args, **kwargs):
        first = args[0] if args else kwargs.get("placements", kwargs.get("row_dim"))
        if "placements" in kwargs or isinstance(first, (list, tuple)):
            names = ("placements", "mesh_shape_override", "mesh_offset_override")
            vals = dict(zip(names, args), **kwargs)
            placements = list(vals["placements"])
        else:
            names = ("row_dim", "col_dim", "mesh_shape_override", "mesh_offset_override")
            vals = dict(zip(names, args), **kwargs)
            placements = [_placement(vals.get("row_dim")), _placement(vals.get("col_dim"))]
        unknown = set(vals) - set(names)
        if unknown:
            raise TypeError(f"MeshMapperConfig got unexpected argument(s) {sorted(unknown)}")
        for p in placements:
            if not isinstance(p, (PlacementShard, PlacementReplicate)):
                raise TypeError(f"MeshMapperConfig: placements must be ttnn.PlacementShard(dim) or "
                                f"ttnn.PlacementReplicate(), got {p!r}")
        self._placements = placements
        self.mesh_shape_override = vals.get("mesh_shape_override")
        self.mesh_offset_override = vals.get("mesh_offset_override") or MeshCoordinate([])

    @property
    def placements(self) -> list:
        return list(self._placements)

    def __repr__(self):
        return f"MeshMapperConfig(placements: {self._placements})"


class MeshComposerConfig:
    """Which tensor dim each mesh axis's shards are concatenated along: MeshComposerConfig(dims, ...) or
    MeshComposerConfig(row_dim, col_dim, ...)."""

    def __init__(self, *args, **kwargs):
        first = args[0] if args else kwargs.get("dims", kwargs.get("row_dim"))
        if "dims" in kwargs or isinstance(first, (list, tuple)):
            names = ("dims", "mesh_shape_override", "mesh_offset_override")
            vals = dict(zip(names, args), **kwargs)
            dims = [int(d) for d in vals["dims"]]
        else:
            names = ("row_dim", "col_dim", "mesh_shape_override", "mesh_offset_override")
            vals = dict(zip(names, args), **kwargs)
            dims = [int(vals["row_dim"]), int(vals["col_dim"])]
        unknown = set(vals) - set(names)
        if unknown:
            raise TypeError(f"MeshComposerConfig got unexpected argument(s) {sorted(unknown)}")
        self.dims = dims
        self.mesh_shape_override = vals.get("mesh_shape_override")
        self.mesh_offset_override = vals.get("mesh_offset_override") or MeshCoordinate([])

    def __repr__(self):
        return f"MeshComposerConfig(dims: {self.dims})"


def _norm_dim(dim: int, rank: int, what: str) -> int:
    d = dim + rank if dim < 0 else dim
    if not 0 <= d < rank:
        raise RuntimeError(f"{what}: dim {dim} is out of range for a tensor of rank {rank} (valid dims are "
                           f"{-rank}..{rank - 1}): give one of those dims (dim=-1 is the last), or reshape the "
                           f"tensor to have the dim first")
    return d


class CppTensorToMesh:
    """A mapper: splits or copies a torch tensor into one piece per chip, row-major over its mesh shape."""

    def __init__(self, *args, **kwargs):
        raise TypeError("mappers are made by ttnn.create_mesh_mapper, ttnn.ShardTensorToMesh, "
                        "ttnn.ReplicateTensorToMesh or ttnn.ShardTensor2dMesh")

    @classmethod
    def _make(cls, shape: MeshShape, config: MeshMapperConfig) -> "CppTensorToMesh":
        m = cls.__new__(cls)
        m._shape, m._config = shape, config
        _install()   # from_torch(..., mesh_mapper=) works on the host before any mesh is opened
        if len(config.placements) != shape.dims():
            if len(config.placements) != 1:
                raise RuntimeError(f"MeshMapperConfig has {len(config.placements)} placements for a "
                                   f"{shape.dims()}-D mesh {shape}: give one placement per mesh axis, or one "
                                   f"for the whole mesh")
            m._shape = MeshShape([shape.mesh_size()])  # one placement: over all chips, row-major
        return m

    def config(self) -> MeshMapperConfig:
        return self._config

    @property
    def mesh_shape(self) -> MeshShape:
        return self._shape

    def map(self, x: torch.Tensor, what: str = "mesh_mapper") -> list[torch.Tensor]:
        """One tensor per chip, row-major over the mesh; chips that get the same piece get the same object (from_torch
        converts each distinct piece once, and the chips share it: sim/mesh_share.py)."""
        pieces = [x]
        for axis, (size, p) in enumerate(zip(self._shape, self._config.placements)):
            if isinstance(p, PlacementReplicate):
                pieces = [q for q in pieces for _ in range(size)]
                continue
            d = _norm_dim(p.dim, x.dim(), f"{what}: PlacementShard")
            if x.shape[d] % size:
                raise RuntimeError(f"{what}: dim {p.dim} of size {x.shape[d]} cannot be split evenly over the "
                                   f"{size} chips of mesh axis {axis} (shape {list(x.shape)}); pad it to a "
                                   f"multiple of {size} or shard another dim")
            chunks: dict = {}   # a piece replicated along an earlier axis is split once: its chips share the parts
            pieces = [c for q in pieces for c in chunks.setdefault(id(q), torch.chunk(q, size, dim=d))]
        return pieces


class CppMeshToTensor:
    """A composer: concatenates per-chip tensors back into one torch tensor."""

    def __init__(self, *args, **kwargs):
        raise TypeError("composers are made by ttnn.create_mesh_composer, ttnn.ConcatMeshToTensor or "
                        "ttnn.ConcatMesh2dToTensor")

    @classmethod
    def _make(cls, shape: MeshShape, dims: list[int]) -> "CppMeshToTensor":
        c = cls.__new__(cls)
        c._shape, c._dims = shape, dims
        _install()
        if len(dims) != shape.dims():
            if len(dims) != 1:
                raise RuntimeError(f"MeshComposerConfig has {len(dims)} dims for a {shape.dims()}-D mesh "
                                   f"{shape}: give one dim per mesh axis, or one for the whole mesh")
            c._shape = MeshShape([shape.mesh_size()])
        return c

    def compose(self, pieces: list[torch.Tensor]) -> torch.Tensor:
        if len(pieces) != self._shape.mesh_size():
            raise RuntimeError(f"mesh_composer is for a mesh of {self._shape.mesh_size()} chips {self._shape}, "
                               f"but the tensor has {len(pieces)} shards")
        rank = pieces[0].dim()
        for axis in reversed(range(self._shape.dims())):  # innermost mesh axis first
            size, d = self._shape[axis], _norm_dim(self._dims[axis], rank, "mesh_composer")
            pieces = [torch.cat(pieces[i:i + size], dim=d) for i in range(0, len(pieces), size)]
        return pieces[0]


TensorToMesh = CppTensorToMesh
MeshToTensor = CppMeshToTensor


class ReplicateTensorToMeshWrapper:
    """What ReplicateTensorToMesh returns in TT-NN: a replicate mapper, marked so from_torch knows it."""

    def __init__(self, mapper):
        self._mapper = mapper

    def unwrap(self):
        return self._mapper


# --- systems (card presets) and mesh devices ----------------------------------------------------------------
@dataclass(frozen=True)
class System:
    """A card preset's chips as wired: a physical grid; which grid axes close into a ring; Ethernet links
    between neighbouring chips (`links`: what the CCL ops discover and use by default)."""
    grid: tuple[int, int]
    ring_axes: tuple[int, ...] = ()
    snake_ring: bool = False      # a line through every chip, row by row, closes into a ring (T3000)
    links: int = 1                # links per direction a collective uses by default (as TT measured them)
    max_links: int = 2            # Ethernet links between two neighbouring chips

    @property
    def chips(self) -> int:
        return self.grid[0] * self.grid[1]


# n300: two chips on one card. T3000: four n300s as a 2x4 grid whose 8 chips form one ring (TT's CCL report:
# "the wraparound link exists only across all eight devices", measured with 1 link per direction). Galaxy: 8x4
# chips, its 8-chip axis closes into a ring. p150 boxes: N Blackhole cards in a line (2 links per pair, as
# the Blackhole CCL figures were measured).
SYSTEMS = {
    "n150": System((1, 1)), "n300": System((1, 2)), "t3000": System((2, 4), snake_ring=True),
    "galaxy": System((8, 4), ring_axes=(0,), max_links=4), "p150": System((1, 1), links=2),
    "p150x2": System((1, 2), links=2), "p150x4": System((1, 4), links=2), "p150x8": System((1, 8), links=2),
}


def _system(name: str) -> System:
    return SYSTEMS.get(name) or System((1, ARCHS[name].chips))


def _snake(rows: int, cols: int) -> list[tuple[int, int]]:
    """A line through a grid visiting neighbours only: left to right, then right to left, row by row."""
    return [(r, c if r % 2 == 0 else cols - 1 - c) for r in range(rows) for c in range(cols)]


def _layout(shape: tuple[int, int], system: System, offset=(0, 0)) -> list[tuple[int, int]] | None:
    """Physical (row, col) of each logical chip, row-major; None when the preset cannot have this shape."""
    (r, c), (R, C) = shape, system.grid
    orow, ocol = offset
    if orow + r <= R and ocol + c <= C:
        return [(orow + i, ocol + j) for i in range(r) for j in range(c)]
    if offset == (0, 0) and c <= R and r <= C:          # the same chips, transposed (e.g. 4x2 on a 2x4)
        return [(j, i) for i in range(r) for j in range(c)]
    if offset == (0, 0) and min(r, c) == 1 and r * c <= R * C:   # a line snakes through the grid
        return _snake(R, C)[:r * c]
    return None


class RemoteChip:
    """A chip of a mesh held by another process (sim/multiprocess.py): its id and owner only; its memory, ops and
    shards live in that process."""

    def __init__(self, device_id: int, rank: int):
        self.device_id, self.rank = device_id, rank

    def __getattr__(self, name):
        raise AttributeError(f"chip {self.device_id} of this mesh is held by process rank {self.rank} "
                             f"(torch.distributed), not this one: its {name} is only there; this process sees its "
                             f"own chips (mesh.get_devices())")

    def __repr__(self):
        return f"<chip {self.device_id}, held by rank {self.rank}>"


class MeshDevice:
    """An emulated mesh of chips (`ttnn.open_mesh_device`). Each chip is an emulated `Device` (a `RemoteChip`
    when another process holds it: sim/multiprocess.py)."""

    def __init__(self, *args, **kwargs):
        raise TypeError("open a mesh with ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(rows, cols))")

    @classmethod
    def _make(cls, shape: MeshShape, chips: list[Device], coords: list, system: System, spec,
              parent: "MeshDevice | None" = None, procs: "multiprocess.Processes | None" = None) -> "MeshDevice":
        m = cls.__new__(cls)
        m._shape, m._chips, m._coords, m._system, m.spec, m._parent = shape, chips, coords, system, spec, parent
        m._submeshes, m._open, m._procs = [], True, procs
        return m

    # --- the real MeshDevice's methods -----------------------------------------------------------------
    @property
    def shape(self) -> MeshShape:
        return self._shape

    def get_num_devices(self) -> int:
        return len(self._chips)

    def get_device_ids(self) -> list[int]:
        return [c.device_id for c in self._chips]

    def get_device_id(self, coord, /) -> int:
        return self._chips[self._index(coord)].device_id

    def arch(self):
        return self.spec.arch

    def id(self) -> int:
        return min(self.get_device_ids())

    def compute_with_storage_grid_size(self):
        return self.get_devices()[0].compute_with_storage_grid_size()

    @property
    def core_grid(self):
        return self.spec.grid

    def dram_grid_size(self):
        return self.get_devices()[0].dram_grid_size()

    # program cache: each chip keeps its own (sim/program_cache.py); the mesh's is theirs, read through chip 0
    # (every chip of a mesh runs the same programs)
    @property
    def program_cache_enabled(self) -> bool:
        return all(c.program_cache_enabled for c in self.get_devices())

    def enable_program_cache(self) -> None:
        for c in self.get_devices():
            c.enable_program_cache()

    def disable_and_clear_program_cache(self) -> None:
        for c in self.get_devices():
            c.disable_and_clear_program_cache()

    def clear_program_cache(self) -> None:
        for c in self.get_devices():
            c.clear_program_cache()

    def num_program_cache_entries(self) -> int:
        return max(c.num_program_cache_entries() for c in self.get_devices())

    def set_program_cache_misses_allowed(self, allowed: bool, /) -> None:
        for c in self.get_devices():
            c.set_program_cache_misses_allowed(allowed)

    def create_submesh(self, submesh_shape: MeshShape, offset: MeshCoordinate | None = None) -> "MeshDevice":
        """A mesh over a rectangle of this mesh's chips (sharing them: their memory is the same)."""
        self.check_open()
        self._refuse_spread("create_submesh")
        r, c = _two_d(submesh_shape)
        orow, ocol = (0, 0) if offset is None else (offset[0], offset[-1] if offset.dims() > 1 else 0)
        R, C = _two_d(self._shape)
        if orow + r > R or ocol + c > C:
            raise RuntimeError(f"create_submesh: a {submesh_shape} submesh at offset ({orow}, {ocol}) does not "
                               f"fit this {self._shape} mesh")
        idx = [(orow + i) * C + ocol + j for i in range(r) for j in range(c)]
        sub = MeshDevice._make(submesh_shape, [self._chips[i] for i in idx], [self._coords[i] for i in idx],
                               self._system, self.spec, parent=self)
        self._submeshes.append(sub)
        _install()
        return sub

    def create_submeshes(self, submesh_shape: MeshShape) -> list["MeshDevice"]:
        """Tile this mesh with submeshes of one shape (the mesh must divide evenly)."""
        r, c = _two_d(submesh_shape)
        R, C = _two_d(self._shape)
        if R % r or C % c:
            raise RuntimeError(f"create_submeshes: {submesh_shape} does not tile this {self._shape} mesh evenly")
        return [self.create_submesh(submesh_shape, MeshCoordinate(i, j))
                for i in range(0, R, r) for j in range(0, C, c)]

    def get_submeshes(self) -> list["MeshDevice"]:
        return list(self._submeshes)

    def reshape(self, new_shape: MeshShape) -> None:
        """Re-map the same chips to a new logical shape: same chip count, and chips that stay physical
        neighbours (a line snakes through the grid; a grid must fit the physical grid, or its transpose)."""
        self.check_open()
        if not isinstance(new_shape, MeshShape):
            raise TypeError(f"reshape takes a ttnn.MeshShape, got {type(new_shape).__name__}")
        self._refuse_spread("reshape")
        if new_shape.mesh_size() != len(self._chips):
            raise RuntimeError(f"MeshDevice.reshape: {new_shape} has {new_shape.mesh_size()} chips, this mesh "
                               f"{self._shape} has {len(self._chips)}; the chip count must stay the same")
        if self._parent is not None:
            raise RuntimeError("MeshDevice.reshape: reshape the parent mesh, not a submesh")
        layout = _layout(_two_d(new_shape), self._system)
        if layout is None:
            raise RuntimeError(f"MeshDevice.reshape: the chips of this {self.spec.name} ({self._system.grid[0]}x"
                               f"{self._system.grid[1]} physically) cannot form a connected {new_shape} mesh")
        by_coord = {coord: chip for coord, chip in zip(self._coords, self._chips)}
        if set(layout) != set(by_coord):
            raise RuntimeError(f"MeshDevice.reshape: {new_shape} needs chips this mesh does not hold")
        self._chips = [by_coord[p] for p in layout]
        self._coords = layout
        self._shape = new_shape

    # --- emulator extensions -----------------------------------------------------------------------------
    def get_devices(self) -> list[Device]:
        """The chips, row-major over the mesh (as older TT-NN's MeshDevice.get_devices); of a mesh spread over
        processes, this process's chips."""
        return [self._chips[i] for i in self._local()]

    @property
    def processes(self) -> "multiprocess.Processes | None":
        """How the chips are spread over torch.distributed processes (None: all in this one)."""
        return self._procs

    def _local(self) -> range:
        """Row-major indices of the chips this process holds."""
        return range(len(self._chips)) if self._procs is None else self._procs.local

    def _refuse_spread(self, what: str):
        if self._procs is not None:
            raise RuntimeError(f"MeshDevice.{what} on a mesh spread over {self._procs.world_size} processes is not "
                               f"emulated (each process holds a fixed block of chips): open the mesh in the shape "
                               f"you need, or run in one process")

    def is_open(self) -> bool:
        return self._open

    def check_open(self):
        if not self._open:
            raise RuntimeError(f"This {self._shape} mesh device is closed: open one with ttnn.open_mesh_device")

    def axis_chips(self, cluster_axis: int | None) -> list[list[int]]:
        """Groups of chip indices a collective runs over: the chips along `cluster_axis` for each position on
        the other axis, or all chips (row-major) when None."""
        R, C = _two_d(self._shape)
        if cluster_axis is None:
            return [list(range(R * C))]
        if cluster_axis not in (0, 1) or cluster_axis >= self._shape.dims():
            raise RuntimeError(f"cluster_axis={cluster_axis} is not an axis of this {self._shape} mesh "
                               f"(axes 0..{self._shape.dims() - 1})")
        if self._shape.dims() == 1 or cluster_axis == 1:
            return [[r * C + c for c in range(C)] for r in range(R)]
        return [[r * C + c for r in range(R)] for c in range(C)]

    def is_ring(self, group: list[int]) -> bool:
        """Whether these chips (in order) close into a ring of Ethernet links on this preset."""
        pts = [self._coords[i] for i in group]
        if len(pts) < 3:
            return False
        R, C = self._system.grid

        def adjacent(a, b):
            dr, dc = abs(a[0] - b[0]), abs(a[1] - b[1])
            if dr + dc == 1:
                return True
            return (0 in self._system.ring_axes and dc == 0 and dr == R - 1 and R > 2) or \
                (1 in self._system.ring_axes and dr == 0 and dc == C - 1 and C > 2)
        if not all(adjacent(a, b) for a, b in zip(pts, pts[1:])):
            return False
        return adjacent(pts[-1], pts[0])

    @property
    def op_records(self) -> list:
        """Every chip's op records, in chip order (per-chip lists: `chip.op_records`); spread over processes,
        this process's chips'."""
        return [r for c in self.get_devices() for r in c.op_records]

    def estimated_time_ns(self) -> float:
        """Device time of the mesh: chips run in parallel, so the busiest chip's kernel time (spread over
        processes: the busiest of this process's chips; the mesh's is the maximum over the processes)."""
        return max(c.estimated_time_ns() for c in self.get_devices())

    def estimated_host_time_ns(self, trace: bool = False) -> float:
        return max(c.estimated_host_time_ns(trace) for c in self.get_devices())

    def memory_report(self) -> dict:
        """Per chip (by device id): bytes per buffer type, as Device.memory_report (this process's chips)."""
        return {c.device_id: c.memory_report() for c in self.get_devices()}

    @property
    def trace_region_size(self) -> int:
        return self.get_devices()[0].trace_region_size

    @property
    def _traces(self):
        raise RuntimeError("trace capture on an emulated mesh device is not supported yet: capture on a single "
                           "device (ttnn.open_device) or run the mesh program without a trace")

    def _index(self, coord) -> int:
        R, C = _two_d(self._shape)
        r, c = (0, coord[0]) if coord.dims() == 1 else (coord[0], coord[1])
        if not (0 <= r < R and 0 <= c < C):
            raise RuntimeError(f"{coord} is outside this {self._shape} mesh")
        return r * C + c

    def __repr__(self):
        state = "open" if self._open else "closed"
        local = self._local()
        where = "" if self._procs is None else \
            f"; mesh positions {local.start}..{local.stop - 1} (ids {[c.device_id for c in self.get_devices()]}) " \
            f"in this process, rank {self._procs.rank} of {self._procs.world_size}"
        return (f"<emulated ttnn MeshDevice {self._shape}: {len(self._chips)} x {self.spec.name} chip(s) "
                f"{self.get_device_ids()}{where}, {state}>")


def _two_d(shape: MeshShape) -> tuple[int, int]:
    if shape.dims() == 1:
        return 1, shape[0]
    if shape.dims() == 2:
        return shape[0], shape[1]
    raise RuntimeError(f"emulated meshes are 1-D or 2-D; {shape} has {shape.dims()} dims")


_open_meshes: list[MeshDevice] = []


def open_mesh_device(mesh_shape: MeshShape = None, l1_small_size: int = 0, trace_region_size: int = 0,
                     num_command_queues: int = 1, dispatch_core_config=None, offset: MeshCoordinate | None = None,
                     physical_device_ids: list = [], worker_l1_size: int = 0) -> MeshDevice:  # noqa: B006 (real default)
    """Open a mesh of the emulated card preset's chips (TORCH_TTNN_SIM_ARCH); the whole system by default."""
    name = _arch_from_env()
    spec, system = ARCHS[name], _system(name)
    if mesh_shape is None:
        mesh_shape = MeshShape(*system.grid)
    if not isinstance(mesh_shape, MeshShape):
        raise TypeError(f"open_mesh_device: mesh_shape must be a ttnn.MeshShape, e.g. ttnn.MeshShape(1, 2); "
                        f"got {mesh_shape!r}")
    # spread over torch.distributed processes? (every process compares what it opens before anything can fail)
    procs = multiprocess.processes_for(tuple(mesh_shape), name, mesh_shape.mesh_size())
    shape2 = _two_d(mesh_shape)
    if min(shape2) < 1:
        raise RuntimeError(f"open_mesh_device: {mesh_shape} has no chips; every dim must be >= 1")
    off = (0, 0) if offset is None else (offset[0], offset[1] if offset.dims() > 1 else 0)
    layout = _layout(shape2, system, off)
    if layout is None or (physical_device_ids and len(physical_device_ids) != len(layout)):
        presets = ", ".join(f"{k} {v.grid[0]}x{v.grid[1]}" for k, v in SYSTEMS.items() if v.chips > 1)
        raise RuntimeError(
            f"open_mesh_device: a {mesh_shape} mesh (offset {off}) does not fit the emulated {name}, whose "
            f"{system.chips} chip(s) are wired as {system.grid[0]}x{system.grid[1]}. Open a shape that fits, or "
            f"emulate a larger system with TORCH_TTNN_SIM_ARCH ({presets})")
    grid_cols = system.grid[1]
    ids = list(physical_device_ids) or [r * grid_cols + c for r, c in layout]
    chips = [Device(i, spec, l1_small_size, trace_region_size, worker_l1_size)
             if procs is None or procs.is_local(k) else RemoteChip(i, procs.owner(k)) for k, i in enumerate(ids)]
    mesh = MeshDevice._make(mesh_shape, chips, layout, system, spec, procs=procs)
    _open_meshes.append(mesh)
    _install()
    return mesh


def close_mesh_device(mesh_device):
    """Close the mesh: every chip's buffers are released (submeshes close with it). The chips are the mesh's
    own, so single devices opened with open_device (which may share an id) stay open."""
    for sub in mesh_device._submeshes:
        sub._open = False
    mesh_device._open = False
    if mesh_device._parent is None:
        for c in mesh_device.get_devices():
            c._open = False
            for pool in c._pools.values():
                pool.live.clear()
                pool.used_per_bank = 0
    if mesh_device in _open_meshes:
        _open_meshes.remove(mesh_device)


@contextlib.contextmanager
def create_mesh_device(*args, **kwargs):
    mesh_device = open_mesh_device(*args, **kwargs)
    try:
        yield mesh_device
    finally:
        close_mesh_device(mesh_device)


def get_num_devices() -> int:
    return ARCHS[_arch_from_env()].chips


def get_device_ids() -> list[int]:
    return list(range(get_num_devices()))


def get_num_pcie_devices() -> int:
    return 1


def get_pcie_device_ids() -> list[int]:
    return list(range(get_num_pcie_devices()))


# --- mappers and composers -----------------------------------------------------------------------------
def _mesh_shape_of(mesh) -> MeshShape:
    if isinstance(mesh, MeshDevice):
        return mesh.shape
    if isinstance(mesh, MeshShape):
        return mesh
    raise TypeError(f"expected a ttnn.MeshDevice (ttnn.open_mesh_device) or a ttnn.MeshShape, got "
                    f"{type(mesh).__name__}")


def create_mesh_mapper(mesh_device, config: MeshMapperConfig) -> CppTensorToMesh:
    """A mapper for a mesh device (or a mesh shape, to build host shards without a device)."""
    if not isinstance(config, MeshMapperConfig):
        raise TypeError(f"create_mesh_mapper: config must be a ttnn.MeshMapperConfig, got {type(config).__name__}")
    shape = config.mesh_shape_override or _mesh_shape_of(mesh_device)
    return CppTensorToMesh._make(shape, config)


def create_mesh_composer(mesh_device, config: MeshComposerConfig) -> CppMeshToTensor:
    if not isinstance(config, MeshComposerConfig):
        raise TypeError(f"create_mesh_composer: config must be a ttnn.MeshComposerConfig, got "
                        f"{type(config).__name__}")
    return CppMeshToTensor._make(config.mesh_shape_override or _mesh_shape_of(mesh_device), config.dims)


def shard_tensor_to_mesh_mapper(mesh_device, dim: int) -> CppTensorToMesh:
    return CppTensorToMesh._make(MeshShape([_mesh_shape_of(mesh_device).mesh_size()]),
                                 MeshMapperConfig([PlacementShard(dim)]))


def replicate_tensor_to_mesh_mapper(mesh_device) -> CppTensorToMesh:
    return CppTensorToMesh._make(MeshShape([_mesh_shape_of(mesh_device).mesh_size()]),
                                 MeshMapperConfig([PlacementReplicate()]))


def concat_mesh_to_tensor_composer(mesh_device, dim: int) -> CppMeshToTensor:
    return CppMeshToTensor._make(MeshShape([_mesh_shape_of(mesh_device).mesh_size()]), [int(dim)])


def ShardTensorToMesh(mesh_device, dim: int):
    """Deprecated in TT-NN (use shard_tensor_to_mesh_mapper): split `dim` over all chips, row-major."""
    return shard_tensor_to_mesh_mapper(mesh_device, dim)


def ReplicateTensorToMesh(mesh_device):
    """Deprecated in TT-NN (use replicate_tensor_to_mesh_mapper): the whole tensor on every chip."""
    return ReplicateTensorToMeshWrapper(replicate_tensor_to_mesh_mapper(mesh_device))


def ConcatMeshToTensor(mesh_device, dim: int):
    """Deprecated in TT-NN (use concat_mesh_to_tensor_composer): concatenate every chip's shard along `dim`."""
    return concat_mesh_to_tensor_composer(mesh_device, dim)


def ShardTensor2dMesh(mesh_device, mesh_shape, dims):
    """Mesh rows shard `dims[0]`, mesh columns `dims[1]` (None: replicate along that axis)."""
    return create_mesh_mapper(mesh_device, MeshMapperConfig([_placement(dims[0]), _placement(dims[1])],
                                                            MeshShape(mesh_shape[0], mesh_shape[1])))


def ConcatMesh2dToTensor(mesh_device, mesh_shape, dims):
    return create_mesh_composer(mesh_device, MeshComposerConfig([dims[0], dims[1]],
                                                                MeshShape(mesh_shape[0], mesh_shape[1])))


@contextlib.contextmanager
def distribute(default):
    """Within the block, from_torch uses `default` as its mesh_mapper (or to_torch as its mesh_composer)."""
    import torch_ttnn.sim as ttnn
    saved = ttnn.from_torch, ttnn.to_torch
    import functools
    if isinstance(default, (CppTensorToMesh, ReplicateTensorToMeshWrapper)):
        ttnn.from_torch = functools.partial(saved[0], mesh_mapper=default)
    elif isinstance(default, CppMeshToTensor):
        ttnn.to_torch = functools.partial(saved[1], mesh_composer=default)
    else:
        raise ValueError("Argument must be an instance of either TensorToMesh or MeshToTensor.")
    try:
        yield
    finally:
        ttnn.from_torch, ttnn.to_torch = saved


# --- mesh tensors ------------------------------------------------------------------------------------------
class MeshTensor(Tensor):
    """A tensor distributed over a mesh: one per-chip tensor per chip (host shards before to_device).

    Its shape, dtype and layout are a shard's, as TT-NN reports them; reading values needs a composer
    (ttnn.to_torch(t, mesh_composer=...)) or the shards (ttnn.get_device_tensors).

    Spread over processes (`_procs`, sim/multiprocess.py), the shards of the chips other processes hold are None
    here: every shard list stays indexed by the chip's row-major place in the mesh."""

    __slots__ = ("_shards", "_mesh", "_mesh_shape", "_placements", "_procs")

    @classmethod
    def _of(cls, shards: list[Tensor], mesh: MeshDevice | None, mesh_shape: MeshShape, placements,
            procs: "multiprocess.Processes | None" = None) -> "MeshTensor":
        t = cls.__new__(cls)
        first = next(s for s in shards if s is not None)
        t._shards, t._mesh, t._mesh_shape, t._placements = list(shards), mesh, mesh_shape, list(placements)
        t._procs = procs if procs is not None or mesh is None else mesh._procs
        t._dtype, t._layout, t._memory_config = first._dtype, first._layout, first._memory_config
        t._device, t._buffer, t._deallocated = mesh, None, False
        t._fpu_clean = t._operand = None
        return t

    @property
    def _first(self) -> Tensor:
        """A shard this process holds (they share shape, dtype and layout)."""
        return next(s for s in self._shards if s is not None)

    @property
    def shape(self) -> Shape:
        return self._first.shape

    @property
    def padded_shape(self) -> Shape:
        return self._first.padded_shape

    def logical_volume(self) -> int:
        return self._first.logical_volume()

    def is_allocated(self) -> bool:
        return all(s.is_allocated() for s in self._shards if s is not None)

    def read_shards(self, chips, dtype=None) -> list[torch.Tensor]:
        """Emulator extension: the host values of the shards of `chips` (row-major mesh indices), as
        ttnn.to_torch reads each. Spread over processes, each process reads the chips it holds and the rest come
        over torch.distributed: a collective, which every process calls at the same point."""
        from .tensor import to_torch
        chips = list(chips)
        if self._procs is None:
            return [to_torch(self._shards[i], dtype=dtype) for i in chips]
        mine = {i: to_torch(self._shards[i], dtype=dtype) for i in dict.fromkeys(chips)
                if self._shards[i] is not None}
        got = multiprocess.exchange(mine)
        return [got[i] for i in chips]

    def storage_type(self) -> StorageType:
        return StorageType.DEVICE if self._mesh is not None else StorageType.HOST

    def buffer_num_pages(self) -> int:
        return self._first.buffer_num_pages()

    def buffer_page_size(self) -> int:
        return self._first.buffer_page_size()

    @property
    def value(self):
        if len(self._shards) == 1:
            return self._shards[0].value
        raise RuntimeError(f"This tensor is distributed over a {self._mesh_shape} mesh ({len(self._shards)} "
                           f"shards): read it with ttnn.to_torch(tensor, mesh_composer=ttnn.ConcatMeshToTensor("
                           f"mesh_device, dim=0)) or take the shards with ttnn.get_device_tensors(tensor)")

    @property
    def placements(self) -> list:
        return list(self._placements)

    def __del__(self):  # the shards own the buffers
        pass

    def __repr__(self):
        where = f"mesh {self._mesh_shape}" if self._mesh is not None else f"host, {len(self._shards)} shards"
        return (f"ttnn.Tensor(<distributed: {self._placements}>, shape={list(self.shape)}, dtype={self._dtype}, "
                f"layout={self._layout}, on {where})")


def _replicated(mesh: MeshDevice) -> list:
    return [PlacementReplicate()] * mesh.shape.dims()


def _placements_of(mapper: CppTensorToMesh) -> list:
    """As TT-NN's tensor topology: one placement per axis of the mapper's distribution shape (a 1-D mapper over
    a 2-D mesh distributes over all chips, row-major)."""
    return list(mapper._config.placements)


def _host_shards(x: torch.Tensor, mapper: CppTensorToMesh, convert, local=None) -> list[Tensor]:
    """Each distinct piece converted once: replicated pieces share one host tensor (to_device copies it). With
    `local` (the chips this process holds, of a mesh spread over processes), the other chips' pieces are None."""
    done: dict = {}
    return [None if local is not None and k not in local else
            done[id(p)] if id(p) in done else done.setdefault(id(p), convert(p.contiguous()))
            for k, p in enumerate(mapper.map(x))]


def _check_mapper(mapper, mesh: MeshDevice | None, what: str) -> CppTensorToMesh:
    if isinstance(mapper, ReplicateTensorToMeshWrapper):
        mapper = mapper.unwrap()
    if not isinstance(mapper, CppTensorToMesh):
        raise TypeError(f"{what}: mesh_mapper must be a mapper (ttnn.ShardTensorToMesh, ttnn.ReplicateTensorToMesh, "
                        f"ttnn.create_mesh_mapper), got {type(mapper).__name__}")
    if mesh is not None and mapper.mesh_shape.mesh_size() != mesh.get_num_devices():
        raise RuntimeError(f"{what}: the mesh_mapper is for {mapper.mesh_shape.mesh_size()} chips "
                           f"({mapper.mesh_shape}), but the mesh device has {mesh.get_num_devices()} "
                           f"({mesh.shape}): make the mapper from this mesh device")
    return mapper


def _from_torch(op, args, kwargs):
    """ttnn.from_torch with a mesh_mapper and/or a mesh device: one from_torch per shard, then to each chip."""
    bound = op.__signature__.bind(*args, **kwargs)
    a = bound.arguments
    tensor, device, mapper = a.get("tensor"), a.get("device"), a.get("mesh_mapper")
    if tensor is None:
        return None
    if device is not None and not isinstance(device, MeshDevice):
        raise RuntimeError("from_torch: mesh_mapper needs device= to be a mesh device (ttnn.open_mesh_device); "
                           f"got a single {type(device).__name__}. Drop mesh_mapper, or open a mesh")
    host_kw = {k: v for k, v in a.items() if k not in ("tensor", "device", "memory_config", "mesh_mapper")}

    def convert(x):
        return op.function(x, **host_kw)
    if mapper is None:  # a mesh device and no mapper: the same tensor on every chip
        host = convert(tensor)
        shards = [host] * device.get_num_devices()
        mesh_shape, placements = device.shape, _replicated(device)
    else:
        mapper = _check_mapper(mapper, device, "from_torch")
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"from_torch expects a torch.Tensor, got {type(tensor).__name__}")
        local = None if device is None or device._procs is None else device._local()
        shards = _host_shards(tensor.detach().cpu(), mapper, convert, local)
        mesh_shape, placements = mapper.mesh_shape, _placements_of(mapper)
    if device is None:
        return MeshTensor._of(shards, None, mesh_shape, placements)
    mc = a.get("memory_config")
    local = device._local()   # spread over processes: the other processes upload their chips' pieces
    return MeshTensor._of([to_device.function(s, chip, mc) if k in local else None
                           for k, (s, chip) in enumerate(zip(shards, device._chips))], device, mesh_shape, placements)


def _to_torch(op, args, kwargs):
    bound = op.__signature__.bind(*args, **kwargs)
    a = bound.arguments
    tensor, composer = a.get("tensor"), a.get("mesh_composer")
    rest = {k: v for k, v in a.items() if k not in ("tensor", "mesh_composer")}
    if not isinstance(tensor, MeshTensor):
        return op.function(tensor, **rest)
    if composer is None:
        if len(tensor._shards) == 1:
            return op.function(tensor._shards[0], **rest)
        raise RuntimeError(f"Can't convert a tensor distributed on {tensor._mesh_shape} mesh to one torch tensor: "
                           f"supply a mesh composer to concatenate the shards, e.g. ttnn.to_torch(t, "
                           f"mesh_composer=ttnn.ConcatMeshToTensor(mesh_device, dim=0))")
    if not isinstance(composer, CppMeshToTensor):
        raise TypeError(f"to_torch: mesh_composer must be a composer (ttnn.ConcatMeshToTensor, "
                        f"ttnn.create_mesh_composer), got {type(composer).__name__}")
    dtype, rank = rest.pop("dtype", None), rest.pop("torch_rank", None)
    pieces = {k: op.function(s, **rest) for k, s in enumerate(tensor._shards) if s is not None}
    if tensor._procs is not None:   # the other processes' chips' pieces, over torch.distributed
        pieces = multiprocess.exchange(pieces)
    out = composer.compose([pieces[k] for k in range(len(tensor._shards))])
    if rank is not None:
        while out.dim() > rank:
            if out.shape[0] != 1:
                raise RuntimeError("ttnn: Unable to squeeze to desired rank!")
            out = out.squeeze(0)
    return out if dtype is None else out.to(dtype)


def distribute_tensor(tensor, mapper, mesh_device=None):
    """Split a host ttnn.Tensor with `mapper` (onto `mesh_device` when given)."""
    if not isinstance(tensor, Tensor) or isinstance(tensor, MeshTensor):
        raise TypeError(f"distribute_tensor expects a single ttnn.Tensor, got {type(tensor).__name__}")
    from .tensor import from_torch
    return from_torch(tensor.value, tensor.dtype, layout=tensor.layout, device=mesh_device, mesh_mapper=mapper)


def aggregate_tensor(tensor, composer):
    """One host ttnn.Tensor from a mesh tensor's shards, concatenated by `composer`."""
    if not isinstance(composer, CppMeshToTensor):
        raise TypeError(f"aggregate_tensor: composer must be a ttnn mesh composer, got {type(composer).__name__}")
    if not isinstance(tensor, MeshTensor):
        return Tensor._make(composer.compose([tensor.value]), tensor.dtype, tensor.layout)
    values = {k: s.value for k, s in enumerate(tensor._shards) if s is not None}
    if tensor._procs is not None:
        values = multiprocess.exchange(values)
    return Tensor._make(composer.compose([values[k] for k in range(len(tensor._shards))]), tensor.dtype,
                        tensor.layout)


def get_device_tensors(tensor) -> list[Tensor]:
    """The per-chip tensors of a mesh tensor, row-major over the mesh (a single tensor: itself). Of a mesh spread
    over processes: the chips this process holds (their values elsewhere: MeshTensor.read_shards, or to_torch with
    a composer)."""
    if isinstance(tensor, MeshTensor):
        return [s for s in tensor._shards if s is not None]
    if isinstance(tensor, Tensor):
        return [tensor]
    raise TypeError(f"get_device_tensors expects a ttnn.Tensor, got {type(tensor).__name__}")


def combine_device_tensors(*, tensors) -> MeshTensor:
    """A mesh tensor from one tensor per chip of an open mesh (in the mesh's chip order)."""
    tensors = list(tensors)
    devs = [t.device() for t in tensors]
    for mesh in reversed(_open_meshes + [s for m in _open_meshes for s in m._submeshes]):
        local = mesh.get_devices()
        if mesh.is_open() and len(local) == len(devs) and all(a is b for a, b in zip(local, devs)):
            shards = [None] * len(mesh._chips)
            for k, t in zip(mesh._local(), tensors):
                shards[k] = t
            return MeshTensor._of(shards, mesh, mesh.shape, _replicated(mesh))
    raise RuntimeError("combine_device_tensors: the tensors must be on the chips of one open mesh device, one per "
                       "chip in the mesh's order (ttnn.get_device_tensors gives them so)")


# --- running ops on meshes -----------------------------------------------------------------------------------
_SPECIAL = {"ttnn.from_torch": _from_torch, "ttnn.to_torch": _to_torch}
# Collectives take the whole mesh tensor (sim/ops/ccl.py): never mapped per chip.
WHOLE_MESH_OPS: set[str] = set()


def _scan(x, found):
    if isinstance(x, (MeshTensor, MeshDevice)):
        found.append(x)
    elif isinstance(x, (list, tuple)) and not isinstance(x, Shape):
        for y in x:
            if isinstance(y, (MeshTensor, MeshDevice)):
                found.append(y)


def _per_chip(x, i):
    if isinstance(x, MeshTensor):
        return x._shards[i]
    if isinstance(x, MeshDevice):
        return x._chips[i]
    if isinstance(x, (list, tuple)) and not isinstance(x, Shape) and \
            any(isinstance(y, (MeshTensor, MeshDevice)) for y in x):
        return type(x)(_per_chip(y, i) for y in x)
    return x


_ABSENT = object()   # the output of a chip another process holds (the op ran there, not here)


def _combine(outs: list, mesh, mesh_shape, placements, procs=None):
    """Per-chip outputs (_ABSENT for the chips other processes hold) as mesh tensors."""
    first = next(o for o in outs if o is not _ABSENT)
    if isinstance(first, Tensor):
        return MeshTensor._of([None if o is _ABSENT else o for o in outs],
                              mesh if first.device() is not None else None, mesh_shape, placements, procs)
    if isinstance(first, (list, tuple)) and not isinstance(first, Shape):
        return type(first)(_combine([o if o is _ABSENT else o[k] for o in outs], mesh, mesh_shape, placements,
                                    procs) for k in range(len(first)))
    return first


def _dispatch(op: Operation, args, kwargs):
    """Run `op` on every chip when an argument is a mesh tensor or a mesh device; NotImplemented otherwise."""
    found = []
    for a in args:
        _scan(a, found)
    for a in kwargs.values():
        _scan(a, found)
    name = op.python_fully_qualified_name
    if name in _SPECIAL and (found or kwargs.get("mesh_mapper") is not None or kwargs.get("mesh_composer")):
        return _SPECIAL[name](op, args, kwargs)
    if not found or name in WHOLE_MESH_OPS:
        return NotImplemented
    tensors = [x for x in found if isinstance(x, MeshTensor)]
    meshes = {id(x._mesh if isinstance(x, MeshTensor) else x): x for x in found}
    counts = {len(x._shards) if isinstance(x, MeshTensor) else x.get_num_devices() for x in found}
    on_device = {id(t._mesh) for t in tensors if t._mesh is not None} | \
        {id(x) for x in found if isinstance(x, MeshDevice)}
    if len(counts) > 1 or len(on_device) > 1:
        raise RuntimeError(f"{name}: the mesh tensors (and mesh devices) of one call must be on one mesh; got "
                           f"meshes of {sorted(counts)} chips. Move them to one mesh device first")
    for i, a in enumerate(list(args) + list(kwargs.values())):
        if isinstance(a, Tensor) and not isinstance(a, MeshTensor) and a.device() is not None:
            raise RuntimeError(f"{name}: input {i} is on single device {a.device().device_id}, but other inputs are "
                               f"distributed over a mesh; put it on the mesh too (ttnn.from_torch(..., device="
                               f"mesh_device) replicates it)")
    template = tensors[0] if tensors else None
    mesh = template._mesh if template is not None else next(iter(meshes.values()))
    if template is not None and template._mesh is None:
        dev = next((x for x in found if isinstance(x, MeshDevice)), None)
        mesh = dev
    mesh_shape = template._mesh_shape if template is not None else mesh.shape
    placements = template._placements if template is not None else _replicated(mesh)
    # spread over processes: this process runs the op on its own chips only
    procs = next((x._procs for x in found if x._procs is not None), None)
    n = counts.pop()
    run = range(n) if procs is None else procs.local
    # chips whose inputs hold the same host values compute once and share the result (sim/mesh_share.py)
    done = mesh_share.run_shared(op, args, kwargs, run, _per_chip, tensors)
    outs = [done[i] if i in run else _ABSENT for i in range(n)]
    return _combine(outs, mesh, mesh_shape, placements, procs)


def _install():
    Operation._mesh_dispatch = staticmethod(_dispatch)
