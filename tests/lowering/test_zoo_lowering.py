"""Zoo models (tiny configs) compiled with backend="ttnn": no ATen op left on CPU and PCC >= 0.99.

By default a subset that exercises the integer/mask, indexing, scatter and conv-form rules (~1 minute);
TORCH_TTNN_ZOO_ALL=1 runs every zoo model (several minutes on a busy machine)."""
import os

import pytest
import torch

from torch_ttnn import compiler, zoo
from torch_ttnn.accuracy import pcc

SUBSET = ["roberta", "bart", "bloom", "clip", "swin", "whisper"]
MODELS = zoo.names() if os.environ.get("TORCH_TTNN_ZOO_ALL") else SUBSET


@pytest.mark.parametrize("name", MODELS)
def test_zoo_model_lowers_fully(name, device):
    ex = zoo.build(name, "tiny")
    ref = ex.run()
    torch._dynamo.reset()
    opt = compiler.TorchTtnnOption(device=device, runtime="sim")
    got = ex.run(torch.compile(ex.model, backend=compiler.backend, options=opt))
    cpu = {k: v for m in opt.metrics for k, v in (m.get("fallbacks") or {}).items()}
    assert not cpu, f"{name}: ops left on CPU: {cpu}"
    p = pcc(ref.float(), got.float())
    assert p >= 0.99, f"{name}: PCC {p:.5f}"
