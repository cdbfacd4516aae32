"""Tiny HF models from configs (seeded random weights, no downloads), shared by the compiler tests."""
import torch
import transformers as T


def build(name):
    torch.manual_seed(0)
    if name == "bert":
        c = T.BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=128, max_position_embeddings=64)
        return T.BertModel(c), lambda: (torch.randint(0, 100, (1, 16)),)
    if name == "gpt2":
        c = T.GPT2Config(vocab_size=100, n_embd=64, n_layer=2, n_head=2, n_positions=64, bos_token_id=0,
                         eos_token_id=1, initializer_range=0.2)
        return T.GPT2LMHeadModel(c), lambda: (torch.randint(0, 100, (1, 16)),)
    if name == "llama":
        c = T.LlamaConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                          num_key_value_heads=2, intermediate_size=128, max_position_embeddings=64,
                          bos_token_id=0, eos_token_id=1, initializer_range=0.2)
        return T.LlamaForCausalLM(c), lambda: (torch.randint(0, 100, (1, 16)),)
    if name == "t5":  # encoder-decoder: generate() runs the encoder once, then the decoder per token
        c = T.T5Config(vocab_size=100, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2,
                       num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=32,
                       decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, initializer_factor=1.0)
        return T.T5ForConditionalGeneration(c), lambda: (torch.randint(2, 100, (1, 16)),)
    if name == "vit":
        c = T.ViTConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, num_channels=3)
        return T.ViTModel(c), lambda: (torch.randn(1, 3, 32, 32),)
    if name == "resnet":
        c = T.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], num_channels=3,
                           layer_type="basic")
        return T.ResNetModel(c), lambda: (torch.randn(1, 3, 32, 32),)
    raise KeyError(name)


def tensors(out):
    """The tensors of a model output (ModelOutput, tuple or tensor), in a stable order."""
    if isinstance(out, torch.Tensor):
        return [out]
    if hasattr(out, "to_tuple"):
        out = out.to_tuple()
    res = []
    for o in out:
        if isinstance(o, torch.Tensor):
            res.append(o)
    return res
