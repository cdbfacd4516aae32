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

Records. Steps, planned steps, inputs and symbol bindings are frozen slotted dataclasses read by field name.
Slotted, not NamedTuples: the executor's per-call loop reads each planned step's fields, and on CPython 3.11
reading a slot costs what unpacking a tuple does, while a NamedTuple field read costs ~40% more (host overhead
per TT-NN call is a measured target).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import sympy
import torch
import torch.fx as fx

from .host_params import HostParams, check_host_params, run_freeing
from .trace import Tracer, split

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


@dataclass(frozen=True, slots=True)
class Step:
    """One call of the lowered graph, its arguments as templates (slot references, symbolic values)."""
    slot: int                # where its result goes
    fn: Callable             # a TT-NN function, a host torch op (a CPU fallback), or deallocate
    args: tuple
    kwargs: dict
    const: bool              # depends on parameters only: runs once per parameter version, not per call
    transfer: str | None     # "h2d"/"d2h": counted in last_transfers
    dealloc: bool            # deallocate(args[0]), skipped when that tensor is protected
    origin: dict             # aten, aten_node, rule: what it was lowered from, named when it fails
    on_device: bool = False  # a TT-NN op on the device (not a transfer, not host work): may be traced


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A step as the executor's loop runs it, argument filling worked out once (`_slot_plan`)."""
    step: Step               # what it was planned from (named in errors)
    fn: Callable
    slot: int
    args: list | None
    arg_slots: object        # _slot_plan(args)
    kwargs: dict | None
    kwarg_slots: object      # _slot_plan(kwargs)
    transfer: str | None
    frees: int | None        # a deallocation: the slot of the tensor it frees (no arguments then)


@dataclass(frozen=True, slots=True)
class Input:
    """A placeholder that takes a call argument."""
    slot: int
    kind: str                # "input" or "param" (a param's identity and version key the constants)
    on_device: bool          # a tensor of the ttnn torch device: its TT-NN tensor is used in place
    name: str = ""           # the placeholder's name (dynamo's, e.g. l_self_..._weight_), named in errors


@dataclass(frozen=True, slots=True)
class Binding:
    """A symbol that is exactly one input's size in one dim (`dim` None: the input is that SymInt)."""
    input: int               # position among the call arguments
    dim: int | None
    symbol: sympy.Symbol


class Unbound(Exception):
    """The graph's shapes use a symbol no input size determines (e.g. data-dependent): cannot be replayed."""


class StepFailed(RuntimeError):
    def __init__(self, step: Step | None, error: Exception):
        origin = step.origin if step is not None else {}
        self.step, self.error, self.origin = step, error, origin
        fn = step.fn if step is not None else None
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


def _found(a, cls) -> list:
    """Every `cls` instance in a nested argument structure."""
    if isinstance(a, cls):
        return [a]
    if isinstance(a, (list, tuple)):
        return [y for x in a for y in _found(x, cls)]
    if isinstance(a, dict):
        return [y for x in a.values() for y in _found(x, cls)]
    return []


def slots_read(a) -> set:
    """The slots a step's argument structure refers to."""
    return {s.i for s in _found(a, _S)}


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


def _bindings(nodes) -> list[Binding]:
    """A binding for each symbol an input's size or value is exactly."""
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
                binds.append(Binding(pos, d, s.node.expr))
        pos += 1
    return binds


class _Templates:
    """FX arguments -> step arguments: a node becomes a reference to its slot, a symbolic value a reference to
    its expression (each distinct one numbered once in `exprs`, with the type its value converts to)."""

    def __init__(self, slot: dict):
        self.slot, self.exprs, self._index = slot, [], {}

    def __call__(self, a):
        return fx.node.map_aggregate(a, self._one)

    def _one(self, x):
        if isinstance(x, fx.Node):
            return _S(self.slot[x])
        if isinstance(x, _SYM):
            e, conv = x.node.expr, _CONV[type(x)]
            if not e.free_symbols:
                return conv(e)
            if (e, type(x)) not in self._index:
                self._index[(e, type(x))] = len(self.exprs)
                self.exprs.append((e, conv))
            return _E(self._index[(e, type(x))])
        return x


def _planned(step: Step) -> PlannedStep:
    if step.dealloc:
        return PlannedStep(step, step.fn, step.slot, None, None, None, None, step.transfer, frees=step.args[0].i)
    args = list(step.args)
    return PlannedStep(step, step.fn, step.slot, args, _slot_plan(args), step.kwargs, _slot_plan(step.kwargs),
                       step.transfer, frees=None)


