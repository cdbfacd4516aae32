"""Fusion passes (compiler/fuse/): each on its own on a small module (the fused op appears, the unfused ones
are gone, the output is the unfused program's within one bfloat16 rounding), switched off by the option, the
graph helpers, and the zoo's tiny BERT end to end."""
import collections
import gc
from dataclasses import dataclass, field
from typing import Callable

import pytest
import torch
import torch.fx as fx
import torch.nn.functional as F
from helpers import assert_pcc

import torch_ttnn
from torch_ttnn.compiler import fuse as fz

torch.manual_seed(0)


def _compile(model, device, fuse):
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", fuse=fuse)
    return torch.compile(model, backend=torch_ttnn.backend, options=opt), opt


def per_call_ops(opt) -> collections.Counter:
    """TT-NN ops each call runs (constant-folded ones and deallocations excluded), by name."""
    return collections.Counter(n.meta["ttnn_name"] for g in opt._out_fx_graphs for n in g.nodes
                               if n.op == "call_function" and not n.meta.get("const")
                               and n.meta.get("ttnn_name") not in (None, "deallocate", "from_torch", "to_torch"))


def fused_nodes(opt, pred):
    return [n for g in opt._out_fx_graphs for n in g.nodes if n.op == "call_function" and pred(n)]


def run(model, args, device, fuse):
    cm, opt = _compile(model, device, fuse)
    with torch.no_grad():
        out = cm(*args)
    return out, opt


def assert_one_rounding(fused: torch.Tensor, unfused: torch.Tensor):
    """Equal up to one bfloat16 rounding of an intermediate: PCC and a max error of an ulp at the largest value."""
    assert_pcc(unfused, fused, 0.999)
    err = (fused.float() - unfused.float()).abs().max().item()
    assert err <= 2 ** -7 * unfused.float().abs().max().item(), err


# --- small modules, one per pattern ------------------------------------------------------------------------
class MatmulBias(torch.nn.Module):
    """x @ W + b with a 3-D x: mm on the flattened rows, a reshape back, then the bias row added."""
    def __init__(self):
        super().__init__()
        self.w, self.b = torch.nn.Parameter(torch.randn(64, 96) / 8), torch.nn.Parameter(torch.randn(96))

    def forward(self, x):
        return torch.matmul(x, self.w) + self.b


class LinearAct(torch.nn.Module):
    def __init__(self, act):
        super().__init__()
        self.lin, self.act = torch.nn.Linear(64, 96), act

    def forward(self, x):
        return self.act(self.lin(x))


