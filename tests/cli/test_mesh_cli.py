"""`torch-ttnn graph MODEL --mesh RxC`: the lowered graph of a data-parallel compile shows each value's placement."""
import pytest

from torch_ttnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_graph_on_a_mesh_shows_split_replicated_and_gathered_values(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "n150")   # the command picks the preset holding the mesh itself
    import torch_ttnn.sim as ttnn
    out = tmp_path / "bert.dot"
    try:
        assert main(["graph", "bert", "--size", "tiny", "--mesh", "1x2", "-o", str(out)]) == 0
    finally:   # the command leaves its mesh open (a process of its own normally): close it for the next tests
        for m in list(ttnn.mesh._open_meshes):
            ttnn.close_mesh_device(m)
    dot = out.read_text()
    assert dot.count("[PlacementShard(0)]") == 2        # input_ids and attention_mask split over the chips
    assert "replicated on every chip" in dot and "2 chips' shards joined on dim 0" in dot
