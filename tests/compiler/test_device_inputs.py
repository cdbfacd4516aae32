"""torch.compile over a module on the `ttnn` torch device: parameters, inputs and outputs are used in place."""
import pytest
import torch
from helpers import assert_pcc, spy_host_downloads

import torch_ttnn
from torch_ttnn import device as tdev

pytestmark = pytest.mark.filterwarnings("ignore::torch_ttnn.device.TtnnFallbackWarning")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.ln = torch.nn.Linear(32, 64), torch.nn.Linear(64, 16), torch.nn.LayerNorm(16)

    def forward(self, x):
        return self.ln(self.l2(torch.nn.functional.gelu(self.l1(x)))), x.sum(-1)


def test_device_parameters_used_in_place():
    torch.manual_seed(0)
    torch._dynamo.reset()
    cpu = Net().eval()
    dev = Net().eval()
    dev.load_state_dict(cpu.state_dict())
    dev.to("ttnn")
    opt = torch_ttnn.TorchTtnnOption(runtime="sim")
    cm = torch.compile(dev, backend=torch_ttnn.backend, options=opt)
    x = torch.randn(4, 32)
    tt_dev = next(dev.parameters()).ttnn_tensor().device()
    with torch.no_grad():
        cm(x.to("ttnn"))  # first call: parameters converted to the compute dtype once, on the device
        xd = x.to("ttnn")
        (y, s), downloads = spy_host_downloads(lambda: cm(xd))
        before = tt_dev.allocated_bytes()  # with one pair of outputs alive
        for _ in range(5):
            y, s = cm(xd)
        assert tt_dev.allocated_bytes() == before, "device memory grew across calls"
    assert downloads == [], f"tensors downloaded to the host per call: {downloads}"
    r = opt.metrics[0]
    assert (r["h2d_per_call"], r["d2h_per_call"]) == (0, 0) and r["cpu_ops"] == 0, r
    assert tdev.is_ttnn_tensor(y) and y.dtype == torch.float32 and tuple(y.shape) == (4, 16)
    assert tdev.is_ttnn_tensor(s) and tuple(s.shape) == (4,)
    ref, ref_s = cpu(x)
    assert_pcc(ref.detach(), y.cpu(), 0.999)
    assert torch.allclose(ref_s, s.cpu(), rtol=2 ** -6, atol=2 ** -6 * ref_s.abs().max().item())


def test_device_parameter_update_is_seen():
    torch._dynamo.reset()
    m = torch.nn.Linear(8, 4).to("ttnn")
    cm = torch.compile(m, backend=torch_ttnn.backend, options=torch_ttnn.TorchTtnnOption(runtime="sim"))
    x = torch.randn(3, 8)
    with torch.no_grad():
        cm(x.to("ttnn"))
        m.bias.add_(1.0)  # an in-place update on the device: the folded copy must be re-derived
        got = cm(x.to("ttnn")).cpu()
        ref = torch.nn.functional.linear(x, m.weight.cpu(), m.bias.cpu())
    assert_pcc(ref, got, 0.999)
    assert torch.allclose(ref, got, atol=0.05)
