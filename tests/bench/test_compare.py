"""bench/compare.py: the depth extrapolation is exact under the cost model, and the report is generated."""
import pytest
import torch

from torch_ttnn.bench import compare


def _bert(layers):
    import transformers as hf
    torch.manual_seed(0)
    cfg = hf.BertConfig(hidden_size=128, num_hidden_layers=layers, num_attention_heads=4, intermediate_size=256,
                        vocab_size=1000)
    model = hf.BertModel(cfg, add_pooling_layer=False).eval()
    ids = torch.randint(1, 1000, (2, 64), generator=torch.Generator().manual_seed(0))
    return model, (ids, torch.ones(2, 64, dtype=torch.long)), lambda o: o.last_hidden_state


def test_depth_extrapolation_is_exact(device):
    costs = {}
    for layers in (1, 2, 3):
        model, args, output = _bert(layers)
        _out, recs = compare._compiled(model, args, output, device)
        costs[layers] = compare.Cost.of(recs)
    three = costs[1].extrapolate(costs[2], 3)
    for k in ("ops", "kernel_ms", "dispatch_ms", "device_side_ms", "trace_ms"):
        assert getattr(three, k) == pytest.approx(getattr(costs[3], k), rel=1e-9), k
    assert three.host_ms == pytest.approx(costs[3].host_ms)


def test_report_names_how_when_and_the_ratios():
    rows = [compare.Row("bert-large", "hand-written", 24, 272, 15.0, 30.0, 16.0, 0.999),
            compare.Row("bert-large", "compiled (defaults)", 24, 232, 33.0, 36.0, 36.0, 0.9999)]
    text = compare.render(rows, {"date": "2026-11-30T00:00:00", "commit": "abc1234"})
    assert "at commit abc1234" in text and "2026-11-30" in text
    assert "1.20x" in text and "2.25x" in text          # host 36/30, traced 36/16
    assert "hand-written: 267 without trace, 500 traced" in text   # 8 sentences / 30 ms and / 16 ms


def _tiny_llama_config(layers=1):
    import transformers as hf
    return hf.LlamaConfig(vocab_size=1000, hidden_size=128, num_hidden_layers=layers, num_attention_heads=4,
                          num_key_value_heads=2, intermediate_size=256, max_position_embeddings=256,
                          rms_norm_eps=1e-5)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_llama_decode_rows(device, monkeypatch):
    """The decode rows at tiny widths: both programs run, match CPU, and are extrapolated to the depth."""
    monkeypatch.setitem(compare.MODELS, "llama-1b-decode",
                        lambda: compare._llama_decode(8, 64, _tiny_llama_config, depth=4))
    rows = compare.measure("llama-1b-decode", ("hand-written", "compiled (defaults)",
                                               "compiled (bf8 weights, LoFi)"))
    assert [r.variant for r in rows] == ["hand-written", "compiled (defaults)", "compiled (bf8 weights, LoFi)"]
    for r in rows:
        assert r.layers == 4 and r.ops > 0 and 0 < r.trace_ms <= r.host_ms, r
        assert r.pcc > 0.99, r


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_llama_decode_depth_extrapolation_is_exact(device):
    bench = compare._llama_decode(4, 64, _tiny_llama_config)
    costs = {}
    for layers in (1, 2, 3):
        model, args, output = bench.build(layers)
        _out, recs = bench.compiled(model, args, output, device)
        costs[layers] = compare.Cost.of(recs)
    three = costs[1].extrapolate(costs[2], 3)
    for k in ("ops", "kernel_ms", "dispatch_ms", "device_side_ms", "trace_ms"):
        assert getattr(three, k) == pytest.approx(getattr(costs[3], k), rel=1e-9), k


def test_merge_keeps_the_other_models_rows_and_says_so(monkeypatch, tmp_path):
    import json
    old = [compare.Row("bert-large", "hand-written", 24, 272, 15.0, 30.0, 16.0, 0.999),
           compare.Row("llama-1b-decode", "hand-written", 16, 500, 1.0, 2.0, 1.5, 0.999)]
    (tmp_path / "compare.json").write_text(json.dumps(
        {"meta": {"date": "2026-11-29T00:00:00", "commit": "abc1234"}, "rows": [r.__dict__ for r in old]}))
    monkeypatch.setattr(compare, "RESULTS", tmp_path)
    new = [compare.Row("llama-1b-decode", "hand-written", 16, 400, 0.5, 1.0, 0.8, 0.999)]
    rows, info = compare._merged(new, ["llama-1b-decode"], {"date": "2026-11-30T00:00:00", "commit": "def5678"})
    assert [(r.model, r.ops) for r in rows] == [("bert-large", 272), ("llama-1b-decode", 400)]
    text = compare.render(rows, info)
    assert "Rows of bert-large kept from the run of 2026-11-29T00:00:00 at commit abc1234" in text
    assert "at commit def5678" in text and "llama-1b-decode: one decode step" in text
