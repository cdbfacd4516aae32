"""One case per lowering rule: the op is lowered (its TT-NN target is in the compiled graph, the ATen op is
not) and the result matches torch float32 within bf16 tolerance; odd shapes and broadcasting included."""
import pytest
import torch
from helpers import assert_pcc, compile_lowered

import torch_ttnn

aten = torch.ops.aten
F = torch.nn.functional
R = lambda *s: torch.randn(*s)  # noqa: E731
P = lambda *s: torch.rand(*s) + 0.5  # noqa: E731  positive inputs (log, sqrt, pow...)

# (id, function, input factory, ttnn functions that must appear)
CASES = [
    ("relu", torch.relu, lambda: [R(3, 33, 65)], ["relu"]),
    ("gelu", F.gelu, lambda: [R(5, 40)], ["gelu"]),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda: [R(5, 40)], ["gelu"]),
    ("silu", F.silu, lambda: [R(2, 7, 9)], ["silu"]),
    ("sigmoid", torch.sigmoid, lambda: [R(64)], ["sigmoid"]),
    ("tanh", torch.tanh, lambda: [R(4, 31)], ["tanh"]),
    ("exp", torch.exp, lambda: [R(4, 31)], ["exp"]),
    ("log", torch.log, lambda: [P(4, 31)], ["log"]),
    ("sqrt", torch.sqrt, lambda: [P(4, 31)], ["sqrt"]),
    ("rsqrt", torch.rsqrt, lambda: [P(4, 31)], ["rsqrt"]),
    ("neg_abs", lambda x: -x.abs(), lambda: [R(4, 31)], ["neg", "abs"]),
    ("sin_cos", lambda x: x.sin() + x.cos(), lambda: [R(4, 31)], ["sin", "cos", "add"]),
    ("erf", torch.erf, lambda: [R(4, 31)], ["erf"]),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), lambda: [R(4, 31)], ["leaky_relu"]),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.5), lambda: [R(4, 31)], ["hardtanh"]),
    ("elu", F.elu, lambda: [R(4, 31)], ["elu"]),
    ("clamp", lambda x: x.clamp(-0.3, 0.4), lambda: [R(4, 31)], ["clamp"]),
    ("pow_scalar", lambda x: x ** 3, lambda: [R(4, 31)], ["pow"]),
    ("square", lambda x: x ** 2, lambda: [R(4, 31)], ["square"]),
    ("add_bcast", torch.add, lambda: [R(2, 3, 33), R(33)], ["add"]),
    ("add_alpha", lambda a, b: torch.add(a, b, alpha=2), lambda: [R(3, 5), R(3, 5)], ["add", "multiply"]),
    ("sub_bcast", torch.sub, lambda: [R(4, 1, 7), R(5, 7)], ["subtract"]),
    ("mul_scalar", lambda x: x * 1.5, lambda: [R(9, 10)], ["multiply"]),
    ("div", torch.div, lambda: [R(6, 7), P(6, 7)], ["divide"]),
    ("rsub", lambda x: 1 - x, lambda: [R(6, 7)], ["rsub"]),
    ("maximum", torch.maximum, lambda: [R(6, 7), R(6, 7)], ["maximum"]),
    ("gt_where", lambda a, b: torch.where(a > b, a, b), lambda: [R(6, 7), R(6, 7)], ["gt", "where"]),
    ("masked_fill", lambda a, b: a.masked_fill(b > 0, -1.0), lambda: [R(6, 7), R(6, 7)], ["where"]),
    ("eq_out", lambda a, b: a == b, lambda: [R(6, 7).round(), R(6, 7).round()], ["eq"]),
    ("tril", torch.tril, lambda: [R(2, 9, 9)], ["tril"]),
    ("mm", torch.mm, lambda: [R(33, 20), R(20, 17)], ["matmul"]),
    ("bmm", torch.bmm, lambda: [R(2, 33, 20), R(2, 20, 17)], ["matmul"]),
    ("linear", F.linear, lambda: [R(3, 20), R(17, 20), R(17)], ["linear"]),
    ("softmax", lambda x: x.softmax(-1), lambda: [R(3, 5, 40)], ["softmax"]),
    ("log_softmax", lambda x: x.log_softmax(1), lambda: [R(3, 40)], ["max", "exp", "sum", "log"]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (48,), w, b), lambda: [R(2, 5, 48), R(48), R(48)],
     ["layer_norm"]),
    ("sum_dim", lambda x: x.sum(-1), lambda: [R(3, 5, 40)], ["sum"]),
    ("mean_keep", lambda x: x.mean((1, 2), keepdim=True), lambda: [R(3, 5, 40)], ["mean"]),
    ("amax", lambda x: x.amax(1), lambda: [R(3, 45)], ["max"]),
    ("var", lambda x: x.var(-1), lambda: [R(3, 45)], ["mean", "sum"]),
    ("argmax", lambda x: x.argmax(-1), lambda: [R(3, 45)], ["argmax"]),
    ("reshape", lambda x: x.reshape(5, -1) * 2, lambda: [R(3, 5, 4)], ["reshape"]),
    ("permute", lambda x: x.permute(2, 0, 1) * 2, lambda: [R(3, 5, 4)], ["permute"]),
    ("transpose", lambda x: x.transpose(-1, -2) * 2, lambda: [R(3, 5, 4)], ["permute"]),
    ("cat", lambda a, b: torch.cat([a, b], 1), lambda: [R(2, 3, 5), R(2, 4, 5)], ["concat"]),
    ("slice_step", lambda x: x[:, 1:7:2] * 2, lambda: [R(4, 9)], ["slice"]),
    ("select", lambda x: x[:, 2] * 2, lambda: [R(4, 9, 3)], ["slice", "reshape"]),
    ("split", lambda x: [t * 2 for t in x.split(3, -1)], lambda: [R(2, 8)], ["slice"]),
    ("unsqueeze", lambda x: x.unsqueeze(1) * 2, lambda: [R(4, 9)], ["reshape"]),
    ("expand", lambda x: x.expand(3, 4, 9) * 2, lambda: [R(4, 1)], ["repeat"]),
    ("embedding", F.embedding, lambda: [torch.randint(0, 50, (2, 7)), R(50, 16)], ["embedding"]),
    ("sdpa_causal", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     lambda: [R(1, 2, 16, 8), R(1, 2, 16, 8), R(1, 2, 16, 8)], ["scaled_dot_product_attention"]),
    ("sdpa_mask", lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m > 0),
     lambda: [R(1, 2, 16, 8), R(1, 2, 16, 8), R(1, 2, 16, 8), R(16, 16).abs() + torch.eye(16)],
     ["scaled_dot_product_attention", "where"]),
    ("sdpa_gqa", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
     lambda: [R(1, 4, 16, 8), R(1, 2, 16, 8), R(1, 2, 16, 8)], ["scaled_dot_product_attention"]),
    ("arange_add", lambda x: x + torch.arange(x.shape[-1]), lambda: [torch.randint(0, 9, (3, 7))],
     ["arange", "add"]),
    ("full", lambda x: x + torch.full((7,), 2.5), lambda: [R(3, 7)], ["full"]),
    ("to_copy", lambda x: (x > 0).float() * 3, lambda: [R(3, 7)], ["gt", "multiply"]),
    ("index_copy", lambda c, i, s: c.index_copy(2, i, s), lambda: [R(1, 2, 10, 8), torch.tensor([3, 4]),
                                                                    R(1, 2, 2, 8)], ["matmul"]),
]


