"""`python -m torch_ttnn.sim script.py [args...]`: run a script written with `import ttnn` on the emulator.

For that run, `ttnn` (and its submodules ttnn.device, ttnn.transformer, ttnn.experimental) resolve to
torch_ttnn.sim; the script runs as __main__ with its own argv. At exit a one-line summary goes to stderr: how
many device ops ran and their estimated device time on the emulated card, so a script can be sized for the
real one without a card.
"""
from __future__ import annotations

import runpy
import sys

USAGE = "usage: python -m torch_ttnn.sim script.py [args...]"


def install():
    """Make `import ttnn` (and `import ttnn.transformer`, ...) give the emulator for this process."""
    import torch_ttnn.sim as sim
    sys.modules["ttnn"] = sim
    for sub in ("device", "transformer", "experimental", "graph", "dot_access", "model_preprocessing", "operations",
                "operations.activations"):
        obj = sim
        for part in sub.split("."):
            obj = getattr(obj, part)
        sys.modules[f"ttnn.{sub}"] = obj
    return sim


class _Tally:
    """Counts every op record on every device, including devices the script closes before exiting. Time is
    kept per chip because a mesh's chips run side by side: the script's device time is the busiest chip's."""

    def __init__(self, device_cls):
        self.ops = 0
        self.ns: dict[int, float] = {}   # id(device) -> its chip's estimated device time

        original = device_cls.record

        def record(dev, rec, _orig=original):
            self.ops += 1
            self.ns[id(dev)] = self.ns.get(id(dev), 0.0) + rec.time_ns
            return _orig(dev, rec)

        device_cls.record = record

    def summary(self, arch: str) -> str:
        busiest = max(self.ns.values(), default=0.0)
        chips = "" if len(self.ns) <= 1 else \
            f" (busiest of {len(self.ns)} chips; {sum(self.ns.values()) / 1e6:.3f} ms summed over them)"
        return (f"[ttnn emulator] {self.ops} device ops, estimated device time {busiest / 1e6:.3f} ms{chips} "
                f"on {arch} (the emulator's cost model, not a measurement)")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 0 if argv else 2
    import os
    if not os.path.isfile(argv[0]):
        print(f"torch_ttnn.sim: no such script: {argv[0]}\n{USAGE}", file=sys.stderr)
        return 2
    sim = install()
    from .device import Device, _arch_from_env
    tally = _Tally(Device)
    script = argv[0]
    sys.argv = list(argv)
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, (int, type(None))):
            print(e.code, file=sys.stderr)
    finally:
        print(tally.summary(_arch_from_env()), file=sys.stderr)
    del sim
    return code


if __name__ == "__main__":
    sys.exit(main())
