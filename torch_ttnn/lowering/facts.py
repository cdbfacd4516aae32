"""What callers must know about an op beyond its arguments, declared once per op: TT-NN ops and ATen ops.

Why a table. These facts used to be string sets beside the code that read them (the recorder's shape sets, the
dealloc pass's "may alias" set, the lowerer's shape-only and copy sets), so a new op had to be added to every
set that should name it, in files that do not mention each other. A fact about an op holds wherever the op is
used, so it is declared here, with the op, once; readers ask `ttnn_op(name)` / `aten_op(name)`.

Why here. `lowering` is the layer the compiler and the eager device both import (neither may import the
other), and the facts describe the ops the lowering rules emit.

Why keyed by name, not by the op object. A TT-NN op's facts hold on both runtimes, and the emulator's
`Operation` objects and the real `ttnn` functions are different objects (the real ones cannot carry our
facts); a recorded node names its op (`meta["ttnn_name"]`, the attribute the rule called). ATen facts are
matched by the overload packet's name (`aten.clone.default` -> "clone") and, like before, by a plain
function's `__name__` (`torch._assert_async`), so one entry covers every overload.

An op not declared has no facts: its output shape is not known from its inputs, its layout is its first
input's, and it never returns its input's buffer.

Aliasing is declared conservatively because a wrong "never" is a use-after-free: the dealloc pass frees a
buffer after its last use, and an op whose output may be its input's buffer makes the two one buffer. A view
(reshape, squeeze...) shares its input's buffer on a card; a conversion (to_layout, typecast, to_device...)
hands back its input itself when there is nothing to convert. Only a caller that knows a conversion converts
(a typecast between two different dtypes) may say so per call, with `may_alias(name, converts=True)`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Shape(enum.Enum):
    """What a TT-NN op's output shape is, known from its inputs."""
    SAME = "the shape of its first tensor input"
    BROADCAST = "the broadcast shape of its tensor operands"


class Alias(enum.Enum):
    """Whether a TT-NN op's output may be its (first) input's buffer."""
    NEVER = "a new buffer"
    VIEW = "a view: may share its input's buffer"
    CONVERSION = "a conversion or copy: may hand back its input itself when there is nothing to change"
    IN_PLACE = "writes into its first input and returns it (a KV-cache update)"


@dataclass(frozen=True)
class TtnnOp:
    """What is known about a TT-NN op's output, given its first tensor input."""
    shape: Shape | None = None     # None: not known from the inputs (the recorder leaves it unknown)
    own_layout: bool = False       # its layout is the op's choice (conv/pool return ROW_MAJOR), not its input's
    alias: Alias = Alias.NEVER


class AtenOp(enum.Enum):
    """What the lowerer may do with an ATen op without a rule."""
    SHAPE_ONLY = "checks or describes shapes: nothing to run once shapes are concrete"
    SAME_VALUES = "its result holds its input's values (a copy or an alias): a scalar constant stays a number"


TTNN_OPS: dict[str, TtnnOp] = {}
ATEN_OPS: dict[str, AtenOp] = {}


def _declare(table: dict, names: str, fact) -> None:
    for name in names.split():
        if name in table:
            raise ValueError(f"op {name!r} is declared twice: give it one entry with all its facts")
        table[name] = fact


# --- TT-NN ops, by the name a rule calls them by (`ttnn.<name>`, `ttnn.transformer.<name>`) -----------------
_declare(TTNN_OPS, """
    abs neg exp expm1 log log1p log2 log10 sqrt rsqrt reciprocal square sin cos tan asin acos atan sinh cosh
    tanh asinh acosh atanh sigmoid hardsigmoid hardswish hardtanh relu relu6 leaky_relu elu gelu silu mish
    softplus erf erfc sign floor ceil trunc round clamp clip isnan isinf isfinite logical_not bitwise_not
    eqz nez gtz gez ltz lez fill tril triu softmax layer_norm rms_norm
    """, TtnnOp(shape=Shape.SAME))
_declare(TTNN_OPS, "to_layout typecast to_memory_config to_device clone",
         TtnnOp(shape=Shape.SAME, alias=Alias.CONVERSION))
_declare(TTNN_OPS, "reshape squeeze unsqueeze view", TtnnOp(alias=Alias.VIEW))
_declare(TTNN_OPS, "paged_update_cache update_cache", TtnnOp(shape=Shape.SAME, alias=Alias.IN_PLACE))
_declare(TTNN_OPS, """
    add subtract multiply divide rsub eq ne lt le gt ge where maximum minimum pow logical_and logical_or
    logical_xor atan2 remainder fmod squared_difference
    """, TtnnOp(shape=Shape.BROADCAST))
_declare(TTNN_OPS, """
    conv2d conv1d conv_transpose2d max_pool2d avg_pool2d global_avg_pool2d upsample embedding arange argmax
    argmin topk gather untilize tilize
    """, TtnnOp(own_layout=True))

# --- ATen ops, by overload packet name --------------------------------------------------------------------------
_declare(ATEN_OPS, """
    sym_size sym_numel sym_stride sym_storage_offset _assert_scalar _assert_tensor_metadata
    sym_constrain_range_for_size _assert_async
    """, AtenOp.SHAPE_ONLY)
_declare(ATEN_OPS, "lift_fresh_copy clone alias detach", AtenOp.SAME_VALUES)

_UNDECLARED = TtnnOp()


def ttnn_op(name: str | None) -> TtnnOp:
    """The facts of TT-NN op `name` (an op not declared has none)."""
    return TTNN_OPS.get(name, _UNDECLARED)


def may_alias(name: str | None, converts: bool = False) -> bool:
    """Whether a call of TT-NN op `name` may return its first input's buffer: a view may, a conversion may
    unless the caller knows this call converts (`converts`)."""
    alias = ttnn_op(name).alias
    return alias in (Alias.VIEW, Alias.IN_PLACE) or (alias is Alias.CONVERSION and not converts)


def aten_op(name: str) -> AtenOp | None:
    """What is declared about ATen op `name` (its overload packet's name), or None."""
    return ATEN_OPS.get(name)
