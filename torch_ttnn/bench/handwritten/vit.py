"""ViT-B/16 encoder written by hand in TT-NN, laid out as Tenstorrent's Wormhole sharded ViT
(tt-metal models/demos/vit/tt/ttnn_optimized_sharded_vit_wh.py, read for facts, not copied).

Pre-norm layers, 15 device ops each: layer_norm -> fused QKV linear (8x8 grid, ROW_MAJOR block shards) ->
reshard to the attention grid (users x 6 cores: 12 heads split over 6 columns) -> split heads -> Q@K^T ->
attention_softmax_ (scale fused; TT multiplies then softmaxes in place) -> P@V -> concatenate_heads ->
reshard back to 8x8 -> self-output linear -> add residual -> layer_norm -> FF1 linear (+GELU) -> FF2 linear
-> add residual. The 197-token sequence (CLS + 14x14 patches) is tile-padded to 224 rows, 7 tiles per image.
Patch embedding: the NHWC image is cut into patches on the device (reshape/permute) and projected by a linear
(TT folds with ttnn.fold, which the emulator does not have).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .bert import TILE, EncoderDims, _grouped_qkv, _Loader, _subblock


@dataclass(frozen=True)
class VitDims(EncoderDims):
    patch: int = 16
    image: int = 224

    @classmethod
    def of(cls, config) -> "VitDims":
        """From a Hugging Face ViTConfig."""
        return cls(config.hidden_size, config.num_attention_heads, config.num_hidden_layers,
                   config.intermediate_size, config.layer_norm_eps, config.patch_size, config.image_size)

    @property
    def seq(self) -> int:
        return (self.image // self.patch) ** 2 + 1


@dataclass(frozen=True)
class VitProgram:
    grid: Any          # 8x8-style grid of the norms and linears (users on rows)
    attention_grid: Any  # users x (cores that split the heads)
    layernorm: Any
    qkv: Any
    query_by_key: Any
    probs_by_value: Any
    softmax: Any
    self_output: Any
    ff1: Any
    ff2: Any


def _widest(n_max: int, *counts: int) -> int:
    return max(w for w in range(1, n_max + 1) if all(c % w == 0 for c in counts))


def program_configs(ttnn, dims: VitDims, batch: int, device) -> VitProgram:
    """As TT picks them for ViT-B on 8x8 Wormhole (one image per grid row; 8 columns for the linears, 6 for
    attention), derived from the shape; they come out as TT's (in0_block_w/subblock/per-core): layernorm 3/7/3,
    QKV 3/1x3/7x9, Q@K 2/1x7/14x7, softmax 7/14/7, P@V 7/2x2/14x2 (TT uses a 1x2 subblock), self-out
    3/1x3/7x3, FF1 3/1x6/7x12 + GELU, FF2 12/1x3/7x3."""
    size = device.compute_with_storage_grid_size()
    if batch > size.y:
        raise ValueError(f"the sharded ViT puts one image per grid row: batch must be <= {size.y}, got {batch}")
    seq_t, dim_t, head_t = -(-dims.seq // TILE), dims.hidden // TILE, dims.head_size // TILE
    x = _widest(size.x, dim_t, dims.intermediate // TILE, 3 * dim_t)
    ax = _widest(size.x, dims.heads, dim_t)
    grid, attn = ttnn.CoreGrid(y=batch, x=x), ttnn.CoreGrid(y=batch, x=ax)
    w, heads_m = dim_t // x, dims.heads // ax * seq_t

    def mcast(in0_block_w, per_core_n, activation=None):
        h, sw = _subblock(seq_t, per_core_n)
        return ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
            compute_with_storage_grid_size=(x, batch), in0_block_w=in0_block_w, out_subblock_h=h,
            out_subblock_w=sw, per_core_M=seq_t, per_core_N=per_core_n, transpose_mcast=False,
            fused_activation=activation)

    def reuse(in0_block_w, per_core_n):
        h, sw = _subblock(heads_m, per_core_n)
        return ttnn.MatmulMultiCoreReuseProgramConfig(compute_with_storage_grid_size=(ax, batch),
                                                      in0_block_w=in0_block_w, out_subblock_h=h, out_subblock_w=sw,
                                                      per_core_M=heads_m, per_core_N=per_core_n)
    ff = dims.intermediate // TILE // x
    return VitProgram(
        grid=grid, attention_grid=attn,
        layernorm=ttnn.LayerNormShardedMultiCoreProgramConfig(compute_with_storage_grid_size=(x, batch),
                                                              subblock_w=w, block_h=seq_t, block_w=w, inplace=False),
        qkv=mcast(w, 3 * w), query_by_key=reuse(head_t, seq_t), probs_by_value=reuse(seq_t, head_t),
        softmax=ttnn.SoftmaxShardedMultiCoreProgramConfig(compute_with_storage_grid_size=(ax, batch),
                                                          subblock_w=_subblock(1, seq_t)[1], block_h=heads_m,
                                                          block_w=seq_t),
        self_output=mcast(w, w), ff1=mcast(w, ff, (ttnn.UnaryOpType.GELU, True)), ff2=mcast(ff, w))


@dataclass
class VitLayerParams:
    ln1_weight: Any
    ln1_bias: Any
    qkv_weight: Any
    qkv_bias: Any
    out_weight: Any
    out_bias: Any
    ln2_weight: Any
    ln2_bias: Any
    ff1_weight: Any
    ff1_bias: Any
    ff2_weight: Any
    ff2_bias: Any


@dataclass
class VitParams:
    patch_weight: Any
    patch_bias: Any
    cls_token: Any
    position: Any
    layers: list
    ln_weight: Any
    ln_bias: Any


def _layer(load: _Loader, sd: dict, p: str, heads: int) -> VitLayerParams:
    a = f"{p}attention."
    qkv_w = _grouped_qkv(*[sd[f"{a}{n}_proj.weight"] for n in "qkv"], heads)
    qkv_b = _grouped_qkv(*[sd[f"{a}{n}_proj.bias"] for n in "qkv"], heads)
    return VitLayerParams(load.row(sd[f"{p}layernorm_before.weight"]), load.row(sd[f"{p}layernorm_before.bias"]),
                          *load.linear(qkv_w, qkv_b), *load.linear(sd[f"{a}o_proj.weight"], sd[f"{a}o_proj.bias"]),
                          load.row(sd[f"{p}layernorm_after.weight"]), load.row(sd[f"{p}layernorm_after.bias"]),
                          *load.linear(sd[f"{p}mlp.fc1.weight"], sd[f"{p}mlp.fc1.bias"]),
                          *load.linear(sd[f"{p}mlp.fc2.weight"], sd[f"{p}mlp.fc2.bias"]))


def preprocess_parameters(ttnn, state_dict: dict, dims: VitDims, device, batch: int) -> VitParams:
    """Once: a ViTModel state dict to device tensors. The conv patch projection becomes a linear over patch
    features ordered (row in patch, column in patch, channel), the order the device unfold produces; the CLS
    token is expanded to the batch."""
    sd = {k.removeprefix("vit."): v.detach().float() for k, v in state_dict.items()}
    load = _Loader(ttnn, device)
    e = "embeddings."
    proj = sd[f"{e}patch_embeddings.projection.weight"]  # [hidden, C, p, p]
    patch_w, patch_b = load.linear(proj.permute(0, 2, 3, 1).reshape(proj.shape[0], -1),
                                   sd[f"{e}patch_embeddings.projection.bias"])
    cls = ttnn.from_torch(sd[f"{e}cls_token"].expand(batch, 1, dims.hidden).contiguous(), dtype=ttnn.bfloat16,
                          layout=ttnn.TILE_LAYOUT, device=device)
    pos = ttnn.from_torch(sd[f"{e}position_embeddings"], dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    return VitParams(patch_w, patch_b, cls, pos, [_layer(load, sd, f"layers.{i}.", dims.heads)
                                                  for i in range(dims.layers)],
                     load.row(sd["layernorm.weight"]), load.row(sd["layernorm.bias"]))


def _embeddings(ttnn, pixels, params: VitParams, prog: VitProgram, dims: VitDims):
    """NHWC pixels [B, H, W, C] (row-major bfloat16) -> block-sharded [B, 197, hidden] bfloat8_b."""
    b, h, w, c = pixels.shape
    n, p = h // dims.patch, dims.patch
    rows = ttnn.reshape(pixels, (b, n, p, n, p * c))
    patches = ttnn.reshape(ttnn.permute(rows, (0, 1, 3, 2, 4)), (b, n * n, p * p * c))
    tiles = ttnn.to_layout(patches, ttnn.TILE_LAYOUT, dtype=ttnn.bfloat8_b)
    embedded = ttnn.linear(tiles, params.patch_weight, bias=params.patch_bias, dtype=ttnn.bfloat16,
                           memory_config=ttnn.L1_MEMORY_CONFIG, core_grid=prog.grid)
    tokens = ttnn.concat([params.cls_token, embedded], -2, memory_config=ttnn.L1_MEMORY_CONFIG)
    x = ttnn.add(tokens, params.position, memory_config=ttnn.L1_MEMORY_CONFIG, dtype=ttnn.bfloat8_b)
    sharded = ttnn.create_sharded_memory_config(x.padded_shape, core_grid=prog.grid,
                                                strategy=ttnn.ShardStrategy.BLOCK,
                                                orientation=ttnn.ShardOrientation.ROW_MAJOR)
    return ttnn.to_memory_config(x, memory_config=sharded)


def _attention(ttnn, x, p: VitLayerParams, prog: VitProgram, dims: VitDims):
    block, height = ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG, ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG
    normed = ttnn.layer_norm(x, weight=p.ln1_weight, bias=p.ln1_bias, epsilon=dims.eps, memory_config=block,
                             program_config=prog.layernorm)
    qkv = ttnn.linear(normed, p.qkv_weight, bias=p.qkv_bias, memory_config=block, dtype=ttnn.bfloat8_b,
                      program_config=prog.qkv)
    ttnn.deallocate(normed)
    to_attention = ttnn.create_sharded_memory_config(qkv.padded_shape, core_grid=prog.attention_grid,
                                                     strategy=ttnn.ShardStrategy.BLOCK,
                                                     orientation=ttnn.ShardOrientation.ROW_MAJOR)
    qkv = ttnn.reshard(qkv, to_attention)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(qkv, memory_config=height, num_heads=dims.heads)
    ttnn.deallocate(qkv)
    scores = ttnn.matmul(q, k, memory_config=height, dtype=ttnn.bfloat8_b, program_config=prog.query_by_key)
    probs = ttnn.transformer.attention_softmax_(scores, head_size=dims.head_size, program_config=prog.softmax)
    context = ttnn.matmul(probs, v, memory_config=height, dtype=ttnn.bfloat8_b, program_config=prog.probs_by_value)
    for t in (q, k, v, probs):
        ttnn.deallocate(t)
    merged = ttnn.transformer.concatenate_heads(context, memory_config=block)
    back = ttnn.create_sharded_memory_config(merged.padded_shape, core_grid=prog.grid,
                                             strategy=ttnn.ShardStrategy.BLOCK,
                                             orientation=ttnn.ShardOrientation.ROW_MAJOR)
    merged = ttnn.reshard(merged, back)
    out = ttnn.linear(merged, p.out_weight, bias=p.out_bias, memory_config=block, dtype=ttnn.bfloat8_b,
                      program_config=prog.self_output)
    return ttnn.add(out, x, memory_config=block, dtype=ttnn.bfloat8_b)


def _mlp(ttnn, x, p: VitLayerParams, prog: VitProgram, dims: VitDims):
    block = ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG
    normed = ttnn.layer_norm(x, weight=p.ln2_weight, bias=p.ln2_bias, epsilon=dims.eps, memory_config=block,
                             program_config=prog.layernorm)
    inner = ttnn.linear(normed, p.ff1_weight, bias=p.ff1_bias, memory_config=block, dtype=ttnn.bfloat8_b,
                        program_config=prog.ff1)
    out = ttnn.linear(inner, p.ff2_weight, bias=p.ff2_bias, memory_config=block, dtype=ttnn.bfloat8_b,
                      program_config=prog.ff2)
    ttnn.deallocate(inner)
    return ttnn.add(out, x, memory_config=block, dtype=ttnn.bfloat8_b)


def vit(ttnn, pixels, params: VitParams, prog: VitProgram, dims: VitDims):
    """The encoder: last hidden state [B, 197, hidden] after the final layer_norm (block-sharded L1)."""
    x = _embeddings(ttnn, pixels, params, prog, dims)
    for layer in params.layers:
        h = _attention(ttnn, x, layer, prog, dims)
        ttnn.deallocate(x)
        x = _mlp(ttnn, h, layer, prog, dims)
        ttnn.deallocate(h)
    return ttnn.layer_norm(x, weight=params.ln_weight, bias=params.ln_bias, epsilon=dims.eps,
                           memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG, program_config=prog.layernorm)


@dataclass
class HandwrittenVit:
    ttnn: Any
    device: Any
    dims: VitDims
    program: VitProgram
    params: VitParams

    @classmethod
    def build(cls, ttnn, device, config, state_dict: dict, batch: int) -> "HandwrittenVit":
        dims = VitDims.of(config)
        return cls(ttnn, device, dims, program_configs(ttnn, dims, batch, device),
                   preprocess_parameters(ttnn, state_dict, dims, device, batch))

    def inputs(self, pixel_values: torch.Tensor):
        """Per call, on the host: NCHW pixels to NHWC bfloat16 row-major on the device."""
        return self.ttnn.from_torch(pixel_values.permute(0, 2, 3, 1).contiguous(), dtype=self.ttnn.bfloat16,
                                    device=self.device)

    def __call__(self, pixels):
        return vit(self.ttnn, pixels, self.params, self.program, self.dims)
