"""Mistral-7B's full config with tensor parallel on an emulated T3000 (2x4), within a 24 GiB host.

`python -m torch_ttnn.bench.mesh_tp [--layers 32] [--out benchmarks/results/mesh-mistral-7b.json]` builds the
full-size Mistral-7B architecture (mistralai/Mistral-7B-v0.1's config: hidden 4096, 32 query / 8 key-value heads
of 128, MLP 14336, vocab 32000; seeded random weights), compiles it with `TorchTtnnOption(device=<2x4 mesh>,
tensor_parallel=True, free_host_params=True)` and runs one forward step of a short prompt, checked against a
CPU float32 reference (PCC of the logits). `--out` writes the record as JSON and a Markdown summary beside it.

What it takes to fit (all 32 layers, 7.24B parameters, on a host whose memory other work shares too):
- the model is built in bfloat16 (14.5 GB; float32 would be 29 GB), which is also the chips' weight dtype;
- the emulator holds every chip's weights in host memory (another 14.5 GB), so `free_host_params=True` frees
  each parameter's CPU copy as soon as the compiled program has uploaded it (compiler/host_params.py): the
  peak is about one copy of the weights, not two;
- the reference is a CPU float32 forward of the same (bfloat16-valued) weights run module by module
  (`float32_forward`): each module (embedding, each decoder layer, final norm, LM head) is widened to float32
  for its own forward only and narrowed back (exact: bfloat16 -> float32 -> bfloat16 is the identity), so one
  layer's float32 weights are resident at a time; its logits are the ones a float32 copy of the whole model
  would give, and it runs before the compiled program frees the weights.
The peak resident memory (VmHWM) and each phase's wall time are in the record.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time

FULL_LAYERS = 32
CONFIG = "mistralai/Mistral-7B-v0.1 (full config, seeded random weights)"


def _config(layers: int):
    import transformers as T
    return T.MistralConfig(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=layers,
                           num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                           max_position_embeddings=32768, sliding_window=4096, rms_norm_eps=1e-5,
                           tie_word_embeddings=False)


def _status() -> dict:
    """VmRSS, VmHWM, RssAnon and RssFile of this process, in GB (1e9 bytes); {} where /proc is missing."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[k] = int(v.split()[0]) * 1024 / 1e9
    except OSError:
        pass
    return out


def rss_gb() -> dict:
    """Resident memory now: all of it, its anonymous part (what the process itself holds), and the peak of all
    of it so far (VmHWM, which counts memory-mapped file pages the kernel can drop too)."""
    s = _status()
    if not s:  # not Linux: the peak only, from getrusage (kilobytes on Linux, bytes on macOS)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"peak_gb": peak / 1e9 if sys.platform == "darwin" else peak * 1024 / 1e9}
    return {"rss_gb": s.get("VmRSS"), "anon_gb": s.get("RssAnon"), "peak_gb": s.get("VmHWM")}


class AnonPeak:
    """The peak of RssAnon, sampled every `period` s on a thread (the kernel keeps no high-water mark of it)."""

    def __init__(self, period: float = 0.2):
        import threading
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(period,), daemon=True)

    def _loop(self, period):
        while not self._stop.is_set():
            self.peak = max(self.peak, _status().get("RssAnon", 0.0))
            self._stop.wait(period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _status().get("RssAnon", 0.0))


def build_model(layers: int, seed: int = 0, config=None, directory: str | None = None):
    """The model with seeded random bfloat16 weights, never materialised in float32 nor whole in memory.

    Built on the meta device, then each parameter gets its own storage, in a memory-mapped file under
    `directory` when given (unlinked at once: the page cache holds the weights, not the process's anonymous
    memory), and is filled as HF initialises Mistral (normal(0, initializer_range) for the linears and the
    embedding, ones for the RMSNorms), from a generator seeded per parameter."""
    import torch
    import transformers as T
    cfg = config if config is not None else _config(layers)
    with torch.device("meta"):
        model = T.MistralForCausalLM(cfg)
    model.model.rotary_emb = type(model.model.rotary_emb)(config=cfg)   # its inv_freq buffer, computed on CPU
    gen = torch.Generator()
    for i, (name, p) in enumerate(list(model.named_parameters())):
        t = _empty(p.shape, torch.bfloat16, directory)
        if name.endswith("norm.weight"):
            t.fill_(1.0)
        else:
            t.normal_(0.0, cfg.initializer_range, generator=gen.manual_seed(seed * 1_000_003 + i))
        owner, _, leaf = name.rpartition(".")
        model.get_submodule(owner)._parameters[leaf] = torch.nn.Parameter(t, requires_grad=False)
    return model.eval()


