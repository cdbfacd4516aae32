"""Tensor parallel (Megatron style) over the chips of a mesh: an ATen-graph pass before lowering.

What it does. `TorchTtnnOption(device=mesh, tensor_parallel=True)` turns each transformer block into the
Megatron split: the linears fed by a replicated activation (QKV, MLP up/gate) become column-parallel (the weight
split on its output features, one slice per chip), everything between them and the next linear runs on each
chip's slice (attention heads split over chips), and the linear that consumes the split activation (attention
output, MLP down) becomes row-parallel (the weight split on its input features): each chip's product is a
partial sum, followed by one all_reduce. Norms, residual adds and embeddings stay replicated.

How. The pass works on the ATen graph, from the graph's structure, not from module names: a forward walk in
graph order gives every value a state: replicated, or split over the chips along one dim. A linear (`mm`/
`addmm` of a transposed 2-D parameter) whose input is replicated starts a *region* (column-parallel); each op
that consumes a split value must have a rule that says where the split goes (pointwise ops with aligned
broadcasting, views that split or merge the split dim as the outer factor, permutes, slices/reductions/softmax
over other dims, concatenation, scaled-dot-product attention over split heads); a linear whose input is split
on its contraction dim closes the region (row-parallel, then all_reduce). A split value the graph returns is
all-gathered first. Anything else in a region (an op with no rule, a split dim that does not divide, a weight
shared with another use, a CPU fallback found while lowering) rejects the whole region: its linears run
replicated, and the reason is in the metrics. A rejected region never gives a wrong result, only a slower one.

The result is a *per-chip* ATen graph: the same graph with the size arguments of views and expands divided
where they hold the split dim, and the collectives inserted as `torch_ttnn.mesh_all_reduce`/`mesh_all_gather`
(lowering/rules/ccl.py). It is lowered as any graph is, with per-chip shapes, so every rule, fusion, program
config and memory plan sees what one chip holds. After lowering, `distribute` gives each split parameter its
mesh mapper (TT-NN splits it when it is placed on the mesh, once) and reads outputs back from one chip.

Choices, and why. Embeddings are replicated: a lookup reads only its rows, so splitting the table saves DRAM
but adds a mask, an all_reduce and several ops per call for nothing on time. The LM head (a linear whose split
output is a graph output) is column-parallel with an all_gather of the logits: it is the largest matmul of a
decoder step (vocab x hidden), so splitting it is where TP pays most, as TT's own Llama demos do. Norms are
replicated (they act on the whole hidden vector, which every chip holds after the all_reduce). One all_reduce
per row-parallel linear (two per block) rather than reduce_scatter + all_gather: the values between blocks are
small for inference and the all_reduce is one collective to launch; the cost model prices both.

Limits (said, not hidden): static shapes only (a graph with symbolic sizes runs replicated, with the reason);
the split dim must be the outer factor where a view merges it (heads and batch merged with batch > 1 on the
outside is refused); a key/value head count that the chip count does not divide rejects the attention region
(the MLP region of the block can still be split).
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx

from ..lowering.rules.ccl import ALL_GATHER, ALL_REDUCE
from .mesh import MeshIO, axis_size, shard_mapper

aten = torch.ops.aten

_VIEWS = {aten.view.default, aten._unsafe_view.default, aten.reshape.default}
_SDPA = {aten._scaled_dot_product_flash_attention_for_cpu.default, aten.scaled_dot_product_attention.default,
         aten._scaled_dot_product_efficient_attention.default, aten._scaled_dot_product_flash_attention.default}
_SAME = {aten.clone.default, aten.alias.default, aten._to_copy.default, aten.lift_fresh_copy.default,
         aten.detach.default, aten.contiguous.default}
_SOFTMAX = {aten._softmax.default, aten._log_softmax.default, aten._safe_softmax.default,
            aten.softmax.int, aten.log_softmax.int}
_REDUCE = {aten.sum.dim_IntList, aten.mean.dim, aten.amax.default, aten.amin.default, aten.var.correction}


class Reject(Exception):
    """An op in a region has no tensor-parallel rule for its split input (the message says what and why)."""


@dataclass
class Region:
    """Linears that start (column) and end (row) one split region, and why it was rejected (if it was)."""
    columns: list = field(default_factory=list)   # names of the column-parallel mm/addmm nodes
    rows: list = field(default_factory=list)      # names of the row-parallel ones
    gathered: list = field(default_factory=list)  # split values all-gathered for the graph's outputs


@dataclass
class Plan:
    """The tensor-parallel decision for one ATen graph."""
    chips: int
    cluster_axis: int | None                       # mesh axis the split runs over (None: all chips)
    regions: list = field(default_factory=list)    # accepted Regions
    rejected: dict = field(default_factory=dict)   # column linear name -> why its region runs replicated
    leaf_dims: dict = field(default_factory=dict)  # placeholder/get_attr name -> the dim it is split on
    states: dict = field(default_factory=dict)     # node -> split dim (int), tuple for multi-output, None
    reason: str = ""                               # why nothing is split at all (empty when something is)
    walk: object = field(default=None, repr=False)  # the accepted walk: what per_chip_graph rewrites

    @property
    def active(self) -> bool:
        return bool(self.regions)

    def as_dict(self) -> dict:
        return {"chips": self.chips, "cluster_axis": self.cluster_axis,
                "column_parallel": sorted(c for r in self.regions for c in r.columns),
                "row_parallel": sorted(c for r in self.regions for c in r.rows),
                "gathered_outputs": sorted(c for r in self.regions for c in r.gathered),
                "all_reduces": sum(len(r.rows) for r in self.regions),
                "all_gathers": sum(len(r.gathered) for r in self.regions),
                "split_weights": dict(sorted(self.leaf_dims.items())),
                "replicated_linears": dict(sorted(self.rejected.items())), "reason": self.reason}


# --- the analysis ------------------------------------------------------------------------------------------
def _meta(n):
    """The value the planner reasons about: the one being lowered (`prepare` sets it), else the traced one."""
    if not isinstance(n, fx.Node):
        return None
    return n.meta["tp_val"] if "tp_val" in n.meta else n.meta.get("val")


def _rank(v) -> int:
    return v.dim() if isinstance(v, torch.Tensor) else 0


def _norm(d: int, rank: int) -> int:
    return d + rank if d < 0 else d


def _weight_param(w, kinds: dict):
    """The 2-D parameter behind a linear's weight operand (`t(p)` or `permute(p, [1, 0])`), or None."""
    if not isinstance(w, fx.Node) or w.op != "call_function":
        return None
    if w.target is aten.t.default or (w.target is aten.permute.default and list(w.args[1]) == [1, 0]):
        p = w.args[0]
        if isinstance(p, fx.Node) and kinds.get(p) == "param" and _rank(_meta(p)) == 2:
            return p
    return None


