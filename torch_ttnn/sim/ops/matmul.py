"""ttnn.matmul and ttnn.linear on the emulated matrix engine.

Numerics (ttnn-facts.md "Numerics of the Tensix core"; tt-isa-documentation MVMUL):
- Operands enter 19-bit source registers: bfloat16/block-float exactly, float32 as TF32 (low 13 mantissa bits
  dropped); denormals flush to zero.
- The engine computes Dst += SrcB @ SrcA with the activations (first input) in SrcB and the weights (second
  input) in SrcA (our reading of the matmul LLK's unpack; marked "verify" in ttnn-facts.md). Each pass
  multiplies by at most hidden+4 mantissa bits of SrcA and hidden+6 of SrcB; fidelity phases add the rest:
  LoFi = Bhi*Ahi, HiFi2 += Bhi*Alo, HiFi3 += Blo*Ahi, HiFi4 += Blo*Alo (Alo = the next 5 bits of A, Blo = the
  next 4 of B). The phase sums collapse to at most two float32 matmuls of truncated operands.
- Accumulation: float32 when fp32_dest_acc_en, else bfloat16 rounded each time a 32-wide K tile's partial
  product is added (packer L1 accumulation also holds bfloat16 partials). Output rounded to the output dtype.
- Fused activation (activation="gelu", a name TT-NN's string_to_unary_with_param accepts, or a UnaryWithParam):
  applied to the float32 result before packing only when a core_grid is given; without one TT-NN applies it
  as a separate unary op to the packed output (see _post_activation).
- Default compute config when compute_kernel_config is None (tt-metal matmul_device_operation.cpp,
  create_matmul_attributes, 2025): HiFi2, or LoFi when a program_config/core_grid is given or both inputs are
  block-float, HiFi4 when both inputs are float32; fp32_dest_acc_en when the output dtype is float32;
  math_approx_mode off.
Validation follows the same file: TILE layout, B rank >= 2, K must match, batch dims equal unless B's batch
is 1 (broadcast), float dtypes only. A program_config is checked against the shapes and the operands' shard
specs as the real op checks it (program_configs.py), its fused_activation runs in the kernel (one op), and a
sharded output gets the shard spec the config implies; core_grid and program_config together raise.
Fast path: float32 accumulation (or K within one tile) and a fidelity that keeps every operand bit is a
single float32 matmul, so bf16 models at HiFi4/fp32-acc cost what eager torch costs.
"""
from __future__ import annotations

import math

import torch

from ..cost import MatmulWork
from ..tensor import require_device
from ..types import (BLOCK_FLOAT, DRAM_MEMORY_CONFIG, FLOATS, TILE_SIZE, CoreGrid, DataType, Layout, MathFidelity,
                     shard_spec_2d)
from . import _eltwise as E
from . import program_configs as P
from .unary import activation_fn

_A_HI, _A_LO = 4, 5   # SrcA (weights): hidden+4 bits per pass, then the next 5
_B_HI, _B_LO = 6, 4   # SrcB (activations): hidden+6 bits per pass, then the next 4
_BITS = {DataType.FLOAT32: 10, DataType.BFLOAT8_B: 6, DataType.BFLOAT4_B: 2}  # explicit mantissa bits held


def default_fidelity(a_dtype, b_dtype, program_config=None, core_grid=None) -> MathFidelity:
    if a_dtype == DataType.FLOAT32 and b_dtype == DataType.FLOAT32:
        return MathFidelity.HiFi4
    if program_config is not None or core_grid is not None or (a_dtype in BLOCK_FLOAT and b_dtype in BLOCK_FLOAT):
        return MathFidelity.LoFi
    return MathFidelity.HiFi2


