"""`ttnn.model_preprocessing`: turning a torch model's parameters into the ttnn tensors functional TT-NN model
code reads (`parameters.encoder.layer[0].attention.self.query.weight`).

The layout conventions are the real ones: a Linear weight is stored transposed ([in, out], so `ttnn.linear(x, w)`
needs no transpose) in TILE layout, a Linear bias and LayerNorm parameters as one [1, N] row, an Embedding table
row-major; everything bfloat16 unless a custom preprocessor says otherwise. Parameters of modules the default
preprocessor does not know are converted as they are. The real function can also cache parameters on disk by
`model_name`; the emulator always preprocesses (the cache arguments are accepted and ignored).
"""
from __future__ import annotations

import inspect

import torch

from .dot_access import DotAccessDict  # noqa: F401  (re-exported as in the real module)
from .tensor import Tensor, from_torch, to_device
from .types import DataType, Layout

__all__ = ["preprocess_linear_weight", "preprocess_linear_bias", "preprocess_layernorm_parameter",
           "preprocess_embedding_weight", "fold_batch_norm2d_into_conv2d", "ParameterDict", "ParameterList",
           "make_parameter_dict", "default_preprocessor", "preprocess_model_parameters", "move_to_device"]


def preprocess_linear_weight(weight, *, dtype, layout=Layout.TILE, weights_mesh_mapper=None):
    return from_torch(weight.detach().T.contiguous(), dtype=dtype, layout=layout)


def preprocess_linear_bias(bias, *, dtype, layout=Layout.TILE, weights_mesh_mapper=None):
    return from_torch(bias.detach().reshape((1, -1)), dtype=dtype, layout=layout)


def preprocess_layernorm_parameter(parameter, *, dtype, layout=Layout.TILE):
    return from_torch(parameter.detach().reshape((1, -1)), dtype=dtype, layout=layout)


def preprocess_embedding_weight(weight, *, dtype):
    return from_torch(weight.detach(), dtype=dtype)


def fold_batch_norm2d_into_conv2d(conv, bn):
    """(weight, bias) of a Conv2d followed by an eval-mode BatchNorm2d, folded into one convolution."""
    if not bn.track_running_stats:
        raise RuntimeError("BatchNorm2d must have track_running_stats=True to be folded into Conv2d")
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale[:, None, None, None]
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return weight, (bias - bn.running_mean) * scale + bn.bias


class ParameterList(list):
    def __contains__(self, index) -> bool:
        return isinstance(index, int) and index < len(self)


class ParameterDict(dict):
    """Parameters by module name, readable as attributes."""
    __getattr__ = dict.__getitem__
    __delattr__ = dict.__delitem__


def make_parameter_dict(dictionary) -> ParameterDict:
    if isinstance(dictionary, ParameterDict):
        return dictionary
    return ParameterDict({k: make_parameter_dict(v) if isinstance(v, dict) else v for k, v in dictionary.items()})


def default_preprocessor(model, name, ttnn_module_args=None) -> ParameterDict:
    p = {}
    if isinstance(model, torch.nn.Linear):
        p["weight"] = preprocess_linear_weight(model.weight, dtype=DataType.BFLOAT16)
        if model.bias is not None:
            p["bias"] = preprocess_linear_bias(model.bias, dtype=DataType.BFLOAT16)
    elif isinstance(model, torch.nn.LayerNorm):
        p["weight"] = preprocess_layernorm_parameter(model.weight, dtype=DataType.BFLOAT16)
        p["bias"] = preprocess_layernorm_parameter(model.bias, dtype=DataType.BFLOAT16)
    elif isinstance(model, torch.nn.Embedding):
        p["weight"] = preprocess_embedding_weight(model.weight, dtype=DataType.BFLOAT16)
    return make_parameter_dict(p)


