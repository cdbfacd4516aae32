"""The half of the harness that runs inside the real ttnn's venv (Python 3.12/3.10, numpy only, no torch).

Usage: `python real_side.py surface OUT_DIR` writes surface.json (every public name with its kind, signatures,
enum members); `python real_side.py data CORPUS.npz PROBES.json OUT_DIR` reads the corpus written by
conformance.corpus and writes formats.npz (each round trip, as float32 or the integer type), typecasts.npz and
data.json (logical/padded shapes, the version, and what the host side rejects with which message).
It must import nothing from the project: the project needs torch, which this venv does not have.
"""
import importlib.metadata
import inspect
import json
import sys

import os

import numpy as np
import ttnn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus import (FORMATS, LAYOUTS, METHOD_CLASSES, ND_CONFIGS, ND_EQ_PAIRS, ND_SPEC_CASES,  # noqa: E402
                    ND_TENSOR_SPEC_CASES, tensor_spec_case,
                    TYPECAST_TARGETS, integer_source)  # (numpy only, shared)

NAMESPACES = ("", "transformer", "experimental", "device")


def to_numpy(t):
    """Values of a host tensor; bfloat16 is widened to float32 (exact) since numpy cannot hold it."""
    if t.dtype == ttnn.bfloat16:
        t = ttnn.to_dtype(t, ttnn.float32)
    return t.to_numpy()


def run_formats(corpus):
    out, shapes = {}, {}
    for key in corpus.files:
        if not key.startswith("fmt/"):
            continue
        a = corpus[key]
        for dt in FORMATS:
            for lay in LAYOUTS:
                name = f"{key}|{dt}|{lay}"
                if dt in ("bfloat8_b", "bfloat4_b") and lay == "ROW_MAJOR":
                    continue  # rejected on the host: checked in errors.json
                src = integer_source(a) if dt in ("int32", "uint32") else a
                src = src.view(np.uint32) if dt == "uint32" else src
                t = ttnn.Tensor(src, data_type=getattr(ttnn, dt), layout=getattr(ttnn, lay + "_LAYOUT"))
                out[name] = to_numpy(t)
                shapes[name] = [list(t.shape), list(t.padded_shape)]
    return out, shapes


def run_typecasts(corpus):
    out = {}
    for key in corpus.files:
        if not key.startswith("cast/"):
            continue
        a = corpus[key]
        for dt in TYPECAST_TARGETS:
            for lay in LAYOUTS:
                t = ttnn.Tensor(a, data_type=getattr(ttnn, dt), layout=getattr(ttnn, lay + "_LAYOUT"))
                out[f"{key}|{dt}|{lay}"] = to_numpy(t)
    return out


# --- API surface ------------------------------------------------------------------------------------------
def kind_of(obj):
    cls = type(obj).__name__
    if cls in ("FastOperation", "Operation"):
        return "operation"
    if cls in ("nb_func", "function", "builtin_function_or_method", "nb_method"):
        return "function"
    if cls == "module":
        return "module"
    if isinstance(obj, type):
        import enum
        return "enum" if issubclass(obj, enum.Enum) else "class"
    return "value"


