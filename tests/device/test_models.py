"""Whole models on the `ttnn` device: an MLP training step, a HF BERT from a config, torch.compile over it."""
import warnings

import pytest
import torch
from helpers import assert_pcc

import torch_ttnn  # noqa: F401  (registers the device)
from torch_ttnn import device as tdev

warnings.filterwarnings("ignore", category=tdev.TtnnFallbackWarning)


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
    assert_pcc(losses["cpu"].reshape(1), losses["ttnn"].reshape(1)) if False else None
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


def _param_transfers(model, fn):
    """How many times a parameter's data went to the host while fn ran (downloads through _host)."""
    params = {id(p) for p in model.parameters()}
    seen = []
    orig = tdev.TtnnTensor._host

    def spy(self):
        if id(self) in params:
            seen.append(self.shape)
        return orig(self)
    tdev.TtnnTensor._host = spy
    try:
        out = fn()
    finally:
        tdev.TtnnTensor._host = orig
    return out, len(seen)


def test_compile_runs_over_device_parameters():
    """torch.compile of a module living on ttnn runs and matches CPU (today: dynamo treats the subclass as an
    opaque object, graph-breaks, and the ops run eagerly on the device)."""
    torch._dynamo.reset()
    cpu = _mlp()
    dev = _mlp().to("ttnn")
    x = torch.randn(3, 8)
    compiled = torch.compile(dev, backend="eager")
    out = compiled(x.to("ttnn"))
    assert tdev.is_ttnn_tensor(out)
    assert_pcc(cpu(x).detach(), out.detach().cpu(), 0.99)


@pytest.mark.xfail(reason="torch.compile does not capture a graph over TtnnTensor yet: dynamo only traces "
                          "tensor subclasses whose __torch_dispatch__ is the default or that implement "
                          "__tensor_flatten__ (inner torch tensors), and a TT-NN tensor is neither; the backend "
                          "would then unwrap inputs with x.ttnn_tensor(). See the device report.", strict=True)
def test_compile_uses_device_parameters_in_place():
    backend = pytest.importorskip("torch_ttnn.compiler").backend
    torch._dynamo.reset()
    dev = _mlp().to("ttnn")
    x = torch.randn(3, 8).to("ttnn")
    graphs = []

    def counting(gm, example_inputs):
        graphs.append(gm)
        return backend(gm, example_inputs)
    compiled = torch.compile(dev, backend=counting)
    compiled(x)
    _, n = _param_transfers(dev, lambda: compiled(x))
    assert len(graphs) == 1, f"expected one captured graph, got {len(graphs)} (graph breaks)"
    assert n == 0, f"{n} parameter downloads per call"
