"""Chips of a mesh that hold the same values share one host copy, and an op they run alike is computed once.

Why: the emulator keeps every chip's tensors in host memory. A replicated tensor (ReplicateTensorToMesh, a
from_torch onto a mesh device, an all_reduce / all_gather result) is the same on every chip, and so is the
result of any deterministic op whose inputs are: Llama-3.2-1B's 128256 x 2048 embedding, transposed for its
LM head on each of a Galaxy's 32 chips, would be 17 GB of identical host copies, and computing it 32 times
costs 32 times the host time. So `run_shared` (called by mesh._dispatch for every op mapped over chips) groups
the chips whose inputs hold the very same host values (the same torch tensor object: never compared by value),
runs the op once per group on its first chip, and replays that run on the group's other chips:

  * every allocation, free and op record the first chip made is made again, in order, on the other chip
    (`Device.allocate` / `Device.free` / `Device.record`, with the program cache looked up per chip as
    `operation.record` does): each chip still charges its own DRAM/L1 (and raises OutOfMemoryError naming
    itself) and records its own device time, bit for bit what running the op there would record;
  * host<->device transfer counters move by the same amounts;
  * the outputs are new per-chip `Tensor`s (own device, own buffer) whose values are the first chip's torch
    tensor, shared.

Sharing is copy-on-write by the emulator's own invariant: no op writes into a tensor's host values in place.
An op that "writes in place" (update_cache, fill_cache, paged caches, copy, output_tensor=, the in-place
eltwise variants, deallocate, spilling) builds new values and rebinds that one Tensor's `_values`, so the
other chips' Tensors keep theirs (tests/sim/test_mesh_share.py writes into one chip of a replicated tensor
through each of those paths and checks the others). A run that changes any input Tensor (rebinds its values,
frees its buffer), returns an input, leaves a buffer allocated that no output owns, or touches another device
is not replayed: the group's other chips then run the op themselves, as without sharing.

Never shared: ops with randomness (rand, dropout, bernoulli, uniform, normal: each chip draws its own), and
anything while a trace is captured. `TORCH_TTNN_SIM_MESH_SHARE=0` turns sharing off (every chip computes and
holds its own copy), for comparing figures; `TORCH_TTNN_SIM_MESH_SHARE=check` runs every chip as well and
raises if a shared result differs from the chip's own (a test's proof that sharing changes nothing).
"""
from __future__ import annotations

import copy
import os

import torch

from .operation import Operation, _program
from .tensor import Tensor

_RANDOM = ("rand", "dropout", "bernoulli", "uniform", "normal")
# per-chip op runs since the process started: computed on the chip, or replayed from a chip with the same inputs
stats = {"computed": 0, "replayed": 0}


def mode() -> str:
    """"on" (default), "off" or "check", from TORCH_TTNN_SIM_MESH_SHARE (read per call: tests flip it)."""
    v = os.environ.get("TORCH_TTNN_SIM_MESH_SHARE", "1").strip().lower()
    if v in ("0", "off", "false", "no"):
        return "off"
    if v == "check":
        return "check"
    if v in ("1", "on", "true", "yes", ""):
        return "on"
    raise ValueError(f"TORCH_TTNN_SIM_MESH_SHARE={v!r}: use 1 (share, the default), 0 (every chip its own copy) "
                     f"or check (share, and verify against every chip's own run)")


def shareable(name: str) -> bool:
    """Whether an op's per-chip results are a function of its inputs alone (no per-chip random draws)."""
    short = name.rsplit(".", 1)[-1]
    return Operation._capture is None and not any(w in short for w in _RANDOM)


def _chip_key(mesh_args: list, i: int):
    """What chip i's run reads that can differ between chips: each mesh tensor argument's shard, by the identity
    of its host values and its metadata. Chips with equal keys compute the same result."""
    key = []
    for t in mesh_args:
        s = t._shards[i]
        if s is None or s._deallocated:
            return None
        key.append((id(s._values), s._dtype, s._layout, s._memory_config))
    return tuple(key)


class _Log:
    """Device events of one chip while it runs an op: ("alloc", args, buffer id), ("free", type, id),
    ("rec", record, host_only)."""

    def __init__(self, device):
        self.device, self.events = device, []

    def __enter__(self):
        dev, events = self.device, self.events
        cls = type(dev)

        def allocate(buffer_type, num_pages, page_size, num_banks=None):
            buf = cls.allocate(dev, buffer_type, num_pages, page_size, num_banks)
            events.append(("alloc", (buffer_type, num_pages, page_size, num_banks), buf))
            return buf

        def free(buffer_type, buffer_id):
            cls.free(dev, buffer_type, buffer_id)
            events.append(("free", buffer_type, buffer_id))

        def record(rec):
            cls.record(dev, rec)
            events.append(("rec", copy.copy(rec), rec.program_cache == ""))

        dev.allocate, dev.free, dev.record = allocate, free, record
        self.transfers = dev.transfers.snapshot()
        return self

    def __exit__(self, *exc):
        for name in ("allocate", "free", "record"):
            self.device.__dict__.pop(name, None)
        self.transfers = self.device.transfers.since(self.transfers)
        return False


def _tensors(x, out: list):
    if isinstance(x, Tensor):
        out.append(x)
    elif isinstance(x, (list, tuple)):
        for y in x:
            _tensors(y, out)
    elif isinstance(x, dict):
        for y in x.values():
            _tensors(y, out)
    return out


def _state(t: Tensor) -> tuple:
    """What an op could change of an input Tensor (held, so that an id cannot be reused meanwhile)."""
    return t._values, t._buffer, t._deallocated, t._memory_config, t._dtype, t._layout, t._device


