"""One lowering registry for both paths: ATen op -> rule written as TT-NN code.

A rule is a plain function `rule(ttnn, *args, **kwargs)`: `ttnn` is the namespace to call (the active
runtime in eager mode; a recording namespace in the compiler, so the lowered FX graph's targets are the
runtime's own functions), tensor arguments are TT-NN tensors (or, in the compiler, handles that expose
`.shape`), everything else is passed as the ATen op got it.

A guard `when(*args, **kwargs)` sees the ATen-level arguments (torch tensors, real or fake) and says exactly
when the rule applies (dtype, rank, shape, argument values). The first rule whose guard holds wins; no rule,
or no guard that holds, means the op runs on CPU, counted by whoever called `find`. `lookup` says why not, per
rule: its guard refused (the condition that failed, lowering/explain.py) or its guard crashed (a bug in the
guard, reported as such with the exception, never as "no rule applies").

Order: rules registered by the user (any `@lowering` after torch_ttnn's own rules are loaded) are tried before
the built-in ones, the latest first, so the README's example of overriding `addmm` takes effect; `priority=`
orders explicitly (higher first; built-in rules have 0, a user's default is 1).

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
    priority: int = 0
    builtin: bool = True

    def applies(self, *args, **kwargs) -> bool:
        return self.when is None or bool(self.when(*args, **kwargs))


_RULES: dict = defaultdict(list)       # target -> rules in the order they are tried
_loading_builtin = False                # True while lowering/rules is imported (lowering/__init__.py)


def lowering(*targets, when: Callable | None = None, priority: int | None = None):
    """Decorator: register `fn` as the lowering of each ATen overload in `targets` (guarded by `when`).
    A rule registered outside torch_ttnn's own rule modules is tried before the built-in ones (module doc)."""
    if not targets:
        raise TypeError("lowering() needs at least one ATen op overload, e.g. @lowering(aten.add.Tensor)")
    builtin = _loading_builtin
    prio = priority if priority is not None else (0 if builtin else 1)

    def deco(fn):
        for t in targets:
            if not isinstance(t, torch._ops.OpOverload):
                raise TypeError(f"lowering targets must be ATen overloads such as aten.add.Tensor, got {t!r}")
            rules = _RULES[t]
            rule = Rule(t, fn, when, fn.__name__, prio, builtin)
            # built-in: after its equals (first registered wins); a user's: before them (latest wins)
            at = next((i for i, r in enumerate(rules) if r.priority < prio or (not builtin and r.priority == prio)),
                      len(rules))
            rules.insert(at, rule)
        return fn
    return deco


@dataclass(frozen=True)
class Refusal:
    """Why one rule did not lower a call: its guard said no (`detail`: the condition) or raised (`error`)."""
    rule: str
    crashed: bool
    detail: str

    def __str__(self):
        return f"rule {self.rule}: guard {'crashed' if self.crashed else 'refused'}: {self.detail}"


@dataclass(frozen=True)
class Lookup:
    rule: Rule | None
    refusals: tuple = ()

    def why_not(self) -> str:
        """The reason the op falls back, one phrase per rule tried."""
        if self.rule is not None:
            return ""
        if not self.refusals:
            return "no lowering rule for this op"
        return "; ".join(str(r) for r in self.refusals)


def lookup(target, args=(), kwargs=None, explain: bool = True) -> Lookup:
    """The first rule whose guard holds, with why each earlier rule did not (`explain=False` skips working out
    which condition failed: the eager device asks only when it falls back)."""
    from .explain import failed_condition
    kwargs = kwargs or {}
    refusals = []
    for rule in _RULES.get(target, ()):
        try:
            if rule.applies(*args, **kwargs):
                return Lookup(rule, tuple(refusals))
        except Exception as e:  # a guard bug: the rule does not apply, and the report says the guard crashed
            refusals.append(Refusal(rule.name, True, f"{type(e).__name__}: {e}"))
            continue
        refusals.append(Refusal(rule.name, False, failed_condition(rule.when, args, kwargs) if explain else ""))
    return Lookup(None, tuple(refusals))


def find(target, args=(), kwargs=None) -> Rule | None:
    """The first rule for `target` whose guard holds for these ATen-level arguments, or None."""
    return lookup(target, args, kwargs, explain=False).rule


def registered() -> dict:
    """ATen overload -> rules (read-only view, for reports and coverage)."""
    return dict(_RULES)
