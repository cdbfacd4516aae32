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


def row_major(ttnn, x):
    return ttnn.to_layout(x, ttnn.ROW_MAJOR_LAYOUT)


def dim_(d, rank) -> int:
    return d + rank if d < 0 else d


def named(fn, name):
    fn.__name__ = fn.__qualname__ = name
    return fn
