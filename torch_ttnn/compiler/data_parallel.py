"""Data parallel on a mesh: the batch split over the chips, each chip running the graph on its part.

The choice: ONE program at the per-chip batch, run on every chip by the mesh dispatch. Dynamo traces the model
at the batch it was called with and bakes that size into the graph (`view(x, [8, 128, 12, 64])`, `ones([8,
128])`, `expand(mask, [8, 1, 128, 128])`). Running the full-batch program on every chip would make each chip do
the whole batch's work; tracing again per chip is impossible from a backend (it gets the graph, not the
model). So the ATen graph is rewritten for the per-chip batch b = ceil(B / chips), once, at compile time:

  1. Probe. The graph is run on fake tensors with the batch inputs at a different size P (P != B). Each
     value whose shape changes has a batch dim: exactly one dim whose size is B*k traced and P*k probed (k > 1
     where the batch is merged with another dim, e.g. batch x heads, always as its outer factor). The shape
     literals that carry the batch are rewritten on the way: a view/reshape of a batched value (where its batch
     lands in the new shape follows from the flat row-major layout), an expand of a batched value, or of a
     batch-free one broadcast over a leading batch dim, creation ops (`ones`, `zeros`, `full`, `empty`, `new_*`)
     sized by the batch in dim 0, `arange(batch)` (a batch index, as transformers' mask code makes), and a
     slice over the batch dim that keeps all of it. A literal equal to the batch in a batch-free value may be
     something else (a sequence length equal to the batch; any size 1 at batch 1): when the graph does not fit
     with such literals taken for the batch, they are left alone (READINGS), and the value broadcasts.
  2. Check. A value computed from batched values that has no batch dim (a reduction over the batch, a
     select of one sample, a loss) is not data parallel: a clear error names the op. So is a value whose shape
     changes in more than one dim.
  3. Rewrite at b: the same rules give the per-chip graph and its fake values, checked to be the traced shapes
     with each batch dim scaled to b.

The per-chip graph is lowered as usual with the mesh as the device (compiler.mesh.MeshIO): batch inputs are
split with `ShardTensorToMesh` over dim 0 (over one mesh axis with `data_parallel_axis`, replicated along the
other), everything else (parameters, once, as constants) replicated, and every output gathered along its batch
dim. A batch that does not divide is padded by repeating its last sample (repeat, not zeros: a padded row is a
valid input, so no NaN from an all-masked attention row can appear); the padded rows are dropped from the
outputs and counted in the metrics; `pad_batch=False` makes it an error instead.

Inference only: a backward graph's weight gradients sum over the batch, which this refuses (the gradients
would need an all_reduce over the chips).

Where this is kinder than it should be: CPU fallback ops see the gathered (padded) batch and run once on the
host; a fallback whose arguments carry the per-chip batch fails at run time. Graphs with symbolic shapes are
not split (compile with dynamic=False).
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
from torch._subclasses.fake_tensor import FakeTensorMode

aten = torch.ops.aten


class DataParallelError(ValueError):
    """The graph (or the batch) cannot be split over the chips; the message says why and what to do."""


@dataclass(frozen=True)
class BatchDim:
    """Where a value's batch lies: dim `dim`, whose size is batch * `inner` (inner > 1: merged dims)."""
    dim: int
    inner: int = 1


