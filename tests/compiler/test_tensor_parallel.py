"""Tensor parallel on emulated meshes (compiler/tensor_parallel.py): Megatron column/row-parallel linears found
from the ATen graph, attention heads split over the chips, one all_reduce per row-parallel linear; regions it
does not recognise run replicated with the reason; data + tensor parallel on a 2-D mesh."""
import os
import sys

import pytest
import torch
import torch.nn as nn
import transformers as T

import torch_ttnn
import torch_ttnn.sim as ttnn

from helpers import pcc
sys.path.insert(0, os.path.dirname(__file__))
from tiny_hf import build, tensors  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def tp_model(name, hidden=128, layers=2, heads=8, kv_heads=None, inter=256, vocab=128, init=0.2):
    """A tiny HF model whose heads divide 8 chips (Llama: GQA, two query heads per key/value head)."""
    torch.manual_seed(0)
    if name == "bert":
        c = T.BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         intermediate_size=inter, max_position_embeddings=256)
        return T.BertModel(c).eval()
    c = T.LlamaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      num_key_value_heads=kv_heads or heads // 2, intermediate_size=inter,
                      max_position_embeddings=256, initializer_range=init, bos_token_id=0, eos_token_id=1)
    return T.LlamaForCausalLM(c).eval()


def _run(model, x, option, **kw):
    torch._dynamo.reset()
    with torch.no_grad():
        ref = tensors(model(x, **kw))
        got = tensors(torch.compile(model, backend=torch_ttnn.backend, options=option)(x, **kw))
    assert len(got) == len(ref)
    for r, g in zip(ref, got):
        assert g.shape == r.shape
        assert pcc(r, g) >= 0.99
    return option.metrics


@pytest.mark.parametrize("name", ["bert", "llama"])
@pytest.mark.parametrize("preset, shape", [("n300", (1, 2)), ("t3000", (2, 4))])
def test_transformer_blocks_split_megatron_style(mesh_of, name, preset, shape):
    mesh = mesh_of(preset, shape)
    chips = shape[0] * shape[1]
    model = tp_model(name, heads=16, kv_heads=8, hidden=256) if chips == 8 else tp_model(name)
    x = torch.randint(0, 128, (1, 32))
    [m] = _run(model, x, torch_ttnn.TorchTtnnOption(device=mesh, tensor_parallel=True, verbose=False),
               **({"use_cache": False} if name == "llama" else {}))
    tp = m["mesh"]["tensor_parallel"]
    layers = 2
    # per block: Q, K, V and up (+ gate for Llama) column-parallel; attention output and down row-parallel
    cols_per_block = 5 if name == "llama" else 4
    extra = 1  # Llama's LM head, BERT's pooler: column-parallel, their split output all-gathered
    assert (tp["chips"], len(tp["column_parallel"]), len(tp["row_parallel"])) == \
        (chips, cols_per_block * layers + extra, 2 * layers)
    assert tp["all_reduces"] == 2 * layers and tp["all_gathers"] == 1 and tp["replicated_linears"] == {}
    assert m["cpu_ops"] == 0 and m["fallbacks"] == {}
    per_chip = m["mesh"]["device_time_per_chip_ms"]
    assert len(per_chip) == chips and m["device_time_ms"] == max(per_chip) > 0
    assert 0 < m["mesh"]["collective_ms"] < m["device_time_ms"]


def test_gqa_attention_with_a_kv_cache_split_by_heads(mesh_of):
    """HF's DynamicCache: the key/value cache outputs are split by heads and all-gathered for the caller."""
    mesh = mesh_of("n300", (1, 2))
    model, inputs = build("llama")     # 4 query heads, 2 key/value heads
    [m] = _run(model.eval(), inputs()[0], torch_ttnn.TorchTtnnOption(device=mesh, tensor_parallel=True,
                                                                    verbose=False))
    tp = m["mesh"]["tensor_parallel"]
    assert tp["all_reduces"] == 4 and tp["replicated_linears"] == {}
    assert tp["all_gathers"] == 5        # the logits and the 2 x 2 key/value cache tensors


