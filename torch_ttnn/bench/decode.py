"""A compiled decode step with Hugging Face's StaticCache on the device: what `torch.compile(backend="ttnn")`
makes of one new token per user, for the comparison with the hand-written decode (handwritten/llama.py).

The model and its cache live on the `ttnn` torch device (`model.to("ttnn")`, the cache made there by
`StaticCache.early_initialization`), so the compiled graph takes the weights and the cache tensors in place:
HF's `keys.index_copy_(2, position, k)` becomes, after aot_autograd, a graph output that the runtime copies
back into the cache tensor, which on the ttnn device rebinds the TT-NN buffer (no copy, no transfer), and the
position counter the cache advances in place stays on the device as well. Per step only the token ids and
positions cross to the device (moved there before the call: dynamo traces one device for the model and its
inputs); the hidden states stay there until the caller reads them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class CompiledDecode:
    model: Any            # a LlamaModel (or any HF decoder model) on the ttnn device, bfloat16
    cache: Any            # its StaticCache, on the ttnn device
    option: Any           # the TorchTtnnOption: metrics of the compiled graph(s)
    compiled: Any

    def __call__(self, ids: torch.Tensor, positions: torch.Tensor):
        """ids, positions [users, 1] on the host -> last hidden states [users, 1, hidden] on the ttnn device.
        The two uploads here are the step's only host-to-device transfers."""
        with torch.no_grad():
            return self.compiled(ids.to("ttnn"), positions.to("ttnn"))

    def metrics(self) -> dict:
        return self.option.metrics[-1]


def device_model(model, dtype=torch.bfloat16):
    """A copy of `model` on the ttnn device in `dtype` (the weights cross once, here)."""
    import copy
    return copy.deepcopy(model).to(dtype).to("ttnn").eval()


def compile_decode(model, users: int, cache_len: int, device=None, **options) -> CompiledDecode:
    """`model` already on the ttnn device; a StaticCache of `users` x `cache_len` positions made there."""
    from transformers import StaticCache

    from .. import compiler
    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    dtype = next(model.parameters()).dtype
    cache = StaticCache(config=cfg, max_cache_len=cache_len)
    cache.early_initialization(users, cfg.num_key_value_heads, head_dim, dtype, torch.device("ttnn"))

    def step(ids, positions):
        return model(input_ids=ids, position_ids=positions, past_key_values=cache, use_cache=True).last_hidden_state
    torch._dynamo.reset()
    opt = compiler.TorchTtnnOption(runtime="sim", device=device, **options)
    return CompiledDecode(model, cache, opt, torch.compile(step, backend=compiler.backend, options=opt))


def reference_steps(model, ids: torch.Tensor, cache_len: int) -> list[torch.Tensor]:
    """HF on CPU (float32, its own StaticCache): the last hidden states of every step, ids [users, steps]."""
    from transformers import StaticCache
    cache = StaticCache(config=model.config, max_cache_len=cache_len)
    users = ids.shape[0]
    outs = []
    with torch.no_grad():
        for p in range(ids.shape[1]):
            outs.append(model(input_ids=ids[:, p:p + 1], position_ids=torch.full((users, 1), p),
                              past_key_values=cache, use_cache=True).last_hidden_state)
    return outs
