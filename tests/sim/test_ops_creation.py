"""Creation ops: real defaults, host vs device placement, dtype rounding, as_tensor's file cache."""
import inspect

import pytest
import torch


@pytest.mark.parametrize("name,args,ref", [
    ("zeros", ((3, 33),), torch.zeros(3, 33)),
    ("ones", ((2, 1, 5),), torch.ones(2, 1, 5)),
    ("full", ((4, 4), 3.3), torch.full((4, 4), 3.3)),
])
@pytest.mark.parametrize("on_device", [True, False])
@pytest.mark.parametrize("dtype,layout", [(None, None), ("float32", "TILE"), ("bfloat8_b", "TILE"), ("int32", None)])
def test_factories(ttnn, device, name, args, ref, on_device, dtype, layout):
    kw = dict(dtype=getattr(ttnn, dtype) if dtype else None, layout=getattr(ttnn.Layout, layout) if layout else None,
              device=device if on_device else None)
    t = getattr(ttnn, name)(*args, **kw)
    want_dtype = getattr(ttnn, dtype) if dtype else ttnn.bfloat16
    assert t.dtype == want_dtype and t.layout == (kw["layout"] or ttnn.ROW_MAJOR_LAYOUT)
    assert (t.device() is device) if on_device else t.device() is None
    expect = ttnn.to_torch(ttnn.from_torch(ref, dtype=want_dtype, layout=t.layout))
    assert torch.equal(ttnn.to_torch(t), expect)


def test_full_rounds_to_bfloat16(ttnn, device):
    assert ttnn.to_torch(ttnn.full([1], 1.0 + 2**-9, device=device)).item() == 1.0


def test_arange_defaults_and_rounding(ttnn, device):
    sig = inspect.signature(ttnn.arange)
    assert sig.parameters["dtype"].default == ttnn.bfloat16
    assert sig.parameters["layout"].default == ttnn.ROW_MAJOR_LAYOUT
    a = ttnn.arange(0, 300, 1, device=device)
    assert a.dtype == ttnn.bfloat16 and list(a.shape) == [300]
    assert torch.equal(ttnn.to_torch(a).float(), torch.arange(300).bfloat16().float())  # 257 -> 256: bf16 spacing
    assert torch.equal(ttnn.to_torch(ttnn.arange(5, dtype=ttnn.int32)), torch.arange(5, dtype=torch.int32))
    assert torch.equal(ttnn.to_torch(ttnn.arange(10, 0, -3, dtype=ttnn.int32)), torch.tensor([10, 7, 4, 1],
                                                                                              dtype=torch.int32))
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        ttnn.arange(0, 4, 0)


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "full_like"])
def test_like(ttnn, device, name):
    x = ttnn.from_torch(torch.randn(3, 40), dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    fn = getattr(ttnn, name)
    y = fn(x, 2.0) if name == "full_like" else fn(x)
    assert (y.shape, y.dtype, y.layout, y.device()) == (x.shape, x.dtype, x.layout, device)
    if name != "empty_like":
        ref = {"zeros_like": 0.0, "ones_like": 1.0, "full_like": 2.0}[name]
        assert torch.equal(ttnn.to_torch(y), torch.full((3, 40), ref))
    assert ttnn.zeros_like(x, dtype=ttnn.bfloat16).dtype == ttnn.bfloat16


def test_rand(ttnn, device):
    r = ttnn.rand((64, 64), device, low=-2.0, high=3.0, seed=7)
    v = ttnn.to_torch(r).float()
    assert r.layout == ttnn.TILE_LAYOUT and r.dtype == ttnn.bfloat16
    assert v.min() >= -2.0 and v.max() <= 3.0 and v.std() > 1.0
    assert torch.equal(v, ttnn.to_torch(ttnn.rand((64, 64), device, low=-2.0, high=3.0, seed=7)).float())


def test_empty_needs_device(ttnn, device):
    assert list(ttnn.empty([2, 3], device=device).shape) == [2, 3]
    with pytest.raises(TypeError, match="device is required"):
        ttnn.empty([2, 3])
    with pytest.raises(RuntimeError, match="must be on device"):
        ttnn.empty_like(ttnn.from_torch(torch.zeros(2)))


def test_as_tensor_cache(ttnn, device, tmp_path):
    calls = []

    def prep(t):
        calls.append(1)
        return t * 2

    src = torch.randn(4, 8)
    name = tmp_path / "w" / "weight"
    a = ttnn.as_tensor(src, ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, cache_file_name=str(name), preprocess=prep)
    files = list((tmp_path / "w").iterdir())
    assert [f.name for f in files] == ["weight_dtype_BFLOAT16_layout_TILE.tensorbin"]
    b = ttnn.as_tensor(torch.zeros(4, 8), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, cache_file_name=str(name),
                       preprocess=prep, device=device, memory_config=ttnn.DRAM_MEMORY_CONFIG)
    assert len(calls) == 1  # the second call hit the cache: the (different) source was not converted
    assert b.device() is device and torch.equal(ttnn.to_torch(a), ttnn.to_torch(b))
    assert torch.equal(ttnn.to_torch(b), (src * 2).bfloat16())
    with pytest.raises(RuntimeError, match="memory_config must be specified"):
        ttnn.as_tensor(src, device=device)
