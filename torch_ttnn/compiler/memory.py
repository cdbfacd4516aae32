"""Device memory of a lowered graph, op by op (`TorchTtnnOption(run_mem_analysis=True)`), and eviction of what
does not fit in L1 (`run_eviction_opt=True`).

The analysis walks the program in order and keeps every device buffer from the op that makes it to the last
use of its alias group (nodes that may share one buffer count once, as in place.py), so at each op it knows the
bytes live in DRAM (the whole tensor) and in each L1 bank (an interleaved L1 buffer takes ceil(pages / banks)
pages in every bank). Constants kept on the device (weights, folded values) are live for the whole program.
It is a plan-time figure (TT-NN's own allocator may align and fragment), the one the eviction works from.

Eviction: where the L1 live at an op exceeds the bank, the L1 tensors live there are moved to DRAM
(`memory_config=DRAM`), longest-lived first (they hold L1 across the most ops), until every op fits. The L1
placement pass plans within half a bank and never needs it; configs set elsewhere (sharded activations, rules
that ask for L1) can.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch.fx as fx

from .passes import alias_members
from .place import bank_bytes


@dataclass
class OpMemory:
    node: str
    op: str
    l1_per_bank: int        # bytes live in each L1 bank while this op runs
    dram: int               # bytes live in DRAM while this op runs


@dataclass
class MemoryReport:
    banks: int
    bank_size: int
    ops: list = field(default_factory=list)

    @property
    def peak_l1_per_bank(self) -> int:
        return max((o.l1_per_bank for o in self.ops), default=0)

    @property
    def peak_dram(self) -> int:
        return max((o.dram for o in self.ops), default=0)

    def overflows(self) -> list:
        return [o for o in self.ops if o.l1_per_bank > self.bank_size]

    def as_dict(self) -> dict:
        return {"banks": self.banks, "l1_bank_bytes": self.bank_size, "peak_l1_per_bank": self.peak_l1_per_bank,
                "peak_dram": self.peak_dram, "l1_overflows": len(self.overflows()),
                "per_op": [vars(o) for o in self.ops]}


@dataclass
class _Buffer:
    node: fx.Node
    start: int
    end: int
    l1: bool
    per_bank: int
    total: int


def _in_l1(n: fx.Node) -> bool:
    mc = n.kwargs.get("memory_config")
    return "L1" in str(getattr(mc, "buffer_type", ""))


def _is_dealloc(n: fx.Node) -> bool:
    return n.meta.get("ttnn_name") == "deallocate" or getattr(n.target, "__name__", "") == "deallocate"


def _buffers(graph: fx.Graph, banks: int) -> list[_Buffer]:
    nodes = list(graph.nodes)
    order = {n: i for i, n in enumerate(nodes)}
    group_of, members = alias_members(graph)
    out = []
    for n in nodes:
        if group_of[n] is not n or not n.meta.get("device") or n.op != "call_function":
            continue
        total = bank_bytes(n.meta, 1)
        if total is None:
            continue
        group = members[n]
        kept = any(m.meta.get("kept") for m in group)
        if not kept and all(m.meta.get("const") for m in group):
            continue    # computed from parameters alone and consumed by other constants: not held per call
        users = [order[u] for m in group for u in m.users if not _is_dealloc(u)]
        end = len(nodes) - 1 if kept else max(users, default=order[n])
        l1 = _in_l1(n)
        out.append(_Buffer(n, 0 if kept else order[n], end, l1, bank_bytes(n.meta, banks) if l1 else 0, total))
    return out


def analyse(graph: fx.Graph, banks: int, bank_size: int) -> MemoryReport:
    """Bytes live per L1 bank and in DRAM at each device op of `graph`."""
    nodes = list(graph.nodes)
    bufs = _buffers(graph, banks)
    report = MemoryReport(banks, bank_size)
    for i, n in enumerate(nodes):
        if n.op != "call_function" or not n.meta.get("device") or _is_dealloc(n) or n.meta.get("const"):
            continue
        live = [b for b in bufs if b.start <= i <= b.end]
        report.ops.append(OpMemory(n.name, getattr(n.target, "__name__", str(n.target)),
                                   sum(b.per_bank for b in live if b.l1),
                                   sum(b.total for b in live if not b.l1)))
    return report


def evict(graph: fx.Graph, dram_config, banks: int, bank_size: int) -> int:
    """Move L1 tensors to DRAM, longest-lived first, until no op's L1 exceeds the bank; how many moved."""
    moved = 0
    nodes = list(graph.nodes)
    while True:
        bufs = _buffers(graph, banks)
        over = next((i for i, n in enumerate(nodes) if sum(b.per_bank for b in bufs
                                                         if b.l1 and b.start <= i <= b.end) > bank_size), None)
        if over is None:
            return moved
        live = [b for b in bufs if b.l1 and b.start <= over <= b.end]
        victim = max(live, key=lambda b: (b.end - b.start, b.per_bank))
        victim.node.update_kwarg("memory_config", dram_config)
        moved += 1
