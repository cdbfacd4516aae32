"""The same rules on the eager `ttnn` device: mask building and embeddings of HF models run with no CPU
fallback, and a BERT-style model moved with `model.to("ttnn")` matches CPU."""
import warnings

import pytest
import torch
from helpers import assert_pcc

import torch_ttnn  # noqa: F401  (registers the ttnn device)
from torch_ttnn.device import fallback_counts, reset_fallback_counts

from .test_rules_int_index import _mask_pattern

aten = torch.ops.aten
F = torch.nn.functional


def _eager(fn, *args):
    dev = [a.to("ttnn") for a in args]
    reset_fallback_counts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*dev)
    return out.cpu(), fallback_counts()


CASES = [
    ("embedding_fp32", F.embedding, lambda: [torch.randint(0, 50, (2, 7)), torch.randn(50, 16)]),
    ("mask_pattern", _mask_pattern, lambda: [torch.tensor([[1] * 30 + [0] * 3, [1] * 33])]),
    ("int_to_bool", lambda m: m.to(torch.bool), lambda: [torch.randint(0, 2, (2, 9))]),
    ("all", lambda x: (x > 0).all(), lambda: [torch.rand(3, 8) + 0.1]),
    ("safe_softmax", lambda x: aten._safe_softmax(x, -1), lambda: [torch.randn(2, 3, 40)]),
    ("index_rows", lambda x, i: x[i], lambda: [torch.randn(10, 4), torch.tensor([1, -1, 3])]),
]


@pytest.mark.parametrize("name,fn,inputs", CASES, ids=[c[0] for c in CASES])
def test_eager_rule(name, fn, inputs):
    torch.manual_seed(0)
    args = inputs()
    got, fb = _eager(fn, *args)
    ref = fn(*args)
    assert not fb, f"CPU fallbacks: {fb}"
    assert got.dtype == ref.dtype and got.shape == ref.shape
    if ref.is_floating_point():
        assert_pcc(ref, got, 0.999)
    else:
        assert torch.equal(got, ref)


def test_bert_eager_no_fallback():
    from torch_ttnn import zoo
    ex = zoo.build("bert", "tiny")
    ref = ex.run()
    model = ex.model.to("ttnn")
    kwargs = {k: v.to("ttnn") if isinstance(v, torch.Tensor) else v for k, v in ex.kwargs.items()}
    args = [a.to("ttnn") if isinstance(a, torch.Tensor) else a for a in ex.args]
    reset_fallback_counts()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = ex.output(model(*args, **kwargs)).cpu()
    assert not fallback_counts(), f"CPU fallbacks: {fallback_counts()}"
    assert_pcc(ref, got, 0.99)
