"""Emulated devices: the card's figures, its DRAM/L1 allocators and the per-op record of estimated time.

The figures come from Tenstorrent's card specifications (shared/reference/ttnn-facts.md). Allocation models
TT-NN's interleaved allocator: pages (a tile, or a row in ROW_MAJOR) spread round-robin over a buffer type's
banks, so a buffer needs ceil(pages / banks) aligned pages in every bank, and fails when one bank is full.
Fragmentation is not modelled: free space is the bank size minus what live buffers hold.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, replace

from .cost import CostFigures, OpRecord, program_host_ns
from .program_cache import ProgramCache
from .types import Arch, BufferType, CoreCoord, CoreGrid


class OutOfMemoryError(RuntimeError):
    """Raised when a buffer does not fit its buffer type: the real allocator's TT_FATAL, as an exception."""


@dataclass(frozen=True)
class ArchSpec:
    name: str                 # the card, e.g. "n150"
    arch: Arch
    grid: CoreGrid            # compute_with_storage_grid_size
    clock_hz: float
    l1_per_core: int          # bytes of SRAM per Tensix core
    l1_reserved: int          # bytes at the bottom of each core's L1 held by firmware and kernels
    dram_bytes: int           # per chip
    dram_banks: int
    dram_bw: float            # bytes/s per chip
    dram_alignment: int
    l1_alignment: int
    cost: CostFigures         # the device-time model's figures for this card (sim/cost.py)
    chips: int = 1

    @property
    def num_cores(self) -> int:
        return self.grid.num_cores

    @property
    def l1_bank_size(self) -> int:
        return self.l1_per_core - self.l1_reserved


_MiB, _GiB = 1 << 20, 1 << 30
# Wormhole: 267 GB/s achievable of 288 peak (tt-metal tech_reports/Saturating_DRAM_bandwidth); the other figures
# are fitted to TT's measured n150 GEMM table (sim/cost.py, `python -m torch_ttnn.bench.calibrate`).
_WORMHOLE_COST = CostFigures(dram_bw=267e9)
# Blackhole: the same Tensix pipelines; DRAM at Wormhole's achievable share of its 512 GB/s peak (assumed).
_BLACKHOLE_COST = CostFigures(dram_bw=512e9 * 267 / 288)
ARCHS = {
    # Wormhole n150: one chip, 8x8 compute grid, 1 GHz, 1.5 MB L1 per core, 12 GB GDDR6 in 12 banks, 288 GB/s.
    "n150": ArchSpec("n150", Arch.WORMHOLE_B0, CoreGrid(y=8, x=8), 1.0e9, 1536 * 1024, 100 * 1024,
                     12 * _GiB, 12, 288e9, 32, 16, _WORMHOLE_COST),
    # Wormhole n300: two n150-like chips linked by Ethernet; each TT-NN device is one chip.
    "n300": ArchSpec("n300", Arch.WORMHOLE_B0, CoreGrid(y=8, x=8), 1.0e9, 1536 * 1024, 100 * 1024,
                     12 * _GiB, 12, 288e9, 32, 16, _WORMHOLE_COST, chips=2),
    # Blackhole p150a: 140 Tensix cores, 120 enabled by current firmware (12x10), 1.35 GHz, 32 GB in 8 banks.
    "p150": ArchSpec("p150", Arch.BLACKHOLE, CoreGrid(y=10, x=12), 1.35e9, 1536 * 1024, 100 * 1024,
                     32 * _GiB, 8, 512e9, 64, 16, _BLACKHOLE_COST),
}
# Multi-chip systems: the same chips, more of them (their mesh wiring is in sim/mesh.py SYSTEMS).
# T3000: four n300 cards, 8 Wormhole chips; Galaxy: 32 Wormhole chips; p150xN: N Blackhole p150 cards.
ARCHS.update({name: replace(ARCHS[chip], name=name, chips=chips) for name, chip, chips in (
    ("t3000", "n150", 8), ("galaxy", "n150", 32), ("p150x2", "p150", 2), ("p150x4", "p150", 4),
    ("p150x8", "p150", 8))})
