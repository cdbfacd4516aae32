"""Greedy generation (16 new tokens, KV cache on) compiled with backend="ttnn" matches CPU.

Shapes: HF's default dynamic cache grows by one position per token. Dynamo compiles the prefill, the first
decode step, then (seeing the cache length change) one graph with the length symbolic; the backend lowers
each graph once, the symbolic one with symbolic sizes (see compiler/backend.py), so 16 tokens cost 3
lowerings, not one per length.
"""
import os
import sys

import pytest
import torch

import torch_ttnn

sys.path.insert(0, os.path.dirname(__file__))
from tiny_hf import assert_greedy_matches, build  # noqa: E402


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_generate_matches_cpu(name, device):
    torch._dynamo.reset()
    model, make = build(name)
    model.eval()
    ids = make()[0][:, :8]
    kw = dict(max_new_tokens=16, min_new_tokens=16, do_sample=False, output_logits=True,
              return_dict_in_generate=True)
    with torch.no_grad():
        ref = model.generate(ids, **kw)
        opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim")
        model.forward = torch.compile(model.forward, backend=torch_ttnn.backend, options=opt)
        got = model.generate(ids, **kw)
    assert_greedy_matches(name, ref, got, 8)
    ms = [c.metrics() for c in opt.compiled]
    lowerings = sum(m["lowerings"] for m in ms)
    print(f"{name}: {len(ms)} graphs, {lowerings} lowerings, calls {[m['calls'] for m in ms]}")
    assert lowerings <= 3 and len(ms) <= 3, "lowered again per sequence length"
    assert sum(m["calls"] for m in ms) == 16
    assert any(m["symbolic"] and m["calls"] >= 14 for m in ms), "no symbolic graph served the decode lengths"
    assert all(m["cpu_ops"] == 0 for m in ms), [m["fallbacks"] for m in ms]