def _changed(t: Tensor, before: tuple) -> bool:
    """By identity: values are never compared by value."""
    return any(a is not b and not (type(a) is int and a == b) for a, b in zip(_state(t), before))


def _replayable(log: _Log, inputs: list, before: list, result) -> bool:
    """Whether the logged run can be replayed on another chip (module docstring: what is not)."""
    if any(_changed(t, b) for t, b in zip(inputs, before)):
        return False                                # the op changed an input (in-place write, free)
    ins = {id(t) for t in inputs}
    allocated = {e[2] for e in log.events if e[0] == "alloc"}
    freed = {e[2] for e in log.events if e[0] == "free"}
    if not freed <= allocated:
        return False                                # freed a buffer it did not make
    owned = set()
    for t in _tensors(result, []):
        if id(t) in ins or t._device not in (None, log.device):
            return False
        if t._buffer is not None:
            if t._buffer not in allocated or t._buffer in freed:
                return False
            owned.add(t._buffer)
    return allocated - freed == owned               # nothing left allocated that no output owns


def _replay(log: _Log, chip, result):
    """Make on `chip` what the logged run made on its device; returns the result with per-chip outputs."""
    ids: dict = {}
    try:
        for e in log.events:
            if e[0] == "alloc":
                ids[e[2]] = chip.allocate(*e[1])
            elif e[0] == "free":
                chip.free(e[1], ids.pop(e[2]))
            else:
                rec = copy.copy(e[1])
                if not e[2]:
                    _program(chip, rec)
                chip.record(rec)
    except BaseException:
        for buf in ids.values():      # what this chip allocated before it ran out: freed, as the op's would be
            for bt, pool in chip._pools.items():
                if buf in pool.live:
                    chip.free(bt, buf)
        raise
    d = log.transfers
    t = chip.transfers
    t.h2d, t.d2h, t.h2d_bytes, t.d2h_bytes = t.h2d + d.h2d, t.d2h + d.d2h, t.h2d_bytes + d.h2d_bytes, \
        t.d2h_bytes + d.d2h_bytes
    return _mirror(result, chip, ids)


def _mirror(x, chip, ids):
    """The logged run's output as `chip`'s: each Tensor a new one on `chip` with its replayed buffer, holding the
    same host values."""
    if isinstance(x, Tensor):
        t = Tensor.__new__(Tensor)
        t._init(x._values, x._dtype, x._layout)
        t._memory_config, t._deallocated = x._memory_config, x._deallocated
        t._fpu_clean, t._operand = x._fpu_clean, x._operand
        if x._device is not None:
            t._device, t._buffer = chip, (ids[x._buffer] if x._buffer is not None else None)
        return t
    if isinstance(x, tuple) and hasattr(x, "_fields"):    # a NamedTuple
        return type(x)(*(_mirror(y, chip, ids) for y in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_mirror(y, chip, ids) for y in x)
    if isinstance(x, dict):
        return {k: _mirror(v, chip, ids) for k, v in x.items()}
    return x


def _check_same(name: str, i: int, shared, own):
    a, b = _tensors(shared, []), _tensors(own, [])
    if len(a) != len(b) or any(x._values.shape != y._values.shape or x._values.dtype != y._values.dtype or
                               not torch.equal(x._values, y._values) for x, y in zip(a, b)
                               if not x._deallocated):
        raise AssertionError(f"mesh sharing: {name} on chip {i} computed values that differ from the chip it "
                             f"shared with; this op must not be shared (mesh_share._RANDOM)")


def run_shared(op: Operation, args, kwargs, run, per_chip, mesh_args: list) -> dict:
    """Run `op` on the chips `run` (mesh._dispatch's loop, in chip order), once per group of chips whose mesh
    tensor arguments hold the same host values, replaying that run on the group's other chips. Returns
    {chip index: its output}."""
    how = mode()
    share = how != "off" and shareable(op.python_fully_qualified_name)
    keys = {i: _chip_key(mesh_args, i) if share else None for i in run}
    sizes: dict = {}
    for k in keys.values():
        if k is not None:
            sizes[k] = sizes.get(k, 0) + 1
    firsts: dict = {}   # key -> (log, output) of the group's first chip; None when that run cannot be replayed
    outs: dict = {}
    for i in run:
        a = [per_chip(x, i) for x in args]
        kw = {k: per_chip(v, i) for k, v in kwargs.items()}
        key = keys[i]
        first = firsts.get(key) if key is not None else None
        if first is not None and how == "on":
            outs[i] = _replay(first[0], _chip_of(a, kw), first[1])
            stats["replayed"] += 1
            continue
        stats["computed"] += 1
        chip = _chip_of(a, kw)
        if key is None or sizes[key] < 2 or key in firsts or chip is None:
            outs[i] = op.function(*a, **kw)
            if first is not None:       # "check": this chip ran on its own; the shared result must be the same
                _check_same(op.python_fully_qualified_name, i, first[1], outs[i])
            continue
        inputs = _tensors([a, kw], [])
        before = [_state(t) for t in inputs]
        with _Log(chip) as log:
            outs[i] = op.function(*a, **kw)
        firsts[key] = (log, outs[i]) if _replayable(log, inputs, before, outs[i]) else None
    return outs


def _chip_of(a, kw):
    """The chip a per-chip call runs on: its tensors' device, or its device argument."""
    from .device import Device
    for t in _tensors([a, kw], []):
        if isinstance(t._device, Device):
            return t._device
    for v in list(a) + list(kw.values()):
        if isinstance(v, Device):
            return v
    return None
