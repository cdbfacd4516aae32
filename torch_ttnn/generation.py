"""Bucketed generation: one prefill graph and one decode graph for every prompt length within a bucket.

HF `generate()` over a compiled forward gives dynamo new shapes at every step: the prompt length in the
prefill, and in the decode steps the cache length, which grows by one per token. Left alone, dynamo compiles the
first prompt's prefill and first decode step with static sizes, recompiles once a length changes, and only then
traces a graph with that length symbolic (compiler/backend.py lowers such a graph once for every length). That is
bounded, but it is three graphs for the first prompt and one more for each new prompt length.

Two things make it exactly one prefill and one decode graph per bucket:

- `pad_to_bucket` left-pads the prompt (and its attention mask, zeros over the padding) to the next bucket
  length, so every prompt length within a bucket gives the prefill the same shapes. HF builds the position ids
  from the attention mask (cumsum), so the real tokens keep positions 0..n-1 and the padded keys are masked out
  of every attention: the logits of the real tokens are the unpadded prompt's, up to rounding (the test checks
  greedy tokens and per-step logits against CPU on the unpadded prompt).
- `dynamic_decode` marks, on each decode call, the growing lengths (a dynamic cache's key/value length and the
  attention mask's length) dynamic before dynamo sees them (`torch._dynamo.maybe_mark_dynamic`), so the first
  decode step is already traced symbolic and every later step and bucket reuses it. A static cache
  (`cache_implementation="static"`) has no growing length: its decode graph has static shapes (one per bucket,
  since HF sizes it to prompt + `max_new_tokens`), and nothing is marked.

`compile_for_generate(model)` does both wirings (compiled forward behind `dynamic_decode`), and
`generate(model, ids, ...)` pads, runs `model.generate` and removes the padding it added, so its `sequences`
are what `model.generate(ids, ...)` gives. Padding costs device work over the pad positions in the prefill
(at most one bucket step) and in every decode step's attention (the padded keys stay in the cache).

Only torch is imported here; a model is anything with HF's `generate()` and `config`.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Sequence

import torch

# Powers of two from 32 (one tile row) to 8192: a prompt is padded by less than its own length
DEFAULT_BUCKETS: tuple[int, ...] = tuple(2 ** k for k in range(5, 14))


@dataclasses.dataclass(frozen=True)
class PaddedPrompt:
    """A prompt left-padded to its bucket: `pad` (>= 1) columns of `pad_token_id` (mask 0) before the original."""
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    pad: int
    bucket: int


def bucket_length(length: int, buckets: Sequence[int] = DEFAULT_BUCKETS) -> int:
    """The smallest bucket that holds `length` tokens and at least one pad: a bucket of b takes prompts of 1 to
    b - 1 tokens. The pad column keeps a zero in the attention mask; HF's generate() drops an all-ones mask,
    which would give the prompt that fills its bucket graphs of its own (no mask input)."""
    if length < 1:
        raise ValueError(f"an empty prompt (length {length}) has no bucket: pass at least one token")
    ordered = sorted(buckets)
    if not ordered or any(not isinstance(b, int) or b < 1 for b in ordered):
        raise ValueError(f"buckets must be positive ints, got {list(buckets)!r}")
    for b in ordered:
        if length < b:
            return b
    raise ValueError(f"a prompt of {length} tokens does not fit the largest bucket ({ordered[-1]}, which takes "
                     f"up to {ordered[-1] - 1}): pass buckets=(..., {max(length + 1, 2 * ordered[-1])}) or "
                     f"buckets=None to generate unpadded")


def pad_to_bucket(input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *, pad_token_id: int,
                  buckets: Sequence[int] = DEFAULT_BUCKETS) -> PaddedPrompt:
    """Left-pads `input_ids` (batch, length) and its mask to the bucket of `length`, on the ids' own device.
    An existing mask (a batch already left-padded to a common length) keeps its zeros."""
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be (batch, length), got shape {tuple(input_ids.shape)}")
    if attention_mask is not None and tuple(attention_mask.shape) != tuple(input_ids.shape):
        raise ValueError(f"attention_mask shape {tuple(attention_mask.shape)} differs from input_ids' "
                         f"{tuple(input_ids.shape)}")
    length = input_ids.shape[1]
    bucket = bucket_length(length, buckets)
    pad = bucket - length
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    input_ids = torch.nn.functional.pad(input_ids, (pad, 0), value=pad_token_id)
    attention_mask = torch.nn.functional.pad(attention_mask, (pad, 0), value=0)
    return PaddedPrompt(input_ids, attention_mask, pad, bucket)


def _growing_cache_tensors(cache) -> list[torch.Tensor]:
    """Key/value tensors of the cache layers that grow by concatenation (HF's DynamicLayer family; a static
    layer is `is_compileable` and keeps its shape), the self-attention half of an encoder-decoder cache."""
    cache = getattr(cache, "self_attention_cache", cache)
    out = []
    for layer in getattr(cache, "layers", ()):
        if getattr(layer, "is_compileable", True) or not getattr(layer, "is_initialized", False):
            continue
        for t in (getattr(layer, "keys", None), getattr(layer, "values", None)):
            if isinstance(t, torch.Tensor) and t.dim() >= 2 and t.numel():
                out.append(t)
    return out


def mark_decode_lengths(kwargs: dict) -> int:
    """On a decode call (a growing cache that holds tokens), marks the cache length (dim -2 of each key/value)
    and the attention mask's length dynamic; returns how many dims were marked (0 on a prefill call)."""
    growing = _growing_cache_tensors(kwargs.get("cache", kwargs.get("past_key_values")))  # HF >= 5.24 says cache
    if not growing:
        return 0
    past = growing[0].shape[-2]
    for t in growing:
        torch._dynamo.maybe_mark_dynamic(t, t.dim() - 2)
    marked = len(growing)
    new = kwargs.get("input_ids", kwargs.get("decoder_input_ids", kwargs.get("inputs_embeds")))
    step = new.shape[1] if isinstance(new, torch.Tensor) and new.dim() >= 2 else 1
    # the mask over the cache plus the new tokens: a decoder's attention_mask, an encoder-decoder's
    # decoder_attention_mask (its attention_mask covers the encoder's tokens and does not grow)
    for key in ("attention_mask", "decoder_attention_mask"):
        mask = kwargs.get(key)
        if isinstance(mask, torch.Tensor) and mask.dim() == 2 and mask.shape[1] == past + step:
            torch._dynamo.maybe_mark_dynamic(mask, 1)
            marked += 1
    return marked


