"""Smaller TT-NN operations: complex tensors (a pair of real tensors, as TT-NN stores them) and their unary and
backward ops, bitcast, unary_chain, plus_one, indexed_fill, reshape_on_device, fill_cache and the host copy
copy_device_to_host_tensor. Semantics follow the real golden functions; costs are one vector-engine pass (or a
plain copy) per output (estimates).
"""
from __future__ import annotations

import torch

from .. import formats
from ..operation import record
from ..tensor import Tensor, new_device_tensor, operands, require_device
from ..types import INTEGERS, DataType, Layout
from . import _eltwise as E
from .data_movement import _check, _dim, _finish
from .unary import activation_fn

__all__ = ["complex_tensor", "real", "imag", "angle", "conj", "polar", "is_real", "is_imag", "real_bw", "imag_bw",
           "angle_bw", "conj_bw", "polar_bw", "bitcast", "unary_chain", "plus_one", "indexed_fill", "index_fill_new",
           "reshape_on_device", "fill_cache", "copy_device_to_host_tensor", "fill_rm", "fill_ones_rm"]


# --- complex ----------------------------------------------------------------------------------------------------
class ComplexTensor:
    """A complex tensor as TT-NN keeps it: two real device tensors of the same shape, `.real` and `.imag`."""

    def __init__(self, real_part: Tensor, imag_part: Tensor):
        self.real, self.imag = real_part, imag_part

    @property
    def shape(self):
        return self.real.shape

    @property
    def dtype(self):
        return self.real.dtype

    def __getitem__(self, i):
        return (self.real, self.imag)[i]

    def __repr__(self):
        return f"ComplexTensor(real={self.real!r}, imag={self.imag!r})"


def _complex_tensor_impl(real, imag):
    """Pair two real tensors of one shape, dtype and device into a complex tensor."""
    qual = "ttnn.complex_tensor"
    require_device(qual, real, imag)
    _check(tuple(real.shape) == tuple(imag.shape) and real.dtype == imag.dtype, qual,
           f"real and imag must have the same shape and dtype, got {list(real.shape)} {real.dtype.name} and "
           f"{list(imag.shape)} {imag.dtype.name}")
    return ComplexTensor(real, imag)


complex_tensor = E.make_op("ttnn.complex_tensor", "real, imag", _complex_tensor_impl,
                           lambda r, i, **k: torch.complex(r.float(), i.float()))


def _parts(qual, z):
    if not isinstance(z, ComplexTensor):
        raise TypeError(f"{qual}: input must be a complex tensor (ttnn.complex_tensor(real, imag)), got "
                        f"{type(z).__name__}")
    dev = require_device(qual, z.real, z.imag)
    return dev, E.host_values(z.real), E.host_values(z.imag)


def _real_out(qual, dev, values, like, memory_config, inputs, cycles=2.0):
    return E.finish(qual, values, like.dtype, like.layout, dev, memory_config or like.memory_config(), inputs,
                    sfpu_cycles=cycles)


def _complex_out(qual, dev, re, im, like, memory_config, inputs, cycles=2.0):
    mc = memory_config or like.memory_config()
    outs = [new_device_tensor(v, like.dtype, like.layout, dev, mc) for v in (re, im)]
    record(dev, qual, operands=operands(*inputs, *outs), sfpu_ops=float(sum(o.volume() for o in outs)),
           sfpu_cycles=cycles)
    return ComplexTensor(*outs)


def _complex_unary(name, fn, complex_result=False, cycles=2.0):
    qual = f"ttnn.{name}"

    def impl(input_tensor, memory_config=None):
        dev, re, im = _parts(qual, input_tensor)
        out = fn(re, im)
        inputs = (input_tensor.real, input_tensor.imag)
        if complex_result:
            return _complex_out(qual, dev, *out, input_tensor.real, memory_config, inputs, cycles)
        return _real_out(qual, dev, out, input_tensor.real, memory_config, inputs, cycles)

    def golden(z, **k):
        r = fn(z.real.float(), z.imag.float())
        return torch.complex(*r) if complex_result else r

    return E.make_op(qual, "input_tensor, *, memory_config=None", impl, golden)


real = _complex_unary("real", lambda re, im: re.clone(), cycles=1)
imag = _complex_unary("imag", lambda re, im: im.clone(), cycles=1)
angle = _complex_unary("angle", lambda re, im: torch.atan2(im, re), cycles=20)
is_real = _complex_unary("is_real", lambda re, im: (im == 0).to(torch.float32), cycles=1)
is_imag = _complex_unary("is_imag", lambda re, im: (re == 0).to(torch.float32), cycles=1)
conj = _complex_unary("conj", lambda re, im: (re.clone(), -im), complex_result=True, cycles=1)
# polar: the input holds (magnitude, angle) in its (real, imag) parts; the result is magnitude * e^(i angle)
polar = _complex_unary("polar", lambda re, im: (re * torch.cos(im), re * torch.sin(im)), complex_result=True,
                       cycles=32)