def _linear(n: fx.Node, kinds: dict):
    """(activation, weight parameter, bias or None) of an mm/addmm over a transposed parameter, else None."""
    if n.target is aten.mm.default:
        x, w, bias = n.args[0], n.args[1], None
    elif n.target is aten.addmm.default and n.kwargs.get("beta", 1) == 1 and n.kwargs.get("alpha", 1) == 1:
        bias, x, w = n.args[0], n.args[1], n.args[2]
        if not (isinstance(bias, fx.Node) and kinds.get(bias) == "param" and _rank(_meta(bias)) == 1):
            return None
    else:
        return None
    p = _weight_param(w, kinds)
    return (x, p, bias) if p is not None else None


class _Walk:
    """One forward walk over the graph given the column linears already rejected; raises _Fail naming the
    region to reject when an op has no rule."""

    def __init__(self, gm: fx.GraphModule, kinds: dict, chips: int, rejected: dict):
        self.gm, self.kinds, self.n, self.rejected = gm, kinds, chips, rejected
        self.state: dict = {}          # node -> dim / tuple of dims / None
        self.region: dict = {}         # node -> region id (union-find root)
        self.parent: dict = {}
        self.regions: dict = {}        # root -> Region
        self.leaf_uses: dict = {}      # leaf node -> {(region root or None, dim)}
        self.size_args: dict = {}      # view/expand node -> (arg position, index in sizes) to divide
        self.rows: dict = {}           # row-parallel node -> (x, param, bias)
        self.gathers: list = []        # (output position, node, dim)

    # union-find over region ids
    def root(self, r):
        while self.parent.get(r, r) != r:
            r = self.parent[r]
        return r

    def join(self, rs) -> int:
        rs = sorted({self.root(r) for r in rs})
        for r in rs[1:]:
            self.parent[r] = rs[0]
            a, b = self.regions[rs[0]], self.regions.pop(r)
            a.columns += b.columns
            a.rows += b.rows
            a.gathered += b.gathered
        return rs[0]

    def run(self):
        for n in self.gm.graph.nodes:
            if n.op in ("placeholder", "get_attr"):
                self.state[n] = None
            elif n.op == "call_function":
                self.call(n)
            elif n.op == "output":
                self.output(n)
        # a leaf split for one use and read whole (or split differently) by another cannot be placed once
        for leaf, uses in self.leaf_uses.items():
            if len({d for _, d in uses}) > 1:
                raise _Fail([r for r, _ in uses if r is not None], f"{leaf.name} is read both split and whole "
                            f"(a weight shared between layers, e.g. tied embeddings)")
        return self

    def call(self, n):
        lin = _linear(n, self.kinds)
        if lin is not None:
            return self.linear(n, *lin)
        split = [a for a in n.all_input_nodes if self.state.get(a) is not None]
        if not split:
            self.state[n] = None
            return
        rid = self.join([self.region[a] for a in split])
        try:
            self.state[n] = self.rule(n)
        except Reject as e:
            raise _Fail([rid], f"{n.name} ({_name(n.target)}): {e}") from None
        self.region[n] = rid

    def linear(self, n, x, p, bias):
        s = self.state.get(x)
        w = n.args[1] if n.target is aten.mm.default else n.args[2]
        if s is None:
            if n.name in self.rejected:
                self.state[n] = None
                return
            if len(p.users) != 1 or len(w.users) != 1:
                self.rejected[n.name] = f"its weight {p.name} has other uses"
                self.state[n] = None
                return
            out = _meta(n).shape[1]
            if out % self.n:
                self.rejected[n.name] = f"{out} output features do not split over {self.n} chips"
                self.state[n] = None
                return
            rid = len(self.parent)
            self.parent[rid] = rid
            self.regions[rid] = Region(columns=[n.name])
            self.region[n] = rid
            self.state[n] = 1
            self.use(p, rid, 0)
            if bias is not None:
                self.use(bias, rid, 0)
            return
        rid = self.join([self.region[x]])
        if s != 1 or len(p.users) != 1 or len(w.users) != 1:
            raise _Fail([rid], f"{n.name}: a linear whose input is split on dim {s} (not its features), or whose "
                        f"weight has other uses")
        self.regions[rid].rows.append(n.name)
        self.rows[n] = (x, p, bias)
        self.use(p, rid, 1)
        if bias is not None:
            self.use(bias, None, None)
        self.state[n] = None

    def use(self, leaf, rid, dim):
        self.leaf_uses.setdefault(leaf, set()).add((rid, dim))

    def output(self, n):
        outs = n.args[0]
        seen = set()
        for i, o in enumerate(outs if isinstance(outs, (list, tuple)) else [outs]):
            if o in seen:
                continue
            seen.add(o)
            if isinstance(o, fx.Node) and isinstance(self.state.get(o), int):
                rid = self.root(self.region[o])
                self.regions[rid].gathered.append(o.name)
                self.gathers.append((i, o, self.state[o]))
            elif isinstance(o, fx.Node) and isinstance(self.state.get(o), tuple):
                raise _Fail([self.region[o]], f"output {o.name} is a split multi-output value")

    # --- one rule per kind of op: where the split dim of the inputs goes -------------------------------------
    def rule(self, n):
        t = n.target
        if t is operator.getitem:
            s = self.state[n.args[0]]
            if not isinstance(s, tuple):
                raise Reject("getitem of a split value that is not a multi-output op")
            return s[n.args[1]]
        if not isinstance(t, torch._ops.OpOverload):
            raise Reject("not an ATen op")
        if t in _VIEWS:
            return self.view(n)
        if t is aten.expand.default:
            return self.expand(n)
        if t in _SDPA:
            return self.sdpa(n)
        if t is aten.cat.default:
            return self.cat(n)
        d = self.state[n.args[0]] if isinstance(n.args[0], fx.Node) else None
        rank = _rank(_meta(n.args[0])) if isinstance(n.args[0], fx.Node) else 0
        if t in (aten.permute.default,):
            dims = [_norm(x, rank) for x in n.args[1]]
            return dims.index(d)
        if t is aten.transpose.int:
            a, b = _norm(n.args[1], rank), _norm(n.args[2], rank)
            return b if d == a else a if d == b else d
        if t is aten.t.default:
            return 1 - d if rank == 2 else d
        if t is aten.unsqueeze.default:
            k = _norm(n.args[1], rank + 1)
            return d + 1 if k <= d else d
        if t is aten.squeeze.dim:
            k = _norm(n.args[1], rank)
            if k == d:
                raise Reject("squeezes the split dim")
            return d - 1 if k < d else d
        if t in (aten.slice.Tensor, aten.select.int, aten.narrow.default):
            k = _norm(n.args[1] if len(n.args) > 1 else 0, rank)
            if k == d:
                raise Reject("slices along the split dim")
            return d - 1 if t is aten.select.int and k < d else d
        if t in _SOFTMAX:
            if _norm(n.args[1], rank) == d:
                raise Reject("softmax over the split dim")
            return d
        if t in _REDUCE:
            dims = n.args[1] if len(n.args) > 1 else None
            dims = [_norm(x, rank) for x in (dims if isinstance(dims, (list, tuple)) else [dims])] \
                if dims is not None else list(range(rank))
            if d in dims:
                raise Reject("reduces over the split dim (a partial sum per chip)")
            keep = n.args[2] if len(n.args) > 2 else n.kwargs.get("keepdim", False)
            return d if keep else d - sum(1 for x in dims if x < d)
        if t in _SAME or torch.Tag.pointwise in t.tags:
            return self.pointwise(n)
        raise Reject("no tensor-parallel rule for this op on a split input")

    def pointwise(self, n):
        out_rank = _rank(_meta(n))
        aligned = set()
        whole = []
        for a in _tensor_args(n):
            s = self.state.get(a)
            if s is None:
                whole.append(a)
            elif isinstance(s, int):
                aligned.add(s + out_rank - _rank(_meta(a)))
            else:
                raise Reject("a multi-output value as an operand")
        if len(aligned) != 1:
            raise Reject(f"operands split on different dims {sorted(aligned)}")
        d = aligned.pop()
        for a in whole:
            p = d - (out_rank - _rank(_meta(a)))
            if p >= 0 and _meta(a).shape[p] != 1:
                self.pull(a, p)
        return d

    def pull(self, a, d):
        """A whole operand that must be split too: allowed when it is a graph leaf (a parameter or constant,
        then uploaded split), possibly through same-shape copies each read only here."""
        chain = [a]
        while chain[-1].op == "call_function" and chain[-1].target in _SAME and len(chain[-1].users) == 1 \
                and isinstance(chain[-1].args[0], fx.Node):
            chain.append(chain[-1].args[0])
        leaf = chain[-1]
        if leaf.op not in ("placeholder", "get_attr") or self.kinds.get(leaf) in ("input", "state") or \
                any(len(c.users) != 1 for c in chain):
            raise Reject(f"its whole operand {a.name} has full size along the split dim")
        if _meta(leaf).shape[d] % self.n:
            raise Reject(f"operand {leaf.name} dim {d} of size {_meta(leaf).shape[d]} does not split over "
                         f"{self.n} chips")
        for c in chain:
            self.state[c] = d
        self.use(leaf, None, d)

    def view(self, n):
        x = n.args[0]
        d = self.state[x]
        src, dst = list(_meta(x).shape), list(_meta(n).shape)
        pre = math.prod(src[:d])
        j = next((j for j in range(len(dst)) if dst[j] != 1 and math.prod(dst[:j]) == pre), None)
        if j is None or not (dst[j] % src[d] == 0 or src[d] % dst[j] == 0):
            raise Reject(f"view {src} -> {dst} merges the split dim {d} with an outer dim")
        if dst[j] % self.n:
            raise Reject(f"view {src} -> {dst}: dim {j} of size {dst[j]} (heads?) does not split over {self.n} "
                         f"chips; tensor parallel needs a chip count that divides the head counts (query and "
                         f"key/value): on a 2-D mesh, data_parallel_axis=0 leaves the columns to it")
        self.size_args[n] = (1, j)
        return j

    def expand(self, n):
        x = n.args[0]
        d = self.state[x] + len(n.args[1]) - _rank(_meta(x))
        self.size_args[n] = (1, d)
        return d

    def cat(self, n):
        tensors, dim = n.args[0], n.args[1] if len(n.args) > 1 else 0
        rank = _rank(_meta(n))
        dim = _norm(dim, rank)
        ds = {self.state[a] for a in tensors if self.state.get(a) is not None}
        if len(ds) != 1 or dim in ds:
            raise Reject("concatenates along the split dim, or operands split differently")
        d = ds.pop()
        for a in tensors:
            v = _meta(a)
            if v.dim() == 1 and v.numel() == 0:
                continue   # torch.cat skips a 1-D empty tensor (HF's empty DynamicCache): nothing to split
            if self.state.get(a) is None:
                self.pull(a, d)
        return d

    def sdpa(self, n):
        q, k, v = n.args[:3]
        if any(self.state.get(a) != 1 for a in (q, k, v)):
            raise Reject("query, key and value must all be split on the heads dim (1)")
        mask = n.kwargs.get("attn_mask", n.args[3] if n.target is aten.scaled_dot_product_attention.default
                            and len(n.args) > 3 else None)
        if isinstance(mask, fx.Node) and _rank(_meta(mask)) == 4 and _meta(mask).shape[1] != 1:
            if self.state.get(mask) != 1:
                self.pull(mask, 1)
        out = _meta(n)
        return tuple(1 if isinstance(o, torch.Tensor) and o.dim() >= 2 else None for o in out) \
            if isinstance(out, (list, tuple)) else 1