def _empty(shape, dtype, directory):
    """An uninitialised CPU tensor, in a memory-mapped (already unlinked) file under `directory` when given."""
    import tempfile

    import torch
    if directory is None:
        return torch.empty(shape, dtype=dtype)
    n = 1
    for d in shape:
        n *= d
    fd, path = tempfile.mkstemp(prefix="mistral-param-", dir=directory)
    os.close(fd)
    try:
        return torch.from_file(path, shared=True, size=n, dtype=dtype).view(shape)
    finally:
        os.unlink(path)


def _modules(model):
    """The modules the reference widens one at a time: every parameter belongs to exactly one of them."""
    inner = model.model
    return [inner.embed_tokens, *inner.layers, inner.norm, model.lm_head]


@contextlib.contextmanager
def _widened(modules):
    """Each module's parameters in float32 during its own forward only (hooks), narrowed back after it."""
    import torch

    saved = {}

    def widen(mod, *_):
        for p in mod.parameters():
            saved[p] = p.data
            p.data = p.data.float()

    def narrow(mod, *_):   # the original storage back (a memory-mapped one stays mapped)
        for p in mod.parameters():
            if p in saved:
                p.data = saved.pop(p)
    handles = []
    for m in modules:
        handles += [m.register_forward_pre_hook(widen), m.register_forward_hook(narrow)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        for m in modules:
            narrow(m)


def float32_forward(model, x):
    """Logits of a CPU float32 forward of `model`'s (bfloat16) weights, one module's float32 weights at a time.

    Equal to running a float32 copy of the whole model (the widening is exact and every op then sees float32
    operands, the embedding's float32 output setting the activations' dtype), without that copy's memory."""
    import torch
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes != {torch.bfloat16}:
        raise ValueError(f"float32_forward widens bfloat16 parameters module by module; this model has {dtypes}")
    with torch.no_grad(), _widened(_modules(model)):
        return model(x, use_cache=False).logits.float()


def run(layers: int, seq: int = 32, mesh_shape=(2, 4), seed: int = 0, config=None, log=print,
        directory: str | None = None) -> dict:
    """One forward step of `layers` full-size Mistral layers on a mesh with tensor parallel, with its figures.

    `directory`: the CPU weights and the emulated chips' DRAM contents in memory-mapped files there (see the
    module docstring); None: both in memory, the CPU copies freed once uploaded (free_host_params)."""
    with AnonPeak() as anon:
        record = _run(layers, seq, mesh_shape, seed, config, log, directory)
    record["peak_anon_gb"] = anon.peak
    return record


def lean_malloc() -> bool:
    """glibc: allocations from 128 KiB up mapped on their own and returned to the system when freed.

    Why: glibc raises its mmap threshold each time a mapped block is freed (up to 32 MiB), after which the
    upload's transient per-chip copies (a few MiB each) come from the heap, whose freed memory it keeps: measured
    on 2 full-size layers, 1.7 GB of resident memory held by no tensor (0.3 GB with this). Returns whether it
    applied (glibc only)."""
    import ctypes
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, 128 * 1024))   # M_MMAP_THRESHOLD (fixed: no dynamic raise)
    except (OSError, AttributeError):
        return False


