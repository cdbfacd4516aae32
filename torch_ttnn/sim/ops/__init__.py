"""The emulated operation library, grouped as TT-NN groups it: one module per group, each listing its
public names in `__all__`. `ttnn.transformer.*` and `ttnn.experimental.*` are reached as submodules, as in
the real package."""
from . import (backward, binary, ccl, composite, conv, creation, data_movement, experimental, extra, matmul,  # noqa: F401
               misc, moreh, normalization, pool, program_configs, quantization, reduction, serialization, transformer,
               unary)

_GROUPS = (unary, binary, backward, composite, matmul, reduction, normalization, data_movement, creation, conv, pool,
           misc, program_configs, quantization, moreh, extra, ccl, serialization)
__all__ = ["transformer", "experimental"]
for _g in _GROUPS:
    globals().update({n: getattr(_g, n) for n in _g.__all__})
    __all__ += list(_g.__all__)
