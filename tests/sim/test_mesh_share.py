"""Chips that hold the same values share one host copy (sim/mesh_share.py): an op whose inputs are alike on a group
of chips is computed once and replayed on the others. What must hold: every chip still charges its own memory and
records its own device time, bit for bit as without sharing; and a write "in place" into one chip's tensor never
shows through another chip's view of the shared values (copy-on-write)."""
import gc

import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.sim import mesh_share, spill
from torch_ttnn.sim.device import OutOfMemoryError
from torch_ttnn.sim.types import BufferType


@pytest.fixture
def mesh(monkeypatch):
    """A 1x4 mesh of a T3000 (4 chips: enough to see sharing, small enough to be fast)."""
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "t3000")
    m = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 4))
    yield m
    ttnn.close_mesh_device(m)


def _x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _rep(mesh, x, layout=ttnn.TILE_LAYOUT, dtype=ttnn.bfloat16):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=mesh, mesh_mapper=ttnn.ReplicateTensorToMesh(mesh))


def _ptrs(t) -> list[int]:
    return [s._values.untyped_storage().data_ptr() for s in ttnn.get_device_tensors(t)]


def _figures(m) -> list:
    """Every chip's op records, memory and transfer counters: what sharing must leave unchanged."""
    return [([(r.name, r.time_ns, r.program_cache, r.compile_ns, r.flops, r.bytes, r.bound) for r in c.op_records],
             c.memory_report(), (c.transfers.h2d, c.transfers.d2h, c.transfers.h2d_bytes, c.transfers.d2h_bytes))
            for c in m.get_devices()]


# --- one host copy, every chip charged ----------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["replicate mapper", "device only", "2-D mapper"])
def test_replicated_upload_is_one_host_copy_charged_on_every_chip(monkeypatch, how):
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "t3000")
    m = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(2, 4))
    try:
        x = _x(64, 128)
        if how == "replicate mapper":
            t = _rep(m, x)
        elif how == "device only":
            t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=m)
        else:   # rows replicate, columns shard dim 1: the chips of one column hold the same piece
            t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=m,
                                mesh_mapper=ttnn.ShardTensor2dMesh(m, (2, 4), (None, 1)))
        ptrs = _ptrs(t)
        want = 1 if how != "2-D mapper" else 4
        assert len(set(ptrs)) == want
        if how == "2-D mapper":
            assert ptrs[:4] == ptrs[4:] and len(set(ptrs[:4])) == 4
        used = [c.allocated_bytes() for c in m.get_devices()]
        assert used[0] > 0 and len(set(used)) == 1      # each chip's DRAM holds its own copy
    finally:
        ttnn.close_mesh_device(m)


def _program(m, y_sharded: bool):
    """A few ops of a transformer block on a replicated weight (and a replicated or sharded activation)."""
    w = _rep(m, _x(128, 256, seed=1))
    x = ttnn.from_torch(_x(4 * 32, 128, seed=2), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=m,
                        mesh_mapper=ttnn.ShardTensorToMesh(m, dim=0)) if y_sharded else _rep(m, _x(32, 128, seed=2))
    wt = ttnn.transpose(w, 0, 1)                       # a constant step on a weight (the LM head's)
    h = ttnn.matmul(x, w)
    h = ttnn.gelu(ttnn.add(h, h))
    rm = ttnn.to_layout(wt, ttnn.ROW_MAJOR_LAYOUT)
    s = ttnn.sum(h, dim=-1)
    return [wt, h, rm, s]


