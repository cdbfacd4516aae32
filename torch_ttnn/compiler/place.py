"""L1 placement: per-call activations that fit live in L1 instead of DRAM (`TorchTtnnOption(l1=...)`).

DRAM is shared by every core at ~267 GB/s; L1 is 1.5 MB inside each core, reached over the NoC. TT's
optimized models keep activations in L1 between ops for that reason, and the cost model prices the
difference (sim/cost.py: L1 operands cost NoC time, no DRAM time). Placement must never overflow L1: an
interleaved L1 buffer takes ceil(pages / cores) pages in every core's bank, and ops also allocate their own
circular buffers at the top of L1, so only a share of each bank (`budget`, half by default) is planned.

The plan is greedy in program order over buffer lifetimes: a tensor computed per call (a group of nodes that
may alias one buffer counts once) goes to L1 when, from the op that makes it to the last use of its group,
the planned L1 bytes per bank plus its own stay within the budget; otherwise it stays in DRAM. Weights and
other kept constants stay in DRAM (they would hold L1 for the module's lifetime). Only ops that take a
`memory_config` are placed, with `memory_config=ttnn.L1_MEMORY_CONFIG`; a node whose shape the lowering did
not know is left alone. Tensors the shard pass (compiler/shard.py) block-sharded in L1 are planned first and
hold their shard's bytes in every bank over their lifetimes.
"""
from __future__ import annotations

import functools
import inspect

import torch.fx as fx

from ..sim import types as tt_types   # TT-NN byte sizes by dtype name (the same for the real package)
from .passes import alias_members

DEFAULT_BUDGET = 0.5
# Ops that read some inputs from DRAM only (their validation refuses interleaved L1): name -> argument positions
# or keyword names. Flash-decode wants Q in DRAM (or height-sharded) and streams K and V from DRAM
# (sdpa_decode_device_operation); SDPA takes Q, K, V from DRAM or L1 but its mask from DRAM only ("When mask is
# provided to SDPA, it must be in DRAM", sdpa_device_operation).
DRAM_INPUTS = {"scaled_dot_product_attention_decode": (0, 1, 2), "scaled_dot_product_attention": ("attn_mask",)}


def _needs_dram(m: fx.Node, user: fx.Node) -> bool:
    where = DRAM_INPUTS.get(user.meta.get("ttnn_name"), ())
    return any(user.kwargs.get(i) is m if isinstance(i, str) else i < len(user.args) and user.args[i] is m
               for i in where)


@functools.cache
def _takes_memory_config(fn) -> bool:
    try:
        return "memory_config" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _sizes(name: str) -> tuple[int, int] | None:
    """(bytes of a 32x32 tile, bytes of an element in ROW_MAJOR: 0 for block floats, TILE only) of TT-NN
    dtype `name`, or None."""
    dtype = tt_types.DataType.__members__.get(name)
    if dtype is None:
        return None
    if dtype in tt_types.BLOCK_FLOAT:
        return tt_types.tile_bytes(dtype), 0
    try:
        return tt_types.tile_bytes(dtype), tt_types.element_size(dtype)
    except KeyError:
        return None


def bank_bytes(meta: dict, banks: int, alignment: int = 16) -> int | None:
    """Bytes the tensor takes in each of `banks` L1 banks when interleaved, or None if unknown."""
    shape, dtype, layout = meta.get("shape"), meta.get("dtype"), meta.get("layout")
    sizes = _sizes(getattr(dtype, "name", ""))
    if shape is None or sizes is None or layout is None or not all(isinstance(d, int) for d in shape):
        return None
    shape = tuple(shape) or (1,)
    if getattr(layout, "name", "") == "TILE":
        shape = (1,) * (2 - len(shape)) + shape
        pages = -(-shape[-2] // 32) * -(-shape[-1] // 32)
        for d in shape[:-2]:
            pages *= d
        page = sizes[0]
    elif sizes[1]:
        pages = 1
        for d in shape[:-1]:
            pages *= d
        page = -(-shape[-1] * sizes[1] // alignment) * alignment
    else:
        return None
    return -(-max(pages, 1) // banks) * page


def place_l1(graph: fx.Graph, l1_config, banks: int, bank_size: int, budget: float = DEFAULT_BUDGET,
             dram_config=None) -> int:
    """Give `memory_config=l1_config` to the per-call device tensors that fit (see the module docstring);
    returns how many tensors were placed. A tensor some op reads from DRAM only (DRAM_INPUTS) gets
    `memory_config=dram_config`, if given: an op without a memory config writes where its input is."""
    nodes = list(graph.nodes)
    order = {n: i for i, n in enumerate(nodes)}
    group_of, members = alias_members(graph)
    usage = [0] * len(nodes)
    for n in nodes:   # shards placed by compiler/shard.py hold their bytes per core over their lifetimes
        if n.meta.get("l1_shard_bytes"):
            end = max((order[u] for u in n.users), default=order[n])
            for i in range(order[n], end + 1):
                usage[i] += n.meta["l1_shard_bytes"]
    limit = int(bank_size * budget)
    placed = 0
    for n in nodes:
        if group_of[n] is not n or not _candidate(n):
            continue
        size = bank_bytes(n.meta, banks)
        group = members[n]
        users = [u for m in group for u in m.users]
        if any(_needs_dram(m, u) for m in group for u in m.users):
            if dram_config is not None:   # else it would inherit its input's L1 placement
                n.update_kwarg("memory_config", dram_config)
            continue
        if size is None or any(u.op == "output" for u in users) or any(m.meta.get("kept") for m in group):
            continue
        start, end = order[n], max((order[u] for u in users), default=order[n])
        if max(usage[start:end + 1]) + size > limit:
            continue
        for i in range(start, end + 1):
            usage[i] += size
        n.update_kwarg("memory_config", l1_config)
        placed += 1
    return placed


def _candidate(n: fx.Node) -> bool:
    return (n.op == "call_function" and n.meta.get("device") and not n.meta.get("const")
            and not n.meta.get("transfer") and not n.meta.get("multi") and "memory_config" not in n.kwargs
            and _takes_memory_config(n.target))
