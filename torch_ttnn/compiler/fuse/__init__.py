"""Fusion passes over the lowered TT-NN graph: chains of TT-NN ops become the fused forms TT-NN offers.

Why: lowering goes one ATen op at a time, so a transformer layer comes out as TT-NN's unfused building blocks
(the bias row, the activation and the residual add each a separate op, and the reshape + permute pairs that
split and merge attention heads), each paying a dispatch and a round trip through DRAM. Hand-written TT-NN
models use the fused ops instead; these passes make the compiled program do the same.

Each pass is `(graph, FuseContext) -> int`, rewriting the graph in place (as the passes in passes.py do) and
returning how many fusions it applied (the metrics report them per pass). They run after lowering and before
mark_constants/insert_deallocs: a node's users are then its real consumers, and the inputs a fusion builds
from parameters only (the concatenated QKV weights) become constants folded once per module. Shapes come
from what the recorder knew (`node.meta["shape"]`); a pass leaves alone a node whose shape it needs but which
is unknown or symbolic. Every pass can be switched off: `TorchTtnnOption(fuse=False)` or a set of the names
below.

Passes, in the order they run:
- `common_ops`: the same pure op on the same inputs computed once (not a fusion strictly, but lowering one
  ATen op at a time repeats work the model repeats per layer, such as BERT's additive attention mask).
- `matmul_bias`: `matmul(a, w)` then `add` of a bias row -> `linear(a, w, bias=b)`.
- `linear_activation`: a linear/matmul whose only user is an activation TT-NN can fuse (relu, gelu, silu, ...)
  -> `linear(..., activation=name, core_grid=<the device's grid>)`. The core grid is what makes the fusion
  real: without one TT-NN runs the activation as a separate unary op on the rounded product (tt-metal
  matmul.cpp, bound_matmul); with one it is applied to the accumulator before packing, so the result may
  differ from the unfused program by one bfloat16 rounding.
- `qkv_heads`: three projections of one input, each split into heads (`reshape [B, S, H, D]` + `permute
  [0, 2, 1, 3]`) -> one linear over the concatenated weights + `transformer.split_query_key_value_and_
  split_heads`; and a fused QKV projection sliced in three, each split into heads (GPT-2's c_attn) -> the split
  op on it. Only where TT-NN's op applies: equal head counts (its grouped-query path is a Falcon-7B kernel),
  head size a multiple of 32 (the op's own check).
- `concat_heads`: `permute [0, 2, 1, 3]` + `reshape [B, S, H*D]` of attention heads ->
  `transformer.concatenate_heads` (rank 4, TILE, head size a multiple of 32, as the op requires).
- `sdpa_concat_heads`: `concatenate_heads` of `scaled_dot_product_attention` (or of its result scaled per query
  row, the lowering's rows that attend nothing) -> the attention with `output_concat_heads=True` and a reshape
  (a view) to [B, S, H*D]: the kernel writes the heads side by side, the concat op is gone.
- `gqa_attention`: grouped-query attention's `repeat_kv` (reshape, repeat, reshape of K and V) before
  `scaled_dot_product_attention` removed: TT-NN's SDPA takes fewer K/V heads than Q heads.
- `rms_norm`: HF's RMSNorm as lowering leaves it (square, mean, add epsilon, rsqrt, multiply, multiply by the
  weight) -> `ttnn.rms_norm(x, epsilon=eps, weight=w)`.
- `rotate_half`: HF's rotate_half for RoPE (two slices, a neg, a concat) -> `ttnn.experimental.rotate_half`.
- `residual_layer_norm`: `layer_norm(add(x, r))` (or rms_norm) where the add has no other user ->
  `layer_norm(x, residual_input_tensor=r)`: the add happens in float32 inside the norm, so the sum is not
  rounded to bfloat16 first.
- `decode_rows`: a decode step's [B, 1, K] activations (norms, residual adds, the MLP) run as [1, 1, B, K],
  TT's decode layout: the B rows share tiles instead of one padded tile row each, and the reshapes between a
  linear's [B, K] and [B, 1, K] become views; only where it saves more reshapes than it adds.
- `reshapes`: round trips that do nothing: reshape of a reshape, a reshape to the shape it already has,
  permutes that compose (or cancel), to_layout there and back, `to_layout(ROW_MAJOR) -> reshape ->
  to_layout(TILE)` (a reshape works in TILE layout), and `reshape [B*S, K] -> linear(s) -> reshape [B, S, N]`
  (a linear takes the rank-3 input directly).
- `rotary_embedding`: a decode step's RoPE on query and key heads (`x * cos + rotate_half(x) * sin`, one cos/sin
  row per user) -> `ttnn.experimental.rotary_embedding_hf(..., is_decode_mode=True)` on the heads height-sharded
  one user per core, handed sharded to flash-decode and to the KV-cache write (runs last: it reads the
  decode layout the passes before leave).
- `qkv_heads_decode`: a decode step's Q, K and V projections of one [1, 1, B, K] input, each split into heads
  and moved to user shards (by the passes and rules before) -> one product over [Wq | Wk | Wv] +
  `ttnn.experimental.nlp_create_qkv_heads_decode` (grouped-query included), whose outputs are those shards.

Where they live: `linear.py` (matmul_bias, linear_activation), `attention.py` (qkv_heads, concat_heads,
sdpa_concat_heads, gqa_attention), `norm.py` (rms_norm, residual_layer_norm), `layout.py` (common_ops,
reshapes, sink_permutes), `rope.py` (rotate_half, rotary_embedding), `decode.py` (decode_rows,
qkv_heads_decode); `_graph.py` holds what they share (FuseContext, node predicates, graph edits). This module
orders them.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch.fx as fx

from ._graph import FuseContext, FusionPass, _toposort
from .linear import fuse_linear_activation, fuse_matmul_bias
from .attention import fuse_concat_heads, fuse_gqa_attention, fuse_qkv_heads, fuse_sdpa_concat_heads
from .norm import fuse_residual_layer_norm, fuse_rms_norm
from .layout import fuse_common_ops, fuse_reshapes, fuse_sink_permutes
from .rope import fuse_rotary_embedding, fuse_rotate_half
from .decode import fuse_decode_rows, fuse_qkv_heads_decode

# --- the pipeline ------------------------------------------------------------------------------------------
PASSES = (
    FusionPass("common_ops", fuse_common_ops),
    FusionPass("matmul_bias", fuse_matmul_bias),
    FusionPass("linear_activation", fuse_linear_activation),
    FusionPass("qkv_heads", fuse_qkv_heads),
    FusionPass("concat_heads", fuse_concat_heads),
    FusionPass("sdpa_concat_heads", fuse_sdpa_concat_heads),
    FusionPass("gqa_attention", fuse_gqa_attention),
    FusionPass("rms_norm", fuse_rms_norm),
    FusionPass("rotate_half", fuse_rotate_half),
    FusionPass("sink_permutes", fuse_sink_permutes),
    FusionPass("residual_layer_norm", fuse_residual_layer_norm),
    FusionPass("decode_rows", fuse_decode_rows),
    FusionPass("reshapes", fuse_reshapes),
    FusionPass("rotary_embedding", fuse_rotary_embedding),
    FusionPass("qkv_heads_decode", fuse_qkv_heads_decode),
)
PASS_NAMES = tuple(p.name for p in PASSES)


def enabled_passes(fuse) -> frozenset[str]:
    """TorchTtnnOption(fuse=...): True (every pass), False (none) or an iterable of pass names."""
    if fuse is True:
        return frozenset(PASS_NAMES)
    if fuse is False:
        return frozenset()
    if isinstance(fuse, str) or not isinstance(fuse, Iterable):
        raise TypeError(f"fuse must be True, False or a set of pass names from {PASS_NAMES}, got {fuse!r}")
    names = frozenset(fuse)
    unknown = sorted(map(str, names - set(PASS_NAMES)))
    if unknown:
        raise ValueError(f"unknown fusion pass(es) {unknown}; known: {', '.join(PASS_NAMES)}")
    return names


def fuse(graph: fx.Graph, enabled: frozenset[str], ctx: FuseContext) -> dict[str, int]:
    """Run the enabled passes in order; returns the fusions applied per pass (0 where nothing matched)."""
    counts = {p.name: p.run(graph, ctx) for p in PASSES if p.name in enabled}
    if any(counts.values()):
        _toposort(graph)
        graph.lint()
    return counts
