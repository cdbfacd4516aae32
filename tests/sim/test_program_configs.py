"""Program configs: the real constructors (keyword-only, conversions, defaults, reprs read from ttnn 0.81.1),
matmul/linear validating them against the shapes, fused activations, the shard spec of sharded outputs, and
layer_norm / softmax / split-heads on sharded inputs."""
import pytest
import torch
from helpers import assert_pcc


def dev(ttnn, device, x, dtype="bfloat16", memory_config=None):
    return ttnn.from_torch(x, dtype=getattr(ttnn, dtype), layout=ttnn.TILE_LAYOUT, device=device,
                           memory_config=memory_config)


def mcast(ttnn, **kw):
    base = dict(compute_with_storage_grid_size=(4, 2), in0_block_w=2, out_subblock_h=1, out_subblock_w=2,
                per_core_M=2, per_core_N=2, transpose_mcast=False)
    return ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(**{**base, **kw})


def reuse(ttnn, **kw):
    base = dict(compute_with_storage_grid_size=(8, 8), in0_block_w=2, out_subblock_h=1, out_subblock_w=2,
                per_core_M=2, per_core_N=2)
    return ttnn.MatmulMultiCoreReuseProgramConfig(**{**base, **kw})


# --- constructors ---------------------------------------------------------------------------------------------
REAL_REPRS = [  # printed by the real ttnn 0.81.1 for these arguments
    ("MatmulMultiCoreReuseMultiCastProgramConfig", dict(compute_with_storage_grid_size=(8, 8), in0_block_w=4,
     out_subblock_h=1, out_subblock_w=6, per_core_M=12, per_core_N=12, transpose_mcast=True, fused_activation=None),
     "MatmulMultiCoreReuseMultiCastProgramConfig(compute_with_storage_grid_size=8-8,in0_block_w=4,out_subblock_h=1,"
     "out_subblock_w=6,out_block_h=12,out_block_w=12,per_core_M=12,per_core_N=12,transpose_mcast=1,"
     "fused_activation=std::nullopt,fuse_batch=1,allowed_worker_cores=std::nullopt)"),
    ("MatmulMultiCoreReuseProgramConfig", dict(compute_with_storage_grid_size=(8, 8), in0_block_w=2,
     out_subblock_h=1, out_subblock_w=6, per_core_M=24, per_core_N=12),
     "MatmulMultiCoreReuseProgramConfig(compute_with_storage_grid_size=8-8,in0_block_w=2,out_subblock_h=1,"
     "out_subblock_w=6,per_core_M=24,per_core_N=12,allowed_worker_cores=std::nullopt)"),
    ("LayerNormShardedMultiCoreProgramConfig", dict(compute_with_storage_grid_size=(8, 8), subblock_w=4, block_h=12,
     block_w=4, inplace=True),
     "LayerNormShardedMultiCoreProgramConfig(compute_with_storage_grid_size=8-8,subblock_w=4,block_h=12,block_w=4,"
     "inplace=1,legacy_reduction=0,use_welford=0)"),
    ("SoftmaxShardedMultiCoreProgramConfig", dict(compute_with_storage_grid_size=(8, 8), subblock_w=6, block_h=24,
     block_w=12), "SoftmaxShardedMultiCoreProgramConfig(compute_with_storage_grid_size=8-8, subblock_w=6, "
     "block_h=24, block_w=12)"),
    ("LayerNormDefaultProgramConfig", {}, "LayerNormDefaultProgramConfig(legacy_reduction=0,use_welford=0)"),
]


@pytest.mark.parametrize("name, kwargs, text", REAL_REPRS, ids=[r[0] for r in REAL_REPRS])
def test_configs_build_and_print_as_the_real_ones(ttnn, name, kwargs, text):
    cfg = getattr(ttnn, name)(**kwargs)
    assert repr(cfg) == text
    if "compute_with_storage_grid_size" in kwargs:
        assert cfg.compute_with_storage_grid_size == ttnn.CoreCoord(8, 8)


