"""bench/mesh_tp.py's pieces that make Mistral-7B fit the host (the full run itself is too slow for the suite):
the seeded bfloat16 build, in memory-mapped files or not, and the module-by-module float32 reference."""
import copy

import pytest
import torch
import transformers as T

from torch_ttnn.bench import mesh_tp
from torch_ttnn.sim import spill


def tiny():
    return T.MistralConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=16, tie_word_embeddings=False)


@pytest.mark.parametrize("mapped", [False, True])
def test_the_build_is_seeded_bfloat16_and_the_same_in_files(tmp_path, mapped):
    a = mesh_tp.build_model(2, seed=3, config=tiny(), directory=str(tmp_path) if mapped else None)
    b = mesh_tp.build_model(2, seed=3, config=tiny())
    c = mesh_tp.build_model(2, seed=4, config=tiny())
    assert {p.dtype for p in a.parameters()} == {torch.bfloat16}
    assert all(spill.is_mapped(p) == mapped for p in a.parameters())
    assert list(tmp_path.iterdir()) == []          # files unlinked at once
    for (n, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q), n
        assert torch.equal(p, torch.ones_like(p)) if n.endswith("norm.weight") else not torch.equal(p, r)
    assert abs(float(a.lm_head.weight.float().std()) - tiny().initializer_range) < 2e-3


def test_the_reference_is_a_float32_forward_one_module_at_a_time(tmp_path):
    model = mesh_tp.build_model(2, seed=0, config=tiny(), directory=str(tmp_path))
    storages = [p.untyped_storage().data_ptr() for p in model.parameters()]
    x = torch.randint(0, 128, (1, 16))
    got = mesh_tp.float32_forward(model, x)
    with torch.no_grad():
        want = copy.deepcopy(model).float()(x, use_cache=False).logits
    assert got.dtype == torch.float32 and torch.equal(got, want)
    # every parameter back in its own (mapped) bfloat16 storage
    assert [p.untyped_storage().data_ptr() for p in model.parameters()] == storages
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_the_reference_refuses_a_model_that_is_not_bfloat16():
    model = T.MistralForCausalLM(tiny()).eval()
    with pytest.raises(ValueError, match="widens bfloat16 parameters"):
        mesh_tp.float32_forward(model, torch.randint(0, 128, (1, 8)))
