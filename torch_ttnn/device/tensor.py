"""`TtnnTensor`: a torch tensor whose data is a TT-NN tensor on a device of the active runtime.

Storage model. A wrapper has no torch storage; its data lives in a `Cell` (one TT-NN tensor plus a generation
counter). Aliases that see the same elements in the same shape (`detach`, `alias`, `.data`, a Parameter made
from a tensor) share one cell, so an in-place op through any of them is seen by all. A real view (a slice, a
transpose, a reshape) owns its own cell and remembers its parent and the view op that made it: it re-derives its
values when the parent's generation moved on, and an in-place write to it is scattered back into the parent
(on the host: TT-NN has no general strided write). Strides are always reported contiguous: a TT-NN tensor is
logical, nothing can observe a memory layout.

Placement policy (what a copy to the device holds): the dtype `lowering.policy.device_dtype` gives (its table
says why each; it lives in `lowering` because the compiler hands the device's tensors in and out in it).
Default layout ROW_MAJOR: a copy is then bit-exact and unpadded, and the data-movement ops that dominate eager
code (view, slice, index, cat, embedding indices) want ROW_MAJOR, while compute rules call `ttnn.to_layout(TILE)`
themselves (the agreed rule convention). The original torch-ttnn tilized on copy and then had to untilize for
every op that could not take tiles. `set_default_layout("tile")` or TORCH_TTNN_DEVICE_LAYOUT=tile changes it.
"""
from __future__ import annotations

import os
import sys

import torch

from .. import runtime
from ..lowering.policy import device_dtype

_INT32 = (-(2**31), 2**31 - 1)
_layout_name = os.environ.get("TORCH_TTNN_DEVICE_LAYOUT", "row_major").lower()


def set_default_layout(name: str):
    """'row_major' (default) or 'tile': the layout copies to the device are placed in."""
    global _layout_name
    if name.lower() not in ("row_major", "tile"):
        raise ValueError(f"device layout must be 'row_major' or 'tile', got {name!r}")
    _layout_name = name.lower()


def default_layout(ttnn):
    return ttnn.TILE_LAYOUT if _layout_name == "tile" else ttnn.ROW_MAJOR_LAYOUT


def _host_form(x: torch.Tensor) -> torch.Tensor:
    """The torch tensor that from_torch gets for x: a dtype TT-NN accepts, values checked."""
    x = x.detach()
    if x.device.type != "cpu":
        x = x.cpu()
    if x.dtype == torch.int64 and x.numel():
        lo, hi = int(x.min()), int(x.max())
        if lo < _INT32[0] or hi > _INT32[1]:
            raise RuntimeError(f"int64 values in [{lo}, {hi}] do not fit int32, the widest integer TT-NN stores: "
                               f"keep this tensor on the CPU or reduce its range before x.to('ttnn')")
    conv = {torch.int64: torch.int32, torch.int16: torch.int32, torch.int8: torch.int32, torch.bool: torch.bfloat16,
            torch.float16: torch.float32, torch.float64: torch.float32}
    return x.to(conv[x.dtype]) if x.dtype in conv else x


def host_to_tt(x: torch.Tensor, index: int, layout=None):
    """CPU tensor -> TT-NN tensor on ttnn:index (the one upload path)."""
    from .backend import ttnn_device
    ttnn = runtime.ttnn()
    src = _host_form(x).contiguous()
    return ttnn.from_torch(src, dtype=device_dtype(ttnn, x.dtype), layout=layout or default_layout(ttnn),
                           device=ttnn_device(index))


def tt_to_host(tt, dtype: torch.dtype, shape) -> torch.Tensor:
    """TT-NN tensor -> CPU tensor of the wrapper's dtype and shape (the one download path)."""
    out = runtime.ttnn().to_torch(tt)
    if dtype == torch.bool:
        out = out != 0
    elif out.dtype != dtype:
        out = out.to(dtype)
    return out.reshape(shape)


