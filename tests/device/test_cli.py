"""`torch-ttnn doctor` / `python -m torch_ttnn doctor`."""
import os
import subprocess
import sys

from torch_ttnn.cli import main


def test_doctor_reports_runtime_versions_devices(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for needle in ("torch 2.", "active runtime: emulator", "torch-ttnn 0.6", "torch device 'ttnn' registered",
                   "devices: 1 emulated device(s)", "round trip through ttnn:0 exact", "all good"):
        assert needle in out, (needle, out)


def test_doctor_explains_missing_runtime_with_fix():
    env = {**os.environ, "TORCH_TTNN_RUNTIME": "ttnn"}
    p = subprocess.run([sys.executable, "-m", "torch_ttnn", "doctor", "--no-smoke"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "!!  real ttnn: not installed (TORCH_TTNN_RUNTIME=ttnn needs it)" in p.stdout, p.stdout
    py = sys.version_info[:2]
    fix = "fix: pip install 'torch-ttnn[ttnn]'" if py in ((3, 10), (3, 12)) else "CPython 3.10 and 3.12 only"
    assert fix in p.stdout, p.stdout
    assert "problem(s) found" in p.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "doctor" in capsys.readouterr().out
