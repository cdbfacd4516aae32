"""Project side of the harness: runs the real ttnn in its own venv, and gives the emulator's answers to compare.

The real library runs in a subprocess (conformance/real_side.py) under the interpreter named by
TTNN_REAL_PYTHON, else the repository's .venv-ttnn; arrays come back as .npz, the API surface as JSON.
"""
from __future__ import annotations

import ast
import enum
import functools
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

from . import corpus

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_DESC = ROOT / "tests" / "real_ttnn" / "wormhole_n150.yaml"
NAMESPACES = ("", "transformer", "experimental", "device")
SKIP_REASON = ("skipped: no Python 3.12/3.10 for the real ttnn (run `make conformance`, or set TTNN_REAL_PYTHON "
               "to a Python with ttnn installed)")


def real_python() -> str | None:
    env = os.environ.get("TTNN_REAL_PYTHON")
    if env:
        return env
    local = ROOT / ".venv-ttnn" / "bin" / "python"
    return str(local) if local.exists() else None


def _run_real(*args):
    env = dict(os.environ, TT_METAL_MOCK_CLUSTER_DESC_PATH=str(CLUSTER_DESC), TT_LOGGER_LEVEL="error",
               LOGURU_LEVEL="WARNING")
    proc = subprocess.run([real_python(), str(ROOT / "conformance" / "real_side.py"), *args], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"the real ttnn side failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


@functools.lru_cache(maxsize=None)
def corpus_arrays() -> dict:
    return corpus.generate()


@functools.lru_cache(maxsize=None)
def real() -> dict:
    """Everything the real library answered, run once per process."""
    work = Path(tempfile.mkdtemp(prefix="ttnn-conformance-"))
    _run_real("surface", str(work))
    surface = json.loads((work / "surface.json").read_text())
    np.savez(work / "corpus.npz", **corpus_arrays())
    probes = host_probes(surface["names"])
    (work / "probes.json").write_text(json.dumps(probes))
    _run_real("data", str(work / "corpus.npz"), str(work / "probes.json"), str(work))
    data = json.loads((work / "data.json").read_text())
    fmt = dict(np.load(work / "formats.npz"))
    casts = dict(np.load(work / "typecasts.npz"))
    return {"meta": surface["meta"], "surface": surface["names"], "shapes": data["shapes"],
            "errors": data["errors"], "formats": fmt, "typecasts": casts, "probes": probes, "nd": data["nd"]}


# --- emulator surface -------------------------------------------------------------------------------------
def _sim():
    import torch_ttnn.sim as sim
    return sim


def emulator_kind(obj) -> str:
    from torch_ttnn.sim.operation import Operation
    if isinstance(obj, Operation):
        return "operation"
    if isinstance(obj, types.ModuleType):
        return "module"
    if isinstance(obj, type):
        return "enum" if issubclass(obj, enum.Enum) else "class"
    if callable(obj):
        return "function"
    return "value"


def _default(v):
    return {"repr": repr(v), "type": type(v).__name__}


def emulator_params(obj) -> list | None:
    target = obj
    if isinstance(obj, type):  # the constructor: __init__, or __new__ for immutable types such as Shape(tuple)
        target = obj.__init__ if obj.__init__ not in (object.__init__, tuple.__init__) else obj.__new__
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    params = []
    for p in sig.parameters.values():
        if p.name in ("self", "cls"):
            continue
        e = {"name": p.name, "kind": p.kind.name}
        if p.default is not inspect.Parameter.empty:
            e["default"] = _default(p.default)
        params.append(e)
    return params


@functools.lru_cache(maxsize=None)
def emulator_surface() -> dict:
    """Every public name the emulator exports, in the namespaces the real package has."""
    sim = _sim()
    out = {}
    for ns in NAMESPACES:
        mod = getattr(sim, ns, None) if ns else sim
        if mod is None:
            continue
        for n in getattr(mod, "__all__", None) or dir(mod):
            if n.startswith("_"):
                continue
            obj = getattr(mod, n)
            if isinstance(obj, types.ModuleType) and ns:
                continue
            kind = emulator_kind(obj)
            e = {"kind": kind}
            if kind in ("operation", "function", "class"):
                e["params"] = emulator_params(obj)
            if kind == "enum":
                e["members"] = {m: int(v.value) for m, v in obj.__members__.items()}
            if kind == "value":
                e["repr"] = repr(obj)[:200]
                e["type"] = type(obj).__name__
            out[f"{ns}.{n}" if ns else n] = e
    return out


# --- signature comparison ---------------------------------------------------------------------------------
def _norm_default(d):
    """Defaults compare by value: 0 == 0.0, [] == (), enum members by name; anything else by repr."""
    if d is None:
        return ("<required>",)
    r, t = d["repr"], d["type"]
    if t in ("int", "float"):
        return ("num", float(r))
    if t in ("list", "tuple"):
        try:
            return ("seq", tuple(ast.literal_eval(r)))
        except (ValueError, SyntaxError):
            pass
    if t in ("list", "tuple") and r in ("[]", "()"):
        return ("empty-seq",)
    if t == "MemoryConfig":  # the real repr also lists nd-shard fields the emulator does not model
        return ("repr", ",".join(re.findall(r"(?:memory_layout|buffer_type)=[\w:]+", r)))
    return ("repr", re.sub(r" at 0x[0-9a-f]+", "", r))


def param_diff(emu: list, real: list) -> list[str]:
    """Differences between the emulator's parameter list and one real overload (empty when equal)."""
    out = []
    # Real positional-only parameters carry generated names (arg0, ...): only their position counts.
    en = [p["name"] if r.get("kind") != "POSITIONAL_ONLY" else "#" for p, r in zip(emu, real)] + \
        [p["name"] for p in emu[len(real):]]
    rn = [p["name"] if p["kind"] != "POSITIONAL_ONLY" else "#" for p in real]
    if en != rn:
        out.append(f"names/order {en} != real {rn}")
        return out
    for e, r in zip(emu, real):
        if e["kind"] != r["kind"] and not (r["kind"] == "POSITIONAL_ONLY" and e["kind"] != "KEYWORD_ONLY"):
            out.append(f"{e['name']}: {e['kind']} != real {r['kind']}")
        ed, rd = _norm_default(e.get("default")), _norm_default(r.get("default"))
        if ed != rd:
            out.append(f"{e['name']}: default {e.get('default', {}).get('repr', '<required>')} != real "
                       f"{r.get('default', {}).get('repr', '<required>')}")
    return out


def compare_name(name: str, emu: dict, real: dict) -> list[str]:
    """Problems for one shared name: kind, the claimed overload, enum members, value reprs."""
    if emu["kind"] != real["kind"]:
        return [f"kind {emu['kind']} != real {real['kind']}"]
    if emu["kind"] == "enum":
        return [] if emu["members"] == real["members"] else \
            [f"members {emu['members']} != real {real['members']}"]
    if emu["kind"] == "value":
        if emu["type"] != real["type"]:
            return [f"value of type {emu['type']} != real {real['type']}"]
        return [] if emu["type"] not in ("DataType", "Layout") or emu["repr"] == real["repr"] else \
            [f"value {emu['repr']} != real {real['repr']}"]
    if emu["kind"] not in ("operation", "function", "class"):
        return []
    overloads = real.get("signatures") or []
    if emu.get("params") is None or not overloads:
        return [] if emu.get("params") is None and not overloads else ["signature not readable on one side"]
    diffs = [param_diff(emu["params"], o) for o in overloads]
    if any(not d for d in diffs):
        return []
    best = min(range(len(diffs)), key=lambda i: (len(diffs[i]), i))
    return [f"matches none of {len(overloads)} real overload(s); closest #{best}: " + "; ".join(diffs[best])]


def method_problems(name: str, real_entry: dict) -> list[str]:
    """A mesh class's methods against the real class's (conformance/real_side.py METHOD_CLASSES): each real
    method the emulator has must match one real overload; a missing one is listed as missing."""
    cls = getattr(_sim(), name)
    out = []
    for m, r in sorted(real_entry.get("methods", {}).items()):
        attr = inspect.getattr_static(cls, m, None)
        if attr is None:
            out.append(f"{m}: missing")
            continue
        if r["kind"] == "property":
            if not isinstance(attr, property) and m not in getattr(cls, "__slots__", ()):
                out.append(f"{m}: a property in the real class")
            continue
        params = emulator_params(attr)
        diffs = [param_diff(params or [], o) for o in r["signatures"]]
        if params is None or all(diffs):
            best = min(diffs, key=len) if diffs else ["no signature"]
            out.append(f"{m}: " + "; ".join(best))
    return out


def shared_names() -> list[str]:
    return sorted(set(emulator_surface()) & set(real()["surface"]))


def host_probes(real_surface: dict) -> list:
    """Shared operations whose real overload takes only tensors: called with host tensors on both sides."""
    emu = emulator_surface()
    probes = []
    for name, e in sorted(real_surface.items()):
        if e["kind"] != "operation" or emu.get(name, {}).get("kind") != "operation":
            continue
        if name in HOST_OK:
            continue
        for o in e.get("signatures") or []:
            req = [p for p in o if "default" not in p and p["kind"] == "POSITIONAL_OR_KEYWORD"]
            others = [p for p in o if "default" not in p and p["kind"] != "POSITIONAL_OR_KEYWORD"]
            if req and not others and all(p.get("ann") == "ttnn._ttnn.tensor.Tensor" for p in req):
                probes.append([name, len(req)])
                break
    return probes


# Operations that legitimately work on host tensors (conversions), so host input is no error for them.
HOST_OK = {"to_device", "from_device", "to_layout", "to_torch", "from_torch", "reshape", "deallocate", "to_dtype",
           "clone", "typecast", "to_memory_config"}


# --- emulator numerics ------------------------------------------------------------------------------------
def emulate_create(a: np.ndarray, dtype: str, layout: str, via: str):
    """The emulator's host conversion of `a`, by the real API (ttnn.Tensor) or by from_torch."""
    sim = _sim()
    dt, lay = getattr(sim, dtype), getattr(sim, f"{layout}_LAYOUT")
    if via == "Tensor":
        t = sim.Tensor(a, data_type=dt, layout=lay)
    else:
        src = torch.from_numpy(a.astype(np.int64)) if a.dtype == np.uint32 else torch.from_numpy(a.copy())
        t = sim.from_torch(src, dtype=dt, layout=lay)
    return t


def emulator_values(t) -> np.ndarray:
    v = t.value
    if v.dtype == torch.bfloat16:
        v = v.to(torch.float32)
    return v.numpy()


def bit_mismatch(got: np.ndarray, want: np.ndarray) -> str | None:
    """None when equal bit for bit (floats compared by their bits), else a short description."""
    if got.shape != want.shape:
        return f"shape {got.shape} != real {want.shape}"
    if want.dtype.kind == "f":
        g = np.ascontiguousarray(got, dtype=np.float32).view(np.uint32)
        w = np.ascontiguousarray(want, dtype=np.float32).view(np.uint32)
    else:
        g, w = got.astype(np.int64), want.astype(np.int64)
    bad = np.flatnonzero(g.reshape(-1) != w.reshape(-1))
    if not bad.size:
        return None
    gi, wi = got.reshape(-1), want.reshape(-1)
    ex = ", ".join(f"[{i}] {gi[i]!r} != real {wi[i]!r}" for i in bad[:4])
    return f"{bad.size} of {want.size} elements differ: {ex}"
