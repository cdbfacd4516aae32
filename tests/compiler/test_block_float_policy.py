"""TorchTtnnOption(float_dtype="bfloat8_b") on a bfloat16 model: every float tensor in bfloat8_b, as on a float32
model. Before, only torch float32 tensors followed float_dtype, so a bfloat16 model (an LLM on the ttnn device,
bench/decode.py) kept its weights and activations in bfloat16 while its few float32 tensors (RoPE tables, the
mask) dropped to bfloat8_b: the "all bf8" decode of bench/compare.py cost what the bfloat16 defaults did.
The KV cache the graph writes back in place keeps the device's dtype (its buffer belongs to the caller)."""
import pytest
import torch
import transformers as hf
from helpers import pcc

import torch_ttnn
from torch_ttnn.bench import decode

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _matmul_dtypes(opt):
    """(activation, weight) dtype names of every matmul/linear of the latest lowered graph."""
    g = opt._out_fx_graphs[-1]
    return [tuple(a.meta.get("dtype").name for a in n.args[:2]) for n in g.nodes
            if n.op == "call_function" and n.meta.get("ttnn_name") in ("matmul", "linear")]


@pytest.mark.parametrize("model_dtype", [torch.float32, torch.bfloat16])
def test_block_float_policy_holds_every_float_dtype(device, model_dtype):
    torch.manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32)).eval()
    lin = lin.to(model_dtype)
    x = torch.randn(32, 64).to(model_dtype)
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", float_dtype="bfloat8_b", verbose=False)
    cm = torch.compile(lin, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        out = cm(x)
        ref = lin.float()(x.float())
    dts = _matmul_dtypes(opt)
    assert dts and all(d == ("BFLOAT8_B", "BFLOAT8_B") for d in dts), dts
    assert out.dtype == model_dtype and pcc(ref, out.float()) > 0.99


def _tiny_llama():
    cfg = hf.LlamaConfig(vocab_size=256, hidden_size=128, intermediate_size=256, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=256)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    return hf.LlamaModel(cfg).eval()


def test_bf16_decode_in_block_float_keeps_its_cache_in_place(device):
    """The compiled decode step of a bfloat16 Llama under float_dtype="bfloat8_b": weights and activations of
    every linear in bfloat8_b, the embedding table read as the bfloat16 it is (TT-NN's embedding wants that),
    the cache written in place in bfloat16; close to CPU float32 over three steps."""
    users, cache_len, steps = 8, 64, 3
    model = _tiny_llama()
    ids = torch.randint(0, 256, (users, steps), generator=torch.Generator().manual_seed(0))
    ref = decode.reference_steps(model, ids, cache_len)
    step = decode.compile_decode(decode.device_model(model), users, cache_len, float_dtype="bfloat8_b",
                                 math_fidelity="lofi", fp32_accumulation=False, verbose=False)
    keys = step.cache.layers[0].keys
    for p in range(steps):
        out = step(ids[:, p:p + 1], torch.full((users, 1), p)).cpu().float()
        assert pcc(ref[p], out) > 0.99, p
    dts = _matmul_dtypes(step.option)
    assert len(dts) == 7 and all(w == "BFLOAT8_B" for _, w in dts), dts
    # the output projection reads attention's result, bfloat16 as flash-decode gives it for bfloat16 queries
    # (its grouped-query path wants them); every other linear reads bfloat8_b activations
    assert sorted(a for a, _ in dts) == ["BFLOAT16"] + ["BFLOAT8_B"] * 6, dts
    g = step.option._out_fx_graphs[-1]
    names = [n.meta.get("ttnn_name") for n in g.nodes if n.op == "call_function"]
    assert names.count("paged_update_cache") == 2
    emb = next(n for n in g.nodes if n.meta.get("ttnn_name") == "embedding")
    assert emb.args[1].meta["dtype"].name == "BFLOAT16" and emb.meta["dtype"].name == "BFLOAT8_B"
    assert step.cache.layers[0].keys is keys and keys.dtype == torch.bfloat16
    cached = keys.cpu().float()
    assert cached[:, :, :steps].abs().sum() > 0 and cached[:, :, steps:].abs().sum() == 0
    assert step.metrics()["lowerings"] == 1 and step.metrics()["cpu_ops"] == 0