class _Fail(Exception):
    def __init__(self, regions, why):
        super().__init__(why)
        self.regions, self.why = regions, why


def _tensor_args(n):
    out = []
    fx.node.map_aggregate((n.args, n.kwargs), lambda a: out.append(a) if isinstance(a, fx.Node)
                          and isinstance(_meta(a), torch.Tensor) else None)
    return out


def _name(target) -> str:
    return getattr(target, "__name__", str(target))


def _static(gm) -> bool:
    for n in gm.graph.nodes:
        v = _meta(n)
        if isinstance(v, torch.Tensor) and any(isinstance(s, torch.SymInt) for s in v.shape):
            return False
        if isinstance(v, (torch.SymInt, torch.SymFloat)):
            return False
    return True


def plan(gm: fx.GraphModule, kinds: list[str], chips: int, cluster_axis: int | None,
         rejected: dict | None = None) -> Plan:
    """Which linears of `gm` split over `chips`, from the graph's structure (module docstring). Linears named in
    `rejected` (name -> reason) stay replicated, with that reason."""
    result = Plan(chips, cluster_axis, rejected=dict(rejected or {}))
    if chips < 2:
        result.reason = "the mesh axis has one chip"
        return result
    if not _static(gm):
        result.reason = "symbolic shapes: tensor parallel lowers static-shape graphs only; this graph runs " \
                        "replicated on every chip"
        return result
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    kind_of = {n: k for n, k in zip(placeholders, kinds)}
    for _ in range(len(list(gm.graph.nodes))):
        walk = _Walk(gm, kind_of, chips, result.rejected)
        try:
            walk.run()
            break
        except _Fail as f:
            roots = {walk.root(r) for r in f.regions}
            cols = [c for r in roots for c in walk.regions[r].columns]
            if not cols:
                raise RuntimeError(f"tensor_parallel: internal error, a failure outside any region: {f.why}")
            for c in cols:
                result.rejected[c] = f.why
    result.regions = list(walk.regions.values())
    result.states = walk.state
    result.leaf_dims = {leaf.name: next(iter(uses))[1] for leaf, uses in walk.leaf_uses.items()
                        if next(iter(uses))[1] is not None}
    result.walk = walk
    if not result.regions:
        result.reason = "no linear pair recognised (see replicated_linears)" if result.rejected else \
            "no linear of a parameter in this graph"
    return result


