"""`TorchTtnnOption`: the backend's options, compatible with torch-ttnn 0.5, checked before any work is done.

0.5 semantics kept: `device` (now optional: device 0 of the active runtime), `gen_graphviz`, `metrics_path`
(a directory; the run record is written there as JSON), `export_code` (0.5's "accuracy" or "profiling": a
standalone script in tests/export_code/<mode>/, compiler/export_code.py; or a path: the lowered graphs appended
to it as TT-NN Python functions), `data_parallel` (with `device` a mesh, ttnn.open_mesh_device: True, or 0.5's
chip count, which must be the mesh's: the batch split over the chips, each running the graph at the per-chip batch,
compiler/data_parallel.py), `verbose`
(print the metrics summary), `bypass_compile` (trace and count but run the ATen graph on CPU: a debugging
aid), `load_params_once` (parameters and constant-folded values stay on the device across calls), and the
lowered graphs appended to `_out_fx_graphs`. New: `runtime` (auto/sim/ttnn, env TORCH_TTNN_RUNTIME),
`float_dtype` (the device dtype of float tensors: float32 ones; "bfloat8_b" holds bfloat16 ones too, so a
bfloat16 model goes block-float as a float32 one does, except state the graph writes back in place, such as a
KV cache, which keeps its dtype; lowering.policy.ttnn_dtype), `check_accuracy` (PCC of each compiled graph against a
CPU float32 run of the same ATen graph, first call only), `math_fidelity` and `fp32_accumulation` (the
compute config of every matmul, linear, SDPA and conv: "auto", TT-NN's own default fidelity for the op and its
operands' dtypes (HiFi4 for float32 products), with float32 accumulation by default, why in
lowering.policy.make_compute_configs; math_fidelity="default",
fp32_accumulation=False for TT-NN's own), `fuse` (the fusion passes over the lowered graph, compiler/fuse/:
True for all, False for none, or a set of pass names; the metrics count the fusions each applied),
`trace` (steady-state calls replayed from a captured TT-NN trace: no host dispatch per op, compiler/trace.py),
`weight_dtype` ("bfloat8_b"/"bfloat4_b": matmul and linear weights stored in that block-float format, as TT's
optimized models store them; off by default because it costs accuracy, which `check_accuracy` reports),
`l1` (per-call activations that fit placed in L1 instead of DRAM, planned over their lifetimes so L1 never
overflows, compiler/place.py; on by default), `shard` (activations between linears and layer norms block-sharded
in L1 with a matmul/layer-norm program config per shape, where the device-time model says the call gets
faster, reshards and dispatch included, and the configs pass TT-NN's checks and fit L1; otherwise the
interleaved placement stays; compiler/shard.py; on by default; the metrics' "shard" entry counts the ops per
config and the regions left interleaved, with why). On a mesh: `data_parallel_axis` (None: the batch split over
every chip; 0 or 1: over that mesh axis only, replicated along the other, which stays free for tensor parallel),
`pad_batch` (a batch that does not divide over the chips is padded by repeating its last sample, the padding
reported in the metrics' "mesh" entry; False: an error instead), `tensor_parallel` (transformer blocks split
Megatron style over the chips, or over the mesh axis data parallel leaves: column-parallel QKV/up/gate, heads split,
row-parallel output/down then one all_reduce; found from the ATen graph, regions not recognised run replicated
with the reason; compiler/tensor_parallel.py; the plan in the metrics' "mesh" entry).
`program_cache` (the device's program cache on, as TT-NN has it by default, or off: every call then builds its
programs on the host again; the metrics count each call's cache hits and misses and the device's entries,
sim/program_cache.py; trace needs it on). `free_host_params` (off by default: each parameter's CPU storage freed
as soon as the compiled program has uploaded it, so a model whose weights fit the host once, not twice, runs
on the emulator; a later upload of a freed parameter, e.g. a recompile, raises naming it; compiler/host_params.py).

0.5's options, with 0.5's positional order and defaults (verbose=True included; options added since are
keyword-only): `run_mem_analysis` (a per-graph device memory report: L1 bytes per bank and DRAM bytes live at
each op, and their peaks, compiler/memory.py; in the metrics as "memory"), `run_eviction_opt` (needs
run_mem_analysis, as in 0.5: tensors in L1 at an op where the analysis finds L1 over capacity are moved to
DRAM, longest-lived first, until it fits), `tracer_option` (a dict model_name/out_folder/trace_orig/trace_modi:
per-op trace records, the ATen ops with their argument shapes and the TT-NN calls with their estimated device
time, written to out_folder as fw_<model_name>_<graph>.json on the first call), `use_less_ttnn_op_types`
(True: squeeze/unsqueeze lowered as ttnn.reshape, as 0.5 did; False: ttnn.squeeze/ttnn.unsqueeze),
`total_num_iterations` (the run record keeps per-call figures for that many calls, and metrics_path and
verbose report once that many calls are done), `native_integration` (the graphs run over tensors on the
`ttnn` torch device: a CPU tensor input is an error saying to move the model and inputs with .to("ttnn")).
Values accept TT-NN's and torch's spellings (compiler/option_values.py); `device` accepts a TT-NN device, a
ttnn torch device (torch.device("ttnn:0"), "ttnn:0") or an index, checked when the option is made.
"""
from __future__ import annotations