@pytest.mark.parametrize("name", ["MatmulMultiCoreReuseProgramConfig", "MatmulMultiCoreReuseMultiCastProgramConfig",
                                  "SoftmaxShardedMultiCoreProgramConfig"])
def test_configs_are_keyword_only_with_required_fields(ttnn, name):
    cls = getattr(ttnn, name)
    with pytest.raises(TypeError):
        cls((8, 8), 2, 1, 6, 24, 12)
    with pytest.raises(TypeError):
        cls(compute_with_storage_grid_size=(8, 8))


def test_fused_activation_tuple_becomes_unary_with_param(ttnn):
    cfg = mcast(ttnn, fused_activation=(ttnn.UnaryOpType.GELU, True), out_block_h=1)
    assert cfg.fused_activation == ttnn.UnaryWithParam(ttnn.UnaryOpType.GELU, 1.0)
    assert (cfg.out_block_h, cfg.out_block_w) == (1, 2)  # given, and defaulted to per_core_N
    one_d = ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig(
        compute_with_storage_grid_size=(8, 4), in0_block_w=2, out_subblock_h=1, out_subblock_w=1, per_core_M=1,
        per_core_N=4, fuse_batch=True, mcast_in0=True)
    assert (one_d.gather_in0, one_d.num_global_cb_receivers, one_d.out_block_w) == (False, 1, 4)


# --- matmul with a program config -----------------------------------------------------------------------------
def lofi(ttnn):
    return ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi)


@pytest.mark.parametrize("config", ["mcast", "reuse", "mcast1d"])
def test_program_config_keeps_the_numerics(ttnn, device, config):
    """A config decides placement, not arithmetic: the result equals the same LoFi matmul without one."""
    g = torch.Generator().manual_seed(0)
    if config == "reuse":
        a, b = torch.randn(4, 64, 64, generator=g), torch.randn(4, 64, 64, generator=g)
        cfg = reuse(ttnn)
    elif config == "mcast":
        a, b = torch.randn(2, 64, 64, generator=g), torch.randn(64, 256, generator=g)
        cfg = mcast(ttnn)  # M = 4 tiles in 2 block rows, N = 8 tiles in 4 block columns: the 4x2 grid
    else:
        a, b = torch.randn(1, 32, 128, generator=g), torch.randn(128, 256, generator=g)
        cfg = ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig(
            compute_with_storage_grid_size=(8, 1), in0_block_w=2, out_subblock_h=1, out_subblock_w=1, per_core_M=1,
            per_core_N=1, fuse_batch=True, mcast_in0=True)
    ta, tb = dev(ttnn, device, a), dev(ttnn, device, b)
    got = ttnn.to_torch(ttnn.matmul(ta, tb, program_config=cfg))
    want = ttnn.to_torch(ttnn.matmul(ta, tb, compute_kernel_config=lofi(ttnn)))
    assert torch.equal(got, want)
    assert_pcc(a @ b, got.float(), 0.99)


def test_fused_activation_is_applied_in_the_kernel(ttnn, device):
    g = torch.Generator().manual_seed(1)
    a, w, bias = torch.randn(64, 64, generator=g), torch.randn(64, 256, generator=g), torch.randn(256, generator=g)
    ta, tw, tbias = dev(ttnn, device, a), dev(ttnn, device, w), dev(ttnn, device, bias.reshape(1, -1))
    n = len(device.op_records)
    fused = ttnn.linear(ta, tw, bias=tbias, program_config=mcast(ttnn, fused_activation=(ttnn.UnaryOpType.GELU, True)))
    assert len(device.op_records) == n + 1  # one device op
    plain = ttnn.to_torch(ttnn.linear(ta, tw, bias=tbias, program_config=mcast(ttnn))).float()
    from torch_ttnn.sim.ops._sfpu_approx import gelu_fast
    expect = gelu_fast(plain, True)   # (GELU, True) selects gelu_tile<approx>: the LUT GELU, not the tanh form
    assert (expect - torch.nn.functional.gelu(plain)).abs().max() > 5e-3
    assert torch.allclose(ttnn.to_torch(fused).float(), expect, rtol=2e-2, atol=2e-2)
    n = len(device.op_records)  # activation= without a core_grid: TT-NN runs it as a second op, config or not
    ttnn.linear(ta, tw, bias=tbias, program_config=mcast(ttnn), activation="relu")
    assert [r.name for r in device.op_records[n:]] == ["ttnn.linear", "ttnn.unary_chain"]


