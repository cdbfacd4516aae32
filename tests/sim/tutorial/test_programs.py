"""Whole TT-NN programs as TT-NN developers write them: graph capture to find the ops a model runs,
functional models with preprocess_model_parameters, TensorSpec allocation, Shape comparisons, dispatch-core
configs, and a script run under `import ttnn`."""
import subprocess
import sys
import textwrap

import pytest
import torch

from .utils import assert_with_pcc


def test_graph_capture_lists_the_ops_and_host_reads(ttnn, device):
    x = ttnn.from_torch(torch.randn(32, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    w = ttnn.from_torch(torch.randn(64, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    ttnn.graph.begin_graph_capture(ttnn.graph.RunMode.NORMAL)
    assert ttnn.graph.is_graph_capture_active()
    y = ttnn.relu(ttnn.matmul(x, w) + 1.0)
    host = ttnn.to_torch(y)
    captured = ttnn.graph.end_graph_capture()
    calltrace = ttnn.graph.extract_calltrace(captured)
    assert calltrace == ["ttnn::matmul", "ttnn::add", "ttnn::relu", "ttnn.to_torch", "Tensor::cpu"]
    assert sum("Tensor::cpu" in op for op in calltrace) == 1
    assert captured[0]["node_type"] == "capture_start" and captured[-1]["node_type"] == "capture_end"
    starts = [n for n in captured if n["node_type"] == "function_start"]
    assert all({"counter", "params", "connections"} <= set(n) for n in starts)
    assert host.shape == (32, 32)


def test_graph_capture_refuses_nesting(ttnn):
    ttnn.graph.begin_graph_capture()
    try:
        with pytest.raises(RuntimeError, match="already active"):
            ttnn.graph.begin_graph_capture()
    finally:
        ttnn.graph.end_graph_capture()


class Block(torch.nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.query = torch.nn.Linear(hidden, hidden)
        self.norm = torch.nn.LayerNorm(hidden)
        self.layers = torch.nn.ModuleList([torch.nn.Linear(hidden, hidden) for _ in range(2)])

    def forward(self, x):
        x = self.norm(self.query(x))
        for layer in self.layers:
            x = torch.nn.functional.gelu(layer(x))
        return x


def ttnn_block(ttnn, x, parameters):
    """The functional TT-NN version, reading parameters as preprocess_model_parameters lays them out."""
    x = ttnn.linear(x, parameters.query.weight, bias=parameters.query.bias)
    x = ttnn.layer_norm(x, weight=parameters.norm.weight, bias=parameters.norm.bias, epsilon=1e-5)
    for layer in parameters.layers:
        x = ttnn.linear(x, layer.weight, bias=layer.bias, activation="gelu")
    return x


def test_functional_model_with_preprocessed_parameters(ttnn, device):
    torch.manual_seed(0)
    model = Block().eval()
    parameters = ttnn.model_preprocessing.preprocess_model_parameters(initialize_model=lambda: model, device=device)
    assert isinstance(parameters, ttnn.model_preprocessing.ParameterDict)
    assert list(parameters.query.weight.shape) == [64, 64] and list(parameters.query.bias.shape) == [1, 64]
    assert 1 in parameters.layers and 2 not in parameters.layers
    x = torch.randn(1, 32, 64)
    with torch.no_grad():
        expected = model(x)
    tx = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert_with_pcc(expected, ttnn.to_torch(ttnn_block(ttnn, tx, parameters)), 0.99)


def test_custom_preprocessor_and_linear_helpers(ttnn, device):
    linear = torch.nn.Linear(32, 64)

    def custom(module, name):
        if isinstance(module, torch.nn.Linear):
            return {"weight": ttnn.model_preprocessing.preprocess_linear_weight(module.weight, dtype=ttnn.float32),
                    "bias": ttnn.model_preprocessing.preprocess_linear_bias(module.bias, dtype=ttnn.float32)}
        return {}

    params = ttnn.model_preprocessing.preprocess_model_parameters(initialize_model=lambda: linear,
                                                                  custom_preprocessor=custom)
    assert params.weight.dtype == ttnn.float32 and params.weight.device() is None
    assert torch.equal(ttnn.to_torch(params.weight), linear.weight.detach().T)


def test_tensor_spec_and_allocation(ttnn, device):
    spec = ttnn.TensorSpec([2, 32, 64], ttnn.bfloat16, ttnn.TILE_LAYOUT)
    t = ttnn.allocate_tensor_on_device(spec, device)
    assert t.shape == [2, 32, 64] and t.dtype == ttnn.bfloat16 and t.layout == ttnn.TILE_LAYOUT
    host = ttnn.from_torch(torch.randn(2, 32, 64), spec=spec)
    assert host.layout == ttnn.TILE_LAYOUT
    with pytest.raises(RuntimeError, match="needs TILE layout"):
        ttnn.TensorSpec([32, 32], ttnn.bfloat8_b, ttnn.ROW_MAJOR_LAYOUT)


def test_shape_compares_with_lists(ttnn):
    assert ttnn.Shape([4]) == [4]
    assert ttnn.Shape([2, 3]) == (2, 3)
    assert ttnn.Shape([2, 3]) != [3, 2]


def test_dispatch_core_config_and_enums(ttnn):
    cfg = ttnn.DispatchCoreConfig(ttnn.DispatchCoreType.ETH, ttnn.DispatchCoreAxis.COL)
    assert cfg.type == ttnn.DispatchCoreType.ETH and cfg.axis == ttnn.DispatchCoreAxis.COL
    assert ttnn.DispatchCoreConfig().type == ttnn.DispatchCoreType.WORKER
    assert ttnn.TileReshapeMapMode.CACHE.value == 0
    with pytest.raises(TypeError):
        ttnn.DispatchCoreConfig(type="worker")


def test_dot_access_and_activation_goldens(ttnn):
    d = ttnn.dot_access.make_dot_access_dict({"a": {"b": 1}})
    assert d.a.b == 1
    golden = ttnn.operations.activations.get_golden_function_for_activation(
        ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU6))
    assert torch.equal(golden(torch.tensor([-1.0, 7.0])), torch.tensor([0.0, 6.0]))
    with pytest.raises(RuntimeError, match="Unsupported activation"):
        ttnn.operations.activations.get_golden_function_for_activation("no_such_op")


def test_a_script_written_for_ttnn_runs_unchanged(tmp_path):
    """`import ttnn` under `python -m torch_ttnn.sim`, with the submodules TT-NN programs import."""
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent("""
        import torch
        import ttnn
        from ttnn.model_preprocessing import preprocess_linear_weight
        device = ttnn.open_device(device_id=0)
        a = ttnn.from_torch(torch.ones(32, 32), layout=ttnn.TILE_LAYOUT, device=device)
        w = ttnn.to_device(preprocess_linear_weight(torch.eye(32) * 2, dtype=ttnn.bfloat16), device)
        ttnn.graph.begin_graph_capture()
        out = ttnn.to_torch(a @ w + a)
        trace = ttnn.graph.extract_calltrace(ttnn.graph.end_graph_capture())
        assert float(out[0, 0]) == 3.0, out
        print(trace)
        ttnn.close_device(device)
    """))
    proc = subprocess.run([sys.executable, "-m", "torch_ttnn.sim", str(script)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "'ttnn::matmul', 'ttnn::add', 'ttnn.to_torch', 'Tensor::cpu'" in proc.stdout
