"""Accuracy helpers shared by the tests (importable as `from helpers import pcc, assert_pcc`)."""
import torch


def pcc(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two tensors, in float64 (1.0 when they are equal, NaN-safe for constants)."""
    a, b = a.detach().double().flatten(), b.detach().double().flatten()
    if torch.equal(a, b):
        return 1.0
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return torch.corrcoef(torch.stack([a, b]))[0, 1].item()


# Absolute-error scale per output dtype, relative to the reference's magnitude: bf16 keeps 8 significant bits,
# bfloat8_b 7 bits shared per 16-value block, bfloat4_b 3.
DTYPE_RTOL = {"bfloat16": 2**-7, "float32": 1e-5, "bfloat8_b": 2**-5, "bfloat4_b": 2**-2}


def assert_pcc(ref: torch.Tensor, got: torch.Tensor, threshold: float = 0.99):
    assert ref.shape == got.shape, f"shape {tuple(got.shape)} != expected {tuple(ref.shape)}"
    p = pcc(ref.float(), got.float())
    assert p >= threshold, f"PCC {p:.5f} < {threshold}"
    return p
