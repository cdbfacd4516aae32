"""Data parallel on emulated meshes (compiler/data_parallel.py, compiler/mesh.py): the batch split over the chips,
parameters replicated, outputs gathered; padding of an indivisible batch; 0.5's README example; bad input."""
import pytest
import torch

import torch_ttnn
import torch_ttnn.compiler.mesh  # noqa: F401  (exported scripts call torch_ttnn.compiler.mesh.gather)
import torch_ttnn.sim as ttnn

from helpers import pcc
import os, sys  # noqa: E401
sys.path.insert(0, os.path.dirname(__file__))
from tiny_hf import build, tensors  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _run(model, x, option):
    torch._dynamo.reset()
    with torch.no_grad():
        ref = tensors(model(x))
        got = tensors(torch.compile(model, backend=torch_ttnn.backend, options=option)(x))
    assert len(got) == len(ref)
    for r, g in zip(ref, got):
        assert g.shape == r.shape
        assert pcc(r, g) >= 0.99
    return option.metrics[0]


@pytest.mark.parametrize("name", ["bert", "llama"])
@pytest.mark.parametrize("preset, shape, batch", [("n300", (1, 2), 4), ("t3000", (2, 4), 8),
                                                  ("galaxy", (8, 4), 32)])
def test_tiny_models_split_their_batch_over_the_mesh(mesh_of, name, preset, shape, batch):
    mesh = mesh_of(preset, shape)
    model, _ = build(name)
    torch.manual_seed(1)
    x = torch.randint(0, 100, (batch, 16))
    m = _run(model.eval(), x, torch_ttnn.TorchTtnnOption(device=mesh, data_parallel=True, verbose=False))
    chips = shape[0] * shape[1]
    dp = m["mesh"]["data_parallel"]
    assert (m["mesh"]["chips"], dp["chips"], dp["per_chip_batch"], dp["padding"]) == \
        (chips, chips, batch // chips, 0)
    per_chip = m["mesh"]["device_time_per_chip_ms"]
    assert len(per_chip) == chips and min(per_chip) > 0 and m["device_time_ms"] == max(per_chip)
    assert m["cpu_ops"] == 0 and m["mesh"]["collective_ms"] == 0.0   # data parallel inference: no collective
    # every chip ran the per-chip batch: its device time is the one-chip program's at that batch
    assert max(per_chip) == pytest.approx(min(per_chip))


def test_per_chip_time_is_the_per_chip_batch_time(mesh_of, device):
    """Splitting batch 8 over 2 chips gives each chip the device time of a batch-4 run on one chip."""
    model, _ = build("bert")
    model.eval()
    x = torch.randint(0, 100, (8, 16))
    one = _run(model, x[:4], torch_ttnn.TorchTtnnOption(device=device, verbose=False))
    two = _run(model, x, torch_ttnn.TorchTtnnOption(device=mesh_of("n300", (1, 2)), data_parallel=True,
                                                    verbose=False))
    assert two["mesh"]["device_time_per_chip_ms"] == [pytest.approx(one["device_time_ms"], rel=1e-6)] * 2


@pytest.mark.parametrize("batch, per_chip", [(3, 2), (1, 1)])
def test_an_indivisible_batch_is_padded_and_the_padding_reported(mesh_of, batch, per_chip):
    model, _ = build("bert")
    x = torch.randint(0, 100, (batch, 16))
    m = _run(model.eval(), x, torch_ttnn.TorchTtnnOption(device=mesh_of("n300", (1, 2)), data_parallel=True,
                                                         verbose=False, check_accuracy=True))
    assert m["pcc"] >= 0.99     # check_accuracy: the full-batch ATen graph on CPU against the gathered outputs
    assert m["mesh"]["data_parallel"] == {"batch": batch, "chips": 2, "per_chip_batch": per_chip,
                                          "padded_batch": 2 * per_chip, "padding": 2 * per_chip - batch,
                                          "split_inputs": [0]}
    # the padded batch crosses to the chips (int64 ids), and comes back before the padding is dropped
    assert m["mesh"]["transfer_bytes_per_call"]["h2d_bytes"] == 2 * per_chip * 16 * 8


def test_readme_example_of_05_runs_unchanged(mesh_of, monkeypatch):
    """tenstorrent/pytorch2.0_ttnn README's compile example: a 1x2 mesh and data_parallel=2."""
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "n300")
    torch._dynamo.reset()
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 32)).eval()
    input_data = torch.randn(8, 64)

    device = ttnn.open_mesh_device(ttnn.MeshShape(1, 2))  # 1x2 device grid
    option = torch_ttnn.TorchTtnnOption(device=device, data_parallel=2)

    model = torch.compile(model, backend=torch_ttnn.backend, options=option)
    output = model(input_data)

    ttnn.close_mesh_device(device)
    torch.testing.assert_close(output, model._orig_mod(input_data), rtol=0.05, atol=0.05)
    assert option.metrics[0]["mesh"]["data_parallel"]["per_chip_batch"] == 4


