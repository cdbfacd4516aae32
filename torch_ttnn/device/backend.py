"""Making `ttnn` a torch device type: PrivateUse1 renamed, its Python hooks, `torch.ttnn`, factory kernels.

`register()` runs on `import torch_ttnn`. It is cheap (no runtime import, no device opened: the device count is
asked only when someone needs it) and idempotent (a second call, or a PrivateUse1 already renamed "ttnn" by an
earlier import, is a no-op; a PrivateUse1 taken by another backend is an error naming it).
"""
from __future__ import annotations

import importlib

import torch

from .. import runtime
from .tensor import no_dynamo

NAME = "ttnn"
_user_devices: dict = {}      # torch index -> a TT-NN device the user opened and handed to us
_user_mesh: list = []         # mesh devices handed to us: the latest open one's chips are ttnn:0..N-1
_current = 0
_registered = False
_lib = None


def open_mesh():
    """The mesh whose chips are ttnn:0 .. ttnn:N-1, or None: one handed to as_torch_device(mesh), else (on the
    emulator) the most recently opened mesh still open. Chip i of the mesh (row-major) is ttnn:i."""
    if _user_mesh and _user_mesh[-1].is_open():
        return _user_mesh[-1]
    mod = runtime.ttnn()
    if runtime.is_emulator(mod):
        meshes = getattr(importlib.import_module(mod.__name__ + ".mesh"), "_open_meshes", ())
        for m in reversed(meshes):
            if m.is_open():
                return m
    return None


def device_count() -> int:
    """How many TT-NN devices the active runtime has (the real card count, or the emulated board's chips); with a
    mesh open, its chips (of an emulated mesh spread over processes, this process's: sim/multiprocess.py)."""
    try:
        mod = runtime.ttnn()
    except RuntimeError as e:  # TORCH_TTNN_RUNTIME=ttnn without a usable real package
        raise RuntimeError(f"The ttnn device has no runtime: {e}") from None
    mesh = open_mesh()
    if mesh is not None:
        procs = getattr(mesh, "processes", None)
        return int(mesh.get_num_devices()) if procs is None else len(procs.local)
    return max(int(mod.GetNumAvailableDevices()), len(_user_devices), 1 if runtime.is_emulator(mod) else 0)


def check_index(index) -> int:
    index = 0 if index is None else int(index)
    n = device_count()
    if not 0 <= index < n:
        raise RuntimeError(f"ttnn:{index} does not exist: {n} ttnn device(s) found "
                           f"({', '.join(f'ttnn:{i}' for i in range(n)) or 'none'}); "
                           f"see `torch-ttnn doctor` for what the runtime sees")
    return index


def ttnn_device(index: int = 0):
    """The TT-NN device behind torch's ttnn:index (a device the user registered, else the runtime's shared one)."""
    index = check_index(index)
    mesh = open_mesh()
    if mesh is not None:
        return mesh.get_devices()[index]
    dev = _user_devices.get(index)
    if dev is not None:
        return dev
    return runtime.default_device(index)


def register_ttnn_device(ttnn_dev) -> torch.device:
    """Adopt a TT-NN device the caller opened: tensors on the returned torch device live on it. A mesh device:
    its chips become ttnn:0 .. ttnn:N-1 (the returned device is ttnn:0)."""
    register()
    if hasattr(ttnn_dev, "get_num_devices") and not hasattr(ttnn_dev, "device_id"):
        _user_mesh.append(ttnn_dev)
        return torch.device(NAME, 0)
    mesh = open_mesh()
    if mesh is not None:    # a chip of the open mesh: its place in the mesh is its index
        for i, chip in enumerate(mesh.get_devices()):
            if chip is ttnn_dev:
                return torch.device(NAME, i)
    index = int(ttnn_dev.id()) if hasattr(ttnn_dev, "id") else int(getattr(ttnn_dev, "device_id", 0))
    _user_devices[index] = ttnn_dev
    return torch.device(NAME, index)


