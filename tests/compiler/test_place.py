"""L1 placement (compiler/place.py): activations that fit live in L1 for their lifetime, never overflowing it."""
import pytest
import torch

import torch_ttnn
import torch_ttnn.sim as ttnn
from torch_ttnn.compiler.place import bank_bytes


class _MLP(torch.nn.Module):
    def __init__(self, width=256):
        super().__init__()
        self.a, self.b, self.c = (torch.nn.Linear(width, width) for _ in range(3))

    def forward(self, x):
        return self.c(torch.relu(self.b(torch.relu(self.a(x)))) + x)


def _compile(model, device, **kw):
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", **kw)
    return torch.compile(model, backend=torch_ttnn.backend, options=opt), opt


def _l1_nodes(opt):
    return [n for g in opt._out_fx_graphs for n in g.nodes
            if n.kwargs.get("memory_config") == ttnn.L1_MEMORY_CONFIG]


def test_activations_go_to_l1_with_the_same_results(device):
    torch.manual_seed(0)
    model, x = _MLP().eval(), torch.randn(64, 256)
    outs, recs = {}, {}
    for l1 in (False, True):
        cm, opt = _compile(model, device, l1=l1)
        with torch.no_grad():
            cm(x)
            dram0, l10 = device.allocated_bytes(ttnn.BufferType.DRAM), device.allocated_bytes(ttnn.BufferType.L1)
            n0 = len(device.op_records)
            outs[l1] = cm(x)
            recs[l1] = device.op_records[n0:]
        assert device.allocated_bytes(ttnn.BufferType.L1) == l10       # every placed buffer freed after use
        assert device.allocated_bytes(ttnn.BufferType.DRAM) == dram0
        assert (opt.metrics[0]["l1_placed"] > 0) == l1 and (len(_l1_nodes(opt)) > 0) == l1
    torch.testing.assert_close(outs[True], outs[False], rtol=0, atol=0)  # placement changes no value
    assert sum(r.tail_ns for r in recs[True]) < sum(r.tail_ns for r in recs[False])
    # these small ops are launch-bound: their kernels cost the same, what the host waits for DRAM goes
    assert sum(r.time_ns for r in recs[True]) <= sum(r.time_ns for r in recs[False])


@pytest.mark.parametrize("bank_size, expect", [(1536 * 1024, "all"), (2048, "none")])  # half is planned
def test_plan_respects_the_budget(device, bank_size, expect):
    from torch_ttnn.compiler import place
    torch.manual_seed(0)
    _cm, opt = _compile(_MLP().eval(), device, l1=False)
    with torch.no_grad():
        _cm(torch.randn(64, 256))
    g = opt._out_fx_graphs[0]
    placed = place.place_l1(g, ttnn.L1_MEMORY_CONFIG, 64, bank_size)
    assert (placed == 0) == (expect == "none")
    if expect == "all":
        assert placed >= 3      # the linears' and relus' outputs (64 x 256 bf16: 512 B per bank each)


@pytest.mark.parametrize("shape, dtype, layout, banks, want", [
    ((64, 256), ttnn.bfloat16, ttnn.TILE_LAYOUT, 64, 2048),          # 16 tiles over 64 banks: one each
    ((8, 384, 1024), ttnn.bfloat16, ttnn.TILE_LAYOUT, 64, 48 * 2048),  # 3072 tiles: 48 per bank
    ((8, 384, 1024), ttnn.bfloat8_b, ttnn.TILE_LAYOUT, 64, 48 * 1088),
    ((3, 5), ttnn.bfloat16, ttnn.ROW_MAJOR_LAYOUT, 2, 2 * 16),        # 3 rows of 10 B (16 aligned) over 2 banks
])
def test_bank_bytes(shape, dtype, layout, banks, want):
    assert bank_bytes({"shape": shape, "dtype": dtype, "layout": layout}, banks) == want


def test_l1_off_by_option_and_unknown_shapes_left_alone():
    assert bank_bytes({"shape": None, "dtype": ttnn.bfloat16, "layout": ttnn.TILE_LAYOUT}, 64) is None
    with pytest.raises(TypeError, match="l1 must be True or False"):
        torch_ttnn.TorchTtnnOption(l1="yes")


class _MaskedAttention(torch.nn.Module):
    """A linear (its output goes to L1) then SDPA under a mask computed from it on the device."""
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(32, 32)

    def forward(self, x):
        y = self.lin(x)
        return torch.nn.functional.scaled_dot_product_attention(y, y, y, attn_mask=y > 0)


@pytest.mark.parametrize("l1", [True, False])
def test_sdpa_mask_is_written_to_dram(device, l1):
    """SDPA reads its mask from DRAM only: the op making it gets a DRAM memory config even where its input is in
    L1 (it would write there too); the program runs on the device (the emulator checks the real rule)."""
    torch.manual_seed(0)
    model, x = _MaskedAttention().eval(), torch.randn(1, 2, 32, 32)
    cm, opt = _compile(model, device, l1=l1)
    with torch.no_grad():
        ref, out = model(x), cm(x)
    torch.testing.assert_close(out, ref, atol=0.05, rtol=0.05)
    assert opt.metrics[-1]["cpu_ops"] == 0
    sdpa = [n for g in opt._out_fx_graphs for n in g.nodes if n.meta.get("ttnn_name") == "scaled_dot_product_attention"]
    mask = sdpa[0].kwargs["attn_mask"]
    assert mask.kwargs.get("memory_config", ttnn.DRAM_MEMORY_CONFIG).buffer_type == ttnn.BufferType.DRAM
