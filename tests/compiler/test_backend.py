"""The backend end to end on small modules: lowering, fallback, transfers, memory, options, outputs."""
import os

import pytest
import torch
from helpers import assert_pcc

import torch_ttnn


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.ln = torch.nn.Linear(32, 64), torch.nn.Linear(64, 16), torch.nn.LayerNorm(16)

    def forward(self, x):
        return self.ln(self.l2(torch.nn.functional.gelu(self.l1(x))))


def _compile(model, device, **kw):
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", **kw)
    return torch.compile(model, backend=torch_ttnn.backend, options=opt), opt


def test_mlp_on_device_with_metrics(device):
    torch.manual_seed(0)
    m = MLP().eval()
    cm, opt = _compile(m, device, check_accuracy=True)
    x = torch.randn(4, 32)
    with torch.no_grad():
        assert_pcc(m(x), cm(x), 0.999)
        before = device.allocated_bytes()
        for _ in range(20):
            cm(torch.randn(4, 32))
        assert device.allocated_bytes() == before, "device memory grew across calls"
    r = opt.metrics[0]
    assert r["cpu_ops"] == 0 and r["device_ops"] == r["aten_ops"] > 0
    assert (r["h2d_per_call"], r["d2h_per_call"]) == (1, 1)  # parameters stay on the device
    assert r["device_time_ms"] > 0 and r["pcc"] > 0.999 and r["compile_s"] > 0
    assert "on CPU 0" in opt.summary()
    g = opt._out_fx_graphs[0]
    targets = {n.target for n in g.nodes if n.op == "call_function"}
    assert device_ops_are_runtime_functions(targets)
    assert any(n.kwargs.get("activation") == "gelu" for n in g.nodes), "the GELU is fused into its linear"


def device_ops_are_runtime_functions(targets):
    import torch_ttnn.sim as sim
    return {sim.linear, sim.layer_norm, sim.from_torch, sim.to_torch} <= targets


def test_params_reloaded_when_load_params_once_is_off(device):
    m = MLP().eval()
    cm, opt = _compile(m, device, load_params_once=False)
    with torch.no_grad():
        cm(torch.randn(2, 32))
        cm(torch.randn(2, 32))
    assert opt.metrics[0]["h2d_per_call"] == 1 + 6  # the input and the six parameters, every call


def test_updated_parameters_are_placed_again(device):
    m = MLP().eval()
    cm, opt = _compile(m, device)
    x = torch.randn(2, 32)
    with torch.no_grad():
        cm(x)
        m.l2.bias.add_(1.0)  # an in-place update bumps the version: the device copy is stale
        assert_pcc(m(x), cm(x), 0.999)


def test_fallback_runs_on_cpu_and_is_named(device):
    def f(x):
        return torch.nn.functional.relu(torch.special.i1(x)) * 2  # no rule for i1

    cm, opt = _compile(f, device)
    x = torch.randn(5, 7)
    with torch.no_grad():
        assert_pcc(f(x), cm(x), 0.999)
    r = opt.metrics[0]
    assert r["fallbacks"] == {"aten.special_modified_bessel_i1.default": 1} or \
        list(r["fallbacks"]) and all("i1" in k for k in r["fallbacks"]), r["fallbacks"]
    assert r["device_ops"] >= 2  # relu and multiply still on the device


def test_training_step_matches_cpu(device):
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    ref = torch.nn.Sequential(*[l for l in m])  # same modules: compare grads on a copy
    import copy
    ref = copy.deepcopy(m)
    cm, opt = _compile(m, device)
    x = torch.randn(6, 8)
    cm(x).square().mean().backward()
    ref(x).square().mean().backward()
    for p, q in zip(m.parameters(), ref.parameters()):
        assert_pcc(q.grad, p.grad, 0.99)
    assert len(opt.compiled) == 2  # forward and backward graphs


