"""fuse.gqa_attention: HF's repeat_kv (K and V copied per query head) before scaled_dot_product_attention is
removed, since TT-NN's SDPA takes fewer K/V heads; the result still matches CPU."""
import pytest
import torch
import transformers as hf
from helpers import assert_pcc

import torch_ttnn


def _run(model, ids, fuse):
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(runtime="sim", fuse=fuse)
    with torch.no_grad():
        out = torch.compile(model, backend=torch_ttnn.backend, options=opt)(
            ids, attention_mask=torch.ones_like(ids)).last_hidden_state
    return out, opt.metrics[-1]


@pytest.mark.parametrize("kv_heads, fusions", [(2, 1), (4, 0)], ids=["gqa", "mha"])
def test_repeat_kv_removed_before_sdpa(device, kv_heads, fusions):
    cfg = hf.LlamaConfig(vocab_size=1000, hidden_size=128, num_hidden_layers=1, num_attention_heads=4,
                         num_key_value_heads=kv_heads, intermediate_size=256, max_position_embeddings=256)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = hf.LlamaModel(cfg).eval()
    ids = torch.randint(0, 1000, (1, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(ids, attention_mask=torch.ones_like(ids)).last_hidden_state
    fused, m = _run(model, ids, True)
    assert m["fusions"]["gqa_attention"] == fusions and m["cpu_ops"] == 0, m["fusions"]
    assert_pcc(ref, fused, 0.999)
    if fusions:
        unfused, m0 = _run(model, ids, set(torch_ttnn.compiler.fuse.PASS_NAMES) - {"gqa_attention"})
        assert m["device_time_ms"] < m0["device_time_ms"], "the copies it removes cost nothing?"
        torch.testing.assert_close(fused, unfused, rtol=0, atol=0)   # the same products, without the copies
