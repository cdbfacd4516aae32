"""Emulated multi-chip meshes (sim/mesh.py, sim/ops/ccl.py): presets, mappers and composers, ops on every chip,
per-chip memory, collectives' numerics and errors, and the collective-time model against TT's measured figures."""
import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.bench import ccl as ccl_bench
from torch_ttnn.sim import cost


@pytest.fixture
def preset(monkeypatch):
    """Emulate a card preset for one test (open_mesh_device reads TORCH_TTNN_SIM_ARCH when called)."""
    opened = []

    def use(name, shape=None, **kw):
        monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", name)
        mesh = ttnn.open_mesh_device(mesh_shape=shape, **kw)
        opened.append(mesh)
        return mesh
    yield use
    for m in opened:
        ttnn.close_mesh_device(m)


def _bf16(x):
    return x.to(torch.bfloat16).to(torch.float32)


def _put(mesh, x, mapper=None, dtype=ttnn.bfloat16, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=mesh, mesh_mapper=mapper, **kw)


# --- presets and shapes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, shape", [("n300", [1, 2]), ("t3000", [2, 4]), ("galaxy", [8, 4]),
                                         ("p150x4", [1, 4]), ("p150x8", [1, 8])])
def test_presets_open_their_whole_system_by_default(preset, name, shape):
    mesh = preset(name)
    assert list(mesh.shape) == shape and mesh.get_num_devices() == shape[0] * shape[1]
    assert sorted(mesh.get_device_ids()) == list(range(mesh.get_num_devices()))
    assert ttnn.GetNumAvailableDevices() == mesh.get_num_devices() == ttnn.get_num_devices()
    assert mesh.arch() == (ttnn.Arch.BLACKHOLE if name.startswith("p150") else ttnn.Arch.WORMHOLE_B0)


@pytest.mark.parametrize("name, shape", [("t3000", (1, 8)), ("t3000", (8, 1)), ("t3000", (4, 2)),
                                         ("t3000", (2, 2)), ("galaxy", (4, 8)), ("galaxy", (1, 32)),
                                         ("n300", (1, 1))])
def test_shapes_a_preset_can_have(preset, name, shape):
    mesh = preset(name, ttnn.MeshShape(*shape))
    assert tuple(mesh.shape) == shape and len(set(mesh.get_device_ids())) == shape[0] * shape[1]


@pytest.mark.parametrize("name, shape", [("n300", (2, 4)), ("n300", (1, 3)), ("t3000", (3, 3)),
                                         ("galaxy", (16, 2)), ("p150x4", (2, 2)), ("t3000", (0, 2))])
def test_shapes_a_preset_cannot_have_raise(preset, name, shape):
    """The error names the shape and the preset's wiring (the problem) and what to do (a shape that fits, or a
    larger preset by TORCH_TTNN_SIM_ARCH; a dim >= 1)."""
    fix = (r"has no chips; every dim must be >= 1" if 0 in shape else
           rf"MeshShape\(\[{shape[0]}, {shape[1]}\]\) mesh .*does not fit the emulated {name}, whose .* wired as "
           rf".*Open a shape that fits, or emulate a larger system with TORCH_TTNN_SIM_ARCH \(.*t3000 2x4.*galaxy 8x4")
    with pytest.raises(RuntimeError, match=fix):
        preset(name, ttnn.MeshShape(*shape))


def test_open_mesh_device_rejects_a_plain_tuple(preset):
    with pytest.raises(TypeError, match="MeshShape"):
        preset("n300", (1, 2))


def test_line_over_a_t3000_snakes_and_closes_a_ring(preset):
    """1x8 on a T3000: neighbours in the line are physical neighbours, and the last chip links to the first."""
    mesh = preset("t3000", ttnn.MeshShape(1, 8))
    assert mesh.get_device_ids() == [0, 1, 2, 3, 7, 6, 5, 4]
    assert mesh.is_ring(list(range(8))) and not mesh.is_ring(list(range(4)))


