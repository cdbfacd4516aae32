"""torch.ttnn.memory_allocated / max_memory_allocated / memory_summary, as torch.cuda's; .numpy() on the device."""
import gc

import numpy as np
import pytest
import torch

import torch_ttnn  # noqa: F401  (the ttnn device, needed at collection for torch.device("ttnn"))


def _row_major_bytes(rows: int, cols: int, elem: int, banks: int) -> int:
    """Interleaved ROW_MAJOR: one page per row (aligned to 32 bytes in DRAM), pages dealt round-robin over the
    banks, every bank reserving as many pages as the fullest one."""
    page = -(-cols * elem // 32) * 32
    return -(-rows // banks) * banks * page


def test_memory_allocated_follows_tensors_and_the_peak_stays(device):
    gc.collect()
    base = torch.ttnn.memory_allocated()
    torch.ttnn.reset_peak_memory_stats()
    x = torch.randn(1000, 1000).to("ttnn")
    banks = torch.ttnn.memory_stats()["DRAM"]["banks"]
    held = torch.ttnn.memory_allocated() - base
    assert held == _row_major_bytes(1000, 1000, 4, banks)        # float32 stays float32, row-major
    y = x + 1
    assert torch.ttnn.memory_allocated() - base >= 2 * held
    del x, y
    gc.collect()
    assert torch.ttnn.memory_allocated() == base
    assert torch.ttnn.max_memory_allocated() - base >= 2 * held  # the high-water mark remembers
    torch.ttnn.reset_peak_memory_stats()
    assert torch.ttnn.max_memory_allocated() == base


@pytest.mark.parametrize("spelling", [None, 0, "ttnn:0", torch.device("ttnn", 0)])
def test_device_spellings(spelling):
    assert torch.ttnn.memory_allocated(spelling) == torch.ttnn.memory_allocated()


def test_memory_summary_is_a_table():
    x = torch.ones(64, 64).to("ttnn")
    s = torch.ttnn.memory_summary()
    lines = s.splitlines()
    assert lines[0].startswith("ttnn:0 memory summary") and "allocated" in lines[1] and "peak" in lines[1]
    assert any(ln.startswith("DRAM") for ln in lines) and any(ln.startswith("L1") for ln in lines)
    del x


def test_numpy_on_a_device_tensor_says_to_call_cpu():
    x = torch.arange(6.0).to("ttnn")
    with pytest.raises(TypeError, match=r"call \.cpu\(\) first"):
        x.numpy()
    with pytest.raises(TypeError, match=r"call \.cpu\(\) first"):
        np.asarray(x)
    np.testing.assert_array_equal(x.numpy(force=True), np.arange(6.0, dtype=np.float32))
    np.testing.assert_array_equal(x.cpu().numpy(), np.arange(6.0, dtype=np.float32))
