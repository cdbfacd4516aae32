"""BERT encoder written by hand in TT-NN, as Tenstorrent's optimized sharded BERT is written
(tt-metal models/demos/bert/tt/ttnn_optimized_sharded_bert.py, read for facts, not copied).

Per encoder layer, 11 device ops, every activation block-sharded (or height-sharded for the heads) in L1:
fused QKV linear -> split_query_key_value_and_split_heads -> Q@K^T -> attention_softmax_ (scale and mask fused)
-> P@V -> concatenate_heads -> self-output linear -> layer_norm(+residual) -> FF1 linear (+GELU fused) -> FF2
linear -> layer_norm(+residual). Weights and activations are bfloat8_b; with a program config the matmuls run
at LoFi (the op's default). Program configs are picked per shape by `program_configs`.

Parameter preprocessing happens once (`preprocess_parameters`): weights transposed to [in, out], bfloat8_b
TILE in DRAM; the Q, K and V weights concatenated per head (|q_i k_i v_i|), the column order the sharded split
kernel reads (create_qkv_heads; Tenstorrent's own sharded BERT concatenates [Q | K | V] and its test has the
PCC check commented out, which is what that order mismatch produces).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

TILE = 32


# --- shapes and program configs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EncoderDims:
    """A transformer encoder's sizes (BERT, ViT)."""
    hidden: int
    heads: int
    layers: int
    intermediate: int
    eps: float

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


@dataclass(frozen=True)
class BertDims(EncoderDims):
    @classmethod
    def of(cls, config) -> "BertDims":
        """From a Hugging Face BertConfig."""
        return cls(config.hidden_size, config.num_attention_heads, config.num_hidden_layers,
                   config.intermediate_size, config.layer_norm_eps)


@dataclass(frozen=True)
class BertProgram:
    """The core grid and every op's program config for one (dims, batch, sequence) on one device."""
    grid: Any
    qkv: Any
    query_by_key: Any
    probs_by_value: Any
    self_output: Any
    ff1: Any
    ff2: Any
    layernorm: Any
    softmax: Any


def _subblock(per_core_m: int, per_core_n: int) -> tuple[int, int]:
    """(out_subblock_h, out_subblock_w): the widest w <= 8 dividing per_core_N; a taller h only when w covers the
    whole per_core_N (a sharded output's constraint), keeping h*w <= 8 Dst tiles."""
    w = max(d for d in range(1, 9) if per_core_n % d == 0)
    if w != per_core_n:
        return 1, w
    return max(d for d in range(1, 9) if per_core_m % d == 0 and d * w <= 8), w


