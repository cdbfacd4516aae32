"""torch-ttnn: run PyTorch models on Tenstorrent's TT-NN (or its emulator, torch_ttnn.sim)."""
__version__ = "0.6.0"

from .device import from_ttnn, ttnn_device_as_torch_device  # noqa: E402,F401  (registers the `ttnn` device)