def _steady_device_ms(model, x, option) -> float:
    """Est. device time of the second call (the first also places the weights and folds constants)."""
    torch._dynamo.reset()
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        compiled(x, use_cache=False)
        compiled(x, use_cache=False)
    return option.metrics[0]


def test_per_chip_time_falls_with_tensor_parallel(mesh_of):
    """A shape where the matmuls dominate: each chip holds half the weights and does half the work, so its est.
    device time, all_reduces included, is well below the single chip's (norms, residuals and the collectives
    are what keep it above half)."""
    model = tp_model("llama", hidden=2048, layers=1, heads=16, kv_heads=8, inter=8192, vocab=256, init=0.02)
    x = torch.randint(0, 256, (1, 128))
    single = _steady_device_ms(model, x, torch_ttnn.TorchTtnnOption(verbose=False))
    mesh = mesh_of("n300", (1, 2))
    tp = _steady_device_ms(model, x, torch_ttnn.TorchTtnnOption(device=mesh, tensor_parallel=True, verbose=False))
    assert tp["mesh"]["tensor_parallel"]["replicated_linears"] == {}
    assert tp["mesh"]["collective_ms"] > 0
    assert tp["device_time_ms"] < 0.8 * single["device_time_ms"]


def test_heads_that_do_not_divide_run_replicated_with_the_reason(mesh_of):
    """Tiny Llama has 4 query and 2 key/value heads: over 8 chips its attention cannot split; the MLPs still do."""
    mesh = mesh_of("t3000", (2, 4))
    model, inputs = build("llama")
    [m] = _run(model.eval(), inputs()[0], torch_ttnn.TorchTtnnOption(device=mesh, tensor_parallel=True,
                                                                    verbose=False), use_cache=False)
    tp = m["mesh"]["tensor_parallel"]
    why = tp["replicated_linears"]
    assert any("(heads?) does not split over 8 chips" in r for r in why.values()), why
    assert tp["all_reduces"] == 2 and len(tp["row_parallel"]) == 2     # the two MLPs' down projections


class _NormInside(nn.Module):
    """A linear pair with a LayerNorm over the split features between: not a Megatron pattern."""

    def __init__(self):
        super().__init__()
        self.up, self.norm, self.down = nn.Linear(64, 128), nn.LayerNorm(128), nn.Linear(128, 64)

    def forward(self, x):
        return self.down(torch.relu(self.norm(self.up(x))))


def test_unrecognised_region_falls_back_to_replicated(mesh_of):
    mesh = mesh_of("n300", (1, 2))
    torch.manual_seed(0)
    [m] = _run(_NormInside().eval(), torch.randn(2, 32, 64),
               torch_ttnn.TorchTtnnOption(device=mesh, tensor_parallel=True, verbose=False))
    tp = m["mesh"]["tensor_parallel"]
    assert tp["all_reduces"] == 0 and "native_layer_norm" in tp["replicated_linears"]["addmm"], tp
    # the second linear then starts a region of its own that ends at the output: split, all-gathered
    assert tp["column_parallel"] == ["addmm_1"] and tp["all_gathers"] == 1


@pytest.mark.parametrize("preset, shape", [("t3000", (2, 4)), ("galaxy", (8, 4))])
def test_data_and_tensor_parallel_on_a_2d_mesh(mesh_of, preset, shape):
    """The batch over the mesh rows (data parallel), each block's layers over the 4 columns."""
    mesh = mesh_of(preset, shape)
    model = tp_model("llama")            # 8 query heads, 4 key/value heads: 2 and 1 per chip
    x = torch.randint(0, 128, (shape[0], 32))
    [m] = _run(model, x, torch_ttnn.TorchTtnnOption(device=mesh, data_parallel=True, data_parallel_axis=0,
                                                   tensor_parallel=True, verbose=False))
    tp, dp = m["mesh"]["tensor_parallel"], m["mesh"]["data_parallel"]
    assert (tp["chips"], tp["cluster_axis"], dp["chips"], dp["per_chip_batch"]) == (4, 1, shape[0], 1)
    assert len(m["mesh"]["device_time_per_chip_ms"]) == shape[0] * shape[1]
    assert tp["all_reduces"] == 4 and tp["replicated_linears"] == {}


