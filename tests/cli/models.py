"""Small user models for the CLI tests (named as `tests/cli/models.py:function`)."""
import torch


def mlp(generator):
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 32))
    return model, torch.randn(32, 64, generator=generator)


def broken():
    raise RuntimeError("this model is broken on purpose")
