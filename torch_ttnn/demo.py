"""`make demo`: a small real HF model (GPT-2 architecture from a config, seeded weights, no download)
compiled with torch.compile(backend="ttnn") on the active runtime, with its metrics summary and PCC."""
import torch
import transformers

import torch_ttnn
from torch_ttnn import accuracy, runtime


def main():
    print(f"runtime: {runtime.reason()}")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=1000, n_embd=128, n_layer=2, n_head=4, n_positions=128,
                                     bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config).eval()
    ids = torch.randint(0, config.vocab_size, (1, 32))
    option = torch_ttnn.TorchTtnnOption(verbose=False, check_accuracy=True)
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        ref = model(ids).logits
        for _ in range(3):
            logits = compiled(ids).logits
    pcc = accuracy.pcc(ref, logits.float())
    print(f"GPT-2 ({config.n_layer} layers, hidden {config.n_embd}) logits {list(logits.shape)}, "
          f"PCC vs CPU float32: {pcc:.5f}")
    print(option.summary())
    print("(outputs: the logits and the KV cache, one key and one value per layer)")
    dram = option.device.memory_report()["DRAM"]
    print(f"device DRAM held between calls (parameters placed once): {dram['allocated'] / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