def _complex_bw(name, grads, grad_complex=False):
    """Backward of a complex unary: grads(g, re, im) -> (d_re, d_im) of the complex input, returned as [ComplexTensor]
    (memory_config is a required keyword, as in the real signatures)."""
    qual = f"ttnn.{name}"

    def impl(grad_tensor, input_tensor, memory_config):
        dev, re, im = _parts(qual, input_tensor)
        if grad_complex:
            _, gr, gi = _parts(qual, grad_tensor)
            g = (gr, gi)
            inputs = (grad_tensor.real, grad_tensor.imag, input_tensor.real, input_tensor.imag)
        else:
            require_device(qual, grad_tensor)
            g = E.host_values(grad_tensor)
            inputs = (grad_tensor, input_tensor.real, input_tensor.imag)
        d_re, d_im = grads(g, re, im)
        return [_complex_out(qual, dev, d_re, d_im, input_tensor.real, memory_config, inputs, 6)]

    return E.make_op(qual, "grad_tensor, input_tensor, *, memory_config", impl)


def _angle_grads(g, re, im):
    r2 = re * re + im * im
    safe = torch.where(r2 == 0, torch.ones_like(r2), r2)
    return torch.where(r2 == 0, 0.0, -g * im / safe), torch.where(r2 == 0, 0.0, g * re / safe)


def _polar_grads(g, re, im):
    """Input (r, theta), output r e^(i theta), complex upstream gradient g = gr + i gi (real-pair convention):
    d/dr = gr cos + gi sin, d/dtheta = r (gi cos - gr sin)."""
    gr, gi = g
    c, s = torch.cos(im), torch.sin(im)
    return gr * c + gi * s, re * (gi * c - gr * s)


real_bw = _complex_bw("real_bw", lambda g, re, im: (g, torch.zeros_like(g)))
imag_bw = _complex_bw("imag_bw", lambda g, re, im: (torch.zeros_like(g), g))
angle_bw = _complex_bw("angle_bw", _angle_grads)
conj_bw = _complex_bw("conj_bw", lambda g, re, im: (g[0], -g[1]), grad_complex=True)
polar_bw = _complex_bw("polar_bw", _polar_grads, grad_complex=True)


# --- bitcast / unary_chain / plus_one -----------------------------------------------------------------------------
_BITS_AS = {DataType.FLOAT32: torch.float32, DataType.INT32: torch.int32, DataType.UINT32: torch.int32,
            DataType.BFLOAT16: torch.bfloat16, DataType.UINT16: torch.int16}


def _bitcast_impl(input_tensor, dtype, memory_config=None, output_tensor=None, sub_core_grids=None):
    """Reinterpret the stored bits as another dtype of the same width (float32 <-> int32/uint32, bfloat16 <->
    uint16); no value conversion."""
    qual = "ttnn.bitcast"
    dev = require_device(qual, input_tensor)
    src, dst = _BITS_AS.get(input_tensor.dtype), _BITS_AS.get(dtype)
    _check(src is not None and dst is not None and src.itemsize == dst.itemsize, qual,
           f"cannot reinterpret {input_tensor.dtype.name} as {getattr(dtype, 'name', dtype)}: the element widths "
           f"must match (32-bit: FLOAT32/INT32/UINT32, 16-bit: BFLOAT16/UINT16)")
    v = input_tensor.value
    bits = v.to(src) if v.dtype != src and src != torch.bfloat16 else v.to(src)
    out = bits.contiguous().view(dst)
    if dtype == DataType.UINT32:
        out = out.to(torch.int64) & 0xFFFFFFFF
    elif dtype == DataType.UINT16:
        out = out.to(torch.int64) & 0xFFFF
    return E.finish(qual, out if out.dtype != torch.bfloat16 else out.float(), dtype, input_tensor.layout, dev,
                    memory_config or input_tensor.memory_config(), (input_tensor,), output_tensor=output_tensor,
                    sfpu_cycles=1)


bitcast = E.make_op("ttnn.bitcast", "input_tensor, dtype, *, memory_config=None, output_tensor=None, "
                    "sub_core_grids=None", _bitcast_impl)


