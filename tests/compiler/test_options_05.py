"""Every torch-ttnn 0.5 TorchTtnnOption option, with 0.5's positional order, defaults and meaning."""
import inspect
import json

import pytest
import torch

import torch_ttnn
from torch_ttnn.compiler import memory
from torch_ttnn.compiler.options import TorchTtnnOption

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# 0.5's signature (tenstorrent/pytorch2.0_ttnn torch_ttnn/backend.py), load_params_once and native_integration
# after it as its later test harness passed them
ORDER_05 = ["device", "gen_graphviz", "run_mem_analysis", "run_eviction_opt", "verbose", "metrics_path",
            "tracer_option", "bypass_compile", "use_less_ttnn_op_types", "export_code", "total_num_iterations",
            "data_parallel", "load_params_once", "native_integration"]
DEFAULTS_05 = dict(gen_graphviz=False, run_mem_analysis=False, run_eviction_opt=False, verbose=True,
                   metrics_path="", tracer_option=None, bypass_compile=False, use_less_ttnn_op_types=True,
                   export_code=None, total_num_iterations=1, data_parallel=False, load_params_once=True,
                   native_integration=False)


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 32)).eval()


def _compile_run(option, x=None, model=None):
    torch._dynamo.reset()
    model = model or _mlp()
    x = torch.randn(8, 64) if x is None else x
    with torch.no_grad():
        got = torch.compile(model, backend=torch_ttnn.backend, options=option)(x)
        torch.testing.assert_close(got, model(x), rtol=0.05, atol=0.05)
    return option.metrics


def test_positional_order_and_defaults_are_05s():
    params = inspect.signature(TorchTtnnOption).parameters
    positional = [n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ORDER_05
    assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for n, p in params.items() if n not in ORDER_05)
    o = TorchTtnnOption()
    for name, value in DEFAULTS_05.items():
        assert getattr(o, name) == value, name


def test_positional_call_as_05_wrote_it(device):
    o = TorchTtnnOption(device, False, True, True, False, "", None, False, False)
    assert (o.device, o.run_mem_analysis, o.run_eviction_opt, o.verbose, o.use_less_ttnn_op_types) == \
        (device, True, True, False, False)


@pytest.mark.parametrize("kw, want", [
    (dict(math_fidelity="HiFi4"), ("math_fidelity", "hifi4")),
    (dict(math_fidelity="LoFi"), ("math_fidelity", "lofi")),
    (dict(float_dtype=torch.float32), ("float_dtype", "float32")),
    (dict(float_dtype="BFLOAT16"), ("float_dtype", "bfloat16")),
    (dict(weight_dtype="BFLOAT8_B"), ("weight_dtype", "bfloat8_b")),
])
def test_ttnn_and_torch_spellings(kw, want):
    assert getattr(TorchTtnnOption(**kw), want[0]) == want[1]


def test_ttnn_enum_spellings(ttnn):
    o = TorchTtnnOption(math_fidelity=ttnn.MathFidelity.HiFi4, float_dtype=ttnn.bfloat16,
                        weight_dtype=ttnn.bfloat8_b)
    assert (o.math_fidelity, o.float_dtype, o.weight_dtype) == ("hifi4", "bfloat16", "bfloat8_b")


@pytest.mark.parametrize("spelling", [torch.device("ttnn:0"), torch.device("ttnn"), "ttnn:0", 0])
def test_torch_device_spellings_name_the_ttnn_device(spelling, device):
    assert TorchTtnnOption(device=spelling).device is torch_ttnn.device.ttnn_device(0)


@pytest.mark.parametrize("bad, message", [
    ("cpu", "device must be a TT-NN device"),
    (torch.device("cuda:0"), "device must be a TT-NN device"),
    (torch.device("ttnn:5"), "ttnn:5 does not exist"),
    (3.5, "device must be a TT-NN device"),
    (-1, "device must be a TT-NN device"),
])
def test_a_bad_device_fails_when_the_option_is_made(bad, message):
    with pytest.raises(ValueError, match=message):
        TorchTtnnOption(device=bad)


@pytest.mark.parametrize("kw, err, message", [
    (dict(run_eviction_opt=True), ValueError, "add run_mem_analysis=True"),
    (dict(tracer_option={"model_name": "m"}), ValueError, "missing \\['out_folder'\\]"),
    (dict(tracer_option="x"), TypeError, "tracer_option must be None or a dict"),
    (dict(total_num_iterations=0), ValueError, "total_num_iterations must be an int >= 1"),
    (dict(run_mem_analysis="yes"), TypeError, "run_mem_analysis must be True or False"),
    (dict(verbos=True), TypeError, "did you mean 'verbose'"),
])
def test_bad_values_say_what_is_wrong(kw, err, message):
    with pytest.raises(err, match=message):
        TorchTtnnOption(**kw)


