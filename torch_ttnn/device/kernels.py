"""Device kernels: what is about placement, aliasing and copies rather than math (no lowering rule needed)."""
from __future__ import annotations

import torch

from .. import runtime
from ..lowering.policy import device_dtype
from .backend import check_index
from .dispatch import aten, count_fallback, device_index, kernel, meta_run, wrap
from .tensor import TtnnTensor, host_to_tt

_FLOATS = (torch.float32, torch.bfloat16, torch.float16, torch.float64)


def _alias(x: TtnnTensor, shape=None, dtype=None) -> TtnnTensor:
    """A new tensor object over the same cell (same elements): detach, alias, .data."""
    out = TtnnTensor(x._cell, x.shape if shape is None else shape, dtype or x.dtype, x.device.index)
    out._parent, out._replay, out._parent_gen = x._parent, x._replay, x._parent_gen
    return out


@kernel(aten.detach.default, aten.alias.default)
def _detach(func, args, kwargs):
    return _alias(args[0])


def _fake_mode():
    """The FakeTensorMode tracing this call (dynamo, aot_autograd, torch.export), or None."""
    return torch._C._get_dispatch_mode(torch._C._TorchDispatchModeKey.FAKE)


@kernel(aten.lift_fresh.default, aten.lift_fresh_copy.default)
def _lift(func, args, kwargs):
    """`torch.tensor(data, device="ttnn")` ends in lift_fresh: torch builds the tensor for real (on the host,
    then copied here, with the Python key off) and lifts it into whatever mode is active. Under a fake mode
    (dynamo tracing HF's `torch.tensor([], device=self.device)` in a KV cache) the mode cannot take a wrapper
    subclass and hands the call to us; the traced program must see a fake tensor on the ttnn device, as it does
    for `device="cuda"`, or dynamo keeps the real tensor as its example value and later clones it with
    `as_strided_` (the old `aten.as_strided_ resizes its output` crash)."""
    fake = _fake_mode()
    if fake is not None:
        return fake.from_tensor(args[0])
    return _alias(args[0]) if func == aten.lift_fresh.default else _clone(func, args, kwargs)


@kernel(aten.clone.default)
def _clone(func, args, kwargs):
    """TT-NN tensors are never written in place (writes swap the cell's tensor), so a clone shares it."""
    x = args[0]
    return TtnnTensor(x.ttnn_tensor(), x.shape, x.dtype, x.device.index)


@kernel(aten._local_scalar_dense.default)
def _item(func, args, kwargs):
    return args[0]._host().item()


@kernel(aten.is_pinned.default)
def _is_pinned(func, args, kwargs):
    return False


def _cast_on_device(tt, src: torch.dtype, dst: torch.dtype, index: int):
    """A dtype change kept on the device when TT-NN's typecast means what torch's cast means, else None."""
    if src == dst:
        return tt
    if dst in _FLOATS and (src in _FLOATS or src in (torch.int32, torch.int64, torch.int16, torch.int8,
                                                       torch.uint8, torch.bool)):
        ttnn = runtime.ttnn()
        want = device_dtype(ttnn, dst)
        return tt if tt.dtype == want else ttnn.typecast(tt, want)
    if src in (torch.int32, torch.int64) and dst in (torch.int32, torch.int64):
        return tt  # both are stored as INT32 on the device
    if dst == torch.bool and src in _FLOATS + (torch.int32, torch.int64):
        ttnn = runtime.ttnn()  # x != 0 is exactly torch's cast to bool (NaN included), as 1/0 in the bool dtype
        nz = ttnn.ne(ttnn.to_layout(tt, ttnn.TILE_LAYOUT), 0)
        return ttnn.typecast(nz, device_dtype(ttnn, torch.bool))
    return None  # float -> int truncation, -> bool: torch's exact semantics, done on the host