import difflib
import inspect
import os

from .. import runtime
from ..lowering import policy
from . import option_values as values
from .fuse import enabled_passes
from .mesh import axis_size, is_mesh

_FLOAT_DTYPES = ("bfloat16", "float32", "bfloat8_b")
_WEIGHT_DTYPES = (None, "bfloat8_b", "bfloat4_b")


class TorchTtnnOption:
    def __init__(self, device=None, gen_graphviz: bool = False, run_mem_analysis: bool = False,
                 run_eviction_opt: bool = False, verbose: bool = True, metrics_path: str = "", tracer_option=None,
                 bypass_compile: bool = False, use_less_ttnn_op_types: bool = True, export_code=None,
                 total_num_iterations: int = 1, data_parallel=False, load_params_once: bool = True,
                 native_integration: bool = False, *, runtime: str | None = None, float_dtype: str = "bfloat16",
                 check_accuracy: bool = False, math_fidelity: str = "auto", fp32_accumulation: bool = True,
                 fuse=True, trace: bool = False, weight_dtype: str | None = None, l1: bool = True,
                 shard: bool = True, data_parallel_axis: int | None = None, pad_batch: bool = True,
                 tensor_parallel: bool = False, program_cache: bool = True, free_host_params: bool = False,
                 **unknown):
        if unknown:
            known = [p for p in inspect.signature(TorchTtnnOption).parameters if p != "unknown"]
            close = {k: difflib.get_close_matches(k, known, n=1) for k in unknown}
            hint = "".join(f"; did you mean {c[0]!r} for {k!r}?" for k, c in close.items() if c)
            raise TypeError(f"TorchTtnnOption got unknown option(s) {sorted(unknown)}{hint} Known: "
                            f"{', '.join(known)}")
        for name, v in (("gen_graphviz", gen_graphviz), ("load_params_once", load_params_once),
                        ("bypass_compile", bypass_compile), ("verbose", verbose),
                        ("check_accuracy", check_accuracy), ("fp32_accumulation", fp32_accumulation),
                        ("trace", trace), ("l1", l1), ("shard", shard), ("run_mem_analysis", run_mem_analysis),
                        ("run_eviction_opt", run_eviction_opt), ("use_less_ttnn_op_types", use_less_ttnn_op_types),
                        ("native_integration", native_integration), ("pad_batch", pad_batch),
                        ("tensor_parallel", tensor_parallel), ("program_cache", program_cache),
                        ("free_host_params", free_host_params)):
            if not isinstance(v, bool):
                raise TypeError(f"TorchTtnnOption: {name} must be True or False, got {v!r}")
        if not isinstance(metrics_path, (str, os.PathLike)):
            raise TypeError(f"TorchTtnnOption: metrics_path must be a directory path (str), got {metrics_path!r}")
        if export_code is not None and not isinstance(export_code, (str, os.PathLike)):
            raise TypeError(f"TorchTtnnOption: export_code must be 'accuracy' or 'profiling' (0.5's scripts in "
                            f"tests/export_code/), a file path, or None, got {export_code!r}")
        if not (isinstance(data_parallel, (bool, int)) and (isinstance(data_parallel, bool) or data_parallel >= 1)):
            raise ValueError(f"TorchTtnnOption: data_parallel must be True/False or a chip count >= 1 (0.5's "
                             f"meaning: the chips of the mesh device), got {data_parallel!r}")
        if data_parallel_axis is not None and (isinstance(data_parallel_axis, bool)
                                               or data_parallel_axis not in (0, 1)):
            raise ValueError(f"TorchTtnnOption: data_parallel_axis must be None (all chips of the mesh), 0 (mesh "
                             f"rows) or 1 (mesh columns), got {data_parallel_axis!r}")
        rt = runtime if runtime is not None else os.environ.get("TORCH_TTNN_RUNTIME", "auto")
        if not isinstance(rt, str) or rt.lower() not in ("auto", "sim", "ttnn"):
            raise ValueError(f"TorchTtnnOption: runtime must be 'auto', 'sim' or 'ttnn', got {rt!r} "
                             f"(check TORCH_TTNN_RUNTIME)")
        float_dtype = values.dtype_name(float_dtype, _FLOAT_DTYPES, "float_dtype")
        weight_dtype = values.dtype_name(weight_dtype, _WEIGHT_DTYPES, "weight_dtype")
        math_fidelity = values.fidelity_name(math_fidelity)   # "LoFi", "HiFi4", ttnn.MathFidelity.HiFi2
        try:
            policy.check_compute_options(math_fidelity, fp32_accumulation)
        except ValueError as e:
            raise ValueError(f"TorchTtnnOption: {e}") from None
        try:
            fuse_passes = enabled_passes(fuse)
        except (TypeError, ValueError) as e:
            raise type(e)(f"TorchTtnnOption: {e}") from None
        self._check_05_options(run_mem_analysis, run_eviction_opt, native_integration, data_parallel)
        _check_free_host_params(free_host_params, load_params_once, check_accuracy, bypass_compile)
        self.free_host_params = free_host_params  # params' CPU copies freed once uploaded (compiler/host_params)
        self.run_mem_analysis = run_mem_analysis      # compiler/memory.py report per graph, in the metrics
        self.run_eviction_opt = run_eviction_opt      # L1 over capacity moved to DRAM (compiler/memory.py)
        self.tracer_option = values.tracer_option(tracer_option)
        self.use_less_ttnn_op_types = use_less_ttnn_op_types
        self.total_num_iterations = values.iterations(total_num_iterations)
        self.native_integration = native_integration
        index = values.device_index(device)
        if index is None and device is not None and not hasattr(device, "compute_with_storage_grid_size"):
            values.bad_device(device)
        self.device = device if index is None else self._open_device(index, runtime)
        self.data_parallel_axis = data_parallel_axis
        self.pad_batch = pad_batch       # an indivisible batch is padded (True) or an error (False)
        self.dp_chips = _data_parallel_chips(self.device, data_parallel, data_parallel_axis, tensor_parallel)
        self.tensor_parallel = tensor_parallel   # Megatron split over the chips (compiler/tensor_parallel.py)
        _check_tensor_parallel(self.device, tensor_parallel, self.dp_chips, data_parallel_axis)
        if trace and is_mesh(self.device):
            raise ValueError("TorchTtnnOption: trace=True on a mesh device: trace capture on a mesh is not "
                             "emulated yet; leave trace=False with data_parallel")
        if hasattr(self.device, "is_open") and not self.device.is_open():
            raise RuntimeError(f"TorchTtnnOption: device {getattr(self.device, 'device_id', '?')} is closed; open "
                               f"it with ttnn.open_device(device_id=...) or leave device=None")
        self.gen_graphviz = gen_graphviz
        self.metrics_path = str(metrics_path) if metrics_path else ""
        self.export_code = str(export_code) if export_code is not None else None
        self.data_parallel = data_parallel
        self.load_params_once = load_params_once
        self.bypass_compile = bypass_compile
        self.verbose = verbose
        self.runtime = rt.lower()
        self.float_dtype = float_dtype
        self.check_accuracy = check_accuracy
        self.math_fidelity = math_fidelity
        self.fp32_accumulation = fp32_accumulation
        self.fuse = fuse_passes     # the names of the fusion passes that run
        self.weight_dtype = weight_dtype   # matmul/linear weights stored as this block-float (compiler.passes)
        self.l1 = l1                       # per-call activations that fit placed in L1 (compiler.place)
        self.shard = shard                 # block-sharded activations and program configs (compiler.shard)
        if trace and not program_cache:
            raise ValueError("TorchTtnnOption: trace=True needs program_cache=True: a trace replays programs "
                             "from the device's program cache (one not cached yet cannot be built during capture)")
        _check_trace_region(trace, self.device)
        self.program_cache = program_cache  # the device's program cache on (TT-NN's default) or off
        self.trace = trace          # replay steady-state calls from a captured trace (compiler/trace.py)
        self._out_fx_graphs = []
        self.compiled = []          # one CompiledGraph per compiled subgraph (metrics live there)

    @staticmethod
    def _check_05_options(run_mem_analysis, run_eviction_opt, native_integration, data_parallel):
        if run_eviction_opt and not run_mem_analysis:
            raise ValueError("TorchTtnnOption: run_eviction_opt=True works from the memory analysis: add "
                             "run_mem_analysis=True")
        if native_integration and data_parallel and data_parallel is not True and data_parallel > 1:
            raise ValueError("TorchTtnnOption: native_integration (tensors on one ttnn torch device) does not go "
                             "with data_parallel (inputs split over a mesh); choose one")

    @staticmethod
    def _open_device(index: int, rt):
        """The TT-NN device behind ttnn:index, opened now so that a device that does not exist fails here."""
        mod = runtime.select(rt) if rt is not None else runtime.ttnn()
        n = int(mod.GetNumAvailableDevices()) if hasattr(mod, "GetNumAvailableDevices") else 1
        if index >= max(n, 1):
            raise ValueError(f"TorchTtnnOption: device ttnn:{index} does not exist: the runtime has {n} "
                             f"device(s) ({runtime.reason()}); see `torch-ttnn doctor`")
        return runtime.default_device(index)

    # --- resolved lazily, checked before any compilation work -----------------------------------------
    def resolve(self):
        """(ttnn module, device): select the runtime, open or check the device."""
        mod = runtime.select(self.runtime) if self.runtime != "auto" or runtime._active is None \
            else runtime.ttnn()
        if self.device is None:
            self.device = runtime.default_device()
        dev = self.device
        _check_tensor_parallel(dev, self.tensor_parallel, self.dp_chips, self.data_parallel_axis)
        if runtime.is_emulator(mod) and not isinstance(dev, (mod.Device, mod.MeshDevice)):
            raise TypeError(f"TorchTtnnOption: device must be a device of the active runtime "
                            f"(ttnn.open_device(device_id=0)), got {type(dev).__name__}")
        if hasattr(dev, "is_open") and not dev.is_open():
            raise RuntimeError(f"TorchTtnnOption: device {getattr(dev, 'device_id', dev)} is closed; open it "
                               f"with ttnn.open_device(device_id=...) (a mesh: ttnn.open_mesh_device) or leave "
                               f"device=None")
        _check_trace_region(self.trace, dev)
        _set_program_cache(dev, self.program_cache)
        return mod, dev

    def compute_configs(self, ttnn) -> dict:
        """The compute configs rules give matmul/linear and conv (lowering.policy.make_compute_configs)."""
        return policy.make_compute_configs(ttnn, self.math_fidelity, self.fp32_accumulation)

    @property
    def metrics(self) -> list[dict]:
        """The run record of each compiled subgraph (see compiler.metrics)."""
        return [c.metrics() for c in self.compiled]

    @property
    def recompiles(self) -> int:
        """Dynamo recompilations behind the compiled graphs (a frame compiled again after a guard failed)."""
        ids = {c.compile_id for c in self.compiled if c.compile_id is not None and c.compile_id.frame_compile_id}
        return len(ids)

    def summary(self) -> str:
        from .metrics import summary
        return summary(self.metrics)