# --- the per-chip graph ------------------------------------------------------------------------------------
def per_chip_graph(gm: fx.GraphModule, p: Plan) -> fx.GraphModule:
    """`gm` as one chip runs it: divided size arguments, collectives inserted (module docstring). Node names
    are kept, so the metrics and run-time fallbacks name the same nodes."""
    walk = p.walk
    axis = -1 if p.cluster_axis is None else p.cluster_axis
    g = fx.Graph()
    val_map: dict = {}
    out_val = g.graph_copy(gm.graph, val_map)
    g.output(out_val)
    root = torch.nn.Module()
    for n in gm.graph.nodes:
        if n.op == "get_attr":
            setattr(root, n.target, getattr(gm, n.target))
    by_name = {n.name: n for n in g.nodes}
    for old, (pos, j) in walk.size_args.items():
        n = by_name[old.name]
        sizes = list(n.args[pos])
        if sizes[j] != -1:
            if sizes[j] % p.chips:
                raise RuntimeError(f"tensor_parallel: {n.name} size {sizes[j]} does not split over {p.chips}")
            sizes[j] //= p.chips
        args = list(n.args)
        args[pos] = sizes
        n.args = tuple(args)
    for old, (x, w, bias) in walk.rows.items():
        n = by_name[old.name]
        users = list(n.users)
        with g.inserting_after(n):
            if bias is not None:   # the bias is added once, after the sum (not once per chip)
                n.target, n.args, n.kwargs = aten.mm.default, (n.args[1], n.args[2]), {}
            red = g.create_node("call_function", ALL_REDUCE, (n, axis), name=f"{n.name}_all_reduce")
            last = red
            if bias is not None:
                with g.inserting_after(red):
                    last = g.call_function(aten.add.Tensor, (red, by_name[bias.name]))
        for u in users:
            u.replace_input_with(n, last)
    out = next(reversed(g.nodes))
    for _i, old, d in walk.gathers:
        n = by_name[old.name]
        with g.inserting_before(out):
            gat = g.create_node("call_function", ALL_GATHER, (n, d, p.chips, axis), name=f"{n.name}_all_gather")
        out.replace_input_with(n, gat)
    for name, d in p.leaf_dims.items():   # a constant split: the per-chip graph holds chip 0's piece
        node = by_name[name]
        if node.op == "get_attr":
            setattr(root, node.target, torch.chunk(getattr(gm, node.target), p.chips, dim=d)[0].clone())
    g.lint()
    return fx.GraphModule(root, g)


