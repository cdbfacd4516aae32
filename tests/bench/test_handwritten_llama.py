"""The hand-written TT-NN Llama decoder layer (Llama-3.2-1B widths) decoding token by token with its KV cache
on the device, against Hugging Face's LlamaDecoderLayer over the whole sequence with a causal mask (CPU,
float32)."""
import pytest
import torch
from helpers import assert_pcc
from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRotaryEmbedding

from torch_ttnn.bench.handwritten import device_cost
from torch_ttnn.bench.handwritten.llama import HandwrittenLlamaLayer, llama_1b_config


def reference(layer, cfg, x):
    users, steps, _ = x.shape
    pos = torch.arange(steps).unsqueeze(0).expand(users, steps)
    cos, sin = LlamaRotaryEmbedding(cfg)(x, pos)
    mask = torch.full((steps, steps), float("-inf")).triu(1).expand(users, 1, steps, steps)
    with torch.no_grad():
        out = layer(x, attention_mask=mask, position_ids=pos, position_embeddings=(cos, sin))
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("users", [1, 3])
def test_llama_decode_matches_hugging_face(ttnn, device, users):
    """Measured PCC 0.99998 per step (bfloat8_b weights and cache, bfloat16 activations)."""
    torch.manual_seed(0)
    cfg = llama_1b_config()
    layer = LlamaDecoderLayer(cfg, layer_idx=0).eval()
    steps, max_seq = 4, 32
    hw = HandwrittenLlamaLayer.build(ttnn, device, cfg, layer.state_dict(), users, max_seq)
    x = torch.randn(users, steps, cfg.hidden_size, generator=torch.Generator().manual_seed(1))
    outs, costs = [], []
    for p in range(steps):
        inputs = hw.inputs(x[:, p:p + 1], p)
        out, cost = device_cost(device, lambda: hw.step(inputs))
        outs.append(ttnn.to_torch(out).float().reshape(users, 1, -1))
        costs.append(cost)
    ref = reference(layer, cfg, x)
    for p in range(steps):  # every step sees exactly the cache the previous steps wrote
        assert_pcc(ref[:, p], outs[p][:, 0], 0.999)
    assert {c.ops for c in costs} == {26}
    assert all(c.time_ns > 0 for c in costs)
    cache = ttnn.to_torch(hw.params.k_cache).float()
    assert cache[:, :, :steps].abs().sum() > 0 and cache[:, :, steps:].abs().sum() == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(update_idx=32), "outside the cache's 32 positions"),
    (dict(batch_offset=31), "exceeds the input's batch rows"),
], ids=str)
def test_update_cache_errors(ttnn, device, kwargs, message):
    cache = ttnn.from_torch(torch.zeros(2, 3, 32, 32), dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=device)
    row = ttnn.from_torch(torch.randn(1, 3, 32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    args = {"update_idx": 0, "batch_offset": 0, **kwargs}
    with pytest.raises(RuntimeError, match=message):
        ttnn.update_cache(cache, row, args["update_idx"], batch_offset=args["batch_offset"])


def test_update_cache_writes_each_users_row(ttnn, device):
    cache = ttnn.from_torch(torch.zeros(2, 3, 64, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    x = torch.randn(1, 3, 32, 32)
    row = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert ttnn.update_cache(cache, row, 5, batch_offset=4) is cache
    got = ttnn.to_torch(cache).float()
    assert torch.equal(got[:, :, 5], x[0, :, 4:6].transpose(0, 1).bfloat16().float())
    assert got[:, :, :5].abs().sum() == 0 and got[:, :, 6:].abs().sum() == 0
