"""Compiled vs hand-written TT-NN, side by side on the same cost model: `python -m torch_ttnn.bench.compare`.

For each model the same HF weights (seeded, nothing downloaded) run two ways on the emulator: compiled with
`torch.compile(backend="ttnn")` (with our defaults, with bfloat8_b weights and LoFi, and with the options that
match the hand-written numerics: every float tensor bfloat8_b, LoFi, bfloat16 accumulation), and written by hand in TT-NN the way Tenstorrent's
optimized models are (torch_ttnn/bench/handwritten). Both are priced by sim/cost.py from their op records.

Depth. Every encoder layer has the same shapes, and the cost model prices an op from its shapes, configs and
placement only, so a model of L layers costs exactly cost(1) + (L - 1) * (cost(2) - cost(1)): the figures
are measured at 1 and 2 layers and extrapolated, summed per figure (kernel, dispatch, device-side, traced)
before the host-visible time takes the larger of total dispatch and total device time. The accuracy (PCC
against CPU float32) is measured at 2 layers.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..accuracy import pcc
from ..provenance import when_and_where
from .devtime import Cost
from .figures import ratio

RESULTS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "results"
# Published throughput of BERT-large (batch 8, sequence 384) on an n150: the original torch-ttnn's compiled
# model and TT's hand-written TT-NN model (the figures the issue quotes; sentences per second).
PUBLIC_SENTENCES_PER_S = {"compiled (original torch-ttnn)": 24.9, "hand-written TT-NN (Tenstorrent)": 290.0}


@dataclass
class Row:
    model: str
    variant: str        # compiled (defaults) / compiled (bf8, LoFi) / hand-written
    layers: int
    ops: int
    kernel_ms: float
    host_ms: float
    trace_ms: float
    pcc: float | None


def _records(device, fn):
    start = len(device.op_records)
    out = fn()
    return out, device.op_records[start:]


COMPILED_VARIANTS = {
    "compiled (defaults)": dict(),
    "compiled (bf8 weights, LoFi)": dict(weight_dtype="bfloat8_b", math_fidelity="lofi", fp32_accumulation=False),
    # the hand-written programs' numerics: every float tensor bfloat8_b, LoFi, bfloat16 accumulation
    "compiled (all bf8, LoFi)": dict(float_dtype="bfloat8_b", math_fidelity="lofi", fp32_accumulation=False),
}


def _compiled(model, args, output, device, **opts):
    from .. import compiler
    torch._dynamo.reset()
    opt = compiler.TorchTtnnOption(runtime="sim", device=device, **{"verbose": False, **opts})
    compiled = torch.compile(model, backend=compiler.backend, options=opt)
    with torch.no_grad():
        compiled(*args)                       # constants placed, programs built
        out, recs = _records(device, lambda: compiled(*args))
    return output(out), recs


def _compiled_traced(model, args, output, device, **opts):
    """The op records of a call replayed from a captured trace: compiled with trace=True (so the passes judge
    by traced time), a compile run, a capture, then the measured replay. Raises if the program did not trace
    (the traced figure would otherwise be a guess from an untraced call)."""
    from .. import compiler
    torch._dynamo.reset()
    opt = compiler.TorchTtnnOption(runtime="sim", device=device, trace=True, **{"verbose": False, **opts})
    compiled = torch.compile(model, backend=compiler.backend, options=opt)
    with torch.no_grad():
        for _ in range(3):                    # programs built; compile run; capture and first replay
            compiled(*args)
        out, recs = _records(device, lambda: compiled(*args))
    untraced = [m["trace_reason"] for m in opt.metrics if not m["traced"]]
    if untraced or not any(r.traced for r in recs):
        raise RuntimeError(f"compare: the compiled program did not trace ({'; '.join(untraced)})")
    return output(out), recs


# --- the models: (build(layers) -> (torch model, args, output fn), hand-written runner) ---------------------------
def _bert(name: str, batch: int, seq: int):
    import transformers as hf
    from .handwritten.__main__ import bert_config
    from .handwritten.bert import HandwrittenBert

    def build(layers):
        torch.manual_seed(0)
        model = hf.BertForQuestionAnswering(bert_config(name, layers)).eval()
        ids = torch.randint(1, 30522, (batch, seq), generator=torch.Generator().manual_seed(0))
        return model, (ids, torch.ones(batch, seq, dtype=torch.long)), \
            lambda o: torch.stack([o.start_logits, o.end_logits], -1)

    def handwritten(ttnn, device, model, args):
        hw = HandwrittenBert.build(ttnn, device, model.config, model.state_dict(), batch, seq)
        inputs = hw.inputs(*args)
        out, recs = _records(device, lambda: hw(inputs))
        return ttnn.to_torch(out).float().reshape(batch, seq, -1)[..., :2], recs
    return build, handwritten, bert_config(name).num_hidden_layers


def _vit(batch: int):
    import transformers as hf
    from .handwritten.vit import HandwrittenVit

    def build(layers):
        torch.manual_seed(0)
        cfg = hf.ViTConfig(image_size=224, patch_size=16, hidden_size=768, num_hidden_layers=layers,
                           num_attention_heads=12, intermediate_size=3072)
        model = hf.ViTModel(cfg, add_pooling_layer=False).eval()
        pixels = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        return model, (pixels,), lambda o: o.last_hidden_state

    def handwritten(ttnn, device, model, args):
        hw = HandwrittenVit.build(ttnn, device, model.config, model.state_dict(), batch)
        pixels = hw.inputs(*args)
        out, recs = _records(device, lambda: hw(pixels))
        return ttnn.to_torch(out).float()[:, :197, :768].reshape(batch, 197, 768), recs
    return build, handwritten, 12


def _llama_decode(users: int, cache_len: int, config=None, depth: int = 16):
    """One decode step of Llama-3.2-1B without its LM head (token ids -> final hidden states), `users` new
    tokens against a KV cache of `cache_len` positions on the device. Both programs first decode position 0
    (filling the cache), then the step at position 1 is measured; attention covers the whole cache in both
    (masked), so the cost does not depend on the position. `config(layers)` overrides the widths (tests)."""
    import transformers as hf
    from . import decode
    from .handwritten.llama import HandwrittenLlamaDecode, llama_1b_config
    config = config or llama_1b_config

    def build(layers):
        cfg = config(layers)
        cfg._attn_implementation = "sdpa"
        torch.manual_seed(0)
        model = hf.LlamaModel(cfg).eval()
        ids = torch.randint(0, cfg.vocab_size, (users, 2), generator=torch.Generator().manual_seed(0))
        return model, (ids,), None

    def reference(model, args):
        return decode.reference_steps(model, args[0], cache_len)[1]

    def handwritten(ttnn, device, model, args):
        ids = args[0]
        hw = HandwrittenLlamaDecode.build(ttnn, device, model.config, model.state_dict(), users, cache_len)
        hw.step(hw.inputs(ids[:, 0], 0))
        inputs = hw.inputs(ids[:, 1], 1)
        out, recs = _records(device, lambda: hw.step(inputs))
        return ttnn.to_torch(out).float().reshape(users, 1, -1), recs

    def compiled(model, args, output, device, **opts):
        ids = args[0]
        step = decode.compile_decode(decode.device_model(model), users, cache_len, **opts)
        step(ids[:, :1], torch.zeros(users, 1, dtype=torch.long))
        out, recs = _records(device, lambda: step(ids[:, 1:2], torch.ones(users, 1, dtype=torch.long)))
        return out.cpu().float(), recs
    return Bench(build, handwritten, depth, compiled, reference)


@dataclass
class Bench:
    """How to measure one model: build(layers) -> (CPU model, args, output fn); the hand-written runner; the
    model's depth; the compiled runner and the CPU reference (defaults: one forward of the model)."""
    build: Any
    handwritten: Any
    depth: int
    compiled: Any = None
    reference: Any = None