DEFAULT_ARCH = "n150"


def _arch_from_env() -> str:
    name = os.environ.get("TORCH_TTNN_SIM_ARCH", DEFAULT_ARCH)
    if name not in ARCHS:
        raise ValueError(f"TORCH_TTNN_SIM_ARCH={name!r} is not a known card; choose one of {sorted(ARCHS)}")
    return name


@dataclass
class _Pool:
    """One buffer type's banks on one device."""
    name: BufferType
    banks: int
    bank_size: int
    alignment: int
    used_per_bank: int = 0
    live: dict = field(default_factory=dict)  # buffer id -> per-bank bytes
    peak_per_bank: int = 0

    @property
    def total(self) -> int:
        return self.banks * self.bank_size

    @property
    def allocated(self) -> int:
        return self.used_per_bank * self.banks


@dataclass
class Transfers:
    """Copies between the host and this device since it opened (or `reset()`): an upload is a `to_device` (or a
    `from_torch(..., device=)`) of a host tensor, a download a `to_torch`/`from_device` of a device tensor.
    The real card has no such counter (its copies are not device programs, so the profiler does not list
    them); the emulator keeps one so that "what crosses PCIe per call" is a number a test can assert."""
    h2d: int = 0
    d2h: int = 0
    h2d_bytes: int = 0
    d2h_bytes: int = 0

    def upload(self, nbytes: int):
        self.h2d, self.h2d_bytes = self.h2d + 1, self.h2d_bytes + nbytes

    def download(self, nbytes: int):
        self.d2h, self.d2h_bytes = self.d2h + 1, self.d2h_bytes + nbytes

    def snapshot(self) -> "Transfers":
        return Transfers(self.h2d, self.d2h, self.h2d_bytes, self.d2h_bytes)

    def since(self, before: "Transfers") -> "Transfers":
        return Transfers(self.h2d - before.h2d, self.d2h - before.d2h, self.h2d_bytes - before.h2d_bytes,
                         self.d2h_bytes - before.d2h_bytes)

    def reset(self):
        self.h2d = self.d2h = self.h2d_bytes = self.d2h_bytes = 0


