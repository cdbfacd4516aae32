"""Runs a lowered graph: constant steps once per parameter version, per-call steps every call.

The executor is a flat list of steps over numbered slots (no FX code generation: TT-NN enums and devices are
arguments that Python source cannot spell). After a call every per-call slot is cleared, so nothing computed
for one call outlives it even where the graph could not free it explicitly.

Symbolic shapes. A graph lowered with dynamic shapes has SymInt arguments (`reshape(x, [1, s0 * 2, 64])`).
Each is compiled here to its sympy expression; the symbols are bound from the call's input sizes (each
symbol is some input's size in some dim, or a SymInt input), and the steps with symbolic arguments are
instantiated once per distinct binding and cached. A call with known sizes costs one tuple of sizes and a
dict lookup on top of the static executor.

Errors. A step that raises is reported as `StepFailed`, naming the TT-NN function, the ATen node and the
rule it came from; the call's device intermediates are freed first, so a failed call does not leak.
"""
from __future__ import annotations

import sympy
import torch
import torch.fx as fx

_SYM = (torch.SymInt, torch.SymFloat, torch.SymBool)
_CONV = {torch.SymInt: int, torch.SymFloat: float, torch.SymBool: bool}
_CACHE = 64          # instantiated step lists kept per program (one per distinct binding of the symbols)


class _S:
    """A slot reference in a step's arguments."""
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


class _E:
    """A symbolic value in a step's arguments: expression k of the program, evaluated per binding."""
    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k


class Unbound(Exception):
    """The graph's shapes use a symbol no input size determines (e.g. data-dependent): cannot be replayed."""


class StepFailed(RuntimeError):
    def __init__(self, step, error: Exception):
        origin = step[7] if step is not None and len(step) > 7 else {}
        self.step, self.error, self.origin = step, error, origin
        fn = step[1] if step is not None else None
        name = getattr(fn, "python_fully_qualified_name", None) or getattr(fn, "__name__", repr(fn))
        where = (f" (lowering of {origin['aten']} at node {origin['aten_node']}, rule {origin.get('rule')})"
                 if origin.get("aten_node") else "")
        super().__init__(f"{name} failed at run time{where}: {type(error).__name__}: {error}")


def _resolve(a, env):
    if isinstance(a, _S):
        return env[a.i]
    if isinstance(a, (list, tuple)):
        return [_resolve(x, env) for x in a] if isinstance(a, list) else tuple(_resolve(x, env) for x in a)
    if isinstance(a, dict):
        return {k: _resolve(v, env) for k, v in a.items()}
    return a


def _subst(a, vals):
    """Replace symbolic values by their numbers for one binding (slots stay slots)."""
    if isinstance(a, _E):
        return vals[a.k]
    if isinstance(a, (list, tuple)):
        return [_subst(x, vals) for x in a] if isinstance(a, list) else tuple(_subst(x, vals) for x in a)
    if isinstance(a, dict):
        return {k: _subst(v, vals) for k, v in a.items()}
    return a


def _has(a, cls) -> bool:
    if isinstance(a, cls):
        return True
    if isinstance(a, (list, tuple)):
        return any(_has(x, cls) for x in a)
    if isinstance(a, dict):
        return any(_has(x, cls) for x in a.values())
    return False


def _slot_plan(container):
    """How a step's argument list or keyword dict gets its slot values each call, worked out once: None = no
    slot (passed as is), ((position or key, slot), ...) = slots at the top level only (filled into a copy),
    True = slots nested in a list or dict (walked every call)."""
    items = container.items() if isinstance(container, dict) else enumerate(container)
    items = list(items)
    if not any(_has(x, _S) for _k, x in items):
        return None
    if all(isinstance(x, _S) or not _has(x, _S) for _k, x in items):
        return tuple((k, x.i) for k, x in items if isinstance(x, _S))
    return True


def _fill(container, plan, env):
    if plan is None:
        return container
    if plan is True:
        return _resolve(container, env)
    out = container.copy()
    for k, i in plan:
        out[k] = env[i]
    return out


def has_symbols(a) -> bool:
    """Whether an FX argument structure holds a SymInt/SymFloat/SymBool whose value is not a constant."""
    found = []
    fx.node.map_aggregate(a, lambda x: found.append(x) if isinstance(x, _SYM) and x.node.expr.free_symbols
                          else None)
    return bool(found)


