"""Runs a lowered graph: constant steps once per parameter version, per-call steps every call.

The executor is a flat list of steps over numbered slots (no FX code generation: TT-NN enums and devices are
arguments that Python source cannot spell). After a call every per-call slot is cleared, so nothing computed
for one call outlives it even where the graph could not free it explicitly.
"""
from __future__ import annotations

import torch.fx as fx


class _S:
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


def _template(a, slot):
    return fx.node.map_aggregate(a, lambda x: _S(slot[x]) if isinstance(x, fx.Node) else x)


def _has_slot(a) -> bool:
    if isinstance(a, _S):
        return True
    if isinstance(a, (list, tuple)):
        return any(_has_slot(x) for x in a)
    if isinstance(a, dict):
        return any(_has_slot(x) for x in a.values())
    return False


def _resolve(a, env):
    if isinstance(a, _S):
        return env[a.i]
    if isinstance(a, (list, tuple)):
        return [_resolve(x, env) for x in a] if isinstance(a, list) else tuple(_resolve(x, env) for x in a)
    if isinstance(a, dict):
        return {k: _resolve(v, env) for k, v in a.items()}
    return a


class Program:
    def __init__(self, graph: fx.Graph, constants: dict, deallocate, load_params_once: bool = True):
        nodes = list(graph.nodes)
        slot = {n: i for i, n in enumerate(nodes)}
        self.env = [None] * len(nodes)
        self.inputs = []                  # (slot, kind) per placeholder that takes a call argument
        self.steps = []                   # (slot, fn, args, kwargs, const, transfer, is_dealloc)
        self.kept = []
        self.deallocate = deallocate
        self.load_params_once = load_params_once
        self._key = None
        for n in nodes:
            if n.op == "placeholder":
                if n.meta["kind"] == "const":
                    self.env[slot[n]] = constants[n.name]
                else:
                    self.inputs.append((slot[n], n.meta["kind"]))
            elif n.op == "call_function":
                args, kwargs = _template(n.args, slot), _template(dict(n.kwargs), slot)
                self.steps.append((slot[n], n.target, args, kwargs, n.meta.get("const", False),
                                   n.meta.get("transfer"), n.target is deallocate))
                if n.meta.get("kept"):
                    self.kept.append(slot[n])
            elif n.op == "output":
                self.output = _template(n.args[0], slot)
        self.const_slots = {s for s, *_rest, c, _t, _d in self.steps if c}
        self.call_slots = [s for s, *_rest, c, _t, _d in self.steps if not c] + [s for s, k in self.inputs]
        self.last_transfers = {"h2d": 0, "d2h": 0}

    def _run(self, const: bool, counts):
        env = self.env
        kept = [env[k] for k in self.kept]
        for s, fn, args, kwargs, c, transfer, dealloc in self.steps:
            if c is not const:
                continue
            if dealloc:
                t = env[args[0].i]
                if not any(t is k for k in kept):
                    fn(t)
                continue
            env[s] = fn(*_resolve(args, env), **_resolve(kwargs, env))
            if transfer:
                counts[transfer] += 1

    def __call__(self, args):
        env = self.env
        counts = {"h2d": 0, "d2h": 0}
        key = []
        for (s, kind), a in zip(self.inputs, args):
            env[s] = a
            if kind == "param":
                key.append((id(a), getattr(a, "_version", 0)))
        key = tuple(key)
        if key != self._key or not self.load_params_once:
            self.release()
            self._run(True, counts)
            kept = set(self.kept)
            for s in self.const_slots - kept:
                env[s] = None
            self._key = key
        try:
            self._run(False, counts)
            out = _resolve(self.output, env)
        finally:
            for s in self.call_slots:
                env[s] = None
        self.last_transfers = counts
        return out

    def release(self):
        """Free the kept constants (parameters on the device): called before re-placing them."""
        for s in self.kept:
            t = self.env[s]
            if t is not None and hasattr(t, "is_allocated") and t.is_allocated():
                self.deallocate(t)
            self.env[s] = None
        self._key = None
