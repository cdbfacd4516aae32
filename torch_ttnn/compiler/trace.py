"""Steady-state calls replayed from a captured TT-NN trace (`TorchTtnnOption(trace=True)`).

Without trace, the host dispatches every op of every call: on a card that costs tens of microseconds per op
(sim/cost.py), more than many ops take on the device. A trace records the device ops once and replays them
with no host work per op. It needs what the hardware needs: the buffers keep their addresses, so the graph
inputs are written into the same device tensors every call (`copy_host_to_device_tensor`) and the outputs are
read from the same tensors; and nothing between the first and the last device op may touch the host.

So a call's per-call steps split in three: `feed` (host steps and the inputs' host-to-device transfers),
`body` (device ops and deallocations only), `drain` (device-to-host transfers and what follows). The first
call runs untraced: it builds the programs into the device's program cache (a program built during a capture
would write to the device, which a capture refuses: sim/program_cache.py). The second captures the body
(then replays it once: on a card a capture computes nothing), later calls feed the captured inputs, replay,
and drain the captured outputs. A program that does not split so (a CPU fallback
between device ops, symbolic shapes, inputs already on the device) runs untraced, and says why.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Split:
    feed: list
    body: list
    drain: list


def split(plan, device_op) -> tuple[Split | None, str]:
    """The plan's feed/body/drain, or None and the reason it cannot be traced. `device_op(p)`: whether a
    planned step runs a TT-NN op on the device."""
    dev = [i for i, p in enumerate(plan) if p.frees is None and device_op(p)]
    if not dev:
        return None, "no device op to trace"
    lo, hi = dev[0], dev[-1] + 1
    feed, body, drain = plan[:lo], plan[lo:hi], plan[hi:]
    for p in body:
        if p.frees is None and (p.transfer or not device_op(p)):
            name = getattr(p.fn, "__name__", str(p.fn))
            return None, f"host work between device ops ({name}: a CPU fallback or a transfer)"
    if any(p.transfer == "d2h" for p in feed) or any(p.transfer == "h2d" for p in drain):
        return None, "a device-to-host transfer before the device ops, or host-to-device after them"
    return Split(feed, body, drain), ""


class Tracer:
    """One program's trace: captured on its first traced call, replayed after; released with the program's
    constants (a trace holds their buffers). `prog` runs and resolves planned steps (compiler.program)."""

    def __init__(self, ttnn, device, prog):
        self.ttnn, self.device, self.prog = ttnn, device, prog
        self.trace_id = None
        self.warm = False           # ran once untraced since the last release: its programs are cached
        self.inputs: dict = {}      # slot -> the captured device input tensor (fixed buffer)
        self.outputs: dict = {}     # slot -> a captured device tensor read after the body

    def run(self, parts: Split, counts, protected, output):
        env = self.prog.env
        if not self.warm:
            self.prog.run_steps(parts.feed + parts.body + parts.drain, counts, protected)
            self.warm = True
            return
        if self.trace_id is None:
            self._capture(parts, counts, protected, output)
        else:
            self._feed(parts.feed, counts)
            self.ttnn.execute_trace(self.device, self.trace_id, cq_id=0, blocking=True)
            for slot, t in self.outputs.items():
                env[slot] = t
        fixed = {id(t) for t in (*self.inputs.values(), *self.outputs.values())}
        self.prog.run_steps(parts.drain, counts, protected | fixed)

    def _capture(self, parts, counts, protected, output):
        env = self.prog.env
        self.prog.run_steps(parts.feed, counts, protected)
        self.inputs = {p.slot: env[p.slot] for p in parts.feed if p.transfer == "h2d"}
        keep = protected | {id(t) for t in self.inputs.values()}
        self.trace_id = self.ttnn.begin_trace_capture(self.device, cq_id=0)
        try:
            self.prog.run_steps(parts.body, counts, keep)
        finally:
            self.ttnn.end_trace_capture(self.device, self.trace_id, cq_id=0)
        self.ttnn.execute_trace(self.device, self.trace_id, cq_id=0, blocking=True)
        # What the drain reads or frees (a dealloc of an alias group's root) and the call's outputs: kept as
        # fixed buffers, handed to the drain every replay, never freed by it.
        read = set().union(*(self.prog.slots_read((p.step.args, p.step.kwargs)) for p in parts.drain
                             if p.frees is None), {p.frees for p in parts.drain if p.frees is not None},
                           self.prog.slots_read(output))
        self.outputs = {p.slot: env[p.slot] for p in parts.body if p.frees is None and p.slot in read}

    def _feed(self, feed, counts):
        """The feed's host steps as usual; each host-to-device transfer writes into the captured input."""
        for p in feed:
            if p.transfer != "h2d":
                self.prog.run_steps([p], counts, set())
                continue
            args, kwargs = self.prog.resolved(p)
            kwargs = {k: v for k, v in kwargs.items() if k not in ("device", "memory_config")}
            self.ttnn.copy_host_to_device_tensor(self.ttnn.from_torch(*args, **kwargs), self.inputs[p.slot])
            self.prog.env[p.slot] = self.inputs[p.slot]
            counts["h2d"] += 1

    def release(self):
        if self.trace_id is not None:
            self.ttnn.release_trace(self.device, self.trace_id)
        for t in (*self.inputs.values(), *self.outputs.values()):
            if t.is_allocated():
                self.ttnn.deallocate(t)
        self.trace_id, self.inputs, self.outputs, self.warm = None, {}, {}, False