@dataclass
class BatchSplit:
    """The data-parallel plan of one compiled graph."""
    batch: int                       # B, as traced
    chips: int                       # chips the batch is split over
    per_chip: int                    # b = ceil(B / chips): the batch each chip's program runs
    inputs: tuple[int, ...]          # graph input positions split over dim 0
    outputs: tuple                   # per graph output: BatchDim or None (the same on every chip)
    gm: fx.GraphModule = None        # the per-chip ATen graph
    metas: dict = field(default_factory=dict)        # its nodes' fake values at the per-chip batch
    placement: dict = field(default_factory=dict)    # id(per-chip fake value) -> batch dim (MeshIO)

    @property
    def padded(self) -> int:
        return self.per_chip * self.chips

    @property
    def pad(self) -> int:
        return self.padded - self.batch

    def pad_inputs(self, args) -> list:
        """The call's batch inputs padded to chips x per-chip batch by repeating their last sample."""
        args = list(args)
        for i in self.inputs:
            x = args[i]
            if x.shape[0] != self.batch:
                raise DataParallelError(f"data parallel: input {i} has batch {x.shape[0]}, the graph was split "
                                        f"for batch {self.batch}")
            if self.pad:
                args[i] = torch.cat([x, x[-1:].expand(self.pad, *x.shape[1:])], dim=0)
        return args

    def unpad_outputs(self, outs) -> list:
        """The outputs with the padded samples dropped (each along its batch dim)."""
        if not self.pad:
            return outs
        res = list(outs)
        for i, (o, bd) in enumerate(zip(res, self.outputs)):
            if bd is not None and isinstance(o, torch.Tensor):
                res[i] = o.narrow(bd.dim, 0, self.batch * bd.inner)
        return res

    def transfer_bytes(self, args, outs) -> dict:
        """Host bytes of one call's batch inputs (padded, split over the chips) and outputs (gathered): what
        crosses PCIe every call; parameters cross once. The emulator has no PCIe time model, so bytes, not time."""
        def nbytes(t):
            return t.numel() * t.element_size() if isinstance(t, torch.Tensor) else 0
        return {"h2d_bytes": sum(nbytes(args[i]) for i in self.inputs),
                "d2h_bytes": sum(nbytes(o) for o in outs)}

    def as_dict(self) -> dict:
        return {"batch": self.batch, "chips": self.chips, "per_chip_batch": self.per_chip, "padded_batch":
                self.padded, "padding": self.pad, "split_inputs": list(self.inputs)}


# --- rewriting shape literals for another batch ------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """Which batch-sized literals of batch-free values are taken for the batch (tried in READINGS' order)."""
    arange: str        # arange(batch) is a batch index: "index" (only those that index a batch input's batch
    #                    dim, found from the graph: `_batch_index_aranges`), "all" or "none"
    broadcast: bool    # expand to [batch, ...] and ones/zeros/full/empty([batch, ...])


# Most to least: a literal equal to the batch may be something else (a sequence length equal to it; a size 1
# with batch 1), which the probe finds when the graph then does not fit; a batch-free value broadcasts anyway.
# "index" first: where the batch equals the sequence length, transformers' mask code makes both arange(batch)
# (the batch index into the attention mask) and arange(seq) (positions); only the one that indexes the mask's
# batch dim is the batch, and the graph says which.
READINGS = tuple(Reading(a, b) for b in (True, False) for a in ("index", "all", "none"))

_VIEWS = {aten.view.default, aten._unsafe_view.default, aten.reshape.default}
_CREATE = {aten.full.default: 0, aten.zeros.default: 0, aten.ones.default: 0, aten.empty.memory_format: 0,
           aten.new_zeros.default: 1, aten.new_ones.default: 1, aten.new_empty.default: 1,
           aten.new_full.default: 1}


def _prod(xs) -> int:
    return math.prod(int(x) for x in xs)