def dynamic_decode(forward: Callable) -> Callable:
    """Wraps a compiled forward so each decode call's growing lengths are marked dynamic before dynamo guards
    on them (`mark_decode_lengths`): one decode graph for every cache length."""
    # __wrapped__ (functools.wraps): HF reads the forward's signature, and passes position_ids, which left padding
    # needs, only to a forward that takes them; updated=() leaves the compiled function's own attributes behind
    @functools.wraps(forward, updated=())
    def forward_with_dynamic_lengths(*args, **kwargs):
        mark_decode_lengths(kwargs)
        return forward(*args, **kwargs)
    return forward_with_dynamic_lengths


def compile_for_generate(model, *, backend="ttnn", options=None, **compile_kwargs):
    """Compiles `model.forward` for generate(): `model.forward = dynamic_decode(torch.compile(model.forward,
    backend=backend, options=options, ...))`. Returns the model."""
    kw = dict(compile_kwargs)
    if options is not None:
        kw["options"] = options
    model.forward = dynamic_decode(torch.compile(model.forward, backend=backend, **kw))
    return model


def _pad_token_id(model, generate_kwargs: dict) -> int:
    for source in (generate_kwargs, getattr(model, "generation_config", None), getattr(model, "config", None)):
        for name in ("pad_token_id", "eos_token_id"):
            v = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
            if isinstance(v, (list, tuple)):
                v = v[0] if v else None
            if isinstance(v, torch.Tensor):
                v = int(v.reshape(-1)[0])
            if v is not None:
                return int(v)
    raise ValueError("padding a prompt to its bucket needs a pad token: pass pad_token_id=... (any id: the "
                     "padding is masked out), or buckets=None to generate unpadded")


def generate(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *,
             buckets: Sequence[int] | None = DEFAULT_BUCKETS, **generate_kwargs):
    """`model.generate(input_ids, attention_mask=..., **generate_kwargs)` with the prompt left-padded to its
    bucket; the returned sequences (a tensor, or `.sequences` of a `return_dict_in_generate` output) hold no
    padding of ours, as the unpadded call's would. `buckets=None` generates unpadded."""
    if buckets is None:
        if attention_mask is not None:
            generate_kwargs["attention_mask"] = attention_mask
        return model.generate(input_ids, **generate_kwargs)
    pad_id = _pad_token_id(model, generate_kwargs)
    generate_kwargs.setdefault("pad_token_id", pad_id)
    padded = pad_to_bucket(input_ids, attention_mask, pad_token_id=pad_id, buckets=buckets)
    out = model.generate(padded.input_ids, attention_mask=padded.attention_mask, **generate_kwargs)
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        return out  # an encoder-decoder's sequences are decoder tokens: the padding is in the encoder's input
    if isinstance(out, torch.Tensor):
        return out[:, padded.pad:]
    out.sequences = out.sequences[:, padded.pad:]
    return out
