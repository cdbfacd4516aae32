"""The compiler's `ttnn` namespace: calling an op records an FX node instead of running it.

Lowering rules are plain TT-NN code (`ttnn.add(a, b)`). In the compiler they are called with `Recorder` as
`ttnn` and `TT` handles as tensors, so each op call becomes a `call_function` node whose target is the active
runtime's own function (e.g. `torch_ttnn.sim.add`): the lowered graph reads as TT-NN code. Handles carry the
layout, dtype and (where it can be known) shape of the value, which lets the recorder drop conversions that
would not change anything (`to_layout` to the layout a tensor already has, `typecast` to its own dtype). What an
op's output shape and layout follow is a fact of the op (lowering/facts.py).
"""
from __future__ import annotations

import operator
import types

import torch
import torch.fx as fx
from torch.fx.experimental.symbolic_shapes import statically_known_true

from ..lowering.facts import Shape, ttnn_op


def same_shape(a, b) -> bool:
    """Shapes known equal without adding a shape guard (under dynamic shapes, sizes may be SymInts)."""
    return len(a) == len(b) and all(statically_known_true(x == y) for x, y in zip(a, b))


class TT:
    """A TT-NN tensor value in a graph being recorded: an FX node plus what is known about it."""
    __slots__ = ("node", "shape", "dtype", "layout")

    def __init__(self, node: fx.Node, shape=None, dtype=None, layout=None):
        self.node, self.shape, self.dtype, self.layout = node, shape, dtype, layout

    def get_layout(self):
        return self.layout

    def get_dtype(self):
        return self.dtype

    def __getitem__(self, i):
        """Element `i` of a multi-output op's result (split, topk...)."""
        node = self.node.graph.call_function(operator.getitem, (self.node, i))
        node.meta["device"] = True
        self.node.meta["multi"] = True
        return TT(node, None, self.dtype, self.layout)

    def __repr__(self):
        return f"TT({self.node.name}, shape={self.shape}, {self.dtype}, {self.layout})"

    def __bool__(self):
        raise TypeError("A recorded TT-NN tensor has no truth value at compile time: decide with guards, "
                        "which see the ATen-level (fake) tensors")


def _nodes(x):
    return fx.node.map_aggregate(x, lambda a: a.node if isinstance(a, TT) else a)


def _first_tt(args):
    for a in args:
        if isinstance(a, TT):
            return a
        if isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, TT):
                    return b
    return None


class Recorder:
    """A stand-in for a `ttnn` module: operations record nodes, everything else (enums, configs) is real."""

    def __init__(self, module: types.ModuleType, graph: fx.Graph, device, float_dtype=None, **policy):
        self._mod, self._graph, self._device, self._float_dtype = module, graph, device, float_dtype
        self._policy = policy
        # What lowering rules ask for when they need the device or the float/matmul policy (lowering.policy).
        self.TORCH_TTNN_DEVICE = device
        if float_dtype is not None:
            self.TORCH_TTNN_FLOAT_DTYPE = float_dtype
        if "compute_configs" in policy:
            self.TORCH_TTNN_COMPUTE_CONFIGS = policy["compute_configs"]
        if "less_op_types" in policy:
            self.TORCH_TTNN_LESS_OP_TYPES = policy["less_op_types"]

    def __getattr__(self, name):
        obj = getattr(self._mod, name)
        if isinstance(obj, types.ModuleType):  # ttnn.transformer, ttnn.experimental
            sub = Recorder(obj, self._graph, self._device, self._float_dtype, **self._policy)
            setattr(self, name, sub)
            return sub
        if not callable(obj) or isinstance(obj, type):
            return obj
        if hasattr(obj, "python_fully_qualified_name"):  # an operation: always recorded
            return lambda *a, **k: self._record(obj, name, a, k)
        # A plain function (prepare_conv_weights, ...): recorded when it is given a tensor, else run now.
        return lambda *a, **k: self._record(obj, name, a, k) if _first_tt(a) is not None or _first_tt(tuple(k.values())) is not None \
            else obj(*a, **k)

    def _record(self, fn, name, args, kwargs):
        x = _first_tt(args)
        # Drop conversions that would not change anything: the emulator would return the same tensor anyway.
        if name == "to_layout" and isinstance(x, TT):
            layout = args[1] if len(args) > 1 else kwargs.get("layout")
            dtype = args[2] if len(args) > 2 else kwargs.get("dtype")
            if x.layout == layout and dtype in (None, x.dtype) and kwargs.get("memory_config") is None:
                return x
        if name == "typecast" and isinstance(x, TT) and len(args) == 2 and args[1] == x.dtype and not kwargs:
            return x
        if name == "reshape" and isinstance(x, TT) and x.shape is not None and not kwargs and len(args) == 2 \
                and same_shape(args[1], x.shape):
            return x
        node = self._graph.call_function(fn, _nodes(tuple(args)), _nodes(dict(kwargs)))
        shape = dtype = layout = None
        if x is not None:
            op = ttnn_op(name)
            dtype = x.dtype
            layout = x.layout if not op.own_layout else None
            if op.shape is Shape.SAME:
                shape = x.shape
            elif op.shape is Shape.BROADCAST:
                shapes = [a.shape for a in args if isinstance(a, TT)]
                if all(s is not None for s in shapes):
                    try:
                        shape = tuple(torch.broadcast_shapes(*shapes))
                    except RuntimeError:
                        shape = None
        if name == "to_layout":
            layout = args[1] if len(args) > 1 else kwargs.get("layout")
            dtype = (args[2] if len(args) > 2 else kwargs.get("dtype")) or dtype
        elif name == "typecast":
            dtype = args[-1] if len(args) > 1 else kwargs.get("dtype")
        elif name == "reshape":
            s = tuple(args[1]) if len(args) > 1 else tuple(kwargs["shape"])
            shape = s if -1 not in s else None
        elif name == "permute" and x is not None and x.shape is not None and len(args) > 1:
            shape = tuple(x.shape[d] for d in args[1])
        elif name == "from_torch":
            dtype, layout = kwargs.get("dtype"), kwargs.get("layout")
        if "dtype" in kwargs and kwargs["dtype"] is not None and name not in ("to_layout", "typecast"):
            dtype = kwargs["dtype"]
        if "layout" in kwargs and kwargs["layout"] is not None and name != "to_layout":
            layout = kwargs["layout"]
        node.meta["ttnn_name"] = name
        node.meta["device"] = name not in ("to_torch", "deallocate")
        node.meta.update(shape=shape, dtype=dtype, layout=layout)  # what graph passes know (compiler/fuse/)
        return TT(node, shape, dtype, layout)
