"""CPU fallbacks are never silent: a warning per compiled graph with each op, its count and why; guard crashes
reported as crashes; user rules before built-in ones; TORCH_LOGS; recompiles counted; eager copy_ counted."""
import logging
import os
import subprocess
import sys
import warnings

import pytest
import torch

import torch_ttnn
from torch_ttnn.lowering import lookup, lowering, registry
from torch_ttnn.lowering.fallback import TtnnFallbackWarning

aten = torch.ops.aten
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class SumSlice(torch.nn.Module):
    """One op without a rule (col2im: F.fold, which TT-NN has no equivalent of) beside ops that lower."""

    def forward(self, x):
        return torch.nn.functional.fold(torch.nn.functional.gelu(x, approximate="tanh"), (4, 4), 2) * 2


def _compile(model, x, **kw):
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(verbose=False, **kw)
    with torch.no_grad():
        y = torch.compile(model, backend=torch_ttnn.backend, options=opt)(x)
    return opt, y


def test_a_graph_with_cpu_ops_warns_once_with_names_counts_and_reasons(caplog):
    with pytest.warns(TtnnFallbackWarning) as got, caplog.at_level(logging.WARNING, logger="torch_ttnn"):
        opt, y = _compile(SumSlice(), torch.randn(1, 4, 9))
    msgs = [str(w.message) for w in got if issubclass(w.category, TtnnFallbackWarning)]
    assert len(msgs) == 1
    assert "compiled graph 0 runs 1 ATen op(s) on the CPU" in msgs[0]
    assert "aten.col2im.default x1: no lowering rule for this op" in msgs[0]
    assert any("aten.col2im.default x1" in r.getMessage() for r in caplog.records if r.name == "torch_ttnn")
    r = opt.metrics[0]
    assert r["fallbacks"] == {"aten.col2im.default": 1}


def test_no_warning_when_everything_is_on_the_device():
    with warnings.catch_warnings():
        warnings.simplefilter("error", TtnnFallbackWarning)
        opt, _ = _compile(torch.nn.Linear(8, 4), torch.randn(2, 8))
    assert opt.metrics[0]["cpu_ops"] == 0


def test_guard_refusal_names_the_condition():
    x = torch.randn(4, 8)
    why = lookup(aten.gelu.default, (x,), {"approximate": "bogus"}).why_not()
    assert why == "rule gelu: guard refused: `approximate in ('none', 'tanh')` is false"
    why = lookup(aten.slice.Tensor, (x, 0, 0, 4, -1)).why_not()
    assert "`step >= 1` is false" in why


@pytest.fixture
def temporary_rules():
    added = []

    def add(target, rule):
        added.append((target, rule))
    yield add
    for target, _ in added:
        registry._RULES[target] = [r for r in registry._RULES[target] if r.builtin]


def test_a_guard_that_raises_is_reported_as_a_crash(temporary_rules):
    def bad_guard(x, *a, **k):
        raise KeyError("guard bug")

    @lowering(aten.col2im.default, when=bad_guard)
    def never(ttnn, x, *a, **k):
        return x
    temporary_rules(aten.col2im.default, never)
    with pytest.warns(TtnnFallbackWarning, match="rule never: guard crashed: KeyError: 'guard bug'"):
        opt, _ = _compile(SumSlice(), torch.randn(1, 4, 9))
    assert "guard crashed" in opt.metrics[0]["fallback_reasons"]["aten.col2im.default"]


def test_a_rule_that_raises_is_reported_as_a_crash_with_the_exception(temporary_rules):
    @lowering(aten.col2im.default)
    def broken(ttnn, x, *a, **k):
        raise ZeroDivisionError("rule bug")
    temporary_rules(aten.col2im.default, broken)
    with pytest.warns(TtnnFallbackWarning, match="rule broken crashed: ZeroDivisionError: rule bug"):
        _compile(SumSlice(), torch.randn(1, 4, 9))


