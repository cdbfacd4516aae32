"""`torch-ttnn <command>`: one module per subcommand in this package.

A subcommand is a module `torch_ttnn/cli/<name>.py` with `HELP` (one line), `add_arguments(parser)` and
`run(args) -> int`; `main()` finds it by listing the package, so adding a command touches only its own file.
Keep module top levels light (heavy imports inside `run`): every command module is imported to build `--help`,
which therefore imports neither torch nor transformers (tests/cli checks it stays under a second).
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def _commands() -> dict:
    out = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "run"):
            out[info.name.replace("_", "-")] = mod
    return out


def main(argv: list[str] | None = None) -> int:
    from torch_ttnn import __version__
    parser = argparse.ArgumentParser(prog="torch-ttnn", description="Run PyTorch on Tenstorrent's TT-NN.")
    parser.add_argument("--version", action="version", version=f"torch-ttnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, mod in sorted(_commands().items()):
        p = sub.add_parser(name, help=getattr(mod, "HELP", ""), description=getattr(mod, "HELP", ""))
        if hasattr(mod, "add_arguments"):
            mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyError as e:   # zoo.UnknownModel: a name that is no zoo model (with close matches), not a bug
        if type(e).__name__ != "UnknownModel":
            raise
        print(f"torch-ttnn {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
