"""The `ttnn` torch device: registration, factories, copies, module moves, printing, errors, views, fallback."""
import subprocess
import sys
import warnings

import pytest
import torch

import torch_ttnn
from torch_ttnn import device as tdev
from torch_ttnn.device import TtnnTensor, is_ttnn_tensor

SPELLINGS = ["ttnn", "ttnn:0", torch.device("ttnn"), torch.device("ttnn", 0), torch.device("ttnn:0")]


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("layout", ["row_major", "tile"])
def test_round_trip_exact(ttnn, dtype, layout):
    torch.manual_seed(0)
    x = torch.randint(-1000, 1000, (3, 37, 45)).to(dtype)  # 45, 37: not multiples of 32, TILE pads
    d = tdev.to_ttnn(x, layout=ttnn.TILE_LAYOUT if layout == "tile" else ttnn.ROW_MAJOR_LAYOUT)
    assert d.ttnn_tensor().layout == (ttnn.TILE_LAYOUT if layout == "tile" else ttnn.ROW_MAJOR_LAYOUT)
    back = d.cpu()
    assert back.dtype == dtype and torch.equal(back, x)
    if dtype.is_floating_point:  # the non-integer bits survive too
        y = torch.randn(5, 33, dtype=dtype)
        assert torch.equal(y.to("ttnn").cpu(), y)


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.float16, torch.int16, torch.int8])
def test_round_trip_small_dtypes(dtype):
    x = torch.randint(0, 2 if dtype == torch.bool else 100, (4, 5)).to(dtype)
    d = x.to("ttnn")
    assert d.dtype == dtype and d.device == torch.device("ttnn", 0)
    assert torch.equal(d.cpu(), x)


def test_default_layout_is_row_major_and_switchable(ttnn):
    assert torch.ones(2, 3).to("ttnn").ttnn_tensor().layout == ttnn.ROW_MAJOR_LAYOUT
    tdev.set_default_layout("tile")
    try:
        assert torch.ones(2, 3).to("ttnn").ttnn_tensor().layout == ttnn.TILE_LAYOUT
    finally:
        tdev.set_default_layout("row_major")
    with pytest.raises(ValueError, match="row_major"):
        tdev.set_default_layout("tiles")


def test_int64_out_of_int32_range_is_refused():
    with pytest.raises(RuntimeError, match="do not fit int32"):
        torch.tensor([2**40]).to("ttnn")


@pytest.mark.parametrize("device", SPELLINGS, ids=str)
def test_factories_every_spelling(device):
    z = torch.zeros(2, 3, device=device)
    assert is_ttnn_tensor(z) and z.device == torch.device("ttnn", 0) and z.is_ttnn
    assert torch.equal(z.cpu(), torch.zeros(2, 3))
    assert torch.equal(torch.ones(4, dtype=torch.int32, device=device).cpu(), torch.ones(4, dtype=torch.int32))
    assert torch.equal(torch.full((2, 2), 3.5, device=device).cpu(), torch.full((2, 2), 3.5))
    assert torch.equal(torch.arange(6, device=device).cpu(), torch.arange(6))
    assert torch.equal(torch.tensor([[1, 2], [3, 4]], device=device).cpu(), torch.tensor([[1, 2], [3, 4]]))
    assert torch.empty(3, 1, device=device).shape == (3, 1)
    torch.manual_seed(7)
    r = torch.randn(2, 3, device=device)
    torch.manual_seed(7)
    assert torch.equal(r.cpu(), torch.randn(2, 3))  # random ops draw from torch's own generator
    assert torch.equal(torch.zeros_like(r).cpu(), torch.zeros(2, 3))


def test_to_and_back_with_dtype():
    x = torch.randn(3, 4)
    d = x.to("ttnn:0", dtype=torch.bfloat16)
    assert d.dtype == torch.bfloat16 and d.device.type == "ttnn"
    assert torch.equal(d.cpu(), x.to(torch.bfloat16))
    assert torch.equal(d.to("cpu", dtype=torch.float32), x.to(torch.bfloat16).float())
    assert torch.equal(d.float().cpu(), x.to(torch.bfloat16).float())
    f = torch.tensor([-1.7, 0.2, 2.9]).to("ttnn")
    assert torch.equal(f.to(torch.int32).cpu(), torch.tensor([-1, 0, 2], dtype=torch.int32))  # truncation
    assert torch.equal(f.bool().cpu(), torch.tensor([True, True, True]))