def _check_tensor_parallel(device, tensor_parallel: bool, dp_chips: int, dp_axis) -> None:
    """tensor_parallel needs a mesh, and an axis of its own when data parallel splits the batch."""
    if not tensor_parallel:
        return
    if device is not None and not is_mesh(device):
        raise ValueError("TorchTtnnOption(tensor_parallel=True) splits the model's layers over the chips of a mesh: "
                         "pass device=ttnn.open_mesh_device(ttnn.MeshShape(1, 2)) (the emulator: "
                         "TORCH_TTNN_SIM_ARCH=n300, t3000 or galaxy), or leave tensor_parallel=False")
    if dp_chips > 1 and dp_axis is None:
        raise ValueError("TorchTtnnOption: data_parallel over every chip leaves no mesh axis for tensor_parallel: "
                         "set data_parallel_axis=0 (the batch over the mesh rows, the layers over the columns) "
                         "or 1")


def _data_parallel_chips(device, data_parallel, axis, tensor_parallel: bool = False) -> int:
    """How many chips the batch is split over; checks the option against the device. 0.5's meaning of an int
    (`data_parallel=2` with a 1x2 mesh) is the number of chips, which must be the mesh's (or its axis's)."""
    mesh = is_mesh(device)
    if mesh and data_parallel is False and not tensor_parallel:
        raise ValueError(f"TorchTtnnOption: device is a {list(device.shape)} mesh: say how the model is spread over "
                         f"it: data_parallel=True (the batch split over its chips) and/or tensor_parallel=True "
                         f"(its layers split over them)")
    if data_parallel is False or (data_parallel == 1 and not mesh):
        if axis is not None:
            raise ValueError("TorchTtnnOption: data_parallel_axis needs data_parallel=True and a mesh device")
        return 1
    if not mesh:
        want = "" if data_parallel is True else f" of {data_parallel} chips"
        raise ValueError(f"TorchTtnnOption: data_parallel={data_parallel!r} splits the batch over a mesh, but "
                         f"device is {'not given' if device is None else type(device).__name__}: pass a mesh"
                         f"{want}, e.g. device=ttnn.open_mesh_device(ttnn.MeshShape(1, 2))")
    try:
        n = axis_size(device, axis)
    except ValueError as e:
        raise ValueError(f"TorchTtnnOption: data_parallel_axis: {e}") from None
    if data_parallel is not True and data_parallel != n:
        where = f"axis {axis} of this {list(device.shape)} mesh" if axis is not None else \
            f"this {list(device.shape)} mesh"
        raise ValueError(f"TorchTtnnOption: data_parallel={data_parallel} chips, but {where} has {n}: pass "
                         f"data_parallel=True (all of them) or open a mesh of {data_parallel} chips")
    return n