MODELS = {
    "bert-large": lambda: _bert("bert-large", 8, 384),
    "bert-base": lambda: _bert("bert-base", 8, 384),
    "vit-base": lambda: _vit(8),
    "llama-1b-decode": lambda: _llama_decode(32, 384),
}


def measure(name: str, variants=("hand-written", *COMPILED_VARIANTS)) -> list[Row]:
    import torch_ttnn.sim as ttnn
    device = ttnn.open_device(device_id=0, trace_region_size=64 << 20)
    spec = MODELS[name]()
    spec = spec if isinstance(spec, Bench) else Bench(*spec)
    compiled = spec.compiled or _compiled
    depth = spec.depth
    costs: dict = {v: {} for v in variants}
    pccs: dict = {}
    traced_pcc: dict = {}
    for layers in (1, 2):
        model, args, output = spec.build(layers)
        with torch.no_grad():
            ref = spec.reference(model, args) if spec.reference else output(model(*args))
        for v in variants:
            if v == "hand-written":
                out, recs = spec.handwritten(ttnn, device, model, args)
            else:
                out, recs = compiled(model, args, output, device, **COMPILED_VARIANTS[v])
            costs[v][layers] = Cost.of(recs)
            if v != "hand-written" and spec.compiled is None:   # the traced figure from a real replay
                traced_out, traced = _compiled_traced(model, args, output, device, **COMPILED_VARIANTS[v])
                costs[v][layers].trace_ms = Cost.of(traced).trace_ms
                if layers == 2:
                    traced_pcc[v] = pcc(ref, traced_out.reshape(ref.shape))
            print(f"compare: {name}, {layers} layer(s), {v}: {costs[v][layers]}", file=sys.stderr, flush=True)
            if layers == 2:
                pccs[v] = pcc(ref, out.reshape(ref.shape))
    for v, p in traced_pcc.items():   # the traced program is configured apart: its accuracy may differ a little
        pccs[v] = min(pccs[v], p)
    rows = []
    for v in variants:
        c = costs[v][1].extrapolate(costs[v][2], depth)
        rows.append(Row(name, v, depth, round(c.ops), c.kernel_ms, c.host_ms, c.trace_ms, pccs.get(v)))
    return rows


