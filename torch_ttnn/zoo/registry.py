"""What a zoo entry is, how entries are registered, and how a user's own model is loaded.

A zoo entry is a function `(size, batch, gen) -> Example` registered under a short name. `build()` runs it with
the global torch RNG seeded (HF modules initialise their weights from it) and hands it a seeded generator for the
inputs, so two builds with the same seed give bit-identical weights, inputs and outputs.
"""
from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from . import inputs

SIZES = ("tiny", "full")


@dataclass
class Example:
    """A model ready to run: the module (eval mode), its inputs, and which output tensor is compared.

    `output` maps the module's raw return value to the ONE tensor that accuracy (PCC) is measured on, so every
    tool compares the same thing: `ex.run()` on CPU against `ex.run(compiled)`.
    """
    model: torch.nn.Module
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    output: Callable[[Any], torch.Tensor] | None = None
    output_name: str = ""
    name: str = ""
    size: str = ""

    def __post_init__(self):
        if self.output is None:
            self.output, self.output_name = default_output, self.output_name or "output"

    def run(self, model: Callable | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.output((self.model if model is None else model)(*self.args, **self.kwargs))

    def inputs(self) -> list[torch.Tensor]:
        return [t for t in (*self.args, *self.kwargs.values()) if isinstance(t, torch.Tensor)]


@dataclass(frozen=True)
class Spec:
    name: str
    builder: Callable[[str, int, torch.Generator], Example]
    full: str           # the published checkpoint whose hyper-parameters the full config reproduces
    task: str
    params: float       # parameter count of that checkpoint (as published), checked by the tests
    full_dtype: torch.dtype = torch.float32  # weights of the full config (bf16 only where fp32 exceeds 24 GiB)


REGISTRY: dict[str, Spec] = {}


def register(name: str, *, full: str, task: str, params: float, full_dtype: torch.dtype = torch.float32):
    def deco(fn):
        if name in REGISTRY:
            raise ValueError(f"zoo model {name!r} is registered twice")
        REGISTRY[name] = Spec(name, fn, full, task, params, full_dtype)
        return fn
    return deco


def names() -> list[str]:
    return list(REGISTRY)


ZOO_EXTRA = "the model zoo needs transformers: pip install 'torch-ttnn[zoo]'"


class UnknownModel(KeyError):
    """A name that is neither a zoo model nor a reference to a model of the user's own."""

    def __str__(self):  # KeyError's own str() quotes the message
        return str(self.args[0])


def get(name: str) -> Spec:
    try:
        return REGISTRY[name.lower()]
    except KeyError:
        pass
    if not REGISTRY:
        raise UnknownModel(f"no zoo model {name!r}: {ZOO_EXTRA}. A model of your own is named as "
                           f"`package.module[:function]` or `path/file.py[:function]`")
    close = difflib.get_close_matches(name.lower(), REGISTRY, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise UnknownModel(f"no zoo model {name!r}; {hint}known: {', '.join(REGISTRY)}. A model of your own is "
                       f"named as `package.module[:function]` or `path/file.py[:function]`")


def build(name: str, size: str = "tiny", batch: int = 1, seed: int = 0, meta: bool = False) -> Example:
    """Build zoo model `name` (or a user reference, see `load`) with seeded weights and inputs, in eval mode.

    `meta=True` makes the model's parameters on the meta device (no memory, not runnable): for sizing.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if name.lower() not in REGISTRY and _looks_like_ref(name):
        return load(name, size=size, batch=batch, seed=seed)
    spec = get(name)
    gen = torch.Generator().manual_seed(seed)
    dtype = spec.full_dtype if size == "full" else torch.float32
    previous = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_default_dtype(dtype)     # parameters are created in `dtype`: no float32 copy at peak
        token = inputs.META.set(meta)
        try:
            ex = spec.builder(size, batch, gen)
            if not meta:
                calibrate_batchnorm(ex)
        finally:
            inputs.META.reset(token)
            torch.set_default_dtype(previous)
    ex.model.eval()
    ex.name, ex.size = spec.name, size
    return ex


def calibrate_batchnorm(ex: Example, batch: int = 8) -> None:
    """Set every BatchNorm's running statistics from a pass over a batch of inputs like the example's.

    Freshly initialised BatchNorms hold mean 0 / variance 1 (and some HF inits scale them by ~0.02), so a deep
    randomly initialised convnet shrinks its signal layer after layer until the output is a constant (PCC is
    then meaningless). A trained network's statistics match its data: measuring them on a calibration batch
    (`batch` samples drawn with the example inputs' mean and spread; more than one, so that 1x1 feature maps
    still have a variance) restores unit-scale activations at every layer, as in a real checkpoint.
    Deterministic: it draws from the caller's seeded RNG.
    """
    norms = [m for m in ex.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return

    def like(x):
        if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.dim() > 1):
            return x
        return torch.randn((batch, *x.shape[1:]), dtype=x.dtype) * x.std() + x.mean()

    for m in norms:
        m.reset_parameters()                # unit scale, zero shift, statistics cleared
        m.momentum = None                   # cumulative average: exactly the calibration batch's statistics
    ex.model.train()
    try:
        with torch.no_grad():
            ex.model(*[like(a) for a in ex.args], **{k: like(v) for k, v in ex.kwargs.items()})
    finally:
        ex.model.eval()


def _looks_like_ref(ref: str) -> bool:
    return "." in ref or ":" in ref or os.sep in ref


def load(ref: str, size: str = "tiny", batch: int = 1, seed: int = 0, default_function: str = "build") -> Example:
    """A user's model from `package.module[:function]` or `path/file.py[:function]` (function default `build`).

    The function returns an `Example`, or `(model, inputs)` with inputs a tensor, a tuple of positional args,
    a dict of keyword args, or `(args, kwargs)`. It may take any of `size`, `batch`, `seed`, `generator` as
    keyword parameters; it is called with the global RNG seeded so its weights are reproducible too.
    """
    target, _, fn_name = ref.partition(":")
    fn_name = fn_name or default_function
    if target.endswith(".py") or os.path.sep in target:
        if not os.path.isfile(target):
            raise FileNotFoundError(f"model file {target!r} does not exist (reference {ref!r})")
        mod_name = "_torch_ttnn_user_" + os.path.splitext(os.path.basename(target))[0]
        spec = importlib.util.spec_from_file_location(mod_name, target)
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
    else:
        module = _import_from_cwd(target)
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise AttributeError(f"{target!r} has no function {fn_name!r}: name it as `{target}:function`, or "
                             f"define `{default_function}()` returning (model, inputs)")
    gen = torch.Generator().manual_seed(seed)
    offered = dict(size=size, batch=batch, seed=seed, generator=gen)
    params = inspect.signature(fn).parameters
    takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        result = fn(**{k: v for k, v in offered.items() if takes_all or k in params})
    ex = _as_example(result, ref)
    ex.model.eval()
    ex.name, ex.size = ex.name or ref, size
    return ex


def _import_from_cwd(name: str):
    """`import name` as `python -c` would: the current directory first. A console script's sys.path starts
    with the script's own directory instead, so `torch-ttnn run mymodel:build` could not see ./mymodel.py."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    finally:
        if added:
            sys.path.remove(cwd)


def _as_example(result, ref: str) -> Example:
    if isinstance(result, Example):
        return result
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], torch.nn.Module)):
        raise TypeError(f"{ref!r} must return an Example or (model, inputs), got {type(result).__name__}")
    model, inputs = result
    if isinstance(inputs, torch.Tensor):
        args, kwargs = (inputs,), {}
    elif isinstance(inputs, dict):
        args, kwargs = (), dict(inputs)
    elif (isinstance(inputs, (tuple, list)) and len(inputs) == 2 and isinstance(inputs[0], (tuple, list))
          and isinstance(inputs[1], dict)):
        args, kwargs = tuple(inputs[0]), dict(inputs[1])
    elif isinstance(inputs, (tuple, list)):
        args, kwargs = tuple(inputs), {}
    else:
        raise TypeError(f"{ref!r}: inputs must be a tensor, tuple, dict or (args, kwargs), "
                        f"got {type(inputs).__name__}")
    return Example(model, args, kwargs)


def default_output(out) -> torch.Tensor:
    """The tensor a model's output is judged by: itself, else `logits`, else `last_hidden_state`, else the first."""
    if isinstance(out, torch.Tensor):
        return out
    for key in ("logits", "last_hidden_state"):
        v = out.get(key) if isinstance(out, dict) else getattr(out, key, None)
        if isinstance(v, torch.Tensor):
            return v
    seq = out.values() if isinstance(out, dict) else out
    for v in seq:
        if isinstance(v, torch.Tensor):
            return v
    raise TypeError(f"cannot find an output tensor in {type(out).__name__}")
