"""Collectives the tensor-parallel pass (compiler/tensor_parallel.py) puts into a per-chip ATen graph.

They are not ATen ops: a per-chip graph needs a node that says "sum this value over the chips of the mesh axis"
or "concatenate it over them", and such a node has no meaning on one CPU. So they are custom ops in the
`torch_ttnn` namespace, with a fake implementation (the per-chip output shape) for shape propagation, a CPU
implementation that refuses clearly, and one lowering rule each onto TT-NN's own collective.
"""
from __future__ import annotations

import torch

from ..registry import lowering
from ._util import tile


def _refuse(what: str):
    raise RuntimeError(f"torch_ttnn.{what} is a collective over the chips of a mesh: it has no CPU meaning. It "
                       f"appears only in graphs the tensor-parallel pass made for a mesh device; compile with "
                       f"TorchTtnnOption(tensor_parallel=False) to run the model on one device")


@torch.library.custom_op("torch_ttnn::mesh_all_reduce", mutates_args=())
def mesh_all_reduce(x: torch.Tensor, cluster_axis: int) -> torch.Tensor:
    """Every chip of the axis gets the sum of the axis's per-chip values (cluster_axis -1: all chips)."""
    _refuse("mesh_all_reduce")


@mesh_all_reduce.register_fake
def _(x, cluster_axis):
    return torch.empty_like(x)


@torch.library.custom_op("torch_ttnn::mesh_all_gather", mutates_args=())
def mesh_all_gather(x: torch.Tensor, dim: int, chips: int, cluster_axis: int) -> torch.Tensor:
    """Every chip of the axis gets the axis's per-chip values concatenated along `dim`, in chip order."""
    _refuse("mesh_all_gather")


@mesh_all_gather.register_fake
def _(x, dim, chips, cluster_axis):
    shape = list(x.shape)
    shape[dim] *= chips
    return x.new_empty(shape)


ALL_REDUCE = torch.ops.torch_ttnn.mesh_all_reduce.default
ALL_GATHER = torch.ops.torch_ttnn.mesh_all_gather.default


def _axis(cluster_axis: int):
    return None if cluster_axis < 0 else cluster_axis


@lowering(ALL_REDUCE, when=lambda x, cluster_axis: x.is_floating_point() and x.dim() >= 2)
def all_reduce(ttnn, x, cluster_axis):
    return ttnn.all_reduce(tile(ttnn, x), cluster_axis=_axis(cluster_axis))


@lowering(ALL_GATHER, when=lambda x, dim, chips, cluster_axis: x.dim() >= 1)
def all_gather(ttnn, x, dim, chips, cluster_axis):
    return ttnn.all_gather(tile(ttnn, x), dim, cluster_axis=_axis(cluster_axis))