def test_reshape_and_submeshes(preset):
    mesh = preset("t3000")
    subs = mesh.create_submeshes(ttnn.MeshShape(1, 4))
    assert [s.get_device_ids() for s in subs] == [[0, 1, 2, 3], [4, 5, 6, 7]] and mesh.get_submeshes() == subs
    one = mesh.create_submesh(ttnn.MeshShape(2, 2), ttnn.MeshCoordinate(0, 2))
    assert one.get_device_ids() == [2, 3, 6, 7] and one.get_device_id(ttnn.MeshCoordinate(1, 0)) == 6
    mesh.reshape(ttnn.MeshShape(1, 8))
    assert mesh.get_device_ids() == [0, 1, 2, 3, 7, 6, 5, 4]
    mesh.reshape(ttnn.MeshShape(2, 4))
    assert mesh.get_device_ids() == list(range(8))
    with pytest.raises(RuntimeError, match="chip count must stay the same"):
        mesh.reshape(ttnn.MeshShape(3, 3))
    with pytest.raises(RuntimeError, match="does not fit"):
        mesh.create_submesh(ttnn.MeshShape(2, 2), ttnn.MeshCoordinate(1, 0))


def test_galaxy_cannot_reshape_to_a_grid_its_wiring_lacks(preset):
    mesh = preset("galaxy")
    with pytest.raises(RuntimeError, match="cannot form a connected"):
        mesh.reshape(ttnn.MeshShape(2, 16))


def test_program_cache_methods(preset):
    """Each chip keeps its programs (sim/program_cache.py); the mesh's methods reach every chip."""
    mesh = preset("n300")
    assert mesh.program_cache_enabled and mesh.num_program_cache_entries() == 0    # on by default
    x = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh,
                        mesh_mapper=ttnn.ReplicateTensorToMesh(mesh))
    ttnn.exp(x)
    n0 = len(mesh.get_devices()[1].op_records)
    ttnn.exp(x)
    assert [r.program_cache for r in mesh.get_devices()[1].op_records[n0:]] == ["hit"]
    assert mesh.num_program_cache_entries() == 1
    assert all(c.num_program_cache_entries() == 1 for c in mesh.get_devices())
    mesh.disable_and_clear_program_cache()
    assert not any(c.program_cache_enabled for c in mesh.get_devices()) and mesh.num_program_cache_entries() == 0
    mesh.enable_program_cache()
    assert all(c.program_cache_enabled for c in mesh.get_devices())
    mesh.clear_program_cache()


# --- mappers and composers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [ttnn.bfloat16, ttnn.bfloat8_b, ttnn.float32])
@pytest.mark.parametrize("kind", ["shard0", "shard-1", "replicate", "2d", "2d-replicate-rows"])
def test_mappers_and_composers_round_trip(preset, kind, dtype):
    """Each chip holds exactly what from_torch makes of its piece (block-float tiles re-formed per shard)."""
    mesh = preset("t3000")
    x = torch.randn(8, 64, 128)
    mapper, composer, pieces = {
        "shard0": (ttnn.ShardTensorToMesh(mesh, dim=0), ttnn.ConcatMeshToTensor(mesh, dim=0), x.chunk(8, 0)),
        "shard-1": (ttnn.ShardTensorToMesh(mesh, dim=-1), ttnn.ConcatMeshToTensor(mesh, dim=-1), x.chunk(8, -1)),
        "replicate": (ttnn.ReplicateTensorToMesh(mesh), None, [x] * 8),
        "2d": (ttnn.ShardTensor2dMesh(mesh, (2, 4), (0, 2)), ttnn.ConcatMesh2dToTensor(mesh, (2, 4), (0, 2)),
               [c for r in x.chunk(2, 0) for c in r.chunk(4, 2)]),
        "2d-replicate-rows": (ttnn.create_mesh_mapper(mesh, ttnn.MeshMapperConfig(None, 1)),
                              None, [c for _ in range(2) for c in x.chunk(4, 1)]),
    }[kind]
    t = _put(mesh, x, mapper, dtype)
    shards = ttnn.get_device_tensors(t)
    assert [s.device() for s in shards] == mesh.get_devices()
    wants = {}
    for s, p in zip(shards, pieces):
        if id(p) not in wants:
            wants[id(p)] = ttnn.to_torch(ttnn.from_torch(p.contiguous(), dtype=dtype, layout=ttnn.TILE_LAYOUT))
        assert torch.equal(ttnn.to_torch(s), wants[id(p)])
    if composer is not None:
        whole = ttnn.to_torch(ttnn.from_torch(x, dtype=dtype, layout=ttnn.TILE_LAYOUT))
        got = ttnn.to_torch(t, mesh_composer=composer)
        if dtype == ttnn.bfloat8_b and kind != "shard0":   # shared exponents are per tile row of each shard
            torch.testing.assert_close(got.float(), x, atol=0.1, rtol=0.05)
        else:
            assert torch.equal(got, whole)


