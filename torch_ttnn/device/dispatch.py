"""Where an ATen call on a ttnn tensor goes: a device kernel, a lowering rule, or the CPU.

Order: (1) the device kernels in kernels.py (copies, factories, aliases: what is about placement, not math);
(2) the shared lowering registry: `find(op, torch args)`, then `rule.fn(ttnn, *tt args)`, the result mapped to
the dtype/shape torch computes for the op on meta tensors (an in-place op uses its functional rule and stores the
result into `self`); (3) otherwise the CPU: copy in, run, copy out, write back what the op mutates, with a
warning the first time per op and a counter (`fallback_counts()`), so a model always runs.
"""
from __future__ import annotations

import os
import sys
import warnings
from collections import Counter

import torch
from torch.utils._pytree import tree_flatten, tree_map

from .. import lowering, runtime
from ..lowering.fallback import TtnnFallbackWarning  # noqa: F401  (re-exported: torch_ttnn.device's API)
from .tensor import LazyCell, TtnnTensor, host_to_tt, tt_to_host

aten = torch.ops.aten
_fallbacks: Counter = Counter()
_warned: set = set()
_INTERNAL = (os.path.dirname(torch.__file__), os.path.dirname(os.path.dirname(__file__)))
KERNELS: dict = {}  # OpOverload or OpOverloadPacket -> fn(func, args, kwargs)




def fallback_counts() -> dict:
    """ATen op name -> how many calls ran on the CPU since the last reset."""
    return dict(_fallbacks)


def reset_fallback_counts():
    _fallbacks.clear()
    _warned.clear()


def kernel(*ops):
    def deco(fn):
        for op in ops:
            KERNELS[op] = fn
        return fn
    return deco


def dispatch(func, args, kwargs):
    k = KERNELS.get(func) or KERNELS.get(func.overloadpacket)
    if k is not None:
        return k(func, args, kwargs)
    index = device_index(func, args, kwargs)
    try:
        out = _via_rule(func, args, kwargs, index)
    except _RuleError as e:
        if STRICT:
            raise e.__cause__
        return cpu_fallback(func, args, kwargs, index, f"its lowering rule failed: {e}")
    if out is not NotImplemented:
        return out
    return cpu_fallback(func, args, kwargs, index, _why_not(func, args, kwargs))


def _why_not(func, args, kwargs) -> str:
    """Why no rule took the call (which guard condition failed), worked out for the first warning only."""
    if str(func) in _warned:
        return "no lowering rule"
    target = _functional(func) or func
    return lowering.lookup(target, args, kwargs).why_not()


class _RuleError(Exception):
    """A lowering rule raised on arguments torch accepts: a rule bug, run on the CPU unless STRICT."""


# TORCH_TTNN_STRICT=1: a failing rule raises instead of falling back (tests of rules want the error).
STRICT = os.environ.get("TORCH_TTNN_STRICT", "0") not in ("0", "", "false")


# --- placement checks ---------------------------------------------------------------------------------
def _named_tensors(func, args, kwargs):
    names = [a.name for a in func._schema.arguments]
    for i, a in enumerate(args):
        yield (names[i] if i < len(names) else f"#{i}"), a
    yield from kwargs.items()


def device_index(func, args, kwargs) -> int:
    """The ttnn index the op runs on; a clear error when tensors sit on different devices."""
    where = []
    for name, a in _named_tensors(func, args, kwargs):
        for t in tree_flatten(a)[0]:
            if isinstance(t, torch.Tensor):
                where.append((name, t))
    on = [(n, t) for n, t in where if isinstance(t, TtnnTensor)]
    index = on[0][1].device.index if on else 0
    for n, t in where:
        if isinstance(t, TtnnTensor):
            if t.device.index != index:
                raise RuntimeError(f"{func}: argument '{n}' is on {t.device} but argument '{on[0][0]}' is on "
                                   f"ttnn:{index}; move one with .to('ttnn:{index}')")
        elif t.dim() > 0 and t.device.type != "meta":  # a 0-dim CPU tensor is a scalar, as with CUDA
            raise RuntimeError(
                f"{func}: expected all tensors on one device, but argument '{n}' (shape {tuple(t.shape)}) is on "
                f"{t.device} while argument '{on[0][0]}' is on ttnn:{index}. Move it with "
                f"`{n}.to('ttnn')`, or bring the other to the host with `.cpu()`.")
    return index


