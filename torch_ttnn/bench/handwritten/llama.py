"""One Llama decoder layer's decode step (one new token per user, KV cache on the device), written by hand in
TT-NN the way Tenstorrent's Llama decode is laid out (tt-metal models/tt_transformers, read for facts):

activations are [1, 1, users, hidden] (users on the tile rows, so one tile row serves 32 users), rms_norm ->
fused QKV linear -> nlp_create_qkv_heads (Q [1, NH, users, D], K/V [1, NKV, users, D]) -> rotary embedding
(x * cos + rotate_half(x) * sin in one ttnn.experimental.rotary_embedding_hf per Q and K: with the users on the
tile rows, user u's cos/sin row is row u of a [1, 1, users, D] table, the op's prefill form; cos/sin rows looked
up on the device by ttnn.embedding of the positions) -> update_cache writes K and V at the position ->
grouped-query attention as matmul + attention_softmax_ (scale and the additive position mask fused) + matmul,
each KV head serving its group of Q heads with no repeat -> output linear + residual add -> rms_norm ->
gate and up linears, SiLU fused into the multiply (input_tensor_a_activations) -> down linear + residual add.

Weights bfloat8_b, activations bfloat16, cache bfloat8_b, as TT's decode keeps them. Not used here (not in
the emulator): scaled_dot_product_attention_decode, paged caches and rotary_embedding_llama's trans-mat form
(rotary_embedding_hf computes the same rotation from the HF cos/sin tables).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

TILE = 32


def llama_1b_config(layers: int = 1):
    """Llama-3.2-1B's hyper-parameters (hidden 2048, 32 heads, 8 KV heads, head dim 64, MLP 8192, llama3 RoPE)."""
    import transformers as hf
    cfg = hf.LlamaConfig(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=layers,
                         num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
                         rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=True,
                         rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=32.0,
                                              low_freq_factor=1.0, high_freq_factor=4.0,
                                              original_max_position_embeddings=8192))
    cfg._attn_implementation = "eager"
    return cfg


@dataclass(frozen=True)
class LlamaDims:
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    eps: float

    @classmethod
    def of(cls, config) -> "LlamaDims":
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        return cls(config.hidden_size, config.num_attention_heads, config.num_key_value_heads, head_dim,
                   config.intermediate_size, config.rms_norm_eps)

    @property
    def group(self) -> int:
        return self.heads // self.kv_heads


@dataclass
class LlamaLayerParams:
    attn_norm: Any
    wqkv: Any
    wo: Any
    ffn_norm: Any
    w1: Any
    w3: Any
    w2: Any
    cos: Any        # [max_seq, D] bfloat16 row-major tables, looked up per position
    sin: Any
    k_cache: Any    # [users, NKV, max_seq, D]
    v_cache: Any


