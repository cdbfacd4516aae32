"""Realistic inputs and small helpers shared by the zoo entries.

Token batches look like a tokenizer's padded output: random ids (never the pad id), an attention mask of ones,
and, when batch > 1, rows after the first padded at the end (mask 0, id = pad) so masking is really exercised.
Images are normalised pixel values (zero mean, unit variance per channel), as an image processor produces.
"""
from __future__ import annotations

import contextlib
import contextvars
import operator

import torch

META = contextvars.ContextVar("torch_ttnn_zoo_meta", default=False)

SEQ = {"tiny": 32, "full": 128}


def pick(size: str, tiny: dict, full: dict, **common) -> dict:
    return {**common, **(tiny if size == "tiny" else full)}


def tokens(gen: torch.Generator, batch: int, seq: int, vocab: int, pad_id: int | None = 0, low: int = 3):
    ids = torch.randint(low, vocab, (batch, seq), generator=gen)
    if pad_id is not None and low <= pad_id < vocab:
        ids = torch.where(ids == pad_id, ids + 1 if pad_id + 1 < vocab else ids - 1, ids)
    mask = torch.ones(batch, seq, dtype=torch.long)
    pad = (torch.arange(batch) * seq) // (4 * batch)      # row i loses i*seq/(4*batch) trailing tokens
    mask[torch.arange(seq)[None, :] >= (seq - pad)[:, None]] = 0
    if pad_id is not None:
        ids = ids.masked_fill(mask == 0, pad_id)
    return ids, mask


def pixels(gen: torch.Generator, batch: int, size: int, channels: int = 3) -> torch.Tensor:
    return torch.randn(batch, channels, size, size, generator=gen)


def attr(*path: str):
    """Output picker: `attr("logits")` -> out.logits."""
    return operator.attrgetter(".".join(path))


def init(cls, config, **kw):
    """Instantiate an HF model from a config (weights from the seeded global RNG); `build` seeds and sets eval.

    Under `build(..., meta=True)` the model is made on the meta device: shapes and parameter counts without
    memory or time, which is how full configs are checked and sized.
    """
    with torch.device("meta") if META.get() else contextlib.nullcontext():
        return cls(config, **kw)
