"""Models with non-text, non-image inputs or two towers: CLIP (text + image) and the Whisper encoder (audio)."""
from __future__ import annotations

import torch
import transformers as hf
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from .inputs import attr, init, pick, pixels, tokens
from .registry import Example, register


def _both_embeds(out) -> torch.Tensor:
    """CLIP is judged on both towers' projected embeddings, stacked (text rows first, then image rows)."""
    return torch.cat([out.text_embeds, out.image_embeds])


@register("clip", full="openai/clip-vit-base-patch32", task="image-text", params=151_277_313)
def clip(size, batch, gen):
    text = pick(size, dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=2, max_position_embeddings=32),
                dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                     num_attention_heads=8, max_position_embeddings=77), hidden_act="quick_gelu", pad_token_id=1)
    vocab = text["vocab_size"]
    text.update(bos_token_id=vocab - 2, eos_token_id=vocab - 1)   # CLIP's <|startoftext|>, <|endoftext|>
    vision = pick(size, dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                             image_size=32, patch_size=8),
                  dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                       image_size=224, patch_size=32), hidden_act="quick_gelu")
    cfg = hf.CLIPConfig(text_config=text, vision_config=vision, projection_dim=32 if size == "tiny" else 512,
                        logit_scale_init_value=2.6592)
    # A captioning batch: <sot> words <eot>, then padding masked out.
    ids, mask = tokens(gen, batch, text["max_position_embeddings"], vocab - 2, pad_id=1)
    ids[:, 0] = vocab - 2
    ids[torch.arange(batch), mask.sum(1) - 1] = vocab - 1
    return Example(init(hf.CLIPModel, cfg), (), dict(input_ids=ids, attention_mask=mask,
                                                     pixel_values=pixels(gen, batch, vision["image_size"])),
                   _both_embeds, "cat(text_embeds, image_embeds)")


@register("whisper", full="openai/whisper-tiny (encoder)", task="audio-encoder", params=8_208_384)
def whisper(size, batch, gen):
    cfg = hf.WhisperConfig(**pick(size, dict(d_model=64, encoder_layers=2, encoder_attention_heads=2,
                                             encoder_ffn_dim=128, max_source_positions=32),
                                  dict(d_model=384, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=1536,
                                       max_source_positions=1500),
                                  num_mel_bins=80, activation_function="gelu", scale_embedding=False))
    # Log-mel features as the feature extractor scales them (about [-1, 1.5]), 30 s = 3000 frames at full size.
    frames = 2 * cfg.max_source_positions
    feats = (torch.randn(batch, cfg.num_mel_bins, frames, generator=gen) * 0.5).clamp(-1.0, 1.5)
    return Example(init(WhisperEncoder, cfg), (feats,), {}, attr("last_hidden_state"), "last_hidden_state")
