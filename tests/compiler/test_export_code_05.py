"""TorchTtnnOption(export_code="accuracy" | "profiling"): 0.5's standalone scripts, where 0.5 wrote them
(tests/export_code/<mode>/<metrics_path>_code.py and the inputs beside it), run as a user would run them."""
import os
import re
import subprocess
import sys

import pytest
import torch

import torch_ttnn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TwoGraphs(torch.nn.Module):
    """A graph break (print) between two linears: two compiled graphs in one script."""

    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(32, 64), torch.nn.Linear(64, 8)
        self.register_buffer("scale", torch.linspace(0.5, 1.5, 64))

    def forward(self, x):
        h = torch.nn.functional.gelu(self.a(x)) * self.scale
        print("graph break")
        return self.b(h).softmax(-1)


def _run(script, *extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "torch_ttnn.sim", script, *extra], capture_output=True,
                          text=True, cwd=os.path.dirname(script), timeout=180, env=env)


def _compile_and_call(mode, model, x, metrics_path="mymodel"):
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(export_code=mode, metrics_path=metrics_path, verbose=False)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        compiled(x)
        compiled(x)   # a second call adds nothing: graphs are exported at their first call
    return opt


@pytest.mark.parametrize("mode", ["accuracy", "profiling"])
def test_export_code_writes_0_5_scripts_that_run(mode, device, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opt = _compile_and_call(mode, TwoGraphs().eval(), torch.randn(4, 32))
    assert len(opt.compiled) == 2
    d = tmp_path / "tests" / "export_code" / mode
    assert sorted(os.listdir(d)) == ["mymodel_code.py", "mymodel_inputs.pt"]
    script = str(d / "mymodel_code.py")
    src = open(script).read()
    assert "ttnn.linear(" in src and src.count("def ttnn_graph_") == 2
    r = _run(script)
    assert r.returncode == 0, r.stdout + r.stderr
    if mode == "accuracy":
        assert src.count("torch.ops.aten.addmm.default(") == 2     # the ATen reference of each graph
        found = dict(re.findall(r"^(graph_\d+) accuracy: ([0-9.]+)$", r.stdout, re.M))
        assert set(found) == {"graph_0", "graph_1"}, r.stdout
        assert all(float(v) > 0.99 for v in found.values()), found
        strict = _run(script, "--pcc", "1.0000001")   # a floor no bf16 program reaches: the exit code says so
        assert strict.returncode == 1, strict.stdout
    else:
        assert "torch.ops.aten.addmm" not in src    # profiling runs the TT-NN programs only, as 0.5's did
        assert len(re.findall(r"^graph_\d+: median [0-9.]+ ms over 5 runs", r.stdout, re.M)) == 2, r.stdout


def test_export_code_model_name_defaults_to_model(device, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(export_code="accuracy", verbose=False)
    with torch.no_grad():
        torch.compile(torch.nn.Linear(8, 4), backend=torch_ttnn.backend, options=opt)(torch.randn(2, 8))
    assert (tmp_path / "tests" / "export_code" / "accuracy" / "model_code.py").exists()


def test_export_code_of_a_device_input_graph_warns(device, tmp_path, monkeypatch):
    """Inputs that live on the ttnn device are not a file the script could load: a warning says so."""
    monkeypatch.chdir(tmp_path)
    torch._dynamo.reset()
    model = torch.nn.Linear(8, 4).to("ttnn")
    opt = torch_ttnn.TorchTtnnOption(export_code="accuracy", verbose=False)
    with torch.no_grad(), pytest.warns(UserWarning, match="graph_0 not exported: its inputs are tensors of the"):
        torch.compile(model, backend=torch_ttnn.backend, options=opt)(torch.randn(2, 8).to("ttnn"))
    assert not (tmp_path / "tests").exists()


def test_export_code_bad_value_names_the_choices():
    with pytest.raises(TypeError, match="'accuracy' or 'profiling'"):
        torch_ttnn.TorchTtnnOption(export_code=3)
