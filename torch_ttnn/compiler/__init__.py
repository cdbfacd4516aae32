"""The torch.compile backend (`backend="ttnn"`, or `torch_ttnn.backend` with a `TorchTtnnOption`)."""
from .backend import CompiledGraph, backend  # noqa: F401
from .options import TorchTtnnOption  # noqa: F401
