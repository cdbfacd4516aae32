"""aten.roll lowered to TT-NN slices and concats (Swin's shifted windows): exact data movement, so the
result equals torch's roll of the device-rounded input, for every shift form torch accepts."""
import pytest
import torch

import torch_ttnn
from torch_ttnn.compiler.lower import op_name

CASES = [  # (id, shape, dtype, shifts, dims)
    ("swin_back", (1, 14, 14, 8), torch.float32, (-3, -3), (1, 2)),
    ("swin_fwd", (2, 14, 14, 8), torch.float32, (3, 3), (1, 2)),
    ("one_dim_last", (3, 37), torch.float32, 5, -1),
    ("shift_past_size", (4, 9), torch.float32, 11, 1),
    ("zero_and_full_turn", (4, 9), torch.float32, (0, 4), (1, 0)),
    ("flattened", (3, 5, 4), torch.float32, 7, ()),
    ("int32", (2, 33), torch.int32, -4, 1),
]


@pytest.mark.parametrize("shape,dtype,shifts,dims", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_roll(shape, dtype, shifts, dims, device):
    torch.manual_seed(0)
    torch._dynamo.reset()
    x = torch.randn(*shape).to(torch.bfloat16).float() if dtype.is_floating_point else \
        torch.randint(-1000, 1000, shape, dtype=dtype)
    fn = lambda t: torch.roll(t, shifts, dims)  # noqa: E731
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim")
    with torch.no_grad():
        got = torch.compile(fn, backend=torch_ttnn.backend, options=opt)(x)
    on_cpu = {op_name(n.target) for g in opt._out_fx_graphs for n in g.nodes
              if n.op == "call_function" and n.meta.get("fallback")}
    lowered = {n.meta.get("ttnn_name") for g in opt._out_fx_graphs for n in g.nodes if n.op == "call_function"}
    assert not on_cpu, f"ran on CPU: {on_cpu}"
    assert "concat" in lowered or shifts in (0, (0, 4)), sorted(n for n in lowered if n)
    ref = torch.roll(x, shifts, dims)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    assert torch.equal(got, ref), f"{(got != ref).sum()} elements differ"
