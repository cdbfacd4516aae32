"""fuse.decode_rows: a decode step's [B, 1, K] activations run as [1, 1, B, K] (TT's decode layout, the users
on the tile rows). Checked on a tiny HF Llama decoding with a StaticCache on the ttnn device (bench/decode.py):
the answer stays CPU float32's, the norms, residual adds and the MLP run on [1, 1, B, K], and the reshapes
between a linear's [B, K] and [B, 1, K] become views, so the step runs fewer device ops and less kernel time."""
import pytest
import torch
import transformers as hf
from helpers import pcc

from torch_ttnn.bench import decode
from torch_ttnn.compiler.fuse import PASS_NAMES

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
CACHE = 64


def _model(layers=2):
    cfg = hf.LlamaConfig(vocab_size=128, hidden_size=128, intermediate_size=256, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=256)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    return hf.LlamaModel(cfg).eval()


def _step(device, model, users, fuse):
    """The second decode step (position 1): its output, reference, device op records and lowered graph."""
    ids = torch.randint(0, 128, (users, 2), generator=torch.Generator().manual_seed(0))
    step = decode.compile_decode(decode.device_model(model), users, CACHE, fuse=fuse, verbose=False)
    step(ids[:, :1], torch.zeros(users, 1, dtype=torch.long))
    n0 = len(device.op_records)
    out = step(ids[:, 1:2], torch.ones(users, 1, dtype=torch.long)).cpu().float()
    recs = [r for r in device.op_records[n0:] if r.time_ns]
    ref = decode.reference_steps(model, ids, CACHE)[1]
    return out, ref, recs, step


@pytest.mark.parametrize("users", [8, 32])
def test_decode_rows_same_answer_fewer_ops(device, users):
    model = _model()
    out_on, ref, on, step = _step(device, model, users, True)
    out_off, _, off, _ = _step(device, model, users, set(PASS_NAMES) - {"decode_rows"})
    assert pcc(ref, out_on) > 0.999 and pcc(ref, out_off) > 0.999
    assert step.metrics()["fusions"]["decode_rows"] > 0
    g = step.option._out_fx_graphs[-1]
    norms = [n.meta["shape"] for n in g.nodes if n.meta.get("ttnn_name") == "rms_norm"]
    assert norms == [(1, 1, users, 128)] * 5, norms       # 2 per layer and the final one, all on the rows form
    assert out_on.shape == (users, 1, 128)                # the caller still sees HF's [B, 1, K]
    reshapes = lambda rs: sum(r.name == "ttnn.reshape" for r in rs)  # noqa: E731
    # per layer the MLP's three [B, K] -> [B, 1, K] reshapes and the attention output's become views; the
    # embedding's output is converted once on entry and the final norm's once on exit
    assert reshapes(off) - reshapes(on) >= 2 * 4 - 2, (reshapes(off), reshapes(on))
    assert len(on) < len(off) and sum(r.time_ns for r in on) < sum(r.time_ns for r in off)


def test_decode_rows_leaves_prefill_alone(device):
    """A prompt of several tokens ([B, S, K], S > 1) is not a decode step: nothing is rewritten."""
    import torch_ttnn
    model = _model(1)
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", verbose=False)
    cm = torch.compile(model, backend=torch_ttnn.backend, options=opt)
    ids = torch.randint(0, 128, (4, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = cm(input_ids=ids).last_hidden_state
        ref = model(input_ids=ids).last_hidden_state
    assert pcc(ref, out) > 0.999 and opt.metrics[-1]["fusions"].get("decode_rows") == 0
