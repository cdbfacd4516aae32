"""Where the time goes when a target is missed: `python -m torch_ttnn.bench.profile MODEL [--size] [--what]`.

Profiles (cProfile) the steady-state calls of one model after a warm-up: `emu` the compiled model on the
emulator, `null` the same program against the null runtime (host dispatch only), `eager` eager CPU, `compile`
the first call of backend="ttnn". Prints the top functions by own time and by cumulative time.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys

import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m torch_ttnn.bench.profile")
    p.add_argument("model")
    p.add_argument("--size", default="tiny")
    p.add_argument("--what", choices=("emu", "null", "eager", "compile"), default="emu")
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    from .. import compiler, zoo
    from ..zoo.quiet import quiet_libraries
    from .nullrt import null_runtime
    quiet_libraries()
    ex = zoo.build(a.model, a.size)
    option = compiler.TorchTtnnOption(runtime="sim", verbose=False)
    compiled = torch.compile(ex.model, backend=compiler.backend, options=option)
    prof = cProfile.Profile()
    if a.what == "compile":
        prof.runcall(ex.run, compiled)
    elif a.what == "eager":
        ex.run()
        for _ in range(a.calls):
            prof.runcall(ex.run)
    else:
        ex.run(compiled)
        ex.run(compiled)
        if a.what == "emu":
            for _ in range(a.calls):
                prof.runcall(ex.run, compiled)
        else:
            with null_runtime(option, lambda: ex.run(compiled)) as calls:
                ex.run(compiled)
                for _ in range(a.calls):
                    prof.runcall(ex.run, compiled)
            print(f"{calls} TT-NN calls per compiled call")
    for key in ("tottime", "cumulative"):
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats(key).print_stats(a.top)
        print(s.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
