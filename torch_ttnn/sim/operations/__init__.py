"""`ttnn.operations`: the real package's per-group Python modules; the emulator carries the ones TT-NN test code
imports directly (activations)."""
from . import activations  # noqa: F401
