"""TorchTtnnOption(trace=True): steady-state calls replayed from a captured trace, same results, no dispatch."""
import pytest
import torch

import torch_ttnn
from torch_ttnn.sim.cost import program_host_ns


class _Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up, self.down = torch.nn.Linear(64, 128), torch.nn.Linear(128, 64)
        self.norm = torch.nn.LayerNorm(64)

    def forward(self, x):
        return self.norm(x + self.down(torch.nn.functional.gelu(self.up(x))))


def _run(model, device, trace, inputs):
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", trace=trace)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=opt)
    outs, records = [], []
    with torch.no_grad():
        for x in inputs:
            n0 = len(device.op_records)
            outs.append(compiled(x))
            records.append(device.op_records[n0:])
    return outs, records, opt


def test_traced_calls_equal_untraced_ones_on_new_inputs(traced_device):
    torch.manual_seed(0)
    model = _Block().eval()
    inputs = [torch.randn(4, 32, 64, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    plain, plain_recs, _ = _run(model, traced_device, False, inputs)
    traced, traced_recs, opt = _run(model, traced_device, True, inputs)
    for a, b in zip(plain, traced):
        torch.testing.assert_close(b, a, rtol=0, atol=0)      # the same ops on the same values
    (m,) = opt.metrics
    assert m["traced"] and m["trace_reason"] == ""
    steady = traced_recs[-1]
    assert any(r.traced for r in steady)
    assert program_host_ns(steady) < program_host_ns(plain_recs[-1])   # the dispatch is gone
    assert program_host_ns(steady) == pytest.approx(program_host_ns(plain_recs[-1], trace=True))


def test_parameter_update_recaptures(traced_device):
    torch.manual_seed(0)
    model = _Block().eval()
    x = torch.randn(2, 32, 64)
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=traced_device, runtime="sim", trace=True)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        compiled(x)
        compiled(x)
        model.up.weight.mul_(0.5)
        got = compiled(x)
        torch.testing.assert_close(got, model(x), rtol=0.05, atol=0.05)


def test_untraceable_program_says_why(traced_device):
    def fn(x):
        return torch.sin(torch.nonzero(x > 0).float().sum() + x)   # nonzero runs on CPU between device ops
    _, _, opt = _run(fn, traced_device, True, [torch.randn(8, 8)] * 2)
    reasons = [m["trace_reason"] for m in opt.metrics if not m["traced"]]
    assert reasons and all(reasons), opt.metrics


def test_trace_needs_a_trace_region(device):
    old, device.trace_region_size = device.trace_region_size, 0
    try:
        with pytest.raises(ValueError, match="trace_region_size"):
            _run(torch.nn.Linear(4, 4), device, True, [torch.randn(2, 4)])
    finally:
        device.trace_region_size = old


@pytest.mark.parametrize("wdtype, min_pcc", [("bfloat8_b", 0.999), ("bfloat4_b", 0.97)])
def test_weight_dtype_casts_weights_once(device, wdtype, min_pcc):
    """Weights stored as block-float: each matmul/linear reads a constant typecast (folded: once per module),
    the device holds them in the smaller format, and the accuracy cost is measured and bounded."""
    torch.manual_seed(0)
    model = _Block().eval()
    x = torch.randn(4, 32, 64)
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", weight_dtype=wdtype, check_accuracy=True)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        compiled(x)
        n0 = len(device.op_records)
        got = compiled(x)
    (m,) = opt.metrics
    assert m["weight_casts"] == 2 and m["pcc"] >= min_pcc
    assert "ttnn.typecast" not in [r.name for r in device.op_records[n0:]]   # cast once, not per call
    casts = [n for n in opt._out_fx_graphs[0].nodes if n.meta.get("ttnn_name") == "typecast"
             and n.meta.get("dtype") == getattr(torch_ttnn.sim, wdtype)]
    assert len(casts) == 2 and all(n.meta["const"] for n in casts)
    with torch.no_grad():
        torch.testing.assert_close(got, model(x), rtol=0.1, atol=0.1)


def test_weight_dtype_rejects_unknown_formats():
    with pytest.raises(ValueError, match="weight_dtype"):
        torch_ttnn.TorchTtnnOption(weight_dtype="int8")
