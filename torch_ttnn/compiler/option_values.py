"""The spellings TorchTtnnOption accepts for one value, reduced to the one it stores.

Users come with TT-NN's names (`"HiFi4"`, `ttnn.MathFidelity.HiFi4`, `ttnn.bfloat16`, `"BFLOAT8_B"`), torch's
(`torch.bfloat16`, `torch.device("ttnn:0")`) or ours (`"hifi4"`, `"bfloat16"`): each is checked and
normalised here, at option time, so a bad value fails where it was written and not at the first call inside
dynamo's BackendCompilerFailed.
"""
from __future__ import annotations

import os

import torch

_TORCH_FLOATS = {torch.float32: "float32", torch.bfloat16: "bfloat16"}


def dtype_name(value, allowed: tuple, option: str):
    """"bfloat16" from "bfloat16", "BFLOAT16", ttnn.bfloat16 (either runtime's DataType) or torch.bfloat16."""
    if isinstance(value, (str, type(None))) and value in allowed:
        return value
    if isinstance(value, torch.dtype):
        name = _TORCH_FLOATS.get(value)
    else:
        name = getattr(value, "name", value)
        name = name.lower() if isinstance(name, str) else None
    if name not in allowed:
        spelled = [a for a in allowed if a is not None]
        raise ValueError(f"TorchTtnnOption: {option} must be one of {spelled} (or the ttnn/torch dtype of that "
                         f"name), got {value!r}")
    return name


def fidelity_name(value) -> str:
    """"hifi4" from "HiFi4", "hifi4" or ttnn.MathFidelity.HiFi4 (checked by lowering.policy)."""
    value = getattr(value, "name", value)
    return value.lower() if isinstance(value, str) else value


def device_index(device):
    """The TT-NN device index a torch-style device names (torch.device("ttnn:1"), "ttnn", "ttnn:1", 1), or
    None when `device` is a TT-NN device object (or None) to be used as it is."""
    if device is None or isinstance(device, bool):
        return None if device is None else bad_device(device)
    if isinstance(device, int):
        index = device
    elif isinstance(device, (str, torch.device)):
        try:
            d = torch.device(device)
        except RuntimeError:
            return bad_device(device)
        if d.type != "ttnn":
            return bad_device(device)
        index = d.index or 0
    else:
        return None
    if index < 0:
        return bad_device(device)
    return index


def bad_device(device):
    raise ValueError(f"TorchTtnnOption: device must be a TT-NN device (ttnn.open_device(device_id=0)), a ttnn "
                     f"torch device (torch.device('ttnn:0'), 'ttnn:0'), a device index, or None for device 0; "
                     f"got {device!r}")


def tracer_option(value) -> dict | None:
    """0.5's tracer dict: model_name and out_folder required, trace_orig (default True) and trace_modi
    (default False) optional."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"TorchTtnnOption: tracer_option must be None or a dict with model_name and out_folder, "
                        f"got {type(value).__name__}")
    unknown = set(value) - {"model_name", "out_folder", "trace_orig", "trace_modi"}
    missing = {"model_name", "out_folder"} - set(value)
    if unknown or missing:
        raise ValueError(f"TorchTtnnOption: tracer_option needs model_name and out_folder (trace_orig, trace_modi "
                         f"optional); missing {sorted(missing)}, unknown {sorted(unknown)}")
    if not isinstance(value["out_folder"], (str, os.PathLike)):
        raise TypeError(f"TorchTtnnOption: tracer_option['out_folder'] must be a directory path, "
                        f"got {value['out_folder']!r}")
    return {"model_name": str(value["model_name"]), "out_folder": str(value["out_folder"]),
            "trace_orig": bool(value.get("trace_orig", True)), "trace_modi": bool(value.get("trace_modi", False))}


def iterations(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"TorchTtnnOption: total_num_iterations must be an int >= 1, got {value!r}")
    return value