def test_host_mapper_without_a_device_and_distribute_tensor(preset):
    x = torch.arange(4 * 64, dtype=torch.float32).reshape(4, 64)
    mapper = ttnn.create_mesh_mapper(ttnn.MeshShape(1, 2), ttnn.MeshMapperConfig(
        [ttnn.PlacementReplicate(), ttnn.PlacementShard(1)]))
    host = ttnn.from_torch(x, mesh_mapper=mapper)
    assert host.storage_type() == ttnn.StorageType.HOST and list(host.shape) == [4, 32]
    mesh = preset("n300")
    on = ttnn.to_device(host, mesh)
    assert on.storage_type() == ttnn.StorageType.DEVICE
    composer = ttnn.create_mesh_composer(mesh, ttnn.MeshComposerConfig([0, 1]))
    assert torch.equal(ttnn.to_torch(on, mesh_composer=composer), x)
    agg = ttnn.aggregate_tensor(on, composer)
    assert torch.equal(ttnn.to_torch(agg), x)
    again = ttnn.distribute_tensor(agg, mapper, mesh)
    assert torch.equal(ttnn.to_torch(again, mesh_composer=composer), x)
    both = ttnn.combine_device_tensors(tensors=ttnn.get_device_tensors(on))
    assert torch.equal(ttnn.to_torch(both, mesh_composer=composer), x)


@pytest.mark.parametrize("dim", [3, -4])
def test_shard_dim_out_of_range_raises(preset, dim):
    mesh = preset("n300")
    fix = rf"dim {dim} is out of range for a tensor of rank 3 \(valid dims are -3..2\): give one of those dims"
    with pytest.raises(RuntimeError, match=fix):
        _put(mesh, torch.randn(2, 32, 64), ttnn.ShardTensorToMesh(mesh, dim=dim))
    with pytest.raises(RuntimeError, match=fix):      # a 2-D mapper's shard dim, and a collective's dim
        _put(mesh, torch.randn(2, 32, 64), ttnn.ShardTensor2dMesh(mesh, dims=(None, dim), mesh_shape=(1, 2)))
    on = _put(mesh, torch.randn(2, 32, 64), ttnn.ShardTensorToMesh(mesh, dim=0))
    with pytest.raises(RuntimeError, match=fix):
        ttnn.all_gather(on, dim)


def test_uneven_shard_raises(preset):
    mesh = preset("t3000")
    with pytest.raises(RuntimeError, match="cannot be split evenly over the 8 chips"):
        _put(mesh, torch.randn(6, 32, 64), ttnn.ShardTensorToMesh(mesh, dim=0))


def test_mapper_for_another_mesh_raises(preset):
    mesh = preset("t3000")
    with pytest.raises(RuntimeError, match="mapper is for 2 chips"):
        _put(mesh, torch.randn(8, 32, 64), ttnn.ShardTensorToMesh(ttnn.MeshShape(1, 2), dim=0))


def test_reading_a_distributed_tensor_needs_a_composer(preset):
    mesh = preset("n300")
    t = _put(mesh, torch.randn(2, 32, 32), ttnn.ShardTensorToMesh(mesh, dim=0))
    with pytest.raises(RuntimeError, match="supply a mesh composer"):
        ttnn.to_torch(t)
    with pytest.raises(RuntimeError, match="get_device_tensors"):
        t.value


