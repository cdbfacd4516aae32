"""`torch-ttnn` run / zoo / bisect / export / graph end to end on tiny models, in process (main(argv))."""
import json
import os
import subprocess
import sys

import pytest
import torch

from torch_ttnn.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
MLP = os.path.join(HERE, "models.py:mlp")
BROKEN = os.path.join(HERE, "models.py:broken")
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_sim(script, *extra):
    """The script on the emulator, from its own directory, with this checkout's torch_ttnn."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "torch_ttnn.sim", script, *extra], capture_output=True, text=True,
                          cwd=os.path.dirname(script), timeout=120, env=env)


def test_run_prints_the_metrics(capsys):
    assert main(["run", "bert", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["model"] == "bert" and row["status"] in ("pass", "cpu-ops") and not row["error"]
    assert row["pcc"] >= 0.99 and row["graphs"] == 1 and row["aten_ops"] == row["device_ops"] + row["cpu_ops"]
    assert row["h2d"] >= 2 and row["d2h"] >= 1 and row["device_ms"] > 0 and row["compile_s"] > 0


def test_run_of_a_failing_model_says_why(capsys):
    assert main(["run", BROKEN]) == 1
    assert "build: RuntimeError: this model is broken on purpose" in capsys.readouterr().out


README = "# Title\n\nIntro text.\n\n<!-- zoo:begin -->\nold table\n<!-- zoo:end -->\n\n## After\nkept\n"


def test_zoo_subset_writes_reports_and_readme_round_trip(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    out = tmp_path / "out"
    assert main(["zoo", "--models", f"{MLP},{BROKEN}", "--out", str(out), "--readme", str(readme)]) == 1
    data = json.loads((out / "results.json").read_text())
    rows = data["rows"]
    run = data["run"]
    assert run["versions"]["torch"] == torch.__version__ and run["commit"] and run["date"] and run["runtime"]
    assert rows[0]["timing"].startswith("1 thread(s); median of")
    assert [r["status"] for r in rows] == ["pass", "failed"], rows
    assert rows[1]["error"].startswith("build: RuntimeError: this model is broken")
    for f in ("results.md", "results.csv", "pcc.png", "cpu_ops.png", "device_time.png"):
        assert (out / f).stat().st_size > 100, f
    assert "broken on purpose" in (out / "results.csv").read_text()
    text = readme.read_text()
    assert text.startswith("# Title\n\nIntro text.\n\n<!-- zoo:begin -->\n") and text.endswith(
        "<!-- zoo:end -->\n\n## After\nkept\n") and "old table" not in text
    from torch_ttnn.zoo import report
    section = report.read_readme_section(str(readme))
    assert f"| {MLP} " in section and f"| {BROKEN} " in section
    assert "1/2 pass" in section and "Ops on CPU" in section
    assert f"Measured by `torch-ttnn zoo --size tiny --models {MLP},{BROKEN}` on {run['date']}" in section
    assert f"runtime: {run['runtime']}" in section and "rendered" not in section
    # Rewriting replaces the section; the rest of the file is untouched byte for byte.
    report.update_readme(str(readme), "new")
    assert readme.read_text() == README.replace("old table", "new")


def test_zoo_from_saved_results_says_so(tmp_path, monkeypatch):
    """`--from` re-renders: the header keeps the measurement's date, commit and command and says when, where and
    by what the table was rendered; outside a git checkout it says the commit is unknown, never `at commit ,`."""
    from torch_ttnn import provenance
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps({"run": {"date": "2026-01-02T03:04:05", "commit": "abc1234", "runtime": "emulator",
                                         "command": "torch-ttnn zoo --size tiny"},
                                 "rows": [{"model": MLP, "status": "pass", "pcc": 0.9999}]}))
    readme = tmp_path / "README.md"
    readme.write_text(README)
    monkeypatch.setattr(provenance, "git_commit", lambda path=None: None)
    assert main(["zoo", "--from", str(saved), "--out", str(tmp_path / "out"), "--readme", str(readme)]) == 0
    from torch_ttnn.zoo import report
    section = report.read_readme_section(str(readme))
    assert ("Measured by `torch-ttnn zoo --size tiny` on 2026-01-02T03:04:05 at commit abc1234, runtime: emulator."
            in section)
    assert f"rendered from those saved results ({saved}) by `torch-ttnn zoo --size tiny --from {saved}`" in section
    assert "unknown commit (not a git checkout), not measured again" in section and "at commit ," not in section
    # the mesh column comes from benchmarks/results/mesh-matrix.json, "-" for a model it did not run
    assert "| Mesh (largest run, PCC)" in section and section.count(" - ") >= 1
    md = (tmp_path / "out" / "results.md").read_text()
    assert "rendered from those saved results" in md
    assert json.loads((tmp_path / "out" / "results.json").read_text())["run"]["rendered"]["from"] == str(saved)


def test_zoo_readme_without_markers_is_refused(tmp_path):
    from torch_ttnn.zoo import report
    p = tmp_path / "R.md"
    p.write_text("no markers")
    with pytest.raises(ValueError, match="zoo:begin"):
        report.update_readme(str(p), "x")


def test_zoo_jobs_isolates_each_model_in_a_process(tmp_path):
    out = tmp_path / "out"
    assert main(["zoo", "--models", f"{BROKEN},{MLP}", "--jobs", "2", "--out", str(out)]) == 1
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["status"] for r in rows] == ["failed", "pass"]


@pytest.fixture
def degraded_gelu():
    """A lowering rule for aten.gelu that is wrong on purpose (it negates), placed before the real one."""
    from torch_ttnn.lowering import registry
    target = torch.ops.aten.gelu.default
    rule = registry.Rule(target, lambda ttnn, x, approximate="none": ttnn.neg(ttnn.gelu(x)), None, "degraded_gelu")
    registry._RULES[target].insert(0, rule)
    yield
    registry._RULES[target].remove(rule)


def test_bisect_finds_the_degraded_op_and_writes_a_repro(tmp_path, capsys, degraded_gelu):
    repro = tmp_path / "repro.py"
    assert main(["bisect", MLP, "-o", str(repro)]) == 1
    out = capsys.readouterr().out
    assert "first diverging op: aten.gelu.default" in out and "rule degraded_gelu" in out
    assert "(32, 128)" in out and "BFLOAT16" in out and "TILE" in out      # its input shape, dtype, layout
    p = run_sim(str(repro))
    assert p.returncode == 1 and "aten.gelu.default" in p.stdout and "PCC -0.99" in p.stdout, p.stdout + p.stderr


def test_bisect_of_a_healthy_model_finds_nothing(capsys):
    assert main(["bisect", MLP]) == 0
    out = capsys.readouterr().out
    assert "no lowered op diverges" in out and "accumulates" not in out


def test_bisect_accumulated_error_is_located(degraded_gelu):
    """The degraded op is also where the chained (accumulated) PCC first drops; ops before it stay close."""
    from torch_ttnn import zoo
    from torch_ttnn.zoo.bisect import bisect
    r = bisect(zoo.build(MLP))
    acc = r["first_accumulated"]
    assert acc is not None and acc.aten == "aten.gelu.default" and acc.chain_pcc < 0
    before = r["checks"][:r["checks"].index(acc)]
    assert before and all(c.chain_pcc > 0.999 for c in before)


def test_export_runs_standalone_and_reproduces_the_compiled_output(tmp_path):
    script = tmp_path / "bert_export.py"
    assert main(["export", "bert", "-o", str(script)]) == 0
    src = script.read_text()
    assert "ttnn.linear(" in src or "ttnn.matmul(" in src
    assert "torch_ttnn" not in src.split('"""', 2)[2], "the script must use only `ttnn` and torch"
    p = run_sim(str(script), "--save", str(tmp_path / "got.pt"))
    assert p.returncode == 0, p.stdout + p.stderr
    got = torch.load(tmp_path / "got.pt")
    expected = torch.load(tmp_path / "bert_export.pt", weights_only=False)["calls"]
    for outs, call in zip(got, expected):
        for g, e in zip(outs, call["expected"]):
            assert torch.equal(g, e), "the exported script must reproduce the compiled run exactly"


@pytest.mark.parametrize("ext", ["svg", "dot"])
def test_graph_draws_the_lowered_graph(tmp_path, ext):
    path = tmp_path / f"g.{ext}"
    assert main(["graph", MLP, "-o", str(path)]) == 0
    text = path.read_text()
    assert "ttnn.linear" in text or "ttnn.gelu" in text
    assert text.lstrip().startswith("<?xml") if ext == "svg" else text.startswith("digraph")


def test_bisect_leaves_the_compilers_host_preprocessing_alone():
    """Folded BatchNorms are computed on the host in float32: bisect checks device ops only."""
    from torch_ttnn import zoo
    from torch_ttnn.zoo.bisect import bisect
    r = bisect(zoo.build("resnet", "tiny"))
    assert r["checks"] and not any("rsqrt" in c.aten or "batch_norm" in c.aten for c in r["checks"])
    assert any("convolution" in c.aten for c in r["checks"])
