"""Sharded activations and program configs, chosen per shape on the cost model (`TorchTtnnOption(shard=...)`).

TT's optimized models (tt-metal models/demos/bert, vit) keep the activations between their linears and layer
norms block-sharded in L1: each core of a grid holds one [rows / grid_y, cols / grid_x] block, a
`MatmulMultiCoreReuseMultiCastProgramConfig` computes each core's output block where its input block already
is, and a `LayerNormShardedMultiCoreProgramConfig` normalises the rows of its block in place. The cost model
prices that (sim/cost.py): an L1-sharded operand costs no NoC or DRAM traffic, so a layer norm on sharded
input runs at its vector-engine rate; but a matmul on sharded operands pays the sharded host dispatch figure
(`sharded_dispatch_ns`), which matters when a program runs without trace and the host sets the pace.

What this pass does, after fusion and before L1 placement:

1. Candidates: per-call `linear`/`matmul` nodes whose B is a constant 2-D weight (A's rows fused over its
   batch, as `fuse_batch` does), `layer_norm` nodes, and residual `add`s of two same-shaped tensors one of
   which comes from a linear, norm or such add, all in TILE layout with known shapes. Every norm and add is
   sharded (its sharded kernel reads and writes shards); a linear's output is sharded when one of its users
   can read it so (a linear as its A, a norm or add). An input of a norm or add that is not sharded gets a
   `ttnn.to_memory_config` to the shard spec first; a user that cannot read shards (the head split, SDPA)
   reads an L1-interleaved copy; the transfer to the host reads shards as they are.
2. Regions: the sharded tensors joined through the ops between them; a linear reading a sharded tensor but
   writing an interleaved one (e.g. the QKV projection before the head split) belongs to its input's region.
3. Per region, each grid (x, y) within the device grid that splits every sharded tensor into whole tiles is
   priced: every op of the region, interleaved (as L1 placement leaves it) and with the grid's configs, plus
   the conversions the region needs, by the emulator's own model (`sim.cost.price` on the Work the op will
   declare). The cheapest grid whose shards fit L1 (alongside the other regions' shards, over their lifetimes, within `budget` of each core's bank) and
   whose matmul circular buffers fit the rest of the bank is kept (layer-norm subblocks at most 4 tiles, the
   limit tt-metal's sharded layernorm sets with float32 accumulation).
4. A region is sharded only when the model says the program gets faster: its device time drops, and either
   the program is traced (no dispatch), or its dispatch does not grow, or the program stays device-bound with
   certainty (a lower bound of its device time, over the linears and norms priced, still exceeds an upper
   bound of its dispatch, every device op at the interleaved figure) so the host never waits on dispatch.
   Otherwise the region stays interleaved: nothing is sharded that could make a call slower.

The attention head split and merge stay interleaved. TT-NN's sharded split (create_qkv_heads) takes a
block-sharded fused QKV with one batch per core along the height and writes height-sharded Q, K and V; its
sharded merge (nlp_concat_heads) reads height-sharded heads. Between them TT's hand-written BERT runs matmuls
and a sharded softmax on those shards, but the compiled attention is SDPA, which refuses sharded operands
(sdpa_device_operation: "DRAM/L1 interleaved"): Q, K and V would each need a conversion back to interleaved,
their bytes over the NoC again and a dispatch each, for a split that then saves about that much. The merge goes instead: SDPA writes the heads side by
side itself (compiler/fuse/attention.py, `sdpa_concat_heads`).

Every config emitted is checked the way the real op checks it (divisibility of M, N and K tiles by the
blocks, blocks within the grid, subblocks within the Dst registers, sharded outputs' subblock rule), so the
emulator, which runs those checks, accepts it; a shape that fits no grid or no L1 keeps today's placement.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch.fx as fx

from ..sim import cost as sim_cost
from ..sim import types as tt_types
from ..sim.operation import declare
from ..sim.ops.matmul import matmul_tiles_work
from ..sim.ops.unary import _ACTIVATION_STRINGS

TILE = 32
_PASSES = {"LoFi": 1, "HiFi2": 2, "HiFi3": 3, "HiFi4": 4}
_LINEAR_KW = frozenset({"bias", "compute_kernel_config", "dtype", "memory_config", "activation", "core_grid"})
_NORM_KW = frozenset({"epsilon", "weight", "bias", "residual_input_tensor", "compute_kernel_config",
                      "memory_config"})


@dataclass
class ShardStats:
    """What the pass did, for the run record: ops per config class, and why regions were left interleaved."""
    configs: dict = field(default_factory=dict)   # program config class name (or "interleaved") -> ops
    regions: int = 0                              # regions sharded
    rejected: dict = field(default_factory=dict)  # reason -> regions left interleaved
    saved_us: float = 0.0                         # estimated device time saved per call

    def as_dict(self) -> dict:
        return {"configs": dict(self.configs), "regions": self.regions, "rejected": dict(self.rejected),
                "saved_us": round(self.saved_us, 1)}


@dataclass(frozen=True)
class Grid:
    x: int
    y: int

    @property
    def cores(self) -> int:
        return self.x * self.y


@dataclass(frozen=True)
class Tiles:
    """A tensor as a 2-D TILE matrix: rows (leading dims fused, height padded) and columns, in tiles."""
    rows: int
    cols: int
    tile_bytes: int

    @classmethod
    def of(cls, n) -> "Tiles | None":
        shape, dtype, layout = n.meta.get("shape"), n.meta.get("dtype"), n.meta.get("layout")
        if shape is None or len(shape) < 2 or not all(isinstance(d, int) for d in shape) \
                or getattr(layout, "name", "") != "TILE":
            return None
        dt = tt_types.DataType.__members__.get(getattr(dtype, "name", ""))
        if dt is None:
            return None
        return cls(math.prod(shape[:-2]) * -(-shape[-2] // TILE), -(-shape[-1] // TILE), tt_types.tile_bytes(dt))

    @property
    def bytes(self) -> int:
        return self.rows * self.cols * self.tile_bytes


@dataclass
class Region:
    tensors: list            # nodes whose outputs are sharded
    readers: list            # linears reading a sharded tensor and writing an interleaved one
    to_sharded: list = field(default_factory=list)      # interleaved inputs of its norms: converted first
    to_interleaved: list = field(default_factory=list)  # its tensors some user reads interleaved: copied
    choice: "Choice | None" = None


@dataclass(frozen=True)
class Choice:
    grid: Grid
    delta_device_ns: float
    delta_dispatch_ns: float
    shard_bytes: dict        # node -> bytes per core


# --- candidates ---------------------------------------------------------------------------------------------
def _is_linear(n) -> bool:
    if not (n.op == "call_function" and n.meta.get("ttnn_name") in ("linear", "matmul") and n.meta.get("device")
            and not n.meta.get("const") and len(n.args) == 2 and not set(n.kwargs) - _LINEAR_KW):
        return False
    a, w = n.args
    if not (isinstance(a, fx.Node) and isinstance(w, fx.Node) and w.meta.get("const")):
        return False
    ws, act = w.meta.get("shape"), n.kwargs.get("activation")
    return (ws is not None and len(ws) == 2 and Tiles.of(a) is not None and Tiles.of(w) is not None
            and Tiles.of(n) is not None and (act is None or act in _ACTIVATION_STRINGS))


def _is_norm(n) -> bool:
    return (n.op == "call_function" and n.meta.get("ttnn_name") == "layer_norm" and n.meta.get("device")
            and not n.meta.get("const") and len(n.args) == 1 and not set(n.kwargs) - _NORM_KW
            and isinstance(n.args[0], fx.Node) and Tiles.of(n) is not None and Tiles.of(n.args[0]) is not None
            and (_residual(n) is None or (isinstance(_residual(n), fx.Node) and Tiles.of(_residual(n)) is not None)))


def _is_add(n) -> bool:
    """A per-call add of two same-shaped TILE tensors (a residual add), which the sharded eltwise kernel runs
    on matching shard specs."""
    if not (n.op == "call_function" and n.meta.get("ttnn_name") == "add" and n.meta.get("device")
            and not n.meta.get("const") and len(n.args) == 2 and not set(n.kwargs) - {"memory_config", "dtype"}):
        return False
    a, b = n.args
    return (isinstance(a, fx.Node) and isinstance(b, fx.Node) and a is not b and Tiles.of(n) is not None
            and a.meta.get("shape") == b.meta.get("shape") == n.meta.get("shape")
            and Tiles.of(a) is not None and Tiles.of(b) is not None)


def _residual(n):
    return n.kwargs.get("residual_input_tensor")


def _inputs(n) -> list:
    """The activations an elementwise region op (norm or add) reads sharded."""
    if n.meta.get("ttnn_name") == "layer_norm":
        return [i for i in (n.args[0], _residual(n)) if i is not None]
    return list(n.args)


def _reads_only_as_a(u, t) -> bool:
    """u reads t as its A and nowhere else."""
    return u.args[0] is t and all(a is not t for a in u.args[1:]) and all(v is not t for v in u.kwargs.values())


def _takes_sharded(t, u, elementwise: set, linears: set) -> bool:
    """u can read t block-sharded: a candidate linear as its A, or a norm/add as one of its activations."""
    if u in linears:
        return _reads_only_as_a(u, t)
    return u in elementwise and t in _inputs(u)


def _sharded_set(linears: set, norms: set, adds: set) -> set:
    """The ops whose outputs are sharded (step 1): every layer norm and every residual add one of whose inputs
    is a linear, norm or such add (their other inputs are converted to the shard spec), and every linear one of
    whose users can read it sharded (its other users get an interleaved copy)."""
    elementwise = set(norms)
    grown = True
    while grown:
        grown = False
        for n in adds - elementwise:
            if any(i in linears or i in elementwise for i in n.args):
                elementwise.add(n)
                grown = True
    return elementwise | {n for n in linears if any(_takes_sharded(n, u, elementwise, linears) for u in n.users)}


def _regions(graph: fx.Graph, sharded: set, linears: set) -> list[Region]:
    parent: dict = {}

    def find(x):
        while parent.get(x, x) is not x:
            x = parent[x]
        return x

    def union(a, b):
        parent[find(a)] = find(b)
    for t in sharded:
        for i in ([t.args[0]] if t in linears else _inputs(t)):
            if i in sharded:
                union(t, i)
    regions: dict = {}
    for n in graph.nodes:
        if n in sharded:
            regions.setdefault(find(n), Region([], [])).tensors.append(n)
    for n in graph.nodes:
        if n in linears and n not in sharded and n.args[0] in sharded:
            regions[find(n.args[0])].readers.append(n)
    for r in regions.values():
        members = set(r.tensors)
        r.to_sharded = list(dict.fromkeys(i for t in r.tensors if t not in linears for i in _inputs(t)
                                          if i not in members))
        r.to_interleaved = [t for t in r.tensors
                            if any(not _reads_sharded(t, u, members, linears) for u in t.users)]
    return list(regions.values())


def _reads_sharded(t, u, members: set, linears) -> bool:
    """In a region, u reads t sharded: a region's norm or add, a candidate linear reading t as A, or the
    transfer to the host (ttnn.to_torch reads a sharded buffer as it reads an interleaved one)."""
    if u.meta.get("transfer") == "d2h" and u.args and u.args[0] is t:
        return True
    if u in members and u not in linears:
        return t in _inputs(u)
    return u in linears and _reads_only_as_a(u, t)


# --- configs ------------------------------------------------------------------------------------------------
def _fp32_acc(n) -> bool:
    return bool(getattr(n.kwargs.get("compute_kernel_config"), "fp32_dest_acc_en", False))


def _passes(n) -> int:
    cfg = n.kwargs.get("compute_kernel_config")
    return _PASSES.get(getattr(getattr(cfg, "math_fidelity", None), "name", ""), 2)


def _divisors(n: int, most: int) -> list[int]:
    return [d for d in range(1, min(n, most) + 1) if n % d == 0]


def _subblock(per_core_m: int, per_core_n: int, registers: int) -> tuple[int, int]:
    """(out_subblock_h, out_subblock_w) within the Dst registers; a taller subblock only when its width spans
    per_core_N, which a sharded output requires (program_configs._check_sharded_output_subblocks)."""
    w = max(_divisors(per_core_n, registers))
    if w != per_core_n:
        return 1, w
    return max(d for d in _divisors(per_core_m, registers) if d * w <= registers), w


@dataclass(frozen=True)
class MatmulPlan:
    """A 2-D multicast config's numbers for one linear on one grid, and its circular-buffer bytes per core."""
    in0_block_w: int
    per_core_m: int
    per_core_n: int
    subblock: tuple
    cb_bytes: int


