"""`pip install` of the built wheel into a fresh venv WITHOUT extras: doctor, the CLI and a compile work there.

Offline and without re-downloading torch: the wheel is built from a copy of this checkout with
`--no-build-isolation` (setuptools is a torch dependency, so it is here), and the fresh venv sees exactly the
closure of the wheel's core `Requires-Dist` (each distribution's top-level files linked from this environment
into one directory put on the venv's path by a .pth file), nothing else: no transformers, no pytest, no
editable copy of torch_ttnn. pip then installs the wheel WITH dependency resolution (`--no-index`), so a core
dependency the wheel forgot to declare, or one the closure lacks, fails the install or the commands.
"""
import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile

import pytest

try:
    from packaging.requirements import Requirement
except ImportError:  # pip always carries it
    from pip._vendor.packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTRAS_ONLY = {"transformers", "matplotlib", "pytest"}   # what must NOT be needed by the core

pytestmark = pytest.mark.slow


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _core_requirements(wheel: str) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode().splitlines()
    reqs = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Requires-Dist:")]
    return [r for r in reqs if _applies(r)]


def _applies(req: str) -> bool:
    """Needed here without extras: no marker, or one that holds on this platform with no extra asked."""
    m = Requirement(req).marker
    return m is None or m.evaluate({"extra": ""})


def _name(req: str) -> str:
    return _norm(Requirement(req).name)


def _closure(reqs: list[str]) -> dict:
    """Distribution name -> Distribution, for `reqs` and what they require (extras' requirements left out)."""
    seen, todo = {}, [_name(r) for r in reqs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen[name] = dist = md.distribution(name)
        todo += [_name(r) for r in (dist.requires or []) if _applies(r)]
    return seen


def _link_closure(dists: dict, site: str) -> None:
    """Link each distribution's top-level entries (packages, modules, dist-info, .libs) into `site`."""
    os.makedirs(site)
    for dist in dists.values():
        base = str(dist.locate_file(""))
        for top in {f.parts[0] for f in (dist.files or []) if not f.parts[0].startswith("..")}:
            src, dst = os.path.join(base, top), os.path.join(site, top)
            if os.path.exists(src) and not os.path.exists(dst) and not top.endswith(".pth") and top != "bin":
                os.symlink(src, dst)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(os.path.join(ROOT, "torch_ttnn"), src / "torch_ttnn",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, f), src / f)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation",
                    "-w", str(tmp / "dist"), str(src)], check=True, capture_output=True, timeout=300)
    wheel = str(next((tmp / "dist").glob("torch_ttnn-*.whl")))
    reqs = _core_requirements(wheel)
    dists = _closure(reqs)
    assert not EXTRAS_ONLY & set(dists), f"core dependencies pull in an extra: {sorted(EXTRAS_ONLY & set(dists))}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True, timeout=120)
    py = str(tmp / "venv" / "bin" / "python")
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    _link_closure(dists, str(tmp / "core"))
    with open(os.path.join(purelib, "core-deps.pth"), "w") as f:
        f.write(str(tmp / "core") + "\n")
    p = subprocess.run([sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-index", wheel],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    work = tmp / "work"    # outside the checkout: nothing imports this repository's torch_ttnn
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TORCH_TTNN"))}
    return {"py": py, "bin": str(tmp / "venv" / "bin"), "work": str(work), "env": env, "reqs": reqs}


def _run(venv, *cmd, timeout=300):
    return subprocess.run(list(cmd), cwd=venv["work"], env=venv["env"], capture_output=True, text=True,
                          timeout=timeout)


def test_core_dependencies_are_the_documented_ones(venv):
    assert {_name(r) for r in venv["reqs"]} == {"torch", "numpy", "tabulate", "tqdm"}


def test_the_installed_copy_is_used_and_extras_are_absent(venv):
    p = _run(venv, venv["py"], "-c", "import importlib.util as u, torch_ttnn; print(torch_ttnn.__file__); "
                                     "print(u.find_spec('transformers'))")
    assert p.returncode == 0, p.stderr
    where, transformers = p.stdout.split()
    assert where.startswith(sysconfig.get_paths()["purelib"]) is False and "venv" in where
    assert transformers == "None"


def test_doctor_and_version(venv):
    p = _run(venv, os.path.join(venv["bin"], "torch-ttnn"), "doctor")
    assert p.returncode == 0 and "all good" in p.stdout, p.stdout + p.stderr
    p = _run(venv, os.path.join(venv["bin"], "torch-ttnn"), "--version")
    assert p.returncode == 0 and p.stdout.strip() == f"torch-ttnn {_version()}"


def _version():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        return re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)


def test_compile_on_the_core_dependencies(venv):
    script = textwrap.dedent("""
        import torch, torch_ttnn
        torch.manual_seed(0)
        m = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.GELU(), torch.nn.Linear(64, 8)).eval()
        x = torch.randn(4, 32)
        opt = torch_ttnn.TorchTtnnOption()
        with torch.no_grad():
            got = torch.compile(m, backend="ttnn", options=opt)(x)
            ref = m(x)
        torch.testing.assert_close(got, ref, rtol=0.05, atol=0.05)
        r = opt.metrics[0]
        assert r["cpu_ops"] == 0 and r["device_ops"] > 0, r
        print("ok", r["device_ops"])
    """)
    p = _run(venv, venv["py"], "-c", script)
    assert p.returncode == 0 and p.stdout.splitlines()[-1].startswith("ok"), p.stdout + p.stderr
    assert "graph 0: ATen ops" in p.stdout     # 0.5's verbose=True default prints the summary


def test_cli_runs_a_model_of_ones_own_and_asks_for_the_zoo_extra(venv):
    with open(os.path.join(venv["work"], "mymodel.py"), "w") as f:
        f.write("import torch\n\ndef build():\n    return torch.nn.Linear(16, 4), torch.randn(2, 16)\n")
    tt = os.path.join(venv["bin"], "torch-ttnn")
    p = _run(venv, tt, "run", "mymodel:build", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    assert '"status": "pass"' in p.stdout
    p = _run(venv, tt, "zoo", "--models", "bert")
    assert p.returncode != 0 and "pip install 'torch-ttnn[zoo]'" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr     # one line, no traceback


@pytest.mark.parametrize("cmd, out", [("graph", "g.dot"), ("export", "prog.py")])
def test_graph_and_export_of_ones_own_model_on_the_core(venv, cmd, out):
    with open(os.path.join(venv["work"], "mymodel.py"), "w") as f:
        f.write("import torch\n\ndef build():\n    return torch.nn.Linear(16, 4), torch.randn(2, 16)\n")
    p = _run(venv, os.path.join(venv["bin"], "torch-ttnn"), cmd, "mymodel:build", "-o", out)
    assert p.returncode == 0, p.stdout + p.stderr
    text = open(os.path.join(venv["work"], out)).read()
    assert "linear" in text