def _phases(x_b: torch.Tensor, x_a: torch.Tensor, fidelity: MathFidelity, bits_b: int = 23, bits_a: int = 23):
    """(SrcB operand, SrcA operand) pairs whose matmuls sum to what the fidelity phases compute; x_b is the
    activations (first matmul input), x_a the weights (second); bits_* = explicit mantissa bits the operand
    can hold at most (7 for bfloat16, 10 for TF32), so truncations that cannot drop anything are skipped."""
    def trunc(x, bits, keep):
        return x if keep >= bits else E.truncate_mantissa(x, keep)

    a_full = trunc(x_a, bits_a, _A_HI + _A_LO)
    b_full = trunc(x_b, bits_b, _B_HI + _B_LO)
    if fidelity == MathFidelity.HiFi4:
        return [(b_full, a_full)]
    b_hi = trunc(x_b, bits_b, _B_HI)
    if fidelity == MathFidelity.HiFi2:
        return [(b_hi, a_full)]
    a_hi = trunc(x_a, bits_a, _A_HI)
    if fidelity == MathFidelity.HiFi3:
        return [(b_hi, a_full), (b_full - b_hi, a_hi)] if b_hi is not b_full else [(b_hi, a_full)]
    return [(b_hi, a_hi)]  # LoFi


