"""Small helpers shared by the rules: guards over ATen-level arguments, layout conversions."""
from __future__ import annotations

import torch

aten = torch.ops.aten
FLOATS = (torch.float32, torch.bfloat16, torch.float16)


def is_t(x) -> bool:
    return isinstance(x, torch.Tensor)


def is_float(x) -> bool:
    return is_t(x) and x.dtype in FLOATS


def float_or_num(x) -> bool:
    """A float tensor, or a Python number (which TT-NN binary ops take as a scalar operand)."""
    return is_float(x) or (isinstance(x, (int, float)) and not isinstance(x, bool))


def ranked(x, lo=1, hi=8) -> bool:
    return is_t(x) and lo <= x.dim() <= hi


def tile(ttnn, x):
    """TILE layout: what the compute ops (eltwise, matmul, reductions, norms) take."""
    return ttnn.to_layout(x, ttnn.TILE_LAYOUT) if not isinstance(x, (int, float)) else x


def as_dtype(ttnn, x, dtype):
    """`x` in `dtype`. When the compiler recorded `x` as a typecast of a value already in `dtype` (a bfloat16
    parameter the block-float policy converted), that value itself: a round trip through a lossy format
    would cost a cast and the bits it dropped. Otherwise (and on the eager path) a typecast if needed."""
    if x.dtype == dtype:
        return x
    node = getattr(x, "node", None)
    src = node.args[0] if node is not None and node.meta.get("ttnn_name") == "typecast" and node.args else None
    if src is not None and getattr(src, "meta", {}).get("dtype") == dtype:
        return type(x)(src, x.shape, dtype, x.layout)
    return ttnn.typecast(x, dtype)


def row_major(ttnn, x):
    return ttnn.to_layout(x, ttnn.ROW_MAJOR_LAYOUT)


def dim_(d, rank) -> int:
    return d + rank if d < 0 else d


def named(fn, name):
    fn.__name__ = fn.__qualname__ = name
    return fn
