"""A CLI scripts can trust: exit codes, whole messages, did-you-mean, checked paths, fast --help, cwd imports."""
import json
import os
import subprocess
import sys
import time

import pytest

from torch_ttnn.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MLP = os.path.join(HERE, "models.py:mlp")


def _cli(*args, cwd=ROOT, timeout=300):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "torch_ttnn", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_help_is_fast_and_imports_neither_torch_nor_transformers():
    probe = ("import sys, time; t = time.perf_counter(); from torch_ttnn.cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(time.perf_counter() - t, 'torch' in sys.modules, 'transformers' in sys.modules, file=sys.stderr)")
    p = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    seconds, torch_loaded, hf_loaded = p.stderr.split()
    assert "run" in p.stdout and "zoo" in p.stdout
    assert torch_loaded == "False" and hf_loaded == "False"
    assert float(seconds) < 1.0
    t = time.perf_counter()
    p = _cli("--help")
    assert p.returncode == 0 and time.perf_counter() - t < 3.0     # interpreter start included, shared machine


@pytest.mark.parametrize("module", ["torch_ttnn", "torch_ttnn.cli"])
def test_version(module):
    """`python -m torch_ttnn` and `python -m torch_ttnn.cli` are the console script."""
    import torch_ttnn
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-m", module, "--version"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == f"torch-ttnn {torch_ttnn.__version__}", p.stderr


def test_zoo_unknown_name_exits_nonzero_with_did_you_mean(capsys, tmp_path):
    assert main(["zoo", "--models", "brt,llama", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no zoo model 'brt'; did you mean 'bert'" in err
    assert not (tmp_path / "results.json").exists()        # nothing measured


def test_run_unknown_name_suggests(capsys):
    assert main(["run", "lama"]) == 1
    assert "did you mean 'llama'" in capsys.readouterr().out


@pytest.mark.parametrize("cmd", ["graph", "export"])
def test_unknown_name_in_other_commands_is_a_message_not_a_traceback(cmd, capsys, tmp_path):
    assert main([cmd, "gpt3", "-o", str(tmp_path / ("g.svg" if cmd == "graph" else "x.py"))]) == 2
    assert "no zoo model 'gpt3'; did you mean 'gpt2'" in capsys.readouterr().err


def test_error_messages_are_whole(tmp_path, capsys):
    model = tmp_path / "longerr.py"
    long = "x" * 500 + " END"
    model.write_text(f"def build():\n    raise ValueError({long!r})\n")
    assert main(["run", f"{model}:build", "--json"]) == 1
    row = json.loads(capsys.readouterr().out)
    assert row["error"].endswith(" END") and len(row["error"]) > 500


@pytest.mark.parametrize("bad, message", [("g.pdf", "must end in .svg, .png, .dot"),
                                          ("afile/g.svg", "is a file, not a directory")])
def test_graph_checks_the_path_before_compiling(tmp_path, bad, message):
    (tmp_path / "afile").write_text("")
    t = time.perf_counter()
    with pytest.raises(SystemExit, match=message):
        main(["graph", "no_such_module:f", "-o", str(tmp_path / bad)])     # the model is never even imported
    assert time.perf_counter() - t < 1.0


def test_graph_writes_png(tmp_path):
    path = tmp_path / "sub" / "g.png"
    assert main(["graph", MLP, "-o", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_module_function_imports_from_the_current_directory(tmp_path):
    (tmp_path / "my_net.py").write_text(
        "import torch\n\ndef build(generator):\n"
        "    return torch.nn.Linear(16, 8), torch.randn(4, 16, generator=generator)\n")
    p = _cli("run", "my_net:build", "--json", cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    row = json.loads(p.stdout)
    assert row["status"] == "pass" and row["timing"].startswith("1 thread(s); median of")
