"""A lowered (TT-NN) FX graph as plain Python source calling `ttnn.*` (and `torch.ops.aten.*` for CPU ops).

Arguments that are not graph values are spelled as the `ttnn` expressions that rebuild them (enums as
`ttnn.DataType.BFLOAT16`, configs by their constructor), so the source runs unchanged on the real `ttnn`
and on `torch_ttnn.sim`. Tensors that are not graph values (constants) are read from the `CONST` dict the
generated script loads from the data file saved beside it. A value with no spelling is an error naming it:
never a script that silently computes something else.
"""
from __future__ import annotations

import dataclasses
import enum
import inspect
import math
import operator
import types

import torch
import torch.fx as fx

from .. import accuracy


# The PCC that generated scripts (export, bisect repros) compare with: the one PCC (torch_ttnn.accuracy.pcc,
# which needs only torch), spelled as source so the scripts stay standalone.
PCC_SOURCE = inspect.getsource(accuracy.pcc)


class Unspellable(TypeError):
    pass


def _float(v: float) -> str:
    if math.isnan(v):
        return "float('nan')"
    if math.isinf(v):
        return "float('inf')" if v > 0 else "float('-inf')"
    return repr(v)


def literal(a, names: dict, consts: dict) -> str:
    if isinstance(a, fx.Node):
        return names[a]
    if isinstance(a, bool) or a is None or isinstance(a, (int, str)):
        return repr(a)
    if isinstance(a, float):
        return _float(a)
    if isinstance(a, list):
        return "[" + ", ".join(literal(x, names, consts) for x in a) + "]"
    if isinstance(a, tuple):
        inner = ", ".join(literal(x, names, consts) for x in a)
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if isinstance(a, dict):
        return "{" + ", ".join(f"{k!r}: {literal(v, names, consts)}" for k, v in a.items()) + "}"
    if isinstance(a, (torch.dtype, torch.layout, torch.memory_format)):
        return str(a)
    if isinstance(a, torch.device):
        return f"torch.device({str(a)!r})"
    if isinstance(a, torch.Tensor):
        key = f"const{len(consts)}"
        consts[key] = a.detach().clone()
        return f"CONST[{key!r}]"
    cls = type(a).__name__
    if cls in ("Device", "MeshDevice"):
        return "device"
    if isinstance(a, types.ModuleType):     # compiler.mesh.gather's ttnn=: the script's own ttnn
        return "ttnn"
    mapper = _mesh_mapper(a, names, consts)
    if mapper is not None:
        return mapper
    if isinstance(a, enum.Enum) or (hasattr(a, "name") and hasattr(type(a), "__members__")):
        return f"ttnn.{cls}.{a.name}"
    if cls == "MemoryConfig":
        if getattr(a, "created_with_nd_shard_spec", False):  # the ND form: MemoryConfig(buffer_type, nd_shard_spec)
            return (f"ttnn.MemoryConfig({literal(a.buffer_type, names, consts)}, "
                    f"{literal(a.nd_shard_spec, names, consts)})")
        spec = getattr(a, "shard_spec", None)
        tail = "" if spec is None else f", {literal(spec, names, consts)}"
        return (f"ttnn.MemoryConfig({literal(a.memory_layout, names, consts)}, "
                f"{literal(a.buffer_type, names, consts)}{tail})")
    # the core grid types, positionally as their real constructors take them
    if cls == "CoreCoord":
        return f"ttnn.CoreCoord({a.x}, {a.y})"
    if cls == "CoreRange":
        return f"ttnn.CoreRange({literal(a.start, names, consts)}, {literal(a.end, names, consts)})"
    if cls == "CoreRangeSet":
        return f"ttnn.CoreRangeSet([{', '.join(literal(r, names, consts) for r in a.ranges())}])"
    if cls == "UnaryWithParam" and len(a.params) <= 1:   # a fused activation: ttnn.UnaryWithParam(op_type[, param])
        return f"ttnn.UnaryWithParam({', '.join([literal(a.op_type, names, consts)] + [_float(p) for p in a.params])})"
    if cls == "NdShardSpec":
        return (f"ttnn.NdShardSpec(ttnn.Shape({list(a.shard_shape)!r}), {literal(a.grid, names, consts)}, "
                f"{literal(a.orientation, names, consts)}, {literal(a.shard_distribution_strategy, names, consts)})")
    if cls == "ShardSpec":
        return (f"ttnn.ShardSpec({literal(a.grid, names, consts)}, {list(a.shape)!r}, "
                f"{literal(a.orientation, names, consts)})")
    if dataclasses.is_dataclass(a):
        kw = ", ".join(f"{f.name}={literal(getattr(a, f.name), names, consts)}" for f in dataclasses.fields(a))
        return f"ttnn.{cls}({kw})"
    raise Unspellable(f"cannot write a {type(a).__module__}.{cls} argument ({a!r}) as Python source; "
                      f"extend torch_ttnn.compiler.codegen.literal with its constructor")


