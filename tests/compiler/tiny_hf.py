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
                       decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
        m = T.T5ForConditionalGeneration(c)
        with torch.no_grad():  # smaller (tied) embeddings: greedy decoding of the seeded model varies its tokens
            m.shared.weight.mul_(0.2)
        return m, lambda: (torch.randint(2, 100, (1, 16)),)
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


BF16_ULPS = 4  # CPU's top-2 logits closer than this many bf16 ulps of the top one: a tie at bf16 precision


def _bf16_ulp(x: torch.Tensor) -> float:
    return 2.0 ** (torch.floor(torch.log2(x.abs())).item() - 7)


def assert_greedy_matches(label: str, ref, got, first: int, min_pcc: float = 0.999):
    """Greedy generate() outputs (return_dict_in_generate, output_logits) of CPU (`ref`) and the device (`got`)
    agree: the logits of every step by PCC, the tokens exactly, except where CPU's two best logits are a tie
    at bfloat16 precision (then the device may take the other; later tokens follow another prefix and are not
    compared). `first` is the index of the first generated token in `sequences`."""
    from helpers import pcc
    ref_tokens = ref.sequences[0, first:].tolist()
    got_tokens = got.sequences.cpu()[0, first:].tolist()
    assert len(set(ref_tokens)) > 1, "a degenerate model makes the comparison meaningless"
    for step, (r, g) in enumerate(zip(ref_tokens, got_tokens)):
        cpu, dev = ref.logits[step][0], got.logits[step][0].cpu().float()
        assert pcc(cpu, dev) > min_pcc, f"{label}: token {step}: logits differ from CPU's on the same prefix"
        if r != g:  # allowed only where CPU's two best logits are a tie at bf16 precision
            top2 = cpu.topk(2)
            gap = (top2.values[0] - top2.values[1]).item()
            print(f"{label}: token {step} differs ({g} vs CPU {r}); CPU top-2 logits {top2.values.tolist()}, "
                  f"gap {gap:.4f} = {gap / _bf16_ulp(top2.values[0]):.1f} bf16 ulps")
            assert g == top2.indices[1].item() and gap <= BF16_ULPS * _bf16_ulp(top2.values[0]), \
                f"{label}: token {step}: {g} != CPU {r} and CPU's top-2 logits {top2.values.tolist()} are not a tie"
            break  # later tokens follow a different prefix
