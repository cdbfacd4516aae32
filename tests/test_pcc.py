"""The one PCC (torch_ttnn.accuracy): its definition on the degenerate cases, and that every layer uses it."""
import math

import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn import accuracy
from torch_ttnn.compiler import codegen, metrics

NAN, INF = float("nan"), float("inf")
x = torch.linspace(-1, 1, 64)


@pytest.mark.parametrize("expected,actual,want", [
    (torch.full((8,), 3.0), torch.full((8,), 3.0), 1.0),            # constant and equal: in agreement
    (torch.zeros(8), torch.zeros(8), 1.0),
    (torch.empty(0), torch.empty(0), 1.0),
    (torch.full((64,), 0.5), x, 0.0),                                 # constant vs structure: no agreement
    (x, torch.full((64,), 0.5), 0.0),
    (torch.zeros(64), torch.full((64,), 1e-6), 1.0),                  # zero reference vs round-off: allclose
    (torch.full((8,), 3.0), torch.full((8,), 3.1), 0.0),             # two different constants
    (x, x, 1.0),
    (x, -x, -1.0),
    (x, 2 * x + 1, 1.0),                                              # PCC ignores scale and offset
    (torch.tensor([1.0, NAN, 3.0, 4.0]), torch.tensor([1.0, NAN, 3.0, 4.0]), 1.0),   # NaN facing NaN agrees
    (torch.tensor([1.0, INF, 3.0, 5.0]), torch.tensor([1.0, INF, 3.0, 5.0]), 1.0),
    (torch.tensor([1.0, 2.0, 3.0, 5.0]), torch.tensor([1.0, NAN, 3.0, 5.0]), 0.0),   # a NaN result: 0, not hidden
    (torch.tensor([1.0, 2.0, 3.0, 5.0]), torch.tensor([1.0, INF, 3.0, 5.0]), 0.0),
])
def test_pcc_definition(expected, actual, want):
    got = accuracy.pcc(expected, actual)
    assert not math.isnan(got) and got == pytest.approx(want, abs=1e-12), got


def test_pcc_is_the_sample_correlation():
    torch.manual_seed(0)
    a, b = torch.randn(500), torch.randn(500)
    b = a + 0.5 * b
    assert accuracy.pcc(a, b) == pytest.approx(torch.corrcoef(torch.stack([a, b]).double())[0, 1].item(), abs=1e-12)


def test_pcc_refuses_different_sizes():
    with pytest.raises(ValueError, match="same shape"):
        accuracy.pcc(torch.zeros(3), torch.zeros(4))


@pytest.mark.parametrize("expected,actual,want", [
    (torch.full((4,), NAN), torch.full((4,), NAN), 1.0),             # TT: both all-NaN
    (torch.full((4,), NAN), x[:4], 0.0),                               # TT: one all-NaN
    (torch.zeros(64), x, 0.0),                                         # TT: one all-zero -> allclose
    (torch.tensor([1.0, 2.0, 3.0, 5.0]), torch.tensor([1.0, NAN, 3.0, 5.0]), None),  # TT masks NaN to 0
    (torch.full((8,), 2.0), torch.full((8,), 2.0 + 5e-5), 1.0),      # TT: constant -> allclose(1e-5, 1e-4)
])
def test_ttnn_pearson_keeps_tt_conventions(expected, actual, want):
    """The emulator's ttnn.pearson_correlation_coefficient is the real helper's rules over the same pcc."""
    got = ttnn.pearson_correlation_coefficient(expected, actual)
    if want is None:  # masked: [1, 0, 3, 5] against [1, 2, 3, 5], a number below 1 but not 0
        want = accuracy.pcc(expected, torch.tensor([1.0, 0.0, 3.0, 5.0]))
        assert 0 < want < 1
    assert got == pytest.approx(want, abs=1e-12)


def test_every_layer_uses_the_one_pcc():
    """Compiler metrics, tests' helper and the exported scripts' source are the same function."""
    import helpers
    assert metrics.pcc is accuracy.pcc and helpers.pcc is accuracy.pcc
    ns = {"torch": torch}
    exec(codegen.PCC_SOURCE, ns)  # the standalone copy exported scripts carry
    for a, b in ((torch.full((8,), 3.0), torch.full((8,), 3.0)), (torch.full((64,), 0.5), x), (x, x * x)):
        assert ns["pcc"](a, b) == accuracy.pcc(a, b)
