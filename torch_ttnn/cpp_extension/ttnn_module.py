"""0.5 compatibility: `from torch_ttnn.cpp_extension.ttnn_module import as_torch_device, get_ttnn_tensor`.

Thin aliases of torch_ttnn.device, which is where new code should import them from.
"""
from ..device import as_torch_device, get_ttnn_tensor  # noqa: F401

__all__ = ["as_torch_device", "get_ttnn_tensor"]