def test_device_module():
    assert torch.ttnn.is_available() and torch.ttnn.device_count() >= 1
    assert torch.ttnn.current_device() == 0
    torch.ttnn.set_device(0)
    with pytest.raises(RuntimeError, match=r"ttnn:5 does not exist: \d+ ttnn device\(s\) found"):
        torch.ttnn.set_device(5)
    x = torch.ones(2).ttnn()  # the generated Tensor.ttnn() method
    assert x.is_ttnn and not torch.ones(2).is_ttnn


def test_unknown_index_says_how_many():
    n = torch.ttnn.device_count()
    with pytest.raises(RuntimeError, match=rf"ttnn:{n + 3} does not exist: {n} ttnn device"):
        torch.zeros(2, device=f"ttnn:{n + 3}")
    with pytest.raises(RuntimeError, match="does not exist"):
        torch.ones(2).to(f"ttnn:{n + 3}")


def test_mixed_devices_error_names_the_tensor():
    a, b = torch.ones(2, 3).to("ttnn"), torch.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"argument 'other' \(shape \(2, 3\)\) is on cpu while argument 'self' "
                                           r"is on ttnn:0. Move it with `other.to\('ttnn'\)`"):
        a + b
    assert torch.equal((a * torch.tensor(2.0)).cpu(), torch.full((2, 3), 2.0))  # 0-dim CPU scalars are fine


def test_missing_runtime_says_what_to_install():
    code = "import torch, torch_ttnn; torch.zeros(2, device='ttnn')"
    env = {"TORCH_TTNN_RUNTIME": "ttnn", "PATH": "/usr/bin:/bin"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode != 0
    assert "pip install torch-ttnn[ttnn]" in p.stderr and "runtime='sim'" in p.stderr, p.stderr[-2000:]


def test_printing():
    x = torch.tensor([[1.5, -2.0], [0.25, 4.0]]).to("ttnn")
    r = repr(x)
    assert r.startswith("tensor([[ 1.5000, -2.0000],") and r.endswith("device='ttnn:0')"), r
    assert str(x) == r and "device='ttnn:0'" in f"{x}"
    w = torch.ones(2, device="ttnn", requires_grad=True)
    assert repr(w).endswith("device='ttnn:0', requires_grad=True)")
    assert "grad_fn=<" in repr(w * 2)
    assert repr(torch.tensor([1, 2]).to("ttnn")) == "tensor([1, 2], device='ttnn:0')"


def test_module_moves_and_state_dict():
    torch.manual_seed(0)
    cpu = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    dev = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)).to("ttnn")
    for t in list(dev.parameters()) + list(dev.buffers()):
        assert is_ttnn_tensor(t) and t.device == torch.device("ttnn", 0)
    assert all(isinstance(p, torch.nn.Parameter) for p in dev.parameters())
    dev.load_state_dict(cpu.state_dict())  # CPU -> device
    sd = dev.state_dict()
    assert all(is_ttnn_tensor(v) for v in sd.values())
    for k, v in cpu.state_dict().items():
        assert torch.equal(sd[k].cpu(), v), k
    back = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    back.load_state_dict(sd)  # device -> CPU
    assert torch.equal(back[0].weight, cpu[0].weight)
    dev.to(torch.bfloat16)  # dtype change on the device swaps the data behind the same Parameter
    assert dev[0].weight.dtype == torch.bfloat16
    assert torch.equal(dev[0].weight.cpu(), cpu[0].weight.to(torch.bfloat16))
    assert not is_ttnn_tensor(dev.cpu()[0].weight)


