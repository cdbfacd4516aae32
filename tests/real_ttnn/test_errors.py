"""Host-side rejections: where the real ttnn rejects host input (or crashes on it), the emulator raises, naming the
same condition."""
import numpy as np
import pytest

from conformance import harness

A = np.linspace(-1, 1, 32 * 32, dtype=np.float32).reshape(32, 32)


def _emulator_error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return str(e)
    return None


@pytest.mark.parametrize("dtype", ["bfloat8_b", "bfloat4_b"])
def test_block_float_needs_tile(real, ttnn, dtype):
    assert real["errors"][f"create|{dtype}|ROW_MAJOR"]["outcome"] == "raised"
    msg = _emulator_error(lambda: ttnn.Tensor(A, data_type=getattr(ttnn, dtype), layout=ttnn.ROW_MAJOR_LAYOUT))
    assert msg and "TILE" in msg


def test_reshape_volume(real, ttnn):
    assert "reshape" in real["errors"]["reshape|volume"]["message"]
    host = ttnn.Tensor(A, data_type=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    msg = _emulator_error(lambda: ttnn.reshape(host, [5, 5]))
    assert msg and "reshape" in msg


def test_device_ops_reject_host_tensors(real, ttnn):
    """Every shared operation taking only tensors, called with host tensors on both sides."""
    host = ttnn.Tensor(A, data_type=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    wrong = []
    for name, arity in real["probes"]:
        r = real["errors"][f"host_input|{name}"]
        if r["outcome"] == "ok":
            continue
        op = ttnn
        for part in name.split("."):
            op = getattr(op, part)
        msg = _emulator_error(lambda: op(*([host] * arity)))
        if not msg or "on device" not in msg:
            wrong.append(f"ttnn.{name}: real {r['outcome']} ({r.get('message', r.get('signal'))!s:.80}), "
                         f"emulator: {msg!s:.120}")
    assert not wrong, "host input not rejected as the real ttnn does:\n  " + "\n  ".join(wrong)
