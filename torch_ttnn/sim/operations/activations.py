"""`ttnn.operations.activations`: the torch golden function of a fused activation (a string such as "relu6" or
"gelu_approx", a ttnn.UnaryWithParam, or a ttnn.UnaryOpType), which op tests use to build their references."""
from __future__ import annotations

import torch

_F = torch.nn.functional
# The op types the real map covers (ttnn 0.81.1), each to its torch function.
_BY_TYPE = {
    "RELU": _F.relu, "RELU6": _F.relu6, "SILU": _F.silu, "MISH": _F.mish, "SIGMOID": torch.sigmoid,
    "HARDSIGMOID": _F.hardsigmoid, "TANH": torch.tanh, "LOG": torch.log, "SOFTPLUS": _F.softplus, "GELU": _F.gelu,
    "GELU_TANH": lambda x: _F.gelu(x, approximate="tanh"), "SQRT": torch.sqrt,
}


def _for_type(op_type):
    from ..ops._eltwise import UnaryOpType
    if not isinstance(op_type, UnaryOpType):
        raise RuntimeError(f"{op_type} is not supported as activation function")
    fn = _BY_TYPE.get(op_type.name)
    if fn is None:
        raise RuntimeError(f"{op_type} is not supported as activation function")
    return fn


def get_golden_function_for_activation(activation):
    """None -> None; "name" or "name_approx" -> the golden function of ttnn.<name>; "gelu_tanh" -> tanh GELU;
    UnaryWithParam / UnaryOpType -> the torch function of its op type."""
    import torch_ttnn.sim as ttnn
    if activation is None:
        return None
    if isinstance(activation, str):
        if activation == "gelu_tanh":
            return _BY_TYPE["GELU_TANH"]
        name = activation[:-len("_approx")] if activation.endswith("_approx") else activation
        op = getattr(ttnn, name, None)
        if op is None:
            raise RuntimeError(f"Unsupported activation: {activation}")
        return ttnn.get_golden_function(op)
    return _for_type(getattr(activation, "op_type", activation))
