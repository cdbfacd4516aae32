"""Data-movement ops vs torch: exact for bfloat16/float32/int, block-float re-packed, errors with messages."""
import pytest
import torch

BF, F32 = "bfloat16", "float32"


def dev_tensor(ttnn, device, t, dtype="bfloat16", layout="TILE"):
    return ttnn.from_torch(t, dtype=getattr(ttnn, dtype), layout=getattr(ttnn.Layout, layout), device=device)


def exact(ttnn, got, ref, dtype="bfloat16"):
    ref = ref.to(torch.bfloat16).float() if dtype == "bfloat16" else ref.float()
    out = ttnn.to_torch(got).float()
    assert out.shape == ref.shape
    assert torch.equal(out, ref)


CASES = [  # (name, shape, call, torch reference)
    ("permute", (2, 3, 33, 5), lambda tt, x: tt.permute(x, (3, 0, 2, 1)), lambda t: t.permute(3, 0, 2, 1)),
    ("permute_neg", (4, 65), lambda tt, x: tt.permute(x, (-1, 0)), lambda t: t.t()),
    ("transpose", (2, 33, 7), lambda tt, x: tt.transpose(x, -2, -1), lambda t: t.transpose(-2, -1)),
    ("slice", (3, 40, 9), lambda tt, x: tt.slice(x, [1, 2, 0], [3, 38, 9]), lambda t: t[1:3, 2:38, 0:9]),
    ("slice_steps", (5, 40), lambda tt, x: tt.slice(x, [0, 1], [5, 40], [2, 3]), lambda t: t[0:5:2, 1:40:3]),
    ("slice_neg", (6, 7), lambda tt, x: tt.slice(x, [-4, 0], [-1, 7], [1, 1]), lambda t: t[-4:-1, 0:7]),
    ("pad_pairs", (2, 3, 5), lambda tt, x: tt.pad(x, [(0, 0), (1, 2), (0, 27)], 0.5),
     lambda t: torch.nn.functional.pad(t, (0, 27, 1, 2), value=0.5)),
    ("pad_shape", (1, 3, 5), lambda tt, x: tt.pad(x, [1, 32, 32], [0, 0, 0], -1.0),
     lambda t: torch.nn.functional.pad(t, (0, 27, 0, 29), value=-1.0)),
    ("repeat", (2, 3), lambda tt, x: tt.repeat(x, [2, 1, 3]), lambda t: t.repeat(2, 1, 3)),
    ("repeat_interleave", (2, 3, 4), lambda tt, x: tt.repeat_interleave(x, 3, 1),
     lambda t: t.repeat_interleave(3, 1)),
    ("expand", (1, 3, 1), lambda tt, x: tt.expand(x, [4, -1, 5]), lambda t: t.expand(4, 3, 5)),
    ("squeeze", (1, 3, 1, 5), lambda tt, x: tt.squeeze(x, 0), lambda t: t.squeeze(0)),
    ("squeeze_all", (1, 3, 1, 5), lambda tt, x: tt.squeeze(x), lambda t: t.squeeze()),
    ("unsqueeze", (3, 5), lambda tt, x: tt.unsqueeze(x, -1), lambda t: t.unsqueeze(-1)),
    ("view", (2, 64, 8), lambda tt, x: tt.view(x, [4, 32, 8]), lambda t: t.reshape(4, 32, 8)),
    ("fill", (3, 37), lambda tt, x: tt.fill(x, 2.5), lambda t: torch.full_like(t, 2.5)),
]


@pytest.mark.parametrize("dtype", [BF, F32])
@pytest.mark.parametrize("layout", ["TILE", "ROW_MAJOR"])
@pytest.mark.parametrize("name,shape,call,ref", CASES, ids=[c[0] for c in CASES])
def test_movement_exact(ttnn, device, name, shape, call, ref, dtype, layout):
    torch.manual_seed(0)
    t = torch.randn(shape)
    x = dev_tensor(ttnn, device, t, dtype, layout)
    out = call(ttnn, x)
    assert out.layout == x.layout and out.dtype == x.dtype
    exact(ttnn, out, ref(t.to(torch.bfloat16).float() if dtype == BF else t), dtype)


def test_block_float_is_repacked(ttnn, device):
    """A transposed bfloat8_b tensor is quantised again with its new 16-value blocks."""
    t = torch.randn(32, 32) * torch.logspace(-3, 3, 32).unsqueeze(0)
    x = dev_tensor(ttnn, device, t, "bfloat8_b")
    got = ttnn.to_torch(ttnn.transpose(x, 0, 1))
    held = ttnn.to_torch(x).t()
    again = ttnn.to_torch(ttnn.from_torch(held.contiguous(), dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT))
    assert torch.equal(got, again)
    assert not torch.equal(got, held)  # re-blocking really loses bits here


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("groups", [1, 2])
def test_concat(ttnn, device, dim, groups):
    a, b = torch.randn(4, 6, 8), torch.randn(4, 6, 8)
    out = ttnn.to_torch(ttnn.concat([dev_tensor(ttnn, device, a), dev_tensor(ttnn, device, b)], dim, groups=groups))
    a, b = a.bfloat16(), b.bfloat16()
    ref = torch.cat([p[g] for g in range(groups) for p in (a.chunk(groups, dim), b.chunk(groups, dim))], dim)
    assert torch.equal(out, ref)