class Device:
    """An emulated TT-NN device (one chip)."""

    def __init__(self, device_id: int, spec: ArchSpec, l1_small_size: int = 0, trace_region_size: int = 0,
                 worker_l1_size: int = 0):
        self.device_id = device_id
        self.spec = spec
        self._open = True
        self._next_buffer = 0
        self.program_cache = ProgramCache(enabled=True)   # on by default, as in TT-NN 0.81.1
        self.op_records: list[OpRecord] = []
        self.trace_region_size = trace_region_size
        self._traces: dict = {}        # trace id -> captured trace (sim/trace.py)
        self.transfers = Transfers()   # host <-> device copies (PCIe), counted by the conversions in tensor.py
        self._replaying = False        # ops run by execute_trace: priced without host dispatch
        l1_bank = spec.l1_bank_size - l1_small_size
        if worker_l1_size:
            l1_bank = min(l1_bank, worker_l1_size)
        if l1_bank <= 0:
            raise ValueError(f"l1_small_size={l1_small_size} leaves no "
                             f"L1 for buffers (each core has {spec.l1_bank_size} bytes)")
        self._pools = {
            # Trace buffers live in a DRAM region reserved at open (tt-metal allocates BufferType::TRACE in DRAM).
            BufferType.DRAM: _Pool(BufferType.DRAM, spec.dram_banks,
                                   (spec.dram_bytes - trace_region_size) // spec.dram_banks, spec.dram_alignment),
            BufferType.L1: _Pool(BufferType.L1, spec.num_cores, l1_bank, spec.l1_alignment),
            BufferType.L1_SMALL: _Pool(BufferType.L1_SMALL, spec.num_cores, l1_small_size, spec.l1_alignment),
        }

    # --- the real Device's query methods -------------------------------------------------------------
    def arch(self) -> Arch:
        return self.spec.arch

    def id(self) -> int:
        return self.device_id

    def compute_with_storage_grid_size(self) -> CoreCoord:
        return CoreCoord(self.spec.grid.x, self.spec.grid.y)

    @property
    def core_grid(self) -> CoreGrid:
        return self.spec.grid

    def dram_grid_size(self) -> CoreCoord:
        return CoreCoord(self.spec.dram_banks, 1)

    def get_num_devices(self) -> int:
        return 1

    # program cache (sim/program_cache.py): the real MeshDevice's methods
    @property
    def program_cache_enabled(self) -> bool:
        return self.program_cache.enabled

    def enable_program_cache(self) -> None:
        self.program_cache.enabled = True

    def disable_and_clear_program_cache(self) -> None:
        self.program_cache.enabled = False
        self.program_cache.clear()

    def clear_program_cache(self) -> None:
        self.program_cache.clear()

    def num_program_cache_entries(self) -> int:
        return len(self.program_cache.entries)

    def set_program_cache_misses_allowed(self, allowed: bool, /) -> None:
        self.program_cache.misses_allowed = bool(allowed)

    def is_open(self) -> bool:
        return self._open

    def __repr__(self):
        state = "open" if self._open else "closed"
        return f"<emulated ttnn Device {self.device_id}: {self.spec.name} ({self.spec.arch.name}), {state}>"

    # --- allocation ----------------------------------------------------------------------------------
    def check_open(self):
        if not self._open:
            raise RuntimeError(f"Device {self.device_id} is closed: open it again with "
                               f"ttnn.open_device(device_id={self.device_id}) before using it")

    def allocate(self, buffer_type: BufferType, num_pages: int, page_size: int, num_banks: int | None = None) -> int:
        """Reserve an interleaved buffer; returns a buffer id for free()."""
        self.check_open()
        pool = self._pools.get(buffer_type)
        if pool is None:
            raise RuntimeError(f"Buffer type {buffer_type.name} cannot hold tensors; use DRAM or L1")
        banks = min(num_banks or pool.banks, pool.banks)
        aligned = -(-page_size // pool.alignment) * pool.alignment
        per_bank = -(-num_pages // banks) * aligned
        # A replayed trace writes into the buffers its capture placed (checked then); the emulator's replay makes
        # new tensors beside the captured ones, so its allocations neither raise nor count towards the peak.
        if pool.used_per_bank + per_bank > pool.bank_size and not self._replaying:
            free = pool.bank_size - pool.used_per_bank
            raise OutOfMemoryError(
                f"Out of memory on device {self.device_id}: a {num_pages * aligned} B {buffer_type.name} buffer "
                f"spread over {banks} banks needs {per_bank} B in each bank, but only {free} B of "
                f"{pool.bank_size} B per bank is free ({pool.allocated} B of {pool.total} B held by "
                f"{len(pool.live)} live buffers). Deallocate tensors you no longer need (ttnn.deallocate), "
                f"use DRAM instead of L1, or a smaller dtype such as ttnn.bfloat8_b.")
        self._next_buffer += 1
        pool.used_per_bank += per_bank
        if not self._replaying:
            pool.peak_per_bank = max(pool.peak_per_bank, pool.used_per_bank)
        pool.live[self._next_buffer] = per_bank
        return self._next_buffer

    def free(self, buffer_type: BufferType, buffer_id: int):
        pool = self._pools[buffer_type]
        pool.used_per_bank -= pool.live.pop(buffer_id)

    def memory_report(self) -> dict:
        """Bytes per buffer type: total, allocated, free, peak, live buffers (used by leak tests and reports)."""
        return {
            bt.name: {"total": p.total, "allocated": p.allocated, "free": p.total - p.allocated,
                      "peak": p.peak_per_bank * p.banks, "buffers": len(p.live), "banks": p.banks}
            for bt, p in self._pools.items()
        }

    def allocated_bytes(self, buffer_type: BufferType = BufferType.DRAM) -> int:
        return self._pools[buffer_type].allocated

    def reset_peak(self):
        for p in self._pools.values():
            p.peak_per_bank = p.used_per_bank

    # --- op records ----------------------------------------------------------------------------------
    def record(self, rec: OpRecord):
        rec.traced = self._replaying
        self.op_records.append(rec)

    def estimated_time_ns(self) -> float:
        """Device kernel time of every op recorded so far (the device's busy time)."""
        return sum(r.time_ns for r in self.op_records)

    def estimated_host_time_ns(self, trace: bool = False) -> float:
        """Host-visible time of the ops recorded so far: with dispatch (host enqueue overlapping the device),
        or replayed from a trace."""
        return program_host_ns(self.op_records, trace)


_devices: dict[int, Device] = {}
DEFAULT_L1_SMALL_SIZE = 0
DEFAULT_TRACE_REGION_SIZE = 0


def GetNumAvailableDevices() -> int:
    return ARCHS[_arch_from_env()].chips


def GetNumPCIeDevices() -> int:
    return 1


def open_device(*, device_id: int = 0, l1_small_size: int = DEFAULT_L1_SMALL_SIZE,
                trace_region_size: int = DEFAULT_TRACE_REGION_SIZE, dispatch_core_config=None,
                worker_l1_size: int = 0) -> Device:
    """Open device `device_id`; an already open id returns the same device, as the real call does."""
    spec = ARCHS[_arch_from_env()]
    if not isinstance(device_id, int) or not 0 <= device_id < spec.chips:
        raise RuntimeError(f"Device id {device_id!r} is out of range: this {spec.name} has {spec.chips} "
                           f"device(s), ids 0..{spec.chips - 1}")
    dev = _devices.get(device_id)
    if dev is None or not dev._open:
        dev = Device(device_id, spec, l1_small_size, trace_region_size, worker_l1_size)
        _devices[device_id] = dev
    return dev


def CreateDevice(device_id: int, num_command_queues: int = 1, l1_small_size: int = 0, trace_region_size: int = 0,
                 dispatch_core_config=None, *, worker_l1_size: int = 0) -> Device:
    return open_device(device_id=device_id, l1_small_size=l1_small_size, trace_region_size=trace_region_size,
                       dispatch_core_config=dispatch_core_config, worker_l1_size=worker_l1_size)


def close_device(device: Device):
    """Close the device; its buffers are released and tensors on it can no longer be used."""
    device._open = False
    for pool in device._pools.values():
        pool.live.clear()
        pool.used_per_bank = 0
    _devices.pop(device.device_id, None)


CloseDevice = close_device


def synchronize_device(device: Device, cq_id=None, sub_device_ids=()):
    device.check_open()


@contextlib.contextmanager
def manage_device(device_id: int):
    device = open_device(device_id=device_id)
    try:
        yield device
    finally:
        close_device(device)


_default_device: Device | None = None


def SetDefaultDevice(device: Device | None = None):
    global _default_device
    _default_device = device


def GetDefaultDevice() -> Device | None:
    return _default_device


# --- ttnn.device arch queries (the real ttnn/device.py helpers) ------------------------------------------
def _arch_of(device) -> Arch:
    return device.arch() if device is not None else ARCHS[_arch_from_env()].arch


def is_wormhole_b0(device=None) -> bool:
    """True on a Wormhole card: the given device's arch, else the emulated card (TORCH_TTNN_SIM_ARCH)."""
    return _arch_of(device) == Arch.WORMHOLE_B0


def is_blackhole(device=None) -> bool:
    return _arch_of(device) == Arch.BLACKHOLE


def is_grayskull(device=None) -> bool:
    """Gone from ttnn 0.81.1 (Grayskull is no longer supported); kept for older scripts. Always False here."""
    return False
