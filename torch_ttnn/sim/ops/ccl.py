"""Collective operations over a mesh's chips (TT-NN's CCL ops): all_gather, reduce_scatter, all_reduce.

They take a whole mesh tensor (sim/mesh.py), never one chip's shard. `cluster_axis` picks the chips that talk:
those along that mesh axis, one independent collective per position on the other axis (None: all chips,
row-major). Topology: a ring where the preset's Ethernet links close the chips of the axis into one (T3000's
8-chip line, a Galaxy's 8-chip columns), else a line; asking for a ring the wiring does not have raises.

Numerics: all_gather copies bits. Reductions add in bfloat16 (TT-NN: "The reduction is performed in BFLOAT16;
BFLOAT8_B inputs are up-cast to BFLOAT16 for the reduction and cast back, and FLOAT32 takes a dedicated
reduction path"): partial sums are rounded to bfloat16 after every addition, in the order the chunks travel
(from the chip after the owner round the ring; along the line from its first chip), float32 sums exactly.

Cost: every chip of a collective records the same kernel time, `cost.ccl_time_ns` (TT's measured Wormhole
CCL figures, per topology and chip count), over the un-sharded tensor's bytes.

A mesh spread over processes (sim/multiprocess.py): the shards of each group of chips that spans processes are
exchanged over torch.distributed (gloo), then every process computes as one process would, for its own chips
(the same order of additions: the same bits), and charges its own chips the same cost.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .. import formats, multiprocess
from ..cost import BLACKHOLE_LINK_BW, WORMHOLE_LINK_BW, OpRecord, ccl_time_ns
from ..mesh import WHOLE_MESH_OPS, MeshShape, _norm_dim, MeshTensor, PlacementReplicate, PlacementShard
from ..operation import operation
from ..tensor import Tensor, nbytes, new_device_tensor
from ..types import Arch, DataType, _Enum

__all__ = ["Topology", "all_gather", "reduce_scatter", "all_reduce"]


class Topology(_Enum):
    Linear = 1
    Ring = 2
    Mesh = 3
    Torus = 4


_REDUCIBLE = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32)


def _mesh_input(op: str, t) -> MeshTensor:
    if isinstance(t, MeshTensor) and t._mesh is not None:
        t._mesh.check_open()
        return t
    if isinstance(t, MeshTensor):
        raise RuntimeError(f"{op}: the input must be on device, got a host tensor (distributed but not on the "
                           f"mesh); move it with "
                           f"ttnn.to_device(tensor, mesh_device)")
    where = f"single device {t.device().device_id}" if isinstance(t, Tensor) and t.device() is not None else \
        ("the host" if isinstance(t, Tensor) else f"a {type(t).__name__}")
    raise RuntimeError(f"{op} is a collective: its input must be on device, distributed over a mesh device; got "
                       f"a tensor on {where}. Open a mesh (ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 2))) and put the "
                       f"tensor on it with ttnn.from_torch(..., device=mesh_device, mesh_mapper=...)")


def _topology(op: str, mesh, group: list[int], topology) -> str:
    ring = mesh.is_ring(group)
    if topology is None:
        return "ring" if ring else "line"
    if topology == Topology.Ring and not ring and len(group) > 2:
        ids = [mesh._chips[i].device_id for i in group]
        raise RuntimeError(f"{op}: topology=ttnn.Topology.Ring, but chips {ids} of this {mesh.spec.name} are "
                           f"wired as a line (no link closes them into a ring): use ttnn.Topology.Linear or leave "
                           f"topology=None")
    if topology not in (Topology.Ring, Topology.Linear):
        raise RuntimeError(f"{op}: topology {topology} is not emulated; use ttnn.Topology.Linear or Ring")
    return "ring" if topology == Topology.Ring and len(group) > 2 else "line"


def _links(op: str, mesh, num_links) -> int:
    if num_links is None:
        return mesh._system.links
    most = mesh._system.max_links
    if not isinstance(num_links, int) or not 1 <= num_links <= most:
        raise RuntimeError(f"{op}: num_links={num_links!r}, but neighbouring chips of this {mesh.spec.name} have "
                           f"{most} Ethernet link(s); pass 1..{most} or leave num_links=None")
    return num_links


def _charge(op: str, mesh, group, local, total_bytes: float, topology: str, links: int):
    """Every chip of `group` records the collective's time (`local`: those this process holds)."""
    bw = WORMHOLE_LINK_BW if mesh.spec.arch == Arch.WORMHOLE_B0 else BLACKHOLE_LINK_BW
    t = ccl_time_ns(op.rsplit(".", 1)[-1], len(group), total_bytes, topology=topology, links=links, link_bw=bw)
    for i in local:
        chip = mesh._chips[i]
        chip.record(OpRecord(op, t, 0.0, float(total_bytes), "ethernet", chip.spec.cost.dispatch_ns, 0.0,
                             chip.spec.cost.trace_launch_ns))


