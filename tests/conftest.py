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

