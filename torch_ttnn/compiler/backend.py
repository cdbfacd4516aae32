"""The torch.compile backend: dynamo -> aot_autograd (ATen, our decompositions) -> TT-NN program.

Shapes: symbolic, not bucketed. When dynamo traces a graph with dynamic shapes (as it does on its own once a
size changes between calls, e.g. the sequence length of a KV cache during generation), the graph is lowered
ONCE with those symbolic sizes: rules see SymInts in `x.shape`, the recorded TT-NN calls hold size
expressions (`reshape(x, [1, s0 * 2, 64])`), and the executor binds the symbols from each call's input sizes
and evaluates the expressions once per distinct size (program.py). A shape decision a rule makes (a guard such
as `size % 32 == 0`) becomes a dynamo guard, so a size on the other side of it is traced and lowered again:
the number of lowerings is bounded by the rules' decisions, not by the number of sizes. Bucketing (padding the
dynamic dim to a multiple of 32 and masking) was not chosen: the backend does not know what a padded row means
to an arbitrary graph (a reduction over the padded dim, a cache it returns, an index it computes), so padding
correctly needs model knowledge; HF's static cache is that bucketing done by the model, and works too, and so
does torch_ttnn.generation, which pads HF prompts to buckets with the attention mask that says so. Graphs
whose sizes are not all input sizes (data-dependent shapes) are lowered per concrete signature instead.

Eager-device inputs: tensors already on the `ttnn` torch device (a module moved with `.to("ttnn")`) are used in
place: the program takes their TT-NN tensors (`x.ttnn_tensor()`), converts parameters to the compute
convention once (constant-folded), and returns outputs on the device (`torch_ttnn.from_ttnn`): no host transfer
of parameters, inputs or outputs.

Run-time errors: rules are recorded, not executed, while lowering. If a TT-NN call fails when the program
runs, the ATen op it was lowered from is moved to CPU (named in the metrics with the error), the graph is
lowered again and the call re-run; an error that no fallback can avoid is raised naming the TT-NN function,
the ATen op and the rule, with the ways around it.
"""
from __future__ import annotations

import logging
import time
import warnings

import torch
import torch.fx as fx
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd
from torch._subclasses.fake_tensor import unset_fake_temporarily

from .. import _logs, runtime
from ..lowering.fallback import TtnnFallbackWarning, graph_report
from ..sim.cost import program_host_ns
from . import codegen, data_parallel, export_code, graphviz, memory, metrics, tensor_parallel, tracer
from .decompositions import DECOMPOSITIONS
from .fuse import FuseContext, fuse
from .lower import lower, node_values
from .mesh import MeshIO, is_mesh
from .options import TorchTtnnOption, from_kwargs
from .passes import fold_batchnorm, inputs_first, insert_deallocs, mark_constants, weight_dtype
from .place import place_l1
from .shard import shard, will_trace
from .program import Program, StepFailed, Unbound

log = logging.getLogger("torch_ttnn")
_MAX_RUNTIME_FALLBACKS = 16   # ATen ops moved to CPU after a TT-NN run-time error, per graph


def _check_inputs(example_inputs):
    """Inputs on CPU or the `ttnn` torch device; returns the TT-NN device of the latter (or None)."""
    tt_dev = None
    for i, x in enumerate(example_inputs):
        if not isinstance(x, torch.Tensor) or x.device.type == "cpu":
            continue
        if x.device.type != "ttnn":
            raise ValueError(f"torch_ttnn backend: input {i} (shape {tuple(x.shape)}) is on device "
                             f"'{x.device}', but compiled graphs take CPU tensors (the backend moves them to "
                             f"the TT-NN device itself) or tensors on the 'ttnn' device (used in place). Move "
                             f"it with .cpu() or .to('ttnn') before calling the model.")
        if hasattr(x, "ttnn_tensor"):  # a tensor of the eager device (not a fake one)
            d = x.ttnn_tensor().device()
            if tt_dev is not None and d is not tt_dev:
                raise ValueError(f"torch_ttnn backend: input {i} lives on another TT-NN device than input 0's; "
                                 f"move all inputs and parameters to one device")
            tt_dev = d
    return tt_dev