def test_the_readme_user_rule_takes_precedence_over_the_builtin_one(temporary_rules):
    calls = []

    # the README's example, verbatim but for the call log
    @lowering(aten.addmm.default, when=lambda bias, a, b, beta=1, alpha=1: beta == 1 and alpha == 1)
    def addmm(ttnn, bias, a, b, beta=1, alpha=1):
        calls.append(1)
        return ttnn.linear(a, b, bias=bias)
    temporary_rules(aten.addmm.default, addmm)
    rules = registry.registered()[aten.addmm.default]
    assert rules[0].fn is addmm and not rules[0].builtin and rules[0].priority == 1
    torch.manual_seed(0)
    m, x = torch.nn.Linear(16, 8), torch.randn(4, 16)
    opt, y = _compile(m, x)
    torch.testing.assert_close(y, m(x), rtol=0.05, atol=0.05)
    assert calls, "the user's rule was never used"
    rule_names = {n.meta.get("rule") for g in opt._out_fx_graphs for n in g.nodes}
    assert "addmm" in rule_names


def test_explicit_priority_orders_rules(temporary_rules):
    def low(ttnn, *a, **k):
        return None

    def high(ttnn, *a, **k):
        return None
    lowering(aten.addmm.default, priority=-1)(low)
    lowering(aten.addmm.default, priority=5)(high)
    temporary_rules(aten.addmm.default, low)
    names = [r.name for r in registry.registered()[aten.addmm.default]]
    assert names[0] == "high" and names[-1] == "low"


def test_recompiles_are_counted():
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(verbose=False)
    f = torch.compile(torch.nn.Linear(8, 4), backend=torch_ttnn.backend, options=opt, dynamic=False)
    with torch.no_grad():
        f(torch.randn(2, 8))
        f(torch.randn(3, 8))     # a new batch size with dynamic=False: dynamo recompiles the frame
    recs = opt.metrics
    assert [r["recompile"] for r in recs] == [False, True]
    assert opt.recompiles == 1 and recs[1]["compile_id"].endswith("/1")


def test_eager_broadcasting_copy_is_a_counted_round_trip():
    from torch_ttnn.device import fallback_counts, reset_fallback_counts
    reset_fallback_counts()
    x = torch.zeros(4, 8, device="ttnn")
    with pytest.warns(TtnnFallbackWarning, match=r"broadcast \(1, 8\) -> \(4, 8\) goes through the host"):
        x.copy_(torch.ones(1, 8).to("ttnn"))
    assert fallback_counts() == {"aten.copy_.default": 1}
    torch.testing.assert_close(x.cpu(), torch.ones(4, 8))
    x.copy_(torch.full((4, 8), 2.0).to("ttnn"))      # same shape and dtype: on the device, not counted
    assert fallback_counts() == {"aten.copy_.default": 1}


def test_eager_fallback_warning_says_which_guard_refused():
    from torch_ttnn.device import reset_fallback_counts
    reset_fallback_counts()
    x = torch.randn(4, 8).to("ttnn")
    with pytest.warns(TtnnFallbackWarning, match="rule elu: guard refused: `scale == 1` is false"):
        y = torch.ops.aten.elu.default(x, 1.0, 2.0)
    torch.testing.assert_close(y.cpu(), torch.ops.aten.elu.default(x.cpu(), 1.0, 2.0))


TORCH_LOGS_SCRIPT = """
import torch_ttnn, torch
m = torch.nn.Linear(8, 4)
with torch.no_grad():
    torch.compile(m, backend="ttnn")(torch.randn(2, 8))
"""


@pytest.mark.parametrize("setting, expect", [("ttnn", "[__ttnn] graph 0 lowering 1"),
                                             ("torch_ttnn", "torch-ttnn: graph 0 lowering 1")])
def test_torch_logs(setting, expect):
    env = dict(os.environ, TORCH_LOGS=setting, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-c", TORCH_LOGS_SCRIPT], env=env, capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert expect in p.stderr
    if setting == "ttnn":
        assert "def ttnn_graph_0" in p.stderr         # the lowered program as code