BAD = [  # (config kwargs, A shape, B shape, error)
    (dict(compute_with_storage_grid_size=(9, 8)), (64, 64), (64, 64), r"must fit within device grid \(8, 8\)"),
    (dict(in0_block_w=4), (64, 64), (64, 64), r"Kt \(2\) must be divisible by in0_block_w \(4\)"),
    (dict(out_subblock_h=2, out_subblock_w=8, per_core_M=2, per_core_N=8), (64, 64), (64, 256),
     "out_subblock_w 8 times out_subblock_h 2 needs to be at most 8 to fit in hardware"),
    (dict(per_core_M=1), (256, 64), (64, 64), r"Num output blocks along y \(8\) must be smaller than or equal"),
    (dict(per_core_N=1, out_subblock_w=1), (64, 64), (64, 256), r"Num output blocks along x \(8\) must be smaller"),
    (dict(per_core_N=3), (64, 64), (64, 192), r"out_block_w \(3\) must be divisible by out_subblock_w \(2\)"),
]


@pytest.mark.parametrize("kwargs, a_shape, b_shape, message", BAD, ids=str)
def test_bad_mcast_configs_raise(ttnn, device, kwargs, a_shape, b_shape, message):
    a, b = dev(ttnn, device, torch.randn(a_shape)), dev(ttnn, device, torch.randn(b_shape))
    cfg = mcast(ttnn, **kwargs)
    with pytest.raises(RuntimeError, match=message):
        ttnn.matmul(a, b, program_config=cfg)


def test_fp32_accumulation_halves_the_subblock_limit(ttnn, device):
    a, b = dev(ttnn, device, torch.randn(64, 64)), dev(ttnn, device, torch.randn(64, 256))
    cfg = mcast(ttnn, out_subblock_w=8, per_core_N=8, per_core_M=2, compute_with_storage_grid_size=(1, 1))
    ttnn.matmul(a, b, program_config=mcast(ttnn, out_subblock_w=4, per_core_N=8, per_core_M=2,
                                                   compute_with_storage_grid_size=(1, 1)))
    with pytest.raises(RuntimeError, match="needs to be at most 4 to fit in hardware"):
        ttnn.matmul(a, b, program_config=cfg, compute_kernel_config=ttnn.WormholeComputeKernelConfig(
            math_fidelity=ttnn.MathFidelity.LoFi, fp32_dest_acc_en=True))


@pytest.mark.parametrize("kwargs, message", [
    (dict(per_core_N=1, out_subblock_w=1), r"Error: N, 2, is not equal to per_core_N, 1"),
    (dict(per_core_M=3), r"per_core_M, 3, must be a multiple of M, 2 if per_core_M > M!"),
    (dict(out_subblock_h=3), r"per_core_M \(2\) must be divisible by out_subblock_h \(3\)"),
], ids=str)
def test_bad_reuse_configs_raise(ttnn, device, kwargs, message):
    a, b = dev(ttnn, device, torch.randn(4, 64, 64)), dev(ttnn, device, torch.randn(4, 64, 64))
    with pytest.raises(RuntimeError, match=message):
        ttnn.matmul(a, b, program_config=reuse(ttnn, **kwargs))


def test_reuse_config_refuses_batch_broadcast(ttnn, device):
    a, b = dev(ttnn, device, torch.randn(4, 64, 64)), dev(ttnn, device, torch.randn(64, 64))
    with pytest.raises(RuntimeError, match="Batch broadcasting is not supported for the chosen program config"):
        ttnn.matmul(a, b, program_config=reuse(ttnn))