def test_graphviz_and_export(device, tmp_path):
    cm, opt = _compile(MLP().eval(), device, gen_graphviz=True, metrics_path=str(tmp_path),
                       export_code=str(tmp_path / "model_ttnn.py"))
    with torch.no_grad():
        cm(torch.randn(2, 32))
    files = os.listdir(tmp_path)
    assert any(f.startswith("ttnn_graph_") and f.endswith((".svg", ".dot")) for f in files), files
    assert "torch_ttnn_metrics.json" in files
    code = (tmp_path / "model_ttnn.py").read_text()
    assert "ttnn.linear(" in code and "ttnn.from_torch(" in code and "ttnn.deallocate(" in code


def test_backend_by_name_opens_default_device():
    """backend="ttnn" through dynamo's entry point, no options, no import of torch_ttnn by the caller."""
    torch._dynamo.reset()
    m = MLP().eval()
    x = torch.randn(2, 32)
    with torch.inference_mode():
        assert_pcc(m(x), torch.compile(m, backend="ttnn")(x), 0.999)


@pytest.mark.parametrize("kwargs,err", [
    (dict(verbose="yes"), "verbose must be True or False"),
    (dict(runtime="gpu"), "runtime must be"),
    (dict(data_parallel=-1), "data_parallel"),
    (dict(float_dtype="float64"), "float_dtype"),
    (dict(metrics_path=3), "metrics_path"),
    (dict(colour="red"), "unknown option"),
    (dict(math_fidelity="hifi5"), "math_fidelity must be one of"),
    (dict(math_fidelity="default"), "fp32_accumulation=False"),
    (dict(fp32_accumulation=1), "fp32_accumulation must be True or False"),
])
def test_bad_options(kwargs, err):
    with pytest.raises((TypeError, ValueError), match=err):
        torch_ttnn.TorchTtnnOption(**kwargs)


def test_closed_device_is_rejected_before_work(ttnn):
    class Closed:      # a device object of the emulator's interface, closed
        device_id = 3

        def compute_with_storage_grid_size(self):
            return None

        def is_open(self):
            return False
    with pytest.raises(RuntimeError, match="device 3 is closed"):
        torch_ttnn.TorchTtnnOption(device=Closed(), runtime="sim")
    with pytest.raises(ValueError, match="device must be a TT-NN device"):
        torch_ttnn.TorchTtnnOption(device=object(), runtime="sim")


def test_input_on_another_device_is_rejected(device):
    cm, opt = _compile(lambda x: torch.relu(x) * 2, device)
    with pytest.raises(Exception, match="is on device 'meta'.*Move it"):
        cm(torch.randn(2, 32, device="meta"))
    assert not opt.compiled  # rejected before any tracing or lowering


@pytest.mark.parametrize("bias", [True, False])
def test_conv_weights_prepared_once(device, bias):
    """prepare_conv_weights/bias depend only on parameters: folded, so no call after the first prepares."""
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1, bias=bias), torch.nn.ReLU(),
                            torch.nn.Conv2d(8, 4, 3, stride=2, bias=bias)).eval()
    cm, opt = _compile(m, device)
    x = torch.randn(1, 3, 10, 10)

    def prepares():
        return sum(r.name.startswith("ttnn.prepare_conv") for r in device.op_records)
    with torch.no_grad():
        n0 = prepares()
        cm(x)
        first = prepares() - n0
        assert_pcc(m(x), cm(x), 0.999)
        cm(x)
    assert first == 2 * (1 + bias), "each conv's weight (and bias) prepared on the first call"
    assert prepares() - n0 == first, "weights prepared again on a later call"
    assert opt.metrics[0]["cpu_ops"] == 0


def test_dynamic_shapes_lowered_once(device):
    """dynamic=True: one lowering with symbolic sizes serves every size (reshape sizes evaluated per call)."""
    def f(x):
        n = x.shape[0]
        y = torch.nn.functional.gelu(x).reshape(n * 2, 8) * 3
        return y.softmax(-1).reshape(n, 16).sum(0)

    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim")
    cf = torch.compile(f, backend=torch_ttnn.backend, options=opt, dynamic=True)
    with torch.no_grad():
        for n in (3, 5, 40, 5, 7):
            x = torch.randn(n, 16)
            assert_pcc(f(x), cf(x), 0.999)
    r = opt.metrics[0]
    assert len(opt.compiled) == 1 and r["lowerings"] == 1 and r["symbolic"] and r["calls"] == 5, r
    assert r["cpu_ops"] == 0, r["fallbacks"]