def _placements(t: MeshTensor, cluster_axis, placement) -> list:
    """The output's placement: `placement` along the collective's axis (over all chips when None)."""
    dims = t._mesh.shape.dims()
    if cluster_axis is None:
        return [placement]
    out = list(t._placements) if len(t._placements) == dims else [PlacementReplicate()] * dims
    out[cluster_axis] = placement
    return out


def _dist_shape(t: MeshTensor, cluster_axis):
    return MeshShape([t._mesh.get_num_devices()]) if cluster_axis is None else t._mesh.shape


def _bf16_sum(parts: list[torch.Tensor], dtype: DataType) -> torch.Tensor:
    acc = parts[0].float()
    for p in parts[1:]:
        acc = acc + p.float()
        if dtype != DataType.FLOAT32:
            acc = formats.round_bfloat16(acc).to(torch.float32)
    return acc


def _check_reducible(op: str, t: MeshTensor):
    if t.dtype not in _REDUCIBLE:
        raise RuntimeError(f"{op}: dtype {t.dtype.name} is not supported (bfloat16, bfloat8_b or float32); "
                           f"ttnn.typecast the input first")
    if len(t.shape) < 2:
        raise RuntimeError(f"{op}: the input must be rank 2 or greater, got shape {list(t.shape)}; reshape it "
                           f"to [1, N] first")


def _group_values(t: MeshTensor, groups: list[list[int]]) -> dict[int, torch.Tensor]:
    """Shard values by chip for the groups this process takes part in: its own, plus (spread over processes)
    those of its groups' chips that other processes hold, exchanged over torch.distributed."""
    values = {i: s.value for i, s in enumerate(t._shards) if s is not None}
    procs = t._procs
    if procs is None:
        return values
    spanning = {i for g in groups if procs.spans(g) for i in g}
    if not spanning:   # every group lies in one process (the same answer in every process: nothing to call)
        return values
    return {**values, **multiprocess.exchange({i: v for i, v in values.items() if i in spanning})}


class _Group(NamedTuple):
    chips: list[int]   # the group's chips, in mesh order
    kind: str          # "ring" or "linear" (the topology the collective runs over)
    local: list[int]   # the chips of the group whose shards this process holds (all of them in one process)


def _local_groups(op: str, t: MeshTensor, cluster_axis, topology) -> tuple[dict[int, torch.Tensor], list[_Group]]:
    """The groups along `cluster_axis` this process takes part in, and every value they read (by chip): the
    preamble all three collectives share."""
    mesh = t._mesh
    groups = mesh.axis_chips(cluster_axis)
    vals = _group_values(t, groups)
    runs = [_Group(g, _topology(op, mesh, g, topology), [i for i in g if t._shards[i] is not None]) for g in groups]
    return vals, [r for r in runs if r.local]


def _output(op, output_tensor):
    if output_tensor is not None:
        raise RuntimeError(f"{op}: output_tensor= (a preallocated output) is not emulated; leave it None")


def _same_on_chip(out: list, local: list[int], i: int, values: torch.Tensor, s: Tensor, memory_config) -> Tensor:
    """Chip i's copy of a result every chip of its group gets alike: the group's first chip converts the values
    to the device format; the others hold that same host tensor (sim/mesh_share.py: no op writes host values in
    place), each with its own buffer on its own chip."""
    first = out[local[0]]
    mc = memory_config or s.memory_config()
    if i == local[0] or first._dtype != s.dtype or first._layout != s.layout:
        return new_device_tensor(values, s.dtype, s.layout, s.device(), mc)
    return Tensor._make(first._values, s.dtype, s.layout, s.device(), mc)


