"""`python -m torch_ttnn.sim script.py args` runs an unchanged `import ttnn` script on the emulator."""
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    import torch
    import ttnn
    import ttnn.transformer

    device = ttnn.open_device(device_id=0)
    x = ttnn.from_torch(torch.ones(1, 1, 32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    y = ttnn.transformer.scaled_dot_product_attention(x, x, x)
    y = ttnn.permute(y, (0, 1, 3, 2))
    s = float(ttnn.to_torch(y).float().sum())  # 1024 ones, up to SDPA's bf16 roundings and fast exp
    print("sum", abs(s - 1024) <= 2, "args", sys.argv[1:], ttnn.device.is_wormhole_b0(device), __name__)
    ttnn.close_device(device)
    sys.exit(int(sys.argv[1]))
""")


def run(tmp_path, *args):
    path = tmp_path / "script.py"
    path.write_text(SCRIPT)
    env = dict(os.environ, TORCH_TTNN_SIM_ARCH="n150")
    return subprocess.run([sys.executable, "-m", "torch_ttnn.sim", str(path), *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_runs_import_ttnn_script(tmp_path):
    """One subprocess (importing torch costs seconds): argv, __main__, submodules, summary, exit code."""
    r = run(tmp_path, "3", "extra")
    assert r.returncode == 3, r.stderr
    assert "sum True args ['3', 'extra'] True __main__" in r.stdout
    last = r.stderr.strip().splitlines()[-1]
    assert "[ttnn emulator] 3 device ops" in last and "estimated device time" in last and "n150" in last


def test_missing_script(tmp_path):
    r = subprocess.run([sys.executable, "-m", "torch_ttnn.sim", str(tmp_path / "nope.py")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "no such script" in r.stderr


def test_summary_time_is_the_busiest_chip(monkeypatch):
    """A mesh's chips run side by side: the script's device time is one chip's, not the sum over chips."""
    import re

    import torch

    from torch_ttnn import sim as ttnn
    from torch_ttnn.sim.__main__ import _Tally
    from torch_ttnn.sim.device import Device
    monkeypatch.setattr(Device, "record", Device.record)   # restored after the test; _Tally wraps it
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "n300")
    tally = _Tally(Device)
    mesh = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 2))
    try:
        x = ttnn.from_torch(torch.ones(2, 64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh,
                            mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=0))
        ttnn.exp(x)
        per_chip = [d.estimated_time_ns() for d in mesh.get_devices()]
    finally:
        ttnn.close_mesh_device(mesh)
    line = tally.summary("n300")
    shown = float(re.search(r"estimated device time ([0-9.]+) ms", line).group(1))
    assert len(per_chip) == 2 and shown == round(max(per_chip) / 1e6, 3) and "busiest of 2 chips" in line
