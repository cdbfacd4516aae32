"""`python -m torch_ttnn.bench.handwritten MODEL [--batch B] [--seq S]`: build a hand-written model from its
published config with seeded random weights (nothing downloaded), run one forward on the emulator and print
its device op count and estimated device time. Full sizes take minutes of CPU (the emulator computes every
op's numerics); MODEL is bert-large, bert-base, vit-base or llama-decode.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import transformers as hf

from . import device_cost

BERT = {
    "bert-large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
    "bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def bert_config(name: str, layers: int | None = None) -> hf.BertConfig:
    dims = dict(BERT[name], **({} if layers is None else {"num_hidden_layers": layers}))
    return hf.BertConfig(vocab_size=30522, max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
                         layer_norm_eps=1e-12, **dims)


def run_bert(ttnn, device, name: str, batch: int, seq: int, layers: int | None = None) -> dict:
    """One forward of BertForQuestionAnswering. `layers` overrides the depth: every layer has the same shapes,
    so the cost model prices each the same and a short run's per-layer figure scales to the full depth."""
    from .bert import HandwrittenBert
    torch.manual_seed(0)
    model = hf.BertForQuestionAnswering(bert_config(name, layers)).eval()
    hw = HandwrittenBert.build(ttnn, device, model.config, model.state_dict(), batch, seq)
    del model
    gen = torch.Generator().manual_seed(0)
    inputs = hw.inputs(torch.randint(1, 30522, (batch, seq), generator=gen), torch.ones(batch, seq, dtype=torch.long))
    start = time.perf_counter()
    _, cost = device_cost(device, lambda: hw(inputs))
    return dict(model=name, layers=hw.dims.layers, batch=batch, seq=seq, ops=cost.ops,
                est_device_ms=round(cost.time_ms, 3),
                emulation_s=round(time.perf_counter() - start, 1))


def run_vit(ttnn, device, batch: int, layers: int | None = None) -> dict:
    from .vit import HandwrittenVit
    torch.manual_seed(0)
    cfg = hf.ViTConfig(image_size=224, patch_size=16, hidden_size=768, num_hidden_layers=layers or 12,
                       num_attention_heads=12, intermediate_size=3072)
    model = hf.ViTModel(cfg, add_pooling_layer=False).eval()
    hw = HandwrittenVit.build(ttnn, device, cfg, model.state_dict(), batch)
    del model
    pixels = hw.inputs(torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(0)))
    start = time.perf_counter()
    _, cost = device_cost(device, lambda: hw(pixels))
    return dict(model="vit-base-patch16-224", layers=hw.dims.layers, batch=batch, ops=cost.ops,
                est_device_ms=round(cost.time_ms, 3), emulation_s=round(time.perf_counter() - start, 1))


def run_llama(ttnn, device, batch: int, seq: int) -> dict:
    from .llama import HandwrittenLlamaLayer, llama_1b_config
    torch.manual_seed(0)
    cfg = llama_1b_config()
    layer = hf.models.llama.modeling_llama.LlamaDecoderLayer(cfg, layer_idx=0).eval()
    hw = HandwrittenLlamaLayer.build(ttnn, device, cfg, layer.state_dict(), batch, max_seq=seq)
    x = torch.randn(batch, 1, cfg.hidden_size, generator=torch.Generator().manual_seed(0))
    inputs = hw.inputs(x, position=seq - 1)  # per-call host work, outside the measured device ops
    start = time.perf_counter()
    _, cost = device_cost(device, lambda: hw.step(inputs))
    return dict(model="llama-3.2-1b decoder layer (decode)", batch=batch, cache_len=seq, ops=cost.ops,
                est_device_ms=round(cost.time_ms, 3), emulation_s=round(time.perf_counter() - start, 1))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m torch_ttnn.bench.handwritten", description=__doc__)
    ap.add_argument("model", choices=[*BERT, "vit-base", "llama-decode"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=384, help="sequence (BERT) or KV-cache length (Llama)")
    ap.add_argument("--layers", type=int, default=None, help="BERT/ViT depth override (default: the model's)")
    args = ap.parse_args(argv)
    import torch_ttnn.sim as ttnn
    device = ttnn.open_device(device_id=0)
    if args.model == "llama-decode":
        result = run_llama(ttnn, device, args.batch, args.seq)
    elif args.model == "vit-base":
        result = run_vit(ttnn, device, args.batch, args.layers)
    else:
        result = run_bert(ttnn, device, args.model, args.batch, args.seq, args.layers)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
