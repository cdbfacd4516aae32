"""Sharded placement and program configs (compiler/shard.py): chosen on the cost model, accepted by the
emulator's checks (the real op's), the same values as the interleaved program, a clean fallback."""
import pytest
import torch
import transformers as hf

import torch_ttnn
import torch_ttnn.sim as ttnn
from torch_ttnn.accuracy import pcc

_CONFIGS = (ttnn.MatmulMultiCoreReuseMultiCastProgramConfig, ttnn.LayerNormShardedMultiCoreProgramConfig)


def _bert(layers=2, hidden=512, heads=8, ff=2048, batch=8, seq=128):
    torch.manual_seed(0)
    cfg = hf.BertConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=ff,
                        vocab_size=1000, attn_implementation="sdpa")
    model = hf.BertModel(cfg, add_pooling_layer=False).eval()
    ids = torch.randint(0, 1000, (batch, seq), generator=torch.Generator().manual_seed(0))
    # ids only: an attention mask is transferred between device ops, which keeps the program from being traced
    return model, (ids,), lambda o: o.last_hidden_state


class _Wide(torch.nn.Module):
    """linear -> linear -> layer_norm -> linear: the activation the norm reads is rows x width."""

    def __init__(self, width):
        super().__init__()
        self.pre, self.up = torch.nn.Linear(32, 32), torch.nn.Linear(32, width)
        self.norm, self.down = torch.nn.LayerNorm(width), torch.nn.Linear(width, 32)

    def forward(self, x):
        return self.down(self.norm(self.up(self.pre(x))))


def _run(model, args, output, device, **kw):
    """(output of the second call, its op records, the option, the lowered graph)."""
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim", **kw)
    cm = torch.compile(model, backend=torch_ttnn.backend, options=opt)
    with torch.no_grad():
        cm(*args)
        n0 = len(device.op_records)
        out = output(cm(*args))
    return out, device.op_records[n0:], opt, opt._out_fx_graphs[-1]


def _configs(graph) -> list:
    return [n.kwargs["program_config"] for n in graph.nodes if "program_config" in n.kwargs]


def _sharded_nodes(graph) -> list:
    return [n for n in graph.nodes if getattr(n.kwargs.get("memory_config"), "is_sharded", lambda: False)()]


def test_bert_layers_get_faster_with_the_same_values(traced_device):
    model, args, output = _bert()
    with torch.no_grad():
        ref = output(model(*args))
    on, recs_on, opt_on, g_on = _run(model, args, output, traced_device, trace=True)
    off, recs_off, opt_off, g_off = _run(model, args, output, traced_device, trace=True, shard=False)
    stats = opt_on.metrics[0]["shard"]
    assert opt_on.metrics[0]["traced"] and opt_off.metrics[0]["traced"]
    assert stats["regions"] >= 1 and stats["configs"]["MatmulMultiCoreReuseMultiCastProgramConfig"] >= 4
    assert stats["configs"]["LayerNormShardedMultiCoreProgramConfig"] >= 2
    # every config the pass emitted ran through the emulator's checks (the real op's) on the second call
    assert {type(c) for c in _configs(g_on)} == set(_CONFIGS)
    assert all(n.kwargs["memory_config"].memory_layout == ttnn.TensorMemoryLayout.BLOCK_SHARDED
               for n in _sharded_nodes(g_on))
    torch.testing.assert_close(on, off, rtol=0, atol=0)   # placement and configs change no value
    assert pcc(ref, on) >= 0.99
    trace_on, trace_off = sum(r.trace_ns for r in recs_on), sum(r.trace_ns for r in recs_off)
    assert trace_on < trace_off
    assert stats["saved_us"] > 0
    # the saving the pass predicted is what the emulator then recorded, within the ops it did not touch
    assert (trace_off - trace_on) / 1e3 == pytest.approx(stats["saved_us"], rel=0.05)
    # shard=False is the interleaved program: no configs, no shards, no reshards, one op fewer per reshard
    assert opt_off.metrics[0]["shard"] == {} and not _configs(g_off) and not _sharded_nodes(g_off)
    assert not any(n.meta.get("ttnn_name") == "to_memory_config" for n in g_off.nodes)
    reshards = sum(1 for n in g_on.nodes if n.meta.get("ttnn_name") == "to_memory_config")
    assert reshards == stats["configs"].get("to_memory_config (reshard)", 0)
    assert len([r for r in recs_on if r.time_ns]) == len([r for r in recs_off if r.time_ns]) + reshards


def test_not_traced_and_dispatch_bound_stays_interleaved(device):
    """Sharded matmuls pay the sharded dispatch figure; a small untraced program is dispatch-bound, so the
    saving on the device would make the call slower: the pass says so and leaves it interleaved."""
    model, args, output = _bert()
    _, _, opt, g = _run(model, args, output, device)
    stats = opt.metrics[0]["shard"]
    assert stats["regions"] == 0 and not _configs(g)
    assert any("dispatch" in reason for reason in stats["rejected"])


@pytest.mark.parametrize("rows, width, sharded", [(256, 1024, True), (4096, 6144, False)])
def test_shards_that_overflow_l1_fall_back(traced_device, rows, width, sharded):
    """A [4096, 6144] bfloat16 activation is 786 KB per core even over all 64 cores, more than the half of a
    bank the planners may use: no grid fits, and the program keeps the interleaved placement."""
    torch.manual_seed(0)
    model, x = _Wide(width).eval(), torch.randn(rows, 32)
    with torch.no_grad():
        ref = model(x)
    out, recs, opt, g = _run(model, (x,), lambda o: o, traced_device, trace=True)
    stats = opt.metrics[0]["shard"]
    assert bool(_configs(g)) == sharded and bool(_sharded_nodes(g)) == sharded
    if not sharded:
        assert stats["rejected"] == {"no grid fits (tiles or L1)": 1}
        assert stats["configs"] == {"interleaved (TT-NN's own config)": 2}
    assert pcc(ref, out) >= 0.99


def test_option_is_checked():
    with pytest.raises(TypeError, match="shard must be True or False"):
        torch_ttnn.TorchTtnnOption(shard="yes")
    assert torch_ttnn.TorchTtnnOption().shard is True