@pytest.mark.parametrize("size", [2, [1, 4, 2]])
def test_split_chunk(ttnn, device, size):
    t = torch.randn(3, 7)
    x = dev_tensor(ttnn, device, t)
    outs = ttnn.split(x, size, 1)
    refs = torch.split(t.bfloat16(), size, 1)
    assert [list(o.shape) for o in outs] == [list(r.shape) for r in refs]
    assert all(torch.equal(ttnn.to_torch(o), r) for o, r in zip(outs, refs))
    chunks = ttnn.chunk(x, 3, 1)
    assert all(torch.equal(ttnn.to_torch(o), r) for o, r in zip(chunks, torch.chunk(t.bfloat16(), 3, 1)))


def test_gather(ttnn, device):
    t, idx = torch.randn(4, 9), torch.randint(0, 9, (4, 5))
    out = ttnn.gather(dev_tensor(ttnn, device, t), 1, dev_tensor(ttnn, device, idx, "uint32", "ROW_MAJOR"))
    assert torch.equal(ttnn.to_torch(out), torch.gather(t.bfloat16(), 1, idx))


@pytest.mark.parametrize("ids_dtype", ["uint32", "int32", "bfloat16"])
@pytest.mark.parametrize("layout", [None, "TILE"])
def test_embedding(ttnn, device, ids_dtype, layout):
    ids, w = torch.randint(0, 11, (2, 7)), torch.randn(11, 16)
    out = ttnn.embedding(dev_tensor(ttnn, device, ids, ids_dtype, "ROW_MAJOR"),
                         dev_tensor(ttnn, device, w, "bfloat16", "ROW_MAJOR"),
                         layout=None if layout is None else ttnn.TILE_LAYOUT)
    assert out.layout == (ttnn.ROW_MAJOR_LAYOUT if layout is None else ttnn.TILE_LAYOUT)
    assert torch.equal(ttnn.to_torch(out), torch.nn.functional.embedding(ids, w.bfloat16()))


def test_embedding_padding_idx_and_dtype(ttnn, device):
    ids, w = torch.tensor([[0, 3, 0, 5]]), torch.randn(6, 32)
    i, wt = dev_tensor(ttnn, device, ids, "uint32", "ROW_MAJOR"), dev_tensor(ttnn, device, w, "bfloat16", "ROW_MAJOR")
    out = ttnn.to_torch(ttnn.embedding(i, wt, padding_idx=0))
    assert torch.equal(out[0, [0, 2]], torch.zeros(2, 32, dtype=out.dtype))
    assert torch.equal(out[0, 1], w[3].bfloat16())
    bfp8 = ttnn.embedding(i, wt, layout=ttnn.TILE_LAYOUT, dtype=ttnn.bfloat8_b)
    assert bfp8.dtype == ttnn.bfloat8_b
    with pytest.raises(RuntimeError, match="Can only typecast output embeddings when producing TILE_LAYOUT"):
        ttnn.embedding(i, wt, dtype=ttnn.float32)


def test_tilize_untilize(ttnn, device):
    t = torch.randn(2, 32, 64)
    x = dev_tensor(ttnn, device, t, layout="ROW_MAJOR")
    tx = ttnn.tilize(x)
    assert tx.layout == ttnn.TILE_LAYOUT and torch.equal(ttnn.to_torch(tx), t.bfloat16())
    assert ttnn.untilize(tx).layout == ttnn.ROW_MAJOR_LAYOUT
    odd = dev_tensor(ttnn, device, torch.randn(3, 5), layout="ROW_MAJOR")
    padded = ttnn.tilize_with_val_padding(odd, [32, 32], 7.0)
    assert list(padded.shape) == [32, 32] and ttnn.to_torch(padded)[4, 6].item() == 7.0
    back = ttnn.untilize_with_unpadding(padded, [2, 4])
    assert torch.equal(ttnn.to_torch(back), ttnn.to_torch(odd))
    z = ttnn.tilize_with_zero_padding(odd, output_dtype=ttnn.float32)
    assert (z.layout, z.dtype, list(z.padded_shape)) == (ttnn.TILE_LAYOUT, ttnn.float32, [32, 32])


