"""The zoo: every tiny model builds and runs on CPU reproducibly, full configs match the published checkpoints."""
import textwrap

import pytest
import torch

from torch_ttnn import zoo

REQUIRED = ["bert", "distilbert", "albert", "roberta", "gpt2", "opt", "bloom", "falcon", "llama", "mistral", "qwen2",
            "phi", "gemma", "t5", "bart", "vit", "deit", "swin", "convnext", "resnet", "mobilenetv2", "efficientnet",
            "regnet", "segformer", "dinov2", "clip", "whisper", "mamba"]


def test_registry_has_every_required_family():
    assert set(REQUIRED) <= set(zoo.names())


@pytest.mark.parametrize("name", REQUIRED)
def test_tiny_builds_runs_and_is_deterministic(name):
    a, b = zoo.build(name, "tiny", batch=2, seed=0), zoo.build(name, "tiny", batch=2, seed=0)
    assert not a.model.training and a.name == name and a.size == "tiny"
    for (ka, pa), (kb, pb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and torch.equal(pa, pb), f"{name}: {ka} differs between two seeded builds"
    for x, y in zip(a.inputs(), b.inputs()):
        assert torch.equal(x, y)
    ya, yb = a.run(), b.run()
    assert torch.equal(ya, yb)
    assert ya.dtype == torch.float32 and torch.isfinite(ya).all()
    # Not degenerate: the two batch rows (different inputs) give clearly different outputs, so PCC means something.
    rows = ya.reshape(ya.shape[0], -1) if name != "clip" else ya
    assert (rows[0] - rows[1]).abs().max() > 1e-3 * rows.abs().max(), f"{name}: output ignores its input"
    assert ya.std() > 1e-4
    other = zoo.build(name, "tiny", batch=1, seed=1).run()   # batch 1 works too (BatchNorm calibration)
    assert other.shape[1:] == ya.shape[1:] and torch.isfinite(other).all()
    assert not torch.equal(ya[:1], other[:1]), f"{name}: the seed does not reach the weights/inputs"


@pytest.mark.parametrize("name", REQUIRED)
def test_full_config_matches_published_checkpoint(name):
    ex = zoo.build(name, "full", meta=True)
    spec = zoo.get(name)
    n = sum(p.numel() for p in ex.model.parameters())
    # DeiT's class always carries the distillation token (+2 x 192 values over the plain checkpoint).
    assert abs(n - spec.params) <= 1e-4 * spec.params, f"{name}: {n:,} parameters, {spec.full} has {spec.params:,}"
    bytes_needed = n * torch.finfo(spec.full_dtype).bits // 8
    assert bytes_needed < 16 * 2**30, f"{name}: {bytes_needed / 2**30:.1f} GiB of weights will not run in 24 GiB"
    assert all(p.dtype == spec.full_dtype for p in ex.model.parameters())


def test_tokens_look_like_a_padded_batch():
    ex = zoo.build("bert", "tiny", batch=4)
    ids, mask = ex.kwargs["input_ids"], ex.kwargs["attention_mask"]
    assert mask[0].all() and not mask[-1].all(), "row 0 is full length, later rows are padded"
    assert torch.equal(ids == 0, mask == 0), "pad id exactly where masked"


def test_bad_arguments_are_named():
    with pytest.raises(KeyError, match="no zoo model 'nope'"):
        zoo.build("nope")
    with pytest.raises(ValueError, match="size must be one of"):
        zoo.build("bert", "huge")
    with pytest.raises(ValueError, match="batch must be"):
        zoo.build("bert", batch=0)


USER_MODEL = textwrap.dedent('''
    import torch

    def build(size, generator):
        model = torch.nn.Linear(8, 4 if size == "tiny" else 16)
        return model, torch.randn(3, 8, generator=generator)

    def as_kwargs():
        return torch.nn.Linear(8, 4), {"input": torch.randn(2, 8)}

    def as_args_kwargs(**kw):
        return torch.nn.Bilinear(2, 3, 4), ((torch.randn(1, 2),), {"input2": torch.randn(1, 3)})

    def bad():
        return 42
''')


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text(USER_MODEL)
    return str(path)


@pytest.mark.parametrize("fn, shape", [("", (3, 4)), (":as_kwargs", (2, 4)), (":as_args_kwargs", (1, 4))])
def test_user_model_from_file(user_file, fn, shape):
    a, b = zoo.build(user_file + fn), zoo.build(user_file + fn)
    assert a.run().shape == shape
    assert torch.equal(a.run(), b.run()), "user models are seeded too"
    assert zoo.build(user_file, "full").run().shape == (3, 16)


def test_user_model_from_module(user_file, monkeypatch):
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(user_file).parent))
    assert zoo.build("my_model:as_kwargs").run().shape == (2, 4)


def test_user_model_errors(user_file, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zoo.build(str(tmp_path / "missing.py"))
    with pytest.raises(AttributeError, match="has no function 'nothere'"):
        zoo.build(user_file + ":nothere")
    with pytest.raises(TypeError, match="must return an Example or"):
        zoo.build(user_file + ":bad")


def test_default_output_picks_the_judged_tensor():
    t = torch.ones(2)
    assert zoo.default_output(t) is t
    assert zoo.default_output({"hidden": t, "logits": t * 2}).sum() == 4
    assert zoo.default_output((None, t)) is t
