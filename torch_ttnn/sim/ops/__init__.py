"""The emulated operation library, grouped as TT-NN groups it: one module per group, each listing its
public names in `__all__`. `ttnn.transformer.*` and `ttnn.experimental.*` are reached as submodules, as in
the real package."""
from . import (binary, ccl, conv, creation, data_movement, experimental, matmul, misc, normalization, pool,  # noqa: F401
               program_configs, reduction, transformer, unary)

_GROUPS = (unary, binary, matmul, reduction, normalization, data_movement, creation, conv, pool, misc,
           program_configs, ccl)
__all__ = ["transformer", "experimental"]
for _g in _GROUPS:
    globals().update({n: getattr(_g, n) for n in _g.__all__})
    __all__ += list(_g.__all__)
