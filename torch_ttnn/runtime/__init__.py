"""The only door to TT-NN: picks the real `ttnn` package or the emulator, behind one name.

`auto` (the default) uses the real `ttnn` when it imports and reports a device, otherwise the emulator
`torch_ttnn.sim`; `TORCH_TTNN_RUNTIME=sim|ttnn|auto` or an explicit `select()` call overrides. Everything
above this layer calls `runtime.ttnn()` and never imports `ttnn` itself, so one program runs on both.
"""
from __future__ import annotations

import importlib
import logging
import os
import types

log = logging.getLogger("torch_ttnn")
CHOICES = ("auto", "sim", "ttnn")
_active: types.ModuleType | None = None
_reason = ""
_devices: dict = {}


def _real_ttnn() -> tuple[types.ModuleType | None, str]:
    try:
        mod = importlib.import_module("ttnn")
    except Exception as e:  # ImportError, or the real package failing to load its shared libraries
        return None, f"the real ttnn package does not import ({type(e).__name__}: {e})"
    if getattr(mod, "IS_EMULATOR", False):
        return None, "`ttnn` on sys.path is the emulator"
    try:
        n = mod.GetNumAvailableDevices()
    except Exception as e:
        return None, f"the real ttnn imports but cannot query devices ({e})"
    if n < 1:
        return None, "the real ttnn imports but finds no Tenstorrent device"
    return mod, f"real ttnn {getattr(mod, '__version__', '?')} with {n} device(s)"


def select(name: str | None = None) -> types.ModuleType:
    """Choose the runtime (auto/sim/ttnn) and return its module."""
    global _active, _reason
    name = (name or os.environ.get("TORCH_TTNN_RUNTIME") or "auto").lower()
    if name not in CHOICES:
        raise ValueError(f"runtime must be one of {CHOICES}, got {name!r} (check TORCH_TTNN_RUNTIME)")
    if name == "ttnn":
        mod, why = _real_ttnn()
        if mod is None:
            raise RuntimeError(f"runtime='ttnn' was asked for, but {why}. Install it with "
                               f"`pip install torch-ttnn[ttnn]` on a host with a Tenstorrent card, "
                               f"or use runtime='sim' (the emulator).")
    elif name == "auto":
        mod, why = _real_ttnn()
        if mod is None:
            why = f"emulator (torch_ttnn.sim): {why}"
    else:
        mod, why = None, "emulator (torch_ttnn.sim), as asked"
    if mod is None:
        mod = importlib.import_module("torch_ttnn.sim")
    if mod is not _active:
        log.info("torch-ttnn runtime: %s", why)
    _active, _reason = mod, why
    return mod


def ttnn() -> types.ModuleType:
    """The active TT-NN module (selects `auto` on first use)."""
    return _active if _active is not None else select()


def reason() -> str:
    ttnn()
    return _reason


def is_emulator(mod: types.ModuleType | None = None) -> bool:
    return bool(getattr(mod or ttnn(), "IS_EMULATOR", False))


# DRAM reserved for traces on the default device (TorchTtnnOption(trace=True)): TT's own models reserve tens of MB.
TRACE_REGION_SIZE = 64 << 20


def default_device(device_id: int = 0):
    """Device `device_id` of the active runtime, opened once per process and shared by every caller."""
    mod = ttnn()
    dev = _devices.get((id(mod), device_id))
    if dev is None or (hasattr(dev, "is_open") and not dev.is_open()):
        kw = {"l1_small_size": 65536} if not is_emulator(mod) else {}
        dev = mod.open_device(device_id=device_id, trace_region_size=TRACE_REGION_SIZE, **kw)
        _devices[(id(mod), device_id)] = dev
    return dev