def _unary_chain_impl(input_tensor, ops_chain, memory_config=None, output_tensor=None, sub_core_grids=None):
    """Apply each ttnn.UnaryWithParam of ops_chain in order, in one kernel (one rounding, at the end)."""
    qual = "ttnn.unary_chain"
    dev = require_device(qual, input_tensor)
    _check(len(ops_chain) > 0, qual, "ops_chain must hold at least one ttnn.UnaryWithParam")
    x = E.host_values(input_tensor)
    for op in ops_chain:
        x = activation_fn(op)(x)
    return E.finish(qual, x, input_tensor.dtype, input_tensor.layout, dev,
                    memory_config or input_tensor.memory_config(), (input_tensor,), output_tensor=output_tensor,
                    sfpu_cycles=4.0 * len(ops_chain))


unary_chain = E.make_op("ttnn.unary_chain", "input_tensor, ops_chain, *, memory_config=None, output_tensor=None, "
                        "sub_core_grids=None", _unary_chain_impl)


def _plus_one_impl(input_tensor, sub_core_grids=None, skip_negative_entries=False):
    """Add 1 in place to an INT32/UINT32 tensor (entries < 0 or at INT32_MAX kept when skip_negative_entries);
    returns it."""
    qual = "ttnn.plus_one"
    dev = require_device(qual, input_tensor)
    E.check_dtype(qual, input_tensor.dtype, (DataType.INT32, DataType.UINT32))
    v = input_tensor.value.to(torch.int64)
    if input_tensor.dtype == DataType.UINT32:
        out = (v + 1) & 0xFFFFFFFF
    elif skip_negative_entries:
        out = torch.where((v >= 0) & (v < 2 ** 31 - 1), v + 1, v)
    else:
        out = torch.where(v == 2 ** 31 - 1, torch.full_like(v, -2 ** 31), v + 1)
    return E.finish(qual, out, input_tensor.dtype, input_tensor.layout, dev, None, (input_tensor,),
                    output_tensor=input_tensor, sfpu_cycles=1)


plus_one = E.make_op("ttnn.plus_one", "input_tensor, sub_core_grids=None, skip_negative_entries=False",
                     _plus_one_impl)


# --- indexed writes -------------------------------------------------------------------------------------------
def _indexed_fill_impl(batch_id, input_tensor_a, input_tensor_b, memory_config=None, dim=0):
    """Copy input_b's slices along dim into a's slices named by batch_id: out[batch_id[i]] = b[i]."""
    qual = "ttnn.indexed_fill"
    dev = require_device(qual, batch_id, input_tensor_a, input_tensor_b)
    _check(batch_id.dtype in INTEGERS, qual, "batch_id must be an integer (UINT32) tensor")
    d = _dim(dim, len(input_tensor_a.shape), qual)
    ids = batch_id.value.to(torch.int64).reshape(-1)
    a, b = E.host_values(input_tensor_a), E.host_values(input_tensor_b)
    _check(ids.numel() <= b.shape[d], qual, f"batch_id has {ids.numel()} entries, input_b only {b.shape[d]} slices")
    _check(not ids.numel() or (ids.min() >= 0 and ids.max() < a.shape[d]), qual,
           f"batch_id entries must be in [0, {a.shape[d]})")
    out = a.clone()
    out.index_copy_(d, ids, b.narrow(d, 0, ids.numel()))
    return E.finish(qual, out, input_tensor_a.dtype, input_tensor_a.layout, dev,
                    memory_config or input_tensor_a.memory_config(), (batch_id, input_tensor_a, input_tensor_b))


indexed_fill = E.make_op("ttnn.indexed_fill", "batch_id, input_tensor_a, input_tensor_b, *, memory_config=None, "
                         "dim=0", _indexed_fill_impl)


def _index_fill_new_impl(input, dim, index, value, memory_config=None):
    from .composite import _index_fill_impl
    out = _index_fill_impl(input, dim, index, value, memory_config)
    return out


index_fill_new = E.make_op("ttnn.index_fill_new", "input, dim, index, value, *, memory_config=None",
                           _index_fill_new_impl,
                           lambda x, dim, index, value, **k: x.index_fill(dim, index.long(), value))


def _reshape_on_device_impl(input_tensor, W, Z, Y, X, memory_config=None):
    """Reshape to [W, Z, Y, X] (-1 allowed once), the legacy 4-D reshape."""
    qual = "ttnn.reshape_on_device"
    dev = require_device(qual, input_tensor)
    try:
        vals = input_tensor.value.reshape(W, Z, Y, X)
    except RuntimeError:
        raise RuntimeError(f"{qual}: cannot reshape {list(input_tensor.shape)} "
                           f"({input_tensor.logical_volume()} elements) to [{W}, {Z}, {Y}, {X}]") from None
    return _finish(qual, dev, vals, input_tensor, memory_config=memory_config)


reshape_on_device = E.make_op("ttnn.reshape_on_device", "input_tensor, W, Z, Y, X, *, memory_config=None",
                              _reshape_on_device_impl)