def test_run_mem_analysis_reports_peaks_per_op():
    (r,) = _compile_run(TorchTtnnOption(verbose=False, run_mem_analysis=True, l1=True))
    mem = r["memory"]
    assert mem["per_op"] and mem["peak_dram"] == max(o["dram"] for o in mem["per_op"])
    assert mem["peak_l1_per_bank"] == max(o["l1_per_bank"] for o in mem["per_op"])
    # weights (64x128 and 128x32 bfloat16, tile-padded) stay in DRAM for the whole program
    assert min(o["dram"] for o in mem["per_op"]) >= (64 * 128 + 128 * 32) * 2
    assert mem["peak_l1_per_bank"] > 0 and mem["l1_overflows"] == 0     # activations placed in L1, within it
    (r_off,) = _compile_run(TorchTtnnOption(verbose=False, run_mem_analysis=True, l1=False))
    assert r_off["memory"]["peak_l1_per_bank"] == 0
    assert r_off["memory"]["peak_dram"] > mem["peak_dram"]               # what was in L1 is now in DRAM


def test_eviction_moves_l1_tensors_to_dram_until_every_op_fits(ttnn):
    option = TorchTtnnOption(verbose=False, l1=True)
    _compile_run(option)
    graph = option._out_fx_graphs[-1]
    banks = 64
    before = memory.analyse(graph, banks, 1 << 20)
    small = before.peak_l1_per_bank - 1                 # a bank one byte too small for the plan
    assert memory.analyse(graph, banks, small).overflows()
    moved = memory.evict(graph, ttnn.DRAM_MEMORY_CONFIG, banks, small)
    after = memory.analyse(graph, banks, small)
    assert moved >= 1 and not after.overflows() and after.peak_dram > before.peak_dram


def test_run_eviction_opt_with_the_analysis_finds_nothing_to_move_in_a_planned_program():
    (r,) = _compile_run(TorchTtnnOption(verbose=False, run_mem_analysis=True, run_eviction_opt=True))
    assert r["evicted"] == 0 and r["memory"]["l1_overflows"] == 0


def test_tracer_option_writes_per_op_records(tmp_path):
    opt = TorchTtnnOption(verbose=False, tracer_option={"model_name": "mlp", "out_folder": str(tmp_path),
                                                        "trace_modi": True})
    _compile_run(opt)
    rec = json.loads((tmp_path / "fw_mlp_0.json").read_text())
    ops = [a["op"] for a in rec["aten"]]
    assert "aten.gelu.default" in ops and sum(o.startswith("aten.addmm") for o in ops) == 2
    gelu = next(a for a in rec["aten"] if a["op"] == "aten.gelu.default")
    assert gelu["args"][0] == {"shape": ["8", "128"], "dtype": "float32"} and not gelu["on_cpu"]
    assert any(t["op"] == "linear" for t in rec["ttnn"])
    run = {d["op"]: d for d in rec["device_ops_run"]}
    assert run["ttnn.linear"]["device_ns"] > 0 and run["ttnn.to_device"]["device_ns"] == 0   # transfers cost none


@pytest.mark.parametrize("less", [True, False])
def test_use_less_ttnn_op_types(less):
    class M(torch.nn.Module):
        def forward(self, x):
            return (x.unsqueeze(1) * 2).squeeze(1)
    opt = TorchTtnnOption(verbose=False, use_less_ttnn_op_types=less)
    _compile_run(opt, torch.randn(4, 64), M())
    names = {n.meta.get("ttnn_name") for g in opt._out_fx_graphs for n in g.nodes}
    assert ("unsqueeze" in names and "squeeze" in names) is not less
    assert ("reshape" in names) is less


def test_total_num_iterations_keeps_that_many_calls(tmp_path, capsys):
    opt = TorchTtnnOption(verbose=True, total_num_iterations=3, metrics_path=str(tmp_path))
    torch._dynamo.reset()
    m, x = _mlp(), torch.randn(8, 64)
    f = torch.compile(m, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        for i in range(4):
            f(x)
            printed = "graph 0:" in capsys.readouterr().out
            assert printed == (i == 2)       # the summary once the 3 calls are done
    r = opt.metrics[0]
    assert r["calls"] == 4 and len(r["per_call"]) == 3
    assert [c["h2d"] for c in r["per_call"]] == [5, 1, 1]     # 4 parameters placed once, then the input
    assert r["per_call"][1]["device_time_ms"] < r["per_call"][0]["device_time_ms"]
    assert json.loads((tmp_path / "torch_ttnn_metrics.json").read_text())[0]["calls"] == 3


def test_native_integration_takes_device_tensors_and_refuses_host_ones():
    m = _mlp().to("ttnn")
    x = torch.randn(8, 64)
    opt = TorchTtnnOption(verbose=False, native_integration=True)
    torch._dynamo.reset()
    with torch.no_grad():
        y = torch.compile(m, backend=torch_ttnn.backend, options=opt)(x.to("ttnn"))
    assert y.device.type == "ttnn" and opt.metrics[0]["h2d_per_call"] == 0
    torch._dynamo.reset()
    with pytest.raises(Exception, match="native_integration=True, but graph input"):
        with torch.no_grad():
            torch.compile(_mlp(), backend=torch_ttnn.backend, options=TorchTtnnOption(
                verbose=False, native_integration=True))(x)


def test_backend_name_without_options_is_quiet(capsys):
    torch._dynamo.reset()
    with torch.no_grad():
        torch.compile(_mlp(), backend="ttnn")(torch.randn(2, 64))
    assert "graph 0:" not in capsys.readouterr().out
