"""What every fusion pass reads and writes: the context, the pass record, node predicates and graph
edits (new, drop, replace, a topological re-sort after rewrites)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.fx as fx


_TILE = 32
_MM = ("linear", "matmul")
# Keyword arguments of a plain product the passes may carry over to the fused op unchanged.
_PLAIN_MM_KW = frozenset({"bias", "compute_kernel_config", "dtype", "memory_config"})


@dataclass(frozen=True)
class FuseContext:
    """What the passes need beyond the graph: the runtime's module (the targets of new nodes) and the grid a
    matmul with a fused activation is given."""
    ttnn: object
    core_grid: object

    @classmethod
    def of(cls, ttnn, device) -> "FuseContext":
        g = device.compute_with_storage_grid_size()
        return cls(ttnn, ttnn.CoreGrid(y=g.y, x=g.x))


@dataclass(frozen=True)
class FusionPass:
    name: str
    run: Callable[[fx.Graph, FuseContext], int]


# --- reading the graph -------------------------------------------------------------------------------------
def _op(n, *names) -> bool:
    return isinstance(n, fx.Node) and n.op == "call_function" and n.meta.get("ttnn_name") in names


def _shape(n) -> tuple | None:
    """The node's shape if known and concrete (a host tensor placed on the device: its placeholder's)."""
    s = n.meta.get("shape") if isinstance(n, fx.Node) else None
    if s is None and _op(n, "from_torch") and isinstance(n.args[0], fx.Node):
        v = n.args[0].meta.get("val")
        s = (tuple(v.shape) or (1,)) if hasattr(v, "shape") else None
    return tuple(s) if s is not None and all(type(d) is int for d in s) else None


def _target(reshape: fx.Node) -> tuple | None:
    """The shape a reshape asks for, if concrete and without -1."""
    s = reshape.args[1] if len(reshape.args) > 1 else None
    return tuple(s) if isinstance(s, (list, tuple)) and all(type(d) is int and d >= 0 for d in s) else None


def _arg(n: fx.Node, i: int):
    """Positional argument i of n, None if n has fewer (an op called with keywords only)."""
    return n.args[i] if len(n.args) > i else None


def _sole_user(n: fx.Node) -> fx.Node | None:
    return next(iter(n.users)) if len(n.users) == 1 else None


def _reshapes_after(n: fx.Node) -> list[fx.Node]:
    """The reshapes that follow `n` one after another, each the only user of the node before it."""
    chain, cur = [], n
    while (u := _sole_user(cur)) is not None and _op(u, "reshape") and u.args[0] is cur and not u.kwargs:
        chain.append(u)
        cur = u
    return chain


def _plain_product(n: fx.Node) -> bool:
    """A linear/matmul of two tensors with no transpose, activation, grid or program config."""
    return _op(n, *_MM) and len(n.args) == 2 and not set(n.kwargs) - _PLAIN_MM_KW


def _rowwise_product(n: fx.Node) -> bool:
    """A linear/matmul that maps each row of its input on its own (a fused activation included)."""
    return _op(n, *_MM) and len(n.args) == 2 and not set(n.kwargs) - _PLAIN_MM_KW - {"activation", "core_grid"}


# --- editing the graph -------------------------------------------------------------------------------------
def _new(graph: fx.Graph, origin: fx.Node, rule: str, target, args, kwargs=None, **meta) -> fx.Node:
    """A node next to `origin` (the final topological sort places it), attributed to origin's ATen op so a
    run-time failure is reported and recovered from as origin's would be."""
    with graph.inserting_before(origin):
        n = graph.call_function(target, tuple(args), dict(kwargs or {}))
    n.meta.update({k: origin.meta[k] for k in ("aten", "aten_node") if k in origin.meta})
    n.meta.update(device=True, rule=f"fuse.{rule}", **meta)
    return n


def _drop(graph: fx.Graph, n: fx.Node) -> None:
    """Erase `n` if nothing uses it any more, then its inputs that became unused the same way."""
    stack = [n]
    while stack:
        m = stack.pop()
        if m.op != "call_function" or m.users or getattr(m, "_erased", False):
            continue
        inputs = m.all_input_nodes
        graph.erase_node(m)
        stack.extend(inputs)


def _replace(graph: fx.Graph, old: fx.Node, new: fx.Node) -> None:
    old.replace_all_uses_with(new)
    _drop(graph, old)


def _toposort(graph: fx.Graph) -> None:
    """Reorder so that every node follows its inputs, moving as little as possible: new nodes are created
    next to the op they replace, and may need an input (a weight placed on the device later) moved up."""
    order, done = [], set()
    for root in graph.nodes:
        stack = [(root, False)]
        while stack:
            n, ready = stack.pop()
            if n in done:
                continue
            if ready:
                done.add(n)
                order.append(n)
                continue
            stack.append((n, True))
            stack.extend((i, False) for i in reversed(n.all_input_nodes) if i not in done)
    if order != list(graph.nodes):
        for prev, n in zip(order, order[1:]):
            prev.append(n)
