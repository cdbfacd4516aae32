"""A TT-NN call that fails only when the program runs: its ATen op moves to CPU, or the error says what failed."""
import importlib

import pytest
import torch
from helpers import assert_pcc

import torch_ttnn
from torch_ttnn.lowering import registry

aten = torch.ops.aten
backend_mod = importlib.import_module("torch_ttnn.compiler.backend")  # the module (the package exports the function)


def _fails_at_run_time(ttnn, x):
    """Valid to record; the emulator refuses it when run (block floats need TILE layout)."""
    return ttnn.typecast(ttnn.to_layout(x, ttnn.ROW_MAJOR_LAYOUT), ttnn.bfloat8_b)


@pytest.fixture
def failing_rule():
    rule = registry.Rule(aten.special_i1.default, _fails_at_run_time, None, "fails_at_run_time")
    registry._RULES[aten.special_i1.default].insert(0, rule)
    try:
        yield
    finally:
        registry._RULES[aten.special_i1.default].remove(rule)


def _f(x):
    return torch.special.i1(torch.relu(x)) * 2


def _compile(device):
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim")
    return torch.compile(_f, backend=torch_ttnn.backend, options=opt), opt


def test_run_time_error_falls_back_to_cpu(device, failing_rule):
    cf, opt = _compile(device)
    x = torch.randn(5, 40)
    before = device.allocated_bytes()
    with torch.no_grad():
        assert_pcc(_f(x), cf(x), 0.999)
        assert_pcc(_f(x + 1), cf(x + 1), 0.999)
    assert device.allocated_bytes() == before, "the failed attempt leaked device memory"
    r = opt.metrics[0]
    assert r["fallbacks"] == {"aten.special_i1.default": 1}, r["fallbacks"]
    reason = r["fallback_reasons"]["aten.special_i1.default"]
    assert "run time" in reason and "fails_at_run_time" in reason and "TILE" in reason, reason
    assert r["lowerings"] == 2 and r["device_ops"] >= 2  # relu and multiply stay on the device


def test_unrecoverable_run_time_error_names_op_rule_and_workaround(device, failing_rule, monkeypatch):
    monkeypatch.setattr(backend_mod, "_MAX_RUNTIME_FALLBACKS", 0)
    cf, _ = _compile(device)
    with pytest.raises(RuntimeError) as e, torch.no_grad():
        cf(torch.randn(5, 40))
    msg = str(e.value)
    for part in ("ttnn.typecast", "aten.special_i1.default", "fails_at_run_time", "TILE", "bypass_compile"):
        assert part in msg, (part, msg)


def test_cpu_op_error_is_the_models_own(device):
    """A value error in an op left on CPU is raised as eager PyTorch raises it, not as a TT-NN failure."""
    def g(x, i):
        return torch.special.i1(x)[i] + 1
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim")
    cg = torch.compile(g, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        cg(torch.randn(4, 3), torch.tensor([0, 3]))
        with pytest.raises(IndexError):
            g(torch.randn(4, 3), torch.tensor([0, 9]))
        with pytest.raises((IndexError, RuntimeError), match="out of bounds|out of range"):
            cg(torch.randn(4, 3), torch.tensor([0, 9]))