def test_data_parallel_over_one_axis_replicates_along_the_other(mesh_of):
    """data_parallel_axis=1 on a 2x4 mesh: the batch split over the 4 chips of a row; both rows hold it whole
    (the other axis is free for tensor parallel)."""
    model, _ = build("bert")
    x = torch.randint(0, 100, (8, 16))
    mesh = mesh_of("t3000", (2, 4))
    m = _run(model.eval(), x, torch_ttnn.TorchTtnnOption(device=mesh, data_parallel=True, data_parallel_axis=1,
                                                         verbose=False))
    assert m["mesh"]["data_parallel"]["chips"] == 4 and m["mesh"]["data_parallel"]["per_chip_batch"] == 2
    assert m["mesh"]["data_parallel_axis"] == 1 and len(m["mesh"]["device_time_per_chip_ms"]) == 8


def test_batch_that_cannot_be_split_without_padding_is_an_error_when_padding_is_off(mesh_of):
    model, _ = build("bert")
    option = torch_ttnn.TorchTtnnOption(device=mesh_of("n300", (1, 2)), data_parallel=True, pad_batch=False,
                                        verbose=False)
    with pytest.raises(Exception, match=r"batch 3 cannot be split evenly over 2 chips and pad_batch=False: use a "
                                        r"batch that is a multiple of 2, or leave pad_batch=True \(the batch is "
                                        r"padded to 4\)"):
        _run(model.eval(), torch.randint(0, 100, (3, 16)), option)


def test_a_reduction_over_the_batch_is_not_split(mesh_of):
    class BatchMean(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(32, 32)

        def forward(self, x):
            return self.lin(x).mean(0)
    option = torch_ttnn.TorchTtnnOption(device=mesh_of("n300", (1, 2)), data_parallel=True, verbose=False)
    with pytest.raises(Exception, match=r"no batch dim from batched values"):
        _run(BatchMean().eval(), torch.randn(4, 32), option)


def test_a_mesh_shape_the_preset_cannot_have(monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "n300")
    with pytest.raises(RuntimeError, match=r"a MeshShape\(\[2, 4\]\) mesh .* does not fit the emulated n300, whose 2 "
                                           r"chip\(s\) are wired as 1x2\. Open a shape that fits, or emulate a "
                                           r"larger system with TORCH_TTNN_SIM_ARCH"):
        ttnn.open_mesh_device(ttnn.MeshShape(2, 4))


@pytest.mark.parametrize("kwargs, err", [
    (dict(data_parallel=4), r"data_parallel=4 chips, but this \[1, 2\] mesh has 2"),
    (dict(data_parallel=False), r"data_parallel=True"),
    (dict(data_parallel=True, data_parallel_axis=2), r"data_parallel_axis must be None"),
    (dict(data_parallel=True, trace=True), r"trace capture on a mesh"),
])
def test_bad_mesh_options(mesh_of, kwargs, err):
    with pytest.raises(ValueError, match=err):
        torch_ttnn.TorchTtnnOption(device=mesh_of("n300", (1, 2)), **kwargs)


def test_data_parallel_without_a_mesh_says_to_open_one(device):
    with pytest.raises(ValueError, match=r"open_mesh_device"):
        torch_ttnn.TorchTtnnOption(device=device, data_parallel=2)


def test_parameters_are_replicated_once_and_the_picture_shows_the_placement(mesh_of):
    from torch_ttnn.compiler.graphviz import to_dot
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 32)).eval()
    option = torch_ttnn.TorchTtnnOption(device=mesh_of("n300", (1, 2)), data_parallel=True, verbose=False)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
    x = torch.randn(8, 64)
    with torch.no_grad():
        first = compiled(x)
        h2d_first = option.metrics[0]["h2d_per_call"]
        second = compiled(x)
    assert h2d_first == 5 and option.metrics[0]["h2d_per_call"] == 1   # 4 parameters once, then the input only
    torch.testing.assert_close(first, second)
    dot = to_dot(option._out_fx_graphs[0])
    assert dot.count("PlacementShard(0)") == 1 and dot.count("replicated on every chip") == 4
    assert "2 chips' shards joined on dim 0" in dot
    text = option.summary()
    assert "mesh 1x2, 2 chips: est. device time per chip" in text and \
        "data parallel: batch 8 over 2 chips, 4 per chip" in text


