"""One lowering registry for both paths: ATen op -> rule written as TT-NN code.

A rule is a plain function `rule(ttnn, *args, **kwargs)`: `ttnn` is the namespace to call (the active
runtime in eager mode; a recording namespace in the compiler, so the lowered FX graph's targets are the
runtime's own functions), tensor arguments are TT-NN tensors (or, in the compiler, handles that expose
`.shape`), everything else is passed as the ATen op got it.

A guard `when(*args, **kwargs)` sees the ATen-level arguments (torch tensors, real or fake) and says exactly
when the rule applies (dtype, rank, shape, argument values). The first rule whose guard holds wins; no rule,
or no guard that holds, means the op runs on CPU, counted by whoever called `find`.

Conventions shared by both callers (compiler and eager device):
- Rules receive device tensors in any layout and convert with `ttnn.to_layout` where the TT-NN op needs one
  (the emulator returns the same tensor when it is already in that layout; the compiler's handles know
  their layout and drop the conversion).
- A rule returns a TT-NN tensor, or a tuple/list for multi-output ATen ops (None for an output nobody may
  read, e.g. layer_norm's mean); the caller maps it back to the ATen node's torch dtype and shape.
  The result must have the ATen output's shape (a 0-d result is shape [1]: TT-NN has no rank 0).
- Guards see ATen-level args (real or fake torch tensors) and are exact: dtype, rank, shape, argument
  values. A guard must not depend on tensor values.
- Rules that create tensors or pick a dtype ask `lowering.policy` (device_of, ttnn_dtype), never `runtime`
  directly, so the compiler can substitute its device and its float policy (bfloat16).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Rule:
    target: object          # torch._ops.OpOverload
    fn: Callable
    when: Callable | None
    name: str

    def applies(self, *args, **kwargs) -> bool:
        return self.when is None or bool(self.when(*args, **kwargs))


_RULES: dict = defaultdict(list)


def lowering(*targets, when: Callable | None = None):
    """Decorator: register `fn` as the lowering of each ATen overload in `targets` (guarded by `when`)."""
    if not targets:
        raise TypeError("lowering() needs at least one ATen op overload, e.g. @lowering(aten.add.Tensor)")

    def deco(fn):
        for t in targets:
            if not isinstance(t, torch._ops.OpOverload):
                raise TypeError(f"lowering targets must be ATen overloads such as aten.add.Tensor, got {t!r}")
            _RULES[t].append(Rule(t, fn, when, fn.__name__))
        return fn
    return deco


def find(target, args=(), kwargs=None) -> Rule | None:
    """The first rule for `target` whose guard holds for these ATen-level arguments, or None."""
    kwargs = kwargs or {}
    for rule in _RULES.get(target, ()):
        try:
            if rule.applies(*args, **kwargs):
                return rule
        except Exception:  # a guard that cannot judge these arguments does not apply
            continue
    return None


def registered() -> dict:
    """ATen overload -> rules (read-only view, for reports and coverage)."""
    return dict(_RULES)
