"""The cases of the original project's per-op tests (tenstorrent/pytorch2.0_ttnn, tests/lowering/**): for
each of its test files, the ATen ops and the shapes and arguments it exercises (including the cases it marked
xfail), restated as plain functions. Facts only: the modules and checks are ours (tests/lowering/
test_original_conversion.py compiles each case and compares it with CPU float32)."""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

bf16 = torch.bfloat16


class Case(NamedTuple):
    source: str             # the original test file, under tests/lowering/
    name: str
    fn: Callable
    inputs: Callable        # () -> list of arguments


def rand(*s, dtype=bf16):
    return torch.rand(*s, dtype=dtype)


def randn(*s, dtype=bf16):
    return torch.randn(*s, dtype=dtype)


CASES: list[Case] = []


def add(source, name, fn, inputs):
    CASES.append(Case(source, f"{source.split('/')[-1][:-3]}[{name}]", fn, inputs))


# --- creation -----------------------------------------------------------------------------------------------
add("creation/test_arange.py", "end", lambda x: x + torch.arange(100), lambda: [torch.zeros(100, dtype=torch.int64)])
add("creation/test_arange.py", "start", lambda x: x + torch.arange(2, 100), lambda: [torch.zeros(98, dtype=torch.int64)])
add("creation/test_arange.py", "step", lambda x: x + torch.arange(4, 100, 3), lambda: [torch.zeros(32, dtype=torch.int64)])
add("creation/test_full.py", "64x128", lambda x: x + torch.full((64, 128), 1.23), lambda: [torch.zeros(64, 128)])
add("creation/test_to_copy.py", "to_bf16", lambda x: x.to(bf16), lambda: [torch.rand(4, 4)])
add("creation/test_to_copy.py", "with_op_after", lambda x: x.to(bf16) + x.to(bf16), lambda: [torch.rand(4, 4)])
add("creation/test_to_copy.py", "view", lambda x, y: x.view(16, 1, 32).to(bf16) + y.abs(),
    lambda: [rand(16, 1, 32), rand(16, 32, 32)])
add("creation/test_to_copy.py", "expand", lambda x, y: x.expand(16, 32, 32).to(bf16) + y.abs(),
    lambda: [rand(16, 1, 32), rand(16, 32, 32)])
for _i, (_s, _m, _v) in enumerate([
        ((1, 1, 32, 32), (1, 1, 32, 32), -3.3895313892515355e38), ((1, 16, 32, 32), (1, 1, 32, 32), -3.3895313892515355e38),
        ((64, 64, 64), (64, 64, 64), -100.0), ((64, 64, 64), (64, 64, 64), 0.0), ((16, 64, 64), (16, 64, 64), -100.0),
        ((16, 64, 64), (16, 64, 64), 0.0), ((4, 64, 64), (4, 64, 64), -100.0), ((4, 64, 64), (4, 64, 64), 0.0),
        ((2, 1, 7, 7), (2, 1, 7, 7), -3.3895313892515355e38), ((1, 920), (1, 920), float("-inf")),
        ((7, 7), (7, 7), float("-inf")), ((1, 1, 45, 45), (1, 1, 45, 45), -3.4028234663852886e38),
        ((1, 50257), (1, 50257), float("-inf")), ((1, 1, 1, 46), (1, 1, 1, 46), -3.4028234663852886e38),
        ((1, 1, 59, 59), (1, 1, 59, 59), -3.4028234663852886e38), ((1, 1, 1, 60), (1, 1, 1, 60), -3.4028234663852886e38),
        ((1, 1, 19, 19), (1, 1, 19, 19), -3.4028234663852886e38), ((1, 1, 24, 24), (1, 1, 24, 24), -3.4028234663852886e38),
        ((1, 1, 1, 24), (1, 1, 1, 24), -3.4028234663852886e38), ((64, 49, 49), (64, 49, 49), -100.0),
        ((64, 49, 49), (64, 49, 49), 0.0), ((16, 49, 49), (16, 49, 49), -100.0), ((16, 49, 49), (16, 49, 49), 0.0),
        ((4, 49, 49), (4, 49, 49), -100.0), ((4, 49, 49), (4, 49, 49), 0.0)]):
    # a fill beyond bfloat16's range (-3.4028e38) is refused by torch on a bfloat16 input: float32 there
    _dt = bf16 if abs(_v) <= 3.3895313892515355e38 or _v == float("-inf") else torch.float32
    add("creation/test_masked_fill.py", f"{_i}", lambda x, m, _v=_v: x.masked_fill(m, _v),
        lambda _s=_s, _m=_m, _dt=_dt: [rand(*_s, dtype=_dt), torch.rand(_m) > 0.5])
