"""Bucketed generation (torch_ttnn.generation): every prompt length within a bucket shares ONE prefill graph and
ONE decode graph (T5 with the dynamic cache: one prefill and two decode graphs, see the test), with the padding
masked so that greedy tokens and per-step logits are the unpadded prompt's on CPU. Counted with the backend's
own record of compiled graphs (`option.compiled`, `option.recompiles`), for GPT-2, Llama and T5 with HF's
dynamic and static caches, on token ids that live on the ttnn device.

Without the helper (tests/compiler/test_generate_device.py) the same prompts compile a static prefill, a static
first decode step and a symbolic decode graph, then a symbolic prefill on the second length."""
import copy
import os
import sys

import pytest
import torch

import torch_ttnn
from torch_ttnn.generation import (DEFAULT_BUCKETS, bucket_length, compile_for_generate, generate,
                                   mark_decode_lengths, pad_to_bucket)

sys.path.insert(0, os.path.dirname(__file__))
from tiny_hf import assert_greedy_matches, build  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

BUCKETS = (16, 32)
PROMPTS = (6, 9, 12)   # one bucket (16): the first compiles, the others reuse both graphs
NEW_TOKENS = 4         # three decode steps: three cache lengths through the one decode graph
MIN_PCC = 0.997        # as test_generate_device.py: tiny random models in bfloat16 against CPU float32


@pytest.mark.parametrize("length,bucket", [(1, 32), (31, 32), (32, 64), (100, 128), (8191, 8192)])
def test_bucket_length_leaves_at_least_one_pad(length, bucket):
    assert bucket_length(length) == bucket


@pytest.mark.parametrize("length,buckets,match", [
    (0, DEFAULT_BUCKETS, "empty prompt"),
    (16, (16,), r"does not fit the largest bucket \(16, which takes up to 15\).*buckets=\(\.\.\., 32\)"),
    (3, (0, 8), "positive ints"),
])
def test_bucket_length_errors_say_the_fix(length, buckets, match):
    with pytest.raises(ValueError, match=match):
        bucket_length(length, buckets)


@pytest.mark.parametrize("mask", [None, [[0, 1, 1], [1, 1, 1]]])
def test_pad_to_bucket_left_pads_ids_and_zeroes_the_mask(mask):
    ids = torch.tensor([[7, 8, 9], [4, 5, 6]])
    m = None if mask is None else torch.tensor(mask)
    p = pad_to_bucket(ids, m, pad_token_id=0, buckets=(4, 8))
    assert (p.bucket, p.pad) == (4, 1)
    torch.testing.assert_close(p.input_ids, torch.tensor([[0, 7, 8, 9], [0, 4, 5, 6]]))
    want = torch.tensor([[0, 1, 1, 1], [0, 1, 1, 1]] if mask is None else [[0, 0, 1, 1], [0, 1, 1, 1]])
    torch.testing.assert_close(p.attention_mask, want)


def test_pad_to_bucket_refuses_a_mask_of_another_shape():
    with pytest.raises(ValueError, match="attention_mask shape"):
        pad_to_bucket(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 4, dtype=torch.long), pad_token_id=0)


def test_prefill_marks_nothing():
    """A prefill call (empty cache) has no growing length: nothing is marked, so the prefill graph stays static
    for its bucket."""
    transformers = pytest.importorskip("transformers")
    cache = transformers.DynamicCache()
    assert mark_decode_lengths({"input_ids": torch.ones(1, 16, dtype=torch.long), "cache": cache}) == 0


def _generate(fn, model, ids, cache, **extra):
    kw = dict(max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False, output_logits=True,
              return_dict_in_generate=True, **extra)
    if cache == "static":
        kw["cache_implementation"] = "static"
    with torch.no_grad():
        return fn(model, ids, **kw)


@pytest.mark.parametrize("cache", ["dynamic", "static"])
@pytest.mark.parametrize("name", ["gpt2", "llama", "t5"])
def test_one_prefill_and_one_decode_graph_per_bucket(name, cache, device):
    torch._dynamo.reset()
    cpu, make = build(name)
    cpu.eval()
    model = copy.deepcopy(cpu).to("ttnn")
    opt = torch_ttnn.TorchTtnnOption(runtime="sim", verbose=False)
    compile_for_generate(model, options=opt)
    prompts = make()[0]
    graphs = []
    for length in PROMPTS:
        ids = prompts[:, :length]
        ref = _generate(lambda m, i, **kw: m.generate(i, **kw), cpu, ids, cache)  # CPU, unpadded
        got = _generate(generate, model, ids.to("ttnn"), cache, buckets=BUCKETS)
        assert got.sequences.device.type == "ttnn", "generate() left the device"
        if not cpu.config.is_encoder_decoder:
            assert got.sequences.shape == ref.sequences.shape, "the helper left its padding in the sequences"
            torch.testing.assert_close(got.sequences.cpu()[:, :length], ids)
        first = 1 if cpu.config.is_encoder_decoder else length
        assert_greedy_matches(f"{name}/{cache}/{length}", ref, got, first, min_pcc=MIN_PCC)
        graphs.append(len(opt.compiled))
    calls = [m["calls"] for m in opt.metrics]
    print(f"{name} {cache}: graphs after each prompt {graphs}, calls {calls}, recompiles {opt.recompiles}")
    # T5's decoder starts from one token, so its first cached step has a cache of length 1, a size dynamo always
    # specialises (0 and 1 are never symbolic): one static graph for that step before the symbolic decode graph
    one_step = cpu.config.is_encoder_decoder and cache == "dynamic"
    want = 3 if one_step else 2
    assert graphs == [want] * len(PROMPTS), f"not one prefill + one decode graph for the bucket: {graphs}, {calls}"
    assert opt.recompiles == want - 1  # every graph after the first is a recompile of the same frame
    n = len(PROMPTS)
    assert sorted(calls) == ([n, n, n * (NEW_TOKENS - 2)] if one_step else [n, n * (NEW_TOKENS - 1)]), calls
    assert all(m["cpu_ops"] == 0 for m in opt.metrics), [m["cpu_ops"] for m in opt.metrics]


def test_compiled_forward_keeps_the_signature_hf_reads():
    """HF passes position_ids (which left padding needs: the real tokens' positions come from the mask) only to
    a forward whose signature takes them: the wrapper must show the model's."""
    import inspect

    class M(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None, position_ids=None, cache=None):
            return input_ids

    m = compile_for_generate(M())
    assert list(inspect.signature(m.forward).parameters) == ["input_ids", "attention_mask", "position_ids", "cache"]