def _run(layers, seq, mesh_shape, seed, config, log, directory):
    import torch

    import torch_ttnn
    import torch_ttnn.sim as ttnn
    from torch_ttnn.compiler.metrics import pcc
    from torch_ttnn.sim import spill
    phases = {}
    lean = lean_malloc()
    t = time.perf_counter()

    def phase(name):
        nonlocal t
        now = time.perf_counter()
        phases[name] = {"wall_s": round(now - t, 1), **rss_gb()}
        log(f"mesh_tp: {name}: {phases[name]}")
        t = now
    model = build_model(layers, seed, config=config, directory=directory)
    params = sum(p.numel() for p in model.parameters())
    phase("build (bfloat16, seeded)")
    x = torch.randint(0, model.config.vocab_size, (1, seq), generator=torch.Generator().manual_seed(seed))
    ref = float32_forward(model, x)
    phase("reference (CPU float32, module by module)")
    spilling = spill.spilled(directory) if directory else contextlib.nullcontext()
    before = spill.stats()
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(*mesh_shape))
    try:
        opt = torch_ttnn.TorchTtnnOption(device=mesh, tensor_parallel=True, free_host_params=True, verbose=False)
        torch._dynamo.reset()
        compiled = torch.compile(model, backend=torch_ttnn.backend, options=opt)
        with torch.no_grad(), spilling:
            compiled(x, use_cache=False)   # compiles, places the weights split over the chips
            phase("compile + first call (weights uploaded)")
            out = compiled(x, use_cache=False).logits   # the steady-state call the figures are from
        phase("steady-state call")
        m = opt.metrics[0]
        dram = [r["DRAM"]["allocated"] for r in mesh.memory_report().values()]
        tp = m["mesh"]["tensor_parallel"]
        spilled = {k: v - before[k] for k, v in spill.stats().items()}
        return {"layers": layers, "seq": seq, "parameters": params, "pcc": pcc(ref, out.float()),
                "device_time_ms": m["device_time_ms"], "collective_ms": m["mesh"]["collective_ms"],
                "device_time_per_chip_ms": m["mesh"]["device_time_per_chip_ms"],
                "dram_bytes_per_chip": max(dram), "all_reduces": tp["all_reduces"],
                "all_gathers": tp["all_gathers"], "replicated_linears": tp["replicated_linears"],
                "cpu_ops": m["cpu_ops"], "host_params": m["host_params"], "memory_mapped": bool(directory),
                "dram_spilled": spilled, "lean_malloc": lean, "peak_rss_gb": rss_gb()["peak_gb"], "phases": phases,
                "wall_s": round(sum(p["wall_s"] for p in phases.values()), 1)}
    finally:
        ttnn.close_mesh_device(mesh)


def markdown(record: dict) -> str:
    """The results file's summary, every figure from the record."""
    from torch_ttnn.provenance import when_and_where
    r = record["run"]
    gb = 1e9
    lines = [f"# {record['config']}: tensor parallel on an emulated {record['preset']} ({record['mesh']})", "",
             f"{when_and_where(record)}, `{record['command']}`.", "",
             f"- {r['layers']} decoder layers, {r['parameters'] / 1e9:.2f}B parameters, prompt of {r['seq']} "
             f"tokens, weights bfloat16 on the chips",
             f"- PCC of the logits vs {record['reference']}: {r['pcc']:.5f}",
             f"- est. device time per call (busiest chip): {r['device_time_ms']:.2f} ms, of which collectives "
             f"{r['collective_ms']:.2f} ms ({r['all_reduces']} all_reduce, {r['all_gathers']} all_gather)",
             f"- DRAM per chip: {r['dram_bytes_per_chip'] / gb:.2f} GB",
             f"- host: peak anonymous memory {r['peak_anon_gb']:.1f} GB (sampled every 0.2 s), peak resident "
             f"{r['peak_rss_gb']:.1f} GB (VmHWM, counting memory-mapped file pages the kernel can drop); "
             f"written to mapped files as emulated DRAM over the run (every upload and device copy of 1 MiB or more, "
             f"freed ones included): {r['dram_spilled']['bytes'] / gb:.1f} GB; CPU weights freed after "
             f"upload: {r['host_params']['freed_bytes'] / gb:.1f} GB",
             f"- wall time {r['wall_s']:.0f} s on this host", "", "| phase | wall s | RSS after, GB | of which anonymous | VmHWM so far, GB |",
             "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['wall_s']:.0f} | {v['rss_gb']:.1f} | {v['anon_gb']:.1f} | {v['peak_gb']:.1f} |"
              for k, v in r["phases"].items()]
    lines += ["", f"What it needed: {record['needed']}", ""]
    return "\n".join(lines)


