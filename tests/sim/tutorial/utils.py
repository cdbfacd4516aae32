"""Checks in the style of TT-NN's own op tests: PCC against the torch golden with the same defaults."""
import torch


def assert_with_pcc(expected, actual, pcc=0.9999):
    """PCC of the device result against the torch golden, by ttnn.pearson_correlation_coefficient (TT-NN's
    definition: NaN/Inf masked, constant tensors compared by allclose), default threshold 0.9999 as TT-NN's
    tests/ttnn/utils_for_testing.assert_with_pcc."""
    import torch_ttnn.sim as ttnn
    assert list(expected.shape) == list(actual.shape), f"shape {list(actual.shape)} != expected {list(expected.shape)}"
    got = ttnn.pearson_correlation_coefficient(expected.float(), actual.float())
    assert got >= pcc, f"PCC {got} < {pcc}"
    return got


def assert_equal(expected, actual):
    assert list(expected.shape) == list(actual.shape), f"shape {list(actual.shape)} != expected {list(expected.shape)}"
    assert torch.equal(expected.to(actual.dtype), actual), f"values differ: {expected} vs {actual}"
