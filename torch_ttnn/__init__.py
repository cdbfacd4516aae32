"""torch-ttnn: run PyTorch models on Tenstorrent's TT-NN (or its emulator, torch_ttnn.sim).

`import torch_ttnn` makes "ttnn" a torch device. When torch is already imported (the usual `import torch,
torch_ttnn`) that happens now; when it is not, it happens right after torch's own import finishes (a one-shot
import hook), so that the `torch-ttnn` command, whose `--help` and `--version` need no torch, does not pay
torch's 2-3 s import to print them. Either order of `import torch` / `import torch_ttnn` gives the device.
"""
import importlib.abc
import importlib.util
import logging
import sys

__version__ = "0.6.0"

# Library practice: our records reach whatever handlers the application (or TORCH_LOGS) configures, and are not
# printed a second time by logging's last-resort handler beside the warnings that carry the same message.
logging.getLogger("torch_ttnn").addHandler(logging.NullHandler())

_LAZY = {"backend": "compiler", "TorchTtnnOption": "compiler",
         "from_ttnn": "device", "ttnn_device_as_torch_device": "device"}

_SUBPACKAGES = ("bench", "cli", "compiler", "cpp_extension", "device", "generation", "lowering", "runtime", "sim",
                "zoo")


def _register_device():
    from . import device  # noqa: F401  (importing it registers the `ttnn` torch device)
    _logs_register()


class _AfterTorchImport(importlib.abc.MetaPathFinder):
    """Runs `_register_device` once torch's own `__init__` has finished executing, and registers our TORCH_LOGS
    names as soon as torch's logging registrations load, before torch parses TORCH_LOGS (_logs.py)."""

    _AFTER = {"torch._logging._registrations": lambda: _logs_register(), "torch": lambda: _register_device()}

    def __init__(self):
        self.pending = set(self._AFTER)

    def find_spec(self, name, path=None, target=None):
        if name not in self.pending:
            return None
        self.pending.discard(name)
        if not self.pending:
            sys.meta_path.remove(self)
        spec = _find_spec_without(self, name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module, after = spec.loader.exec_module, self._AFTER[name]

        def exec_then(module):
            exec_module(module)
            after()
        spec.loader.exec_module = exec_then
        return spec


def _find_spec_without(finder, name, path):
    for f in sys.meta_path:
        if f is not finder and hasattr(f, "find_spec"):
            spec = f.find_spec(name, path)
            if spec is not None:
                return spec
    return None


def _logs_register():
    from ._logs import register
    register()


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