@pytest.mark.parametrize("batch", [1, 3])
def test_two_batch_inputs_and_batch_sized_literals_that_are_not_the_batch(mesh_of, batch):
    """Zoo BERT passes input_ids and a padded attention_mask (both split); at batch 1 every size-1 literal looks
    like the batch (a token-type buffer expanded to [1, -1]) and the probe finds the reading under which the graph
    fits (data_parallel.READINGS)."""
    from torch_ttnn import zoo
    from torch_ttnn.compiler.metrics import pcc as pcc_
    torch._dynamo.reset()
    ex = zoo.build("bert", "tiny", batch=batch)
    option = torch_ttnn.TorchTtnnOption(device=mesh_of("n300", (1, 2)), data_parallel=True, verbose=False)
    got = ex.run(torch.compile(ex.model, backend=torch_ttnn.backend, options=option))
    assert got.shape == ex.run().shape and pcc_(ex.run().float(), got.float()) >= 0.99
    assert len(option.metrics[0]["mesh"]["data_parallel"]["split_inputs"]) == 2


@pytest.mark.parametrize("name", ["bert", "llama"])
def test_a_batch_as_long_as_the_sequence(mesh_of, name):
    """Batch 16 of 16 tokens (zoo tiny configs, padded attention mask, Llama with use_cache=False): the mask code
    makes arange(16) twice, once as the batch index into the [batch, seq] mask (aten.index) and once as the
    positions. Only the first is the batch; taking both, or neither, for it refused the graph."""
    from torch_ttnn import zoo
    from torch_ttnn.compiler import data_parallel
    from torch_ttnn.compiler.metrics import pcc as pcc_
    torch._dynamo.reset()
    ex = zoo.build(name, "tiny", batch=16)
    ex.kwargs["input_ids"] = ex.kwargs["input_ids"][:, :16].contiguous()
    ex.kwargs["attention_mask"] = torch.ones(16, 16, dtype=torch.long)
    ex.kwargs["attention_mask"][::2, -5:] = 0        # every other sample padded
    if name == "llama":
        ex.kwargs["use_cache"] = False
    option = torch_ttnn.TorchTtnnOption(device=mesh_of("n300", (1, 2)), data_parallel=True, verbose=False)
    got = ex.run(torch.compile(ex.model, backend=torch_ttnn.backend, options=option))
    assert got.shape == ex.run().shape and pcc_(ex.run().float(), got.float()) >= 0.99
    dp = option.metrics[0]["mesh"]["data_parallel"]
    assert (dp["per_chip_batch"], dp["padding"]) == (8, 0) and option.metrics[0]["cpu_ops"] == 0
    assert data_parallel.READINGS[0] == data_parallel.Reading("index", True)


def test_exported_code_of_a_data_parallel_graph_runs_on_the_mesh(mesh_of, tmp_path):
    """export_code spells the mesh transfers (ShardTensorToMesh, ReplicateTensorToMesh, the gather back)."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)).eval()
    mesh = mesh_of("n300", (1, 2))
    path = tmp_path / "dp.py"
    option = torch_ttnn.TorchTtnnOption(device=mesh, data_parallel=True, verbose=False, export_code=str(path))
    x = torch.randn(4, 32)
    with torch.no_grad():
        torch.compile(model, backend=torch_ttnn.backend, options=option)(x)
    src = path.read_text()
    assert "mesh_mapper=ttnn.ShardTensorToMesh(device, dim=0)" in src and \
        src.count("mesh_mapper=ttnn.ReplicateTensorToMesh(device)") == 4
    scope = {"ttnn": ttnn, "torch": torch, "torch_ttnn": torch_ttnn}
    exec(src, scope)
    w0, b0, w1, b1 = (p.detach() for p in model.parameters())
    got = scope["ttnn_graph_0_0"](mesh, w0, b0, x, w1, b1)[0]
    with torch.no_grad():
        assert pcc(model(x), got) >= 0.999