def render(rows: list[Row], meta: dict) -> str:
    from tabulate import tabulate
    hand = {r.model: r for r in rows if r.variant == "hand-written"}
    table = []
    for r in rows:
        h = hand.get(r.model)
        table.append((r.model, r.variant, r.ops, f"{r.kernel_ms:.2f}", f"{r.host_ms:.2f}", f"{r.trace_ms:.2f}",
                      f"{ratio(r.host_ms, h.host_ms):.2f}x" if h else "-",
                      f"{ratio(r.trace_ms, h.trace_ms):.2f}x" if h else "-",
                      f"{r.pcc:.4f}" if r.pcc is not None else "-"))
    lines = [f"Made by `python -m torch_ttnn.bench.compare` on {when_and_where(meta)}, on the "
             f"emulator with n150 figures (sim/cost.py); figures per forward, depth extrapolated from 1- and "
             f"2-layer runs (exact under the cost model), PCC vs CPU float32 at 2 layers.", "",
             tabulate(table, headers=["model", "program", "device ops", "kernel ms", "host-visible ms",
                                      "traced ms", "vs hand-written", "traced vs hand-written", "PCC"],
                      tablefmt="github"),
             *_kept_note(meta.get("kept") or {}),
             "", "Kernel: device kernel time summed; host-visible: as the host sees a call without trace (host "
             "dispatch overlapping the device); traced: replayed from a captured trace (no dispatch; compiled "
             "programs: compiled with trace=True and measured on a real replay, PCC the lower of both runs). The "
             "hand-written BERT and ViT programs are bfloat8_b with LoFi throughout, as 'compiled (all bf8, LoFi)' is "
             "(the Llama decode's dtypes: below); "
             "'compiled (defaults)' keeps bfloat16 with HiFi2 and float32 accumulation, so it is compared at "
             "higher precision."]
    if any(r.model == "llama-1b-decode" for r in rows):
        lines += ["", "llama-1b-decode: one decode step of Llama-3.2-1B (16 layers, hidden 2048, 32 query and 8 KV "
                  "heads), 32 users with one new token each, KV cache of 384 positions on the device, token ids in "
                  "and final hidden states out (the LM head, the same 2048x128256 product for both, is left out). "
                  "Compiled: Hugging Face's LlamaModel (bfloat16) with a StaticCache on the ttnn device; 'all bf8' "
                  "holds its weights and activations in bfloat8_b but its cache in bfloat16 (the ttnn torch device "
                  "owns it as the model's dtype). The hand-written program keeps its cache and weights in "
                  "bfloat8_b and its activations in bfloat16."]
    large = [r for r in rows if r.model == "bert-large"]
    if large:
        lines += ["", "BERT-large, batch 8, sequence 384: estimated sentences/s on an n150 (8 / time):", ""]
        lines += [f"- {r.variant}: {8e3 / r.host_ms:.0f} without trace, {8e3 / r.trace_ms:.0f} traced"
                  for r in large]
        lines += [f"- published, {k}: {v}" for k, v in PUBLIC_SENTENCES_PER_S.items()]
    return "\n".join(lines) + "\n"


