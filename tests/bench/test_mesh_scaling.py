"""`torch-ttnn bench --mesh RxC` (bench/mesh_scaling.py): data-parallel throughput against chips, as a PNG."""
import json

import pytest

from torch_ttnn.bench import mesh_scaling
from torch_ttnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("mesh, steps", [((1, 2), [(1, 1), (1, 2)]), ((2, 4), [(1, 1), (1, 2), (1, 4), (2, 4)]),
                                         ((8, 4), [(1, 1), (1, 2), (1, 4), (2, 4), (4, 4), (8, 4)]),
                                         ((1, 8), [(1, 1), (1, 2), (1, 4), (1, 8)])])
def test_mesh_steps_double_the_chips_up_to_the_whole_mesh(mesh, steps):
    assert mesh_scaling.mesh_steps(*mesh) == steps


@pytest.mark.parametrize("mesh, preset", [((1, 2), "n300"), ((2, 4), "t3000"), ((4, 2), "t3000"),
                                          ((8, 4), "galaxy"), ((1, 8), "t3000")])
def test_the_smallest_preset_holding_the_mesh(mesh, preset):
    assert mesh_scaling.preset_for(*mesh) == preset


@pytest.mark.parametrize("text", ["2by4", "0x2", "x", "3"])
def test_a_bad_mesh_is_refused_before_any_work(text, tmp_path):
    with pytest.raises(SystemExit, match="--mesh"):
        main(["bench", "--mesh", text, "--out", str(tmp_path)])


def test_no_preset_has_the_mesh():
    with pytest.raises(SystemExit, match="no emulated card preset has a 5x7 mesh"):
        mesh_scaling.preset_for(5, 7)


def test_bench_mesh_plots_throughput_against_chips(tmp_path):
    assert main(["bench", "--mesh", "1x2", "--size", "tiny", "--models", "bert", "--batch", "2",
                 "--out", str(tmp_path)]) == 0
    png = tmp_path / "mesh_scaling_1x2.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rec = json.loads((tmp_path / "mesh_scaling_1x2.json").read_text())
    one, two = rec["points"]
    assert (one["chips"], one["batch"], two["chips"], two["batch"]) == (1, 2, 2, 4)
    assert one["pcc"] >= 0.99 and two["pcc"] >= 0.99
    # each chip runs the one-chip program on its 2 samples: the same device time, twice the samples per second
    assert two["device_time_ms"] == pytest.approx(one["device_time_ms"], rel=1e-6)
    assert two["samples_per_s"] == pytest.approx(2 * one["samples_per_s"], rel=1e-6)
