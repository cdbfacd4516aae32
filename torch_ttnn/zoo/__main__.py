"""`python -m torch_ttnn.zoo NAME [--size S] [--batch N] [--seed N] [--runtime R]`: measure one model, print
its row as JSON on the last line of stdout. `torch-ttnn zoo --jobs N` runs one of these per model, so a model
that crashes the interpreter or runs out of memory costs only its own row."""
import argparse
import json
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m torch_ttnn.zoo")
    p.add_argument("model")
    p.add_argument("--size", default="tiny")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runtime", default=None)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    from torch_ttnn.zoo.quiet import quiet_libraries
    quiet_libraries()
    from torch_ttnn.zoo.measure import measure
    row = measure(a.model, a.size, batch=a.batch, seed=a.seed, runtime=a.runtime, threads=a.threads)
    sys.stdout.flush()
    print("\n" + json.dumps(row, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
