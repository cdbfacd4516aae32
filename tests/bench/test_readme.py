"""README's Performance figures are generated from the committed results, not typed."""
import copy
import json

import pytest

from torch_ttnn.bench import readme


def test_readme_blocks_are_what_the_committed_results_give():
    """The bench block equals bench_section(benchmarks/results/latest.json) and the compare block compare.md;
    regenerate with `python -m torch_ttnn.bench.readme` after a benchmark run."""
    want, got = readme.expected(), readme.current()
    for markers in (readme.BENCH, readme.COMPARE):
        assert got[markers] == want[markers].rstrip("\n"), \
            f"{markers[0]} is stale: run python -m torch_ttnn.bench.readme"
    assert readme.main(["--check"]) == 0


def _latest():
    return json.loads((readme.RESULTS / "latest.json").read_text())


def test_every_table_figure_comes_from_the_results():
    """Change one measured number in the results: the generated table follows it."""
    data = _latest()
    row = next(r for r in data["rows"] if r["size"] == "full")
    before = readme.bench_section(data)
    changed = copy.deepcopy(data)
    r2 = next(r for r in changed["rows"] if r["size"] == "full" and r["model"] == row["model"])
    r2["emu_ms"], r2["emu_ratio"] = 12345.0, 99.0
    after = readme.bench_section(changed)
    assert "12345 vs" in after and "(99.00x)" in after and "12345 vs" not in before
    assert f"{row['model']} 99.00x" in after.split("Targets:")[1]   # and the target sentence


@pytest.mark.parametrize("drop", ["ttnn_ops_split", "roofline_ms", "compile_inductor_s"])
def test_a_missing_field_is_not_claimed(drop):
    """A figure the results do not hold shows as '-' (and its target as not measured), never a number."""
    data = {"runs": [{"date": "2026-01-01T00:00:00", "commit": "abc1234", "size": "full", "models": ["bert"],
                      "repeats": 5, "compile_repeats": 2, "threads": 1, "batch": 1}],
            "rows": [{"model": "bert", "size": "full", "batch": 1, "measured_at": "2025-12-31T23:00:00",
                      "compile_ttnn_s": 9.0, "compile_inductor_s": 25.0, "compile_ratio": 0.36, "emu_ms": 600.0,
                      "eager_ms": 400.0, "emu_ratio": 1.5, "ttnn_calls": 800, "ttnn_ops": 400,
                      "overhead_us_per_op": 8.0, "overhead_us_per_call": 4.0, "transfers": 4, "min_transfers": 4,
                      "transfer_ratio": 1.0, "device_ms": 3.0, "roofline_ms": 0.75, "efficiency": 0.25,
                      "mem_ratio": 1.2}]}
    row = data["rows"][0]
    if drop == "ttnn_ops_split":
        for k in ("ttnn_ops", "overhead_us_per_call"):
            del row[k]
    else:
        del row[drop]
    text = readme.bench_section(data)
    line = next(ln for ln in text.splitlines() if ln.startswith("| bert"))
    if drop == "ttnn_ops_split":   # an old row: its per-op figure was per call step
        assert "| - | 8.0 |" in line and "not measured by this run" in text
    elif drop == "roofline_ms":
        assert "| 4 (4) | - |" in line
    else:                          # the compile comparison needs both times
        assert line.split("|")[2].strip() == "-"
    assert "2026-01-01T00:00:00 at commit abc1234" in text
