"""Format round trips (host -> device format -> host), bit for bit against the real ttnn, by both emulator paths."""
import pytest

from conformance import harness
from conformance.corpus import FORMATS, LAYOUTS

CASES = [k for k in harness.corpus_arrays() if k.startswith("fmt/")]
PARAMS = [(k, dt, lay) for k in CASES for dt in FORMATS for lay in LAYOUTS
          if not (dt in ("bfloat8_b", "bfloat4_b") and lay == "ROW_MAJOR")]


@pytest.mark.parametrize("via", ["Tensor", "from_torch"])
@pytest.mark.parametrize("case,dtype,layout", PARAMS, ids=["|".join(p) for p in PARAMS])
def test_round_trip(real, case, dtype, layout, via):
    key = f"{case}|{dtype}|{layout}"
    a = harness.corpus_arrays()[case]
    if dtype in ("int32", "uint32"):
        a = harness.corpus.integer_source(a)
        a = a.view("uint32") if dtype == "uint32" else a
    t = harness.emulate_create(a, dtype, layout, via)
    logical, padded = real["shapes"][key]
    assert [list(t.shape), list(t.padded_shape)] == [logical, padded], "logical/padded shape differ"
    problem = harness.bit_mismatch(harness.emulator_values(t), real["formats"][key])
    assert problem is None, problem
