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
    def fn(x):   # col2im (F.fold) has no rule: it runs on CPU between device ops, reading a device result
        return torch.sin(torch.nn.functional.fold(torch.cos(x), (4, 4), 2))
    _, _, opt = _run(fn, traced_device, True, [torch.randn(1, 16, 9)] * 2)
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


@pytest.mark.parametrize("name", ["bert", "vit"])
def test_hf_encoder_traces_with_inputs_uploaded_first(traced_device, name):
    """A Hugging Face encoder (BERT: ids and attention mask; ViT: pixels) is captured and replayed: every
    per-call upload happens before the first device op (compiler.passes.inputs_first), so the device ops of a
    call form one run. Replays on new inputs equal untraced calls exactly, and cost less host-visible time."""
    from tests.compiler import tiny_hf
    model, make = tiny_hf.build(name)
    model.eval()
    torch.manual_seed(1)
    calls = [make() for _ in range(3)]
    if name == "bert":   # a padded batch: the mask changes per call, so it must be fed, not frozen
        calls = [(ids, (torch.arange(16) < 16 - 3 * i).long()[None]) for i, (ids,) in enumerate(calls)]
    outs = {}
    for trace in (False, True):
        torch._dynamo.reset()
        opt = torch_ttnn.TorchTtnnOption(device=traced_device, runtime="sim", trace=trace, verbose=False)
        compiled = torch.compile(model, backend=torch_ttnn.backend, options=opt)
        got, recs = [], None
        with torch.no_grad():
            for args in calls:
                n0 = len(traced_device.op_records)
                got.append(tiny_hf.tensors(compiled(*args)))
                recs = traced_device.op_records[n0:]
        outs[trace] = (got, recs, opt.metrics)
    (plain, plain_recs, _), (traced, traced_recs, metrics) = outs[False], outs[True]
    assert [m["traced"] for m in metrics] == [True] * len(metrics), [m["trace_reason"] for m in metrics]
    assert traced_recs and all(r.traced for r in traced_recs if r.time_ns)
    for a, b in zip(plain, traced):
        for x, y in zip(a, b):
            torch.testing.assert_close(y, x, rtol=0, atol=0)
    assert program_host_ns(traced_recs) < program_host_ns(plain_recs)


@pytest.mark.parametrize("cache", [True, False])
def test_program_cache_in_the_metrics(device, cache):
    """The backend leaves the program cache on (TT-NN's default) or turns it off; the metrics count the latest
    call's hits, misses and rebuilds and the device's entries. A steady-state call with the cache on builds
    nothing; with it off it rebuilds every program, and its host-visible time says so."""
    torch.manual_seed(0)
    model = _Block().eval()
    try:
        torch._dynamo.reset()
        opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", program_cache=cache, verbose=False)
        compiled = torch.compile(model, backend=torch_ttnn.backend, options=opt)
        with torch.no_grad():
            compiled(torch.randn(2, 32, 64))
            compiled(torch.randn(2, 32, 64))
        (m,) = opt.metrics
        pc = m["program_cache"]
        programs = pc["hit"] + pc["miss"] + pc["uncached"]
        assert programs >= 3 and device.program_cache_enabled == cache
        if cache:
            assert pc["hit"] == programs and pc["compile_ms"] == 0 and pc["entries"] >= programs
        else:
            assert pc["uncached"] == programs and pc["entries"] == 0
            assert m["host_time_ms"] >= m["trace_time_ms"] + pc["compile_ms"] > m["trace_time_ms"]
    finally:
        device.enable_program_cache()


def test_trace_needs_the_program_cache():
    with pytest.raises(ValueError, match="trace=True needs program_cache=True"):
        torch_ttnn.TorchTtnnOption(runtime="sim", trace=True, program_cache=False)