class _Module:
    """`torch.ttnn`: the device module torch expects (device_count, current_device, ...)."""

    @staticmethod
    def is_available() -> bool:
        try:
            return device_count() > 0
        except RuntimeError:
            return False

    @staticmethod
    def is_initialized() -> bool:
        return True

    @staticmethod
    def _is_in_bad_fork() -> bool:
        return False

    device_count = staticmethod(device_count)

    @staticmethod
    def current_device() -> int:
        return _current

    @staticmethod
    def set_device(device) -> None:
        global _current
        _current = check_index(device.index if isinstance(device, torch.device) else device)

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        """Random ops run on the host generator (see dispatch.py), so torch.manual_seed already covers them."""

    @staticmethod
    def synchronize(device=None) -> None:
        mod = runtime.ttnn()
        if hasattr(mod, "synchronize_device"):
            mod.synchronize_device(ttnn_device(_current if device is None else torch.device(device).index or 0))

    # --- memory, as torch.cuda reports it ----------------------------------------------------------------
    @staticmethod
    def memory_stats(device=None) -> dict:
        """Bytes per TT-NN buffer type (DRAM, L1...) of ttnn:index: allocated, peak, free, total, live buffers."""
        return _memory_report(device)

    @staticmethod
    def memory_allocated(device=None) -> int:
        """Bytes of device memory held by tensors now (DRAM and L1), as torch.cuda.memory_allocated."""
        return sum(p["allocated"] for p in _memory_report(device).values())

    @staticmethod
    def max_memory_allocated(device=None) -> int:
        """The high-water mark since the device opened or reset_peak_memory_stats: the sum of each buffer type's
        own peak (they need not peak at the same moment, so this bounds the joint peak from above)."""
        return sum(p["peak"] for p in _memory_report(device).values())

    @staticmethod
    def reset_peak_memory_stats(device=None) -> None:
        _tt_device(device).reset_peak()

    @staticmethod
    def memory_summary(device=None, abbreviated: bool = False) -> str:
        """A table like torch.cuda.memory_summary: per buffer type, allocated / peak / free / total."""
        from tabulate import tabulate
        rep = _memory_report(device)
        rows = [[bt, _mib(p["allocated"]), _mib(p["peak"]), _mib(p["free"]), _mib(p["total"]), p["buffers"],
                 p["banks"]] for bt, p in rep.items() if not abbreviated or p["allocated"] or p["peak"]]
        head = (f"ttnn:{_index(device)} memory summary ({runtime.reason()}): "
                f"{_mib(sum(p['allocated'] for p in rep.values()))} allocated, "
                f"{_mib(sum(p['peak'] for p in rep.values()))} peak")
        return head + "\n" + tabulate(rows, headers=["buffer type", "allocated", "peak", "free", "total",
                                                     "buffers", "banks"], tablefmt="simple")

    @staticmethod
    def get_ttnn_device(index: int = 0):
        """The TT-NN device object behind ttnn:index."""
        return ttnn_device(index)


def _index(device) -> int:
    if device is None:
        return _current
    if isinstance(device, str):
        device = torch.device(device)
    if isinstance(device, torch.device):
        return device.index or 0
    return int(device)


def _tt_device(device):
    return ttnn_device(_index(device))


def _memory_report(device) -> dict:
    dev = _tt_device(device)
    if not hasattr(dev, "memory_report"):
        raise RuntimeError("memory statistics come from the emulator's allocator; the real ttnn 0.81.1 has no "
                           "Python query of its allocator (ttnn.device.dump_device_memory_state writes a report)")
    return dev.memory_report()


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


class _Hooks(torch._C._acc.PrivateUse1Hooks):
    @no_dynamo
    def is_available(self) -> bool:
        return _Module.is_available()

    @no_dynamo
    def has_primary_context(self, dev_id) -> bool:
        return True

    @no_dynamo
    def is_built(self) -> bool:
        return True


class _Guard(torch._C._acc.DeviceGuard):
    @no_dynamo
    def type_(self):
        return torch._C._autograd.DeviceType.PrivateUse1


@no_dynamo
def _empty(size, dtype=None, layout=None, device=None, pin_memory=None, memory_format=None):
    return _new_empty(size, dtype, device)


@no_dynamo
def _empty_strided(size, stride, dtype=None, layout=None, device=None, pin_memory=None):
    return _new_empty(size, dtype, device)


def _new_empty(size, dtype, device):
    """torch.empty on ttnn: zeros made on the device (`ttnn.full`: no upload; torch.full, torch.zeros and
    generate()'s per-token `torch.full(..., device=)` are empty + fill_), or uploaded where the runtime has no
    `full` or the dtype cannot be made there."""
    from ..lowering.policy import device_dtype
    from .tensor import TtnnTensor, default_layout, host_to_tt
    dtype = dtype or torch.get_default_dtype()
    index = check_index(torch.device(device).index if device is not None else _current)
    shape = tuple(int(s) for s in size)
    ttnn = runtime.ttnn()
    if hasattr(ttnn, "full"):
        tt = ttnn.full(list(shape) or [1], fill_value=0.0 if dtype.is_floating_point else 0,
                       dtype=device_dtype(ttnn, dtype), layout=default_layout(ttnn), device=ttnn_device(index))
        return TtnnTensor(tt, shape, dtype, index)
    return TtnnTensor(host_to_tt(torch.zeros(shape, dtype=dtype), index), shape, dtype, index)


def _host_factory(op):
    """A factory torch implements as `empty(0)` + a resizing out= kernel (arange, eye): a wrapper cannot be
    resized, so it is made on the host and placed, like any from_torch constant."""
    @no_dynamo
    def impl(*args, **kwargs):
        from .tensor import TtnnTensor, host_to_tt
        index = check_index(torch.device(kwargs["device"]).index if kwargs.get("device") is not None else _current)
        host = op(*args, **{**kwargs, "device": torch.device("cpu"), "pin_memory": None})
        tt = _int_range_on_device(op, args, host, index)
        return TtnnTensor(tt if tt is not None else host_to_tt(host, index), host.shape, host.dtype, index)
    return impl