class Attention(torch.nn.Module):
    """A BERT-style self-attention block: Q/K/V projections split into heads, SDPA, heads merged, output
    projection, residual add + LayerNorm."""
    def __init__(self, hidden=64, heads=2):
        super().__init__()
        self.q, self.k, self.v, self.o = (torch.nn.Linear(hidden, hidden) for _ in range(4))
        self.ln, self.heads = torch.nn.LayerNorm(hidden), heads

    def split(self, t):
        b, s, h = t.shape
        return t.view(b, s, self.heads, h // self.heads).transpose(1, 2)

    def forward(self, x):
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        a = F.scaled_dot_product_attention(q, k, v)
        b, _, s, _ = a.shape
        return self.ln(x + self.o(a.transpose(1, 2).reshape(b, s, -1)))


class FusedQKV(torch.nn.Module):
    """GPT-2's attention: one projection to [Q | K | V], sliced in three, each split into heads."""
    def __init__(self, hidden=64, heads=2):
        super().__init__()
        self.qkv, self.hidden, self.heads = torch.nn.Linear(hidden, 3 * hidden), hidden, heads

    def forward(self, x):
        b, s, _ = x.shape
        q, k, v = (t.view(b, s, self.heads, -1).transpose(1, 2) for t in self.qkv(x).split(self.hidden, -1))
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


class RoundTrips(torch.nn.Module):
    """Reshapes that undo each other, permutes that cancel, and a linear on flattened rows."""
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(64, 32)

    def forward(self, x):
        y = x.reshape(4, 16, 64).reshape(2, 32, 64).permute(0, 2, 1).permute(0, 2, 1)
        return self.lin(y.reshape(64, 64)).reshape(2, 32, 32) * 2


class TwoMaskedAttentions(torch.nn.Module):
    """Two attentions under one boolean mask: each lowers its own additive mask from it."""
    def forward(self, x):
        mask = x > 0
        a = F.scaled_dot_product_attention(x, x, x, attn_mask=mask)
        return F.scaled_dot_product_attention(a, a, a, attn_mask=mask)


@dataclass
class Case:
    """A pass on its own: the module, what the fused program must hold and no longer hold, fusions expected."""
    pass_name: str
    model: Callable[[], torch.nn.Module]
    shape: tuple
    fused: Callable[[fx.Node], bool]
    gone: dict = field(default_factory=dict)   # ttnn op -> how many fewer per call
    fusions: int = 1


def _readers(n) -> int:
    return sum(u.meta.get("ttnn_name") != "deallocate" for u in n.users)


def _is(name, **kw):
    return lambda n: n.meta.get("ttnn_name") == name and all(n.kwargs.get(k) == v for k, v in kw.items())


CASES = [
    # the mask's where (and the two constants it selects between), its clamp to -1e9 and its row test (max, gt:
    # rows that attend nothing give 0, lowering/rules/matmul.py): one clamped mask read by both attentions
    Case("common_ops", TwoMaskedAttentions, (1, 2, 32, 32), lambda n: _is("maximum")(n) and _readers(n) == 2,
         {"where": 1, "maximum": 1, "max": 1, "gt": 1}, fusions=6),
    Case("matmul_bias", MatmulBias, (2, 32, 64), lambda n: _is("linear")(n) and n.kwargs.get("bias") is not None,
         {"matmul": 1, "add": 1}),
    *(Case("linear_activation", lambda a=act: LinearAct(a), (2, 32, 64), _is("linear", activation=name), {op: 1})
      for act, name, op in [(torch.nn.ReLU(), "relu", "relu"), (torch.nn.GELU(), "gelu", "gelu"),
                            (torch.nn.SiLU(), "silu", "silu"),
                            (torch.nn.Sigmoid(), "sigmoid", "sigmoid"), (torch.nn.Tanh(), "tanh", "tanh")]),
    Case("qkv_heads", Attention, (2, 32, 64), _is("split_query_key_value_and_split_heads", num_heads=2,
                                                  transpose_key=False), {"linear": 2, "permute": 3}),
    Case("qkv_heads", FusedQKV, (2, 32, 64), _is("split_query_key_value_and_split_heads", num_heads=2),
         {"slice": 3, "reshape": 3, "permute": 3}),
    Case("concat_heads", Attention, (2, 32, 64), _is("concatenate_heads"), {"permute": 1}),
    Case("residual_layer_norm", Attention, (2, 32, 64),
         lambda n: _is("layer_norm")(n) and n.kwargs.get("residual_input_tensor") is not None, {"add": 1}),
    Case("reshapes", RoundTrips, (2, 32, 64), lambda n: _is("linear")(n) and len(n.meta["shape"]) == 3,
         {"reshape": 4, "permute": 2}, fusions=4),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.pass_name}-{c.model().__class__.__name__}")
def test_pass_alone(case, device):
    torch.manual_seed(0)
    model = case.model().eval()
    x = torch.randn(case.shape)
    with torch.no_grad():
        ref = model(x)
    fused, on = run(model, (x,), device, {case.pass_name})
    unfused, off = run(model, (x,), device, False)
    assert fused_nodes(on, case.fused), "the fused op is in the program"
    assert not fused_nodes(off, case.fused), "...and not without the pass"
    ops_on, ops_off = per_call_ops(on), per_call_ops(off)
    for op, fewer in case.gone.items():
        assert ops_off[op] - ops_on[op] == fewer, (op, ops_off[op], ops_on[op])
    assert on.metrics[0]["fusions"] == {case.pass_name: case.fusions}
    assert off.metrics[0]["fusions"] == {}
    assert f"fusions {case.pass_name} x{case.fusions}" in on.summary()
    assert_one_rounding(fused, unfused)
    assert_pcc(ref, fused, 0.99)


@pytest.mark.parametrize("passes", [True, fz.PASS_NAMES, set(fz.PASS_NAMES) - {"qkv_heads"}, ["reshapes"]],
                         ids=["all", "names", "all_but_qkv", "list"])
def test_option_selects_passes(passes, device):
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", fuse=passes)
    assert opt.fuse == (frozenset(fz.PASS_NAMES) if passes is True else frozenset(passes))
    out, opt = run(Attention().eval(), (torch.randn(1, 32, 64),), device, passes)
    assert set(opt.metrics[0]["fusions"]) == set(opt.fuse)


@pytest.mark.parametrize("bad, err", [({"qkv"}, ValueError), ("reshapes", TypeError), (1, TypeError)])
def test_option_rejects(bad, err):
    with pytest.raises(err, match="TorchTtnnOption"):
        torch_ttnn.TorchTtnnOption(fuse=bad)


def test_fused_attention_memory_and_accuracy(device):
    """Every pass on the attention block: device memory is back where it was after each call (the split's
    outputs and the concatenated weights are freed or kept as they should be), and the output matches."""
    torch.manual_seed(0)
    model = Attention().eval()
    cm, opt = _compile(model, device, True)
    with torch.no_grad():
        x = torch.randn(2, 32, 64)
        assert_pcc(model(x), cm(x), 0.999)
        gc.collect()
        before = device.allocated_bytes()
        for _ in range(5):
            cm(torch.randn(2, 32, 64))
        gc.collect()
        assert device.allocated_bytes() == before
    ops = per_call_ops(opt)
    assert ops["concat"] == 0, "the concatenated QKV weights are constants, computed once"
    assert ops["permute"] == 0 and ops["add"] == 0


@pytest.mark.parametrize("heads", [4, 1])
def test_qkv_needs_whole_tile_heads(heads, device):
    """Head size 16 (4 heads of 64) is not a whole tile: TT-NN's split op rejects it, so nothing is fused."""
    _, opt = run(Attention(64, heads).eval(), (torch.randn(1, 32, 64),), device, {"qkv_heads", "concat_heads"})
    n = 1 if heads == 1 else 0
    assert opt.metrics[0]["fusions"] == {"qkv_heads": n, "concat_heads": n}


def test_toposort_moves_inputs_up():
    g = fx.Graph()
    x = g.placeholder("x")
    a = g.call_function(torch.neg, (x,))
    b = g.call_function(torch.abs, (x,))
    g.output((a, b))
    a.args = (b,)  # a now reads b, which comes after it
    fz._toposort(g)
    g.lint()
    assert [n.name for n in g.nodes] == ["x", "abs_1", "neg", "output"]


def test_bert_tiny_end_to_end(device):
    """The zoo's BERT: fewer ops, less estimated device time, the same accuracy."""
    from torch_ttnn import zoo
    ex = zoo.build("bert", size="tiny")
    ref = ex.run()
    results = {}
    for fuse in (False, True):
        cm, opt = _compile(ex.model, device, fuse)
        ex.run(cm)
        n0 = len(device.op_records)
        got = ex.run(cm)
        recs = device.op_records[n0:]
        results[fuse] = (len(recs), sum(r.time_ns for r in recs), opt.metrics[0])
        assert_pcc(ref, got, 0.99)
    (ops0, t0, _), (ops1, t1, m) = results[False], results[True]
    # Half the ops; the time saved is less than half since views (most of the removed reshapes) cost nothing.
    assert ops1 < 0.5 * ops0 and t1 < 0.67 * t0, (ops0, ops1, t0, t1)
    layers = ex.model.config.num_hidden_layers
    f = m["fusions"]
    assert f["common_ops"] > 0
    assert (f["qkv_heads"], f["concat_heads"], f["residual_layer_norm"]) == (layers, layers, 2 * layers + 1)
    assert f["linear_activation"] == layers + 1  # the FFN GELUs and the pooler's tanh


def test_tanh_gelu_is_the_tanh_variant_not_the_lut(device):
    """torch's GELU("tanh") lowers to ttnn.gelu(variant=Tanh), which no activation string names, so it is not
    fused into linear: "gelu_approx" (like fast_and_approximate_mode=True) is TT-NN's FastLut kernel, ~0.02 off."""
    torch.manual_seed(0)
    model = LinearAct(torch.nn.GELU("tanh")).eval()
    x = torch.randn(2, 32, 64)
    with torch.no_grad():
        ref = model(x)
    out, opt = run(model, (x,), device, {"linear_activation"})
    gelus = fused_nodes(opt, lambda n: n.meta.get("ttnn_name") == "gelu")
    assert len(gelus) == 1 and gelus[0].kwargs.get("variant").name == "Tanh"
    assert not fused_nodes(opt, lambda n: n.kwargs.get("activation") == "gelu_approx")
    assert (out.float() - ref).abs().max() <= 2 ** -7 * ref.abs().max() * 2


class MaskedAttention(Attention):
    """Attention under a boolean padding mask [B, 1, S, S] (its rows that attend nothing give 0: the lowering
    multiplies the attention's result per query row)."""
    def forward(self, x, mask):
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        b, _, s, _ = a.shape
        return self.o(a.transpose(1, 2).reshape(b, s, -1))


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "row-scaled"])
def test_sdpa_writes_the_concatenated_heads(masked, device):
    """concatenate_heads(SDPA) -> SDPA(output_concat_heads=True) + a view: one op fewer per attention, the same
    values bit for bit (a row scale between them moves after the attention)."""
    torch.manual_seed(0)
    model, x = MaskedAttention().eval(), torch.randn(2, 32, 64)
    keys = torch.rand(2, 1, 1, 32) > 0.3
    keys[..., 0] = True
    mask = keys.expand(2, 1, 32, 32).clone()
    mask[1, :, 5] = False                                       # a row that attends nothing
    args = (x, mask) if masked else (x, None)
    with torch.no_grad():
        ref = model(*args)
    on_out, on = run(model, args, device, {"qkv_heads", "concat_heads", "sdpa_concat_heads"})
    off_out, off = run(model, args, device, {"qkv_heads", "concat_heads"})
    assert on.metrics[0]["fusions"]["sdpa_concat_heads"] == 1
    assert fused_nodes(on, _is("scaled_dot_product_attention", output_concat_heads=True))
    ops_on, ops_off = per_call_ops(on), per_call_ops(off)
    assert ops_off["concatenate_heads"] == 1 and ops_on["concatenate_heads"] == 0
    assert ops_on["multiply"] == ops_off["multiply"] == (1 if masked else 0)
    assert torch.equal(on_out, off_out)
    assert_pcc(ref, on_out, 0.99)


