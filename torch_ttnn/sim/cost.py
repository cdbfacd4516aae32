"""The device-time model: what one op costs on a card, from the card's physical description.

Every emulated op declares the work it does (`Work`: its tensors and where they live, matrix-engine tile
products, vector-engine passes); `price` turns that into an `OpRecord` with the figures a user of a card sees:

- kernel_ns: the op's device kernel time (what TT's device profiler reports as kernel duration);
- dispatch_ns: host time to enqueue the op (program cache hit, no trace);
- tail_ns: time the host sees beyond the kernel while DRAM traffic drains (reads before compute starts and
  write-back after it ends are not all inside the profiled kernel);
- device_side_ns = kernel_ns + tail_ns + the gap between consecutive ops on the device;
- host_ns = max(dispatch_ns, device_side_ns): one op repeated in a loop, as TT's GEMM report measures it
  (dispatch runs ahead of the device, so the slower of the two sets the pace);
- compile_ns: host time building the op's program where the program cache missed (sim/program_cache.py),
  added to a sequence's host-visible time (program_host_ns): the device waits for it;
- trace_ns = device_side_ns: the same op replayed from a captured trace (no host dispatch).

The kernel model works per core, as the hardware does. The output's tiles are split over the core grid (a
matmul as a 2-D block per core, everything else as tiles round-robin), so a shape that leaves cores idle or
runs a partial second wave pays for it. A core's time is the slowest of three pipelines that overlap:
- compute: matrix-engine tile products at the fidelity's cycles (LoFi 16 cycles per 32x32x32 product, +16 per
  extra fidelity pass; `ttnn-facts.md`) over an efficiency, or the unpacker feeding the source registers (tile
  bytes over an unpack rate: why bfloat8_b/bfloat4_b are faster even when compute-bound), or the vector engine
  (32 lanes a cycle, `sfpu_cycles` per value);
- NoC: the bytes one core must receive or send (its matmul operand blocks, its share of an eltwise op's
  interleaved operands); L1-sharded operands are already in the core and cost no NoC traffic;
- DRAM: bytes of DRAM-resident operands at the achievable DRAM bandwidth.
Plus a fixed kernel launch. An op that moves nothing and computes nothing (a reshape that only relabels
dims, a view) has no kernel: it costs nothing on the device.

Figures and where they come from (per card in `CostFigures`; n150 unless said):
- clock, cores, DRAM peak: the card specifications (`ttnn-facts.md` hardware table).
- achievable DRAM bandwidth 267 GB/s of 288: tt-metal tech_reports/Saturating_DRAM_bandwidth (micro-benchmark).
- math efficiency, unpack rate, NoC rate per core, kernel launch, dispatch (interleaved and sharded), trace
  launch and the DRAM tail: least-squares fit (log error) of this model to all 234 rows of
  shared/reference/perf/gemm-n150-measured.csv (TT's GEMM_FLOPS report, measured on an n150), never to one row;
  `tests/sim/test_cost_model.py` reprints the fit (share of rows within 1.25x, device and host time).
- fp32_dest_acc_en halves the Dst register (8 -> 4 tiles), so the largest output subblock drops from 2x4 to
  2x2 and each tile product needs 1.0 unpacked operand tiles instead of 0.75 (tt-metal matmul docs: subblock
  h*w <= 8, or 4 with fp32 accumulation).
Blackhole (p150) uses its own clock, grid and DRAM bandwidth with Wormhole's per-core efficiencies (the same
Tensix pipelines; not yet checked against measured p150 rows).
Collectives between chips (all_gather, reduce_scatter, all_reduce) have their own model at the end of this
module, `ccl_time_ns`: per-call setup plus the bottleneck link's bytes at a fitted share of the Ethernet line
rate, fitted to TT's measured Wormhole CCL table; Blackhole meshes use Blackhole's measured link rate with the
Wormhole fit (not checked against Blackhole rows).

Where a card would be slower than this model says: it has no DRAM bank conflicts, no NoC congestion between
ops, no program-cache misses (the first call of each op compiles kernels on a card: seconds), and it assumes
the matmul's program config is as good as TT-NN's default choice for the shape (some default choices measured
far slower: the 512xKx1024 rows of the GEMM table run at 9% utilisation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CostFigures:
    """A card's per-core and per-op cost figures (see the module docstring for sources)."""
    dram_bw: float                        # achievable bytes/s per chip (not the peak)
    math_efficiency: float = 0.851        # fit: share of the fidelity's cycle count the matrix engine achieves
    unpack_bytes_per_cycle: float = 66.1 # fit: operand bytes the unpacker delivers per core per cycle
    noc_bytes_per_cycle: float = 13.5     # fit: bytes one core receives/sends per cycle over the NoC
    kernel_launch_ns: float = 5430.0      # fit: fixed device-side cost of launching an op's kernels
    dispatch_ns: float = 62000.0          # fit: host enqueue of an op on interleaved tensors, no trace
    sharded_dispatch_ns: float = 129300.0  # fit: a matmul with sharded operands and a program config
    trace_launch_ns: float = 500.0        # fit: per-op gap when replayed from a trace
    dram_tail: float = 1.18               # fit: host-visible DRAM time beyond the kernel, per unit of DRAM time


