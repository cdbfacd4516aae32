"""Smoke test of the benchmark harness (not a timed test): one tiny model through `torch-ttnn bench`, then the
structure of the results file and the sanity of every ratio."""
import json
import math
import os

import pytest

from torch_ttnn.bench.figures import FIGURES, RATIOS, TARGETS, ratio
from torch_ttnn.bench.worker import count_tensors
from torch_ttnn.cli import main

MLP = os.path.join(os.path.dirname(__file__), "models.py:mlp")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    rc = main(["bench", "--size", "tiny", "--models", MLP, "--repeats", "2", "--compile-repeats", "1",
               "--out", str(out)])
    assert rc == 0
    with open(out / "latest.json") as f:
        return json.load(f), (out / "latest.md").read_text()


def test_results_file_has_every_figure_of_the_model(results):
    data, _ = results
    assert set(data) >= {"runs", "rows", "figures", "targets"}
    assert set(data["targets"]) == set(TARGETS)
    assert data["runs"][-1]["commit"] is not None and data["runs"][-1]["size"] == "tiny"
    (row,) = data["rows"]
    assert row["model"] == MLP and row["notes"] == [], row.get("notes")
    missing = [k for k in FIGURES if row.get(k) is None]
    assert not missing, f"figures not measured: {missing}"


@pytest.mark.parametrize("figure", [*RATIOS, "overhead_us_per_op", "bare_call_us", "device_ms", "roofline_ms"])
def test_ratios_are_finite_and_positive(results, figure):
    (row,) = results[0]["rows"]
    v = row[figure]
    assert isinstance(v, float) and math.isfinite(v) and v > 0, f"{figure} = {v!r}"


def test_counts_come_from_the_run(results):
    (row,) = results[0]["rows"]
    assert row["min_transfers"] == 2                   # one input, one output
    assert row["transfers"] == row["h2d"] + row["d2h"] >= row["min_transfers"]
    assert row["ttnn_calls"] >= row["ttnn_ops"] >= 4   # at least: input in, two linears, output out
    assert row["gflop"] == pytest.approx(2 * 32 * (64 * 64 + 64 * 32) / 1e9)
    assert row["efficiency"] <= 1.0                    # the estimate can never beat the roofline
    assert row["bare_call_us"] < row["overhead_us_per_op"]


def test_summary_is_markdown_with_the_table(results):
    _, md = results
    assert md.startswith("# torch-ttnn benchmarks")
    assert "## tiny configs" in md and "| Model |" in md and "models.py:mlp" in md
    assert "| Host us/op | Host us/call |" in md
    assert f"`torch-ttnn bench --size tiny --models {MLP} --repeats 2 --compile-repeats 1 --threads 1`" in md
    assert "Measured by:" in md and ("at commit " in md or "unknown commit (not a git checkout)" in md)


def _old_results(commit):
    """A latest.json as runs before the per-op split wrote it: overhead_us_per_op = null_call_us / ttnn_calls."""
    row = {"model": "bert", "size": "full", "batch": 1, "ttnn_calls": 828, "null_call_us": 3391.9,
           "overhead_us_per_op": 3391.9 / 828, "measured_at": "2026-11-25T16:37:26", "notes": []}
    run = {"date": "2026-11-25T16:44:51", "commit": commit, "size": "full", "batch": 1, "models": ["bert"],
           "repeats": 5, "compile_repeats": 2, "threads": 1, "torch": "2.13.0+cpu", "runtime": "emulator"}
    return {"runs": [run], "rows": [row]}


@pytest.mark.parametrize("commit,said", [("5a7480b", "2026-11-25T16:44:51 at commit 5a7480b"),
                                         ("", "2026-11-25T16:44:51, unknown commit (not a git checkout)"),
                                         ("unknown (not run from a git checkout)",
                                          "2026-11-25T16:44:51, unknown commit (not a git checkout)")])
def test_summary_names_the_run_and_splits_per_op_from_per_call(commit, said):
    """An old row's per-call figure (deallocations counted) is shown as per call, its per-op figure as not
    measured, and its target not judged; the run is named with its commit, or says it had none."""
    from torch_ttnn.bench.figures import misses, normalised
    from torch_ttnn.bench.report import markdown
    data = _old_results(commit)
    md = markdown(data)
    assert f"- {said}: `torch-ttnn bench --size full --models bert --repeats 5" in md
    assert "at commit ," not in md and "at commit unknown" not in md
    assert "| bert | - | - | - | - | - | - | - | 4.10 |" in md
    assert "Rows without Host us/op were measured before it was split" in md
    row = normalised(data["rows"][0])
    assert row["overhead_us_per_op"] is None and row["overhead_us_per_call"] == pytest.approx(4.0965, abs=1e-4)
    assert "overhead_us_per_op" not in misses(row)


def test_ratio_refuses_what_is_not_measured():
    assert ratio(1.0, 2.0) == 0.5
    assert ratio(None, 2.0) is None and ratio(1.0, 0.0) is None and ratio(float("nan"), 1.0) is None


def test_count_tensors_walks_outputs_and_caches():
    import torch

    class Cache:
        def __init__(self):
            self.layers = [[torch.zeros(1), torch.zeros(1)], [torch.zeros(1), torch.zeros(1)]]
    logits = torch.zeros(2)
    assert count_tensors({"logits": logits, "past": Cache(), "n": 3}) == 5
    assert count_tensors((logits, [logits])) == 1          # one tensor reachable twice is one output