def _mesh_mapper(a, names, consts) -> str | None:
    """A mesh mapper (compiler.mesh) as the ttnn call that makes it for the script's `device`."""
    cls = type(a).__name__
    if cls == "ReplicateTensorToMeshWrapper":
        return "ttnn.ReplicateTensorToMesh(device)"
    if cls != "CppTensorToMesh":
        return None
    places = a.config().placements
    if len(places) == 1 and type(places[0]).__name__ == "PlacementShard":
        return f"ttnn.ShardTensorToMesh(device, dim={places[0].dim})"
    spelled = ", ".join("ttnn.PlacementReplicate()" if type(p).__name__ == "PlacementReplicate"
                        else f"ttnn.PlacementShard({p.dim})" for p in places)
    return f"ttnn.create_mesh_mapper(device, ttnn.MeshMapperConfig([{spelled}]))"


def function_name(target) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return f"torch.ops.{target.namespace}.{target._opname}.{target._overloadname}"
    qual = getattr(target, "python_fully_qualified_name", None)
    if qual:
        return qual if qual.startswith("ttnn.") else "ttnn." + qual.split(".", 1)[-1]
    if getattr(target, "__module__", "").startswith("torch_ttnn.sim"):
        return f"ttnn.{target.__name__}"
    if getattr(target, "__module__", "") == "torch_ttnn.compiler.mesh":   # gather: a mesh tensor read back
        return f"torch_ttnn.compiler.mesh.{target.__name__}"
    raise Unspellable(f"graph calls {target!r}, which is neither a ttnn operation nor an ATen op")


def statements(nodes, names: dict, consts: dict, skip=lambda n: False) -> list[str]:
    """One line per call_function node of `nodes`, in order. `names` maps each node already defined (earlier
    statements, parameters, preloaded values) to its expression and gains the nodes defined here; `skip(n)`
    leaves a node out (a deallocation the caller's program never runs)."""
    body = []
    for n in nodes:
        if n.op != "call_function" or skip(n):
            continue
        names[n] = n.name
        if n.target is operator.getitem:
            body.append(f"    {names[n]} = {literal(n.args[0], names, consts)}[{n.args[1]!r}]")
            continue
        args = [literal(a, names, consts) for a in n.args]
        args += [f"{k}={literal(v, names, consts)}" for k, v in n.kwargs.items()]
        call = f"{function_name(n.target)}({', '.join(args)})"
        body.append(f"    {call}" if n.users == {} and "deallocate" in call else f"    {names[n]} = {call}")
    return body


def to_source(graph: fx.Graph, fn_name: str, consts: dict) -> tuple[str, list[str]]:
    """(source of `def fn_name(device, *placeholders)`, placeholder names in order)."""
    names, params = {}, []
    for n in graph.nodes:
        if n.op == "placeholder":
            names[n] = n.name
            params.append(n.name)
    body = statements(graph.nodes, names, consts)
    out = next(n for n in graph.nodes if n.op == "output")
    body.append(f"    return {literal(out.args[0], names, consts)}")
    head = f"def {fn_name}(device, {', '.join(params)}):" if params else f"def {fn_name}(device):"
    return head + "\n" + "\n".join(body) + "\n", params
