"""Rules for integer/boolean element-wise ops, mixed float/int arithmetic, advanced indexing, stacking,
padding and scatter-style writes: each op is lowered (its TT-NN target in the compiled graph, no ATen op left
on CPU) and matches torch exactly for integers and booleans, within bf16 tolerance for floats."""
import pytest
import torch
from helpers import assert_pcc, compile_lowered

import torch_ttnn


aten = torch.ops.aten
F = torch.nn.functional
R = lambda *s: torch.randn(*s)  # noqa: E731
I = lambda lo, hi, *s: torch.randint(lo, hi, s)  # noqa: E731, E741


def _mask_pattern(am):
    """transformers' padding-mask construction (masking_utils): 0-d True seed, integer comparisons,
    advanced indexing of the attention mask with broadcast batch/kv aranges, bitwise_and of booleans."""
    b, s = am.shape
    q = torch.arange(s, device=am.device)
    kv = torch.arange(s, device=am.device)
    ok = torch.tensor(True, device=am.device) & (kv[None, None, None, :] <= q[None, None, :, None])
    pad = am.bool()[torch.arange(b, device=am.device)[:, None, None, None], kv[None, None, None, :]]
    return ok & pad


def _shift_right(ids):
    """BART's shift_tokens_right: new_zeros, slice and select writes, masked_fill on integers."""
    out = ids.new_zeros(ids.shape)
    out[:, 1:] = ids[:, :-1].clone()
    out[:, 0] = 2
    return out.masked_fill(out == -100, 1)


def _t5_bucket(n):
    """T5's relative-position bucketing: int abs/neg/min/where/lt, float log, casts."""
    ctx = torch.arange(n)[:, None]
    mem = torch.arange(n)[None, :]
    rel = mem - ctx
    buckets = (rel > 0).to(torch.long) * 16
    rel = torch.abs(rel)
    small = rel < 8
    large = 8 + (torch.log(rel.float() / 8) / 2.77 * 8).to(torch.long)
    large = torch.min(large, torch.full_like(large, 15))
    return buckets + torch.where(small, rel, large)


