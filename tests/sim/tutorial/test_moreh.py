"""moreh-op programs (TT-NN's training kernels): forward and backward against torch."""
import pytest
import torch

from .utils import assert_with_pcc

F = torch.nn.functional


def dev(ttnn, device, x, dtype=None):
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)


SOFT = {"moreh_softmax": lambda x, d: torch.softmax(x, d), "moreh_softmin": lambda x, d: F.softmin(x, d),
        "moreh_logsoftmax": lambda x, d: torch.log_softmax(x, d)}


@pytest.mark.parametrize("op", sorted(SOFT))
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_moreh_softmax_family(ttnn, device, op, dim):
    x = torch.randn(2, 3, 32, 64)
    out = getattr(ttnn, op)(dev(ttnn, device, x), dim)
    assert_with_pcc(SOFT[op](x.bfloat16().float(), dim), ttnn.to_torch(out))


@pytest.mark.parametrize("op", sorted(SOFT))
def test_moreh_softmax_family_backward(ttnn, device, op):
    x, g = torch.randn(1, 1, 32, 64), torch.randn(1, 1, 32, 64)
    xr = x.clone().requires_grad_(True)
    y = SOFT[op](xr, -1)
    y.backward(g)
    out = getattr(ttnn, op + "_backward")(dev(ttnn, device, y.detach(), ttnn.float32), dev(ttnn, device, g, ttnn.float32), -1)
    assert_with_pcc(xr.grad, ttnn.to_torch(out))


def test_moreh_matmul_family(ttnn, device):
    a, b = torch.randn(2, 32, 64), torch.randn(2, 64, 96)
    assert_with_pcc(a @ b, ttnn.to_torch(ttnn.moreh_matmul(dev(ttnn, device, a), dev(ttnn, device, b))), 0.999)
    assert_with_pcc(a @ b, ttnn.to_torch(ttnn.moreh_bmm(dev(ttnn, device, a), dev(ttnn, device, b))), 0.999)
    bt = b.transpose(-1, -2).contiguous()
    assert_with_pcc(a @ b, ttnn.to_torch(ttnn.moreh_matmul(dev(ttnn, device, a), dev(ttnn, device, bt),
                                                           transpose_other=True)), 0.999)
    w, bias = torch.randn(48, 64), torch.randn(1, 48)
    out = ttnn.moreh_linear(dev(ttnn, device, a), dev(ttnn, device, w), bias=dev(ttnn, device, bias))
    assert_with_pcc(F.linear(a, w, bias.reshape(-1)), ttnn.to_torch(out), 0.999)


@pytest.mark.parametrize("op, fwd, shapes", [
    ("moreh_bmm_backward", torch.bmm, [(2, 32, 64), (2, 64, 32)]),
    ("moreh_matmul_backward", torch.matmul, [(32, 64), (64, 32)]),
])
def test_moreh_matmul_backward(ttnn, device, op, fwd, shapes):
    a, b = (torch.randn(s).requires_grad_(True) for s in shapes)
    y = fwd(a, b)
    g = torch.randn_like(y)
    y.backward(g)
    ga, gb = getattr(ttnn, op)(dev(ttnn, device, g, ttnn.float32), dev(ttnn, device, a.detach(), ttnn.float32),
                               dev(ttnn, device, b.detach(), ttnn.float32))
    assert_with_pcc(a.grad, ttnn.to_torch(ga))
    assert_with_pcc(b.grad, ttnn.to_torch(gb))


def test_moreh_linear_backward(ttnn, device):
    x, w, b = torch.randn(32, 64, requires_grad=True), torch.randn(48, 64, requires_grad=True), \
        torch.randn(1, 48, requires_grad=True)
    y = F.linear(x, w, b.reshape(-1))
    g = torch.randn_like(y)
    y.backward(g)
    gx, gw, gb = ttnn.moreh_linear_backward(dev(ttnn, device, g, ttnn.float32), dev(ttnn, device, x.detach(), ttnn.float32),
                                            dev(ttnn, device, w.detach(), ttnn.float32),
                                            bias=dev(ttnn, device, b.detach(), ttnn.float32))
    for want, got in ((x.grad, gx), (w.grad, gw), (b.grad, gb)):
        assert_with_pcc(want, ttnn.to_torch(got))


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("dim", [None, -1, [2, 3]])
def test_moreh_norm(ttnn, device, p, dim):
    x = torch.randn(1, 2, 32, 64)
    out = ttnn.moreh_norm(dev(ttnn, device, x, ttnn.float32), p, dim=dim)
    expected = torch.linalg.vector_norm(x, p, dim=dim)
    torch.testing.assert_close(ttnn.to_torch(out).reshape(expected.shape), expected, rtol=1e-5, atol=1e-5)