def width_cores(dims: BertDims, max_y: int) -> int:
    """Cores along the hidden dim: the most (up to the device grid's rows) that split the heads, the hidden
    width and the FF width evenly into whole tiles (8 for BERT-large, 6 for BERT-base on an 8x8 grid)."""
    fits = [w for w in range(1, max_y + 1)
            if dims.heads % w == 0 and (dims.hidden // TILE) % w == 0 and (dims.intermediate // TILE) % w == 0]
    return max(fits)


def program_configs(ttnn, dims: BertDims, batch: int, seq: int, device) -> BertProgram:
    """Configs as Tenstorrent picks them for BERT-large, derived from the shape: one batch row per grid column
    (x = batch), the hidden width over the grid's rows (COL_MAJOR block sharding, transpose_mcast); per_core_M
    = seq tiles, per_core_N = that op's output width tiles per row of cores; in0_block_w = the input shard's
    width in tiles. For BERT-large batch 8 seq 384 on 8x8 this gives exactly TT's values (QKV 4/1x6/12x12,
    Q@K 2/1x6/24x12, P@V 12/4x2/24x2, self-out 4/2x4/12x4, FF1 4/1x8/12x16 + GELU, FF2 16/2x4/12x4,
    layernorm 4/12/4, softmax 6/24/12)."""
    grid_size = device.compute_with_storage_grid_size()
    if batch > grid_size.x or seq % TILE or dims.head_size % TILE:
        raise ValueError(f"the sharded BERT needs batch <= {grid_size.x} (one grid column each), seq and head size "
                         f"multiples of {TILE}; got batch {batch}, seq {seq}, head size {dims.head_size}")
    w = width_cores(dims, grid_size.y)
    grid = ttnn.CoreGrid(y=w, x=batch)
    m, hid, ff, st, dt = seq // TILE, dims.hidden // TILE // w, dims.intermediate // TILE // w, seq // TILE, \
        dims.head_size // TILE
    heads_m = dims.heads // w * st  # tile rows of the heads each core holds (heads per core x seq)
    xy = (grid.x, grid.y)

    def mcast(in0_block_w, per_core_n, activation=None):
        h, sw = _subblock(m, per_core_n)
        return ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
            compute_with_storage_grid_size=xy, in0_block_w=in0_block_w, out_subblock_h=h, out_subblock_w=sw,
            per_core_M=m, per_core_N=per_core_n, transpose_mcast=True, fused_activation=activation)

    def reuse(in0_block_w, per_core_n):
        h, sw = _subblock(heads_m, per_core_n)
        return ttnn.MatmulMultiCoreReuseProgramConfig(compute_with_storage_grid_size=xy, in0_block_w=in0_block_w,
                                                      out_subblock_h=h, out_subblock_w=sw, per_core_M=heads_m,
                                                      per_core_N=per_core_n)
    return BertProgram(
        grid=grid, qkv=mcast(hid, 3 * hid), query_by_key=reuse(dt, st), probs_by_value=reuse(st, dt),
        self_output=mcast(hid, hid), ff1=mcast(hid, ff, (ttnn.UnaryOpType.GELU, True)), ff2=mcast(ff, hid),
        layernorm=ttnn.LayerNormShardedMultiCoreProgramConfig(compute_with_storage_grid_size=xy, subblock_w=hid,
                                                              block_h=m, block_w=hid, inplace=True),
        softmax=ttnn.SoftmaxShardedMultiCoreProgramConfig(compute_with_storage_grid_size=xy,
                                                          subblock_w=_subblock(1, st)[1], block_h=heads_m,
                                                          block_w=st))


# --- parameters -----------------------------------------------------------------------------------------------
@dataclass
class BertLayerParams:
    qkv_weight: Any
    qkv_bias: Any
    out_weight: Any
    out_bias: Any
    ln1_weight: Any
    ln1_bias: Any
    ff1_weight: Any
    ff1_bias: Any
    ff2_weight: Any
    ff2_bias: Any
    ln2_weight: Any
    ln2_bias: Any


@dataclass
class BertParams:
    word: Any
    position: Any
    token_type: Any
    emb_ln_weight: Any
    emb_ln_bias: Any
    layers: list
    qa_weight: Any = None
    qa_bias: Any = None


def _grouped_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Stack Q, K, V rows (out features) per head: |q_0 k_0 v_0 q_1 k_1 v_1 ...| (weights [out, in] or biases)."""
    parts = [t.reshape(heads, -1, *t.shape[1:]) for t in (q, k, v)]
    return torch.cat(parts, 1).reshape(-1, *q.shape[1:])


class _Loader:
    """Moves host tensors to the device in the formats the model reads."""

    def __init__(self, ttnn, device):
        self.ttnn, self.device = ttnn, device

    def linear(self, weight: torch.Tensor, bias: torch.Tensor):
        ttnn = self.ttnn
        w = ttnn.from_torch(weight.T.contiguous(), dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=self.device,
                            memory_config=ttnn.DRAM_MEMORY_CONFIG)
        b = ttnn.from_torch(bias.reshape(1, -1), dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=self.device,
                            memory_config=ttnn.DRAM_MEMORY_CONFIG)
        return w, b

    def row(self, t: torch.Tensor):
        ttnn = self.ttnn
        return ttnn.from_torch(t.reshape(1, -1), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=self.device,
                               memory_config=ttnn.DRAM_MEMORY_CONFIG)

    def table(self, t: torch.Tensor):
        ttnn = self.ttnn
        return ttnn.from_torch(t, dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=self.device,
                               memory_config=ttnn.DRAM_MEMORY_CONFIG)


def _layer_params(load: _Loader, sd: dict, p: str, heads: int) -> BertLayerParams:
    a = f"{p}attention."
    qkv = [(sd[f"{a}self.{n}.weight"], sd[f"{a}self.{n}.bias"]) for n in ("query", "key", "value")]
    qkv_w, qkv_b = load.linear(_grouped_qkv(*[w for w, _ in qkv], heads), _grouped_qkv(*[b for _, b in qkv], heads))
    out_w, out_b = load.linear(sd[f"{a}output.dense.weight"], sd[f"{a}output.dense.bias"])
    ff1_w, ff1_b = load.linear(sd[f"{p}intermediate.dense.weight"], sd[f"{p}intermediate.dense.bias"])
    ff2_w, ff2_b = load.linear(sd[f"{p}output.dense.weight"], sd[f"{p}output.dense.bias"])
    return BertLayerParams(qkv_w, qkv_b, out_w, out_b, load.row(sd[f"{a}output.LayerNorm.weight"]),
                           load.row(sd[f"{a}output.LayerNorm.bias"]), ff1_w, ff1_b, ff2_w, ff2_b,
                           load.row(sd[f"{p}output.LayerNorm.weight"]), load.row(sd[f"{p}output.LayerNorm.bias"]))


def preprocess_parameters(ttnn, state_dict: dict, dims: BertDims, device) -> BertParams:
    """Once per model: a BertModel's or BertForQuestionAnswering's state dict to device tensors."""
    sd = {k.removeprefix("bert."): v.detach().float() for k, v in state_dict.items()}
    load = _Loader(ttnn, device)
    e = "embeddings."
    params = BertParams(load.table(sd[f"{e}word_embeddings.weight"]), load.table(sd[f"{e}position_embeddings.weight"]),
                        load.table(sd[f"{e}token_type_embeddings.weight"]), load.row(sd[f"{e}LayerNorm.weight"]),
                        load.row(sd[f"{e}LayerNorm.bias"]),
                        [_layer_params(load, sd, f"encoder.layer.{i}.", dims.heads) for i in range(dims.layers)])
    if "qa_outputs.weight" in sd:
        params.qa_weight, params.qa_bias = load.linear(sd["qa_outputs.weight"], sd["qa_outputs.bias"])
    return params


# --- inputs ---------------------------------------------------------------------------------------------------
@dataclass
class BertInputs:
    input_ids: Any
    token_type_ids: Any
    position_ids: Any
    attention_mask: Any


def preprocess_inputs(ttnn, device, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      token_type_ids: torch.Tensor | None = None) -> BertInputs:
    """Per call, on the host: ids as uint32 in L1, the additive mask [B, 1, 1, S] (0 kept, -100000 masked,
    bfloat16 TILE in L1) that attention_softmax_ broadcasts over heads and query rows."""
    b, s = input_ids.shape
    token_type_ids = torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids
    positions = torch.arange(s).expand(b, s)
    l1 = ttnn.L1_MEMORY_CONFIG
    ids = [ttnn.from_torch(t.to(torch.int32), dtype=ttnn.uint32, device=device, memory_config=l1)
           for t in (input_ids, token_type_ids, positions)]
    mask = None
    if attention_mask is not None:
        additive = (1.0 - attention_mask.float()).reshape(b, 1, 1, s) * -100000.0
        mask = ttnn.from_torch(additive, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device, memory_config=l1)
    return BertInputs(*ids, mask)


# --- the per-call model ---------------------------------------------------------------------------------------
def _attention(ttnn, x, mask, p: BertLayerParams, prog: BertProgram, dims: BertDims):
    block, height = ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG, ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG
    qkv = ttnn.linear(x, p.qkv_weight, bias=p.qkv_bias, memory_config=block, dtype=ttnn.bfloat8_b,
                      program_config=prog.qkv)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(qkv, memory_config=height,
                                                                     num_heads=dims.heads)
    ttnn.deallocate(qkv)
    scores = ttnn.matmul(q, k, memory_config=height, dtype=ttnn.bfloat8_b, program_config=prog.query_by_key)
    ttnn.deallocate(q)
    ttnn.deallocate(k)
    probs = ttnn.transformer.attention_softmax_(scores, attention_mask=mask, head_size=dims.head_size,
                                                program_config=prog.softmax)
    context = ttnn.matmul(probs, v, memory_config=height, dtype=ttnn.bfloat8_b, program_config=prog.probs_by_value)
    ttnn.deallocate(probs)
    ttnn.deallocate(v)
    merged = ttnn.transformer.concatenate_heads(context, memory_config=block)
    ttnn.deallocate(context)
    out = ttnn.linear(merged, p.out_weight, bias=p.out_bias, memory_config=block, dtype=ttnn.bfloat8_b,
                      program_config=prog.self_output)
    ttnn.deallocate(merged)
    return _add_and_norm(ttnn, x, out, p.ln1_weight, p.ln1_bias, prog, dims)


def _add_and_norm(ttnn, x, residual, weight, bias, prog: BertProgram, dims: BertDims):
    """layer_norm(x + residual) in one sharded op (the residual add fused), freeing the residual."""
    normed = ttnn.layer_norm(x, residual_input_tensor=residual, weight=weight, bias=bias, epsilon=dims.eps,
                             memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG, program_config=prog.layernorm)
    ttnn.deallocate(residual)
    return normed


def _feedforward(ttnn, x, p: BertLayerParams, prog: BertProgram, dims: BertDims):
    block = ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG
    inner = ttnn.linear(x, p.ff1_weight, bias=p.ff1_bias, memory_config=block, dtype=ttnn.bfloat8_b,
                        program_config=prog.ff1)
    out = ttnn.linear(inner, p.ff2_weight, bias=p.ff2_bias, memory_config=block, dtype=ttnn.bfloat8_b,
                      program_config=prog.ff2)
    ttnn.deallocate(inner)
    normed = ttnn.layer_norm(out, residual_input_tensor=x, weight=p.ln2_weight, bias=p.ln2_bias, epsilon=dims.eps,
                             memory_config=block, program_config=prog.layernorm)
    ttnn.deallocate(out)  # x stays: the caller frees it
    return normed


def _embeddings(ttnn, inputs: BertInputs, params: BertParams, prog: BertProgram, dims: BertDims):
    l1 = ttnn.L1_MEMORY_CONFIG
    word = ttnn.embedding(inputs.input_ids, params.word, layout=ttnn.TILE_LAYOUT, memory_config=l1)
    kind = ttnn.embedding(inputs.token_type_ids, params.token_type, layout=ttnn.TILE_LAYOUT, memory_config=l1)
    summed = ttnn.add(word, kind, memory_config=l1, dtype=ttnn.bfloat8_b)
    ttnn.deallocate(word)
    ttnn.deallocate(kind)
    position = ttnn.embedding(inputs.position_ids, params.position, layout=ttnn.TILE_LAYOUT, memory_config=l1)
    emb = ttnn.layer_norm(summed, residual_input_tensor=position, weight=params.emb_ln_weight,
                          bias=params.emb_ln_bias, epsilon=dims.eps, memory_config=l1)
    ttnn.deallocate(summed)
    ttnn.deallocate(position)
    sharded = ttnn.create_sharded_memory_config(emb.shape, core_grid=prog.grid, strategy=ttnn.ShardStrategy.BLOCK,
                                                orientation=ttnn.ShardOrientation.COL_MAJOR)
    out = ttnn.to_memory_config(emb, memory_config=sharded, dtype=ttnn.bfloat8_b)
    ttnn.deallocate(emb)
    return out


def bert(ttnn, inputs: BertInputs, params: BertParams, prog: BertProgram, dims: BertDims):
    """The encoder: embeddings, then every layer on block-sharded L1 activations; returns the last hidden
    state [B, S, hidden] (bfloat8_b, block-sharded)."""
    x = _embeddings(ttnn, inputs, params, prog, dims)
    for layer in params.layers:
        h = _attention(ttnn, x, inputs.attention_mask, layer, prog, dims)
        ttnn.deallocate(x)
        x = _feedforward(ttnn, h, layer, prog, dims)
        ttnn.deallocate(h)
    return x


def bert_for_question_answering(ttnn, inputs: BertInputs, params: BertParams, prog: BertProgram, dims: BertDims):
    """The encoder, then the QA head on L1-interleaved activations: start/end logits [B, S, 2]."""
    hidden = bert(ttnn, inputs, params, prog, dims)
    flat = ttnn.to_memory_config(hidden, memory_config=ttnn.L1_MEMORY_CONFIG)
    ttnn.deallocate(hidden)
    return ttnn.linear(flat, params.qa_weight, bias=params.qa_bias, memory_config=ttnn.L1_MEMORY_CONFIG)


# --- one-stop helpers for benches and tests ------------------------------------------------------------------
@dataclass
class HandwrittenBert:
    """Everything one forward needs, prepared once: dims, per-shape program configs, device parameters."""
    ttnn: Any
    device: Any
    dims: BertDims
    program: BertProgram
    params: BertParams

    @classmethod
    def build(cls, ttnn, device, config, state_dict: dict, batch: int, seq: int) -> "HandwrittenBert":
        dims = BertDims.of(config)
        return cls(ttnn, device, dims, program_configs(ttnn, dims, batch, seq, device),
                   preprocess_parameters(ttnn, state_dict, dims, device))

    def inputs(self, input_ids, attention_mask=None, token_type_ids=None) -> BertInputs:
        return preprocess_inputs(self.ttnn, self.device, input_ids, attention_mask, token_type_ids)

    def __call__(self, inputs: BertInputs):
        if self.params.qa_weight is not None:
            return bert_for_question_answering(self.ttnn, inputs, self.params, self.program, self.dims)
        return bert(self.ttnn, inputs, self.params, self.program, self.dims)
