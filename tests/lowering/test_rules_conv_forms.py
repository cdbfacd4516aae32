"""Convolution forms reduced to the 2-D conv rule (1-D convs, one-element stride/padding lists) and the
whole-input average pool: lowered with no CPU op and accurate against torch float32."""
import pytest
import torch

from .test_rules_int_index import run_case

F = torch.nn.functional
R = lambda *s: torch.randn(*s)  # noqa: E731

CASES = [
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b, padding=1), lambda: [R(2, 8, 21), R(16, 8, 3), R(16)], ["conv2d"]),
    ("conv1d_stride", lambda x, w: F.conv1d(x, w, stride=2, padding=2, dilation=2), lambda: [R(1, 5, 23), R(7, 5, 3)],
     ["conv2d"]),
    ("conv1d_depthwise_causal", lambda x, w, b: F.conv1d(x, w, b, padding=3, groups=8)[..., :20],
     lambda: [R(1, 8, 20), R(8, 1, 4), R(8)], ["conv2d"]),
    ("conv2d_one_elem_args", lambda x, w: torch.ops.aten.convolution(x, w, None, [2], [0], [1], False, [0], 1),
     lambda: [R(1, 3, 33, 33), R(8, 3, 3, 3)], ["conv2d"]),
    ("conv2d_depthwise_one_elem", lambda x, w: torch.ops.aten.convolution(x, w, None, [2], [1], [1], False, [0], 6),
     lambda: [R(1, 6, 17, 17), R(6, 1, 5, 5)], ["conv2d"]),
    ("avg_pool_whole_ceil", lambda x: F.avg_pool2d(x, 40, ceil_mode=True) * 2, lambda: [R(1, 8, 3, 5)], ["mean"]),
    ("avg_pool_whole_ceil_rect", lambda x: F.avg_pool2d(x, (4, 9), ceil_mode=True) * 2, lambda: [R(2, 8, 3, 5)],
     ["mean"]),
]


@pytest.mark.parametrize("name,fn,inputs,targets", CASES, ids=[c[0] for c in CASES])
def test_rule(name, fn, inputs, targets, device):
    run_case(fn, inputs, targets, device)


def test_pool_guard_rejects_partial_windows():
    from torch_ttnn.lowering.rules.conv_forms import _whole_window_guard
    assert not _whole_window_guard(torch.ones(1, 2, 5, 5), [4, 4], [1, 1], [0, 0], True)   # several windows
    assert not _whole_window_guard(torch.ones(1, 2, 5, 5), [6, 6], [6, 6], [1, 1], True)   # padding counts
    assert _whole_window_guard(torch.ones(1, 2, 5, 5), [9, 9], [9, 9], [0, 0], True)
