"""`torch-ttnn doctor`: what runs, why, and the fix for each known way it goes wrong.

Each check returns (ok, line, fix). The causes listed are the support problems torch-ttnn users actually met:
the real ttnn not installed or on an unsupported Python, its shared libraries failing to load, no card found,
an old torch, another backend holding PyTorch's PrivateUse1 device, a copy of torch_ttnn shadowing the
installed one, a bad TORCH_TTNN_RUNTIME, and 0.5-era environment variables that no longer matter.
"""
from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import platform
import sys

HELP = "show the active TT-NN runtime, versions, devices, and fixes for known setup problems"


def add_arguments(parser):
    parser.add_argument("--no-smoke", action="store_true", help="skip the round trip through the ttnn device")


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _checks(args):
    import torch

    import torch_ttnn
    from torch_ttnn import runtime

    py = sys.version_info[:2]
    tv = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    yield tv >= (2, 5), f"torch {torch.__version__}", "torch-ttnn needs torch>=2.5: pip install -U 'torch>=2.5'"

    want = (os.environ.get("TORCH_TTNN_RUNTIME") or "auto").lower()
    yield want in runtime.CHOICES, f"TORCH_TTNN_RUNTIME={want}", f"set it to one of {runtime.CHOICES} or unset it"

    real = _version("ttnn")
    spec = importlib.util.find_spec("ttnn")
    if real is None:
        fix = ("pip install 'torch-ttnn[ttnn]' on a host with a Tenstorrent card" if py in ((3, 10), (3, 12)) else
               f"the ttnn wheels exist for CPython 3.10 and 3.12 only; this is {py[0]}.{py[1]}: use one of those")
        note = "TORCH_TTNN_RUNTIME=ttnn needs it" if want == "ttnn" else "the emulator torch_ttnn.sim will be used"
        yield want != "ttnn", f"real ttnn: not installed ({note})", fix
    else:
        yield True, f"real ttnn {real} installed at {spec.origin if spec else '?'}", ""
    try:
        mod = runtime.select(want if want in runtime.CHOICES else "auto")
        yield True, f"active runtime: {runtime.reason()}", ""
    except Exception as e:
        yield False, f"active runtime: none ({e})", "see the fix above, or run with TORCH_TTNN_RUNTIME=sim"
        return
    if real is not None and runtime.is_emulator(mod):
        why = runtime.reason()
        fix = ("the real package fails to load its libraries: reinstall it (pip install --force-reinstall "
               "ttnn==0.81.1) in a clean venv" if "does not import" in why else
               "no card visible: check `tt-smi`, that /dev/tenstorrent exists and the kernel driver (tt-kmd) is "
               "loaded, and that no other process holds the card")
        yield False, "the real ttnn is installed but not used", fix

    where = os.path.dirname(torch_ttnn.__file__)
    dist = _version("torch-ttnn")
    yield True, f"torch-ttnn {torch_ttnn.__version__} imported from {where}", ""
    if dist is not None and dist != torch_ttnn.__version__:
        yield False, f"installed torch-ttnn is {dist} but the imported copy is {torch_ttnn.__version__}", (
            "another copy of torch_ttnn shadows the installed one (current directory or PYTHONPATH): run from "
            "elsewhere or `pip install -e .` this checkout")

    name = torch._C._get_privateuse1_backend_name()
    yield name == "ttnn", f"torch device 'ttnn' registered (PrivateUse1 is {name!r})", (
        f"another extension ({name!r}) took PyTorch's PrivateUse1 device first: do not import it in the same "
        f"process as torch_ttnn")
    try:
        n = torch.ttnn.device_count()
        kind = "emulated" if runtime.is_emulator() else "Tenstorrent"
        arch = f" ({os.environ.get('TORCH_TTNN_SIM_ARCH', 'n150')})" if runtime.is_emulator() else ""
        yield n > 0, f"devices: {n} {kind} device(s){arch}: " + ", ".join(f"ttnn:{i}" for i in range(n)), (
            "no device: see the runtime line above")
    except Exception as e:
        yield False, f"devices: cannot count ({e})", "see the runtime line above"
        return
    if not args.no_smoke:
        try:
            x = torch.arange(-8, 8, dtype=torch.int32).reshape(4, 4)
            ok = torch.equal(x.to("ttnn").cpu(), x)
            yield ok, "round trip through ttnn:0 " + ("exact" if ok else "CHANGED VALUES"), (
                "report this with the output of `torch-ttnn doctor`")
        except Exception as e:
            yield False, f"round trip through ttnn:0 failed: {type(e).__name__}: {e}", "see the lines above"

    stale = [v for v in ("TT_METAL_HOME", "ARCH_NAME") if os.environ.get(v)]
    if stale:
        yield True, f"note: {', '.join(stale)} set; torch-ttnn 0.6 does not need them (no C++ extension to build)", ""


def run(args) -> int:
    print(f"torch-ttnn doctor (Python {platform.python_version()}, {platform.system()} {platform.machine()})")
    failed = 0
    for ok, line, fix in _checks(args):
        print(f"  {'ok' if ok else '!!'}  {line}")
        if not ok:
            failed += 1
            print(f"      fix: {fix}")
    print("all good" if not failed else f"{failed} problem(s) found")
    return 1 if failed else 0