def per_chip_inputs(gm: fx.GraphModule, p: Plan, metas: dict):
    """Fake values of the per-chip graph's placeholders: the graph's own, with split parameters divided."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    mode = FakeTensorMode(allow_non_fake_inputs=True)
    args = []
    with mode:
        for n in gm.graph.nodes:
            if n.op != "placeholder":
                continue
            v = metas[n]
            if isinstance(v, torch.Tensor):
                shape = list(v.shape)
                if n.name in p.leaf_dims:
                    shape[p.leaf_dims[n.name]] //= p.chips
                args.append(torch.empty(shape, dtype=v.dtype))
            else:
                args.append(v)
    return mode, args


# --- after lowering: parameters split when placed on the mesh ------------------------------------------------
def distribute(graph: fx.Graph, constants: dict, full_constants: dict, p: Plan, ttnn, mesh) -> int:
    """Split parameters placed with a mesh mapper that splits them over the plan's axis (replicated along the
    other); split constants restored whole (the mapper splits them). Returns the number of split uploads."""
    count = 0
    for n in graph.nodes:
        if n.op == "call_function" and n.meta.get("ttnn_name") == "from_torch" and isinstance(n.args[0], fx.Node) \
                and n.args[0].op == "placeholder" and n.args[0].name in p.leaf_dims:
            d = p.leaf_dims[n.args[0].name]
            n.kwargs = {**n.kwargs, "mesh_mapper": shard_mapper(ttnn, mesh, d, p.cluster_axis)}
            n.meta["mesh_split"] = d
            count += 1
    for name, v in full_constants.items():
        if name in constants:
            constants[name] = v
    return count


def tp_axis(mesh, dp_axis: int | None) -> tuple[int | None, int]:
    """(cluster axis, chips) tensor parallel runs over: every chip, or the mesh axis data parallel leaves."""
    if dp_axis is None:
        return None, int(mesh.get_num_devices())
    axis = 1 - dp_axis
    return axis, axis_size(mesh, axis)


# --- the compiler's entry points ----------------------------------------------------------------------------
@dataclass
class Prepared:
    """What CompiledGraph lowers on a mesh: the per-chip graph, its values, the plan, and the constants whole."""
    gm: fx.GraphModule
    metas: dict
    plan: Plan
    full_constants: dict


def prepare(gm: fx.GraphModule, metas: dict, kinds: list[str], mesh, enabled: bool, dp_axis: int | None,
            rejected: dict) -> Prepared:
    """Plan tensor parallel for `gm` (the graph, or data parallel's per-chip batch graph) on `mesh`, over every
    chip or over the axis data parallel (on `dp_axis`) leaves, and build the per-chip graph with its values."""
    from .lower import node_values
    axis, chips = tp_axis(mesh, dp_axis)
    if not enabled:
        return Prepared(gm, metas, Plan(chips, axis, reason="tensor_parallel is off: every chip runs the whole "
                                        "graph"), {})
    for n in gm.graph.nodes:        # what the planner reads: the values being lowered (per-chip batch, concrete)
        v = metas.get(n)
        if v is None and n.op == "get_attr":
            v = getattr(gm, n.target)
        if v is not None:
            n.meta["tp_val"] = v
        else:
            n.meta.pop("tp_val", None)
    p = plan(gm, kinds, chips, axis, rejected)
    if not p.active:
        return Prepared(gm, metas, p, {})
    new = per_chip_graph(gm, p)
    mode, args = per_chip_inputs(new, p, {nn: metas[o] for nn, o in zip(_placeholders(new), _placeholders(gm))})
    with mode:
        values = node_values(new, args)
    full = {n.name: getattr(gm, n.target) for n in gm.graph.nodes if n.op == "get_attr" and n.name in p.leaf_dims}
    return Prepared(new, values, p, full)


def mesh_io(io: MeshIO | None, prep: Prepared, base_metas: dict, ttnn, mesh) -> MeshIO:
    """The transfers of the per-chip graph (compiler.mesh.MeshIO): data parallel's batch placement (keyed by
    the values of its graph) carried over to the values of the tensor-parallel graph, node by node name; a
    collective keeps the batch dim of its input. No data parallel: everything replicated."""
    if io is None:
        return MeshIO(ttnn, mesh, None, {})
    if not prep.plan.active:
        return io
    base = {n.name: n for n in base_metas if isinstance(n, fx.Node)}
    placement, by_node = {}, {}
    for n in prep.gm.graph.nodes:
        src = base.get(n.name)
        dim = io.placement.get(id(base_metas[src])) if src is not None and src in base_metas else None
        if src is None:      # a collective or the bias add after one: its input's batch dim
            dim = next((by_node[a] for a in n.all_input_nodes if by_node.get(a) is not None), None)
        by_node[n] = dim
        v = prep.metas.get(n)
        if dim is not None and v is not None:
            placement[id(v)] = dim
    return MeshIO(ttnn, mesh, io.axis, placement)


def _placeholders(gm):
    return [n for n in gm.graph.nodes if n.op == "placeholder"]


def split_fallbacks(graph: fx.Graph, p: Plan) -> dict:
    """Column linear -> reason, for every region holding an op that runs on the CPU (a host op would see one
    chip's slice as if it were the whole value): those regions are rejected and the graph lowered again."""
    if not p.active:
        return {}
    walk = p.walk
    by_name = {n.name: n for n in walk.gm.graph.nodes}
    out = {}
    for n in graph.nodes:
        if not n.meta.get("fallback"):
            continue
        src = by_name.get(n.meta.get("aten_node"))
        if src is None:
            continue
        nodes = [src] + list(src.all_input_nodes)
        rids = {walk.root(walk.region[x]) for x in nodes if x in walk.region and walk.state.get(x) is not None}
        for r in rids:
            for c in walk.regions[r].columns:
                out[c] = f"{src.name} ({n.meta.get('aten')}) runs on the CPU, which cannot hold a split value"
    return out