def test_moreh_layer_and_group_norm_with_backward(ttnn, device):
    x, g = torch.randn(2, 4, 32, 64), torch.randn(2, 4, 32, 64)
    out, mean, rstd = ttnn.moreh_layer_norm(dev(ttnn, device, x, ttnn.float32), 2, 1e-5)
    assert_with_pcc(F.layer_norm(x, (32, 64), eps=1e-5), ttnn.to_torch(out))
    (gx, _, _) = ttnn.moreh_layer_norm_backward(dev(ttnn, device, g, ttnn.float32), dev(ttnn, device, x, ttnn.float32),
                                                mean, rstd, 2)
    xr = x.clone().requires_grad_(True)
    F.layer_norm(xr, (32, 64), eps=1e-5).backward(g)
    assert_with_pcc(xr.grad, ttnn.to_torch(gx))
    out, mean, rstd = ttnn.moreh_group_norm(dev(ttnn, device, x, ttnn.float32), 2, 1e-5,
                                            are_required_outputs=[True, True, True])
    assert_with_pcc(F.group_norm(x, 2, eps=1e-5), ttnn.to_torch(out))
    gx = ttnn.moreh_group_norm_backward(dev(ttnn, device, g, ttnn.float32), dev(ttnn, device, x, ttnn.float32), mean,
                                        rstd, 2)[0]
    xr = x.clone().requires_grad_(True)
    F.group_norm(xr, 2, eps=1e-5).backward(g)
    assert_with_pcc(xr.grad, ttnn.to_torch(gx))


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_moreh_nll_loss(ttnn, device, reduction):
    logp = torch.log_softmax(torch.randn(32, 10), -1)
    target = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(0))
    target[3] = -100
    out = ttnn.moreh_nll_loss(dev(ttnn, device, logp, ttnn.float32),
                              ttnn.from_torch(target.int(), dtype=ttnn.int32, device=device), reduction)
    expected = F.nll_loss(logp, target, reduction=reduction)
    torch.testing.assert_close(ttnn.to_torch(out).reshape(expected.shape), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_moreh_optimizer_step_matches_torch(ttnn, device, optimizer):
    p, g = torch.randn(32, 32), torch.randn(32, 32)
    ref = p.clone().requires_grad_(True)
    ref.grad = g.clone()
    zeros = dev(ttnn, device, torch.zeros(32, 32), ttnn.float32)
    tp, tg = dev(ttnn, device, p, ttnn.float32), dev(ttnn, device, g, ttnn.float32)
    if optimizer == "sgd":
        torch.optim.SGD([ref], lr=0.1, momentum=0.9).step()
        got = ttnn.moreh_sgd(tp, tg, lr=0.1, momentum=0.9, momentum_initialized=False)[0]
    elif optimizer == "adam":
        torch.optim.Adam([ref], lr=0.01).step()
        got = ttnn.moreh_adam(tp, tg, zeros, zeros, lr=0.01, step=1)[0]
    else:
        torch.optim.AdamW([ref], lr=0.01, weight_decay=0.01).step()
        got = ttnn.moreh_adamw(tp, tg, zeros, zeros, 0.01, step=1)[0]
    torch.testing.assert_close(ttnn.to_torch(got), ref.detach(), rtol=1e-5, atol=1e-6)


def test_moreh_clip_grad_norm_scales_in_place(ttnn, device):
    grads = [torch.randn(32, 32) * 5, torch.randn(32, 64) * 5]
    ref = [g.clone().requires_grad_(True) for g in grads]
    for r, g in zip(ref, grads):
        r.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ref, 1.0)
    ts = [dev(ttnn, device, g, ttnn.float32) for g in grads]
    got = ttnn.moreh_clip_grad_norm(ts, 1.0)
    torch.testing.assert_close(ttnn.to_torch(got).reshape(()), total, rtol=1e-5, atol=1e-5)
    for r, t in zip(ref, ts):
        torch.testing.assert_close(ttnn.to_torch(t), r.grad, rtol=1e-5, atol=1e-6)


def test_moreh_sum_and_mean_backward(ttnn, device):
    x = torch.randn(2, 32, 64)
    g = torch.randn(2, 1, 64)
    out = ttnn.moreh_sum_backward(dev(ttnn, device, g, ttnn.float32), input=dev(ttnn, device, x, ttnn.float32), dim=1,
                                  keepdim=True)
    torch.testing.assert_close(ttnn.to_torch(out), g.expand(2, 32, 64))
    out = ttnn.moreh_mean_backward(dev(ttnn, device, g, ttnn.float32), dim=1, keepdim=True,
                                   input_grad=dev(ttnn, device, torch.zeros(2, 32, 64), ttnn.float32))
    torch.testing.assert_close(ttnn.to_torch(out), g.expand(2, 32, 64) / 32)