# --- the rule path ------------------------------------------------------------------------------------
def _contig_meta(t: torch.Tensor) -> torch.Tensor:
    return torch.empty(t.shape, dtype=t.dtype, device="meta")


def meta_run(func, args, kwargs):
    """The op on meta copies: torch's own shape/dtype computation and argument checks."""
    def m(x):
        if isinstance(x, torch.Tensor):
            return _contig_meta(x)
        if isinstance(x, torch.device) and x.type == "ttnn":
            return torch.device("meta")
        return x
    kw = {k: (torch.device("meta") if k == "device" and v is not None else m(v)) for k, v in kwargs.items()}
    return func(*tree_map(m, args), **kw)


def _functional(func):
    """add_.Tensor -> add.Tensor: the functional twin a rule is written for, or None."""
    name = func._schema.name.split("::")[-1]
    if not (name.endswith("_") and func._schema.arguments and func._schema.arguments[0].alias_info
            and func._schema.arguments[0].alias_info.is_write):
        return None
    packet = getattr(aten, name[:-1], None)
    return getattr(packet, func._overloadname, None) if packet is not None else None


def _to_tt(x, index):
    if isinstance(x, TtnnTensor):
        return x.ttnn_tensor()
    if isinstance(x, torch.Tensor):  # a 0-dim CPU tensor used as a scalar
        return host_to_tt(x.reshape(1), index)
    return x


def fit(tt, shape, where: str):
    """A rule's TT-NN result in torch's shape (a rank difference is a free reshape; anything else a bug)."""
    if tuple(tt.shape) == tuple(shape):
        return tt
    n_tt, n = 1, 1
    for d in tt.shape:
        n_tt *= int(d)
    for d in shape:
        n *= int(d)
    if n_tt != n:
        raise RuntimeError(f"{where} returned shape {list(tt.shape)} but torch expects {list(shape)}: the "
                           f"lowering rule is wrong for these arguments")
    return runtime.ttnn().reshape(tt, list(shape) or [1]) if len(shape) else tt


def _via_rule(func, args, kwargs, index):
    target = _functional(func)
    inplace = target is not None
    target = target or func
    rule = lowering.find(target, args, kwargs)
    if rule is None:
        return NotImplemented
    meta = meta_run(func, args, kwargs)  # torch's checks and result metadata (in-place: `self` as it stays)
    where = f"rule {rule.name!r} for {target}"
    try:
        res = rule.fn(runtime.ttnn(), *tree_map(lambda x: _to_tt(x, index), args),
                      **{k: _to_tt(v, index) for k, v in kwargs.items()})
    except Exception as e:
        raise _RuleError(f"{where}: {type(e).__name__}: {e}") from e
    if inplace:
        self = args[0]
        self._assign(fit(res, self.shape, where))
        return self
    return wrap(func, args, kwargs, res, meta, index, where)


def wrap(func, args, kwargs, res, meta, index, where):
    """TT-NN result(s) -> TtnnTensor(s) with the meta result's shape/dtype; view ops remember their parent."""
    parent = args[0] if func.is_view and isinstance(args[0], TtnnTensor) else None
    if isinstance(meta, torch.Tensor):
        if isinstance(res, (list, tuple)) and len(res) == 1:
            res = res[0]
        return TtnnTensor(fit(res, meta.shape, where), meta.shape, meta.dtype, index, parent,
                          (func, args, kwargs, None) if parent is not None else None)
    if isinstance(meta, (list, tuple)):
        if len(res) != len(meta):
            raise RuntimeError(f"{where} returned {len(res)} results, torch expects {len(meta)}")
        outs = [wrap_one(r, m, index, where, parent, (func, args, kwargs, i)) for i, (r, m) in enumerate(zip(res, meta))]
        return type(meta)(outs) if isinstance(meta, tuple) else outs
    return res


