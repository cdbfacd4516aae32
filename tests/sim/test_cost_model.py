"""The device-time model (sim/cost.py): its fit to measured cards, and what each op is charged for."""
import dataclasses

import pytest
import torch

import torch_ttnn.sim as ttnn
from torch_ttnn.bench import calibrate
from torch_ttnn.sim import cost
from torch_ttnn.sim.device import ARCHS


def test_fits_the_measured_n150_gemm_table():
    """The issue's goal: >= 70% of TT's 234 measured n150 matmuls within 1.25x, on device kernel time and on
    host-visible time (with dispatch, or traced, as each row was measured)."""
    fit = calibrate.evaluate(ARCHS["n150"])
    print("\n" + calibrate.report(fit))
    assert fit.rows == 234
    assert fit.device_within >= 0.70, calibrate.report(fit)
    assert fit.host_within >= 0.70, calibrate.report(fit)
    assert 0.8 < fit.device_median < 1.25 and 0.8 < fit.host_median < 1.25


def test_fit_is_not_one_figure_per_row():
    """A model that knows only a flat per-op cost (the old one: roofline + 5 us) fails the same table, so the
    test above measures the model, not the table's easiness."""
    flat = dataclasses.replace(ARCHS["n150"].cost, math_efficiency=1.0, unpack_bytes_per_cycle=1e9,
                               noc_bytes_per_cycle=1e9, dispatch_ns=5000, sharded_dispatch_ns=5000, dram_tail=0)
    fit = calibrate.evaluate(dataclasses.replace(ARCHS["n150"], cost=flat))
    assert fit.host_within < 0.5


def _mm(device, m, k, n, dtype=ttnn.bfloat16, **kw):
    a = ttnn.from_torch(torch.randn(m, k), dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)
    b = ttnn.from_torch(torch.randn(k, n), dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)
    n0 = len(device.op_records)
    ttnn.matmul(a, b, **kw)
    return device.op_records[n0]


def test_matmul_op_is_priced_as_the_calibration_prices_it(device):
    rec = _mm(device, 64, 96, 128, compute_kernel_config=ttnn.WormholeComputeKernelConfig(
        math_fidelity=ttnn.MathFidelity.HiFi2, fp32_dest_acc_en=False))
    row = calibrate.GemmRow("out_of_box", 64, 96, 128, False, (8, 8), "DRAM", "DRAM", "DRAM",
                            ttnn.bfloat16, "HiFi2", 1.0, 1.0)
    want = calibrate.predict(row, device.spec)
    assert rec.kernel_ns == pytest.approx(want.kernel_ns) and rec.host_ns == pytest.approx(want.host_ns)


@pytest.mark.parametrize("fast, slow", [
    (dict(dtype=ttnn.bfloat8_b, compute_kernel_config=ttnn.WormholeComputeKernelConfig(
        math_fidelity=ttnn.MathFidelity.LoFi)),
     dict(dtype=ttnn.bfloat16, compute_kernel_config=ttnn.WormholeComputeKernelConfig(
         math_fidelity=ttnn.MathFidelity.HiFi4))),
    (dict(compute_kernel_config=ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2)),
     dict(compute_kernel_config=ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2,
                                                                  fp32_dest_acc_en=True))),
    (dict(), dict(core_grid=ttnn.CoreGrid(y=2, x=2))),
], ids=["bf8-lofi<bf16-hifi4", "fp32-acc-costs", "fewer-cores-slower"])
def test_matmul_costs_follow_the_hardware(device, fast, slow):
    size = (2048, 1024, 2048)  # compute-bound on an n150 (a small one is NoC-bound: fidelity would not show)
    assert _mm(device, *size, **fast).kernel_ns < _mm(device, *size, **slow).kernel_ns


def test_partial_waves_cost_a_whole_block():
    """Nine tile rows on eight core rows leave most cores half idle: as slow as sixteen."""
    def per_core(mt):
        return cost.MatmulWork(1, mt, 4, 8, 8, 8, 2).products_per_core()[0]
    assert per_core(9) == per_core(16) == 2 * per_core(8)


def test_l1_sharded_operands_skip_dram(device):
    x = torch.randn(256, 1024)
    recs = {}
    for name, mc in (("dram", ttnn.DRAM_MEMORY_CONFIG), ("l1", ttnn.L1_MEMORY_CONFIG)):
        t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc)
        n0 = len(device.op_records)
        ttnn.relu(t, memory_config=mc)
        recs[name] = device.op_records[n0]
    assert recs["l1"].tail_ns == 0 < recs["dram"].tail_ns
    assert recs["l1"].kernel_ns <= recs["dram"].kernel_ns