def _kept_note(kept: dict) -> list[str]:
    by_run: dict = {}
    for model, when in kept.items():
        by_run.setdefault(when, []).append(model)
    return [""] + [f"Rows of {', '.join(ms)} kept from the run of {when} (`--merge`: measured again only the "
                   f"models whose code changed)." for when, ms in by_run.items()] if by_run else []


def _merged(rows: list[Row], measured: list[str], info: dict) -> tuple[list[Row], dict]:
    """The committed results with the rows of `measured` models replaced, in MODELS order; the meta says which
    models' rows come from which earlier run."""
    old = json.loads((RESULTS / "compare.json").read_text())
    kept = [Row(**r) for r in old["rows"] if r["model"] not in measured]
    earlier = dict(old["meta"].get("kept", {}))
    for r in kept:
        earlier.setdefault(r.model, when_and_where(old["meta"]))
    order = list(MODELS)
    merged = sorted(kept + rows, key=lambda r: order.index(r.model) if r.model in order else len(order))
    return merged, {**info, "kept": earlier}


def main(argv=None):
    from .suite import meta
    p = argparse.ArgumentParser(prog="python -m torch_ttnn.bench.compare", description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    p.add_argument("--write", action="store_true", help="write benchmarks/results/compare.{md,json}")
    p.add_argument("--merge", action="store_true",
                   help="with --write: keep the committed rows of the models not measured now (their commit is "
                        "named in the report)")
    p.add_argument("--readme", action="store_true",
                   help="only copy the committed benchmarks/results/compare.md into README.md's compare section")
    a = p.parse_args(argv)
    if a.readme:
        from ..zoo.report import update_readme
        body = (RESULTS / "compare.md").read_text().split("\n", 2)[2]   # without its title
        update_readme(str(RESULTS.parents[1] / "README.md"), body, "<!-- compare:begin -->", "<!-- compare:end -->")
        return
    names = [m.strip() for m in a.models.split(",")]
    info = meta({"what": "compiled vs hand-written TT-NN"})   # before measuring: the commit of the code that runs
    rows = [r for m in names for r in measure(m)]
    if a.merge:
        rows, info = _merged(rows, names, info)
    text = render(rows, info)
    print(text)
    if a.write:
        (RESULTS / "compare.md").write_text("# Compiled vs hand-written TT-NN\n\n" + text)
        (RESULTS / "compare.json").write_text(json.dumps({"meta": info, "rows": [asdict(r) for r in rows]},
                                                         indent=1))


if __name__ == "__main__":
    main()
