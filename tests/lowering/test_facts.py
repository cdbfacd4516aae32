"""The declared TT-NN op facts (lowering/facts.py) against the emulator: every emulated TT-NN call that hands
back one of its tensor arguments, in the compiled rule cases and on device inputs, is of an op declared as
possibly aliasing. An undeclared one would let the dealloc pass free a buffer that the op's output still is."""
from dataclasses import replace

import pytest
import torch

import torch_ttnn
from torch_ttnn.lowering import facts

from .test_rules import CASES as RULE_CASES
from .test_rules_conv_forms import CASES as CONV_CASES
from .test_rules_int_index import CASES as INT_CASES

pytestmark = pytest.mark.filterwarnings("ignore::torch_ttnn.device.TtnnFallbackWarning")
CASES = RULE_CASES + CONV_CASES + INT_CASES


def _tensors(args, kwargs):
    for a in (*args, *kwargs.values()):
        if isinstance(a, (list, tuple)):
            yield from a
        else:
            yield a


def _watched(fn, seen: set):
    """`fn`, noting its name in `seen` when it returns one of its arguments (emulated TT-NN functions only)."""
    if not getattr(fn, "__module__", "").startswith("torch_ttnn.sim"):
        return fn  # a host op (CPU fallback, transfer reshape, getitem) or the executor's own

    def call(*args, **kwargs):
        out = fn(*args, **kwargs)
        if out is not None and any(out is a for a in _tensors(args, kwargs)):
            seen.add(fn.__name__)
        return out
    return call


def aliasing_calls(fn, args, device) -> set:
    """Compile and run `fn`, then run it again (constant steps included) with every emulated TT-NN call
    watched: the names of the TT-NN functions that handed back an argument."""
    torch._dynamo.reset()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim")
    compiled = torch.compile(fn, backend=torch_ttnn.backend, options=opt)
    seen = set()
    with torch.no_grad():
        compiled(*args)
        for cg in opt.compiled:
            for prog in cg.programs.values():
                prog.steps = [replace(s, fn=_watched(s.fn, seen)) for s in prog.steps]
                prog.release()  # so that the constant steps run again, watched
        compiled(*args)
    return seen


@pytest.mark.parametrize("name,fn,inputs", [c[:3] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_case_aliases_are_declared(name, fn, inputs, device):
    torch.manual_seed(0)
    undeclared = {n for n in aliasing_calls(fn, inputs(), device) if not facts.may_alias(n)}
    assert not undeclared, f"TT-NN ops that returned their input but are not declared may-alias: {undeclared}"


class _Embed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lin = torch.nn.Embedding(40, 32), torch.nn.Linear(32, 8)

    def forward(self, ids, x):
        return self.lin(self.emb(ids) + x).reshape(-1), ids.reshape(-1)


def test_device_input_aliases_are_declared():
    """Device inputs are converted in place (to_layout to the layout an int tensor already has hands it back):
    the watch sees such calls, and they are declared."""
    torch.manual_seed(0)
    model = _Embed().eval().to("ttnn")
    args = (torch.randint(0, 40, (2, 7)).to("ttnn"), torch.randn(2, 7, 32).to("ttnn"))
    seen = aliasing_calls(model, args, model.lin.weight.ttnn_tensor().device())
    assert seen, "no TT-NN call handed back its input: the watch would miss undeclared aliasing"
    assert all(facts.may_alias(n) for n in seen), seen