def test_distribute_context_sets_the_default_mapper(preset):
    mesh = preset("n300")
    with ttnn.distribute(ttnn.ShardTensorToMesh(mesh, dim=0)):
        t = ttnn.from_torch(torch.randn(4, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh)
    assert list(t.shape) == [2, 32]


# --- ops on every chip --------------------------------------------------------------------------------------------
def test_ops_run_on_every_chip_as_on_one_device(preset, device):
    """A small MLP with a batch-sharded input and replicated weights: each chip computes exactly what one device
    computes on its part of the batch, and each chip records its own ops."""
    mesh = preset("t3000")
    torch.manual_seed(0)
    x, w, b = torch.randn(16, 64), torch.randn(64, 96), torch.randn(96)

    def mlp(dev, xx, mapper=None):
        tx = _put(dev, xx, mapper)
        tw, tb = _put(dev, w), _put(dev, b.reshape(1, -1))
        h = ttnn.gelu(ttnn.linear(tx, tw, bias=tb))
        return ttnn.softmax(ttnn.add(h, 1.0), dim=-1)

    n0 = [len(c.op_records) for c in mesh.get_devices()]
    out = ttnn.to_torch(mlp(mesh, x, ttnn.ShardTensorToMesh(mesh, dim=0)),
                        mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=0))
    single = torch.cat([ttnn.to_torch(mlp(device, part)) for part in x.chunk(8, 0)])
    assert torch.equal(out, single)
    ref = torch.softmax(torch.nn.functional.gelu(x @ w + b) + 1, dim=-1)
    torch.testing.assert_close(out.float(), ref, atol=2e-2, rtol=5e-2)
    names = [[r.name for r in c.op_records[k:]] for c, k in zip(mesh.get_devices(), n0)]
    assert all(n == names[0] for n in names) and "ttnn.linear" in names[0]
    assert mesh.estimated_time_ns() == max(c.estimated_time_ns() for c in mesh.get_devices()) > 0


def test_creation_ops_with_a_mesh_device_replicate(preset):
    mesh = preset("n300")
    z = ttnn.ones((2, 32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh)
    both = ttnn.to_torch(z, mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=0))
    assert both.shape == (4, 32, 32) and bool((both == 1).all())


