"""The one PCC (Pearson correlation coefficient) of torch-ttnn: compiler metrics, zoo, bench, tests, exported
scripts and the emulator's `ttnn.pearson_correlation_coefficient` all compute it here.

Where it lives: a leaf module that imports only torch, so every layer (tools, compiler/device, lowering,
runtime, sim) may import it without an upward edge. In the compiler it would make the emulator import upward;
in the emulator it would make the compiler load the whole emulator under the real runtime.

The definition, and why:
- Equal tensors (bit for bit; NaN equal to NaN; both empty) -> 1.0. Two constant tensors that are equal are
  in agreement, although the textbook formula is 0/0 there.
- Either tensor constant (zero variance) and the two not equal -> the correlation is undefined, so closeness
  decides: 1.0 if `torch.allclose(expected, actual, rtol=1e-5, atol=1e-4)`, else 0.0. So a constant against a
  clearly non-constant tensor is 0.0 (one has structure the other lacks), and a zero reference against
  round-off noise of 1e-6 is 1.0 (the result is right). These are exactly the real TT-NN 0.81.1 helper's
  constant-tensor rules (ttnn/operations/comparison.py: "PCC undefined; falling back to allclose"), so a
  figure we report is the figure TT's own tooling reports on the same finite data. Never NaN: NaN would fail
  every `>=` silently and poison the minimum of a report.
- Non-finite values: a position where both hold the same Inf or both NaN agrees and is left out; a NaN or Inf
  facing anything else is a disagreement, and the PCC is 0.0. (TT's helper instead replaces every Inf/NaN by 0
  before comparing, which can hide a NaN in a device result; the emulator's `pearson_correlation_coefficient`
  keeps TT's masking, being a drop-in for it, then calls this function: `pcc_tt`.)
- Otherwise the sample correlation, in float64, clamped to [-1, 1].

`pcc` needs nothing but torch, so `compiler.codegen` spells its source into exported, standalone scripts.
"""
from __future__ import annotations

import torch


def pcc(expected: torch.Tensor, actual: torch.Tensor) -> float:
    """PCC of `actual` against `expected`, in float64: equal -> 1.0; a NaN/Inf facing anything but itself ->
    0.0; a constant tensor (PCC undefined) -> allclose(rtol=1e-5, atol=1e-4); else the correlation.
    (Why each rule: the docstring of torch-ttnn's accuracy module.)"""
    e, a = expected.detach().double().flatten(), actual.detach().double().flatten()
    if e.numel() != a.numel():
        raise ValueError(f"pcc: the tensors hold {e.numel()} and {a.numel()} values; compare tensors of the "
                         f"same shape (got {tuple(expected.shape)} and {tuple(actual.shape)})")
    if e.numel() == 0 or torch.equal(e, a):
        return 1.0
    finite = torch.isfinite(e) & torch.isfinite(a)
    if not bool(finite.all()):
        agree = (e == a) | (torch.isnan(e) & torch.isnan(a))
        if bool((~finite & ~agree).any()):
            return 0.0
        e, a = e[finite], a[finite]
        if e.numel() == 0 or torch.equal(e, a):
            return 1.0
    if bool(e.max() == e.min()) or bool(a.max() == a.min()):
        return float(torch.allclose(e, a, rtol=1e-5, atol=1e-4))  # the real TT-NN helper's tolerances
    e, a = e - e.mean(), a - a.mean()
    r = float((e @ a) / (e.norm() * a.norm()))
    return max(-1.0, min(1.0, r))


def pcc_tt(expected: torch.Tensor, actual: torch.Tensor) -> float:
    """`ttnn.pearson_correlation_coefficient`'s conventions (real TT-NN 0.81.1) on top of `pcc`: both all-NaN
    is 1.0, one all-NaN 0.0, one all-zero and the other not decided by allclose on the raw values, then every
    Inf/NaN replaced by 0 (TT's masking) before `pcc`."""
    e = expected.detach()
    a = actual.detach().to(e.dtype)  # as TT's helper: actual is cast to expected's dtype first
    e_nan, a_nan = bool(torch.isnan(e).all()), bool(torch.isnan(a).all())
    if e_nan and a_nan:
        return 1.0
    if e_nan or a_nan:
        return 0.0
    if bool(e.bool().any()) != bool(a.bool().any()):
        return float(torch.allclose(e, a, rtol=1e-5, atol=1e-4))
    e = torch.where(torch.isfinite(e), e, torch.zeros_like(e))
    a = torch.where(torch.isfinite(a), a, torch.zeros_like(a))
    return pcc(e, a)
