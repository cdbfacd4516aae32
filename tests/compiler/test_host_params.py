"""`free_host_params` (compiler/host_params.py): the parameters' CPU copies freed once the compiled program has
uploaded them, the results bit-identical to keeping them, and every later need for them a clear error."""
import pytest
import torch
import transformers as T

import torch_ttnn
from torch_ttnn.compiler import host_params

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def tiny_llama(dtype=torch.bfloat16):
    """Heads divide 8 chips, so tensor parallel splits every block."""
    torch.manual_seed(0)
    c = T.LlamaConfig(vocab_size=128, hidden_size=128, num_hidden_layers=2, num_attention_heads=8,
                      num_key_value_heads=8, intermediate_size=256, max_position_embeddings=128,
                      bos_token_id=0, eos_token_id=1, initializer_range=0.2)
    return T.LlamaForCausalLM(c).to(dtype).eval()


def _option(where, mesh_of, device, **kw):
    if where == "mesh":
        return torch_ttnn.TorchTtnnOption(device=mesh_of("t3000", (2, 4)), tensor_parallel=True, verbose=False, **kw)
    return torch_ttnn.TorchTtnnOption(device=device, verbose=False, **kw)


def _calls(model, option, x, n=2):
    torch._dynamo.reset()
    compiled = torch.compile(model, backend=torch_ttnn.backend, options=option)
    with torch.no_grad():
        return compiled, [compiled(x, use_cache=False).logits for _ in range(n)]


def _freed(t):
    return t.untyped_storage().nbytes() == 0


@pytest.mark.parametrize("where, dtype", [("device", torch.bfloat16), ("device", torch.float32),
                                          ("mesh", torch.bfloat16)])
def test_freeing_keeps_results_bit_identical_and_frees_every_parameter(where, dtype, mesh_of, device, monkeypatch):
    monkeypatch.setattr(host_params, "MIN_BYTES", 0)   # the tiny model's tensors are all small
    x = torch.randint(0, 128, (1, 32))
    kept = tiny_llama(dtype)
    opt_kept = _option(where, mesh_of, device)
    _, want = _calls(kept, opt_kept, x)
    model = tiny_llama(dtype)
    nbytes = sum(p.untyped_storage().nbytes() for p in model.parameters())
    opt = _option(where, mesh_of, device, free_host_params=True)
    _, got = _calls(model, opt, x)
    for w, g in zip(want, got):
        assert torch.equal(w, g)
    assert all(_freed(p) for p in model.parameters())
    assert not any(_freed(p) for p in kept.parameters())
    [m] = opt.metrics
    assert m["host_params"]["freed_bytes"] >= nbytes and m["host_params"]["kept"] == {}
    assert m["device_time_ms"] == opt_kept.metrics[0]["device_time_ms"]
    assert opt_kept.metrics[0]["host_params"] is None


def test_small_tensors_keep_their_host_copy(device):
    model = tiny_llama()       # every tensor under 1 MiB
    opt = _option("device", None, device, free_host_params=True)
    _calls(model, opt, torch.randint(0, 128, (1, 32)), n=1)
    assert not any(_freed(p) for p in model.parameters())
    hp = opt.metrics[0]["host_params"]
    assert hp["freed"] == 0 and hp["kept"]["smaller than 1 MiB"] >= len(list(model.parameters()))


def test_a_recompile_that_needs_freed_parameters_raises_naming_one(device, monkeypatch):
    monkeypatch.setattr(host_params, "MIN_BYTES", 0)
    model = tiny_llama()
    compiled, _ = _calls(model, _option("device", None, device, free_host_params=True), torch.randint(0, 128, (1, 32)))
    with torch.no_grad(), pytest.raises(RuntimeError, match=r"parameter .* has no host values: free_host_params=True "
                                                            r"freed its CPU copy.*load_state_dict"):
        compiled(torch.randint(0, 128, (1, 40)), use_cache=False)   # a new shape: a new graph, uploads again


def test_weights_given_back_run_again_and_match(device, monkeypatch):
    monkeypatch.setattr(host_params, "MIN_BYTES", 1024)   # the weights, not the rotary table (not in a state dict)
    model = tiny_llama()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randint(0, 128, (1, 32))
    compiled, [first] = _calls(model, _option("device", None, device, free_host_params=True), x, n=1)
    assert _freed(model.lm_head.weight)
    model.load_state_dict(state, assign=True)    # new parameter tensors: the program uploads them again
    with torch.no_grad():
        again = compiled(x, use_cache=False).logits
    assert torch.equal(first, again)


@pytest.mark.parametrize("kw", [{"load_params_once": False}, {"check_accuracy": True}, {"bypass_compile": True}])
def test_options_that_read_the_host_parameters_are_refused(kw, device):
    key = next(iter(kw))
    with pytest.raises(ValueError, match=f"free_host_params=True .* {key}="):
        torch_ttnn.TorchTtnnOption(device=device, verbose=False, free_host_params=True, **kw)
    with pytest.raises(TypeError, match="free_host_params must be True or False"):
        torch_ttnn.TorchTtnnOption(device=device, verbose=False, free_host_params="yes")
