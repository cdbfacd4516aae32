"""Emulated DRAM contents kept in memory-mapped files instead of the host's anonymous memory.

Why: the emulator holds every device tensor's values on the host. A model whose weights fill the chips of a
mesh (Mistral-7B on a T3000: 14.5 GB of bfloat16 over 8 chips) then needs that much host memory on top of the
CPU model, which a shared 24 GiB host does not have. With spilling on, a DRAM tensor of at least `min_bytes`
gets its values copied into a file under `directory` (unlinked at once: the mapping keeps it alive until the
tensor's values go, then the space is returned) and mapped shared: the values are the page cache's, which the
kernel writes back and drops under memory pressure and reads again when an op needs them. Ops read the same
torch tensor type with the same bits, so results are identical; only the host's time and memory change.

Off by default. `enable(directory)` / `disable()`, or `with spilled(directory): ...`; the environment variable
TORCH_TTNN_SIM_SPILL_DIR turns it on for a whole process. L1 tensors (small by construction) never spill.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import weakref

import torch

MIN_BYTES = 1 << 20      # per tensor: small activations stay in memory, weight shards go to the files
_state = {"dir": os.environ.get("TORCH_TTNN_SIM_SPILL_DIR") or None, "min": MIN_BYTES, "bytes": 0, "tensors": 0,
          "last": None}   # (weakref to the last source, its copy): a tensor replicated over chips is mapped once


def enable(directory: str, min_bytes: int | None = None) -> None:
    """Spill DRAM tensors of at least `min_bytes` (MIN_BYTES) to files in `directory` (made if missing) from now
    on."""
    min_bytes = MIN_BYTES if min_bytes is None else min_bytes
    if not isinstance(min_bytes, int) or min_bytes < 1:
        raise ValueError(f"spill.enable: min_bytes must be a positive int, got {min_bytes!r}")
    os.makedirs(directory, exist_ok=True)
    if not os.access(directory, os.W_OK):
        raise PermissionError(f"spill.enable: cannot write to {directory!r}; give a writable directory")
    _state.update(dir=str(directory), min=min_bytes)


def disable() -> None:
    _state["dir"] = None


def enabled() -> bool:
    return _state["dir"] is not None


@contextlib.contextmanager
def spilled(directory: str, min_bytes: int | None = None):
    """Spilling on within the block (tensors spilled stay mapped after it)."""
    saved = (_state["dir"], _state["min"])
    enable(directory, min_bytes)
    try:
        yield
    finally:
        _state["dir"], _state["min"] = saved


def stats() -> dict:
    """How many tensors and bytes were spilled since the process started."""
    return {"tensors": _state["tensors"], "bytes": _state["bytes"]}


def is_mapped(values: torch.Tensor) -> bool:
    """Whether a tensor's storage is a file mapping (spilled values, or a memory-mapped source): then it is not
    resizable, unlike memory torch allocated."""
    return not values.untyped_storage().resizable()


def maybe_spill(values: torch.Tensor) -> torch.Tensor:
    """`values` itself, or a file-mapped copy of it when spilling is on and it is large enough."""
    d = _state["dir"]
    if d is None or values.device.type != "cpu" or values.numel() * values.element_size() < _state["min"] \
            or is_mapped(values):
        return values
    last = _state["last"]
    if last is not None and last[0]() is values:
        return last[1]
    fd, path = tempfile.mkstemp(prefix="ttnn-dram-", dir=d)
    os.close(fd)
    try:
        out = torch.from_file(path, shared=True, size=values.numel(), dtype=values.dtype)
    finally:
        os.unlink(path)
    out = out.view(values.shape)
    out.copy_(values)
    _state["last"] = (weakref.ref(values), out)
    _state["tensors"] += 1
    _state["bytes"] += values.numel() * values.element_size()
    return out