# (id, function, input factory, ttnn functions that must appear)
CASES = [
    ("int_ge_scalar", lambda x: x >= 0, lambda: [I(-5, 5, 3, 33)], ["ge", "typecast"]),
    ("int_le_bcast", lambda a, b: a <= b, lambda: [I(0, 9, 1, 1, 1, 7), I(0, 9, 1, 1, 7, 1)], ["le"]),
    ("int_gt_tensor", torch.gt, lambda: [I(0, 9, 2, 7), I(0, 9, 7)], ["gt"]),
    ("int_eq_ne_lt", lambda x: (x == 3) | (x != 1) & (x < 4), lambda: [I(0, 6, 5, 9)], ["eq", "ne", "lt"]),
    ("int_mul", lambda a, b: a * b * 3, lambda: [I(-50, 50, 4, 9), I(-50, 50, 9)], ["multiply"]),
    ("int_abs_neg", lambda x: -x.abs(), lambda: [I(-50, 50, 3, 5)], ["abs", "neg"]),
    ("int_min_max", lambda a, b: torch.minimum(a, b) + torch.maximum(a, b), lambda: [I(-9, 9, 6), I(-9, 9, 6)],
     ["minimum", "maximum"]),
    ("int_clamp", lambda x: x.clamp(-3, 4), lambda: [I(-9, 9, 2, 13)], ["maximum", "minimum"]),
    ("int_clamp_max", lambda x: x.clamp(max=4), lambda: [I(-9, 9, 13)], ["minimum"]),
    ("int_where", lambda c, a, b: torch.where(c > 0, a, b), lambda: [R(4, 7), I(0, 9, 4, 7), I(0, 9, 7)],
     ["where"]),
    ("int_cumsum", lambda x: x.cumsum(-1), lambda: [I(0, 5, 2, 37)], ["cumsum"]),
    ("bool_cumsum", lambda x: (x > 0).cumsum(1) * (x > 0), lambda: [I(-1, 2, 2, 9)], ["cumsum"]),
    ("bool_and_or_xor", lambda a, b: ((a > 0) & (b > 0)) | ((a < 0) ^ (b < 0)), lambda: [R(3, 8), R(3, 8)],
     ["logical_and", "logical_or", "logical_xor"]),
    ("int_bitwise_and", torch.bitwise_and, lambda: [I(0, 64, 3, 5), I(0, 64, 3, 5)], ["bitwise_and"]),
    ("mixed_mul", lambda a, b: a * b, lambda: [R(2, 1), I(0, 30, 1, 1, 32)], ["typecast", "multiply"]),
    ("mixed_sub", lambda a, b: a - b, lambda: [R(16) * 9, I(0, 9, 16)], ["subtract"]),
    ("mixed_pow", lambda e: torch.full((), 0.5) ** e, lambda: [torch.arange(1, 5, dtype=torch.int32)], ["pow"]),
    ("full_0d_exp", lambda x, s: x * s.exp(), lambda: [R(3, 4), R(())], ["exp", "multiply"]),
    ("int_argmax", lambda x: x.argmax(-1), lambda: [torch.randperm(40).reshape(2, 20)], ["argmax"]),
    ("all_any", lambda x: torch.stack([(x > -3).all(), (x > 2).any()]), lambda: [R(4, 9)], ["min", "max"]),
    ("all_dim", lambda x: (x > -1).all(-1), lambda: [R(4, 9)], ["min"]),
    ("safe_softmax", lambda x: aten._safe_softmax(x, -1), lambda: [R(2, 3, 45)], ["softmax", "where"]),
    ("safe_softmax_inf", lambda x: aten._safe_softmax(x.masked_fill(x > 100, float("-inf")), -1),
     lambda: [torch.cat([R(1, 9), torch.full((1, 9), 200.0)])], ["softmax"]),
    ("mask_pattern", _mask_pattern, lambda: [torch.tensor([[1] * 30 + [0] * 3, [1] * 33])],
     ["gather", "le", "logical_and"]),
    ("index_rows_neg", lambda x, i: x[i], lambda: [R(49, 3), torch.tensor([0, -1, 5, 48, -49, 7])], ["gather"]),
    ("index_inner", lambda x, i: x[:, i] * 2, lambda: [R(3, 10, 5), torch.tensor([[1, 2], [9, 0]])], ["gather"]),
    ("index_two_dims", lambda x, i: x[torch.arange(2), i], lambda: [R(2, 33, 64), torch.tensor([5, 31])],
     ["gather"]),
    ("index_int_table", lambda x, i: x[i], lambda: [I(-1000, 1000, 12, 5), torch.tensor([3, 3, 11, 0])],
     ["gather"]),
    ("clip_pool", lambda h, ids: h[torch.arange(h.shape[0]), ids.to(torch.int32).argmax(-1)],
     lambda: [R(2, 9, 16), I(0, 500, 2, 9)], ["argmax", "gather"]),
    ("bilinear", lambda x: F.interpolate(x, size=(9, 11), mode="bilinear", align_corners=False),
     lambda: [R(1, 3, 5, 7)], ["gather"]),
    ("stack", lambda a, b: torch.stack([a, b], 1) * 2, lambda: [R(3, 5), R(3, 5)], ["concat"]),
    ("stack_last", lambda a, b: torch.stack([a, b], -1) * 2, lambda: [R(4), R(4)], ["concat"]),
    ("pad", lambda x: F.pad(x, (0, 1, 2, 1)) * 2, lambda: [R(1, 3, 5, 7)], ["pad"]),
    ("pad_value_3d", lambda x: F.pad(x, (3, 0), value=-1.5) * 2, lambda: [R(2, 3, 5)], ["pad"]),
    ("pad_zero", lambda x: F.pad(x, (0, 0, 0, 0)) * 2, lambda: [R(2, 3, 5)], ["multiply"]),
    ("shift_right", _shift_right, lambda: [torch.tensor([[5, 7, -100, 9, 4], [3, -100, 6, 6, 8]])],
     ["concat", "where"]),
    ("t5_bucket", lambda: _t5_bucket(32), lambda: [], ["abs", "where", "log"]),
    ("slice_scatter_float", lambda x, y: x.slice_scatter(y, 1, 2, 5) * 2, lambda: [R(3, 9), R(3, 3)],
     ["concat"]),
    ("select_scatter_float", lambda x, y: x.select_scatter(y, 0, -1) * 2, lambda: [R(4, 6), R(6)], ["concat"]),
    # generate()'s per-token loop on device ids: EOS membership, stop flags, `1 - unfinished`, causal masks
    ("int_isin", lambda x, t: torch.isin(x, t), lambda: [I(0, 9, 3, 5), torch.tensor([1, 4, 7])], ["eq", "max"]),
    ("int_isin_invert", lambda x, t: torch.isin(x, t, invert=True), lambda: [I(0, 4, 7), torch.tensor([2])],
     ["eq", "max"]),
    ("int_and_bool", lambda u, s: u & ~s, lambda: [I(0, 2, 3), torch.tensor([True, False, True])],
     ["bitwise_and"]),
    ("int_rsub", lambda u: 1 - u, lambda: [I(0, 2, 4)], ["rsub"]),
    ("int_max_all", lambda u: u.max() == 0, lambda: [I(-5, 5, 2, 6)], ["max"]),
    ("int_min_all", lambda u: u.min(), lambda: [I(-5, 5, 7)], ["min"]),
    ("bool_tril_triu", lambda x: (x > 0).tril() | (x > 5).triu(1), lambda: [I(-3, 9, 2, 5, 5)], ["tril", "triu"]),
]


