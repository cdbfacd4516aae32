"""The model zoo: real HF `transformers` architectures from configs with seeded random weights (no downloads).

    ex = zoo.build("llama", size="tiny", batch=1, seed=0)   # Example(model, args, kwargs, output, ...)
    ref = ex.run()                                           # the compared tensor, on CPU
    got = ex.run(torch.compile(ex.model, backend="ttnn"))

Every entry has a `tiny` config (about a second on CPU; used by tests) and a `full` config with the
hyper-parameters of the family's smallest published checkpoint (`zoo.get(name).full`). Your own model is named
as `package.module[:function]` or `path/file.py[:function]` wherever a zoo name is accepted (see `load`).
"""
import importlib.util

from .registry import (REGISTRY, SIZES, Example, Spec, UnknownModel, build, default_output, get, load,  # noqa: F401
                       names, register)

# The zoo's entries are transformers models (the `zoo` extra). Without it the package still loads a user's own
# model (`module:function`), and asking for a zoo name says which extra to install (registry.get).
if importlib.util.find_spec("transformers") is not None:
    from . import text, vision, multimodal  # noqa: F401  (registration)

__all__ = ["REGISTRY", "SIZES", "Example", "Spec", "build", "default_output", "get", "load", "names", "register"]