def test_mixing_a_single_device_tensor_with_a_mesh_tensor_raises(preset, device):
    mesh = preset("n300")
    a = _put(mesh, torch.randn(2, 32, 32), ttnn.ShardTensorToMesh(mesh, dim=0))
    b = ttnn.from_torch(torch.randn(1, 32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(RuntimeError, match="on single device"):
        ttnn.add(a, b)


def _bytes_on(device, x):
    """What one device allocates for x (whole tiles spread over its banks)."""
    before = device.allocated_bytes()
    t = _put(device, x)
    used = device.allocated_bytes() - before
    ttnn.deallocate(t)
    return used


def test_memory_is_accounted_per_chip(preset, device):
    mesh = preset("t3000")
    x = torch.randn(8, 256, 256)
    before = [c.allocated_bytes() for c in mesh.get_devices()]
    sharded = _put(mesh, x, ttnn.ShardTensorToMesh(mesh, dim=0))
    per_chip = [c.allocated_bytes() - b for c, b in zip(mesh.get_devices(), before)]
    assert per_chip == [_bytes_on(device, x[:1])] * 8
    replicated = _put(mesh, x)
    per_chip = [c.allocated_bytes() - b for c, b in zip(mesh.get_devices(), before)]
    assert per_chip == [_bytes_on(device, x[:1]) + _bytes_on(device, x)] * 8
    ttnn.deallocate(sharded)
    ttnn.deallocate(replicated)
    assert [c.allocated_bytes() for c in mesh.get_devices()] == before


def test_a_tensor_too_big_for_one_chip_fits_sharded(preset):
    """L1 holds ~92 MB per Wormhole chip: 128 MB replicated runs out on a chip, sharded over two it fits."""
    mesh = preset("n300")
    x = torch.zeros(8192, 8192)
    t = _put(mesh, x, ttnn.ShardTensorToMesh(mesh, dim=0), memory_config=ttnn.L1_MEMORY_CONFIG)
    assert [c.allocated_bytes(ttnn.BufferType.L1) for c in mesh.get_devices()] == [64 << 20] * 2
    ttnn.deallocate(t)
    with pytest.raises(ttnn.OutOfMemoryError, match="Out of memory on device 0"):
        _put(mesh, x, memory_config=ttnn.L1_MEMORY_CONFIG)


# --- collectives --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_all_gather(preset, axis):
    mesh = preset("t3000")
    x = torch.randn(8, 32, 64)
    t = _put(mesh, x, ttnn.ShardTensorToMesh(mesh, dim=0))
    g = ttnn.all_gather(t, dim=0, cluster_axis=axis)
    shards = [ttnn.to_torch(s) for s in ttnn.get_device_tensors(g)]
    for i, s in enumerate(shards):
        r, c = divmod(i, 4)
        idx = range(8) if axis is None else ([c, 4 + c] if axis == 0 else range(4 * r, 4 * r + 4))
        assert torch.equal(s, torch.cat([x[j:j + 1] for j in idx]).bfloat16())


@pytest.mark.parametrize("dtype, tol", [(ttnn.float32, 0.0), (ttnn.bfloat16, 2e-2), (ttnn.bfloat8_b, 6e-2)])
def test_all_reduce_sums_over_the_axis(preset, dtype, tol):
    mesh = preset("t3000")
    x = torch.randn(8, 32, 64)
    t = _put(mesh, x, ttnn.ShardTensorToMesh(mesh, dim=0), dtype)
    inputs = [ttnn.to_torch(s).float() for s in ttnn.get_device_tensors(t)]
    out = ttnn.all_reduce(t, cluster_axis=1)
    for i, s in enumerate(ttnn.get_device_tensors(out)):
        r = i // 4
        want = sum(inputs[4 * r + j] for j in range(4))
        torch.testing.assert_close(ttnn.to_torch(s).float(), want, atol=tol * 4, rtol=tol)
    if dtype == ttnn.float32:
        assert torch.equal(ttnn.to_torch(ttnn.get_device_tensors(out)[0]), sum(inputs[:4]))


def test_bfloat16_reductions_round_every_partial_sum(preset):
    """Adding 1 + 2^-8 + 2^-8 in bfloat16: each partial rounds back to 1, so the sum is 1, not 1 + 2^-7."""
    mesh = preset("t3000", ttnn.MeshShape(1, 4))
    vals = torch.tensor([1.0, 2 ** -8, 2 ** -8, 0.0]).reshape(4, 1, 1).expand(4, 32, 32).contiguous()
    t = _put(mesh, vals, ttnn.ShardTensorToMesh(mesh, dim=0))
    out = ttnn.to_torch(ttnn.get_device_tensors(ttnn.all_reduce(t))[0]).float()
    assert bool((out == 1.0).all())


@pytest.mark.parametrize("shape", [(1, 4), (1, 8)])
def test_reduce_scatter(preset, shape):
    mesh = preset("t3000", ttnn.MeshShape(*shape))
    n = shape[1]
    x = torch.randn(n, 64, 32 * n)
    t = _put(mesh, x, ttnn.ShardTensorToMesh(mesh, dim=0), ttnn.float32)
    out = ttnn.reduce_scatter(t, dim=2)
    total = x.sum(0, keepdim=True)
    for k, s in enumerate(ttnn.get_device_tensors(out)):
        torch.testing.assert_close(ttnn.to_torch(s), total.chunk(n, dim=2)[k], atol=1e-5, rtol=1e-5)
    whole = ttnn.to_torch(out, mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=2))
    torch.testing.assert_close(whole, total, atol=1e-5, rtol=1e-5)


def test_collective_on_a_non_mesh_tensor_raises(preset, device):
    t = ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    for op, args in ((ttnn.all_gather, (0,)), (ttnn.reduce_scatter, (0,)), (ttnn.all_reduce, ())):
        with pytest.raises(RuntimeError, match=r"is a collective: its input must be on device, distributed over a "
                                               r"mesh device; got a tensor on single device 0\. Open a mesh "
                                               r"\(ttnn\.open_mesh_device.*ttnn\.from_torch\(\.\.\., "
                                               r"device=mesh_device, mesh_mapper=\.\.\.\)"):
            op(t, *args)
    mesh = preset("n300")
    host = ttnn.from_torch(torch.randn(2, 32, 32), mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=0))
    with pytest.raises(RuntimeError, match=r"must be on device, got a host tensor .*ttnn\.to_device\(tensor, "
                                           r"mesh_device\)"):
        ttnn.all_gather(host, 0)