def test_tensor_parallel_needs_a_mesh_and_an_axis_of_its_own(mesh_of):
    with pytest.raises(ValueError, match="tensor_parallel=True.*open_mesh_device"):
        torch_ttnn.TorchTtnnOption(device=ttnn.open_device(device_id=0), tensor_parallel=True)
    mesh = mesh_of("t3000", (2, 4))
    with pytest.raises(ValueError, match="no mesh axis for tensor_parallel: set data_parallel_axis"):
        torch_ttnn.TorchTtnnOption(device=mesh, data_parallel=True, tensor_parallel=True)


def test_collectives_have_no_cpu_meaning():
    with pytest.raises(RuntimeError, match="collective over the chips of a mesh"):
        torch.ops.torch_ttnn.mesh_all_reduce(torch.ones(2, 2), 1)


def test_a_cpu_op_inside_a_region_rejects_the_region(mesh_of, monkeypatch):
    """An op of a region that runs on the CPU would see one chip's slice as the whole value: the region is
    rejected while lowering and the graph lowered again, replicated there, with the reason."""
    from torch_ttnn.compiler import lower as lower_mod
    from torch_ttnn.lowering.registry import Lookup
    real = lower_mod.lookup
    monkeypatch.setattr(lower_mod, "lookup", lambda target, *a, **k: Lookup(None, ()) if
                        target is torch.ops.aten.silu.default else real(target, *a, **k))
    mesh = mesh_of("n300", (1, 2))
    model, inputs = build("llama")
    [m] = _run(model.eval(), inputs()[0], torch_ttnn.TorchTtnnOption(device=mesh, tensor_parallel=True,
                                                                    verbose=False), use_cache=False)
    tp = m["mesh"]["tensor_parallel"]
    assert m["fallbacks"] == {"aten.silu.default": 2}
    assert "runs on the CPU" in tp["replicated_linears"]["mm_4"]     # layer 0's MLP gate projection
    assert tp["all_reduces"] == 2                                   # the attention blocks still split


def test_exported_script_runs_the_split_program(mesh_of, tmp_path, monkeypatch):
    """export_code on a mesh: the mappers are written as the TT-NN calls that make them, and the script, run on
    the mesh with the graph's own inputs, gives what the compiled model gave."""
    import inspect
    import math
    import operator

    import torch_ttnn.compiler.mesh  # noqa: F401  (the host gather the script calls)
    from torch_ttnn.compiler.backend import CompiledGraph
    mesh = mesh_of("n300", (1, 2))
    model, x = tp_model("bert", layers=1), torch.randint(0, 128, (1, 32))
    path = tmp_path / "tp.py"
    seen = []
    call = CompiledGraph.__call__
    monkeypatch.setattr(CompiledGraph, "__call__", lambda self, *a: seen.append(a) or call(self, *a))
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=mesh, tensor_parallel=True, verbose=False, export_code=str(path))
    with torch.no_grad():
        got = torch.compile(model, backend=torch_ttnn.backend, options=opt)(x).last_hidden_state
    src = path.read_text()
    assert "ttnn.ShardTensorToMesh(device, dim=0)" in src and "ttnn.all_reduce(" in src
    ns = {"ttnn": ttnn, "torch": torch, "torch_ttnn": torch_ttnn, "math": math, "operator": operator}
    exec(src, ns)
    [fn] = [v for k, v in ns.items() if k.startswith("ttnn_graph_")]
    assert len(inspect.signature(fn).parameters) == len(seen[-1]) + 1
    with torch.no_grad():
        out = fn(mesh, *seen[-1])
    torch.testing.assert_close(out[0], got)