def _matmul_plan(n, grid: Grid, a_sharded: bool, out_sharded: bool, cb_limit: int) -> MatmulPlan | None:
    a, w = Tiles.of(n.args[0]), Tiles.of(n.args[1])
    out = Tiles.of(n)
    if a.rows % grid.y:
        return None
    pm = a.rows // grid.y
    pn = out.cols // grid.x if out_sharded else -(-out.cols // grid.x)
    k_local = a.cols // grid.x if a_sharded else a.cols
    registers = 4 if _fp32_acc(n) else 8
    sub = _subblock(pm, pn, registers)
    for kb in sorted(_divisors(k_local, 8), reverse=True):
        cb = 2 * kb * pn * w.tile_bytes + (0 if a_sharded else 2 * pm * kb * a.tile_bytes) \
            + (0 if out_sharded else pm * pn * out.tile_bytes)
        if _fp32_acc(n):
            cb += pm * pn * 4096   # the float32 partials between K blocks
        if cb <= cb_limit:
            return MatmulPlan(kb, pm, pn, sub, cb)
    return None


def _shard_memory_config(ttnn, t: Tiles, grid: Grid):
    core_range = ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(grid.x - 1, grid.y - 1))
    spec = ttnn.ShardSpec(ttnn.CoreRangeSet({core_range}), [t.rows // grid.y * TILE, t.cols // grid.x * TILE],
                          ttnn.ShardOrientation.ROW_MAJOR)
    return ttnn.MemoryConfig(ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1, spec)


def _fused_activation(ttnn, name: str | None):
    if name is None:
        return None
    op, *params = _ACTIVATION_STRINGS[name]
    return ttnn.UnaryWithParam(getattr(ttnn.UnaryOpType, op), *params)


# --- pricing (the emulator's own model) ----------------------------------------------------------------------
class _Pricer:
    def __init__(self, spec):
        self.spec = spec

    def _operand(self, n, storage, cores=None):
        t = Tiles.of(n)
        return sim_cost.Operand(t.bytes, storage, t.tile_bytes, cores)

    def _dram(self, n):
        return self._operand(n, sim_cost.Storage.DRAM) if isinstance(n, fx.Node) and Tiles.of(n) else None

    def linear(self, n, grid: Grid | None = None, a_sharded=False, out_sharded=False, plan=None):
        a, w = n.args
        ot = Tiles.of(n)
        cores = grid.cores if grid else None
        sh, l1 = sim_cost.Storage.L1_SHARDED, sim_cost.Storage.L1
        ops = [self._operand(a, sh if a_sharded else l1, cores if a_sharded else None), self._dram(w)]
        bias = self._dram(n.kwargs.get("bias"))
        ops += [bias] if bias is not None else []
        ops.append(self._operand(n, sh if out_sharded else l1, cores if out_sharded else None))
        shape_a, shape_b = n.args[0].meta["shape"], w.meta["shape"]
        batch = math.prod(shape_a[:-2])
        pc = None if plan is None else _PlanView(grid, plan)
        mm = matmul_tiles_work(self.spec.grid, batch, shape_a[-2], shape_a[-1], shape_b[-1], _passes(n), _fp32_acc(n),
                               pc, None if pc else n.kwargs.get("core_grid"))
        act = n.kwargs.get("activation") is not None and (plan is not None or n.kwargs.get("core_grid") is not None)
        work = declare(ops, flops=1.0, matmul=mm, sfpu_ops=ot.rows * ot.cols * 1024 if act else 0.0,
                       sfpu_cycles=10.0 if act else 1.0)
        return sim_cost.price(n.meta.get("ttnn_name"), work, self.spec)

    def norm(self, n, grid: Grid | None = None):
        storage = sim_cost.Storage.L1_SHARDED if grid else sim_cost.Storage.L1
        cores = grid.cores if grid else None
        ops = [self._operand(n.args[0], storage, cores)]
        ops += [o for o in (self._dram(n.kwargs.get("weight")), self._dram(n.kwargs.get("bias"))) if o is not None]
        r = _residual(n)
        if r is not None:
            ops.append(self._operand(r, storage, cores))
        ops.append(self._operand(n, storage, cores))
        t = Tiles.of(n)
        work = declare(ops, flops=1.0, sfpu_ops=t.rows * t.cols * 1024, sfpu_cycles=2)
        return sim_cost.price("layer_norm", work, self.spec)

    def add(self, n, grid: Grid | None = None):
        storage = sim_cost.Storage.L1_SHARDED if grid else sim_cost.Storage.L1
        cores = grid.cores if grid else None
        ops = [self._operand(i, storage, cores) for i in (*n.args, n)]
        t = Tiles.of(n)
        return sim_cost.price("add", declare(ops, flops=float(t.rows * t.cols * 1024)), self.spec)

    def convert(self, n, grid: Grid, to_sharded: bool):
        """ttnn.to_memory_config between L1-interleaved and this grid's block shards."""
        sharded = self._operand(n, sim_cost.Storage.L1_SHARDED, grid.cores)
        flat = self._operand(n, sim_cost.Storage.L1)
        ops = [flat, sharded] if to_sharded else [sharded, flat]
        return sim_cost.price("to_memory_config", declare(ops), self.spec)


@dataclass(frozen=True)
class _PlanView:
    """What matmul_tiles_work reads of a program config."""
    grid: Grid
    plan: MatmulPlan

    @property
    def compute_with_storage_grid_size(self):
        return tt_types.CoreCoord(self.grid.x, self.grid.y)

    @property
    def per_core_M(self):
        return self.plan.per_core_m

    @property
    def per_core_N(self):
        return self.plan.per_core_n


def _figures(rec) -> tuple[float, float]:
    return rec.device_side_ns, rec.dispatch_ns if rec.time_ns else 0.0


# --- the pass -----------------------------------------------------------------------------------------------
class _Planner:
    def __init__(self, graph, ttnn, spec, device_grid: Grid, bank_bytes: int, budget: float, trace: bool):
        self.graph, self.ttnn, self.spec, self.trace = graph, ttnn, spec, trace
        self.device_grid = device_grid
        self.limit = int(bank_bytes * budget)
        self.cb_limit = bank_bytes - self.limit
        self.nodes = list(graph.nodes)
        self.order = {n: i for i, n in enumerate(self.nodes)}
        # last use of each value, fixed before any region inserts conversions
        self.ends = {n: max((self.order[u] for u in n.users), default=i) for i, n in enumerate(self.nodes)}
        self.usage = [0] * len(self.nodes)
        self.price = _Pricer(spec)

    def grids(self, region: Region):
        for gy in range(1, self.device_grid.y + 1):
            for gx in range(1, self.device_grid.x + 1):
                g = Grid(gx, gy)
                if all(Tiles.of(t).rows % gy == 0 and Tiles.of(t).cols % gx == 0 for t in region.tensors):
                    yield g

    def evaluate(self, region: Region, grid: Grid) -> Choice | None:
        """The region on this grid: its device-time and dispatch deltas on the cost model, or None when a
        config does not exist or the shards do not fit L1."""
        if any(Tiles.of(t) is None for t in region.to_sharded):
            return None
        sharded = set(region.tensors)
        shard_bytes = {t: Tiles.of(t).bytes // grid.cores for t in region.tensors}
        for t in region.to_sharded:      # the sharded copy lives as long as the tensor it copies (at most)
            shard_bytes[("copy", t)] = Tiles.of(t).bytes // grid.cores
        for t in region.to_interleaved:
            tl = Tiles.of(t)
            shard_bytes[("copy", t)] = -(-tl.rows * tl.cols // self.device_grid.cores) * tl.tile_bytes
        if not self._fits_together(shard_bytes):
            return None
        d_dev = d_disp = 0.0
        for n in region.tensors + region.readers:
            if n.meta.get("ttnn_name") == "layer_norm":
                before, after = self.price.norm(n), self.price.norm(n, grid)
            elif n.meta.get("ttnn_name") == "add":
                before, after = self.price.add(n), self.price.add(n, grid)
            else:
                a_sh, o_sh = n.args[0] in sharded, n in sharded
                plan = _matmul_plan(n, grid, a_sh, o_sh, self.cb_limit)
                if plan is None:
                    return None
                before, after = self.price.linear(n), self.price.linear(n, grid, a_sh, o_sh, plan)
            (bd, bs), (ad, as_) = _figures(before), _figures(after)
            d_dev += ad - bd
            d_disp += as_ - bs
        for t in region.to_sharded:
            d, disp = _figures(self.price.convert(t, grid, to_sharded=True))
            d_dev, d_disp = d_dev + d, d_disp + disp
        for t in region.to_interleaved:
            d, disp = _figures(self.price.convert(t, grid, to_sharded=False))
            d_dev, d_disp = d_dev + d, d_disp + disp
        return Choice(grid, d_dev, d_disp, shard_bytes)

    def lifetime(self, n) -> range:
        if isinstance(n, tuple):     # a conversion's copy: within its source's lifetime
            n = n[1]
        return range(self.order[n], self.ends[n] + 1)

    def _fits_together(self, shard_bytes: dict) -> bool:
        extra = [0] * len(self.nodes)
        for t, b in shard_bytes.items():
            for i in self.lifetime(t):
                extra[i] += b
        return all(u + e <= self.limit for u, e in zip(self.usage, extra))

    def commit(self, choice: Choice):
        for t, b in choice.shard_bytes.items():
            for i in self.lifetime(t):
                self.usage[i] += b

    def program_bounds(self) -> tuple[float, float]:
        """(a lower bound of the call's device time: its linears and norms, interleaved; an upper bound of its
        dispatch: every per-call device op at the interleaved figure)."""
        device = 0.0
        ops = 0
        for n in self.nodes:
            if n.op != "call_function" or n.meta.get("const") or n.meta.get("transfer") \
                    or not n.meta.get("device") or n.meta.get("ttnn_name") in (None, "deallocate"):
                continue
            ops += 1
            if _is_linear(n):
                device += self.price.linear(n).device_side_ns
            elif _is_norm(n):
                device += self.price.norm(n).device_side_ns
        return device, ops * self.spec.cost.dispatch_ns


def shard(graph: fx.Graph, ttnn, device, *, trace: bool = False, budget: float = 0.5) -> ShardStats:
    """Choose sharded placements and program configs (module docstring); returns what it did."""
    spec = _spec(device)
    g = device.compute_with_storage_grid_size()
    bank = spec.l1_bank_size if spec is not None else 1400 * 1024
    stats = ShardStats()
    if spec is None:
        stats.rejected["no cost figures for this device"] = 1
        return stats
    planner = _Planner(graph, ttnn, spec, Grid(g.x, g.y), bank, budget, trace)
    nodes = planner.nodes
    linears = {n for n in nodes if _is_linear(n)}
    norms = {n for n in nodes if _is_norm(n)}
    adds = {n for n in nodes if _is_add(n)}
    regions = _regions(graph, _sharded_set(linears, norms, adds), linears)
    device_ns, dispatch_ns = planner.program_bounds()
    chosen = []
    for region in regions:
        best = None
        for grid in planner.grids(region):
            c = planner.evaluate(region, grid)
            if c is not None and (best is None or c.delta_device_ns < best.delta_device_ns):
                best = c
        if best is None:
            stats.rejected["no grid fits (tiles or L1)"] = stats.rejected.get("no grid fits (tiles or L1)", 0) + 1
            continue
        region.choice = best
        chosen.append(region)
    for region in sorted(chosen, key=lambda r: r.choice.delta_device_ns):
        c = region.choice
        # the shards of regions committed so far take L1 too
        if not planner._fits_together(c.shard_bytes):
            _count(stats.rejected, "L1 taken by other regions")
            continue
        if c.delta_device_ns >= 0:
            _count(stats.rejected, "not faster on the cost model")
            continue
        device_bound = device_ns + c.delta_device_ns >= dispatch_ns + c.delta_dispatch_ns
        if not (trace or c.delta_dispatch_ns <= 0 or device_bound):
            _count(stats.rejected, "more dispatch than it saves (not traced, may be dispatch-bound)")
            continue
        planner.commit(c)
        device_ns += c.delta_device_ns
        dispatch_ns += c.delta_dispatch_ns
        stats.saved_us -= c.delta_device_ns / 1e3
        stats.regions += 1
        _apply(ttnn, graph, region, c.grid, planner.cb_limit, planner.device_grid.cores, linears, stats)
    left = sum(1 for n in linears if "program_config" not in n.kwargs)
    if left:
        stats.configs["interleaved (TT-NN's own config)"] = left
    return stats


def will_trace(graph: fx.Graph) -> bool:
    """Whether the executor can replay this graph's per-call ops from a trace (compiler/trace.py `split`): no
    input already on the device, and no host work or transfer between the first and last device op. The pass
    judges a region on traced time only then; a program that runs untraced pays every dispatch."""
    steps = []
    for n in graph.nodes:
        if n.op == "placeholder" and n.meta.get("on_device"):
            return False
        if n.op == "call_function" and not n.meta.get("const") and n.meta.get("ttnn_name") != "deallocate":
            steps.append(bool(n.meta.get("device")) and not n.meta.get("transfer"))
    dev = [i for i, d in enumerate(steps) if d]
    return bool(dev) and all(steps[dev[0]:dev[-1] + 1])


def _count(d: dict, key: str):
    d[key] = d.get(key, 0) + 1


def _apply(ttnn, graph: fx.Graph, region: Region, grid: Grid, cb_limit: int, banks: int, linears: set,
           stats: ShardStats):
    sharded = set(region.tensors)
    xy = ttnn.CoreCoord(grid.x, grid.y)
    for t in region.to_interleaved:  # users that cannot read the shards read an L1-interleaved copy
        readers = [u for u in t.users if not _reads_sharded(t, u, sharded, linears)]
        copy = _convert(ttnn, graph, t, ttnn.L1_MEMORY_CONFIG, stats)
        copy.meta["l1_shard_bytes"] = -(-Tiles.of(t).rows * Tiles.of(t).cols // banks) * Tiles.of(t).tile_bytes
        for u in readers:
            u.replace_input_with(t, copy)
    for t in region.to_sharded:      # the norms' and adds' interleaved inputs, sharded on the region's grid
        copy = _convert(ttnn, graph, t, _shard_memory_config(ttnn, Tiles.of(t), grid), stats)
        copy.meta["l1_shard_bytes"] = Tiles.of(t).bytes // grid.cores
        for u in list(t.users):
            if u in sharded and u not in linears:
                u.replace_input_with(t, copy)
    for n in region.tensors:
        n.meta["l1_shard_bytes"] = Tiles.of(n).bytes // grid.cores
        if n in linears:
            continue
        mc = _shard_memory_config(ttnn, Tiles.of(n), grid)
        if n.meta.get("ttnn_name") == "layer_norm":
            t = Tiles.of(n)
            bw = t.cols // grid.x
            cfg = ttnn.LayerNormShardedMultiCoreProgramConfig(
                compute_with_storage_grid_size=xy, subblock_w=max(_divisors(bw, 4)), block_h=t.rows // grid.y,
                block_w=bw, inplace=False)
            n.kwargs = {**n.kwargs, "memory_config": mc, "program_config": cfg}
            _count(stats.configs, type(cfg).__name__)
        else:
            n.kwargs = {**n.kwargs, "memory_config": mc}
            _count(stats.configs, "add (block-sharded)")
    for n in region.tensors + region.readers:
        if n not in linears:
            continue
        plan = _matmul_plan(n, grid, n.args[0] in sharded, n in sharded, cb_limit)
        kw = {k: v for k, v in n.kwargs.items() if k not in ("activation", "core_grid")}
        kw["program_config"] = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
            compute_with_storage_grid_size=xy, in0_block_w=plan.in0_block_w, out_subblock_h=plan.subblock[0],
            out_subblock_w=plan.subblock[1], per_core_M=plan.per_core_m, per_core_N=plan.per_core_n,
            transpose_mcast=False, fused_activation=_fused_activation(ttnn, n.kwargs.get("activation")),
            fuse_batch=True)
        if n in sharded:
            kw["memory_config"] = _shard_memory_config(ttnn, Tiles.of(n), grid)
        n.kwargs = kw
        _count(stats.configs, type(kw["program_config"]).__name__)


def _convert(ttnn, graph: fx.Graph, t: fx.Node, memory_config, stats: ShardStats) -> fx.Node:
    with graph.inserting_after(t):
        c = graph.call_function(ttnn.to_memory_config, (t,), {"memory_config": memory_config})
    c.meta.update(ttnn_name="to_memory_config", device=True, const=False, kept=False, converts=True,
                  shape=t.meta.get("shape"), dtype=t.meta.get("dtype"), layout=t.meta.get("layout"))
    for k in ("aten", "aten_node", "rule"):
        if k in t.meta:
            c.meta[k] = t.meta[k]
    _count(stats.configs, "to_memory_config (reshard)")
    return c


def _spec(device):
    """The device's ArchSpec (the emulator's), or for a real device the emulated card with its compute grid
    (Wormhole 8x8, Blackhole 12x10); None if no card matches."""
    spec = getattr(device, "spec", None)
    if spec is not None and hasattr(spec, "cost"):
        return spec
    from ..sim.device import ARCHS
    g = device.compute_with_storage_grid_size()
    return next((s for s in ARCHS.values() if (s.grid.x, s.grid.y) == (g.x, g.y)), None)
