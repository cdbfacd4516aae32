"""README's Performance figures are generated from the committed results, not typed."""
import copy
import json

import pytest

from torch_ttnn.bench import readme


def test_readme_blocks_are_what_the_committed_results_give():
    """The bench block equals bench_section(benchmarks/results/latest.json) and the compare block compare.md;
    regenerate with `python -m torch_ttnn.bench.readme` after a benchmark run."""
    want, got = readme.expected(), readme.current()
    for markers in (readme.BENCH, readme.COMPARE, readme.ZOO):
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


def _cell(model, size, mesh, mode, status="pass", pcc=0.999, layers=2, of_layers=2):
    return {"model": model, "size": size, "mesh": mesh, "preset": "x", "mode": mode, "status": status, "pcc": pcc,
            "layers": layers, "of_layers": of_layers}


def _mesh_column(section: str) -> dict:
    """{model: its mesh cell} from the zoo section's table."""
    from torch_ttnn.zoo.report import MESH_HEADER
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    j = head.index(MESH_HEADER)
    return {r[0]: r[j] for r in ([c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:])}


def test_the_model_tables_mesh_column_comes_from_the_mesh_matrix():
    """Each model's largest mesh its FULL config passed on (most chips; dp+tp before tp before dp), with its PCC
    and the layers run where fewer than the config's; a tiny-config or failed cell does not count; '-' for a model
    the matrix did not run; the other columns are left as they were."""
    section = readme.current()[readme.ZOO]
    record = {"seq": 32, "cells": [
        _cell("bert", "full", "1x2", "dp", pcc=0.99991, layers=12, of_layers=12),
        _cell("bert", "full", "2x4", "tp", pcc=0.99987, layers=12, of_layers=12),
        _cell("bert", "full", "2x4", "dp+tp", pcc=0.99986, layers=12, of_layers=12),
        _cell("bert", "full", "8x4", "dp", status="failed", pcc=None, layers=12, of_layers=12),
        _cell("bert", "tiny", "8x4", "dp"),
        _cell("llama", "full", "1x2", "tp", pcc=0.99912, layers=2, of_layers=16)]}
    got = readme.zoo_section(section, record)
    col = _mesh_column(got)
    assert col["bert"] == "2x4 dp+tp (0.9999)" and col["llama"] == "1x2 tp (0.9991, 2 of 16 layers)"
    assert col["gpt2"] == "-" and col["mistral"] == "-"
    record["cells"][2]["pcc"] = 0.991
    assert _mesh_column(readme.zoo_section(section, record))["bert"] == "2x4 dp+tp (0.9910)"
    # the column is replaced, not added again, and nothing else in the section moves
    assert readme.zoo_section(got, record) == readme.zoo_section(section, record)
    assert _mesh_column(readme.zoo_section(got, None))["bert"] == "-"
    old = [ln for ln in section.splitlines() if ln.startswith("| bert ")][0]
    new = [ln for ln in got.splitlines() if ln.startswith("| bert ")][0]
    from torch_ttnn.zoo.report import MESH_HEADER
    if MESH_HEADER not in section:
        assert new.startswith(old)
