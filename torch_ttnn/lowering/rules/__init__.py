"""The lowering rules, one module per TT-NN op group; importing this package registers them all."""
from . import (ccl, conv, conv_forms, data_movement, eltwise, indexing, integer, matmul, norm, reduction,  # noqa: F401
               scatter, training)