def rope_tables(config, max_seq: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin for positions 0..max_seq-1 from HF's own rotary module (llama3 frequency scaling)."""
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    rope = LlamaRotaryEmbedding(config)
    cos, sin = rope(torch.zeros(1, dtype=torch.float32), torch.arange(max_seq).unsqueeze(0))
    return cos[0], sin[0]


def preprocess_parameters(ttnn, state_dict: dict, config, device, users: int, max_seq: int) -> LlamaLayerParams:
    """Once: a LlamaDecoderLayer's state dict to device tensors (weights [in, out] bfloat8_b, Q|K|V fused), the
    RoPE tables and an empty KV cache for `users` x `max_seq` positions."""
    sd = {k: v.detach().float() for k, v in state_dict.items()}
    dims = LlamaDims.of(config)

    def weight(t):
        return ttnn.from_torch(t.T.contiguous(), dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=device,
                               memory_config=ttnn.DRAM_MEMORY_CONFIG)

    def on_device(t, dtype, layout=ttnn.TILE_LAYOUT):
        return ttnn.from_torch(t, dtype=dtype, layout=layout, device=device, memory_config=ttnn.DRAM_MEMORY_CONFIG)
    a = "self_attn."
    wqkv = torch.cat([sd[f"{a}{n}_proj.weight"] for n in ("q", "k", "v")], 0)
    cos, sin = rope_tables(config, max_seq)
    cache = torch.zeros(users, dims.kv_heads, max_seq, dims.head_dim)
    return LlamaLayerParams(
        on_device(sd["input_layernorm.weight"].reshape(1, -1), ttnn.bfloat16), weight(wqkv),
        weight(sd[f"{a}o_proj.weight"]),
        on_device(sd["post_attention_layernorm.weight"].reshape(1, -1), ttnn.bfloat16),
        weight(sd["mlp.gate_proj.weight"]), weight(sd["mlp.up_proj.weight"]), weight(sd["mlp.down_proj.weight"]),
        on_device(cos, ttnn.bfloat16, ttnn.ROW_MAJOR_LAYOUT), on_device(sin, ttnn.bfloat16, ttnn.ROW_MAJOR_LAYOUT),
        on_device(cache, ttnn.bfloat8_b),
        on_device(cache, ttnn.bfloat8_b))


@dataclass
class DecodeInputs:
    """One step's per-call tensors: the token activations [1, 1, users, hidden], the position of every user
    (uint32, for the RoPE lookup), and the additive mask [users, 1, 1, max_seq] hiding positions after it."""
    x: Any
    positions: Any
    mask: Any
    position: int


def _rope(ttnn, x, cos, sin):
    """x * cos + rotate_half(x) * sin for x [1, H, users, D], cos/sin [1, 1, users, D] broadcast over the heads."""
    return ttnn.experimental.rotary_embedding_hf(x, cos, sin)


def _attention(ttnn, x, inp: DecodeInputs, p: LlamaLayerParams, dims: LlamaDims):
    users = x.shape[2]
    qkv = ttnn.linear(x, p.wqkv)
    q, k, v = ttnn.experimental.nlp_create_qkv_heads(qkv, num_heads=dims.heads, num_kv_heads=dims.kv_heads,
                                                      transpose_k_heads=False)
    ttnn.deallocate(qkv)
    cos = ttnn.reshape(ttnn.embedding(inp.positions, p.cos, layout=ttnn.TILE_LAYOUT), (1, 1, users, dims.head_dim))
    sin = ttnn.reshape(ttnn.embedding(inp.positions, p.sin, layout=ttnn.TILE_LAYOUT), (1, 1, users, dims.head_dim))
    q, k = _rope(ttnn, q, cos, sin), _rope(ttnn, k, cos, sin)
    ttnn.update_cache(p.k_cache, k, inp.position)
    ttnn.update_cache(p.v_cache, v, inp.position)
    # Q [1, NH, users, D] -> [users, NKV, group, D]: each KV head's group of query heads as matmul rows
    qg = ttnn.reshape(ttnn.permute(q, (2, 1, 0, 3)), (users, dims.kv_heads, dims.group, dims.head_dim))
    scores = ttnn.matmul(qg, p.k_cache, transpose_b=True)
    probs = ttnn.transformer.attention_softmax_(scores, head_size=dims.head_dim, attention_mask=inp.mask)
    context = ttnn.matmul(probs, p.v_cache)
    merged = ttnn.reshape(context, (1, 1, users, dims.heads * dims.head_dim))
    return ttnn.linear(merged, p.wo)


def _mlp(ttnn, x, p: LlamaLayerParams):
    gate = ttnn.linear(x, p.w1)
    up = ttnn.linear(x, p.w3)
    hidden = ttnn.multiply(gate, up, input_tensor_a_activations=[ttnn.UnaryWithParam(ttnn.UnaryOpType.SILU)])
    ttnn.deallocate(gate)
    ttnn.deallocate(up)
    return ttnn.linear(hidden, p.w2)


def decoder_layer_decode(ttnn, inp: DecodeInputs, p: LlamaLayerParams, dims: LlamaDims):
    """One decode step through the layer: returns the new activations [1, 1, users, hidden]; the caches now
    also hold this position's K and V."""
    h = ttnn.rms_norm(inp.x, weight=p.attn_norm, epsilon=dims.eps)
    attn = _attention(ttnn, h, inp, p, dims)
    ttnn.deallocate(h)
    x = ttnn.add(inp.x, attn)
    ttnn.deallocate(attn)
    h = ttnn.rms_norm(x, weight=p.ffn_norm, epsilon=dims.eps)
    out = ttnn.add(x, _mlp(ttnn, h, p))
    ttnn.deallocate(h)
    return out


@dataclass
class HandwrittenLlamaLayer:
    ttnn: Any
    device: Any
    dims: LlamaDims
    params: LlamaLayerParams
    max_seq: int

    @classmethod
    def build(cls, ttnn, device, config, state_dict: dict, users: int, max_seq: int) -> "HandwrittenLlamaLayer":
        return cls(ttnn, device, LlamaDims.of(config),
                   preprocess_parameters(ttnn, state_dict, config, device, users, max_seq), max_seq)

    def inputs(self, x: torch.Tensor, position: int) -> DecodeInputs:
        """Per call, on the host: x [users, 1, hidden] as [1, 1, users, hidden]; positions; the mask."""
        ttnn, users = self.ttnn, x.shape[0]
        act = ttnn.from_torch(x.reshape(1, 1, users, -1), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                              device=self.device)
        pos, m = _position_inputs(ttnn, self.device, users, position, self.max_seq)
        return DecodeInputs(act, pos, m, position)

    def step(self, inputs: DecodeInputs):
        return decoder_layer_decode(self.ttnn, inputs, self.params, self.dims)

    def decode(self, x: torch.Tensor, position: int):
        return self.step(self.inputs(x, position))


def _position_inputs(ttnn, device, users: int, position: int, max_seq: int):
    """The per-call position vector (uint32, one per user) and the additive mask hiding cache slots past it."""
    pos = ttnn.from_torch(torch.full((users,), position, dtype=torch.int32), dtype=ttnn.uint32, device=device)
    mask = torch.zeros(users, 1, 1, max_seq)
    mask[..., position + 1:] = -100000.0
    return pos, ttnn.from_torch(mask, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)


@dataclass
class HandwrittenLlamaDecode:
    """The decode step of a whole Llama stack without its LM head, as the compiled `LlamaModel` step computes
    it: token ids -> ttnn.embedding (the table bfloat16 on the device) -> the decoder layers, each with its own
    KV cache on the device -> final rms_norm. Positions and the mask are per-call inputs shared by the layers."""
    ttnn: Any
    device: Any
    dims: LlamaDims
    embed: Any
    layers: list
    norm: Any
    max_seq: int

    @classmethod
    def build(cls, ttnn, device, config, state_dict: dict, users: int, max_seq: int) -> "HandwrittenLlamaDecode":
        sd = {k.removeprefix("model."): v for k, v in state_dict.items()}
        layers = []
        for i in range(config.num_hidden_layers):
            prefix = f"layers.{i}."
            layer_sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
            layers.append(preprocess_parameters(ttnn, layer_sd, config, device, users, max_seq))
        embed = ttnn.from_torch(sd["embed_tokens.weight"].float(), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT,
                                device=device, memory_config=ttnn.DRAM_MEMORY_CONFIG)
        norm = ttnn.from_torch(sd["norm.weight"].float().reshape(1, -1), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                               device=device, memory_config=ttnn.DRAM_MEMORY_CONFIG)
        return cls(ttnn, device, LlamaDims.of(config), embed, layers, norm, max_seq)

    def inputs(self, ids: torch.Tensor, position: int) -> DecodeInputs:
        """Per call, on the host: the users' token ids [users] (uint32), their position, the mask."""
        ttnn, users = self.ttnn, ids.numel()
        tokens = ttnn.from_torch(ids.reshape(users).to(torch.int32), dtype=ttnn.uint32, device=self.device)
        pos, m = _position_inputs(ttnn, self.device, users, position, self.max_seq)
        return DecodeInputs(tokens, pos, m, position)

    def step(self, inputs: DecodeInputs):
        """Returns the final hidden states [1, 1, users, hidden]."""
        ttnn, users = self.ttnn, inputs.x.shape[0]
        x = ttnn.reshape(ttnn.embedding(inputs.x, self.embed, layout=ttnn.TILE_LAYOUT), (1, 1, users, self.dims.hidden))
        for p in self.layers:
            y = decoder_layer_decode(ttnn, dataclasses.replace(inputs, x=x), p, self.dims)
            ttnn.deallocate(x)
            x = y
        return ttnn.rms_norm(x, weight=self.norm, epsilon=self.dims.eps)
