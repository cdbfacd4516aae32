"""The compiled Llama decode step (bench/decode.py): HF's LlamaModel with a StaticCache on the ttnn device,
compiled with backend="ttnn". Per step only the token ids and positions go to the device; the cache is
updated on the device and stays there; the hidden states match HF on CPU (float32) at every step."""
import pytest
import torch
import transformers as hf
from helpers import assert_pcc, spy_host_downloads

from torch_ttnn.bench import decode

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def spy_host_uploads(fn):
    """Run fn() while recording the shapes of host tensors the eager device uploads (its `host_to_tt`, as the
    copy kernel and the dispatcher bind it). Returns (fn's result, [shapes])."""
    from torch_ttnn.device import dispatch, kernels
    seen, origs = [], {m: m.host_to_tt for m in (kernels, dispatch)}

    def spy(orig):
        def upload(x, *a, **kw):
            seen.append(tuple(x.shape))
            return orig(x, *a, **kw)
        return upload
    for m, f in origs.items():
        m.host_to_tt = spy(f)
    try:
        return fn(), seen
    finally:
        for m, f in origs.items():
            m.host_to_tt = f


def tiny_llama(layers=2):
    torch.manual_seed(0)
    cfg = hf.LlamaConfig(vocab_size=1000, hidden_size=128, num_hidden_layers=layers, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=256, max_position_embeddings=256)
    cfg._attn_implementation = "sdpa"   # as the comparison runs it (bench/compare.py)
    return hf.LlamaModel(cfg).eval()


@pytest.mark.parametrize("users", [1, 4])
def test_decode_steps_match_cpu_with_the_cache_on_device(device, users):
    cpu = tiny_llama()
    steps, cache_len = 4, 64
    ids = torch.randint(0, 1000, (users, steps), generator=torch.Generator().manual_seed(1))
    ref = decode.reference_steps(cpu, ids, cache_len)
    step = decode.compile_decode(decode.device_model(cpu), users, cache_len)
    layer0 = step.cache.layers[0]
    keys = layer0.keys
    for p in range(steps):
        pos = torch.full((users, 1), p)
        n0 = len(device.op_records)
        (out, downloads), uploads = spy_host_uploads(lambda: spy_host_downloads(lambda: step(ids[:, p:p + 1], pos)))
        assert downloads == [], f"step {p}: tensors downloaded to the host: {downloads}"
        assert uploads == [(users, 1), (users, 1)], f"step {p}: uploads other than the ids and positions: {uploads}"
        assert out.device.type == "ttnn"
        names = [r.name for r in device.op_records[n0:]]
        assert names.count("ttnn.experimental.paged_update_cache") == 4, "K and V of 2 layers not written in place"
        assert_pcc(ref[p], out.cpu().float(), 0.999)
        m = step.metrics()
        assert (m["h2d_per_call"], m["d2h_per_call"], m["cpu_ops"]) == (0, 0, 0), m  # inside the graph: none
    m = step.metrics()
    assert m["calls"] == steps and m["lowerings"] == 1, "the decode step was lowered again"
    assert layer0.keys is keys and keys.device.type == "ttnn", "the cache left the device or was replaced"
    cached = keys.cpu().float()
    assert cached[:, :, :steps].abs().sum() > 0 and cached[:, :, steps:].abs().sum() == 0
    assert int(layer0.cumulative_length.cpu()) == steps


def test_device_memory_is_steady_across_steps(device):
    cpu = tiny_llama(1)
    step = decode.compile_decode(decode.device_model(cpu), 2, 32)
    ids = torch.randint(0, 1000, (2, 1))
    tt_dev = step.cache.layers[0].keys.ttnn_tensor().device()
    out = step(ids, torch.zeros(2, 1, dtype=torch.long))
    before = tt_dev.allocated_bytes()
    for p in range(1, 4):
        out = step(ids, torch.full((2, 1), p))
    assert tt_dev.allocated_bytes() == before, "device memory grew across decode steps"