class Program:
    def __init__(self, graph: fx.Graph, constants: dict, deallocate, load_params_once: bool = True,
                 trace=None, free_host_params: bool = False):
        """`trace`: (ttnn module, device) to replay steady-state calls from a captured trace (compiler.trace).
        `free_host_params`: each parameter's host (CPU) storage is freed as soon as the constant steps have
        uploaded it (host_params.py says when that is allowed and what raises afterwards)."""
        nodes = list(graph.nodes)
        slot = {n: i for i, n in enumerate(nodes)}
        self.env = [None] * len(nodes)
        self.inputs: list[Input] = []
        self.steps: list[Step] = []
        self.kept = []
        self.deallocate = deallocate
        self.load_params_once = load_params_once
        self._key = None
        template = _Templates(slot)
        for n in nodes:
            if n.op == "placeholder":
                if n.meta["kind"] == "const":
                    self.env[slot[n]] = constants[n.name]
                else:
                    self.inputs.append(Input(slot[n], n.meta["kind"], bool(n.meta.get("on_device")), n.name))
            elif n.op == "call_function":
                origin = {k: n.meta[k] for k in ("aten", "aten_node", "rule") if k in n.meta}
                self.steps.append(Step(slot[n], n.target, template(n.args), template(dict(n.kwargs)),
                                       n.meta.get("const", False), n.meta.get("transfer"), n.target is deallocate,
                                       origin, bool(n.meta.get("device")) and not n.meta.get("transfer")))
                if n.meta.get("kept"):
                    self.kept.append(slot[n])
            elif n.op == "output":
                self.output = template(n.args[0])
        self.const_slots = {st.slot for st in self.steps if st.const}
        self.call_slots = [st.slot for st in self.steps if not st.const] + [inp.slot for inp in self.inputs]
        self.device_input_slots = [inp.slot for inp in self.inputs if inp.on_device]
        self.last_transfers = {"h2d": 0, "d2h": 0}
        self._init_symbols(nodes, template.exprs)
        self._plans: dict = {}           # (id of a steps list, const) -> (that list, its planned steps)
        self._kept_ids: set = set()
        self._input_ids: set = set()     # device inputs seen by the constant steps: a kept value may be one
        self._tracer = Tracer(*trace, self) if trace is not None else None
        self._split = None               # (steps list, its feed/body/drain) for the tracer
        self.trace_reason = "" if trace is not None else "trace is off"
        self.free_host_params = free_host_params
        self.host_params = HostParams()  # what free_host_params freed and kept, in the metrics

    def _init_symbols(self, nodes, exprs):
        """Symbolic shapes: the expressions, the inputs that bind their symbols, the steps to instantiate."""
        self.exprs = exprs
        self.binds = _bindings(nodes) if exprs else []
        bound = {b.symbol for b in self.binds}
        free = set().union(*(e.free_symbols for e, _ in exprs)) if exprs else set()
        if free - bound:
            raise Unbound(f"symbols {sorted(map(str, free - bound))} are not an input's size")
        self._template = (self.steps, self.output)
        self._symbolic = [i for i, st in enumerate(self.steps) if _has((st.args, st.kwargs), _E)]
        self._out_symbolic = _has(self.output, _E)
        self._instances: dict = {}
        self._shape_key = None

    # --- symbolic shapes ----------------------------------------------------------------------------
    def _instantiate(self, key):
        inst = self._instances.get(key)
        if inst is None:
            sub = {b.symbol: sympy.Integer(v) for b, v in zip(self.binds, key)}
            vals = [conv(e.xreplace(sub)) for e, conv in self.exprs]
            steps, output = self._template
            steps = list(steps)
            for i in self._symbolic:
                st = steps[i]
                steps[i] = replace(st, args=_subst(st.args, vals), kwargs=_subst(st.kwargs, vals))
            if self._out_symbolic:
                output = _subst(output, vals)
            if len(self._instances) >= _CACHE:
                self._instances.clear()
            inst = self._instances[key] = (steps, output)
        self.steps, self.output = inst
        self._shape_key = key

    def sizes(self, args) -> tuple:
        """The binding of the symbols for these call arguments (empty for a static program)."""
        return tuple(args[b.input] if b.dim is None else args[b.input].shape[b.dim] for b in self.binds)

    # --- running -------------------------------------------------------------------------------------
    def _plan(self, const: bool) -> list[PlannedStep]:
        """The steps of one phase, with argument resolution worked out once: top-level slot positions are
        filled into a copy of the argument list, and only arguments nesting a slot in a list/dict are walked."""
        key = (id(self.steps), const)
        cached = self._plans.get(key)
        if cached is not None:
            _steps, plan = cached
            return plan
        plan = [_planned(step) for step in self.steps if step.const is const]
        if len(self._plans) >= 2 * _CACHE:
            self._plans.clear()
        self._plans[key] = (self.steps, plan)  # holds the steps list: its id stays unique while cached
        return plan

    def _run(self, const: bool, counts, protected):
        self.run_steps(self._plan(const), counts, protected)

    def run_steps(self, plan, counts, protected):
        env = self.env
        p = None
        try:
            for p in plan:
                if p.frees is not None:
                    t = env[p.frees]
                    if id(t) not in protected:
                        p.fn(t)
                    continue
                env[p.slot] = p.fn(*_fill(p.args, p.arg_slots, env), **_fill(p.kwargs, p.kwarg_slots, env))
                if p.transfer:
                    counts[p.transfer] += 1
        except Exception as e:
            raise StepFailed(p.step if p is not None else None, e) from e

    slots_read = staticmethod(slots_read)

    def resolved(self, p: PlannedStep) -> tuple[list, dict]:
        """A planned step's arguments with this call's values filled in."""
        return _fill(p.args, p.arg_slots, self.env), _fill(p.kwargs, p.kwarg_slots, self.env)

    def _traceable(self):
        """This program's feed/body/drain when its per-call steps can be traced, else None (reason kept)."""
        if self.binds or self.device_input_slots:
            self.trace_reason = "symbolic shapes" if self.binds else "inputs already on the device"
            return None
        if self._split is None or self._split[0] is not self.steps:
            parts, self.trace_reason = split(self._plan(False), lambda p: p.step.on_device)
            self._split = (self.steps, parts)
        return self._split[1]

    def _run_call(self, counts, protected):
        parts = self._traceable() if self._tracer is not None else None
        if parts is None:
            self._run(False, counts, protected)
        else:
            self._tracer.run(parts, counts, protected, self.output)

    @property
    def traced(self) -> bool:
        return self._tracer is not None and self._tracer.trace_id is not None

    @property
    def will_trace(self) -> bool:
        """Traced now, or will be from its next calls (the first call runs untraced to fill the program cache)."""
        return self._tracer is not None and self._traceable() is not None

    def __call__(self, args):
        if self.binds:
            key = self.sizes(args)
            if key != self._shape_key:
                self._instantiate(key)
        env = self.env
        counts = {"h2d": 0, "d2h": 0}
        key = []
        for inp, a in zip(self.inputs, args):
            env[inp.slot] = a.ttnn_tensor() if inp.on_device else a
            if inp.kind == "param":
                key.append((id(a), getattr(a, "_version", 0)))
        key = tuple(key)
        protected = self._kept_ids
        if self.device_input_slots:  # the caller's tensors: never freed, even where a step aliases one
            protected = protected | {id(env[s]) for s in self.device_input_slots}
        ok = False
        try:
            if key != self._key or not self.load_params_once:
                check_host_params(self.inputs, args, "" if self._key is None else
                                  "a parameter was replaced or updated in place, so it must be uploaded again")
                self.release()
                if self.free_host_params:
                    self.host_params = run_freeing(self, self._plan(True), counts, protected, args)
                else:
                    self._run(True, counts, protected)
                for s in self.const_slots - set(self.kept):
                    env[s] = None
                self._kept_ids = {id(env[k]) for k in self.kept}
                self._input_ids = {id(env[s]) for s in self.device_input_slots}
                protected = protected | self._kept_ids
                self._key = key
            self._run_call(counts, protected)
            out = _resolve(self.output, env)
            ok = True
        finally:
            if not ok:
                if self._tracer is not None:
                    self._tracer.release()
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
        """Free the kept constants (parameters on the device): called before re-placing them. A trace holds
        their buffers, so it goes too."""
        if self._tracer is not None:
            self._tracer.release()
        for s in self.kept:
            t = self.env[s]
            if t is not None and id(t) not in self._input_ids and hasattr(t, "is_allocated") \
                    and t.is_allocated():
                self.deallocate(t)
            self.env[s] = None
        self._key = None
        self._kept_ids = set()
