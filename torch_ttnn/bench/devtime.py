"""Where a program's estimated device time goes: the emulator's op records grouped by op.

`python -m torch_ttnn.bench.devtime bert-large` compiles a model with backend="ttnn", runs it once to warm up
(constants placed, programs built) and once to measure, and prints per TT-NN op: calls, device kernel time,
host-visible time (with dispatch) and traced time, and what bound each (compute, unpack, NoC, DRAM, launch).
The same breakdown serves the hand-written TT-NN programs of the benchmark, so both are read the same way.
"""
from __future__ import annotations

import argparse
import collections
from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..sim.cost import overlapped


class OpTime(NamedTuple):
    name: str
    calls: int
    kernel_ms: float
    host_ms: float       # the op's own host-visible time in a loop (dispatch and device overlapping)
    trace_ms: float
    bounds: str          # how often each pipeline set the kernel time, most frequent first


@dataclass
class Cost:
    """Sums over one call's op records (extrapolate() combines them linearly)."""
    ops: float
    kernel_ms: float
    dispatch_ms: float
    device_side_ms: float
    trace_ms: float

    @classmethod
    def of(cls, records) -> "Cost":
        dev = [r for r in records if r.time_ns]
        return cls(len(dev), sum(r.time_ns for r in dev) / 1e6,
                   sum(r.dispatch_ns for r in dev if not r.traced) / 1e6,
                   sum(r.device_side_ns for r in dev) / 1e6, sum(r.trace_ns for r in dev) / 1e6)

    def extrapolate(self, two: "Cost", layers: int) -> "Cost":
        f = lambda a, b: a + (layers - 1) * (b - a)  # noqa: E731
        return Cost(*(f(getattr(self, k), getattr(two, k)) for k in ("ops", "kernel_ms", "dispatch_ms",
                                                                      "device_side_ms", "trace_ms")))

    @property
    def host_ms(self) -> float:
        """Host-visible time without trace: the host enqueues ahead of the device."""
        return overlapped(self.dispatch_ms, self.device_side_ms)


class Summary(NamedTuple):
    total: Cost          # the whole call: ops with a kernel, kernel, dispatch, device-side and traced time
    by_op: list


def summarize(records) -> Summary:
    groups: dict = collections.defaultdict(list)
    for r in records:
        groups[r.name].append(r)
    rows = []
    for name, rs in groups.items():
        bounds = collections.Counter(r.bound for r in rs)
        rows.append(OpTime(name, len(rs), sum(r.time_ns for r in rs) / 1e6, sum(r.host_ns for r in rs) / 1e6,
                           sum(r.trace_ns for r in rs) / 1e6,
                           ", ".join(f"{b} {n}" for b, n in bounds.most_common())))
    rows.sort(key=lambda r: -r.kernel_ms)
    return Summary(Cost.of(records), rows)


def render(s: Summary, title: str) -> str:
    from tabulate import tabulate
    t = s.total
    head = (f"{title}: {t.ops} device ops, est. kernel {t.kernel_ms:.2f} ms, host-visible {t.host_ms:.2f} ms "
            f"without trace, {t.trace_ms:.2f} ms traced")
    table = tabulate([(r.name, r.calls, f"{r.kernel_ms:.3f}", f"{r.host_ms:.3f}", f"{r.trace_ms:.3f}", r.bounds)
                      for r in s.by_op], headers=["op", "calls", "kernel ms", "host ms", "traced ms", "bound by"])
    return head + "\n" + table


def compiled_records(model: torch.nn.Module, args: tuple, option=None) -> list:
    """Op records of one steady-state call of `model` compiled with backend="ttnn" (the second call)."""
    from .. import compiler
    option = option or compiler.TorchTtnnOption(runtime="sim", verbose=False)
    compiled = torch.compile(model, backend=compiler.backend, options=option)
    with torch.no_grad():
        compiled(*args)
        start = len(option.device.op_records)
        compiled(*args)
    return option.device.op_records[start:]


def bert(layers: int, hidden: int, heads: int, intermediate: int, batch: int, seq: int, seed: int = 0):
    """A HF BertModel of the given dims with seeded random weights, and (ids, attention mask) inputs."""
    import transformers as hf
    torch.manual_seed(seed)
    cfg = hf.BertConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=intermediate, attn_implementation="sdpa")
    model = hf.BertModel(cfg, add_pooling_layer=False).eval()
    ids = torch.randint(0, cfg.vocab_size, (batch, seq), generator=torch.Generator().manual_seed(seed))
    return model, (ids, torch.ones(batch, seq, dtype=torch.long))


CONFIGS = {  # name: BertModel dims and the batch/sequence TT's public figures use
    "bert-large": dict(layers=24, hidden=1024, heads=16, intermediate=4096, batch=8, seq=384),
    "bert-base": dict(layers=12, hidden=768, heads=12, intermediate=3072, batch=8, seq=384),
}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m torch_ttnn.bench.devtime", description=__doc__.split("\n")[0])
    p.add_argument("model", choices=sorted(CONFIGS))
    p.add_argument("--layers", type=int, help="fewer encoder layers (a quick look; figures scale per layer)")
    p.add_argument("--weight-dtype", choices=("bfloat8_b", "bfloat4_b"), help="TorchTtnnOption(weight_dtype=)")
    p.add_argument("--fidelity", default="auto", help="TorchTtnnOption(math_fidelity=), e.g. LoFi")
    p.add_argument("--no-fp32-acc", action="store_true", help="TorchTtnnOption(fp32_accumulation=False)")
    p.add_argument("--no-l1", action="store_true", help="TorchTtnnOption(l1=False)")
    p.add_argument("--no-fuse", action="store_true", help="TorchTtnnOption(fuse=False)")
    p.add_argument("--no-shard", action="store_true", help="TorchTtnnOption(shard=False)")
    a = p.parse_args(argv)
    from .. import compiler
    dims = dict(CONFIGS[a.model], **({"layers": a.layers} if a.layers else {}))
    opts = dict(weight_dtype=a.weight_dtype, math_fidelity=a.fidelity, fp32_accumulation=not a.no_fp32_acc,
                l1=not a.no_l1, fuse=not a.no_fuse, shard=not a.no_shard)
    model, args = bert(**dims)
    records = compiled_records(model, args, compiler.TorchTtnnOption(runtime="sim", verbose=False, **opts))
    print(render(summarize(records), f"compiled {a.model} {dims} {opts}"))


if __name__ == "__main__":
    main()
