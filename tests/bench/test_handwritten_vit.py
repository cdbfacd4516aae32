"""The hand-written TT-NN ViT-B/16 encoder (2 layers) against Hugging Face's ViTModel on CPU (float32)."""
import torch
import transformers as hf
from helpers import assert_pcc

from torch_ttnn.bench.handwritten import device_cost
from torch_ttnn.bench.handwritten.vit import HandwrittenVit, VitDims, program_configs


def test_vit_encoder_matches_hugging_face(ttnn, device):
    """Measured PCC 0.9994 (bfloat8_b weights and activations, LoFi)."""
    torch.manual_seed(0)
    cfg = hf.ViTConfig(num_hidden_layers=2)
    model = hf.ViTModel(cfg, add_pooling_layer=False).eval()
    hw = HandwrittenVit.build(ttnn, device, cfg, model.state_dict(), 2)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    pixels = hw.inputs(x)
    out, cost = device_cost(device, lambda: hw(pixels))
    with torch.no_grad():
        ref = model(pixel_values=x).last_hidden_state
    got = ttnn.to_torch(out).float()
    assert got.shape == (2, 197, 768)
    assert_pcc(ref, got, 0.99)
    assert cost.ops == 8 + 15 * 2 + 1  # embeddings, 15 per layer, final norm
    spec = out.memory_config().shard_spec
    assert tuple(spec.shape) == (224, 96) and spec.num_cores() == 16  # 197 tokens padded to 7 tiles per image


def test_vit_grids_split_heads_and_width(ttnn, device):
    p = program_configs(ttnn, VitDims(768, 12, 12, 3072, 1e-12, 16, 224), 8, device)
    assert (p.grid.x, p.grid.y, p.attention_grid.x, p.attention_grid.y) == (8, 8, 6, 8)
    assert (p.query_by_key.per_core_M, p.query_by_key.per_core_N, p.softmax.block_h) == (14, 7, 14)
    assert (p.qkv.per_core_M, p.qkv.per_core_N, p.ff1.per_core_N, p.ff2.in0_block_w) == (7, 9, 12, 12)