def _check_native(example_inputs):
    """TorchTtnnOption(native_integration=True): graphs over tensors of the `ttnn` torch device only."""
    for i, x in enumerate(example_inputs):
        if isinstance(x, torch.Tensor) and x.device.type == "cpu" and x.dim() > 0:
            raise ValueError(f"torch_ttnn backend: native_integration=True, but graph input {i} (shape "
                             f"{tuple(x.shape)}) is on the CPU: move the model and its inputs to the device "
                             f"with .to('ttnn') (or leave native_integration=False to take CPU tensors)")


def backend(gm: fx.GraphModule, example_inputs, options=None, **kwargs):
    """`torch.compile(model, backend=torch_ttnn.backend, options=TorchTtnnOption(...))`, or backend="ttnn"."""
    option = from_kwargs(options if options is not None else kwargs.pop("option", None))
    if kwargs:
        raise TypeError(f"torch_ttnn backend got unexpected arguments {sorted(kwargs)}")
    tt_dev = _check_inputs(example_inputs)
    if option.native_integration:
        _check_native(example_inputs)
    if tt_dev is not None and option.device is None:
        option.device = tt_dev
    ttnn, device = option.resolve()
    if tt_dev is not None and tt_dev is not device:
        raise ValueError("torch_ttnn backend: the model's tensors live on a TT-NN device other than "
                         "TorchTtnnOption.device; leave device=None to compile for the device they are on")
    start = time.perf_counter()
    if option.verbose:
        print(f"torch-ttnn: runtime {runtime.reason()}")
    # dynamo's id of this compilation: frame_compile_id > 0 is a recompile of a frame (a guard failed: new
    # shapes, dtypes, a changed global...), which the metrics count (`recompile`)
    cid = torch._guards.CompileContext.current_compile_id()
    if cid is not None and cid.frame_compile_id:
        log.info("torch-ttnn: recompiling frame %s (compilation %s)", cid.frame_id, cid)

    def compiler(is_backward):
        def compile_graph(aten_gm: fx.GraphModule, fake_inputs):
            ctx = torch._guards.TracingContext.try_get()
            static, mutated = set(), set()
            if not is_backward and ctx is not None and ctx.fw_metadata is not None:
                # a static-address input the graph writes (a StaticCache's keys, values and position counter)
                # is state, not a parameter: its version changes every call, so constants must not key on it
                mutated = {i for i, info in enumerate(ctx.fw_metadata.input_info) if info.mutates_data}
                static = set(ctx.fw_metadata.static_input_indices or ()) - mutated
            kinds = ["param" if i in static else "state" if i in mutated else "input"
                     for i in range(len(fake_inputs))]
            cg = CompiledGraph(aten_gm, kinds, option, ttnn, device, len(option.compiled),
                               time.perf_counter() - start)
            cg.compile_id = cid
            option.compiled.append(cg)
            return make_boxed_func(cg)
        return compile_graph

    return aot_autograd(fw_compiler=compiler(False), bw_compiler=compiler(True),
                        decompositions=DECOMPOSITIONS)(gm, example_inputs)


def _l1_banks(device) -> tuple[int, int]:
    """(L1 banks, bytes per bank) of the device: one bank per worker core; the emulator says its size, a real
    Wormhole core has 1.5 MB of which ~1.4 MB is free for buffers."""
    g = device.compute_with_storage_grid_size()
    spec = getattr(device, "spec", None)
    return g.x * g.y, spec.l1_bank_size if spec is not None else 1400 * 1024


def _signature(args):
    return tuple((tuple(a.shape), a.dtype) if isinstance(a, torch.Tensor) else a for a in args)


def _is_symbolic(v) -> bool:
    if isinstance(v, torch.Tensor):
        return any(isinstance(d, torch.SymInt) for d in v.shape)
    if isinstance(v, (list, tuple)):
        return any(_is_symbolic(x) for x in v)
    return isinstance(v, (torch.SymInt, torch.SymFloat, torch.SymBool))


def _shape_env(metas):
    for v in metas.values():
        for d in (v.shape if isinstance(v, torch.Tensor) else [v]):
            if isinstance(d, torch.SymInt):
                return d.node.shape_env
    return None