FPU_FLOP_PER_CYCLE = 4096   # one 8x16 @ 16x16 multiply-accumulate block per core per cycle (TT's GEMM_FLOPS report)
LOFI_TILE_CYCLES = 2 * 32 ** 3 // FPU_FLOP_PER_CYCLE   # 16 cycles per 32x32x32 tile product per pass
SFPU_LANES = 32             # the vector engine's lanes per core per cycle
TILE_ELEMS = 32 * 32


class Storage:
    """Where an operand lives, as the cost model distinguishes it."""
    DRAM, L1, L1_SHARDED, HOST = "DRAM", "L1", "L1_SHARDED", "HOST"


@dataclass(frozen=True)
class Operand:
    bytes: int
    storage: str = Storage.DRAM
    tile_bytes: int = 2048   # bytes of one 32x32 tile in its dtype (bfloat16 2048, bfloat8_b 1088, ...)
    cores: int | None = None  # an L1-sharded tensor's cores: the op on it runs on those only


@dataclass(frozen=True)
class MatmulWork:
    """The matrix-engine work of one matmul: tiles (padded) and how the output is split over the grid."""
    batch: int
    mt: int
    kt: int
    nt: int
    grid_y: int
    grid_x: int
    passes: int               # fidelity passes: LoFi 1, HiFi2 2, HiFi3 3, HiFi4 4
    fp32_acc: bool = False
    per_core_m: int | None = None   # from a program config; else the output split evenly over the grid
    per_core_n: int | None = None

    def products_per_core(self) -> tuple[int, int, int]:
        """(tile products, operand tile rows, operand tile cols) one core computes: a 2-D block per core for a
        single matrix (multicast in0 along rows, in1 along columns), output tiles round-robin over the grid
        for a batch of matrices."""
        cores = self.grid_y * self.grid_x
        if self.batch == 1:
            pm = self.per_core_m or -(-self.mt // self.grid_y)
            pn = self.per_core_n or -(-self.nt // self.grid_x)
            return pm * pn * self.kt, pm, pn
        tiles = -(-self.batch * self.mt * self.nt // cores)
        side = max(1, math.isqrt(tiles))
        return tiles * self.kt, side, -(-tiles // side)


@dataclass
class Work:
    """What one op does, declared by the op: its tensors (read and written) and its compute."""
    operands: list = field(default_factory=list)   # Operand per input read and output written
    matmul: MatmulWork | None = None
    out_tiles: float = 0.0        # output tiles the op's cores produce (non-matmul ops)
    sfpu_cycles: float = 0.0      # vector-engine cycles per output value (0: no SFPU work)
    fpu: bool = False             # eltwise on the matrix engine (binary ops): unpack-bound per tile
    host_only: bool = False       # no device program at all (a view, metadata only)


@dataclass
class OpRecord:
    """One op call's estimated cost, kept by the device for run reports (module docstring: the figures)."""
    name: str
    time_ns: float            # device kernel time (the op's share of the device's busy time)
    flops: float = 0.0
    bytes: float = 0.0
    bound: str = ""           # which pipeline set the kernel time: compute, unpack, sfpu, noc, dram, launch, none
    dispatch_ns: float = 0.0
    tail_ns: float = 0.0
    trace_launch_ns: float = 0.0
    traced: bool = False      # run by replaying a captured trace: no host dispatch
    program_cache: str = ""   # "hit", "miss" (compiled, then cached), "uncached" (cache off); "" no program
    compile_ns: float = 0.0   # host time building the program on a miss (sim/program_cache.py), device idle

    @property
    def kernel_ns(self) -> float:
        return self.time_ns

    @property
    def device_side_ns(self) -> float:
        """What the device itself takes of the host's time: kernel, DRAM tail, and the gap between ops."""
        return self.time_ns + self.tail_ns + self.trace_launch_ns if self.time_ns else 0.0

    @property
    def host_ns(self) -> float:
        """Host-visible time of this op in a loop without trace: dispatch and device overlap (a loop hits the
        program cache; a first call's `compile_ns` comes on top, as program_host_ns counts it)."""
        return overlapped(self.dispatch_ns, self.device_side_ns)

    @property
    def trace_ns(self) -> float:
        """Host-visible time when replayed from a trace: no host dispatch."""
        return self.device_side_ns


def _matmul_core_ns(w: MatmulWork, in0: Operand, in1: Operand, fig: CostFigures, clock: float) -> dict:
    products, rows, cols = w.products_per_core()
    # Output subblock: the Dst register holds 8 tiles (4 with fp32 accumulation): 2x4 or 2x2, so each tile
    # product unpacks (h + w) / (h * w) operand tiles.
    unpack_tiles = 1.0 if w.fp32_acc else 0.75
    math_cycles = LOFI_TILE_CYCLES * w.passes / fig.math_efficiency
    unpack_cycles = unpack_tiles * (in0.tile_bytes + in1.tile_bytes) / fig.unpack_bytes_per_cycle
    noc_bytes = (rows * in0.tile_bytes + cols * in1.tile_bytes) * w.kt
    return {"compute": products * math_cycles / clock * 1e9,
            "unpack": products * unpack_cycles / clock * 1e9,
            "noc": noc_bytes / fig.noc_bytes_per_cycle / clock * 1e9}


def _eltwise_core_ns(work: Work, cores: int, fig: CostFigures, clock: float) -> dict:
    sharded = [o.cores for o in work.operands if o.cores]
    cores = min(sharded) if sharded else cores   # a sharded op runs where its shards are
    waves = math.ceil(work.out_tiles / cores) if work.out_tiles else 0
    share = 1.0 / max(min(cores, math.ceil(work.out_tiles)), 1) if work.out_tiles else 1.0 / cores
    moved = sum(o.bytes for o in work.operands if o.storage in (Storage.DRAM, Storage.L1))
    local = sum(o.bytes for o in work.operands if o.storage == Storage.L1_SHARDED)
    per_core_bytes = (moved + local) * share
    out = {"noc": moved * share / fig.noc_bytes_per_cycle / clock * 1e9}
    if work.fpu or work.sfpu_cycles:
        out["unpack"] = per_core_bytes / fig.unpack_bytes_per_cycle / clock * 1e9
    if work.sfpu_cycles:
        out["sfpu"] = waves * TILE_ELEMS / SFPU_LANES * work.sfpu_cycles / clock * 1e9
    return out


def price(name: str, work: Work, spec, *, flops: float = 0.0) -> OpRecord:
    """The op's OpRecord on a card described by `spec` (an ArchSpec with `.cost`, `.clock_hz`, `.num_cores`)."""
    fig: CostFigures = spec.cost
    total = float(sum(o.bytes for o in work.operands))
    if work.host_only or (not total and work.matmul is None and not work.out_tiles):
        return OpRecord(name, 0.0, flops, total, "none")
    clock = spec.clock_hz
    dram = sum(o.bytes for o in work.operands if o.storage == Storage.DRAM) / fig.dram_bw * 1e9
    if work.matmul is not None:
        in0, in1 = (work.operands + [Operand(0), Operand(0)])[:2]
        parts = _matmul_core_ns(work.matmul, in0, in1, fig, clock)
        if work.sfpu_cycles:  # a fused activation / softmax: the vector engine's pass over the core's outputs
            values = work.out_tiles * TILE_ELEMS / (spec.num_cores * SFPU_LANES)
            parts["compute"] += values * work.sfpu_cycles / clock * 1e9
    else:
        parts = _eltwise_core_ns(work, spec.num_cores, fig, clock)
    busy = max(parts.values(), default=0.0)   # the core's own work, which DRAM traffic overlaps
    parts["dram"] = dram
    bound = max(parts, key=parts.get)
    kernel = fig.kernel_launch_ns + parts[bound]
    # The sharded figure was measured on matmuls with sharded operands and a program config (TT's tuned GEMM
    # rows); other ops on sharded tensors have no measurement and get the interleaved figure.
    sharded = work.matmul is not None and any(o.storage == Storage.L1_SHARDED for o in work.operands)
    dispatch = fig.sharded_dispatch_ns if sharded else fig.dispatch_ns
    # The host also waits for DRAM traffic the profiled kernel does not cover (reads before the core's work
    # starts, write-back after it ends): at most as long as that work, else it is the kernel itself.
    return OpRecord(name, kernel, flops, total, bound if parts[bound] > 0 else "launch", dispatch,
                    fig.dram_tail * min(dram, busy), fig.trace_launch_ns)


def matmul_work(batch: int, m: int, k: int, n: int, a: Operand, b: Operand, out: Operand, *, passes: int,
                fp32_acc: bool, grid_y: int, grid_x: int, per_core_m=None, per_core_n=None, extra=()) -> Work:
    """The Work of a matmul of [batch] x (m x k) @ (k x n): `ttnn.matmul` and the calibration both build it here."""
    t = lambda d: -(-d // 32)  # noqa: E731  the engine works on whole tiles
    mm = MatmulWork(batch, t(m), t(k), t(n), grid_y, grid_x, passes, fp32_acc, per_core_m, per_core_n)
    return Work(operands=[a, b, *extra, out], matmul=mm)


def overlapped(dispatch: float, device: float) -> float:
    """Host-visible time of work the host enqueues ahead of the device: the slower side sets the pace."""
    return max(dispatch, device)


def program_host_ns(records, trace: bool = False) -> float:
    """Host-visible time of a sequence of ops: without trace the host enqueues ahead of the device, so the
    slower of total dispatch and total device time sets the pace, plus the host's program builds on program
    cache misses (the device waits for them); traced ops (or all, with `trace`) cost their device time and the
    trace's per-op launch gap only."""
    if trace:
        return sum(r.trace_ns for r in records)
    dispatched = [r for r in records if not r.traced]
    return sum(r.trace_ns for r in records if r.traced) + sum(r.compile_ns for r in dispatched) + overlapped(
        sum(r.dispatch_ns for r in dispatched if r.time_ns), sum(r.device_side_ns for r in dispatched))


# --- collectives (CCL) over Ethernet ------------------------------------------------------------------------
# Source: tenstorrent/tt-metal tech_reports/CCLs (CCL_bandwidth.md and results/FULL_wormhole_b0_bfloat16_6144.md,
# commit 608f1592b0f6cf218dded13762b7f1d68a669a1a), measured on a Wormhole LoudBox (8 chips, 1 link per
# direction, traced kernel time) from 4 KiB to 8 GiB; the rows are benchmarks/reference/ccl-wormhole-measured.csv.
# The report's model: the bytes through the bottleneck link are closed-form in the un-sharded tensor T and the
# chip count N ((N-1)/N*T for all_gather and reduce_scatter, twice that for all_reduce); a ring splits them over
# two directions; a per-call cost (barriers, fabric connections: it grows with N) sets the floor. Here:
#     time = setup(op, topology, N) + bottleneck_bytes / (links * directions * efficiency(op, topology, N) * line_rate)
# with setup and efficiency least-squares fitted (log error) per measured curve over all its sizes
# (`python -m torch_ttnn.bench.ccl` re-fits and prints them; tests/sim/test_mesh.py checks them against the rows).
# N between measured counts interpolates the two counts' times linearly; beyond them setup extends linearly and
# efficiency is the nearest count's; a ring at a count other than 8 was not measured (8-chip ring figures, setup scaled by N).
WORMHOLE_LINK_BW = 12.5e9       # bytes/s per Ethernet link per direction (100 Gbps; CCL_bandwidth.md "Line rate")
# Blackhole links run at half their rated 50 GB/s for now: the report normalizes its Blackhole figures by 25 GB/s.
BLACKHOLE_LINK_BW = 25.0e9

CCL_FIT = {  # (op, topology) -> {N: (setup_ns, efficiency)}
    ("all_gather", "line"): {2: (6990.0, 0.5075), 4: (10370.0, 0.9375), 8: (19400.0, 0.9350)},
    ("all_gather", "ring"): {8: (18160.0, 0.8175)},
    ("reduce_scatter", "line"): {2: (7800.0, 0.6750), 4: (16270.0, 0.8050), 8: (31800.0, 0.8700)},
    ("reduce_scatter", "ring"): {8: (23900.0, 0.6425)},
    ("all_reduce", "line"): {2: (13500.0, 0.5775), 4: (29130.0, 0.8475), 8: (53870.0, 0.8550)},
    ("all_reduce", "ring"): {8: (41390.0, 0.7075)},
}


def ccl_bottleneck_bytes(op: str, n: int, total_bytes: float) -> float:
    """Bytes the busiest link carries (CCL_bandwidth.md "Bytes through the bottleneck link")."""
    share = (n - 1) / n * total_bytes
    return 2 * share if op == "all_reduce" else share


def _ccl_figures(op: str, topology: str, n: int, fit=None) -> tuple[float, float]:
    """(setup_ns, efficiency) at a measured count, or beyond the measured counts: the last segment's setup
    extended linearly and the nearest count's efficiency."""
    table = (fit or CCL_FIT)[(op, topology)]
    if n in table:
        return table[n]
    counts = sorted(table)
    near = min(counts, key=lambda c: abs(c - n))
    if len(counts) == 1:
        return table[near][0] * n / near, table[near][1]
    lo, hi = (counts[0], counts[1]) if n < counts[0] else (counts[-2], counts[-1])
    (s0, _), (s1, _) = table[lo], table[hi]
    return max(s0 + (s1 - s0) * (n - lo) / (hi - lo), 0.0), table[near][1]


def ccl_time_ns(op: str, n: int, total_bytes: float, *, topology: str = "line", links: int = 1,
                link_bw: float = WORMHOLE_LINK_BW, fit=None) -> float:
    """Device kernel time of one collective over `n` chips moving the un-sharded tensor of `total_bytes`.
    Between two measured chip counts the time is interpolated linearly in n between theirs."""
    if n <= 1:
        return 0.0
    topology = "line" if n == 2 else topology   # two chips: the closing link is the same pair
    counts = sorted((fit or CCL_FIT)[(op, topology)])
    if n not in counts and counts[0] < n < counts[-1]:
        lo = max(c for c in counts if c < n)
        hi = min(c for c in counts if c > n)
        t0, t1 = (ccl_time_ns(op, c, total_bytes, topology=topology, links=links, link_bw=link_bw, fit=fit)
                  for c in (lo, hi))
        return t0 + (t1 - t0) * (n - lo) / (hi - lo)
    setup, eff = _ccl_figures(op, topology, n, fit)
    directions = 2 if topology == "ring" else 1
    return setup + ccl_bottleneck_bytes(op, n, total_bytes) / (links * directions * eff * link_bw) * 1e9
