"""`make demo`: the emulator at work (replaced by a compiled model once the compiler lands)."""
import torch

from torch_ttnn import runtime


def main():
    ttnn = runtime.ttnn()
    print(f"runtime: {runtime.reason()}")
    device = runtime.default_device()
    x = torch.randn(64, 96)
    for dtype in (ttnn.bfloat16, ttnn.bfloat8_b, ttnn.bfloat4_b):
        t = ttnn.from_torch(x, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)
        y = ttnn.to_torch(t).float()
        err = (y - x).abs().max().item()
        pcc = torch.corrcoef(torch.stack([x.flatten(), y.flatten()]))[0, 1].item()
        print(f"{str(dtype):22s} shape {list(t.shape)} padded {list(t.padded_shape)}  max|err| {err:.4f}  PCC {pcc:.5f}")
    print("device memory:", {k: v["allocated"] for k, v in device.memory_report().items()})


if __name__ == "__main__":
    main()
