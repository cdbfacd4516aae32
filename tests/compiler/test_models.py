"""Small HF models compile with every op on the device, accurately, with minimal transfers and no leaks."""
import gc

import pytest
import torch
from helpers import assert_pcc
import os, sys  # noqa: E401
sys.path.insert(0, os.path.dirname(__file__))
from tiny_hf import build, tensors  # noqa: E402

import torch_ttnn


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "vit", "resnet"])
def test_model(name, device):
    torch._dynamo.reset()
    model, make = build(name)
    model.eval()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim")
    cm = torch.compile(model, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        args = make()
        ref, got = tensors(model(*args)), tensors(cm(*args))
        for r, g in zip(ref, got):
            assert_pcc(r, g, 0.99)
        gc.collect()  # the device is shared by the session: earlier tests' garbage must not be freed mid-count
        before = device.allocated_bytes()
        for _ in range(20):
            cm(*make())
        gc.collect()
        after = device.allocated_bytes()
    assert after == before, f"device memory grew by {after - before} B over 20 calls"
    assert len(opt.compiled) == 1, "the model should compile to one graph"
    r = opt.metrics[0]
    assert r["cpu_ops"] == 0, f"ops left on CPU: {r['fallbacks']} {r['fallback_reasons']}"
    assert r["h2d_per_call"] == len(args), "each input crosses to the device once per call"
    graph_outputs = [a for a in list(opt._out_fx_graphs[0].nodes)[-1].args[0] if a is not None]
    assert r["d2h_per_call"] == len(graph_outputs), "each output (logits, KV cache) crosses back once per call"
    assert r["specializations"] == 1