NEEDED_MAPPED = (
    "one process, bfloat16 weights (no bfloat8_b); the model built in bfloat16 on the meta device with each weight "
    "in a memory-mapped file (never a float32 copy, never the whole model in the process's own memory), and the "
    "emulated chips' DRAM contents (the uploaded weights) in memory-mapped files too (torch_ttnn.sim.spill): both "
    "live in the kernel's page cache, which writes them to disk and drops them under memory pressure, so the "
    "process's own (anonymous) memory stays small; glibc's mmap threshold fixed at 128 KiB (mallopt), so the "
    "upload's freed transient copies go back to the system; the reference widens one module at a time to float32.")
NEEDED_IN_MEMORY = (
    "one process, bfloat16 weights (no bfloat8_b); the model built in bfloat16 (14.5 GB; float32 would be 29 GB) "
    "and free_host_params=True (each parameter's CPU copy freed once the compiled program has uploaded it, so the "
    "host holds the weights once, as the chips' emulated copies); the reference widens one module at a time.")


def main(argv=None) -> dict:
    from torch_ttnn.provenance import git_commit, now
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="", help="write the record as JSON here (and a .md summary beside it)")
    ap.add_argument("--layers", type=int, default=FULL_LAYERS, help="decoder layers (the full model has 32)")
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--dir", default=None, help="where the memory-mapped weights and emulated DRAM go (default: a "
                                               "new directory under the system's temp dir; the files are unlinked "
                                               "at once)")
    ap.add_argument("--markdown", default="", help="only write the .md summary of this JSON record again")
    ap.add_argument("--in-memory", action="store_true", help="no files: weights and DRAM contents in memory, "
                                                             "the CPU weights freed once uploaded (free_host_params)")
    args = ap.parse_args(argv)
    if args.markdown:
        with open(args.markdown) as f:
            record = json.load(f)
        with open(os.path.splitext(args.markdown)[0] + ".md", "w") as f:
            f.write(markdown(record))
        return record
    os.environ.setdefault("TORCH_TTNN_SIM_ARCH", "t3000")
    date, commit = now(), git_commit()
    import tempfile
    directory = None if args.in_memory else (args.dir or tempfile.mkdtemp(prefix="mesh-tp-"))
    run_ = run(args.layers, args.seq, log=lambda s: print(s, file=sys.stderr, flush=True), directory=directory)
    print(json.dumps(run_), file=sys.stderr, flush=True)   # kept even if what follows fails
    record = {"model": "mistral", "config": CONFIG, "mesh": "2x4", "preset": os.environ["TORCH_TTNN_SIM_ARCH"],
              "mode": "tensor_parallel", "date": date, "commit": commit,
              "command": "python -m torch_ttnn.bench.mesh_tp " + " ".join(argv if argv is not None else sys.argv[1:]),
              "reference": "a CPU float32 forward of the same bfloat16-valued weights, module by module "
                           "(mesh_tp.float32_forward)",
              "needed": NEEDED_MAPPED if directory else NEEDED_IN_MEMORY, "run": run_}
    write(record, args.out)
    return record


def write(record: dict, out: str = "") -> None:
    """The record as JSON (stdout, and `out` when given) and its Markdown summary beside `out`."""
    text = json.dumps(record, indent=1)
    if out:
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with open(out, "w") as f:
            f.write(text + "\n")
        with open(os.path.splitext(out)[0] + ".md", "w") as f:
            f.write(markdown(record))
    print(text)


if __name__ == "__main__":
    main()