def no_dynamo(fn):
    """Keep torch.compile out of fn and everything it calls: these frames are device plumbing running under
    a compiled region's graph breaks, not user code to trace (dynamo would try to compile them)."""
    try:
        from torch._C._dynamo import eval_frame as ef
        skip = ef._FrameExecStrategy(ef._FrameAction.SKIP, ef._FrameAction.SKIP)
        ef.set_code_exec_strategy(fn.__code__, skip)
    except (ImportError, AttributeError, TypeError):  # an older torch without per-code strategies
        pass
    return fn


class Cell:
    """One TT-NN tensor shared by every alias of the same elements; `gen` counts writes."""
    __slots__ = ("tt", "gen")

    def __init__(self, tt):
        self.tt, self.gen = tt, 0

    def write(self, tt):
        self.tt, self.gen = tt, self.gen + 1


class LazyCell(Cell):
    """An output a rule did not compute (e.g. layer_norm's saved mean/rstd, which only backward reads): made
    on first use by running the op on the CPU."""
    __slots__ = ("_make",)

    def __init__(self, make):
        self._make, self.gen = make, 0

    def __getattr__(self, name):  # only reached while `tt` is unset
        if name != "tt":
            raise AttributeError(name)
        self.tt = self._make()
        return self.tt


_DYNAMO_BUILDER = os.path.join("_dynamo", "variables", "builder.py")


class _DynamoView(type(torch.Tensor)):
    """TtnnTensor's metaclass, for torch.compile: dynamo wraps a tensor subclass as a graph input only when its
    `__torch_dispatch__` is torch's default or it implements `__tensor_flatten__` (inner torch tensors: a TT-NN
    tensor is not one); otherwise it treats it as an opaque object and graph-breaks on every op. To dynamo's
    input builder alone, the class shows the default, so a module whose parameters live on ttnn compiles to one
    graph whose inputs are the TtnnTensors themselves: the backend unwraps them with `x.ttnn_tensor()` and uses
    the device data in place. Everyone else (the C++ dispatcher included) sees the real `__torch_dispatch__`.
    """

    @property
    def __torch_dispatch__(cls):
        code = sys._getframe(1).f_code
        if code.co_name == "_wrap" and code.co_filename.endswith(_DYNAMO_BUILDER):
            return torch.Tensor.__torch_dispatch__
        return cls._ttnn_dispatch


