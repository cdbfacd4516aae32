"""Host typecasts (float -> integers incl. out of range and NaN, integers -> float, bf16 <-> float32), bit for bit.

The real host API is ttnn.Tensor(array, data_type=, layout=) (what ttnn.from_torch calls); the emulator is
checked through its ttnn.Tensor and from_torch(dtype=).
"""
import pytest

from conformance import harness
from conformance.corpus import LAYOUTS, TYPECAST_TARGETS

CASES = [k for k in harness.corpus_arrays() if k.startswith("cast/")]
# torch has no general uint32 tensor, so a uint32 source goes through ttnn.Tensor(numpy array) only.
PARAMS = [(k, dt, lay, via) for k in CASES for dt in TYPECAST_TARGETS for lay in LAYOUTS
          for via in ("Tensor", "from_torch") if not (via == "from_torch" and "uint32" in k)]


@pytest.mark.parametrize("case,dtype,layout,via", PARAMS, ids=["|".join(p) for p in PARAMS])
def test_host_typecast(real, case, dtype, layout, via):
    t = harness.emulate_create(harness.corpus_arrays()[case], dtype, layout, via)
    problem = harness.bit_mismatch(harness.emulator_values(t), real["typecasts"][f"{case}|{dtype}|{layout}"])
    assert problem is None, problem
