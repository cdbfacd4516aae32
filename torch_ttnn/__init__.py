"""torch-ttnn: run PyTorch models on Tenstorrent's TT-NN (or its emulator, torch_ttnn.sim).

`import torch_ttnn` makes "ttnn" a torch device. When torch is already imported (the usual `import torch,
torch_ttnn`) that happens now; when it is not, it happens right after torch's own import finishes (a one-shot
import hook), so that the `torch-ttnn` command, whose `--help` and `--version` need no torch, does not pay
torch's 2-3 s import to print them. Either order of `import torch` / `import torch_ttnn` gives the device.
"""
import importlib.abc
import importlib.util
import sys

__version__ = "0.6.0"

_LAZY = {"backend": "compiler", "TorchTtnnOption": "compiler",
         "from_ttnn": "device", "ttnn_device_as_torch_device": "device"}

_SUBPACKAGES = ("bench", "cli", "compiler", "cpp_extension", "device", "lowering", "runtime", "sim", "zoo")


def _register_device():
    from . import device  # noqa: F401  (importing it registers the `ttnn` torch device)


class _AfterTorchImport(importlib.abc.MetaPathFinder):
    """Runs `_register_device` once torch's own `__init__` has finished executing."""

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _register_device()
        spec.loader.exec_module = exec_then_register
        return spec


if "torch" in sys.modules:
    _register_device()
elif not any(isinstance(f, _AfterTorchImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterTorchImport())


def __getattr__(name):  # the compiler imports dynamo machinery: load it on first use, not on `import torch_ttnn`
    import importlib
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'torch_ttnn' has no attribute {name!r}")