@operation("ttnn.all_gather")
def all_gather(input_tensor, dim, *, cluster_axis=None, memory_config=None, output_tensor=None, subdevice_id=None,
               sub_core_grids=None, num_links=None, topology=None, chunks_per_sync=None, num_workers_per_link=None,
               num_buffers_per_channel=None, use_l1_small_for_semaphores=False):
    """Every chip of a group gets the group's shards concatenated along `dim`, in mesh order."""
    op = "ttnn.all_gather"
    t = _mesh_input(op, input_tensor)
    _output(op, output_tensor)
    mesh, d = t._mesh, _norm_dim(dim, len(t.shape), op)
    links = _links(op, mesh, num_links)
    out = list(t._shards)
    vals, groups = _local_groups(op, t, cluster_axis, topology)
    for group, kind, local in groups:
        values = torch.cat([vals[i] for i in group], dim=d)
        for i in local:
            s = t._shards[i]
            out[i] = _same_on_chip(out, local, i, values, s, memory_config)
        _charge(op, mesh, group, local, nbytes(out[local[0]]), kind, links)
    return MeshTensor._of(out, mesh, _dist_shape(t, cluster_axis), _placements(t, cluster_axis, PlacementReplicate()))


@operation("ttnn.reduce_scatter")
def reduce_scatter(input_tensor, dim, *, cluster_axis=None, subdevice_id=None, memory_config=None,
                   intermediate_memory_config=None, output_tensor=None, num_links=None, topology=None,
                   chunks_per_sync=None, num_workers_per_link=None, num_buffers_per_channel=None,
                   compute_kernel_config=None, use_l1_small_for_semaphores=False):
    """The group's shards summed, the sum split along `dim`: chip k of the group keeps the k-th piece."""
    op = "ttnn.reduce_scatter"
    t = _mesh_input(op, input_tensor)
    _output(op, output_tensor)
    _check_reducible(op, t)
    mesh, d = t._mesh, _norm_dim(dim, len(t.shape), op)
    links = _links(op, mesh, num_links)
    out = list(t._shards)
    for group in mesh.axis_chips(cluster_axis):
        n = len(group)
        if t.shape[d] % n:
            raise RuntimeError(f"{op}: dim {dim} of size {t.shape[d]} cannot be scattered evenly over {n} chips; "
                               f"pad it to a multiple of {n}")
    vals, groups = _local_groups(op, t, cluster_axis, topology)
    for group, kind, local in groups:
        n = len(group)
        pieces = [torch.chunk(vals[i], n, dim=d) for i in group]
        for k, i in enumerate(group):
            if i not in local:
                continue
            order = [(k + 1 + j) % n for j in range(n)] if kind == "ring" else list(range(n))
            s = t._shards[i]
            out[i] = new_device_tensor(_bf16_sum([pieces[j][k] for j in order], s.dtype), s.dtype, s.layout,
                                       s.device(), memory_config or s.memory_config())
        _charge(op, mesh, group, local, nbytes(t._shards[local[0]]), kind, links)
    return MeshTensor._of(out, mesh, _dist_shape(t, cluster_axis), _placements(t, cluster_axis, PlacementShard(d)))


@operation("ttnn.all_reduce")
def all_reduce(input_tensor, *, cluster_axis=None, subdevice_id=None, memory_config=None, num_links=None,
               topology=None):
    """Every chip of a group gets the sum of the group's shards (same shape as the input)."""
    op = "ttnn.all_reduce"
    t = _mesh_input(op, input_tensor)
    _check_reducible(op, t)
    mesh = t._mesh
    links = _links(op, mesh, num_links)
    out = list(t._shards)
    vals, groups = _local_groups(op, t, cluster_axis, topology)
    for group, kind, local in groups:
        s0 = t._shards[local[0]]
        total = _bf16_sum([vals[i] for i in group], s0.dtype)
        for i in local:
            s = t._shards[i]
            out[i] = _same_on_chip(out, local, i, total, s, memory_config)
        _charge(op, mesh, group, local, nbytes(s0), kind, links)
    return MeshTensor._of(out, mesh, _dist_shape(t, cluster_axis), _placements(t, cluster_axis, PlacementReplicate()))


WHOLE_MESH_OPS.update({"ttnn.all_gather", "ttnn.reduce_scatter", "ttnn.all_reduce"})