class TtnnTensor(torch.Tensor, metaclass=_DynamoView):
    """A tensor on the `ttnn` device. `x.ttnn_tensor()` gives the TT-NN tensor it holds."""

    @staticmethod
    def __new__(cls, tt, shape, dtype, index: int = 0, parent=None, replay=None):
        r = torch.Tensor._make_wrapper_subclass(cls, tuple(shape), dtype=dtype, device=torch.device("ttnn", index),
                                                requires_grad=False)
        r._cell = tt if isinstance(tt, Cell) else Cell(tt)
        r._parent, r._replay = parent, replay              # view provenance (see the module docstring)
        r._parent_gen = parent._cell.gen if parent is not None else 0
        return r

    def __init__(self, *args, **kwargs):
        pass

    # No Python-level override: ops reach __torch_dispatch__ directly, and torch.compile sees a plain tensor on
    # device "ttnn" instead of tracing into this class.
    __torch_function__ = torch._C._disabled_torch_function_impl

    # --- the TT-NN side --------------------------------------------------------------------------------
    @classmethod
    def from_ttnn(cls, t, dtype: torch.dtype | None = None, shape=None) -> "TtnnTensor":
        """A TT-NN tensor (on a device of the active runtime) as a torch tensor on the ttnn device, without a
        copy (`torch_ttnn.from_ttnn`). A class method so that code handed these tensors can make more of them
        without importing the device: the compiler, which sits beside it, wraps a graph's outputs this way.
        `shape`: the torch shape when it differs from the TT-NN one by size-1 dims only (a 0-d torch scalar is
        [1] in TT-NN, which has no rank 0): the tensor then owns the data, it is not a view of a [1] tensor
        (an in-place write into it, such as a static cache's position counter, stays on the device)."""
        from .backend import register_ttnn_device
        ttnn = runtime.ttnn()
        dev = t.device() if callable(getattr(t, "device", None)) else None
        if dev is None:
            raise ValueError("from_ttnn needs a TT-NN tensor on a device; place it with ttnn.to_device(t, device)")
        index = int(register_ttnn_device(dev).index)
        if dtype is None:
            host = {ttnn.bfloat16: torch.bfloat16, ttnn.int32: torch.int32, ttnn.uint8: torch.uint8,
                    ttnn.uint32: torch.int64, ttnn.uint16: torch.int32}
            dtype = host.get(t.dtype, torch.float32)
        tt_shape = tuple(int(d) for d in t.shape)
        if shape is not None and tuple(shape) != tt_shape:
            if [d for d in shape if d != 1] != [d for d in tt_shape if d != 1]:
                raise ValueError(f"from_ttnn: shape {tuple(shape)} is not the TT-NN tensor's {list(tt_shape)} "
                                 f"with size-1 dims added or removed")
            return cls(t, tuple(shape), dtype, index)
        return cls(t, tt_shape, dtype, index)

    @no_dynamo
    def ttnn_tensor(self):
        """The TT-NN tensor holding this tensor's values (of the active runtime; layout/dtype per the policy)."""
        self._sync()
        return self._cell.tt

    def _sync(self):
        """Re-derive a view whose parent was written since the view was made."""
        p = self._parent
        if p is None:
            return
        p._sync()
        if p._cell.gen != self._parent_gen:
            from .dispatch import rederive
            self._cell.tt = rederive(self)
            self._parent_gen = p._cell.gen

    def _assign(self, tt):
        """An in-place write: store tt, and push it into the parent when this is a view."""
        self._sync()
        self._cell.write(tt)
        if self._parent is not None:
            from .dispatch import write_back
            write_back(self)
            self._parent_gen = self._parent._cell.gen

    def _host(self) -> torch.Tensor:
        return tt_to_host(self.ttnn_tensor(), self.dtype, self.shape)

    # --- torch side ------------------------------------------------------------------------------------
    @property
    def data(self):
        return torch.Tensor.data.__get__(self)

    @data.setter
    def data(self, new):
        """`param.data = y` (nn.Module._apply) swaps torch metadata; the TT-NN data must follow it."""
        torch.Tensor.data.__set__(self, new)
        if isinstance(new, TtnnTensor):
            self._cell, self._parent, self._replay, self._parent_gen = (new._cell, new._parent, new._replay,
                                                                        new._parent_gen)

    def numpy(self, *, force: bool = False):
        """As on CUDA: device memory is not host memory, so numpy needs an explicit copy (`force=True` makes it)."""
        if force:
            return self.cpu().numpy()
        raise TypeError(f"can't convert {self.device} device type tensor to numpy: call .cpu() first to copy the "
                        f"tensor to host memory (x.cpu().numpy()), or .numpy(force=True)")

    def __array__(self, dtype=None, copy=None):
        """np.asarray(x) and friends: the same rule as .numpy()."""
        self.numpy()

    def __reduce_ex__(self, protocol):
        """torch.save / pickle: stored as a CPU tensor plus its device, which `torch.load(weights_only=True)`
        accepts, and restored onto the ttnn device (or elsewhere with map_location)."""
        return (torch._utils._rebuild_device_tensor_from_cpu_tensor,
                (self._host(), self.dtype, str(self.device), self.requires_grad))

    @no_dynamo
    def __repr__(self, *, tensor_contents=None):
        try:
            body = repr(self._host())
        except Exception as e:  # printing must not hide the tensor: say what is wrong instead
            return f"TtnnTensor(<unreadable: {e}>, shape={tuple(self.shape)}, device='{self.device}')"
        body = body[:-1] if body.endswith(")") else body
        extra = f", device='{self.device}'"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{type(self.grad_fn).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return body + extra + ")"

    @classmethod
    @no_dynamo
    def _ttnn_dispatch(cls, func, types, args=(), kwargs=None):
        from .dispatch import dispatch
        return dispatch(func, args, kwargs or {})

    __torch_dispatch__ = _ttnn_dispatch


def is_ttnn_tensor(x) -> bool:
    """True for a tensor on the ttnn device (a TtnnTensor)."""
    return isinstance(x, TtnnTensor)
