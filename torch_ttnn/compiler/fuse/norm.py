"""Norms: the residual add into `layer_norm(residual_input_tensor=)` (`residual_layer_norm`) and HF's
RMSNorm chain into `ttnn.rms_norm` (`rms_norm`)."""
from __future__ import annotations

import torch.fx as fx

from ._graph import FuseContext, _arg, _new, _op, _replace, _shape, _sole_user


# --- residual_layer_norm -----------------------------------------------------------------------------------
def fuse_residual_layer_norm(graph: fx.Graph, ctx: FuseContext) -> int:
    """layer_norm(add(x, r)) => layer_norm(x, residual_input_tensor=r) (same for rms_norm): x and r of one
    shape and dtype, the add used by nothing else."""
    count = 0
    for norm in list(graph.nodes):
        if not _op(norm, "layer_norm", "rms_norm") or norm.kwargs.get("residual_input_tensor") is not None:
            continue
        add = norm.args[0]
        if not _op(add, "add") or add.kwargs or len(add.args) != 2 or _sole_user(add) is not norm:
            continue
        x, r = add.args
        if not (isinstance(x, fx.Node) and isinstance(r, fx.Node)) or _shape(x) is None \
                or _shape(x) != _shape(r) or x.meta.get("dtype") != r.meta.get("dtype"):
            continue
        norm.args = (x, *norm.args[1:])
        norm.kwargs = {**norm.kwargs, "residual_input_tensor": r}
        graph.erase_node(add)
        count += 1
    return count


# --- rms_norm ------------------------------------------------------------------------------------------------
def _through_typecast(n):
    """n's input if n is a plain typecast, else n."""
    return n.args[0] if _op(n, "typecast") and not n.kwargs and len(n.args) == 2 else n


def _rms_scale(r: fx.Node, x: fx.Node) -> tuple[float, fx.Node, object] | None:
    """(epsilon, the square node, the mean's compute config) if r is
    rsqrt(add(mean(square(x), dim=-1, keepdim=True) [-> reshape], epsilon)), each step read only by the next;
    else None."""
    if not (_op(r, "rsqrt") and len(r.args) == 1 and _sole_user(r) is not None):
        return None
    add = r.args[0]
    if not (_op(add, "add") and len(add.args) == 2 and isinstance(add.args[1], float) and _sole_user(add) is r):
        return None
    mean = add.args[0]
    if _op(mean, "reshape") and _sole_user(mean) is add:
        mean = mean.args[0]
    if not (_op(mean, "mean") and len(mean.users) == 1 and mean.kwargs.get("keepdim") is True):
        return None
    sq, xs = mean.args[0], _shape(x)
    dim = mean.kwargs.get("dim", _arg(mean, 1))
    if xs is None or dim not in (-1, len(xs) - 1) or not (_op(sq, "square") and sq.args[0] is x
                                                         and _sole_user(sq) is mean):
        return None
    return add.args[1], sq, mean.kwargs.get("compute_kernel_config")


def _rms_parts(end: fx.Node):
    """(x, weight, epsilon, compute config) if `end` is HF's RMSNorm lowered: multiply(weight, [typecast]
    multiply(x, rsqrt(mean(x^2) + eps))) (either operand order), x possibly a float32 typecast of the input."""
    if not (_op(end, "multiply") and len(end.args) == 2 and not set(end.kwargs) - {"memory_config"}):
        return None
    for norm, w in (end.args, reversed(end.args)):
        if not isinstance(norm, fx.Node) or not isinstance(w, fx.Node) or _sole_user(norm) is not end:
            continue
        m1 = _through_typecast(norm)
        if m1 is not norm and _sole_user(m1) is not norm:
            continue
        if not (_op(m1, "multiply") and len(m1.args) == 2 and not set(m1.kwargs) - {"memory_config"}):
            continue
        for x, r in (m1.args, reversed(m1.args)):
            if not isinstance(r, fx.Node) or not isinstance(x, fx.Node):
                continue
            found = _rms_scale(r, x)
            width = (_shape(x) or (None,))[-1]
            if found is None or _shape(w) not in ((width,), (1, width)):
                continue
            eps, sq, cfg = found
            src = _through_typecast(x)
            if src is not x and set(x.users) != {m1, sq}:
                src = x   # the float32 copy is read elsewhere too: normalise it as it is
            return src, w, eps, cfg
    return None


def fuse_rms_norm(graph: fx.Graph, ctx: FuseContext) -> int:
    """weight * (x * rsqrt(mean(x^2, -1) + eps)) (HF's LlamaRMSNorm and its kin, as lowering leaves it: square,
    mean, add, rsqrt and two multiplies) => ttnn.rms_norm(x, epsilon=eps, weight=w): one op reading x once,
    computing in float32 inside (as HF's float32 upcast does) and rounding once."""
    count = 0
    for end in list(graph.nodes):
        if getattr(end, "_erased", False):
            continue
        parts = _rms_parts(end)
        if parts is None:
            continue
        x, w, eps, cfg = parts
        kw = dict(epsilon=eps, weight=w)
        if cfg is not None:   # the statistics accumulate as the mean they replace did (float32 by default)
            kw["compute_kernel_config"] = cfg
        norm = _new(graph, end, "rms_norm", ctx.ttnn.rms_norm, (x,), kw,
                    shape=_shape(x), dtype=end.meta.get("dtype"), layout=x.meta.get("layout"),
                    ttnn_name="rms_norm")
        if x.meta.get("dtype") != end.meta.get("dtype"):
            norm = _new(graph, end, "rms_norm", ctx.ttnn.typecast, (norm, end.meta.get("dtype")),
                        shape=_shape(x), dtype=end.meta.get("dtype"), layout=x.meta.get("layout"),
                        ttnn_name="typecast")
        _replace(graph, end, norm)
        count += 1
    return count