def _configs(opt, names=("matmul", "linear", "conv2d")):
    return [n.kwargs.get("compute_kernel_config", n.kwargs.get("compute_config", "absent"))
            for g in opt._out_fx_graphs for n in g.nodes if getattr(n.target, "__name__", "") in names]


class ConvMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.mlp = torch.nn.Conv2d(3, 8, 3), MLP()

    def forward(self, x):
        return self.mlp(self.conv(x).mean((2, 3)).repeat(1, 4))


@pytest.mark.parametrize("kw,fidelities,fp32", [
    ({}, ("HiFi4", "HiFi2", "HiFi2"), True),               # auto: each family's TT-NN default fidelity
    (dict(math_fidelity="hifi4"), ("HiFi4",) * 3, True),
    (dict(math_fidelity="lofi", fp32_accumulation=False), ("LoFi",) * 3, False),
    (dict(math_fidelity="default", fp32_accumulation=False), None, None),
])
def test_compute_config_follows_options(device, kw, fidelities, fp32):
    """Every conv and product gets the options' compute config; 'default' leaves TT-NN's own (no config)."""
    torch.manual_seed(0)
    m = ConvMLP().eval()
    cm, opt = _compile(m, device, **kw)
    x = torch.randn(2, 3, 10, 10)
    assert_pcc(m(x), cm(x), 0.999)
    cfgs = _configs(opt)
    assert len(cfgs) == 3
    for c, fid in zip(cfgs, fidelities or [None] * 3):
        if fid is None:
            assert c is None or c == "absent"
        else:
            assert c.math_fidelity.name == fid and c.fp32_dest_acc_en is fp32


@pytest.mark.parametrize("float_dtype,weight_dtype,fidelity", [
    ("bfloat16", None, "HiFi2"),         # TT-NN's matmul default for bfloat16 operands
    ("float32", None, "HiFi4"),          # ... and for two float32 operands (create_matmul_attributes)
    ("bfloat8_b", "bfloat8_b", "LoFi"),  # ... and for two block-float operands
])
def test_auto_fidelity_follows_operand_dtypes(device, float_dtype, weight_dtype, fidelity):
    """math_fidelity="auto" is TT-NN's own default for each product's operand dtypes, with float32
    accumulation: a float32 model gets HiFi4, so float_dtype="float32" buys the precision it promises."""
    torch.manual_seed(0)
    m = MLP().eval()
    kw = dict(weight_dtype=weight_dtype) if weight_dtype else {}
    cm, opt = _compile(m, device, float_dtype=float_dtype, **kw)
    cm(torch.randn(4, 32))
    cfgs = _configs(opt)
    assert cfgs and all(c.math_fidelity.name == fidelity and c.fp32_dest_acc_en for c in cfgs), cfgs


def test_auto_fidelity_float32_is_more_accurate(device):
    """The point of the per-dtype default: float32 "auto" (HiFi4) keeps the bits HiFi2 would drop."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(256, 64, bias=False).eval()
    x = torch.randn(32, 256)
    ref = lin(x).double()
    err = {}
    for fid in ("auto", "hifi2"):
        cm, _ = _compile(lin, device, float_dtype="float32", math_fidelity=fid)
        err[fid] = (cm(x).double() - ref).abs().max().item()
    assert err["auto"] * 4 < err["hifi2"], err  # TF32 operands cap HiFi4 (~7x here), not float32


def test_fp32_accumulation_is_more_accurate_on_long_k(device):
    """The reason for the default: a K = 4096 product summed in bf16 per K tile loses digits fp32 keeps."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(4096, 64, bias=False).eval()
    x = torch.randn(32, 4096)
    ref = lin(x).double()
    err = {}
    for acc in (True, False):
        cm, _ = _compile(lin, device, math_fidelity="hifi4", fp32_accumulation=acc)
        err[acc] = (cm(x).double() - ref).abs().mean().item()
    assert err[True] * 3 < err[False], err


