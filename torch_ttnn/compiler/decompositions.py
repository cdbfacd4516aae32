"""The decomposition table given to aot_autograd: each entry is here for a stated reason.

Everything else reaches the lowering as the ATen op dynamo produced, because a direct rule keeps one TT-NN
op where a decomposition would make several (e.g. layer_norm, softmax, gelu, addmm, sdpa have TT-NN ops).
"""
from __future__ import annotations

import torch
from torch._decomp import get_decompositions

aten = torch.ops.aten

REASONS = {
    # No TT-NN op; the decomposition uses ops that have one.
    aten.baddbmm: "TT-NN has no baddbmm: bmm + scaled add",
    aten.logsumexp: "TT-NN has no logsumexp: max, exp, sum, log",
    aten.linalg_vector_norm: "TT-NN has no vector norm: abs, pow, sum, root",
    aten.glu: "TT-NN's glu needs specific widths: slice, sigmoid, multiply",
    aten.native_group_norm: "TT-NN's group_norm wants a sharded NHWC layout: mean/var per group instead",
    aten.unbind: "a list of selects, each a slice",
    aten.new_zeros: "full with the same device and dtype",
    aten.new_ones: "full with the same device and dtype",
    aten.new_full: "full with the same device and dtype",
    aten.addcmul: "aten's scalar-value form: multiply and add",
    aten.mv: "matmul of a matrix and a column",
    aten.hardswish: "x * relu6(x + 3) / 6 in ops that lower",
    aten.mish: "x * tanh(softplus(x))",
    aten.softplus: "TT-NN softplus lacks aten's threshold argument: log1p(exp) with where",
    aten.upsample_bilinear2d: "TT-NN's bilinear upsample wants sharded inputs: gathers and lerps",
    # Training graphs: the backward ops of the forward ops above, as pointwise ops that lower.
    aten.threshold_backward: "relu backward: where(x > 0, grad, 0)",
    aten.gelu_backward: "pointwise ops",
    aten.silu_backward: "pointwise ops",
    aten.sigmoid_backward: "pointwise ops",
    aten.tanh_backward: "pointwise ops",
    aten.native_layer_norm_backward: "reductions and pointwise ops",
    aten._softmax_backward_data: "multiply, sum, subtract",
    aten._log_softmax_backward_data: "exp, sum, subtract",
    aten.native_batch_norm: "training batch norm: mean/var reductions",
    aten._native_batch_norm_legit: "training batch norm: mean/var reductions",
    aten._native_batch_norm_legit_functional: "training batch norm: mean/var reductions",
    aten.native_dropout: "bernoulli mask and multiply (the mask runs on CPU: TT-NN's rand differs from torch's)",
    aten.embedding_dense_backward: "a masked index_put accumulation of the gradients: ttnn.scatter_add",
    aten.native_batch_norm_backward: "reductions over N, H, W and pointwise ops",
    aten.hardtanh_backward: "where(min < x < max, grad, 0)",
    aten.leaky_relu_backward: "where(x > 0, grad, grad * slope)",
    aten.elu_backward: "pointwise ops and where",
    aten.hardswish_backward: "pointwise ops and where",
    aten.hardsigmoid_backward: "pointwise ops and where",
    aten.mse_loss_backward: "subtract and scale",
    aten.slice_backward: "zeros and slice_scatter (a concat of slices)",
    aten.select_backward: "zeros and select_scatter (a concat of slices)",
    aten.nll_loss_backward: "scatter of -1 at each target (ttnn.scatter) and a multiply",
    aten.max_pool2d_with_indices_backward: "scatter_add of the gradients at the saved indices (ttnn.scatter_add)",
    aten.mse_loss: "subtract, square, mean",
    aten.nll_loss_forward: "gather and mean",
}

DECOMPOSITIONS = get_decompositions(list(REASONS))