def test_views_alias_their_base():
    x = torch.zeros(4, 5, device="ttnn")
    ref = torch.zeros(4, 5)
    for t in (x, ref):
        t[1] = 5.0
        t[:, 2].fill_(7.0)
        v = t[0]
        t.add_(1.0)
        t.view(-1)[3:5] = torch.tensor([9.0, 8.0], device=t.device)
    assert torch.equal(x.cpu(), ref)
    v = x[2]
    x.mul_(2)  # a view made before a write sees it
    assert torch.equal(v.cpu(), ref[2] * 2)
    x.detach().zero_()  # detach shares storage
    assert torch.equal(x.cpu(), torch.zeros(4, 5))


def test_fallback_counted_and_warned_once():
    tdev.reset_fallback_counts()
    x = torch.rand(3, 3).to("ttnn")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(3):
            y = torch.special.i0(x)  # a Bessel function: no TT-NN op, no rule
    assert torch.allclose(y.cpu(), torch.special.i0(x.cpu()))
    assert tdev.fallback_counts()["aten.special_i0.default" if "aten.special_i0.default" in
                                  tdev.fallback_counts() else "aten.i0.default"] == 3
    msgs = [str(m.message) for m in w if issubclass(m.category, tdev.TtnnFallbackWarning)]
    assert len(msgs) == 1 and "runs on the CPU" in msgs[0]
    assert w[0].filename == __file__  # the warning points at the user's line


def test_ttnn_tensor_accessors_and_05_api(ttnn, device):
    from torch_ttnn.cpp_extension import ttnn_module
    tdev_ = torch_ttnn.ttnn_device_as_torch_device(device)
    assert tdev_ == torch.device("ttnn", 0) and ttnn_module.as_torch_device(device) == tdev_
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3).to(tdev_)
    t = ttnn_module.get_ttnn_tensor(x)
    assert t is x.ttnn_tensor() and isinstance(t, ttnn.Tensor) and t.device() is device
    assert torch.equal(ttnn.to_torch(t), x.cpu())
    y = torch_ttnn.from_ttnn(ttnn.from_torch(torch.ones(2, 2, dtype=torch.bfloat16), device=device))
    assert isinstance(y, TtnnTensor) and y.dtype == torch.bfloat16 and torch.equal(y.cpu(), torch.ones(2, 2).bfloat16())
    with pytest.raises(TypeError, match="move it with x.to"):
        ttnn_module.get_ttnn_tensor(torch.ones(1))


def test_registration_is_idempotent():
    tdev.register()
    tdev.register()
    assert torch._C._get_privateuse1_backend_name() == "ttnn"


def test_save_load_and_deepcopy(tmp_path):
    import copy
    m = torch.nn.Linear(3, 2).to("ttnn")
    torch.save(m.state_dict(), tmp_path / "sd.pt")
    sd = torch.load(tmp_path / "sd.pt")  # weights_only=True by default
    assert all(is_ttnn_tensor(v) for v in sd.values())
    assert torch.equal(sd["weight"].cpu(), m.weight.cpu())
    cpu_sd = torch.load(tmp_path / "sd.pt", map_location="cpu")
    assert not is_ttnn_tensor(cpu_sd["weight"]) and torch.equal(cpu_sd["weight"], m.weight.cpu())
    m2 = copy.deepcopy(m)
    assert is_ttnn_tensor(m2.weight) and torch.equal(m2.weight.cpu(), m.weight.cpu())
    with torch.no_grad():
        m2.weight.add_(1)
    assert not torch.equal(m2.weight.cpu(), m.weight.cpu()), "a deep copy does not alias the original"


def test_two_devices(monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "n300")  # an emulated n300: two chips
    assert torch.ttnn.device_count() == 2
    a, b = torch.ones(2, 2).to("ttnn:1"), torch.ones(2, 2).to("ttnn:0")
    assert a.device == torch.device("ttnn", 1) and a.ttnn_tensor().device().id() == 1
    with pytest.raises(RuntimeError, match=r"argument 'other' is on ttnn:0 but argument 'self' is on ttnn:1"):
        a + b
    assert torch.equal((a.to("ttnn:0") + b).cpu(), torch.full((2, 2), 2.0))