def test_sharding_round_trip(ttnn, device):
    t = torch.randn(64, 64)
    x = dev_tensor(ttnn, device, t)
    s = ttnn.interleaved_to_sharded(x, ttnn.CoreCoord(2, 1), [32, 64], ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
                                    ttnn.ShardOrientation.ROW_MAJOR)
    assert s.is_sharded() and s.memory_config().buffer_type == ttnn.BufferType.L1
    back = ttnn.sharded_to_interleaved(s, ttnn.DRAM_MEMORY_CONFIG)
    assert not back.is_sharded() and torch.equal(ttnn.to_torch(back), t.bfloat16())


def test_cost_records(ttnn, device):
    x = dev_tensor(ttnn, device, torch.randn(64, 64))
    n = len(device.op_records)
    ttnn.permute(x, (1, 0))
    rec = device.op_records[n]
    assert rec.name == "ttnn.permute" and rec.bytes == 2 * 64 * 64 * 2 and rec.time_ns > 0


ERRORS = [
    (lambda tt, x: tt.permute(x, (0, 0, 1)), "must be a permutation"),
    (lambda tt, x: tt.transpose(x, 0, 3), "out of range"),
    (lambda tt, x: tt.slice(x, [0, 0], [1, 1]), "one entry per dim"),
    (lambda tt, x: tt.slice(x, [0, 0, 0], [1, 1, 1], [1, 0, 1]), "steps must be positive"),
    (lambda tt, x: tt.pad(x, [(0, 0), (0, 0), (-1, 0)], 0), "non-negative"),
    (lambda tt, x: tt.repeat(x, [2]), "at least one entry per dim"),
    (lambda tt, x: tt.expand(x, [5, 5, 5]), "only dims of size 1"),
    (lambda tt, x: tt.view(x, [3, 2, 32]), "last dim"),
    (lambda tt, x: tt.untilize_with_unpadding(x, [9, 0, 0]), "inclusive index"),
    (lambda tt, x: tt.tilize(x), "Can only tilize row major"),
    (lambda tt, x: tt.concat([x, tt.typecast(x, tt.float32)]), "same dtype"),
]


@pytest.mark.parametrize("call,msg", ERRORS, ids=[m for _, m in ERRORS])
def test_rejected(ttnn, device, call, msg):
    x = dev_tensor(ttnn, device, torch.randn(2, 3, 32))
    with pytest.raises(RuntimeError, match=msg):
        call(ttnn, x)


def test_host_input_rejected(ttnn):
    with pytest.raises(RuntimeError, match="must be on device"):
        ttnn.permute(ttnn.from_torch(torch.randn(2, 2)), (1, 0))


def test_embedding_rejects_float32_weights(ttnn, device):
    ids = dev_tensor(ttnn, device, torch.tensor([[1]]), "uint32", "ROW_MAJOR")
    with pytest.raises(RuntimeError, match="BFLOAT16"):
        ttnn.embedding(ids, dev_tensor(ttnn, device, torch.randn(3, 4), "float32", "ROW_MAJOR"))


def test_scatter_and_scatter_add_match_torch_and_refuse_what_the_device_refuses(ttnn, device):
    """torch.scatter/scatter_add semantics (repeated indices sum in scatter_add); the real op's refusals:
    float32 TILE operands, mismatched dtypes, a reduce= argument (not supported in 0.81.1)."""
    torch.manual_seed(0)
    x, src = torch.randn(4, 6), torch.randn(4, 3)
    idx = torch.tensor([[0, 2, 2], [1, 1, 5], [3, 4, 0], [5, 5, 5]])
    rm = ttnn.ROW_MAJOR_LAYOUT

    def dev(t, dtype=ttnn.float32, layout=rm):
        return ttnn.from_torch(t, dtype=dtype, layout=layout, device=device)
    got = ttnn.to_torch(ttnn.scatter_add(dev(x), 1, dev(idx, ttnn.int32), dev(src)))
    torch.testing.assert_close(got, x.scatter_add(1, idx, src))
    uniq = torch.tensor([[0, 2, 4], [1, 3, 5], [3, 4, 0], [5, 2, 1]])
    got = ttnn.to_torch(ttnn.scatter(dev(x), 1, dev(uniq, ttnn.int32), dev(src)))
    torch.testing.assert_close(got, x.scatter(1, uniq, src))
    with pytest.raises(RuntimeError, match="fp32 tiled"):
        ttnn.scatter(dev(x, layout=ttnn.TILE_LAYOUT), 1, dev(uniq, ttnn.int32), dev(src))
    with pytest.raises(RuntimeError, match="input_dtype differs from src_dtype"):
        ttnn.scatter(dev(x), 1, dev(uniq, ttnn.int32), dev(src, ttnn.bfloat16))
    with pytest.raises(RuntimeError, match="not supported"):
        ttnn.scatter(dev(x), 1, dev(uniq, ttnn.int32), dev(src), reduce="add")
    with pytest.raises(RuntimeError, match="index_dtype is not integer"):
        ttnn.scatter(dev(x), 1, dev(uniq.float()), dev(src))
