"""torch-ttnn: run PyTorch models on Tenstorrent's TT-NN (or its emulator, torch_ttnn.sim)."""
__version__ = "0.6.0"

from .device import from_ttnn, ttnn_device_as_torch_device  # noqa: E402,F401  (registers the `ttnn` device)


def __getattr__(name):  # the compiler imports dynamo machinery: load it on first use, not on `import torch_ttnn`
    if name in ("backend", "TorchTtnnOption"):
        from . import compiler
        return getattr(compiler, name)
    raise AttributeError(f"module 'torch_ttnn' has no attribute {name!r}")