def test_concrete_metas_give_every_node_a_fake_value(device):
    """The per-signature lowering path (graphs whose sizes no input determines) re-derives each node's value
    from concrete inputs under a fake mode: every node gets one, with the real shapes."""
    torch.manual_seed(0)
    m = MLP().eval()
    cm, opt = _compile(m, device)
    x = torch.randn(4, 32)
    cm(x)
    cg = opt.compiled[0]
    phs = [n for n in cg.gm.graph.nodes if n.op == "placeholder"]
    metas = cg._concrete_metas([torch.randn(tuple(n.meta["val"].shape)) for n in phs])
    assert set(metas) == {n for n in cg.gm.graph.nodes if n.op != "output"} | {next(iter(reversed(cg.gm.graph.nodes)))}
    for n, v in metas.items():
        if n.op == "call_function" and isinstance(v, torch.Tensor):
            assert tuple(v.shape) == tuple(n.meta["val"].shape)


class ConvBN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8)
        self.conv2, self.bn2 = torch.nn.Conv2d(8, 8, 3, bias=False), torch.nn.BatchNorm2d(8, affine=False)

    def forward(self, x):
        return self.bn2(self.conv2(torch.relu(self.bn(self.conv(x)))))


def _randomise_bn(m):
    with torch.no_grad():
        for bn in (m.bn, m.bn2):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
        m.bn.weight.uniform_(0.5, 1.5)
        m.bn.bias.uniform_(-1, 1)


def test_batchnorm_folded_into_conv_on_the_host(device):
    """Inference BatchNorms after a conv become the conv's weight and bias, computed on the host in float32
    (not device ops, not counted as CPU fallbacks), and refolded when the parameters change."""
    torch.manual_seed(0)
    m = ConvBN().eval()
    _randomise_bn(m)
    cm, opt = _compile(m, device)
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        assert_pcc(m(x), cm(x), 0.999)
        assert opt.compiled[0].folded_batchnorms == 2
        g = opt._out_fx_graphs[0]
        assert not any("batch_norm" in str(n.target) for n in g.nodes)
        assert sum(bool(n.meta.get("host_prep")) for n in g.nodes) >= 8
        assert opt.metrics[0]["cpu_ops"] == 0
        before = cm(x)
        m.bn.running_var.mul_(4)                       # a parameter update: folded again at the next call
        ref, got = m(x), cm(x)
        assert (got - ref).abs().max() < 0.02 * ref.abs().max() < (before - ref).abs().max()


def test_batchnorm_in_training_is_not_folded(device):
    torch.manual_seed(0)
    m = ConvBN().train()
    cm, opt = _compile(m, device)
    x = torch.randn(2, 3, 12, 12)
    cm(x).sum().backward()
    assert all(c.folded_batchnorms == 0 for c in opt.compiled)


@pytest.mark.parametrize("kw,fp32", [({}, True), (dict(math_fidelity="default", fp32_accumulation=False), None)])
def test_norms_and_reductions_get_the_accumulation_policy(device, kw, fp32):
    """layer_norm and the sum/mean reductions accumulate per 32-wide tile in their Dst register: the compiler
    gives them float32 accumulation (HiFi4, TT-NN's own fidelity for them) unless TT-NN's defaults are asked."""
    torch.manual_seed(0)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = MLP()

        def forward(self, x):
            y = self.mlp(x)
            return y - y.mean(-1, keepdim=True) + y.sum()

    cm, opt = _compile(M().eval(), device, **kw)
    cm(torch.randn(4, 32))
    cfgs = [n.kwargs.get("compute_kernel_config", "absent") for g in opt._out_fx_graphs for n in g.nodes
            if getattr(n.target, "__name__", "") in ("layer_norm", "mean", "sum")]
    assert len(cfgs) >= 3, cfgs
    for c in cfgs:
        if fp32 is None:
            assert c is None or c == "absent"
        else:
            assert c.math_fidelity.name == "HiFi4" and c.fp32_dest_acc_en is fp32