def split_top(s, sep=","):
    """Split at `sep` outside brackets (annotations hold commas inside [] and ())."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def default_repr(v):
    return {"repr": repr(v), "type": type(v).__name__}


def parse_nb(line, defaults):
    """One nanobind overload ('def f(self, a: T, *, b: T = \\0) -> R' + defaults) as a parameter list."""
    head = line[line.index("(") + 1:]
    depth, end = 1, 0
    for i, ch in enumerate(head):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            end = i
            break
    params, kw_only = [], False
    for p in split_top(head[:end]):
        p = p.replace("\\*", "*")
        if p == "/":  # nanobind's positional-only marker: the names before it are not part of the API
            for q in params:
                q["kind"] = "POSITIONAL_ONLY"
            continue
        if p == "*":
            kw_only = True
            continue
        if p.startswith("**"):
            params.append({"name": p[2:].split(":")[0].strip(), "kind": "VAR_KEYWORD"})
            continue
        if p.startswith("*"):
            params.append({"name": p[1:].split(":")[0].strip(), "kind": "VAR_POSITIONAL"})
            kw_only = True
            continue
        name_ann, _, dflt = p.partition("=")
        name = name_ann.split(":")[0].strip()
        if name == "self":
            continue
        entry = {"name": name, "kind": "KEYWORD_ONLY" if kw_only else "POSITIONAL_OR_KEYWORD",
                 "ann": name_ann.partition(":")[2].strip()}
        dflt = dflt.strip()
        if dflt.startswith("\\") and dflt[1:].isdigit() and defaults is not None:
            entry["default"] = default_repr(defaults[int(dflt[1:])])
        elif dflt:
            entry["default"] = {"repr": dflt, "type": "source"}
        params.append(entry)
    return params


def parse_inspect(sig):
    params = []
    for p in sig.parameters.values():
        if p.name == "self":
            continue
        entry = {"name": p.name, "kind": p.kind.name}
        if p.default is not inspect.Parameter.empty:
            entry["default"] = default_repr(p.default)
        params.append(entry)
    return params


def signatures(obj):
    """Every overload of a callable: operations, nanobind functions, Python functions, class constructors."""
    target = obj
    if type(obj).__name__ in ("FastOperation", "Operation"):
        target = obj.function
        nb = getattr(type(target).__call__, "__nb_signature__", None)
        if nb:
            return [parse_nb(s[0], s[2]) for s in nb]
    if isinstance(obj, type):
        nb = getattr(obj.__init__, "__nb_signature__", None)
        if nb:
            return [parse_nb(s[0], s[2]) for s in nb]
        target = obj.__init__
    nb = getattr(target, "__nb_signature__", None)
    if nb:
        return [parse_nb(s[0], s[2]) for s in nb]
    try:
        return [parse_inspect(inspect.signature(target))]
    except (TypeError, ValueError):
        return None


def methods(cls):
    """Public methods (their overloads) and properties of a nanobind class."""
    out = {}
    for m in dir(cls):
        if m.startswith("_"):
            continue
        a = getattr(cls, m)
        if isinstance(a, property) or type(a).__name__ in ("nb_property", "property"):
            out[m] = {"kind": "property"}
            continue
        nb = getattr(a, "__nb_signature__", None)
        if nb:
            out[m] = {"kind": "method", "signatures": [parse_nb(sig[0], sig[2]) for sig in nb]}
    return out


def surface():
    names = {}
    for ns in NAMESPACES:
        mod = getattr(ttnn, ns) if ns else ttnn
        for n in dir(mod):
            if n.startswith("_"):
                continue
            obj = getattr(mod, n)
            kind = kind_of(obj)
            entry = {"kind": kind}
            if kind == "operation":
                entry["qualname"] = obj.python_fully_qualified_name
            if kind in ("operation", "function", "class"):
                entry["signatures"] = signatures(obj)
            if kind == "class" and n in METHOD_CLASSES:
                entry["methods"] = methods(obj)
            if kind == "enum":
                entry["members"] = {m: int(v.value) for m, v in obj.__members__.items()}
            if kind == "value":
                entry["repr"] = repr(obj)[:200]
                entry["type"] = type(obj).__name__
            names[f"{ns}.{n}" if ns else n] = entry
    return names


# --- host-side errors -------------------------------------------------------------------------------------
def errors(probe_ops):
    """What the real host side rejects. probe_ops: operations to call with host tensors only."""
    res = {}

    def attempt(key, fn):
        """Run fn in a forked child: some host-side misuses crash the process (SIGSEGV/abort), not raise."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                fn()
                out = {"outcome": "ok"}
            except Exception as e:  # noqa: BLE001 - recording the message is the point
                out = {"outcome": "raised", "type": type(e).__name__,
                       "message": str(e).split("backtrace:")[0].strip()[-600:]}
            os.write(w, json.dumps(out).encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            data = f.read()
        _, status = os.waitpid(pid, 0)
        res[key] = json.loads(data) if data else {"outcome": "crashed", "signal": os.WTERMSIG(status)
                                                  if os.WIFSIGNALED(status) else None}

    a = np.linspace(-1, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    for dt in ("bfloat8_b", "bfloat4_b"):
        attempt(f"create|{dt}|ROW_MAJOR",
                lambda dt=dt: ttnn.Tensor(a, data_type=getattr(ttnn, dt), layout=ttnn.ROW_MAJOR_LAYOUT))
    host = ttnn.Tensor(a, data_type=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    attempt("reshape|volume", lambda: ttnn.reshape(host, [5, 5]))
    for name, arity in probe_ops:
        obj = ttnn
        for p in name.split("."):
            obj = getattr(obj, p)
        attempt(f"host_input|{name}", lambda obj=obj, arity=arity: obj(*([host] * arity)))
    return res


# --- ND sharding ------------------------------------------------------------------------------------------
def _grid(rects):
    return ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(a, b), ttnn.CoreCoord(c, d)) for a, b, c, d in rects])


