"""A tiny model for the harness smoke test (named as `tests/bench/models.py:mlp`)."""
import torch


def mlp(generator):
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.GELU(), torch.nn.Linear(64, 32))
    return model, torch.randn(32, 64, generator=generator)