for _i, _s in enumerate([(1, 1, 32, 32), (1, 16, 32, 32)]):
    add("creation/test_masked_fill.py", f"to_copy{_i}", lambda x, m: x.masked_fill(m.to(torch.bool), -3.3895313892515355e38),
        lambda _s=_s: [rand(*_s), torch.rand(1, 1, 32, 32) > 0.5])
add("creation/test_copy.py", "copy_", lambda a, b: a.clone().copy_(b) * 2, lambda: [rand(1, 19), rand(1, 19)])
add("creation/test_copy.py", "mask_view", lambda m: m.to(dtype=torch.bool).view(1, 1, 10),
    lambda: [torch.tensor([[1] * 5 + [0] * 5])])
for _i, (_s, _dt, _size, _d) in enumerate([((64, 128), bf16, (32, 32), bf16), ((1, 256, 128, 128), torch.float32,
                                           (1, 256, 16, 16), bf16), ((1, 960, 7, 7), bf16, (1, 256, 3, 3), None),
                                          ((3, 800, 1066), bf16, (1, 3, 800, 1088), None)]):
    add("creation/test_new_full.py", f"{_i}", lambda t, _size=_size, _d=_d: torch.ops.aten.new_full.default(
        t, _size, 0.5, dtype=_d), lambda _s=_s, _dt=_dt: [torch.rand(_s, dtype=_dt)])
add("creation/test_clone.py", "from_arg", lambda x: torch.clone(x), lambda: [rand(4, 4)])
add("creation/test_clone.py", "from_node", lambda x: torch.clone(x + x), lambda: [rand(4, 4)])
for _s in [(64, 128), (15, 15), (1, 1), (2, 2), (17, 17), (33,), ()]:
    add("creation/test_full_like.py", f"{_s}", lambda t: torch.full_like(t, 1.23), lambda _s=_s: [torch.zeros(_s, dtype=bf16)])
for _s, _n, _d in [((4, 4), (32,), torch.bool), ((4, 4), (32,), None), ((1, 45), (1, 1), None), ((1, 32), (32,), torch.float32)]:
    add("creation/test_new_ones.py", f"{_s}{_n}{_d}", lambda x, _n=_n, _d=_d: x.new_ones(_n, dtype=_d) if _d else x.new_ones(_n),
        lambda _s=_s: [torch.randn(_s)])
add("creation/test_ones.py", "32x32", lambda x: x + torch.ones((32, 32)), lambda: [torch.zeros(32, 32)])
for _size, _d in [((32, 32), bf16), ((1, 256, 16, 16), torch.float32), ((1, 6, 18, 15), bf16), ((1, 8, 3, 10), bf16)]:
    add("creation/test_zeros.py", f"{_size}", lambda x, _size=_size, _d=_d: x + torch.zeros(_size, dtype=_d),
        lambda _size=_size, _d=_d: [torch.ones(_size, dtype=_d)])
for _s in [(4, 4), (7, 7), (1, 1), (17, 17), (1, 920), (100, 1, 256), (13685,)]:
    add("creation/test_zeros_like.py", f"{_s}", lambda x: torch.zeros_like(x), lambda _s=_s: [rand(*_s)])