def _view_batch(in_shape, bd: BatchDim, out_shape, batch: int) -> BatchDim | None:
    """Where a batch at `bd` of a row-major `in_shape` lands in `out_shape`: the dim j whose outer elements are
    the batch's outer elements and whose size is batch * inner' with the same element stride."""
    outer = _prod(in_shape[:bd.dim])
    stride = bd.inner * _prod(in_shape[bd.dim + 1:])
    for j, s in enumerate(out_shape):
        if _prod(out_shape[:j]) == outer and s % batch == 0 and (s // batch) * _prod(out_shape[j + 1:]) == stride:
            return BatchDim(j, s // batch)
    return None


class _Splitter:
    """One pass over the graph at batch `target` (module docstring): rewritten args and fake values."""

    def __init__(self, gm, metas, inputs, batch, target, known=None, reading=READINGS[0]):
        self.gm, self.metas, self.inputs, self.batch, self.target = gm, metas, set(inputs), batch, target
        self.arange = reading.arange          # which arange(batch) are a batch index (transformers' mask code)
        self.batch_index = _batch_index_aranges(gm, self.inputs, batch) if reading.arange == "index" else set()
        self.broadcast = reading.broadcast    # a batch-sized literal of a batch-free value is the batch
        self.known = known                 # node -> batch dims found by the probe (None: find them now)
        self.vals, self.bdims, self.new_args = {}, {}, {}

    def scaled(self, shape, bd: BatchDim | None):
        shape = list(shape)
        if bd is not None:
            shape[bd.dim] = self.target * bd.inner
        return shape

    def run(self):
        mode = FakeTensorMode(allow_non_fake_inputs=True)
        with mode:
            pos = 0
            for n in self.gm.graph.nodes:
                if n.op == "placeholder":
                    self._placeholder(n, pos)
                    pos += 1
                elif n.op == "get_attr":
                    self.vals[n], self.bdims[n] = getattr(self.gm, n.target), None
                elif n.op == "call_function":
                    self._call(n)
        return self

    def _placeholder(self, n, pos):
        m = self.metas[n]
        if not isinstance(m, torch.Tensor):
            self.vals[n], self.bdims[n] = m, None
            return
        bd = BatchDim(0) if pos in self.inputs else None
        self.vals[n] = torch.empty(self.scaled(m.shape, bd), dtype=m.dtype)
        self.bdims[n] = bd

    def _arg(self, a):
        return fx.node.map_aggregate(a, lambda x: self.vals[x] if isinstance(x, fx.Node) else x)

    def _call(self, n):
        if n.target is operator.getitem:
            self.vals[n] = self.vals[n.args[0]][n.args[1]]
            parent = self.bdims[n.args[0]]
            self.bdims[n] = parent[n.args[1]] if isinstance(parent, (list, tuple)) else None
            return
        args = self._rewrite(n)
        if args is not None:
            self.new_args[n] = args
        args = args if args is not None else n.args
        try:
            self.vals[n] = n.target(*self._arg(args), **self._arg(dict(n.kwargs)))
        except Exception as e:
            raise DataParallelError(f"data parallel: the graph cannot run at a per-chip batch of {self.target} "
                                    f"(traced at {self.batch}): {n.format_node()} failed: {type(e).__name__}: "
                                    f"{e}") from None
        self.bdims[n] = self.known[n] if self.known is not None else self._find(n)
        self._check(n)

    def _batched_inputs(self, n) -> bool:
        def has(b):
            return b is not None and (not isinstance(b, (list, tuple)) or any(has(x) for x in b))
        return any(has(self.bdims.get(x)) for x in n.all_input_nodes)

    def _find(self, n):
        """Batch dims of a node's value(s): where the probed shape differs from the traced one."""
        def one(full, new):
            if not isinstance(full, torch.Tensor):
                return None
            diff = [d for d, (a, b) in enumerate(zip(full.shape, new.shape)) if a != b]
            if full.dim() != new.dim() or len(diff) > 1:
                raise DataParallelError(f"data parallel: {n.format_node()} changes shape {list(full.shape)} -> "
                                        f"{list(new.shape)} with the batch: not one batch dim; run this model "
                                        f"without data_parallel")
            if not diff:
                return None
            d = diff[0]
            if full.shape[d] % self.batch or new.shape[d] % self.target or \
                    full.shape[d] // self.batch != new.shape[d] // self.target:
                raise DataParallelError(f"data parallel: {n.format_node()} dim {d} is {full.shape[d]} at batch "
                                        f"{self.batch} but {new.shape[d]} at {self.target}: not proportional to "
                                        f"the batch")
            return BatchDim(d, int(full.shape[d]) // self.batch)
        full, new = self.metas[n], self.vals[n]
        if isinstance(full, (list, tuple)):
            return [one(f, v) for f, v in zip(full, new)]
        return one(full, new)

    def _check(self, n):
        bd, val = self.bdims[n], self.vals[n]
        items = list(zip(bd, val)) if isinstance(bd, (list, tuple)) else [(bd, val)]
        if self._batched_inputs(n) and any(b is None and isinstance(v, torch.Tensor) and v.dim() > 0
                                           for b, v in items):
            raise DataParallelError(f"data parallel: {n.format_node()} makes a value with no batch dim from "
                                    f"batched values (a reduction over the batch, one sample picked, a loss, a "
                                    f"weight gradient): each chip would compute it from its own samples only. "
                                    f"Compute it outside the compiled model, or run without data_parallel (it is "
                                    f"for inference: training would need the gradients all-reduced over the "
                                    f"chips, which is not done)")
        if self.known is not None:   # the per-chip pass: the shapes must be the traced ones, batch scaled
            for (b, v), full in zip(items, self.metas[n] if isinstance(bd, (list, tuple)) else [self.metas[n]]):
                if isinstance(v, torch.Tensor) and list(v.shape) != self.scaled(full.shape, b):
                    raise DataParallelError(f"data parallel: {n.format_node()} has shape {list(v.shape)} at a "
                                            f"per-chip batch of {self.target}, expected "
                                            f"{self.scaled(full.shape, b)}")

    def _rewrite(self, n):
        """The node's args with the batch-carrying shape literals set for the target batch (None: unchanged)."""
        t, args, B = n.target, list(n.args), self.batch
        full = self.metas[n]
        if t in _VIEWS:
            src = self.bdims.get(args[0])
            if src is None:
                return None
            bd = _view_batch(self.metas[args[0]].shape, src, list(full.shape), B)
            if bd is None:
                raise DataParallelError(f"data parallel: {n.format_node()} mixes the batch dim with others "
                                        f"(shape {list(self.metas[args[0]].shape)} -> {list(full.shape)}); run "
                                        f"this model without data_parallel")
            args[1] = self.scaled(full.shape, bd)
            return tuple(args)
        if t is aten.expand.default:
            src = self.bdims.get(args[0])
            sizes, x = list(args[1]), self.metas[args[0]]
            if src is not None:
                j = src.dim + len(sizes) - x.dim()
                sizes[j] = self.target * src.inner
            elif self.broadcast and sizes and sizes[0] == B and (len(sizes) > x.dim() or x.shape[0] == 1):
                sizes[0] = self.target       # a batch-free value broadcast over a leading batch dim
            else:
                return None
            args[1] = sizes
            return tuple(args)
        if t in _CREATE and self.broadcast:
            i = _CREATE[t]
            sizes = list(args[i])
            if sizes and sizes[0] == B:
                sizes[0] = self.target
                args[i] = sizes
                return tuple(args)
            return None
        if t in (aten.arange.default, aten.arange.start) and (self.arange == "all" or n in self.batch_index):
            i = 0 if t is aten.arange.default else 1
            if args[i] == B and (i == 0 or args[0] == 0):
                args[i] = self.target
                return tuple(args)
            return None
        if t is aten.slice.Tensor:
            src = self.bdims.get(args[0])
            dim = args[1] if len(args) > 1 else 0
            x = self.metas[args[0]]
            if src is None or dim % x.dim() != src.dim:
                return None
            start = args[2] if len(args) > 2 else None
            end = args[3] if len(args) > 3 else None
            step = args[4] if len(args) > 4 else 1
            if start in (None, 0) and (end is None or end >= x.shape[src.dim]) and step == 1:
                return None   # the whole batch kept: the same at any batch
            raise DataParallelError(f"data parallel: {n.format_node()} slices the batch dim; run this model "
                                    f"without data_parallel")
        return None


# Ops that keep a value's dims in place (a batch input through them still has its batch in dim 0), and ops a
# batch index passes through on its way from arange to an index op (shape changes, an offset, a dtype change).
_KEEP_DIMS = {aten._to_copy.default, aten.clone.default, aten.alias.default, aten.lift_fresh_copy.default,
              aten.detach.default, aten.contiguous.default}
_INDEX_PATH = _KEEP_DIMS | _VIEWS | {aten.unsqueeze.default, aten.expand.default, aten.add.Tensor,
                                     aten.add.Scalar, aten.sub.Tensor, aten.sub.Scalar}


def _batch_index_aranges(gm, inputs, batch: int) -> set:
    """The arange(batch) nodes that index the batch dim of a batch input: `index(mask, [arange(B)[:, None, ..],
    ...])`, as transformers' attention-mask code gathers a [batch, kv] padding mask. Such an arange is the
    batch, whatever other arange of the same size (a sequence as long as the batch) is."""
    phs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    batched = {phs[i] for i in inputs}
    found: set = set()
    for n in gm.graph.nodes:
        if n.op != "call_function":
            continue
        if n.target in _KEEP_DIMS and n.args and n.args[0] in batched:
            batched.add(n)
        elif n.target is aten.index.Tensor and n.args[0] in batched and n.args[1] and \
                isinstance(n.args[1][0], fx.Node):
            x = n.args[1][0]
            while x.op == "call_function" and x.target in _INDEX_PATH:
                x = x.args[0]
                if not isinstance(x, fx.Node):
                    break
            if isinstance(x, fx.Node) and x.op == "call_function" and (
                    (x.target is aten.arange.default and x.args[0] == batch) or
                    (x.target is aten.arange.start and x.args[:2] == (0, batch))):
                found.add(x)
    return found


def _batch_inputs(gm, metas, kinds) -> tuple[int, tuple[int, ...]]:
    """The traced batch and the inputs that carry it in dim 0."""
    phs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    cand = [(i, metas[n]) for i, n in enumerate(phs) if kinds[i] in ("input", "state")
            and isinstance(metas[n], torch.Tensor) and metas[n].dim() >= 1]
    if not cand:
        raise DataParallelError("data parallel: the compiled graph has no tensor input to split over the chips")
    # the batch is dim 0 of the first input of rank >= 2 (token ids, images); a rank-1 input of that size is
    # split only when every input is rank 1 (a position vector as long as the batch is not a batch)
    ranked = [(i, m) for i, m in cand if m.dim() >= 2] or cand
    batch = ranked[0][1].shape[0]
    if not isinstance(batch, int):
        raise DataParallelError("data parallel: the graph has a symbolic batch size (dynamic shapes); compile "
                                "with torch.compile(..., dynamic=False) to split it over the chips")
    return int(batch), tuple(i for i, m in ranked if m.shape[0] == batch)


def split(gm: fx.GraphModule, metas: dict, kinds: list[str], chips: int, pad: bool) -> BatchSplit:
    """The per-chip graph of `gm` for `chips` chips (module docstring)."""
    batch, inputs = _batch_inputs(gm, metas, kinds)
    per_chip = -(-batch // chips)
    if batch % chips and not pad:
        raise DataParallelError(f"data parallel: batch {batch} cannot be split evenly over {chips} chips and "
                                f"pad_batch=False: use a batch that is a multiple of {chips}, or leave "
                                f"pad_batch=True (the batch is padded to {per_chip * chips})")
    first = None
    has_index = bool(_batch_index_aranges(gm, inputs, batch))
    for reading in READINGS:   # the first reading of the batch-sized literals under which the graph fits
        if reading.arange == "index" and not has_index:
            continue           # nothing to tell apart: the older readings, in their order
        try:
            probe = _Splitter(gm, metas, inputs, batch, batch + 1, reading=reading).run()
            break
        except DataParallelError as e:
            first = first or e
    else:
        raise first
    final = _Splitter(gm, metas, inputs, batch, per_chip, known=probe.bdims, reading=reading).run()
    out_node = next(n for n in gm.graph.nodes if n.op == "output")
    outs = tuple(probe.bdims.get(o) if isinstance(o, fx.Node) else None for o in out_node.args[0])
    for i, (o, bd) in enumerate(zip(out_node.args[0], outs)):
        if isinstance(bd, (list, tuple)):
            raise DataParallelError(f"data parallel: output {i} is a list of tensors; not supported")
    graph = fx.Graph()
    env: dict = {}
    out = graph.graph_copy(gm.graph, env)
    graph.output(out)
    for old, args in final.new_args.items():
        env[old].args = fx.node.map_arg(args, env.__getitem__)
    pc_gm = fx.GraphModule(gm, graph)
    plan = BatchSplit(batch, chips, per_chip, inputs, outs, pc_gm)
    for old, new in env.items():
        v, bd = final.vals.get(old), final.bdims.get(old)
        if old.op == "output" or old not in final.vals:
            continue
        plan.metas[new] = v
        new.meta["val"] = v
        for vv, bb in (zip(v, bd) if isinstance(bd, (list, tuple)) else [(v, bd)]):
            if bb is not None and isinstance(vv, torch.Tensor):
                plan.placement[id(vv)] = bb.dim
    return plan
