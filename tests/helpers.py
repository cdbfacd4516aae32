"""Accuracy helpers shared by the tests (importable as `from helpers import pcc, assert_pcc`)."""
import torch

from torch_ttnn.accuracy import pcc  # noqa: F401  (the one PCC: torch_ttnn/accuracy.py says why it is so)


# Absolute-error scale per output dtype, relative to the reference's magnitude: bf16 keeps 8 significant bits,
# bfloat8_b 7 bits shared per 16-value block, bfloat4_b 3.
DTYPE_RTOL = {"bfloat16": 2**-7, "float32": 1e-5, "bfloat8_b": 2**-5, "bfloat4_b": 2**-2}


def assert_pcc(ref: torch.Tensor, got: torch.Tensor, threshold: float = 0.99):
    assert ref.shape == got.shape, f"shape {tuple(got.shape)} != expected {tuple(ref.shape)}"
    p = pcc(ref.float(), got.float())
    assert p >= threshold, f"PCC {p:.5f} < {threshold}"
    return p


def compile_lowered(fn, inputs, targets, device):
    """Compile `fn` for the emulator and run it next to eager: asserts nothing ran on CPU and every TT-NN op
    named in `targets` is in the lowered graph; returns (compiled output, eager output) for the caller's checks."""
    import torch_ttnn
    from torch_ttnn.compiler.lower import op_name
    torch.manual_seed(0)
    torch._dynamo.reset()
    args = inputs()
    opt = torch_ttnn.TorchTtnnOption(device=device, runtime="sim")
    with torch.no_grad():
        got = torch.compile(fn, backend=torch_ttnn.backend, options=opt)(*args)
        ref = fn(*args)
    names, cpu_ops = set(), set()
    for g in opt._out_fx_graphs:
        for n in g.nodes:
            if n.op == "call_function":
                if n.meta.get("fallback"):
                    cpu_ops.add(op_name(n.target))
                else:
                    names.add(n.meta.get("ttnn_name"))
    assert not cpu_ops, f"ran on CPU: {cpu_ops} ({[c.metrics()['fallback_reasons'] for c in opt.compiled]})"
    for t in targets:
        assert t in names, f"ttnn.{t} not in the lowered graph (has {sorted(n for n in names if n)})"
    return got, ref


def spy_host_downloads(fn, only=None):
    """Run fn() while recording the shapes of TtnnTensor._host calls (the eager device's only download path),
    counting only tensors whose id is in `only` when given. Returns (fn's result, [shapes])."""
    from torch_ttnn import device as tdev
    orig, seen = tdev.TtnnTensor._host, []

    def spy(self):
        if only is None or id(self) in only:
            seen.append(tuple(self.shape))
        return orig(self)
    tdev.TtnnTensor._host = spy
    try:
        out = fn()
    finally:
        tdev.TtnnTensor._host = orig
    return out, seen
