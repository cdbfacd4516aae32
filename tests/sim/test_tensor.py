"""The emulated ttnn.Tensor: conversions, placement, memory accounting and the errors the real library raises."""
import gc

import pytest
import torch

DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32, "bfloat8_b": torch.float32,
          "bfloat4_b": torch.float32, "int32": torch.int32, "uint32": torch.int64, "uint16": torch.int32,
          "uint8": torch.uint8}


@pytest.mark.parametrize("layout", ["ROW_MAJOR_LAYOUT", "TILE_LAYOUT"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "int32", "uint32", "uint16", "uint8"])
def test_exact_round_trip_through_device(ttnn, device, dtype, layout):
    lo = 0 if dtype.startswith("uint") else -1000
    x = torch.randint(lo, 250, (3, 33, 65))
    src = {"bfloat16": x.to(torch.bfloat16), "float32": x.float()}.get(dtype, x)
    t = ttnn.from_torch(src, dtype=getattr(ttnn, dtype), layout=getattr(ttnn, layout), device=device)
    assert ttnn.is_tensor_storage_on_device(t) and t.storage_type() == ttnn.StorageType.DEVICE
    back = ttnn.to_torch(t)
    assert back.dtype == DTYPES[dtype]
    assert torch.equal(back, src.to(back.dtype))


@pytest.mark.parametrize("dtype", ["bfloat8_b", "bfloat4_b"])
def test_block_float_needs_tile_layout(ttnn, dtype):
    with pytest.raises(RuntimeError, match="only supported in TILE layout"):
        ttnn.from_torch(torch.randn(4, 4), dtype=getattr(ttnn, dtype), layout=ttnn.ROW_MAJOR_LAYOUT)
    t = ttnn.from_torch(torch.randn(4, 4), dtype=getattr(ttnn, dtype), layout=ttnn.TILE_LAYOUT)
    with pytest.raises(RuntimeError, match="only in TILE layout"):
        ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT)


def test_shapes_and_layout_conversion(ttnn, device):
    x = torch.randn(2, 40, 70)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)
    assert t.shape == ttnn.Shape([2, 40, 70]) and t.padded_shape == (2, 40, 70)
    tt = ttnn.to_layout(t, ttnn.TILE_LAYOUT)
    assert tt.layout == ttnn.TILE_LAYOUT and tt.padded_shape == (2, 64, 96) and tt.shape == (2, 40, 70)
    assert torch.equal(ttnn.to_torch(tt), x.bfloat16())
    q = ttnn.to_layout(tt, ttnn.TILE_LAYOUT, dtype=ttnn.bfloat8_b)
    assert q.dtype == ttnn.bfloat8_b
    assert (ttnn.to_torch(q) - x).abs().max() < 0.1


def test_host_device_round_trip_and_reshape(ttnn, device):
    x = torch.arange(24.0).reshape(2, 3, 4)
    host = ttnn.from_torch(x, dtype=ttnn.float32)
    dev = ttnn.to_device(host, device, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert dev.memory_config() == ttnn.L1_MEMORY_CONFIG and dev.device() is device
    back = ttnn.from_device(dev)
    assert back.storage_type() == ttnn.StorageType.HOST
    assert torch.equal(ttnn.to_torch(ttnn.reshape(dev, (4, -1))), x.reshape(4, 6))
    with pytest.raises(RuntimeError, match="cannot reshape"):
        ttnn.reshape(dev, (5, 5))


def test_typecast_on_device_and_rejects_host(ttnn, device):
    x = torch.tensor([[1.7, -1.7, 2.5, -2.5]])
    t = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    assert ttnn.to_torch(ttnn.typecast(t, ttnn.int32)).tolist() == [[1, -1, 2, -2]]
    assert ttnn.to_torch(ttnn.typecast(t, ttnn.bfloat16)).dtype == torch.bfloat16
    with pytest.raises(RuntimeError, match="must be on device, got storage type: HOST"):
        ttnn.typecast(ttnn.from_torch(x), ttnn.int32)


def test_memory_is_accounted_and_freed(ttnn, device):
    gc.collect()
    before = device.allocated_bytes(ttnn.BufferType.DRAM)
    before_l1 = device.allocated_bytes(ttnn.BufferType.L1)  # other tests' live programs (traces) may hold some
    t = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    # 4 tiles of 2048 B over 12 DRAM banks: one 2048 B page reserved in every bank.
    assert device.allocated_bytes(ttnn.BufferType.DRAM) - before == 12 * 2048
    ttnn.deallocate(t)
    assert device.allocated_bytes(ttnn.BufferType.DRAM) == before
    with pytest.raises(RuntimeError, match="deallocated"):
        ttnn.to_torch(t)
    assert list(t.shape) == [64, 64] and "deallocated" in repr(t)  # the spec outlives the buffer
    assert t._values.device.type == "meta"  # and so does nothing else: the host memory went with it
    u = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=device,
                        memory_config=ttnn.L1_MEMORY_CONFIG)
    assert device.allocated_bytes(ttnn.BufferType.L1) - before_l1 >= 4 * 1088
    del u
    gc.collect()
    assert device.allocated_bytes(ttnn.BufferType.L1) == before_l1


def test_out_of_memory_names_size_and_buffer_type(ttnn, device):
    # L1 is 1.5 MB per core: 64 cores cannot hold 128 MB of bfloat16.
    before = device.allocated_bytes(ttnn.BufferType.L1)  # other tests' live programs (traces) may hold some
    with pytest.raises(ttnn.OutOfMemoryError, match=r"Out of memory .* L1 buffer .* banks"):
        ttnn.from_torch(torch.zeros(8192, 8192), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                        memory_config=ttnn.L1_MEMORY_CONFIG)
    assert device.allocated_bytes(ttnn.BufferType.L1) == before  # a failed allocation holds nothing


def test_closed_device_and_bad_ids(ttnn, monkeypatch):
    with pytest.raises(RuntimeError, match="has 1 device"):
        ttnn.open_device(device_id=7)
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "n300")  # two chips: device 1 is not the session's device
    assert ttnn.GetNumAvailableDevices() == 2
    with ttnn.manage_device(1) as dev:
        t = ttnn.from_torch(torch.ones(2, 2), device=dev)
    with pytest.raises(RuntimeError, match="is closed"):
        ttnn.to_torch(t)


def test_open_device_twice_returns_same_device(ttnn, device):
    assert ttnn.open_device(device_id=0) is device
    assert device.arch() == ttnn.Arch.WORMHOLE_B0
    assert device.compute_with_storage_grid_size() == ttnn.CoreCoord(8, 8)


@pytest.mark.parametrize("bad,match", [
    (dict(layout="TILE"), "layout must be"),
    (dict(dtype=torch.bfloat16), "dtype must be a ttnn.DataType"),
])
def test_bad_arguments_are_clear(ttnn, bad, match):
    with pytest.raises(TypeError, match=match):
        ttnn.from_torch(torch.ones(2), **bad)


def test_int64_out_of_int32_range_is_rejected(ttnn):
    with pytest.raises(RuntimeError, match="do not fit int32"):
        ttnn.from_torch(torch.tensor([2**40]))


def test_numpy_constructor_like_the_real_package(ttnn):
    import numpy as np
    a = np.linspace(-3, 3, 40 * 70, dtype=np.float32).reshape(40, 70)
    t = ttnn.Tensor(a, data_type=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT)
    assert t.padded_shape == (64, 96) and t.to_numpy().dtype == np.float32
    assert abs(t.to_numpy() - a).max() < 0.05