def _accumulate(terms, fp32_acc: bool) -> torch.Tensor:
    """Sum of the phase matmuls, accumulated as the Dst register does."""
    k = terms[0][0].shape[-1]
    if fp32_acc or k <= TILE_SIZE:
        out = terms[0][0] @ terms[0][1]
        for b, a in terms[1:]:
            out = out + b @ a
        return out if fp32_acc else E.round_to(out, DataType.BFLOAT16)
    kt = -(-k // TILE_SIZE)
    pad = kt * TILE_SIZE - k
    if pad:  # zero K padding adds nothing to any partial product
        terms = [(torch.nn.functional.pad(b, (0, pad)), torch.nn.functional.pad(a, (0, 0, 0, pad))) for b, a in terms]
    # bf16 accumulation is a sequential scan over K tiles, vectorised over M x N. One small matmul per tile on
    # strided slices, written into one reused buffer, is bit-identical to a batched [Kt, M, 32] @ [Kt, 32, N]
    # (same kernel per tile) and 2-3x faster: no transposed copy of A, no Kt x M x N intermediate.
    acc = wide = part = extra = None  # acc held as bfloat16: the Dst register's 16-bit accumulator
    for i in range(kt):
        lo, hi = i * TILE_SIZE, (i + 1) * TILE_SIZE
        b, a = terms[0]
        part = torch.matmul(b[..., lo:hi], a[..., lo:hi, :], out=part)
        for b, a in terms[1:]:
            extra = torch.matmul(b[..., lo:hi], a[..., lo:hi, :], out=extra)
            part += extra
        if acc is None:
            acc, wide = part.bfloat16(), torch.empty_like(part)
        else:  # float32 add, rounded nearest-even on the copy back (exactly as .bfloat16() rounds); in-place
            wide.copy_(acc)  # copies between same-shaped buffers: 2x faster than a mixed-dtype torch.add
            wide += part
            acc.copy_(wide)
    return acc.float()


def _validate(qual, a, b, transpose_a, transpose_b):
    dev = require_device(qual, a, b)
    for i, t in enumerate((a, b)):
        if t.layout != Layout.TILE:
            raise RuntimeError(f"{qual}: input tensor {i} must be in TILE layout, got {t.layout.name}; "
                               f"convert it with ttnn.to_layout(tensor, ttnn.TILE_LAYOUT)")
        E.check_dtype(qual, t.dtype, FLOATS, what=f"input tensor {i}")
        if t.is_sharded():  # matmul's program selection reads a sharded operand's 2-D shard spec
            shard_spec_2d(t.memory_config(), qual)
    if len(b.shape) < 2:
        raise RuntimeError(f"{qual}: expects input B rank >= 2, got {len(b.shape)} (shape {list(b.shape)})")
    if len(a.shape) < 1 or (transpose_a and len(a.shape) < 2):
        raise RuntimeError(f"{qual}: input A of shape {list(a.shape)} has too few dims")
    return dev


_CHUNK = 1 << 22  # elements of B converted at a time when B is large (an LM head: 50k x 768)


def _operands(a, b, transpose_a, transpose_b):
    """(A as the engine reads it, B's stored values (converted per column block by _product), vector_a)."""
    xa = E.fpu_operand(a.value, a.dtype)
    vb = b.value
    if transpose_a:
        xa = xa.transpose(-1, -2)
    if transpose_b:
        vb = vb.transpose(-1, -2)
    vector_a = xa.dim() == 1
    if vector_a:
        xa = xa.unsqueeze(0)
    return xa, vb, vector_a


def _product(xa, b, vb, transpose_b, fid, fp32_acc, bits_a, bits_b):
    """xa @ B at the fidelity and accumulation, B read as the engine reads it (fpu_operand_of: weights keep
    their flush check). Output columns are independent, so a large B with no batch is converted and multiplied
    one block of columns at a time: converting a 50k x 768 head to float32 at once cost more than its matmul
    (first-touch page faults on 154 MB, every call) and raised the peak host memory by as much."""
    if vb.numel() <= _CHUNK or math.prod(vb.shape[:-2]) != 1:
        xb = E.fpu_operand_of(b)
        xb = xb.transpose(-1, -2) if transpose_b else xb
        return _accumulate(_phases(xa, xb, fid, bits_a, bits_b), fp32_acc)
    n = vb.shape[-1]
    cols = max(TILE_SIZE, _CHUNK // vb.shape[-2] // TILE_SIZE * TILE_SIZE)
    out = torch.empty(*xa.shape[:-1], n)
    known_clean = E.fpu_clean(b)
    clean = True
    for lo in range(0, n, cols):
        xb, ok = E.fpu_read(vb[..., lo:lo + cols], b.dtype, known_clean)
        clean = clean and ok
        out[..., lo:lo + cols] = _accumulate(_phases(xa, xb, fid, bits_a, bits_b), fp32_acc)
    if clean and not known_clean:
        E.mark_fpu_clean(b)
    return out


def _check_shapes(qual, xa, xb):
    if xa.shape[-1] != xb.shape[-2]:
        raise RuntimeError(f"{qual}: the width of the first tensor must be equal to the height of the second "
                           f"tensor. Mismatch: width={xa.shape[-1]} height={xb.shape[-2]} (after transpose_a/"
                           f"transpose_b); transpose an input or fix the shapes")
    b_batch = xb.shape[:-2]
    # B's batch 1 broadcasts (the bcast_batch variant); so does an A whose batch dims are all 1 against a batched
    # B (tt-metal issue #12834: the auto-config reuses in0 across B's batch), giving B's batch dims
    if math.prod(b_batch) != 1 and math.prod(xa.shape[:-2]) != 1:
        rank = max(xa.dim(), xb.dim())
        ab = (1,) * (rank - xa.dim()) + tuple(xa.shape[:-2])
        bb = (1,) * (rank - xb.dim()) + tuple(b_batch)
        if ab != bb:
            raise RuntimeError(f"{qual}: bmm (non-bcast matmul) expects input tensors of shapes BCMK*BCKN=BCMN: "
                               f"batch dims of A {list(xa.shape[:-2])} and B {list(b_batch)} must match, or one of "
                               f"them must be all 1 to broadcast")


def _tiles(xa, xb) -> P.MatmulTiles:
    """A @ B's sizes in whole tiles (the engine pads M, K and N up to 32)."""
    t = lambda d: -(-d // TILE_SIZE)  # noqa: E731
    return P.MatmulTiles(math.prod(xa.shape[:-2]), math.prod(xb.shape[:-2]), t(xa.shape[-2]), t(xa.shape[-1]),
                         t(xb.shape[-1]))


def _placement(qual, a, b, xa, xb, memory_config, program_config, core_grid, fp32_acc, compute_kernel_config, dev):
    """The output memory config, after the checks the real op runs on a program config or a core grid.

    A core_grid is a CoreGrid; one larger than the device grid is not an error on the real op: its auto-config
    (create_matmul_program_config) uses the user grid only when it fits and the device grid otherwise, so the
    call runs on the device grid (tt-metal matmul_program_config.cpp)."""
    if core_grid is not None and not isinstance(core_grid, CoreGrid):
        raise TypeError(f"{qual}: core_grid must be a ttnn.CoreGrid(y=, x=), got {core_grid!r}")
    out_mc = memory_config or DRAM_MEMORY_CONFIG
    if program_config is None:
        return out_mc
    if core_grid is not None:
        raise RuntimeError(f"{qual}: Cannot use both user core grid/coordinates and a program config")
    dims = _tiles(xa, xb)
    P.validate_matmul(program_config, a, b, dims, out_mc, fp32_acc, compute_kernel_config,
                      dev.compute_with_storage_grid_size())
    return P.matmul_output_memory_config(program_config, a, b, dims, out_mc)


def _add_bias(qual, out, bias, n, dev, fp32_acc):
    if require_device(qual, bias) is not dev:
        raise RuntimeError(f"{qual}: bias is on a different device than the inputs")
    if bias.shape[-1] != n or math.prod(bias.shape) != n:
        raise RuntimeError(f"{qual}: bias must be one row of {n} values (shape [{n}] or [1, {n}]) broadcast over "
                           f"the output rows, got shape {list(bias.shape)}")
    out = out + E.fpu_operand_of(bias).reshape(n)
    return out if fp32_acc else E.round_to(out, DataType.BFLOAT16)


def _kernel_activations(program_config, core_grid_activation) -> list:
    """What runs in the matmul kernel on the accumulator: the program config's fused_activation, and
    `activation=` when a core_grid is given (without one TT-NN runs it as a separate op: _post_activation)."""
    fused = activation_fn(getattr(program_config, "fused_activation", None))
    return [f for f in (fused, core_grid_activation) if f is not None]


def _matmul_core(qual, a, b, bias, transpose_a, transpose_b, memory_config, dtype, program_config, activation,
                 compute_kernel_config, core_grid, optional_output_tensor):
    dev = _validate(qual, a, b, transpose_a, transpose_b)
    E.check_dtype_arg(qual, dtype)
    out_dtype = dtype or (optional_output_tensor.dtype if optional_output_tensor is not None else a.dtype)
    xa, xb, vector_a = _operands(a, b, transpose_a, transpose_b)
    _check_shapes(qual, xa, xb)
    fid = default_fidelity(a.dtype, b.dtype, program_config, core_grid)
    fp32_acc = out_dtype == DataType.FLOAT32
    if compute_kernel_config is not None:
        if compute_kernel_config.math_fidelity != MathFidelity.Invalid:
            fid = compute_kernel_config.math_fidelity
        fp32_acc = bool(compute_kernel_config.fp32_dest_acc_en)
    out_mc = _placement(qual, a, b, xa, xb, memory_config, program_config, core_grid, fp32_acc,
                        compute_kernel_config, dev)
    act = activation_fn(activation)
    in_kernel = _kernel_activations(program_config, act if core_grid is not None else None)
    out = _product(xa, b, xb, transpose_b, fid, fp32_acc, _BITS.get(a.dtype, 7), _BITS.get(b.dtype, 7))
    if bias is not None:
        out = _add_bias(qual, out, bias, xb.shape[-1], dev, fp32_acc)
    for f in in_kernel:
        out = f(out)
    if vector_a:
        out = out.squeeze(-2)
    m, k, n = xa.shape[-2], xa.shape[-1], xb.shape[-1]
    pad = lambda d: -(-d // TILE_SIZE) * TILE_SIZE  # noqa: E731  the engine works on whole tiles
    batch = math.prod(E.formats.broadcast_shape(xa.shape[:-2], xb.shape[:-2]))
    flops = 2.0 * batch * pad(m) * pad(k) * pad(n)
    inputs = (a, b) + ((bias,) if bias is not None else ())
    work = _work(dev, batch, m, k, n, fid, fp32_acc, program_config, core_grid)
    res = E.finish(qual, out, out_dtype, Layout.TILE, dev, out_mc, inputs,
                   output_tensor=optional_output_tensor, flops=flops, matmul=work,
                   sfpu_cycles=10.0 if in_kernel else 0.0)
    if act is not None and core_grid is None:
        res = _post_activation(res, act, out_mc, optional_output_tensor)
    return res


def _post_activation(mm_out, act, memory_config, optional_output_tensor):
    """The activation of a matmul/linear called without core_grid: TT-NN runs it as a separate unary op on the
    packed (rounded) product, not in the matmul kernel (tt-metal matmul.cpp bound_matmul: the
    `user_fused_activation && !user_core_coord` branch calls unary_chain), so it costs a second op and a
    second rounding; with a core_grid the activation is applied to the accumulator before packing."""
    out = E.finish("ttnn.unary_chain", act(E.host_values(mm_out)), mm_out.dtype, mm_out.layout, mm_out.device(),
                   memory_config, (mm_out,), output_tensor=optional_output_tensor, sfpu_cycles=10.0)
    if mm_out is not out:
        mm_out.deallocate()
    return out


def _work(dev, batch, m, k, n, fid, fp32_acc, program_config, core_grid) -> MatmulWork:
    return matmul_tiles_work(dev.spec.grid, batch, m, k, n, fid.passes, fp32_acc, program_config, core_grid)


def matmul_tiles_work(full, batch, m, k, n, passes, fp32_acc, program_config=None, core_grid=None) -> MatmulWork:
    """How the cost model sees a matmul on a device of grid `full`: its tiles, and the grid and per-core block
    the config gives (a program config's compute grid and per_core_M/N, else core_grid, else the whole device
    grid). Public so that a compiler pass pricing a config before it runs sees what the op will record."""
    grid = getattr(program_config, "compute_with_storage_grid_size", None)
    if grid is None and core_grid is not None and core_grid.y <= full.y and core_grid.x <= full.x:
        grid = core_grid   # a core_grid larger than the device's is not used: the op runs on the device grid
    gy, gx = (grid.y, grid.x) if grid is not None else (full.y, full.x)
    t = lambda d: -(-d // TILE_SIZE)  # noqa: E731
    return MatmulWork(batch, t(m), t(k), t(n), gy, gx, passes, fp32_acc,
                      getattr(program_config, "per_core_M", None), getattr(program_config, "per_core_N", None))


def _matmul_impl(input_tensor_a, input_tensor_b, transpose_a=False, transpose_b=False, memory_config=None, dtype=None,
                 program_config=None, activation=None, compute_kernel_config=None, core_grid=None, output_tile=None,
                 optional_output_tensor=None, global_cb=None, sub_device_id=None, prefetcher_pipes=None):
    """Matrix product of the last two dims with batch broadcasting of B, at the device's fidelity."""
    return _matmul_core("ttnn.matmul", input_tensor_a, input_tensor_b, None, transpose_a, transpose_b, memory_config,
                        dtype, program_config, activation, compute_kernel_config, core_grid, optional_output_tensor)


def _linear_impl(input_tensor_a, input_tensor_b, bias=None, transpose_a=False, transpose_b=False, memory_config=None,
                 dtype=None, program_config=None, activation=None, compute_kernel_config=None, core_grid=None,
                 output_tile=None, optional_output_tensor=None, global_cb=None, sub_device_id=None,
                 prefetcher_pipes=None, in0_column_offset=None):
    """input @ weight (+ bias row) (then activation): matmul with the bias added in the accumulator."""
    return _matmul_core("ttnn.linear", input_tensor_a, input_tensor_b, bias, transpose_a, transpose_b, memory_config,
                        dtype, program_config, activation, compute_kernel_config, core_grid, optional_output_tensor)


def _golden_matmul(a, b, *args, transpose_a=False, transpose_b=False, **kw):
    a, b = a.float(), b.float()
    return (a.transpose(-1, -2) if transpose_a else a) @ (b.transpose(-1, -2) if transpose_b else b)


def _golden_linear(a, b, *args, bias=None, transpose_a=False, transpose_b=False, activation=None,
                   program_config=None, **kw):
    """The real golden: torch's product, then the activation's torch golden (ttnn.operations.activations), the
    program config's fused_activation first: exact functions, not the device's approximate kernels."""
    from ..operations.activations import get_golden_function_for_activation
    out = _golden_matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b)
    if bias is not None:
        out = out + bias.float().reshape(-1)
    fused = getattr(program_config, "fused_activation", None)
    act = get_golden_function_for_activation(fused.op_type if fused else activation)
    return act(out) if act is not None else out


_COMMON = ("transpose_a=False, transpose_b=False, memory_config=None, dtype=None, program_config=None, "
           "activation=None, compute_kernel_config=None, core_grid=None, output_tile=None, "
           "optional_output_tensor=None, global_cb=None, sub_device_id=None, prefetcher_pipes=[]")
matmul = E.make_op("ttnn.matmul", f"input_tensor_a, input_tensor_b, *, {_COMMON}", _matmul_impl, _golden_matmul)
linear = E.make_op("ttnn.linear", f"input_tensor_a, input_tensor_b, *, bias=None, {_COMMON}, in0_column_offset=None",
                   _linear_impl, _golden_linear)

__all__ = ["matmul", "linear"]