def test_program_config_and_core_grid_together_raise(ttnn, device):
    a, b = dev(ttnn, device, torch.randn(64, 64)), dev(ttnn, device, torch.randn(64, 64))
    with pytest.raises(RuntimeError, match="Cannot use both user core grid/coordinates and a program config"):
        ttnn.matmul(a, b, program_config=mcast(ttnn), core_grid=ttnn.CoreGrid(y=2, x=2))
    with pytest.raises(TypeError, match="core_grid must be a ttnn.CoreGrid"):
        ttnn.matmul(a, b, core_grid=(8, 12))


def test_core_grid_larger_than_the_device_falls_back_to_the_device_grid(ttnn, device):
    """The real auto-config uses a user core grid only when it fits (create_matmul_program_config); 8x12 on an
    8x8 Wormhole runs on the 8x8 grid, with the same LoFi default as any core_grid."""
    a, b = dev(ttnn, device, torch.randn(256, 128)), dev(ttnn, device, torch.randn(128, 384))
    big = ttnn.matmul(a, b, core_grid=ttnn.CoreGrid(y=8, x=12))
    fits = ttnn.matmul(a, b, core_grid=ttnn.CoreGrid(y=8, x=8))
    assert torch.equal(ttnn.to_torch(big), ttnn.to_torch(fits))


@pytest.mark.parametrize("grid, used", [
    ((8, 12), (8, 8)),   # TT's BERT passes CoreGrid(y=8, x=12), written for a 12x8 card: runs on the device grid
    ((4, 12), (8, 8)),   # one dim too large: the whole user grid is dropped, not clamped per dim
    ((12, 4), (8, 8)),
    ((4, 6), (4, 6)),    # a grid that fits is used as given
    ((8, 8), (8, 8)),
])
def test_core_grid_is_used_only_when_it_fits(ttnn, device, grid, used):
    """0.81.1's create_matmul_program_config (matmul_program_config.cpp) takes the user core_grid only when both
    x <= grid.x and y <= grid.y, else the device's compute grid; nothing raises (no check rejects a large
    core_grid host-side or in validate). Later tt-metal clamps each dim instead; we follow the fit-or-device-grid
    version, the one we read as 0.81.1's (its matmul.cpp has no grid bound check either)."""
    from torch_ttnn.sim.ops.matmul import matmul_tiles_work
    y, x = grid
    work = matmul_tiles_work(device.core_grid, 1, 256, 128, 384, 1, False, core_grid=ttnn.CoreGrid(y=y, x=x))
    assert (work.grid_y, work.grid_x) == used
    a, b = dev(ttnn, device, torch.randn(256, 128)), dev(ttnn, device, torch.randn(128, 384))
    out = ttnn.matmul(a, b, core_grid=ttnn.CoreGrid(y=y, x=x))
    assert device.op_records[-1].name == "ttnn.matmul" and tuple(out.shape) == (256, 384)


def test_block_sharded_input_orientation_must_match_transpose_mcast(ttnn, device):
    x = torch.randn(2, 64, 128)
    row = ttnn.create_sharded_memory_config(x.shape, ttnn.CoreGrid(y=4, x=2), ttnn.ShardStrategy.BLOCK)
    a = dev(ttnn, device, x, memory_config=row)
    b = dev(ttnn, device, torch.randn(128, 128))
    cfg = mcast(ttnn, compute_with_storage_grid_size=(2, 4), in0_block_w=2, per_core_M=2, per_core_N=2,
                transpose_mcast=True)
    with pytest.raises(RuntimeError, match="Input tensor A must have COL_MAJOR shard orientation for transpose MCAST"):
        ttnn.matmul(a, b, program_config=cfg, memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG)


