"""What tests/sim/test_mesh_multiprocess.py runs twice: in one process, and as each of the torchrun processes a
mesh is spread over (`python -m torch.distributed.run --nproc-per-node 2 mesh_multiprocess_cases.py OUT_DIR`).

Every case returns plain values (host tensors, per-chip figures keyed by the chip's row-major index), so the test
can compare the processes' results with the one-process run bit for bit. TORCH_TTNN_SIM_ARCH=t3000 (8 chips)."""
from __future__ import annotations

import os
import sys

import torch
import torch.nn as nn

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import multiprocess


def _chip_figures(mesh) -> dict:
    """Est. device time and DRAM in use of each chip this process holds, by row-major index."""
    local = list(mesh.processes.local) if mesh.processes is not None else list(range(mesh.get_num_devices()))
    return {k: (c.estimated_time_ns(), c.allocated_bytes()) for k, c in zip(local, mesh.get_devices())}


def raw_ops(shape=(1, 8)) -> dict:
    """TT-NN mesh ops by hand: a sharded and a replicated from_torch, a matmul and gelu on every chip, the three
    collectives (over all chips, and along each axis of a 2-D mesh), read back with composers."""
    mesh = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(*shape))
    try:
        torch.manual_seed(0)
        n = mesh.get_num_devices()
        x = torch.randn(n, 1, 32, 64)
        w = torch.randn(64, 64 * n) / 8
        xs = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh,
                             mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=0))
        ws = ttnn.from_torch(w, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=mesh)   # replicated
        y = ttnn.gelu(ttnn.matmul(xs, ws))
        out = {"y": ttnn.to_torch(y, mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=0))}
        axes = [None] if len(shape) == 1 or shape[0] == 1 else [None, 0, 1]
        for axis in axes:
            tag = "all" if axis is None else f"axis{axis}"
            g = ttnn.all_gather(y, dim=0, cluster_axis=axis)
            rs = ttnn.reduce_scatter(y, dim=3, cluster_axis=axis)
            ar = ttnn.all_reduce(y, cluster_axis=axis)
            for name, t in (("all_gather", g), ("reduce_scatter", rs), ("all_reduce", ar)):
                out[f"{name}_{tag}"] = ttnn.to_torch(t, mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=0))
        # host shards first, then onto the chips; and back from the chips as host shards
        host = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                               mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=3))
        z = ttnn.add(ttnn.to_device(host, mesh), 1.0)
        out["via_host"] = ttnn.to_torch(ttnn.from_device(z), mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=3))
        agg = ttnn.aggregate_tensor(y, ttnn.ConcatMeshToTensor(mesh, dim=1))
        out["aggregate"] = ttnn.to_torch(agg)
        out["chips"] = _chip_figures(mesh)
        # which chips' shards this process materialised (spread: its own only), and the chips it holds
        out["held"] = [s is not None for s in y._shards]
        out["device_tensors"] = len(ttnn.get_device_tensors(y))
        out["remote_chips"] = [type(c).__name__ == "RemoteChip" for c in mesh._chips]
        # the eager device's ttnn:0 .. ttnn:k-1 are the chips this process holds
        from torch_ttnn.device import backend as eager
        out["ids"] = mesh.get_device_ids()
        out["eager_chips"] = [eager.ttnn_device(i).device_id for i in range(eager.device_count())]
        return out
    finally:
        ttnn.close_mesh_device(mesh)


class TinyLM(nn.Module):
    """Embedding, a pre-norm MLP block with a residual, an LM head: column-parallel up and head, row-parallel
    down (one all_reduce), the logits all-gathered, under tensor parallel."""

    def __init__(self, vocab=128, hidden=64, inter=256):
        super().__init__()
        self.emb = nn.Embedding(vocab, hidden)
        self.norm, self.up, self.down = nn.LayerNorm(hidden), nn.Linear(hidden, inter), nn.Linear(inter, hidden)
        self.norm2, self.head = nn.LayerNorm(hidden), nn.Linear(hidden, vocab)

    def forward(self, ids):
        h = self.emb(ids)
        h = h + self.down(torch.nn.functional.gelu(self.up(self.norm(h))))
        return self.head(self.norm2(h))


def compiled(shape=(1, 8), **mode) -> dict:
    """TinyLM compiled on a mesh with `mode`: data_parallel=True, tensor_parallel=True, or both on a 2-D mesh
    (the batch over the rows, which are the processes' blocks; the layers over each row's chips)."""
    import torch_ttnn
    torch._dynamo.reset()
    mesh = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(*shape))
    try:
        torch.manual_seed(0)
        model = TinyLM().eval()
        ids = torch.randint(0, 128, (8, 32))
        option = torch_ttnn.TorchTtnnOption(device=mesh, verbose=False, **mode)
        with torch.no_grad():
            ref = model(ids)
            got = torch.compile(model, backend=torch_ttnn.backend, options=option)(ids)
        m = option.metrics[0]
        return {"out": got, "ref": ref, "per_chip_ms": m["mesh"]["device_time_per_chip_ms"],
                "processes": m["mesh"]["processes"], "collective_ms": m["mesh"]["collective_ms"],
                "tensor_parallel": m["mesh"]["tensor_parallel"], "cpu_ops": m["cpu_ops"],
                "chips": _chip_figures(mesh)}
    finally:
        ttnn.close_mesh_device(mesh)


def bad_meshes() -> dict:
    """The errors a spread mesh gives, as text: a chip count the processes do not divide, and processes that
    open different meshes (caught in all of them, never a hang)."""
    rank = multiprocess.active()[0]
    errors = {}
    for name, shape in (("indivisible", (1, 3)), ("mismatch", (1, 8) if rank == 0 else (2, 4))):
        try:
            ttnn.close_mesh_device(ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(*shape)))
            errors[name] = None
        except multiprocess.DistributedMeshError as e:
            errors[name] = str(e)
    return errors


def run_all() -> dict:
    return {"raw_1x8": raw_ops((1, 8)), "raw_2x4": raw_ops((2, 4)), "data_parallel": compiled(data_parallel=True),
            "tensor_parallel": compiled(tensor_parallel=True),
            "data_and_tensor_parallel": compiled((2, 4), data_parallel=True, data_parallel_axis=0,
                                                 tensor_parallel=True)}


if __name__ == "__main__":   # one torchrun process
    multiprocess.init(timeout_s=float(os.environ.get("MESH_MP_TIMEOUT_S", "60")))
    import torch.distributed as dist
    results = run_all()
    results["errors"] = bad_meshes()
    results["rank"], results["world_size"] = dist.get_rank(), dist.get_world_size()
    torch.save(results, os.path.join(sys.argv[1], f"rank{dist.get_rank()}.pt"))
    dist.destroy_process_group()
