"""Whole models on the `ttnn` device: an MLP training step, a HF BERT from a config, torch.compile over it."""
import pytest
import torch
from helpers import assert_pcc, spy_host_downloads

import torch_ttnn  # noqa: F401  (registers the device)
from torch_ttnn import device as tdev

pytestmark = pytest.mark.filterwarnings("ignore::torch_ttnn.device.TtnnFallbackWarning")


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4))


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_mlp_training_step_matches_cpu(opt):
    cpu, dev = _mlp(), _mlp().to("ttnn")
    torch.manual_seed(1)
    x, y = torch.randn(6, 8), torch.randn(6, 4)
    losses = {}
    for name, m, xx, yy in (("cpu", cpu, x, y), ("ttnn", dev, x.to("ttnn"), y.to("ttnn"))):
        o = (torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) if opt == "sgd"
             else torch.optim.AdamW(m.parameters(), lr=1e-2))
        before = [p.detach().cpu().clone() for p in m.parameters()]
        for _ in range(2):
            loss = torch.nn.functional.mse_loss(m(xx), yy)
            o.zero_grad()
            loss.backward()
            o.step()
        losses[name] = loss.detach().cpu()
        if name == "ttnn":
            for p, b in zip(m.parameters(), before):
                assert tdev.is_ttnn_tensor(p) and tdev.is_ttnn_tensor(p.grad), "params and grads stay on the device"
                assert not torch.equal(p.detach().cpu(), b), "the optimizer step updated the parameter"
    assert torch.allclose(losses["cpu"], losses["ttnn"], rtol=1e-2, atol=1e-3)
    for pc, pd in zip(cpu.parameters(), dev.parameters()):
        assert_pcc(pc.detach(), pd.detach().cpu(), 0.99)
        assert_pcc(pc.grad, pd.grad.cpu(), 0.99)


def test_bert_eager_matches_cpu():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    model = transformers.BertModel(cfg).eval()
    ids = torch.randint(0, 100, (2, 12))
    mask = torch.ones(2, 12, dtype=torch.long)
    mask[1, 8:] = 0
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask)
        model.to("ttnn")
        assert all(tdev.is_ttnn_tensor(p) for p in model.parameters())
        out = model(input_ids=ids.to("ttnn"), attention_mask=mask.to("ttnn"))
    assert tdev.is_ttnn_tensor(out.last_hidden_state)
    assert_pcc(ref.last_hidden_state, out.last_hidden_state.cpu(), 0.99)
    assert_pcc(ref.pooler_output, out.pooler_output.cpu(), 0.99)


def test_compile_captures_one_graph_over_device_parameters():
    """torch.compile of a module living on ttnn: one graph, no graph breaks, and the backend receives the
    parameter objects themselves (TtnnTensors) on every call, so it can use their device data in place."""
    torch._dynamo.reset()
    cpu, dev = _mlp(), _mlp().to("ttnn")
    params = list(dev.parameters())
    graphs, calls = [], []

    def backend(gm, example_inputs):
        graphs.append(gm)

        def run(*args):
            calls.append(args)
            return gm.forward(*args)
        return run
    compiled = torch.compile(dev, backend=backend)
    x = torch.randn(3, 8)
    for _ in range(2):
        out = compiled(x.to("ttnn"))
        assert tdev.is_ttnn_tensor(out)
        assert_pcc(cpu(x).detach(), out.detach().cpu(), 0.99)
    assert len(graphs) == 1, "one graph, compiled once"
    for args in calls:
        assert all(tdev.is_ttnn_tensor(a) for a in args)
        assert all(any(a is p for a in args) for p in params), "parameters are passed in place, not copied"
        assert all(a.ttnn_tensor() is not None for a in args)


def test_compile_aot_autograd_over_device_parameters():
    torch._dynamo.reset()
    cpu, dev = _mlp(), _mlp().to("ttnn")
    x = torch.randn(3, 8)
    out = torch.compile(dev, backend="aot_eager")(x.to("ttnn"))
    assert tdev.is_ttnn_tensor(out)
    assert_pcc(cpu(x).detach(), out.detach().cpu(), 0.99)


def _backend_takes_device_inputs() -> bool:
    try:
        import inspect

        from torch_ttnn.compiler import backend as mod
        src = inspect.getsource(inspect.getmodule(mod))
    except Exception:
        return False
    return "ttnn_tensor" in src or "is_ttnn_tensor" in src


@pytest.mark.xfail(not _backend_takes_device_inputs(), strict=True,
                   reason="torch_ttnn's compiler backend does not yet accept inputs already on the ttnn device "
                          "(it should unwrap them with torch_ttnn.device.is_ttnn_tensor(x) / x.ttnn_tensor() "
                          "and wrap outputs with torch_ttnn.from_ttnn)")
def test_compile_with_ttnn_backend_uses_device_parameters_in_place():
    from torch_ttnn.compiler import backend
    torch._dynamo.reset()
    cpu, dev = _mlp(), _mlp().to("ttnn")
    x = torch.randn(3, 8)
    compiled = torch.compile(dev, backend=backend)
    out = compiled(x.to("ttnn"))
    _, seen = spy_host_downloads(lambda: compiled(x.to("ttnn")), only={id(p) for p in dev.parameters()})
    n = len(seen)
    assert_pcc(cpu(x).detach(), out.detach().cpu(), 0.99)
    assert n == 0, f"{n} parameter downloads per call"