def test_sharded_output_gets_the_config_shard_spec(ttnn, device):
    """A COL_MAJOR block-sharded activation times DRAM weights with transpose_mcast: the output is block-sharded
    in per_core_M x per_core_N tile shards, COL_MAJOR, on the blocks' grid."""
    x = torch.randn(2, 64, 128)
    col = ttnn.create_sharded_memory_config(x.shape, ttnn.CoreGrid(y=4, x=2), ttnn.ShardStrategy.BLOCK,
                                            ttnn.ShardOrientation.COL_MAJOR)
    a = dev(ttnn, device, x, "bfloat8_b", col)
    w = torch.randn(128, 256)
    cfg = mcast(ttnn, compute_with_storage_grid_size=(2, 4), in0_block_w=1, per_core_M=2, per_core_N=2,
                transpose_mcast=True)
    out = ttnn.linear(a, dev(ttnn, device, w, "bfloat8_b"), program_config=cfg,
                      memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG, dtype=ttnn.bfloat8_b)
    spec = out.memory_config().shard_spec
    assert out.memory_config().memory_layout == ttnn.TensorMemoryLayout.BLOCK_SHARDED
    assert (tuple(spec.shape), spec.orientation, spec.num_cores()) == ((64, 64), ttnn.ShardOrientation.COL_MAJOR, 8)
    assert spec.grid.bounding_box().grid_size() == ttnn.CoreCoord(2, 4)
    assert_pcc(x @ w, ttnn.to_torch(out).float(), 0.99)


# --- layer_norm, softmax, split heads on sharded inputs ------------------------------------------------------
def _block(ttnn, device, x, grid=(2, 4), dtype="bfloat16"):
    mc = ttnn.create_sharded_memory_config(x.shape, ttnn.CoreGrid(x=grid[0], y=grid[1]), ttnn.ShardStrategy.BLOCK,
                                           ttnn.ShardOrientation.COL_MAJOR)
    return dev(ttnn, device, x, dtype, mc)


def ln_config(ttnn, **kw):
    base = dict(compute_with_storage_grid_size=(2, 4), subblock_w=1, block_h=2, block_w=1, inplace=True)
    return ttnn.LayerNormShardedMultiCoreProgramConfig(**{**base, **kw})


def test_sharded_layer_norm_matches_interleaved(ttnn, device):
    g = torch.Generator().manual_seed(2)
    x, r = torch.randn(2, 64, 128, generator=g), torch.randn(2, 64, 128, generator=g)
    w, b = torch.randn(128, generator=g), torch.randn(128, generator=g)
    tw, tb = dev(ttnn, device, w.reshape(1, -1)), dev(ttnn, device, b.reshape(1, -1))
    sx, sr = _block(ttnn, device, x), _block(ttnn, device, r)
    out = ttnn.layer_norm(sx, residual_input_tensor=sr, weight=tw, bias=tb, program_config=ln_config(ttnn),
                          memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG)
    plain = ttnn.layer_norm(dev(ttnn, device, x), residual_input_tensor=dev(ttnn, device, r), weight=tw, bias=tb)
    assert out.memory_config() == sx.memory_config()
    assert torch.equal(ttnn.to_torch(out), ttnn.to_torch(plain))


@pytest.mark.parametrize("kwargs, sharded_input, message", [
    (dict(block_w=2), True, r"block_w \(2\) must equal to K \(in tiles\) / num_cores \(1\)"),
    (dict(block_h=3), True, r"block_h \(3\) must equal to M \(in tiles\) / num_cores \(2\)"),
    (dict(subblock_w=2, block_w=1), True, "block_w must be divisible by subblock_w"),
    ({}, False, "needs a sharded input"),
], ids=str)
def test_bad_layer_norm_configs_raise(ttnn, device, kwargs, sharded_input, message):
    x = torch.randn(2, 64, 128)
    t = _block(ttnn, device, x) if sharded_input else dev(ttnn, device, x)
    with pytest.raises(RuntimeError, match=message):
        ttnn.layer_norm(t, program_config=ln_config(ttnn, **kwargs))