def _float_to_int(host: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """torch's cast, except that a float outside int32 (inf, or a value the int32 the device stores cannot
    hold) saturates there: torch leaves that cast undefined (-inf -> int64 gives INT64_MIN on x86), and T5's
    relative-position buckets cast log(0) = -inf to long and then never use the value."""
    if host.is_floating_point() and dtype in (torch.int64, torch.int32):
        host = host.nan_to_num(0.0).clamp(-(2**31), 2**31 - 128)  # 2**31 - 1 is not a float32: stay below it
    return host.to(dtype)


@kernel(aten._to_copy.default)
def _to_copy(func, args, kwargs):
    x = args[0]
    dtype = kwargs.get("dtype") or x.dtype
    device = kwargs.get("device")
    dst = torch.device(device) if device is not None else x.device
    if dst.type != "ttnn":  # to the host
        return x._host().to(dtype=dtype, device=dst)
    index = check_index(dst.index if dst.index is not None else 0)
    if index != x.device.index:  # between ttnn devices: through the host
        return TtnnTensor(host_to_tt(x._host().to(dtype), index), x.shape, dtype, index)
    tt = _cast_on_device(x.ttnn_tensor(), x.dtype, dtype, index)
    if tt is None:
        count_fallback(func, f"cast {x.dtype} -> {dtype} keeps torch's exact semantics on the host")
        tt = host_to_tt(_float_to_int(x._host(), dtype), index, getattr(x._cell.tt, "layout", None))
    return TtnnTensor(tt, x.shape, dtype, index)


@kernel(aten.copy_.default)
def _copy_(func, args, kwargs):
    dst, src = args[0], args[1]
    if not isinstance(dst, TtnnTensor):  # ttnn -> CPU
        return dst.copy_(src._host())
    index = dst.device.index
    same_shape = tuple(src.shape) == tuple(dst.shape)
    layout = getattr(dst._cell.tt, "layout", None)
    if isinstance(src, TtnnTensor) and same_shape:
        tt = _cast_on_device(src.ttnn_tensor(), src.dtype, dst.dtype, index)
        if tt is not None and src.device.index == index:
            dst._assign(tt)
            return dst
    if isinstance(src, TtnnTensor):  # device -> host -> device: a round trip, counted like any fallback
        why = (f"broadcast {tuple(src.shape)} -> {tuple(dst.shape)}" if not same_shape else
               f"cast {src.dtype} -> {dst.dtype}" if src.device.index == index else
               f"ttnn:{src.device.index} -> ttnn:{index}")
        count_fallback(func, f"{why} goes through the host")
    host = src._host() if isinstance(src, TtnnTensor) else src.detach()
    full = torch.empty(dst.shape, dtype=dst.dtype).copy_(host)  # torch's cast and broadcast rules
    dst._assign(host_to_tt(full, index, layout))
    return dst


@kernel(aten._copy_from.default)
def _copy_from(func, args, kwargs):
    return _copy_(func, (args[1], args[0]), {})


@kernel(aten._copy_from_and_resize.default)
def _copy_from_and_resize(func, args, kwargs):
    if tuple(args[0].shape) != tuple(args[1].shape):
        raise RuntimeError(f"cannot resize a ttnn tensor from {tuple(args[1].shape)} to {tuple(args[0].shape)}")
    return _copy_(func, (args[1], args[0]), {})


def _filled(x: TtnnTensor, value, like=None):
    """A device tensor of x's shape filled with value, made on the device (ttnn.full)."""
    ttnn = runtime.ttnn()
    tt = (like if like is not None else x)._cell.tt
    if isinstance(value, torch.Tensor):
        value = value.item()
    if x.dtype == torch.int64 and not -(2**31) <= int(value) < 2**31:
        raise RuntimeError(f"fill value {value} does not fit int32, the widest integer the ttnn device stores")
    v = bool(value) if x.dtype == torch.bool else value
    if hasattr(ttnn, "full"):
        return ttnn.full(list(x.shape) or [1], fill_value=float(v) if x.dtype in _FLOATS else int(v),
                         dtype=device_dtype(ttnn, x.dtype), layout=tt.layout, device=tt.device())
    return host_to_tt(torch.full(x.shape, v, dtype=x.dtype), x.device.index, tt.layout)


@kernel(aten.fill_.Scalar, aten.fill_.Tensor, aten.zero_.default)
def _fill_(func, args, kwargs):
    x = args[0]
    value = args[1] if len(args) > 1 else kwargs.get("value", 0)
    x._assign(_filled(x, value))
    return x


@kernel(aten.resize_.default)
def _resize_(func, args, kwargs):
    x, size = args[0], tuple(args[1])
    if tuple(x.shape) != size:
        raise RuntimeError(f"a ttnn tensor cannot be resized in place (from {tuple(x.shape)} to {size}); "
                           f"allocate a new one with torch.empty({size}, device='{x.device}')")
    return x


@kernel(aten.view.default, aten._unsafe_view.default, aten.reshape.default)
def _view(func, args, kwargs):
    """A view as a TT-NN reshape, unless a lowering rule claims it (rules win for math, not for this)."""
    from .. import lowering
    index = device_index(func, args, kwargs)
    meta = meta_run(func, args, kwargs)
    rule = lowering.find(func, args, kwargs)
    x = args[0]
    ttnn = runtime.ttnn()
    if rule is not None:
        res = rule.fn(ttnn, x.ttnn_tensor(), *args[1:], **kwargs)
    else:
        res = ttnn.reshape(x.ttnn_tensor(), list(meta.shape) or [1])
    return wrap(func, args, kwargs, res, meta, index, f"view {func}")



_LIKE = {aten.zeros_like.default: 0, aten.ones_like.default: 1, aten.empty_like.default: 0,
         aten.full_like.default: None, aten.new_zeros.default: 0, aten.new_ones.default: 1,
         aten.new_empty.default: 0, aten.new_full.default: None, aten.new_empty_strided.default: 0}


@kernel(*_LIKE)
def _like(func, args, kwargs):
    """Factories shaped after a tensor: filled on the device (or run on the CPU when they ask for the CPU)."""
    device = kwargs.get("device")
    if device is not None and torch.device(device).type != "ttnn":
        host = [a._host() if isinstance(a, TtnnTensor) else a for a in args]
        return func(*host, **kwargs)
    index = check_index(torch.device(device).index) if device is not None else args[0].device.index
    meta = meta_run(func, args, kwargs)
    value = _LIKE[func] if _LIKE[func] is not None else args[-1] if func == aten.full_like.default else args[2]
    out = TtnnTensor(None, meta.shape, meta.dtype, index)
    out._cell.tt = _filled(out, value, like=args[0])
    return out