def _bindings(nodes) -> list:
    """(input position, dim or None, symbol) for each symbol an input's size or value is exactly."""
    binds, seen, pos = [], set(), 0
    for n in nodes:
        if n.op != "placeholder" or n.meta.get("kind") == "const":
            continue
        v = n.meta.get("val")
        cands = [(None, v)] if isinstance(v, torch.SymInt) else \
            list(enumerate(v.shape)) if isinstance(v, torch.Tensor) else []
        for d, s in cands:
            if isinstance(s, torch.SymInt) and isinstance(s.node.expr, sympy.Symbol) and s.node.expr not in seen:
                seen.add(s.node.expr)
                binds.append((pos, d, s.node.expr))
        pos += 1
    return binds


class Program:
    def __init__(self, graph: fx.Graph, constants: dict, deallocate, load_params_once: bool = True):
        nodes = list(graph.nodes)
        slot = {n: i for i, n in enumerate(nodes)}
        self.env = [None] * len(nodes)
        self.inputs = []                  # (slot, kind, on_device) per placeholder that takes a call argument
        self.steps = []                   # (slot, fn, args, kwargs, const, transfer, is_dealloc, origin)
        self.kept = []
        self.deallocate = deallocate
        self.load_params_once = load_params_once
        self._key = None
        exprs, index = [], {}

        def template(a):
            def one(x):
                if isinstance(x, fx.Node):
                    return _S(slot[x])
                if isinstance(x, _SYM):
                    e, conv = x.node.expr, _CONV[type(x)]
                    if not e.free_symbols:
                        return conv(e)
                    if (e, type(x)) not in index:
                        index[(e, type(x))] = len(exprs)
                        exprs.append((e, conv))
                    return _E(index[(e, type(x))])
                return x
            return fx.node.map_aggregate(a, one)

        for n in nodes:
            if n.op == "placeholder":
                if n.meta["kind"] == "const":
                    self.env[slot[n]] = constants[n.name]
                else:
                    self.inputs.append((slot[n], n.meta["kind"], bool(n.meta.get("on_device"))))
            elif n.op == "call_function":
                origin = {k: n.meta[k] for k in ("aten", "aten_node", "rule") if k in n.meta}
                self.steps.append((slot[n], n.target, template(n.args), template(dict(n.kwargs)),
                                   n.meta.get("const", False), n.meta.get("transfer"), n.target is deallocate,
                                   origin))
                if n.meta.get("kept"):
                    self.kept.append(slot[n])
            elif n.op == "output":
                self.output = template(n.args[0])
        self.const_slots = {st[0] for st in self.steps if st[4]}
        self.call_slots = [st[0] for st in self.steps if not st[4]] + [s for s, *_ in self.inputs]
        self.device_inputs = [i for i, (_s, _k, d) in enumerate(self.inputs) if d]
        self.last_transfers = {"h2d": 0, "d2h": 0}
        # Symbolic shapes: expressions, the inputs that bind their symbols, the steps to instantiate.
        self.exprs = exprs
        self.binds = _bindings(nodes) if exprs else []
        bound = {b[2] for b in self.binds}
        free = set().union(*(e.free_symbols for e, _ in exprs)) if exprs else set()
        if free - bound:
            raise Unbound(f"symbols {sorted(map(str, free - bound))} are not an input's size")
        self._template = (self.steps, self.output)
        self._symbolic = [i for i, st in enumerate(self.steps) if _has(st[2:4], _E)]
        self._out_symbolic = _has(self.output, _E)
        self._instances: dict = {}
        self._plans: dict = {}           # (id of a steps list, const) -> (that list, its resolved plan)
        self._shape_key = None
        self._kept_ids: set = set()
        self._input_ids: set = set()     # device inputs seen by the constant steps: a kept value may be one

    # --- symbolic shapes ----------------------------------------------------------------------------
    def _instantiate(self, key):
        inst = self._instances.get(key)
        if inst is None:
            sub = {sym: sympy.Integer(v) for (_p, _d, sym), v in zip(self.binds, key)}
            vals = [conv(e.xreplace(sub)) for e, conv in self.exprs]
            steps, output = self._template
            steps = list(steps)
            for i in self._symbolic:
                st = steps[i]
                steps[i] = (st[0], st[1], _subst(st[2], vals), _subst(st[3], vals), *st[4:])
            if self._out_symbolic:
                output = _subst(output, vals)
            if len(self._instances) >= _CACHE:
                self._instances.clear()
            inst = self._instances[key] = (steps, output)
        self.steps, self.output = inst
        self._shape_key = key

    def sizes(self, args) -> tuple:
        """The binding of the symbols for these call arguments (empty for a static program)."""
        return tuple(args[p] if d is None else args[p].shape[d] for p, d, _s in self.binds)

    # --- running -------------------------------------------------------------------------------------
    def _plan(self, const: bool) -> list:
        """The steps of one phase, with argument resolution worked out once: top-level slot positions are
        filled into a copy of the argument list, and only arguments nesting a slot in a list/dict are walked."""
        key = (id(self.steps), const)
        plan = self._plans.get(key)
        if plan is None:
            plan = []
            for step in self.steps:
                s, fn, args, kwargs, c, transfer, dealloc, _origin = step
                if c is not const:
                    continue
                if dealloc:
                    plan.append((step, s, fn, args[0].i, None, None, None, transfer, True))
                    continue
                args = list(args)
                plan.append((step, s, fn, args, _slot_plan(args), kwargs, _slot_plan(kwargs), transfer, False))
            if len(self._plans) >= 2 * _CACHE:
                self._plans.clear()
            self._plans[key] = (self.steps, plan)  # holds the steps list: its id stays unique while cached
        else:
            plan = plan[1]
        return plan

    def _run(self, const: bool, counts, protected):
        env = self.env
        step = None
        try:
            for step, s, fn, args, slots, kwargs, kw_slots, transfer, dealloc in self._plan(const):
                if dealloc:
                    t = env[args]
                    if id(t) not in protected:
                        fn(t)
                    continue
                a = _fill(args, slots, env)
                kw = _fill(kwargs, kw_slots, env)
                env[s] = fn(*a, **kw)
                if transfer:
                    counts[transfer] += 1
        except Exception as e:
            raise StepFailed(step, e) from e

    def __call__(self, args):
        if self.binds:
            key = self.sizes(args)
            if key != self._shape_key:
                self._instantiate(key)
        env = self.env
        counts = {"h2d": 0, "d2h": 0}
        key = []
        for (s, kind, on_dev), a in zip(self.inputs, args):
            env[s] = a.ttnn_tensor() if on_dev else a
            if kind == "param":
                key.append((id(a), getattr(a, "_version", 0)))
        key = tuple(key)
        protected = self._kept_ids
        if self.device_inputs:  # device inputs are the caller's: never freed, even where a step aliases one
            protected = protected | {id(env[self.inputs[i][0]]) for i in self.device_inputs}
        ok = False
        try:
            if key != self._key or not self.load_params_once:
                self.release()
                self._run(True, counts, protected)
                for s in self.const_slots - set(self.kept):
                    env[s] = None
                self._kept_ids = {id(env[k]) for k in self.kept}
                self._input_ids = {id(env[self.inputs[i][0]]) for i in self.device_inputs}
                protected = protected | self._kept_ids
                self._key = key
            self._run(False, counts, protected)
            out = _resolve(self.output, env)
            ok = True
        finally:
            if not ok:
                self._free_partial(protected)
            for s in self.call_slots:
                env[s] = None
        self.last_transfers = counts
        return out

    def _free_partial(self, protected):
        """After a failed call: free what the call allocated on the device (not inputs, not kept constants)."""
        for s in set(self.call_slots) | (self.const_slots - set(self.kept)):
            t = self.env[s]
            if t is not None and id(t) not in protected and hasattr(t, "is_allocated"):
                try:
                    if t.is_allocated():
                        self.deallocate(t)
                except Exception:
                    pass
            self.env[s] = None
        if self._key is None:
            self.release()

    def release(self):
        """Free the kept constants (parameters on the device): called before re-placing them."""
        for s in self.kept:
            t = self.env[s]
            if t is not None and id(t) not in self._input_ids and hasattr(t, "is_allocated") \
                    and t.is_allocated():
                self.deallocate(t)
            self.env[s] = None
        self._key = None
        self._kept_ids = set()