def test_sdpa_concat_heads_needs_the_attention_as_sole_reader(device):
    """An attention result read by something else as well keeps its own concatenate_heads."""
    class Twice(Attention):
        def forward(self, x):
            q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
            a = F.scaled_dot_product_attention(q, k, v)
            b, _, s, _ = a.shape
            return self.o(a.transpose(1, 2).reshape(b, s, -1)), a.sum()
    _, opt = run(Twice().eval(), (torch.randn(2, 32, 64),), device, {"qkv_heads", "concat_heads",
                                                                      "sdpa_concat_heads"})
    assert opt.metrics[0]["fusions"]["sdpa_concat_heads"] == 0 and per_call_ops(opt)["concatenate_heads"] == 1


def test_out_projection_reads_the_attention_as_rows_of_three_dims(device):
    """With every pass, the output projection after SDPA(output_concat_heads=True) [B, 1, S, H*D] reads a free
    [B, S, H*D] view and writes [B, S, H] (rank 3, as after concatenate_heads: the shard planner's candidates)."""
    torch.manual_seed(0)
    x = torch.randn(2, 32, 64)
    model = Attention().eval()
    out, opt = run(model, (x,), device, True)
    linears = fused_nodes(opt, lambda n: _is("linear")(n) and not n.meta.get("const"))
    assert all(len(n.meta["shape"]) == 3 for n in linears), [n.meta["shape"] for n in linears]
    assert per_call_ops(opt)["concatenate_heads"] == 0
    with torch.no_grad():
        assert_pcc(model(x), out, 0.999)
