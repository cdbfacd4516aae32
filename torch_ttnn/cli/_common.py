"""Arguments and helpers the model commands share (this module is not a command: its name starts with _)."""
from __future__ import annotations

import contextlib
import importlib.util
import os



def quiet_libraries():
    """The zoo's quieting (torch_ttnn.zoo.quiet), imported when a command runs: the zoo package is heavy."""
    from torch_ttnn.zoo.quiet import quiet_libraries as quiet
    quiet()


def add_model_arguments(parser, batch: bool = True):
    parser.add_argument("model", help="a zoo name (see `torch-ttnn zoo --list`), or your own model as "
                                      "`package.module[:function]` or `path/file.py[:function]`")
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny",
                        help="tiny: small test config; full: the family's smallest published size")
    if batch:
        parser.add_argument("--batch", type=int, default=1, help="batch size of the example input")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")
    parser.add_argument("--runtime", choices=("auto", "sim", "ttnn"), default=None,
                        help="TT-NN runtime (default: TORCH_TTNN_RUNTIME or auto)")


def require(extra: str, *modules: str, what: str) -> None:
    """Exit with one line naming the extra to install when a module `what` needs is missing (no traceback)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"torch-ttnn: {what} needs {', '.join(missing)}: pip install 'torch-ttnn[{extra}]'")


def is_zoo_name(model: str) -> bool:
    """A zoo name, as opposed to a reference to the user's own model (`module:function`, `file.py`)."""
    return not any(c in model for c in ".:/" + os.sep)


def require_model(model: str) -> None:
    """A zoo name needs the zoo extra (transformers); a model of the user's own needs only the core."""
    if is_zoo_name(model):
        require("zoo", "transformers", what=f"the zoo model {model!r}")


def select_runtime(args):
    from torch_ttnn import runtime
    if args.runtime:
        os.environ["TORCH_TTNN_RUNTIME"] = args.runtime
    return runtime.select(args.runtime)


@contextlib.contextmanager
def steps(names: list[str], desc: str):
    """A tqdm bar over named stages: `with steps([...], "bert") as step: step("build"); ...`."""
    from tqdm import tqdm
    bar = tqdm(total=len(names), desc=desc, unit="step", leave=False, dynamic_ncols=True)
    seen = []

    def step(name):
        if seen:
            bar.update(1)
        seen.append(name)
        bar.set_postfix_str(name)
    try:
        yield step
    finally:
        bar.update(len(names) - bar.n)
        bar.close()
