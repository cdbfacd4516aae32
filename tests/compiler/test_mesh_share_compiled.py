"""A compiled model on a mesh gives the same figures with the emulator's sharing on and off (sim/mesh_share.py):
every chip's op records, memory and transfers, and the output, bit for bit; with it on, chips that hold the same
values computed them once."""
import pytest
import torch

import torch_ttnn
import torch_ttnn.sim as ttnn
from torch_ttnn.bench import mesh_matrix as mm
from torch_ttnn.sim import mesh_share


def _run(model: str, mesh_s: str, mode: str):
    shape = tuple(int(v) for v in mesh_s.split("x"))
    ex, _, _ = mm.build(model, "tiny", mm._batch(shape, mode), None)
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(*shape))
    try:
        torch._dynamo.reset()
        got = ex.run(torch.compile(ex.model, backend=torch_ttnn.backend, options=mm._option(mesh, mode))).float()
        figs = [([(r.name, r.time_ns, r.program_cache, r.compile_ns, r.bytes, r.flops) for r in c.op_records],
                 c.memory_report(), (c.transfers.h2d, c.transfers.d2h, c.transfers.h2d_bytes, c.transfers.d2h_bytes))
                for c in mesh.get_devices()]
    finally:
        ttnn.close_mesh_device(mesh)
        torch._dynamo.reset()
    return got, figs


@pytest.mark.parametrize("model, mesh_s, mode", [("llama", "2x4", "dp+tp"), ("bert", "1x2", "tp")])
def test_sharing_leaves_every_chips_figures_and_the_output_unchanged(monkeypatch, model, mesh_s, mode):
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", mm.MESHES[mesh_s])
    monkeypatch.setenv("TORCH_TTNN_SIM_MESH_SHARE", "0")
    got0, figs0 = _run(model, mesh_s, mode)
    monkeypatch.setenv("TORCH_TTNN_SIM_MESH_SHARE", "1")
    before = mesh_share.stats["replayed"]
    got1, figs1 = _run(model, mesh_s, mode)
    assert mesh_share.stats["replayed"] > before
    assert torch.equal(got0, got1)
    assert len(figs0) == len(figs1)
    for chip, (a, b) in enumerate(zip(figs0, figs1)):
        assert a == b, f"chip {chip}: figures differ with sharing on"
