"""The hand-written TT-NN BERT against Hugging Face on CPU (float32), at BERT-large and BERT-base widths with
2 layers and a short sequence, and its program configs at TT's reference shape (batch 8, sequence 384)."""
import pytest
import torch
import transformers as hf
from helpers import assert_pcc

from torch_ttnn.bench.handwritten import device_cost
from torch_ttnn.bench.handwritten.bert import BertDims, HandwrittenBert, program_configs

WIDTHS = {"large": dict(hidden_size=1024, num_attention_heads=16, intermediate_size=4096),
          "base": dict(hidden_size=768, num_attention_heads=12, intermediate_size=3072)}


def tiny(width: str, layers: int = 2) -> hf.BertConfig:
    return hf.BertConfig(vocab_size=512, num_hidden_layers=layers, max_position_embeddings=128, **WIDTHS[width])


def tokens(batch, seq):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 512, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[-1, seq * 3 // 4:] = 0  # a padded row: the additive mask must reach the softmax
    return ids, mask


@pytest.mark.parametrize("width", ["large", "base"])
def test_bert_encoder_matches_hugging_face(ttnn, device, width):
    """Measured PCC 0.9994 (large) with bfloat8_b weights and activations at LoFi; 0.99 is the bar."""
    torch.manual_seed(0)
    model = hf.BertModel(tiny(width), add_pooling_layer=False).eval()
    batch, seq = 2, 64
    hw = HandwrittenBert.build(ttnn, device, model.config, model.state_dict(), batch, seq)
    ids, mask = tokens(batch, seq)
    inputs = hw.inputs(ids, mask)
    out, cost = device_cost(device, lambda: hw(inputs))
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask).last_hidden_state
    keep = mask.bool()  # padded positions' outputs are not compared by anyone downstream
    assert_pcc(ref[keep], ttnn.to_torch(out).float()[keep], 0.99)
    assert cost.ops == 6 + 11 * 2  # embeddings (3 lookups, add, norm, shard) + 11 per layer
    assert cost.time_ns > cost.ops * 1000
    assert out.memory_config().memory_layout == ttnn.TensorMemoryLayout.BLOCK_SHARDED
    assert out.dtype == ttnn.bfloat8_b


def test_bert_question_answering_head(ttnn, device):
    torch.manual_seed(1)
    model = hf.BertForQuestionAnswering(tiny("large", layers=1)).eval()
    hw = HandwrittenBert.build(ttnn, device, model.config, model.state_dict(), 1, 64)
    ids, mask = tokens(1, 64)
    inputs = hw.inputs(ids, mask)
    out, cost = device_cost(device, lambda: hw(inputs))
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask)
    logits = ttnn.to_torch(out).float()
    assert logits.shape == (1, 64, 2)
    assert_pcc(torch.stack([ref.start_logits, ref.end_logits], -1), logits, 0.99)
    assert cost.ops == 6 + 11 + 2


def test_bert_large_reference_configs_are_tenstorrents(ttnn, device):
    """At batch 8, sequence 384 on the 8x8 Wormhole grid the derivation gives the values of TT's sharded BERT."""
    p = program_configs(ttnn, BertDims(1024, 16, 24, 4096, 1e-12), 8, 384, device)
    fields = ("in0_block_w", "out_subblock_h", "out_subblock_w", "per_core_M", "per_core_N")
    got = {name: tuple(getattr(getattr(p, name), f) for f in fields)
           for name in ("qkv", "query_by_key", "probs_by_value", "self_output", "ff1", "ff2")}
    assert got == {"qkv": (4, 1, 6, 12, 12), "query_by_key": (2, 1, 6, 24, 12), "probs_by_value": (12, 4, 2, 24, 2),
                   "self_output": (4, 2, 4, 12, 4), "ff1": (4, 1, 8, 12, 16), "ff2": (16, 2, 4, 12, 4)}
    assert p.ff1.fused_activation == ttnn.UnaryWithParam(ttnn.UnaryOpType.GELU, 1.0)
    assert (p.layernorm.subblock_w, p.layernorm.block_h, p.layernorm.block_w) == (4, 12, 4)
    assert (p.softmax.subblock_w, p.softmax.block_h, p.softmax.block_w) == (6, 24, 12)
    assert (p.grid.x, p.grid.y) == (8, 8)


def test_bert_base_uses_a_grid_its_heads_split_over(ttnn, device):
    p = program_configs(ttnn, BertDims(768, 12, 12, 3072, 1e-12), 8, 384, device)
    assert (p.grid.x, p.grid.y) == (8, 6)  # 12 heads and 24 hidden tiles split over 6 rows of cores
    with pytest.raises(ValueError, match="batch <= 8"):
        program_configs(ttnn, BertDims(768, 12, 12, 3072, 1e-12), 9, 384, device)