@pytest.mark.parametrize("y_sharded", [False, True], ids=["replicated input", "sharded input"])
def test_shared_ops_leave_every_chip_figure_and_value_unchanged(monkeypatch, y_sharded):
    """The same program with sharing off and on: identical op records, memory, transfers and values per chip;
    with it on, what every chip computes alike is one host tensor."""
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "t3000")
    runs = {}
    for how in ("0", "1"):
        monkeypatch.setenv("TORCH_TTNN_SIM_MESH_SHARE", how)
        m = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 4))
        before = dict(mesh_share.stats)
        outs = _program(m, y_sharded)
        replayed = mesh_share.stats["replayed"] - before["replayed"]
        runs[how] = (_figures(m), [[s.value.clone() for s in ttnn.get_device_tensors(o)] for o in outs],
                     [len(set(_ptrs(o))) for o in outs], replayed)
        ttnn.close_mesh_device(m)
    (f0, v0, p0, r0), (f1, v1, p1, r1) = runs["0"], runs["1"]
    assert f0 == f1
    for a, b in zip(v0, v1):
        for x, y in zip(a, b):
            assert torch.equal(x, y)
    assert r0 == 0 and r1 > 0
    assert p0 == [4, 4, 4, 4]                          # off: every chip its own copy
    assert p1[0] == 1 and p1[2] == 1                   # on: the weight's transforms once
    assert p1[1] == p1[3] == (4 if y_sharded else 1)   # the activations' only where the chips' inputs are alike


def test_check_mode_proves_shared_results_are_each_chips_own(monkeypatch, mesh):
    monkeypatch.setenv("TORCH_TTNN_SIM_MESH_SHARE", "check")
    before = mesh_share.stats["computed"]
    outs = _program(mesh, y_sharded=False)
    assert mesh_share.stats["computed"] - before >= 4 * 6   # every chip ran every op itself, and matched
    assert len(set(_ptrs(outs[0]))) == 4


def test_bad_share_setting_says_the_choices(monkeypatch, mesh):
    monkeypatch.setenv("TORCH_TTNN_SIM_MESH_SHARE", "maybe")
    with pytest.raises(ValueError, match=r"TORCH_TTNN_SIM_MESH_SHARE='maybe'.*1 \(share.*0 \(every chip.*check"):
        ttnn.add(_rep(mesh, _x(32, 32)), 1.0)


def test_random_ops_are_never_shared(mesh):
    """Each chip draws its own numbers, as each chip's RNG would."""
    t = ttnn.rand((32, 32), device=mesh)
    vals = [s.value for s in ttnn.get_device_tensors(t)]
    assert len(set(_ptrs(t))) == 4 and not torch.equal(vals[0], vals[1])


def test_a_chip_that_runs_out_of_memory_in_a_replay_is_named_and_keeps_nothing(mesh):
    """Chip 2 replays chip 0's matmul and cannot hold its output: the error names chip 2, and what chip 2 had
    allocated for it before running out is freed, as an op's own would be."""
    x = _rep(mesh, _x(256, 256))
    chip = mesh.get_devices()[2]
    pool = chip._pools[BufferType.DRAM]
    hog = chip.allocate(BufferType.DRAM, 1, pool.bank_size - pool.used_per_bank - 1024, pool.banks)
    held = [c.allocated_bytes() for c in mesh.get_devices()]
    with pytest.raises(OutOfMemoryError, match=r"Out of memory on device 2") as e:
        ttnn.matmul(x, x)
    del e
    gc.collect()
    assert [c.allocated_bytes() for c in mesh.get_devices()] == held
    chip.free(BufferType.DRAM, hog)


# --- copy-on-write: a write into one chip's tensor stays on that chip ---------------------------------------------
def _cache_writers():
    """(name, write(target shard, device) -> the tensor that now holds the write): every in-place path."""
    def update_cache(t, dev):
        row = ttnn.from_torch(torch.full((1, 1, 32, 64), 7.0), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                              device=dev)
        return ttnn.update_cache(t, row, 3)

    def fill_cache(t, dev):
        rows = ttnn.from_torch(torch.full((1, 1, 32, 64), 7.0), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                               device=dev)
        return ttnn.fill_cache(t, rows, 0)

    def paged_update_cache(t, dev):   # its input: one user's row, height-sharded in L1 as the real op wants
        row = ttnn.from_torch(torch.full((1, 1, 32, 64), 7.0), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                              device=dev)
        mc = ttnn.create_sharded_memory_config((32, 64), ttnn.CoreGrid(x=1, y=1), ttnn.ShardStrategy.HEIGHT,
                                               use_height_and_width_as_shard_shape=True)
        return ttnn.experimental.paged_update_cache(t, ttnn.interleaved_to_sharded(row, mc), update_idxs=[5])

    def copy(t, dev):
        return ttnn.copy(ttnn.full(t.shape, 7.0, dtype=t.dtype, layout=t.layout, device=dev), t)

    def assign(t, dev):
        return ttnn.assign(ttnn.full(t.shape, 7.0, dtype=t.dtype, layout=t.layout, device=dev), t)

    def add_(t, dev):
        return ttnn.add_(t, 7.0)

    def output_tensor(t, dev):
        return ttnn.add(ttnn.full(t.shape, 3.0, dtype=t.dtype, layout=t.layout, device=dev), 4.0, output_tensor=t)

    def slice_write(t, dev):
        piece = ttnn.from_torch(torch.full((1, 1, 32, 64), 7.0), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                                device=dev)
        return ttnn.experimental.slice_write(piece, t, [0, 0, 0, 0], [1, 1, 32, 64], [1, 1, 1, 1])

    def copy_host_to_device(t, dev):
        ttnn.copy_host_to_device_tensor(ttnn.from_torch(torch.full(tuple(t.shape), 7.0), dtype=t.dtype,
                                                        layout=t.layout), t)
        return t

    def deallocate(t, dev):
        ttnn.deallocate(t)
        return None
    return [update_cache, fill_cache, paged_update_cache, copy, assign, add_, output_tensor, slice_write,
            copy_host_to_device, deallocate]


