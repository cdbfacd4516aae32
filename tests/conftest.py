import os

import pytest
import torch

os.environ.setdefault("TORCH_TTNN_RUNTIME", "sim")


@pytest.fixture(scope="session")
def ttnn():
    import torch_ttnn.sim as ttnn
    return ttnn


@pytest.fixture(scope="session")
def device(ttnn):
    """The emulated device, opened once for the whole session."""
    dev = ttnn.open_device(device_id=0)
    yield dev
    ttnn.close_device(dev)



@pytest.fixture
def traced_device(device):
    """The session's device with a trace region (64 MiB) for tests that capture traces; restored after."""
    old = device.trace_region_size
    device.trace_region_size = 64 << 20
    yield device
    device.trace_region_size = old


@pytest.fixture
def mesh_of(monkeypatch, ttnn):
    """mesh_of(preset, (rows, cols)) opens a mesh on an emulated card preset (TORCH_TTNN_SIM_ARCH); closed after
    the test."""
    opened = []

    def use(preset, shape):
        monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", preset)
        mesh = ttnn.open_mesh_device(ttnn.MeshShape(*shape))
        opened.append(mesh)
        return mesh
    yield use
    for m in opened:
        ttnn.close_mesh_device(m)