def test_collective_errors(preset):
    mesh = preset("galaxy")
    t = _put(mesh, torch.randn(32, 32, 64), ttnn.ShardTensorToMesh(mesh, dim=0))
    with pytest.raises(RuntimeError, match="wired as a line"):
        ttnn.all_reduce(t, cluster_axis=1, topology=ttnn.Topology.Ring)    # rows of 4 chips do not close
    ttnn.all_reduce(t, cluster_axis=0, topology=ttnn.Topology.Ring)        # columns of 8 do
    with pytest.raises(RuntimeError, match="dim 0 of size 1 cannot be scattered evenly over 4 chips"):
        ttnn.reduce_scatter(t, dim=0, cluster_axis=1, num_links=1)
    with pytest.raises(RuntimeError, match="cluster_axis=2 is not an axis"):
        ttnn.all_gather(t, 0, cluster_axis=2)
    with pytest.raises(RuntimeError, match="num_links=9"):
        ttnn.all_reduce(t, num_links=9)
    i32 = _put(mesh, torch.ones(32, 32, 32, dtype=torch.int32), dtype=ttnn.int32)
    with pytest.raises(RuntimeError, match="dtype INT32 is not supported"):
        ttnn.all_reduce(i32)


# --- collective time ----------------------------------------------------------------------------------------------
def test_collective_model_fits_the_measured_wormhole_table():
    """The model against all 234 measured rows (2, 4, 8 chips; line and ring; 4 KiB to 8 GiB)."""
    fit = ccl_bench.evaluate()
    print("\n" + ccl_bench.report(fit))
    assert fit.rows == 234
    assert fit.within >= 0.95 and 0.9 < fit.median < 1.1


def test_collective_model_is_not_the_line_rate():
    """Pure line rate with no per-call cost (the naive model) misses most of the table: the fit above is the
    model's doing, not the table's easiness."""
    naive = {k: {n: (0.0, 1.0) for n in v} for k, v in cost.CCL_FIT.items()}
    assert ccl_bench.evaluate(fit=naive).within < 0.5


def test_refit_reproduces_the_figures_in_the_cost_model():
    assert ccl_bench.fit_curves() == cost.CCL_FIT


@pytest.mark.parametrize("op", ["all_gather", "reduce_scatter", "all_reduce"])
@pytest.mark.parametrize("n, lo, hi", [(3, 2, 4), (6, 4, 8), (16, 8, None), (32, 16, None)])
def test_unmeasured_chip_counts_follow_the_measured_ones(op, n, lo, hi):
    """Between measured counts the time lies between theirs; beyond 8 chips it keeps growing."""
    for size in (1 << 14, 1 << 20, 1 << 28):
        t, t_lo = cost.ccl_time_ns(op, n, size), cost.ccl_time_ns(op, lo, size)
        if hi is None:
            assert t > t_lo
        else:
            t_hi = cost.ccl_time_ns(op, hi, size)
            assert min(t_lo, t_hi) <= t <= max(t_lo, t_hi)


def test_each_chip_records_the_collective_as_priced(preset):
    mesh = preset("t3000", ttnn.MeshShape(1, 8))   # a ring: the snake closes
    x = torch.randn(8, 256, 1024)
    t = _put(mesh, x, ttnn.ShardTensorToMesh(mesh, dim=0))
    out = ttnn.all_gather(t, 0)
    recs = [c.op_records[-1] for c in mesh.get_devices()]
    total = 8 * 256 * 1024 * 2
    want = cost.ccl_time_ns("all_gather", 8, total, topology="ring")
    assert all(r.name == "ttnn.all_gather" and r.time_ns == pytest.approx(want) for r in recs)
    assert want < cost.ccl_time_ns("all_gather", 8, total, topology="line")
    ttnn.all_gather(t, 0, topology=ttnn.Topology.Linear)
    assert mesh.get_devices()[0].op_records[-1].time_ns == pytest.approx(
        cost.ccl_time_ns("all_gather", 8, total, topology="line"))
    assert list(out.shape) == [8, 256, 1024]


def test_closing_a_mesh_leaves_single_devices_open(device, monkeypatch):
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "n300")
    mesh = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 2))
    t = _put(mesh, torch.randn(2, 32, 32), ttnn.ShardTensorToMesh(mesh, dim=0))
    ttnn.close_mesh_device(mesh)
    assert device.is_open() and ttnn.open_device(device_id=0) is device
    assert not mesh.is_open() and not any(c.is_open() for c in mesh.get_devices())
    with pytest.raises(RuntimeError, match="closed"):
        ttnn.relu(t)
