"""sim/spill.py: large DRAM tensors' values in memory-mapped files, results bit-identical to keeping them in
memory (ops read the same bits), small and L1 tensors untouched."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import spill


@pytest.fixture
def spilling(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "MIN_BYTES", 4096)
    with spill.spilled(str(tmp_path)):
        yield tmp_path


def _matmul_chain(device, a, w, dtype):
    ta = ttnn.from_torch(a, dtype, layout=ttnn.TILE_LAYOUT, device=device)
    tw = ttnn.from_torch(w, dtype, layout=ttnn.TILE_LAYOUT, device=device)
    y = ttnn.matmul(ta, tw)
    y = ttnn.add(ttnn.gelu(y), y)
    return ttnn.to_torch(ttnn.rms_norm(y)), tw


@pytest.mark.parametrize("dtype", [ttnn.bfloat16, ttnn.bfloat8_b, ttnn.float32])
def test_spilled_values_give_the_same_bits(device, spilling, dtype):
    torch.manual_seed(0)
    a, w = torch.randn(64, 256), torch.randn(256, 512)
    before = spill.stats()
    got, tw = _matmul_chain(device, a, w, dtype)
    assert spill.is_mapped(tw.value)                       # the weight's values live in a mapped file
    assert spill.stats()["tensors"] > before["tensors"]
    assert list(spilling.iterdir()) == []                  # the files are unlinked at once
    spill.disable()
    want, tw2 = _matmul_chain(device, a, w, dtype)
    assert not spill.is_mapped(tw2.value)
    assert torch.equal(got, want)


def test_small_and_l1_tensors_stay_in_memory(device, spilling):
    small = ttnn.from_torch(torch.randn(8, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    l1 = ttnn.from_torch(torch.randn(64, 256), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                         memory_config=ttnn.L1_MEMORY_CONFIG)
    assert not spill.is_mapped(small.value) and not spill.is_mapped(l1.value)


def test_a_deallocated_tensor_drops_its_mapping(device, spilling):
    t = ttnn.from_torch(torch.randn(64, 256), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert spill.is_mapped(t.value)
    ttnn.deallocate(t)
    assert t._values.device.type == "meta"


@pytest.mark.parametrize("kw, err", [({"min_bytes": 0}, ValueError), ({"min_bytes": "1M"}, ValueError)])
def test_bad_settings_are_refused(tmp_path, kw, err):
    with pytest.raises(err, match="min_bytes must be a positive int"):
        spill.enable(str(tmp_path), **kw)
    assert not spill.enabled()
