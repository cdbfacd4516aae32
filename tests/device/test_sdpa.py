"""scaled_dot_product_attention on the ttnn device: one TT-NN op (not torch's math decomposition), grouped-query
attention without copies, flash-decode for one query per sequence, and torch's answer (zeros) for a query whose
boolean mask row attends nothing."""
import pytest
import torch
import torch.nn.functional as F
from helpers import pcc

import torch_ttnn
from torch_ttnn.device import fallback_counts, reset_fallback_counts, ttnn_device

F_SDPA = torch.ops.aten.scaled_dot_product_attention.default


def _names(fn):
    dev = ttnn_device(0)
    start = len(dev.op_records)
    out = fn()
    return out, [r.name for r in dev.op_records[start:]]


def _case(b, nh, nkv, sq, sk, d, mask_kind, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(b, h, s, d, generator=g).bfloat16() for h, s in ((nh, sq), (nkv, sk), (nkv, sk)))
    mask = None
    if mask_kind == "bool":
        mask = torch.rand(b, 1, sq, sk, generator=g) > 0.3
        mask[0, :, 0] = False                       # a query that attends nothing
    elif mask_kind == "float":
        mask = torch.where(torch.rand(b, 1, sq, sk, generator=g) > 0.3, 0.0, -1e4).bfloat16()
    return q, k, v, mask


@pytest.mark.parametrize("b, nh, nkv, sq, sk", [(2, 8, 2, 1, 64), (2, 4, 4, 1, 96), (1, 4, 2, 32, 64)],
                         ids=["decode-gqa", "decode-mha", "prefill-gqa"])
@pytest.mark.parametrize("mask_kind", [None, "bool", "float"])
def test_sdpa_is_one_ttnn_op(device, b, nh, nkv, sq, sk, mask_kind):
    q, k, v, mask = _case(b, nh, nkv, sq, sk, 64, mask_kind)
    ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask if mask is None or
                                         mask.dtype == torch.bool else mask.float(), enable_gqa=nkv != nh)
    reset_fallback_counts()
    dq, dk, dv = q.to("ttnn"), k.to("ttnn"), v.to("ttnn")
    dm = None if mask is None else mask.to("ttnn")
    out, names = _names(lambda: F.scaled_dot_product_attention(dq, dk, dv, attn_mask=dm, enable_gqa=nkv != nh))
    assert fallback_counts() == {}, fallback_counts()
    expect = "scaled_dot_product_attention_decode" if sq == 1 else "scaled_dot_product_attention"
    sdpa = [n for n in names if n.startswith("ttnn.transformer.")]
    assert sdpa == [f"ttnn.transformer.{expect}"], names
    assert not {"ttnn.matmul", "ttnn.softmax", "ttnn.repeat_interleave"} & set(names), names   # no math path
    assert pcc(ref, out.cpu().float()) > 0.995


def test_fully_masked_row_is_zero_as_on_cpu(device):
    """CPU torch (2.13) returns 0 for a query whose boolean mask row is all False (its safe softmax), not NaN
    and not the mean of V; so does the device."""
    q, k, v, mask = _case(2, 4, 2, 1, 64, 64, "bool")
    cpu = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    assert torch.equal(cpu[0], torch.zeros_like(cpu[0]))
    out = F.scaled_dot_product_attention(q.to("ttnn"), k.to("ttnn"), v.to("ttnn"), attn_mask=mask.to("ttnn"),
                                         enable_gqa=True).cpu()
    assert torch.equal(out[0], torch.zeros_like(out[0])) and not out.isnan().any()
    assert pcc(cpu[1].float(), out[1].float()) > 0.995


def test_sdpa_backward_still_works(device):
    """With a gradient wanted, the op runs torch's math decomposition under autograd (it has no derivative of
    its own), so backward reaches the inputs on the device."""
    q, k, v, _ = _case(1, 4, 4, 8, 32, 32, None)
    cq = q.float().requires_grad_()
    F.scaled_dot_product_attention(cq, k.float(), v.float()).sum().backward()
    dq = q.float().to("ttnn").requires_grad_()
    F.scaled_dot_product_attention(dq, k.float().to("ttnn"), v.float().to("ttnn")).sum().backward()
    assert dq.grad is not None and dq.grad.device.type == "ttnn"
    assert pcc(cq.grad, dq.grad.cpu()) > 0.99


def test_softmax_backward_runs_on_the_device(device):
    """Softmax's backward (autograd's _softmax_backward_data) has a rule: no host round trip, gradients as CPU's."""
    import torch_ttnn.device as tdev
    x = torch.randn(3, 4, 40)
    w = torch.randn(3, 4, 40)
    cx = x.clone().requires_grad_()
    (torch.softmax(cx, -1) * w).sum().backward()
    before = dict(tdev.fallback_counts())
    dx = x.to("ttnn").requires_grad_()
    (torch.softmax(dx, -1) * w.to("ttnn")).sum().backward()
    after = dict(tdev.fallback_counts())
    assert after.get("aten._softmax_backward_data.default", 0) == before.get("aten._softmax_backward_data.default", 0)
    assert pcc(cx.grad, dx.grad.cpu()) > 0.99


def test_compiled_graph_keeps_sdpa_whole(device):
    """torch.compile of attention on ttnn tensors: the traced graph holds aten.scaled_dot_product_attention
    (lowered to TT-NN's op), not bmm/softmax."""
    q, k, v, mask = _case(2, 8, 2, 1, 64, 64, "bool")
    seen = []

    def spy(gm, example_inputs):
        seen.extend(n.target for n in gm.graph.nodes if n.op == "call_function")
        return gm.forward

    from torch._functorch.aot_autograd import aot_module_simplified
    torch._dynamo.reset()
    f = torch.compile(lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m, enable_gqa=True),
                      backend=lambda gm, ex: aot_module_simplified(gm, ex, fw_compiler=spy))
    with torch.no_grad():
        f(q.to("ttnn"), k.to("ttnn"), v.to("ttnn"), mask.to("ttnn"))
    assert F_SDPA in seen and torch.ops.aten.bmm.default not in seen, seen


def test_compiled_cpu_model_fully_masked_row(device):
    """The compiler's path for a model on the host (torch's CPU flash op, boolean mask): a query row that
    attends nothing gives 0, as CPU torch does."""
    q, k, v, mask = _case(2, 4, 4, 8, 32, 32, "bool")
    q, k, v = q.float(), k.float(), v.float()
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(runtime="sim", verbose=False)
    f = torch.compile(lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
                      backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        out = f(q, k, v, mask)
    assert opt.metrics[-1]["cpu_ops"] == 0, opt.metrics[-1].get("fallback_reasons")
    assert torch.equal(out[0, :, 0], torch.zeros_like(out[0, :, 0])) and not out.isnan().any()
    assert pcc(ref, out) > 0.999
