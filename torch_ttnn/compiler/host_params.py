"""`free_host_params`: a parameter's CPU copy freed once the compiled program has put it on the device.

Why: the emulator holds every device tensor's values in host memory, and a model's parameters are on the host
too, so a 7B-parameter model needs its weights twice (Mistral-7B in bfloat16: 14.5 GB on the CPU and 14.5 GB
"on" the chips). A compiled program with `load_params_once` owns the device copies of its parameters (its
constant steps upload and transform them once, keyed by each parameter's identity and version); after those
steps the host copy is only needed to upload again. With `free_host_params=True` the program frees each
parameter's storage right after the last constant step that reads it (`untyped_storage().resize_(0)`, as
FSDP frees unsharded parameters: the tensor keeps its shape, dtype and identity, so dynamo's guards and the
program's parameter key still match and the steady-state calls run as before), so the peak is one copy plus
one parameter.

Not freed, and counted in the metrics with the reason: a tensor smaller than MIN_BYTES (1 MiB), a memory-mapped
one (its storage cannot be resized, and the page cache holds it anyway), a parameter a per-call step reads (a host fallback that
takes it every call), and one whose storage a value of the constant steps shares (a host view kept as a
constant, or a device value that is a view of it): freeing it would change what the program reads.

Misuse raises, naming the parameter: whenever a program must upload a freed parameter again (a recompile, a
new graph, a parameter replaced or updated in place) `check_host_params` raises before any step runs,
saying the device copy belonged to the earlier program and how to give the model its weights back.
Known hazard: outside the compiled program nothing guards a freed tensor. torch does not check a tensor's
storage size before reading it, so an eager op on a freed parameter (calling the module without
torch.compile, printing the weight) reads freed memory and can crash the process: after the upload the model
is only good for its compiled calls (or for loading weights back).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

# Tensors smaller than this keep their host copy: freeing them saves next to nothing (a model's norms, biases,
# rotary tables), and a non-persistent buffer (e.g. rotary inv_freq) is not in a state dict to load back.
MIN_BYTES = 1 << 20


@dataclass
class HostParams:
    """What free_host_params did on a program's last upload: for the metrics."""
    freed: int = 0
    freed_bytes: int = 0
    kept: dict = field(default_factory=dict)   # reason -> how many parameters were not freed for it

    def as_dict(self) -> dict:
        return {"freed": self.freed, "freed_bytes": self.freed_bytes, "kept": dict(self.kept)}


def is_freed(t) -> bool:
    """A CPU tensor whose storage free_host_params emptied (it has elements but no bytes behind them)."""
    return isinstance(t, torch.Tensor) and t.device.type == "cpu" and t.numel() > 0 \
        and t.untyped_storage().nbytes() == 0


def check_host_params(inputs, args, reason: str = "") -> None:
    """Before a program uploads its parameters: raise if one of them has no host values left."""
    for inp, a in zip(inputs, args):
        if inp.kind == "param" and is_freed(a):
            why = reason or ("a new or recompiled program, or a parameter replaced or updated in place, needs "
                             "the parameters uploaded again")
            raise RuntimeError(
                f"torch-ttnn: parameter {inp.name or '?'} (shape {list(a.shape)}, {a.dtype}) has no host values: "
                f"free_host_params=True freed its CPU copy after an earlier compiled program uploaded it, and "
                f"{why}. That device copy belongs to the earlier program and cannot be reused. Give the model its "
                f"weights again (model.load_state_dict(state_dict, assign=True), or build it again) before this "
                f"call, or compile with TorchTtnnOption(free_host_params=False)")


def _storage_ptrs(v, out: set) -> None:
    """The host storages a value holds: a torch tensor's, an emulated TT-NN tensor's values (each chip's for a
    mesh tensor), through lists and tuples."""
    if isinstance(v, torch.Tensor):
        if v.device.type == "cpu":
            p = v.untyped_storage().data_ptr()
            if p:
                out.add(p)
    elif isinstance(v, (list, tuple)):
        for x in v:
            _storage_ptrs(x, out)
    else:
        shards = getattr(v, "_shards", None)
        if shards is not None:
            _storage_ptrs(shards, out)
        vals = getattr(v, "_values", None)
        if isinstance(vals, torch.Tensor):
            _storage_ptrs(vals, out)


def run_freeing(prog, plan, counts, protected, args) -> HostParams:
    """Run the constant steps `plan` of `prog`, freeing each parameter's host storage after its last reader."""
    report = HostParams()
    per_call = set()
    for p in prog._plan(False):
        per_call |= prog.slots_read((p.step.args, p.step.kwargs))
    per_call |= prog.slots_read(prog.output)
    groups: dict = {}   # storage ptr -> param slots on it (tied weights share one storage)
    tensors: dict = {}
    for inp, a in zip(prog.inputs, args):
        if inp.kind != "param" or not isinstance(a, torch.Tensor) or a.device.type != "cpu" or is_freed(a):
            continue
        groups.setdefault(a.untyped_storage().data_ptr(), []).append(inp.slot)
        tensors[inp.slot] = a
    last_read: dict = {}   # param slot -> index of the last constant step reading it
    for i, p in enumerate(plan):
        if p.frees is None:
            for s in prog.slots_read((p.step.args, p.step.kwargs)) & tensors.keys():
                last_read[s] = i
    last: dict = {}        # step index -> storage ptrs whose last constant reader it is
    for ptr, slots in groups.items():
        if tensors[slots[0]].untyped_storage().nbytes() < MIN_BYTES:
            report.kept["smaller than 1 MiB"] = report.kept.get("smaller than 1 MiB", 0) + 1
            continue
        if not tensors[slots[0]].untyped_storage().resizable():
            report.kept["memory-mapped"] = report.kept.get("memory-mapped", 0) + 1   # the page cache's already
            continue
        if per_call & set(slots):
            report.kept["read by a per-call step"] = report.kept.get("read by a per-call step", 0) + 1
            continue
        readers = [last_read[s] for s in slots if s in last_read]
        if readers:
            last.setdefault(max(readers), []).append(ptr)
    shared: set = set()  # host storages the constant steps' values hold so far
    for i, p in enumerate(plan):
        prog.run_steps([p], counts, protected)
        if p.frees is None:
            _storage_ptrs(prog.env[p.slot], shared)
        for ptr in last.get(i, ()):
            if ptr in shared:
                report.kept["shared by a constant value"] = report.kept.get("shared by a constant value", 0) + 1
                continue
            storage = tensors[groups[ptr][0]].untyped_storage()
            report.freed += 1
            report.freed_bytes += storage.nbytes()
            storage.resize_(0)
    return report