def test_layer_norm_residual_must_share_the_shard_spec(ttnn, device):
    x = torch.randn(2, 64, 128)
    with pytest.raises(RuntimeError, match="residual_input_tensor must be sharded with the input's shard spec"):
        ttnn.layer_norm(_block(ttnn, device, x), residual_input_tensor=dev(ttnn, device, x),
                        program_config=ln_config(ttnn))


def _height(ttnn, device, x, cores):
    mc = ttnn.create_sharded_memory_config(x.shape, ttnn.CoreGrid(x=cores, y=1), ttnn.ShardStrategy.HEIGHT)
    return dev(ttnn, device, x, memory_config=mc)


@pytest.mark.parametrize("block_h, message", [(4, None), (2, r"block_h \(2\) \* tile height must equal the shard")])
def test_sharded_attention_softmax(ttnn, device, block_h, message):
    scores, mask = torch.randn(2, 2, 64, 64), torch.zeros(2, 1, 1, 64)
    mask[1, ..., 40:] = -100000.0
    t = _height(ttnn, device, scores, 2)  # 256 rows over 2 cores: 128-row shards = 4 tiles
    cfg = ttnn.SoftmaxShardedMultiCoreProgramConfig(compute_with_storage_grid_size=(2, 1), subblock_w=2,
                                                    block_h=block_h, block_w=2)
    m = dev(ttnn, device, mask)
    if message:
        with pytest.raises(RuntimeError, match=message):
            ttnn.transformer.attention_softmax_(t, attention_mask=m, head_size=64, program_config=cfg)
        return
    out = ttnn.transformer.attention_softmax_(t, attention_mask=m, head_size=64, program_config=cfg)
    assert out is t and out.memory_config() == t.memory_config()
    want = torch.softmax(scores.bfloat16().float() / 8 + mask, -1)
    assert torch.allclose(ttnn.to_torch(out).float(), want, atol=1e-2)


def _grouped(q, k, v, heads):
    """[B, S, H] Q, K, V -> [B, S, 3H] with columns |q_0 k_0 v_0 q_1 ...| (the sharded kernel's order)."""
    b, s, h = q.shape
    return torch.stack([t.reshape(b, s, heads, h // heads) for t in (q, k, v)], 3).reshape(b, s, 3 * h)


def test_sharded_split_heads_reads_per_head_groups(ttnn, device):
    heads, b, s, h = 4, 2, 64, 128
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(b, s, h, generator=g) for _ in range(3))
    fused = _block(ttnn, device, _grouped(q, k, v, heads), grid=(2, 4))  # 4 width cores, one head group each
    tq, tk, tv = ttnn.transformer.split_query_key_value_and_split_heads(
        fused, num_heads=heads, memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    split = lambda t: t.reshape(b, s, heads, h // heads).permute(0, 2, 1, 3)  # noqa: E731
    assert torch.equal(ttnn.to_torch(tq).float(), split(q).bfloat16().float())
    assert torch.equal(ttnn.to_torch(tk).float(), split(k).transpose(-1, -2).bfloat16().float())
    assert torch.equal(ttnn.to_torch(tv).float(), split(v).bfloat16().float())
    shards = [tuple(t.memory_config().shard_spec.shape) for t in (tq, tk, tv)]
    assert shards == [(64, 32), (32, 64), (64, 32)]
    assert all(t.memory_config().memory_layout == ttnn.TensorMemoryLayout.HEIGHT_SHARDED for t in (tq, tk, tv))
    merged = ttnn.transformer.concatenate_heads(tv, memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG)
    assert tuple(merged.memory_config().shard_spec.shape) == (64, 32)
    assert torch.equal(ttnn.to_torch(merged).float(), v.bfloat16().float())


def test_sharded_split_heads_needs_heads_per_width_core(ttnn, device):
    fused = _block(ttnn, device, torch.randn(2, 64, 6 * 64), grid=(2, 3))  # 3 width cores, 2 heads of 64
    with pytest.raises(RuntimeError, match=r"number of groups 2 must be a multiple of the number of width cores 3"):
        ttnn.transformer.split_query_key_value_and_split_heads(fused, num_heads=2,
                                                               memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
