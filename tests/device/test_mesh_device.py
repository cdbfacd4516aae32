"""The eager `ttnn` device on a mesh: with a mesh open, ttnn:0 .. ttnn:N-1 are its chips."""
import pytest
import torch

import torch_ttnn
import torch_ttnn.sim as ttnn


@pytest.mark.parametrize("preset, shape", [("n300", (1, 2)), ("t3000", (2, 4)), ("t3000", (1, 2)),
                                           ("galaxy", (8, 4))])
def test_the_chips_of_the_open_mesh_are_the_ttnn_devices(mesh_of, preset, shape):
    mesh = mesh_of(preset, shape)
    n = shape[0] * shape[1]
    assert torch.ttnn.device_count() == n
    last = n - 1
    x = torch.randn(4, 32)
    chip = mesh.get_devices()[last]
    before = len(chip.op_records)
    y = x.to(f"ttnn:{last}")
    assert y.ttnn_tensor().device() is chip and y.device == torch.device("ttnn", last)
    z = (y * 2 + 1).cpu()
    torch.testing.assert_close(z, x * 2 + 1, rtol=0.02, atol=0.02)
    assert len(chip.op_records) > before                      # the work ran on that chip
    assert all(not c.op_records for c in mesh.get_devices()[:last])
    with pytest.raises(RuntimeError, match=f"ttnn:{n} does not exist: {n} ttnn device"):
        x.to(f"ttnn:{n}")


def test_a_registered_mesh_gives_its_chips(mesh_of):
    mesh = mesh_of("n300", (1, 2))
    assert torch_ttnn.device.as_torch_device(mesh) == torch.device("ttnn", 0)
    assert torch.ttnn.device_count() == 2
    assert torch.ttnn.get_ttnn_device(1) is mesh.get_devices()[1]


def test_closing_the_mesh_gives_back_the_single_devices(monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "t3000")
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 2))
    assert torch.ttnn.device_count() == 2
    ttnn.close_mesh_device(mesh)
    assert torch.ttnn.device_count() == ttnn.GetNumAvailableDevices() == 8
    assert torch.ttnn.get_ttnn_device(1) is not mesh.get_devices()[1]