class CompiledGraph:
    """One compiled ATen graph: its lowered program(s) and its metrics.

    Lowered at compile time (so that shape guards the rules add reach dynamo): one program for a static or
    symbolic graph (`programs[None]`); per concrete input signature, lowered at first use, for graphs whose
    symbolic sizes cannot be bound from the inputs."""

    def __init__(self, aten_gm, kinds, option: TorchTtnnOption, ttnn, device, index: int, trace_s: float):
        self.gm, self.kinds, self.option, self.ttnn, self.device = aten_gm, kinds, option, ttnn, device
        self.index = index
        self.compile_s = trace_s
        self.programs: dict = {}
        self.lowered = None
        self.lowerings = 0
        self.calls = 0
        self.last_transfers = {"h2d": 0, "d2h": 0}
        self.last_device_ns = self.last_host_ns = self.last_trace_ns = 0.0
        self.last_programs: dict = {}   # the latest call's program cache hits/misses (sim/program_cache.py)
        self.weight_casts = self.l1_placed = self.evicted = 0
        self.compile_id = None          # dynamo's CompileId (set by the backend)
        self.memory = None              # compiler/memory.py report of the latest lowering (run_mem_analysis)
        self.per_call: list = []        # figures of the first total_num_iterations calls
        self.shard_stats: dict = {}      # compiler/shard.py: configs chosen per op, regions left interleaved
        self.pcc = None
        self.float_dtype = getattr(ttnn, option.float_dtype)
        self.force_cpu: dict = {}       # ATen node name -> why it runs on CPU (a TT-NN error at run time)
        self.fusions: dict = {}         # fusion pass -> fusions it applied in the latest lowering
        self.folded_batchnorms = fold_batchnorm(aten_gm, kinds)
        nodes = list(aten_gm.graph.nodes)
        self.metas = {n: n.meta.get("val") for n in nodes}
        self.symbolic = any(_is_symbolic(v) for n, v in self.metas.items()
                            if n.op in ("placeholder", "call_function"))
        inputs = [self.metas[n] for n in nodes if n.op == "placeholder"]
        on_device = [i for i, v in enumerate(inputs) if isinstance(v, torch.Tensor) and v.device.type != "cpu"]
        self.device_io = bool(on_device)
        self._device_arg = on_device[0] if on_device else None  # an input whose class wraps the outputs
        self._wrap = None
        if self.device_io:  # outputs stay on the device: (position, torch dtype, 0-d) of each to wrap
            outs = nodes[-1].args[0]
            self._wrap = [(i, o.meta["val"].dtype, o.meta["val"].dim() == 0) for i, o in enumerate(outs)
                          if isinstance(o, fx.Node) and isinstance(o.meta.get("val"), torch.Tensor)]
        self.per_shape = False
        self._warned: frozenset = frozenset()   # the fallbacks last reported (a new set is reported again)
        self.tp = None                          # compiler/tensor_parallel.py Plan of the latest lowering
        self.tp_rejected: dict = {}             # column linear -> why its region runs replicated (from lowering)
        self.dp = self._split_batch()           # data parallel: the per-chip graph (compiler/data_parallel.py)
        self.last_chip_ns: list = []            # device time of each chip in the latest call (a mesh)
        self.last_collective_ns = 0.0           # of which collectives (Ethernet), on the busiest chip
        self.last_mesh_bytes: dict = {}         # data parallel: host bytes split to / gathered from the chips
        self._build(self.metas)

    # --- on a mesh ----------------------------------------------------------------------------------------
    def _split_batch(self):
        """The data-parallel plan (None on one chip): the graph rewritten for the per-chip batch."""
        if not is_mesh(self.device) or not self.option.data_parallel:
            return None
        if self.device_io:
            raise ValueError("TorchTtnnOption(data_parallel=...): the graph's inputs are tensors of the ttnn torch "
                             "device (one chip); data parallel takes CPU tensors and splits them over the mesh")
        if self.symbolic:
            raise data_parallel.DataParallelError(
                "data parallel: the graph has symbolic shapes (dynamic=True, or dynamo recompiled after a size "
                "changed); compile with torch.compile(..., dynamic=False) to split the batch over the chips")
        return data_parallel.split(self.gm, self.metas, self.kinds, self.option.dp_chips, self.option.pad_batch)

    def _lowering_inputs(self, metas):
        """(ATen graph, its values, mesh I/O) to lower: the per-chip graph on a mesh, else the graph itself."""
        if self.dp is None:
            return self.gm, metas, None
        io = MeshIO(self.ttnn, self.device, self.option.data_parallel_axis, self.dp.placement)
        return self.dp.gm, self.dp.metas, io

    def _chips(self) -> list:
        return self.device.get_devices() if is_mesh(self.device) else [self.device]

    def _record_marks(self):
        return [len(c.op_records) if hasattr(c, "op_records") else None for c in self._chips()]

    def _new_records(self, marks) -> list[list] | None:
        """Each chip's op records since `marks` (None: the runtime keeps none)."""
        if any(m is None for m in marks):
            return None
        return [c.op_records[m:] for c, m in zip(self._chips(), marks)]

    # --- lowering -------------------------------------------------------------------------------------
    def _concrete_metas(self, args) -> dict:
        """Each node's value for these concrete inputs (fake tensors): for graphs lowered per signature."""
        from torch._subclasses.fake_tensor import FakeTensorMode
        mode = FakeTensorMode(allow_non_fake_inputs=True)
        with mode:
            fake = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
            return node_values(self.gm, fake)

    def _build(self, metas, key=None):
        """Lower for `metas` and store the program under `key` (None: the one program of this graph)."""
        t0 = time.perf_counter()
        opt = self.option
        with unset_fake_temporarily(), warnings.catch_warnings():
            # compile time runs under dynamo's fake mode: host tensors a rule makes must be real; and FX warns
            # about SymInt arguments, which the executor evaluates per call by design
            warnings.filterwarnings("ignore", message="Raw SymInt value", category=UserWarning)
            lo = self._lower_on_mesh(metas) if is_mesh(self.device) else self._lower(self.gm, metas, None)
        self.lowerings += 1
        self.fusions = fuse(lo.graph, opt.fuse, FuseContext.of(self.ttnn, self.device))
        mark_constants(lo.graph)
        if opt.weight_dtype:
            self.weight_casts = weight_dtype(lo.graph, self.ttnn.typecast, getattr(self.ttnn, opt.weight_dtype))
            mark_constants(lo.graph)    # the casts are constants: their inputs are no longer kept
        self.inputs_moved = inputs_first(lo.graph)
        if opt.shard:
            self.shard_stats = shard(lo.graph, self.ttnn, self.device,
                                     trace=opt.trace and will_trace(lo.graph)).as_dict()
        if opt.l1:
            self.l1_placed = place_l1(lo.graph, self.ttnn.L1_MEMORY_CONFIG, *_l1_banks(self.device),
                                      dram_config=self.ttnn.DRAM_MEMORY_CONFIG)
        if opt.run_mem_analysis:
            banks, bank_size = _l1_banks(self.device)
            if opt.run_eviction_opt:
                self.evicted = memory.evict(lo.graph, self.ttnn.DRAM_MEMORY_CONFIG, banks, bank_size)
            self.memory = memory.analyse(lo.graph, banks, bank_size)
        insert_deallocs(lo.graph, self.ttnn.deallocate)
        try:
            prog = Program(lo.graph, lo.constants, self.ttnn.deallocate, opt.load_params_once,
                           (self.ttnn, self.device) if opt.trace else None, opt.free_host_params)
        except Unbound as e:  # data-dependent sizes: lower per concrete signature, at first use
            log.info("torch-ttnn: graph %d is lowered per input shape (%s)", self.index, e)
            self.per_shape = True
            self.compile_s += time.perf_counter() - t0
            return None
        opt._out_fx_graphs.append(lo.graph)
        self._report(lo)
        old = self.programs.get(key)
        if old is not None:
            old.release()
        self.programs[key] = prog
        self.lowered = lo
        self.compile_s += time.perf_counter() - t0
        stem = f"ttnn_graph_{self.index}_{self.lowerings - 1}"
        if opt.gen_graphviz:
            path = graphviz.write_graph(lo.graph, opt.metrics_path or ".", stem)
            log.info("torch-ttnn: wrote %s", path)
        if opt.export_code and opt.export_code not in export_code.MODES:  # 0.5's modes: at the first call
            with open(opt.export_code, "a") as f:
                f.write(graphviz.to_code(lo.graph, stem, f"{opt.export_code}.{stem}.pt") + "\n")
        return prog

    def _lower(self, gm, metas, mesh_io):
        opt = self.option
        return lower(gm, metas, self.kinds, self.ttnn, self.device, self.float_dtype, self.force_cpu,
                     device_outputs=self.device_io, compute_configs=opt.compute_configs(self.ttnn),
                     less_op_types=opt.use_less_ttnn_op_types, mesh_io=mesh_io)

    def _lower_on_mesh(self, metas):
        """On a mesh: the per-chip batch graph (data parallel), split further by tensor parallel
        (compiler/tensor_parallel.py) and lowered; a tensor-parallel region that holds a CPU op is rejected and
        the graph lowered again; then split parameters get their mesh mappers."""
        opt = self.option
        gm, metas, io = self._lowering_inputs(metas)
        while True:
            prep = tensor_parallel.prepare(gm, metas, self.kinds, self.device, opt.tensor_parallel,
                                           opt.data_parallel_axis if self.dp is not None else None,
                                           self.tp_rejected)
            lo = self._lower(prep.gm, prep.metas, tensor_parallel.mesh_io(io, prep, metas, self.ttnn,
                                                                           self.device))
            bad = tensor_parallel.split_fallbacks(lo.graph, prep.plan)
            if not bad:
                break
            self.tp_rejected.update(bad)
        tensor_parallel.distribute(lo.graph, lo.constants, prep.full_constants, prep.plan, self.ttnn,
                                   self.device)
        if opt.tensor_parallel and prep.plan.rejected:
            log.warning("torch-ttnn: graph %d, tensor parallel: %d linear(s) run replicated: %s", self.index,
                        len(prep.plan.rejected), "; ".join(f"{k}: {v}" for k, v in sorted(prep.plan.rejected.items())))
        self.tp = prep.plan
        return lo

    def _report(self, lo):
        """Warn once per set of CPU ops (never silent), and log the lowering (TORCH_LOGS, _logs.py)."""
        fb = frozenset(lo.fallbacks.items())
        if fb and fb != self._warned:
            msg = graph_report(self.index, dict(lo.fallbacks), lo.fallback_reasons)
            warnings.warn(msg, TtnnFallbackWarning, stacklevel=2)
            log.warning(msg)
        self._warned = fb
        art = _logs.artifact()
        on_cpu = graph_report(self.index, dict(lo.fallbacks), lo.fallback_reasons) if fb else "nothing on the CPU"
        summary = (f"graph {self.index} lowering {self.lowerings}: {sum(lo.aten_ops.values())} ATen ops, "
                   f"{sum(lo.device_ops.values())} on the device; {on_cpu}")
        log.info("torch-ttnn: %s", summary)
        if art.isEnabledFor(logging.DEBUG):
            art.debug("%s\n%s", summary, self._code(lo.graph))
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("torch-ttnn: graph %d program:\n%s", self.index, self._code(lo.graph))

    def _code(self, graph) -> str:
        try:
            return codegen.to_source(graph, f"ttnn_graph_{self.index}", {})[0]
        except Exception as e:  # a value codegen cannot spell: the graph as FX prints it
            return f"(as FX: {type(e).__name__}: {e})\n{graph}"

    def _program(self, args):
        if not self.per_shape:
            return self.programs[None], None
        key = _signature(args)
        prog = self.programs.get(key)
        if prog is None:
            prog = self._build(self._concrete_metas(args), key)
        return prog, key

    def _recover(self, err: StepFailed, key, args):
        """A TT-NN call failed at run time: move its ATen op to CPU and lower again, or explain."""
        node = err.origin.get("aten_node")
        if err.step is not None and isinstance(err.step.fn, torch._ops.OpOverload):
            raise err.error  # an ATen op on CPU (a fallback) failed: the model's own error, as eager gives it
        if node is None or node in self.force_cpu or len(self.force_cpu) >= _MAX_RUNTIME_FALLBACKS:
            raise RuntimeError(
                f"torch_ttnn: compiled graph {self.index}: {err}. No CPU fallback can avoid it"
                f"{'' if node is None else ' (the op already fell back, or too many did)'}. Ways around it: "
                f"TorchTtnnOption(float_dtype='float32') if it is a format or precision limit, "
                f"bypass_compile=True to run the graph on CPU, or move the tensors to CPU with .cpu() if "
                f"the device ran out of memory; please report the op and its shapes.") from err.error
        log.warning("torch-ttnn: %s; running %s on CPU instead", err, err.origin.get("aten"))
        self.force_cpu[node] = f"TT-NN error at run time ({err.origin.get('rule')}): {type(err.error).__name__}: " \
                               f"{err.error}"
        if key is None and self.symbolic:
            env = _shape_env(self.metas)
            n_guards = len(env.guards) if env is not None else 0
            self._build(self.metas)
            if env is not None and len(env.guards) != n_guards:  # a decision dynamo can no longer guard
                log.warning("torch-ttnn: graph %d is lowered per input shape from now on", self.index)
                self.programs.pop(None).release()
                self.per_shape = True
            return
        self._build(self._concrete_metas(args) if key is not None else self.metas, key)

    # --- running --------------------------------------------------------------------------------------
    def __call__(self, *args):
        if self.option.bypass_compile:
            self.calls += 1
            return self.gm(*args)
        marks = self._record_marks()
        run_args = self.dp.pad_inputs(args) if self.dp is not None else args
        while True:
            prog, key = self._program(run_args)
            try:
                out = prog(run_args)
                break
            except StepFailed as e:
                self._recover(e, key, args)
        if self.dp is not None:
            self.last_mesh_bytes = self.dp.transfer_bytes(run_args, out)
            out = self.dp.unpad_outputs(out)
        per_chip = self._new_records(marks)
        new = per_chip[0] if per_chip else []
        if per_chip is not None:   # chips run in parallel: the busiest one sets the time
            self.last_chip_ns = [sum(r.time_ns for r in rs) for rs in per_chip]
            busiest = max(range(len(per_chip)), key=self.last_chip_ns.__getitem__)
            new = per_chip[busiest]
            self.last_device_ns = self.last_chip_ns[busiest]
            self.last_collective_ns = sum(r.time_ns for r in new if r.bound == "ethernet")
            self.last_host_ns = max(program_host_ns(rs) for rs in per_chip)
            self.last_trace_ns = max(program_host_ns(rs, trace=True) for rs in per_chip)
            self.last_programs = _program_cache_counts(new, self._chips()[busiest])
        self.last_transfers = prog.last_transfers
        self.calls += 1
        n_iter = self.option.total_num_iterations
        if self.calls <= n_iter:
            self.per_call.append({"device_time_ms": self.last_device_ns / 1e6, **self.last_transfers})
        if self.option.tracer_option and self.calls == 1:
            tracer.write(self.option.tracer_option, self, new)
        if self.option.export_code in export_code.MODES and self.calls == 1:
            path = export_code.add_graph(self, args)
            if path:
                log.info("torch-ttnn: export_code=%r: wrote %s", self.option.export_code, path)
        if self._wrap is not None:
            out = self._to_device(out, args[self._device_arg])
        if self.option.check_accuracy and self.pcc is None:
            self._check_accuracy(args, out)
        if self.option.verbose and self.calls == n_iter:
            print(metrics.summary([self.metrics()]))
        if self.option.metrics_path and self.calls <= n_iter:
            metrics.write(self.option.metrics_path, self.option.metrics)
        return out

    def _to_device(self, out, device_input):
        """Outputs of a graph over ttnn-device inputs, as tensors of the ttnn device (no copy). The compiler
        does not import the eager device (it sits beside it): the class of an input it was handed wraps them."""
        out = list(out)
        for i, dtype, scalar in self._wrap:
            # a 0-d output owns its [1]-shaped TT-NN scalar (a view of it would send in-place writes, e.g. a
            # static cache's position counter, through the host)
            out[i] = type(device_input).from_ttnn(out[i], dtype, shape=() if scalar else None)
        return out

    def _check_accuracy(self, args, out):
        def host(a):
            if not isinstance(a, torch.Tensor):
                return a
            a = a.detach().cpu() if a.device.type != "cpu" else a
            return a.float() if a.is_floating_point() else a
        with torch.no_grad():
            ref = self.gm(*[host(a) for a in args])
        ps = [metrics.pcc(host(r).float(), host(o).float()) for r, o in zip(ref, out)
              if isinstance(r, torch.Tensor) and r.numel() > 0]
        self.pcc = min(ps) if ps else 1.0

    def metrics(self) -> dict:
        lo = self.lowered
        aten = lo.aten_ops if lo else {}
        fb = dict(lo.fallbacks) if lo else {}
        return {
            "graph": self.index, "aten_ops": sum(aten.values()), "aten_ops_unique": len(aten),
            "device_ops": sum(lo.device_ops.values()) if lo else 0, "cpu_ops": sum(fb.values()),
            "cpu_ops_unique": len(fb), "fallbacks": fb,
            "fallback_reasons": dict(lo.fallback_reasons) if lo else {},
            "h2d_per_call": self.last_transfers["h2d"], "d2h_per_call": self.last_transfers["d2h"],
            "compile_s": self.compile_s, "device_time_ms": self.last_device_ns / 1e6,
            "host_time_ms": self.last_host_ns / 1e6, "trace_time_ms": self.last_trace_ns / 1e6, "calls": self.calls,
            "traced": any(p.traced for p in self.programs.values()), "weight_casts": self.weight_casts,
            "program_cache": dict(self.last_programs),
            "l1_placed": self.l1_placed, "shard": dict(self.shard_stats),
            "trace_reason": "; ".join(sorted({p.trace_reason for p in self.programs.values() if not p.traced})),
            "specializations": len(self.programs), "lowerings": self.lowerings, "symbolic": self.symbolic
            and not self.per_shape, "pcc": self.pcc, "fusions": dict(self.fusions),
            "memory": self.memory.as_dict() if self.memory is not None else None, "evicted": self.evicted,
            "per_call": list(self.per_call), "compile_id": str(self.compile_id) if self.compile_id else None,
            "recompile": bool(self.compile_id is not None and self.compile_id.frame_compile_id),
            "mesh": self._mesh_metrics(),
            "host_params": _host_params(self.programs.values()) if self.option.free_host_params else None,
        }

    def _mesh_metrics(self) -> dict | None:
        """On a mesh: its shape, the chips used, each chip's est. device time, collective time, the batch split.
        An emulated mesh spread over processes (sim/multiprocess.py): the per-chip figures are this process's
        chips' (`processes`: its rank and their row-major indices)."""
        if not is_mesh(self.device):
            return None
        procs = getattr(self.device, "processes", None)
        return {"shape": [int(s) for s in self.device.shape], "chips": int(self.device.get_num_devices()),
                "processes": procs.as_dict() if procs is not None else None,
                "data_parallel": self.dp.as_dict() if self.dp is not None else None,
                "data_parallel_axis": self.option.data_parallel_axis,
                "tensor_parallel": self.tp.as_dict() if self.tp is not None else None,
                "device_time_per_chip_ms": [ns / 1e6 for ns in self.last_chip_ns],
                "collective_ms": self.last_collective_ns / 1e6, "transfer_bytes_per_call": dict(self.last_mesh_bytes)}


def _host_params(programs) -> dict:
    """What free_host_params freed over this graph's programs (compiler/host_params.py)."""
    out = {"freed": 0, "freed_bytes": 0, "kept": {}}
    for p in programs:
        d = p.host_params.as_dict()
        out["freed"] += d["freed"]
        out["freed_bytes"] += d["freed_bytes"]
        for k, n in d["kept"].items():
            out["kept"][k] = out["kept"].get(k, 0) + n
    return out


def _program_cache_counts(records, device) -> dict:
    """A call's device programs by program cache outcome, the host time spent building them, and the device's
    cache entries after it."""
    outcomes = [r.program_cache for r in records if getattr(r, "program_cache", "")]
    counts = {k: outcomes.count(k) for k in ("hit", "miss", "uncached")}
    counts["compile_ms"] = sum(getattr(r, "compile_ns", 0.0) for r in records) / 1e6
    entries = getattr(device, "num_program_cache_entries", None)
    counts["entries"] = int(entries()) if entries is not None else None
    return counts