def _int_range_on_device(op, args, host, index):
    """An integer `torch.arange` made by `ttnn.arange` on the device (no upload: HF's logits processors make
    one per token); None for the rest (floats, eye), which are made on the host and placed."""
    ttnn = runtime.ttnn()
    if op.overloadpacket is not torch.ops.aten.arange or host.dtype not in (torch.int32, torch.int64) \
            or not hasattr(ttnn, "arange") or host.numel() == 0 or not all(isinstance(a, int) for a in args):
        return None
    start, end, step = (0, args[0], 1) if len(args) == 1 else (args[0], args[1], args[2] if len(args) > 2 else 1)
    if not all(-(2**31) <= v < 2**31 for v in (start, end)):
        return None
    from .tensor import default_layout
    return ttnn.arange(start, end, step, dtype=ttnn.int32, device=ttnn_device(index), layout=default_layout(ttnn))


@no_dynamo
def _copy_from(src, dst, non_blocking=False):
    """Reached without the Python key (torch.tensor(..., device="ttnn") copies with it excluded)."""
    from .dispatch import dispatch
    return dispatch(torch.ops.aten.copy_.default, (dst, src), {})


_HOST_FACTORIES = ("arange", "arange.start", "arange.start_step", "eye", "eye.m")


# --- scaled_dot_product_attention as one op ---------------------------------------------------------------
# torch's `scaled_dot_product_attention` is CompositeImplicitAutograd: it picks a backend with a C++ DispatchStub
# (`_fused_sdp_choice_stub`) that only C++ can register for PrivateUse1, so on the ttnn device it always took
# the math path and reached us (and the compiler's graphs) as ~15 small ops: K transposed, repeat_kv copies,
# two batched matmuls, a softmax. The dispatcher uses a composite op's decomposition only when the backend has
# no kernel of its own (and make_fx/FakeTensor ask the same question: `autograd_would_have_decomposed`), so a
# PrivateUse1 kernel keeps the op whole: eager calls reach `__torch_dispatch__` (the lowering registry's SDPA
# rules: one ttnn.transformer SDPA op) and traced graphs keep `aten.scaled_dot_product_attention`.
# Autograd: the op has no derivative formula of its own (its decomposition has), so when a gradient is wanted
# the AutogradPrivateUse1 kernel runs the math decomposition under autograd, as torch itself would.
def _sdpa_math(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """torch's math path (what the composite ran before): a boolean mask becomes 0/-inf first, as torch's
    composite does before calling it (`_scaled_dot_product_attention_math` itself would mask wrongly)."""
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        attn_mask = torch.zeros((), dtype=q.dtype, device=attn_mask.device).masked_fill(
            attn_mask.logical_not(), float("-inf"))
    return torch.ops.aten._scaled_dot_product_attention_math(q, k, v, attn_mask, dropout_p, is_causal, scale=scale,
                                                              enable_gqa=enable_gqa)[0]


@no_dynamo
def _sdpa_backend(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None, enable_gqa=False):
    """Reached only below the Python key (a ttnn tensor always has it, so its calls go to __torch_dispatch__):
    the math path."""
    return _sdpa_math(q, k, v, attn_mask, dropout_p, is_causal, scale, enable_gqa)


def _sdpa_autograd(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None, enable_gqa=False):
    if torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in (q, k, v, attn_mask)):
        return _sdpa_math(q, k, v, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    with torch._C._AutoDispatchBelowAutograd():
        return torch.ops.aten.scaled_dot_product_attention.default(q, k, v, attn_mask, dropout_p, is_causal,
                                                                   scale=scale, enable_gqa=enable_gqa)


def _register_sdpa(lib) -> None:
    lib.impl("scaled_dot_product_attention", _sdpa_backend, "PrivateUse1")
    lib.impl("scaled_dot_product_attention", _sdpa_autograd, "AutogradPrivateUse1")


def register() -> None:
    global _registered, _lib
    if _registered:
        return
    name = torch._C._get_privateuse1_backend_name()
    if name == NAME and hasattr(torch, NAME):
        _registered = True  # an earlier copy of this package (e.g. reloaded) did it
        return
    if name != "privateuseone":
        raise RuntimeError(f"PyTorch's PrivateUse1 device is already taken by {name!r}: torch-ttnn cannot register "
                           f"the 'ttnn' device in the same process. Import torch_ttnn in a process without {name!r}.")
    torch.utils.backend_registration._setup_privateuseone_for_python_backend(
        rename=NAME, backend_module=_Module(), hook=_Hooks(), device_guard=_Guard())
    _lib = torch.library.Library("aten", "IMPL")
    _lib.impl("empty.memory_format", _empty, "PrivateUse1")
    _lib.impl("empty_strided", _empty_strided, "PrivateUse1")
    _lib.impl("_copy_from", _copy_from, "PrivateUse1")
    for name in _HOST_FACTORIES:
        packet, _, overload = name.partition(".")
        _lib.impl(name, _host_factory(getattr(getattr(torch.ops.aten, packet), overload or "default")), "PrivateUse1")
    _register_sdpa(_lib)
    _registered = True