def _nd_spec(shard, orientation, strategy, rects):
    return ttnn.NdShardSpec(ttnn.Shape(shard), _grid(rects), getattr(ttnn.ShardOrientation, orientation),
                            getattr(ttnn.ShardDistributionStrategy, strategy))


def _nd_config(name):
    kind, *rest = ND_CONFIGS[name]
    if kind == "nd":
        buffer, shard, orientation, strategy = rest
        return ttnn.MemoryConfig(getattr(ttnn.BufferType, buffer), _nd_spec(shard, orientation, strategy,
                                                                          [[0, 0, 3, 1]]))
    if kind == "legacy":
        layout, buffer, shard = rest
        spec = None if shard is None else ttnn.ShardSpec(_grid([[0, 0, 3, 1]]), shard, ttnn.ShardOrientation.ROW_MAJOR)
        return ttnn.MemoryConfig(getattr(ttnn.TensorMemoryLayout, layout), getattr(ttnn.BufferType, buffer), spec)
    shape, of = rest
    base = _nd_config(of)
    if base.nd_shard_spec is not None and "created_with_nd_shard_spec=1" in repr(base):
        return ttnn.TensorSpec(ttnn.Shape(shape), ttnn.bfloat16, ttnn.TILE_LAYOUT, base.nd_shard_spec,
                               base.buffer_type).memory_config
    return ttnn.TensorSpec(ttnn.Shape(shape), ttnn.bfloat16, ttnn.TILE_LAYOUT, base.memory_layout, base.shard_spec,
                           base.buffer_type).memory_config


def nd_sharding():
    """What the real TensorSpec makes of ND shard specs (the layout and 2-D shard it fills in, or its error), the
    reprs of NdShardSpec and MemoryConfig, and MemoryConfig equality between named configs."""
    specs = []
    for shape, shard, layout, strategy, orientation, rects in ND_SPEC_CASES:
        try:
            nd = _nd_spec(shard, orientation, strategy, rects)
            mc = ttnn.TensorSpec(ttnn.Shape(shape), ttnn.bfloat16, getattr(ttnn, f"{layout}_LAYOUT"), nd,
                                 ttnn.BufferType.L1).memory_config
            specs.append({"outcome": "ok", "layout": mc.memory_layout.name,
                          "shard": None if mc.shard_spec is None else list(mc.shard_spec.shape),
                          "repr": repr(mc), "nd_repr": repr(nd)})
        except Exception as e:  # noqa: BLE001
            specs.append({"outcome": "raised", "message": str(e).split("backtrace:")[0].strip()[-300:]})
    configs = {n: _nd_config(n) for n in ND_CONFIGS}
    eq = {f"{a}|{b}": bool(configs[a] == configs[b]) for a, b in ND_EQ_PAIRS}
    reprs = {n: repr(c) for n, c in configs.items()}
    helpers = []
    for case in ND_TENSOR_SPEC_CASES:
        try:
            helpers.append({"outcome": "ok", "repr": repr(tensor_spec_case(ttnn, *case).memory_config)})
        except Exception as e:  # noqa: BLE001
            helpers.append({"outcome": "raised", "message": str(e).split("backtrace:")[0].strip()[-300:]})
    return {"specs": specs, "eq": eq, "reprs": reprs, "tensor_specs": helpers}


def main():
    mode = sys.argv[1]
    if mode == "surface":
        meta = {"version": importlib.metadata.version("ttnn"), "python": sys.version.split()[0]}
        with open(f"{sys.argv[2]}/surface.json", "w") as f:
            json.dump({"meta": meta, "names": surface()}, f)
        return
    corpus_path, probe_path, out_dir = sys.argv[2:5]
    corpus = np.load(corpus_path)
    fmt, shapes = run_formats(corpus)
    np.savez(f"{out_dir}/formats.npz", **fmt)
    np.savez(f"{out_dir}/typecasts.npz", **run_typecasts(corpus))
    with open(probe_path) as f:
        probe_ops = json.load(f)
    with open(f"{out_dir}/data.json", "w") as f:
        json.dump({"shapes": shapes, "errors": errors(probe_ops), "nd": nd_sharding()}, f)


if __name__ == "__main__":
    main()