def _fill_cache_impl(cache_tensor, input_tensor, batch_idx, update_idx=0):
    """Prefill write, in place: cache [B, H, S_max, D] gets input [1, H, S, D] at user batch_idx, positions
    update_idx .. update_idx + S; returns the cache."""
    qual = "ttnn.fill_cache"
    dev = require_device(qual, cache_tensor, input_tensor)
    _check(len(cache_tensor.shape) == 4 and len(input_tensor.shape) == 4, qual, "cache and input must be rank 4")
    users, heads, seq, dim = cache_tensor.shape
    _, ih, s, idim = input_tensor.shape
    _check(input_tensor.shape[0] == 1 and ih == heads and idim == dim, qual,
           f"input {list(input_tensor.shape)} must be [1, {heads}, S, {dim}] for cache {list(cache_tensor.shape)}")
    _check(0 <= batch_idx < users, qual, f"batch_idx {batch_idx} outside the cache's {users} users")
    _check(0 <= update_idx and update_idx + s <= seq, qual, f"positions {update_idx}..{update_idx + s} exceed "
           f"the cache's {seq}")
    vals = cache_tensor.value.clone()
    vals[batch_idx, :, update_idx:update_idx + s, :] = input_tensor.value[0].to(vals.dtype)
    cache_tensor._values = formats.to_device_format(vals, cache_tensor.dtype, cache_tensor.layout)
    record(dev, qual, operands=operands(input_tensor, input_tensor))
    return cache_tensor


fill_cache = E.make_op("ttnn.fill_cache", "cache_tensor, input_tensor, batch_idx, *, update_idx=0", _fill_cache_impl)


def _copy_d2h_impl(device_tensor, host_tensor, blocking=True, cq_id=None):
    """Read a device tensor into an existing host tensor of the same spec (the read side of trace loops)."""
    qual = "ttnn.copy_device_to_host_tensor"
    dev = require_device(qual, device_tensor)
    _check(isinstance(host_tensor, Tensor) and host_tensor.device() is None, qual,
           "host_tensor must be a host ttnn.Tensor (ttnn.allocate_tensor_on_host)")
    _check(tuple(host_tensor.shape) == tuple(device_tensor.shape) and host_tensor.dtype == device_tensor.dtype, qual,
           f"host tensor {list(host_tensor.shape)} {host_tensor.dtype.name} does not match the device tensor "
           f"{list(device_tensor.shape)} {device_tensor.dtype.name}")
    host_tensor._values = device_tensor.value.clone()
    record(dev, qual, operands=operands(device_tensor), host_only=True)
    return None


copy_device_to_host_tensor = E.make_op("ttnn.copy_device_to_host_tensor", "device_tensor, host_tensor, blocking=True, "
                                       "cq_id=None", _copy_d2h_impl)


def _fill_rm_impl(N, C, H, W, hOnes, wOnes, any, val_hi, val_lo, memory_config=None, qual="ttnn.fill_rm"):
    """A row-major [N, C, H, W] tensor holding val_hi in rows < hOnes and columns < wOnes of every H x W plane and
    val_lo elsewhere; `any` gives the device and dtype (H and W multiples of 32, as the real op requires)."""
    dev = require_device(qual, any)
    _check(H % 32 == 0 and W % 32 == 0, qual, f"H ({H}) and W ({W}) must be multiples of 32")
    _check(0 <= hOnes <= H and 0 <= wOnes <= W, qual, f"hOnes/wOnes ({hOnes}, {wOnes}) must be within H, W ({H}, {W})")
    vals = torch.full((N, C, H, W), float(val_lo))
    vals[:, :, :hOnes, :wOnes] = float(val_hi)
    out = new_device_tensor(vals, any.dtype, Layout.ROW_MAJOR, dev, memory_config or any.memory_config())
    record(dev, qual, operands=operands(out))
    return out


fill_rm = E.make_op("ttnn.fill_rm", "N, C, H, W, hOnes, wOnes, any, val_hi, val_lo, *, memory_config=None",
                    lambda N, C, H, W, hOnes, wOnes, any, val_hi, val_lo, memory_config=None: _fill_rm_impl(
                        N, C, H, W, hOnes, wOnes, any, val_hi, val_lo, memory_config))
fill_ones_rm = E.make_op("ttnn.fill_ones_rm", "N, C, H, W, hOnes, wOnes, any, *, memory_config=None",
                         lambda N, C, H, W, hOnes, wOnes, any, memory_config=None: _fill_rm_impl(
                             N, C, H, W, hOnes, wOnes, any, 1.0, 0.0, memory_config, qual="ttnn.fill_ones_rm"))