@pytest.mark.parametrize("spilled", [False, True], ids=["in memory", "spilled"])
@pytest.mark.parametrize("write", _cache_writers(), ids=lambda f: f.__name__)
def test_a_write_into_one_chip_leaves_the_other_chips_values(mesh, tmp_path, write, spilled):
    x = _x(1, 1, 64, 64)
    if spilled:   # DRAM values in one file mapping shared by the chips (sim/spill.py)
        with spill.spilled(str(tmp_path), min_bytes=1):
            t = _rep(mesh, x)
    else:
        t = _rep(mesh, x)
    shards = ttnn.get_device_tensors(t)
    assert len(set(_ptrs(t))) == 1
    original = shards[1].value.clone()
    got = write(shards[0], shards[0].device())
    if write.__name__ == "deallocate":
        assert not shards[0].is_allocated()
    else:
        assert got is shards[0] and not torch.equal(shards[0].value, original)
        assert (shards[0].value.float() == 7.0).any()
    for s in shards[1:]:
        assert torch.equal(s.value, original)


def test_an_in_place_op_on_the_whole_mesh_gives_each_chip_its_own_result(mesh):
    """add_ on a replicated tensor with a sharded operand: each chip's result is its own (not replayed)."""
    t = _rep(mesh, torch.zeros(32, 32))
    k = ttnn.from_torch(torch.arange(4.0).repeat_interleave(32).reshape(4 * 32, 1).expand(4 * 32, 32).contiguous(),
                        dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh,
                        mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=0))
    ttnn.add_(t, k)
    for i, s in enumerate(ttnn.get_device_tensors(t)):
        assert torch.equal(s.value.float(), torch.full((32, 32), float(i)))
    also = _rep(mesh, torch.ones(32, 32))
    ttnn.add_(also, 1.0)            # alike on every chip, but it writes its input: each chip computes its own
    assert all(torch.equal(s.value.float(), torch.full((32, 32), 2.0)) for s in ttnn.get_device_tensors(also))


def test_collective_results_are_one_host_copy_per_group(monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "t3000")
    m = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(2, 4))
    try:
        x = ttnn.from_torch(_x(8 * 32, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=m,
                            mesh_mapper=ttnn.ShardTensorToMesh(m, dim=0))
        r = ttnn.all_reduce(x, cluster_axis=1)
        g = ttnn.all_gather(x, 0)
        pr, pg = _ptrs(r), _ptrs(g)
        assert len(set(pr[:4])) == len(set(pr[4:])) == 1 and pr[0] != pr[4]   # one per row
        assert len(set(pg)) == 1
        ttnn.add_(ttnn.get_device_tensors(g)[0], 1.0)                         # and still copy-on-write
        assert torch.equal(ttnn.get_device_tensors(g)[1].value, ttnn.get_device_tensors(g)[2].value)
        assert not torch.equal(ttnn.get_device_tensors(g)[0].value, ttnn.get_device_tensors(g)[1].value)
    finally:
        ttnn.close_mesh_device(m)