_TTNN_DTYPE = {torch.uint8: DataType.UINT8, torch.int8: DataType.INT8, torch.int16: DataType.UINT16,
               torch.int32: DataType.INT32, torch.int64: DataType.UINT32, torch.bfloat16: DataType.BFLOAT16,
               torch.float32: DataType.BFLOAT16, torch.float64: DataType.BFLOAT16}


def _custom(custom_preprocessor, model, name, convert_to_ttnn):
    sig = inspect.signature(custom_preprocessor)
    if len(sig.parameters) < 2:
        raise RuntimeError("Custom preprocessor must have at least two parameters: model and name")
    extra = set(list(sig.parameters)[2:]) - {"ttnn_module_args", "convert_to_ttnn"}
    if extra:
        raise RuntimeError(f"Unsupported parameter: {sorted(extra)[0]}")
    kwargs = {}
    if "ttnn_module_args" in sig.parameters:
        kwargs["ttnn_module_args"] = None
    if "convert_to_ttnn" in sig.parameters:
        kwargs["convert_to_ttnn"] = convert_to_ttnn
    return custom_preprocessor(model, name, **kwargs)


def _convert(model, *, convert_to_ttnn, custom_preprocessor, name):
    """The parameters of one module, recursively: custom preprocessor first, then the default one, then each
    direct parameter as it is, then the children (ModuleList children by index, as a ParameterList)."""
    if isinstance(model, torch.nn.ModuleList):
        return ParameterList(_convert(c, convert_to_ttnn=convert_to_ttnn, custom_preprocessor=custom_preprocessor,
                                      name=f"{name}.{i}" if name else f"{i}") for i, c in enumerate(model.children()))
    if custom_preprocessor is not None:
        got = _custom(custom_preprocessor, model, name, convert_to_ttnn)
        if got:
            return make_parameter_dict(got)
    children = list(model.named_children())
    own = [(n, p) for n, p in model.named_parameters() if "." not in n]
    params = ParameterDict()
    if convert_to_ttnn(model, name):
        default = default_preprocessor(model, name)
        if default:
            if len(default) != len(children) + len(own):
                raise RuntimeError("Not all children or parameters were converted using "
                                   "default_preprocessor_parameters!")
            return default
        for n, p in own:
            params[n] = from_torch(p.detach(), dtype=_TTNN_DTYPE[p.dtype])
    elif isinstance(model, torch.nn.Linear):
        params["weight"] = model.weight.T.contiguous()
        if model.bias is not None:
            params["bias"] = model.bias
    else:
        params.update(own)
    for child_name, child in children:
        key = int(child_name) if child_name.isdigit() else child_name
        sub = _convert(child, convert_to_ttnn=convert_to_ttnn, custom_preprocessor=custom_preprocessor,
                       name=f"{name}.{child_name}" if name else child_name)
        if sub:
            params[key] = sub
    return params


def move_to_device(obj, device):
    """Every ttnn.Tensor in a parameter tree moved to `device` (TILE tensors keep their layout)."""
    if isinstance(obj, Tensor):
        return to_device(obj, device)
    if isinstance(obj, ParameterList):
        return ParameterList(move_to_device(v, device) for v in obj)
    if isinstance(obj, dict):
        return make_parameter_dict({k: move_to_device(v, device) for k, v in obj.items()})
    return obj


def preprocess_model_parameters(*, model_name=None, version=None, initialize_model=None, convert_to_ttnn=None,
                                custom_preprocessor=None, device=None, prefix="") -> ParameterDict:
    """The parameter tree of the model `initialize_model()` returns, as ttnn tensors (on `device` if given)."""
    if initialize_model is None:
        raise RuntimeError("preprocess_model_parameters: initialize_model is required (the emulator keeps no "
                           "parameter cache to load from)")
    model = initialize_model()
    with torch.no_grad():
        params = _convert(model, convert_to_ttnn=convert_to_ttnn or (lambda m, n: True),
                          custom_preprocessor=custom_preprocessor, name=prefix)
    return move_to_device(make_parameter_dict(params), device) if device is not None else make_parameter_dict(params)