def wrap_one(r, m, index, where, parent, replay):
    if not isinstance(m, torch.Tensor):
        return r
    if r is None:  # the rule skipped an output torch produces: make it on the CPU if anyone reads it
        func, args, kwargs, i = replay
        return TtnnTensor(LazyCell(lambda: cpu_fallback(func, args, kwargs, index,
                                                        "its rule does not compute this output")[i]._cell.tt),
                          m.shape, m.dtype, index)
    return TtnnTensor(fit(r, m.shape, where), m.shape, m.dtype, index, parent,
                      replay if parent is not None else None)


# --- the CPU path -------------------------------------------------------------------------------------
def count_fallback(func, why: str = "no lowering rule"):
    name = str(func)
    _fallbacks[name] += 1
    if name not in _warned:
        _warned.add(name)
        warnings.warn(f"ttnn device: {name} runs on the CPU ({why}); it is copied to the host and back on every "
                      f"call. torch_ttnn.device.fallback_counts() lists every such op.", TtnnFallbackWarning,
                      stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The stacklevel that points a warning at the user's line, not at torch or this package."""
    f, level = sys._getframe(2), 2
    while f is not None and f.f_code.co_filename.startswith(_INTERNAL):
        f, level = f.f_back, level + 1
    return level


def cpu_fallback(func, args, kwargs, index, why: str = "no lowering rule"):
    count_fallback(func, why)
    host: dict = {}  # id(wrapper) -> its CPU copy, so one wrapper is one CPU tensor inside the op

    def down(x):
        if isinstance(x, TtnnTensor):
            if id(x) not in host:
                host[id(x)] = (x, x._host())
            return host[id(x)][1]
        if isinstance(x, torch.device) and x.type == "ttnn":
            return torch.device("cpu")
        return x
    cargs = tree_map(down, args)
    ckw = {k: down(v) if k != "device" else (torch.device("cpu") if v is not None else v) for k, v in kwargs.items()}
    out = func(*cargs, **ckw)
    # write back every wrapper the op may have mutated (schema: Tensor(a!) arguments)
    names = [(i, a) for i, a in enumerate(func._schema.arguments) if a.alias_info is not None and a.alias_info.is_write]
    for i, a in names:
        val = args[i] if i < len(args) else kwargs.get(a.name)
        for w in tree_flatten(val)[0]:
            if isinstance(w, TtnnTensor):
                if tuple(host[id(w)][1].shape) != tuple(w.shape):
                    raise RuntimeError(f"{func} resizes its output from {tuple(w.shape)} to "
                                       f"{tuple(host[id(w)][1].shape)}; a ttnn tensor cannot change size in place. "
                                       f"Call the functional form (without out=) instead")
                layout = getattr(w._cell.tt, "layout", None)
                w._assign(host_to_tt(host[id(w)][1], index, layout))
    by_cpu = {id(c): w for w, c in host.values()}
    parent = args[0] if func.is_view and isinstance(args[0], TtnnTensor) else None

    def up(x, i=None):
        if not isinstance(x, torch.Tensor):
            return x
        if id(x) in by_cpu:          # in-place / out= returns the argument itself
            return by_cpu[id(x)]
        replay = (func, args, kwargs, i) if parent is not None else None
        return TtnnTensor(host_to_tt(x, index), x.shape, x.dtype, index, parent, replay)
    if isinstance(out, (list, tuple)):
        res = [up(x, i) for i, x in enumerate(out)]
        return type(out)(res) if isinstance(out, tuple) else res
    return up(out)


# --- views: re-derive after the parent changed, scatter writes into the parent -------------------------
def rederive(v):
    func, args, kwargs, i = v._replay
    out = dispatch(func, args, kwargs)
    return (out[i] if i is not None else out)._cell.tt


def write_back(v):
    """Write view v's values into its parent, on the host (TT-NN has no strided write into a view)."""
    p = v._parent
    count_fallback("write into a view", "TT-NN has no strided write: the parent is updated on the host")
    func, args, kwargs, i = v._replay
    base = p._host()
    cargs = tree_map(lambda x: base if x is p else (x._host() if isinstance(x, TtnnTensor) else x), args)
    view = func(*cargs, **kwargs)
    view = view[i] if i is not None else view
    view.copy_(tt_to_host(v._cell.tt, v.dtype, v.shape))
    p._assign(host_to_tt(base, p.device.index, getattr(p._cell.tt, "layout", None)))


from . import kernels  # noqa: E402,F401  (fills KERNELS)
