"""Fusions into `ttnn.linear`: a bias row (`matmul_bias`) and an activation (`linear_activation`)."""
from __future__ import annotations

import torch.fx as fx

from ._graph import FuseContext, _new, _op, _plain_product, _replace, _reshapes_after, _shape, _sole_user, _target


# --- matmul_bias -------------------------------------------------------------------------------------------
def _bias_row(add, x: fx.Node, n: int) -> fx.Node | None:
    """The other operand of `add(x, b)` if it is a bias row for an output of width n."""
    if not _op(add, "add") or add.kwargs or len(add.args) != 2 or x not in add.args:
        return None
    b = add.args[1] if add.args[0] is x else add.args[0]
    if not isinstance(b, fx.Node) or b is x or _shape(b) not in ((n,), (1, n)):
        return None
    return b if b.meta.get("dtype") in (None, x.meta.get("dtype")) else None


def fuse_matmul_bias(graph: fx.Graph, ctx: FuseContext) -> int:
    """matmul(a, w) [-> reshapes keeping the last dim] -> add(., bias row) => linear(a, w, bias=b)."""
    count = 0
    for mm in list(graph.nodes):
        if not _op(mm, "matmul") or not _plain_product(mm) or len(ws := _shape(mm.args[1]) or ()) != 2:
            continue
        chain = _reshapes_after(mm)
        if any((_target(r) or (None,))[-1] != ws[1] for r in chain):
            continue
        end = chain[-1] if chain else mm
        add = _sole_user(end)
        bias = _bias_row(add, end, ws[1])
        if bias is None:
            continue
        lin = _new(graph, mm, "matmul_bias", ctx.ttnn.linear, mm.args, {**mm.kwargs, "bias": bias},
                   **{k: mm.meta.get(k) for k in ("shape", "dtype", "layout")}, ttnn_name="linear")
        add.replace_all_uses_with(end)
        graph.erase_node(add)
        _replace(graph, mm, lin)
        count += 1
    return count


# --- linear_activation -------------------------------------------------------------------------------------
_PLAIN_ACTIVATIONS = ("relu", "relu6", "silu", "sigmoid", "hardsigmoid", "mish")


def _activation(u: fx.Node, x: fx.Node) -> str | None:
    """The activation string TT-NN's matmul takes for `u` applied to x, if u is one it can fuse."""
    if not isinstance(u, fx.Node) or u.args != (x,):
        return None
    kw = dict(u.kwargs)
    if _op(u, "gelu"):  # "gelu_approx" is the FastLut kernel, as gelu(fast_and_approximate_mode=True) is; the
        approx = kw.pop("fast_and_approximate_mode", False)  # tanh variant has no activation string: not fused
        return None if kw else ("gelu_approx" if approx else "gelu")
    if _op(u, "tanh"):
        return None if kw.pop("fast_and_approximate_mode", False) or kw else "tanh"
    return u.meta["ttnn_name"] if _op(u, *_PLAIN_ACTIVATIONS) and not kw else None


def fuse_linear_activation(graph: fx.Graph, ctx: FuseContext) -> int:
    """linear/matmul [-> reshapes] -> activation => linear(..., activation=name, core_grid=grid). Only for
    products with an explicit compute config: a core grid makes TT-NN's default fidelity LoFi."""
    count = 0
    for mm in list(graph.nodes):
        if not _plain_product(mm) or mm.kwargs.get("compute_kernel_config") is None:
            continue
        chain = _reshapes_after(mm)
        end = chain[-1] if chain else mm
        act_node = _sole_user(end)
        act = _activation(act_node, end)
        if act is None:
            continue
        mm.kwargs = {**mm.kwargs, "activation": act, "core_grid": ctx.core_grid}
        _replace(graph, act_node, end)  # an element-wise function commutes with the reshapes
        count += 1
    return count