def _set_program_cache(device, on: bool) -> None:
    """Turn the device's program cache on or off as asked (TT-NN's MeshDevice methods; on is its default)."""
    if not hasattr(device, "enable_program_cache"):
        return
    if on and not getattr(device, "program_cache_enabled", False):
        device.enable_program_cache()
    elif not on and getattr(device, "program_cache_enabled", True):
        device.disable_and_clear_program_cache()


def _check_trace_region(trace: bool, device) -> None:
    if trace and device is not None and getattr(device, "trace_region_size", 1) == 0:
        raise ValueError("TorchTtnnOption(trace=True) needs a device with a trace region: open it with "
                         "ttnn.open_device(device_id=0, trace_region_size=...) (e.g. 64 MiB), or leave "
                         "device=None (the default device has one)")


def from_kwargs(options) -> TorchTtnnOption:
    """What torch.compile(options=...) passed: a TorchTtnnOption, a dict of its fields, or nothing."""
    if options is None:   # backend="ttnn" without options: quiet (0.5's verbose default is for the class)
        return TorchTtnnOption(verbose=False)
    if isinstance(options, TorchTtnnOption):
        return options
    if isinstance(options, dict):
        return TorchTtnnOption(**options)
    raise TypeError(f"backend options must be a torch_ttnn.TorchTtnnOption or a dict of its fields, "
                    f"got {type(options).__name__}")


def _check_free_host_params(free: bool, load_params_once: bool, check_accuracy: bool, bypass_compile: bool):
    """free_host_params needs the program to own the device copies and nothing else to read the host ones."""
    if not free:
        return
    for name, bad, why in (("load_params_once=False", not load_params_once, "uploads the parameters every call"),
                           ("check_accuracy=True", check_accuracy, "runs the graph on the CPU parameters"),
                           ("bypass_compile=True", bypass_compile, "runs the graph on the CPU parameters")):
        if bad:
            raise ValueError(f"TorchTtnnOption: free_host_params=True frees the parameters' CPU copies after their "
                             f"upload, but {name} {why}; drop one of the two")