@pytest.mark.parametrize("src, dst, view", [
    ((2, 64, 96), (128, 96), True),        # tile rows stay whole: relabelling only
    ((1, 40, 96), (40, 96), True),         # second-to-last dim unchanged
    ((2, 40, 96), (80, 96), False),        # 40 is not tile-aligned: rows move between tiles
    ((64, 96), (96, 64), False),           # last dim changes
])
def test_reshape_views_cost_nothing(device, src, dst, view):
    t = ttnn.from_torch(torch.randn(src), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    n0 = len(device.op_records)
    ttnn.reshape(t, dst)
    rec = device.op_records[n0]
    assert (rec.kernel_ns == 0 and rec.host_ns == 0 and rec.trace_ns == 0) == view
    assert view or rec.kernel_ns > 0


def test_embedding_reads_the_rows_it_gathers_not_the_table(device):
    ids = ttnn.from_torch(torch.randint(0, 100, (1, 128)), dtype=ttnn.uint32, device=device)
    recs = []
    for vocab in (1000, 50000):
        w = ttnn.from_torch(torch.randn(vocab, 256), dtype=ttnn.bfloat16, device=device)
        n0 = len(device.op_records)
        ttnn.embedding(ids, w)
        recs.append(device.op_records[n0])
    assert recs[0].bytes == recs[1].bytes and recs[0].kernel_ns == recs[1].kernel_ns


def test_trace_removes_host_dispatch(device):
    t = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    ttnn.exp(t)    # the program's first call builds it (sim/program_cache.py); the loop below hits the cache
    n0 = len(device.op_records)
    for _ in range(10):
        t = ttnn.exp(t)
    recs = device.op_records[n0:]
    assert all(r.trace_ns < r.host_ns for r in recs)  # a small op is dispatch-bound without trace
    with_dispatch, traced = cost.program_host_ns(recs), cost.program_host_ns(recs, trace=True)
    assert traced < with_dispatch == pytest.approx(sum(r.dispatch_ns for r in recs))
    assert sum(r.kernel_ns for r in recs) <= traced


def test_blackhole_is_faster_per_chip_on_the_same_matmul():
    row = calibrate.GemmRow("out_of_box", 2048, 2048, 2048, True, (8, 8), "DRAM", "DRAM", "DRAM",
                            ttnn.bfloat16, "HiFi2", 1.0, 1.0)
    wh = calibrate.predict(row, ARCHS["n150"])
    bh = calibrate.predict(row._replace(grid=(ARCHS["p150"].grid.y, ARCHS["p150"].grid.x)), ARCHS["p150"])
    assert bh.kernel_ns < wh.kernel_ns


def test_blackhole_rows_out_of_sample():
    """The fitted figures never saw a p150 row: TT's 468 measured p150 matmuls (13x10 and 11x10 grids) check
    that the model carries to another card from its physical description. Kernel time carries (most rows
    within 1.25x, the model ~15% pessimistic); host dispatch does not (another host, PCIe 5): reported, not
    tuned away."""
    fit = calibrate.evaluate(ARCHS["p150"], calibrate.load(calibrate.TABLES["p150"]))
    print("\n" + calibrate.report(fit, "p150"))
    assert fit.rows == 468
    assert fit.device_within >= 0.5 and 0.9 < fit.device_median < 1.3, calibrate.report(fit, "p150")


def test_sharded_op_runs_on_its_shard_grid(device):
    """A height-sharded tensor on 2 cores is processed by those 2 cores, not the whole grid."""
    x = torch.randn(512, 256)
    recs = {}
    for cores in (2, 8):
        mc = ttnn.create_sharded_memory_config((512, 256), core_grid=ttnn.CoreGrid(y=cores, x=1),
                                               strategy=ttnn.ShardStrategy.HEIGHT)
        t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc)
        n0 = len(device.op_records)
        ttnn.exp(t, memory_config=mc)
        recs[cores] = device.op_records[n0]
    assert recs[2].kernel_ns > recs[8].kernel_ns


def test_core_grid_beyond_the_device_is_priced_on_the_device_grid(device):
    size, cfg = (512, 1024, 1024), ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4)
    wide = _mm(device, *size, core_grid=ttnn.CoreGrid(y=8, x=12), compute_kernel_config=cfg)
    assert wide.kernel_ns == _mm(device, *size, core_grid=ttnn.CoreGrid(y=8, x=8), compute_kernel_config=cfg).kernel_ns
    assert wide.kernel_ns < _mm(device, *size, core_grid=ttnn.CoreGrid(y=4, x=8), compute_kernel_config=cfg).kernel_ns
