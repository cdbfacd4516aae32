"""The native `ttnn` torch device: `x.to("ttnn")`, `model.to("ttnn")`, eager PyTorch on TT-NN, pure Python.

Mechanism, and why. PyTorch's PrivateUse1 device key is renamed "ttnn" with
`torch.utils.backend_registration._setup_privateuseone_for_python_backend`, which installs from Python the hooks,
device guard and device module (`torch.ttnn`) that a C++ backend would provide, so device strings, `x.to`,
`Module.to`, `x.is_ttnn` and the device-type checks in autograd and optimizers all work. Tensors on the device
are a wrapper subclass (`TtnnTensor`, made with `_make_wrapper_subclass`) holding a TT-NN tensor of the active
runtime; its `__torch_dispatch__` sees every ATen op below autograd, so forward, backward and optimizer steps all
arrive as ATen ops and go through the ONE lowering registry the compiler uses (dispatch.py), with a counted CPU
fallback. Factory calls (`torch.zeros(..., device="ttnn")`) reach two Python kernels registered for PrivateUse1
(`empty.memory_format`, `empty_strided`) that return the subclass. The alternative, a C++ TensorImpl and
allocator as in torch-ttnn 0.5, needs a compiled extension per torch version, and its loader was the main support
problem; a subclass alone (without the renamed key) cannot be named by device strings or moved by `Module.to`.

torch.compile: dynamo takes TtnnTensors as ordinary graph inputs (see `_DynamoView` in tensor.py), so a module
whose parameters live on ttnn compiles to one graph and the backend receives the parameter objects themselves;
it unwraps them with `x.ttnn_tensor()` (no copy) and wraps results with `from_ttnn`.

Public API: `is_ttnn_tensor(x)`, `x.ttnn_tensor()` (the TT-NN tensor inside, for the compiler backend and
users), `from_ttnn(t)`, `to_ttnn(x, layout=)`, `as_torch_device(ttnn_device)`, `fallback_counts()`,
`set_default_layout()`. Dtype and layout policy: see tensor.py.
"""
from __future__ import annotations

import torch

from .backend import device_count, register, register_ttnn_device, ttnn_device
from .dispatch import TtnnFallbackWarning, fallback_counts, reset_fallback_counts
from .tensor import TtnnTensor, host_to_tt, is_ttnn_tensor, set_default_layout

__all__ = ["TtnnTensor", "TtnnFallbackWarning", "as_torch_device", "device_count", "fallback_counts", "from_ttnn",
           "get_ttnn_tensor", "is_ttnn_tensor", "register", "reset_fallback_counts", "set_default_layout",
           "to_ttnn", "ttnn_device", "ttnn_device_as_torch_device"]


def as_torch_device(ttnn_dev) -> torch.device:
    """The torch device (`ttnn:<id>`) for a TT-NN device the caller opened; tensors moved there live on it."""
    return register_ttnn_device(ttnn_dev)


ttnn_device_as_torch_device = as_torch_device


def get_ttnn_tensor(x: torch.Tensor):
    """The TT-NN tensor inside a ttnn-device tensor."""
    if not isinstance(x, TtnnTensor):
        raise TypeError(f"get_ttnn_tensor expects a tensor on the ttnn device, got one on {x.device}: "
                        f"move it with x.to('ttnn') first")
    return x.ttnn_tensor()


from_ttnn = TtnnTensor.from_ttnn


def to_ttnn(x: torch.Tensor, device: int | str | torch.device = 0, layout=None) -> torch.Tensor:
    """`x.to("ttnn")` with an explicit TT-NN layout (ttnn.ROW_MAJOR_LAYOUT or ttnn.TILE_LAYOUT)."""
    d = torch.device(device) if not isinstance(device, int) else torch.device("ttnn", device)
    from .backend import check_index
    index = check_index(d.index)
    return TtnnTensor(host_to_tt(x, index, layout), x.shape, x.dtype, index)


register()
