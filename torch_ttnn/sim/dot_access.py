"""`ttnn.dot_access`: dictionaries whose keys read as attributes (`parameters.encoder.layer[0].weight`), the
container TT-NN model code uses for configs and parameters."""
from __future__ import annotations


class DotAccessDict(dict):
    """A dict whose keys are also attributes; a missing attribute raises KeyError, as the real one does."""
    __getattr__ = dict.__getitem__
    __delattr__ = dict.__delitem__


def make_dot_access_dict(dictionary, *, ignore_types=None) -> DotAccessDict:
    """Convert nested dicts to DotAccessDicts (values of `ignore_types` are kept as they are)."""
    if isinstance(dictionary, DotAccessDict) or (ignore_types is not None and isinstance(dictionary, ignore_types)):
        return dictionary
    return DotAccessDict({k: make_dot_access_dict(v, ignore_types=ignore_types) if isinstance(v, dict) else v
                          for k, v in dictionary.items()})