@pytest.mark.parametrize("name,fn,inputs,targets", CASES, ids=[c[0] for c in CASES])
def test_rule(name, fn, inputs, targets, device):
    got, ref = compile_lowered(fn, inputs, targets, device)
    refs, gots = (ref, got) if isinstance(ref, (list, tuple)) else ([ref], [got])
    for r, g in zip(refs, gots):
        assert g.dtype == r.dtype and g.shape == r.shape
        if r.dtype == torch.bool or not r.is_floating_point():
            assert (g == r).float().mean() >= 0.99 if name != "argmax" else (g == r).float().mean() >= 0.9
        else:
            assert_pcc(r, g, 0.99)
            scale = r.abs().max().item() + 1e-6
            assert (g - r).abs().max().item() <= 0.06 * scale + 0.02, f"max error {(g - r).abs().max()}"


def test_guard_rejects_integer_unary():
    """Guards are exact: an integer tensor is not a float kernel's input."""
    from torch_ttnn.lowering import find
    assert find(aten.exp.default, (torch.ones(3, dtype=torch.int32),)) is None
    assert find(aten.exp.default, (torch.ones(3),)) is not None
    assert find(aten.addmm.default, (torch.ones(4), torch.ones(2, 3), torch.ones(3, 4)), {"beta": 2}) is None


@pytest.mark.parametrize("float_dtype", ["float32", "bfloat16"])
def test_index_copy_is_bit_exact(float_dtype, device):
    """index_copy copies values, it does not compute them: float32 caches go through ttnn.scatter (a one-hot
    matmul would truncate float32 operands to TF32), bfloat16 ones through the one-hot matmul (exact for 0/1
    products of bfloat16 values with fp32 accumulation). Values with low mantissa bits set show a truncation."""
    import torch_ttnn
    g = torch.Generator().manual_seed(0)
    dt = getattr(torch, float_dtype)
    cache = (torch.randn(1, 2, 40, 32, generator=g) * (1 + 2 ** -20)).to(dt)
    src = (torch.randn(1, 2, 3, 32, generator=g) * (1 + 2 ** -20)).to(dt)
    idx = torch.tensor([5, 33, 0])
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", float_dtype="float32")  # float32 stays float32
    fn = torch.compile(lambda c, i, s: c.index_copy(2, i, s), backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        got = fn(cache, idx, src)
    names = {n.meta.get("ttnn_name") for gr in opt._out_fx_graphs for n in gr.nodes if n.op == "call_function"}
    assert got.dtype == dt and torch.equal(got, cache.index_copy(2, idx, src))
    assert ("scatter" if float_dtype == "float32" else "matmul") in names