@pytest.mark.parametrize("name,fn,inputs,targets", CASES, ids=[c[0] for c in CASES])
def test_rule(name, fn, inputs, targets, device):
    run_case(fn, inputs, targets, device)


def run_case(fn, inputs, targets, device):
    """Compile `fn` on the emulator: nothing on CPU, `targets` in the graph, exact ints, accurate floats."""
    got, ref = compile_lowered(fn, inputs, targets, device)
    assert got.dtype == ref.dtype and got.shape == ref.shape, (got.dtype, ref.dtype, got.shape, ref.shape)
    if not ref.is_floating_point():
        assert torch.equal(got, ref), f"integer/boolean result differs:\n{got}\n{ref}"
    else:
        assert torch.equal(got.isnan(), ref.isnan())
        assert_pcc(ref.nan_to_num(), got.nan_to_num(), 0.99)
        scale = ref.nan_to_num().abs().max().item() + 1e-6
        assert (got - ref).nan_to_num().abs().max().item() <= 0.02 * scale + 0.02


@pytest.mark.parametrize("op,args,kwargs", [
    (aten.ge.Scalar, (torch.ones(3, dtype=torch.int64), 2 ** 40), {}),       # scalar beyond int32
    (aten.index.Tensor, (torch.ones(3, 4), [torch.ones(3, dtype=torch.bool)]), {}),  # boolean mask
    (aten.index.Tensor, (torch.ones(3, 4, 5), [torch.ones(2, dtype=torch.long), None,
                                              torch.ones(2, dtype=torch.long)]), {}),  # separated indices
    (aten.constant_pad_nd.default, (torch.ones(3, 4), [-4, 0]), {}),          # a crop to nothing (empty)
    (aten.slice_scatter.default, (torch.ones(3, 4), torch.ones(3, 2), 1, 0, 4, 2), {}),  # strided write
    (aten.cumsum.default, (torch.ones(3, dtype=torch.int64), 0), {"dtype": torch.float32}),
    (aten.mul.Tensor, (torch.ones(3, dtype=torch.int64), 0.5), {}),             # int * float scalar
])
def test_guards_reject(op, args, kwargs):
    """Guards are exact: what the rules do not express stays on CPU rather than computing something else."""
    from torch_ttnn.lowering import find
    assert find(op, args, kwargs) is None
