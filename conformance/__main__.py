"""`python -m conformance`: the conformance tests, where a missing real ttnn is a failure rather than a skip."""
import os
import sys

import pytest

from . import harness

if __name__ == "__main__":
    os.environ["CONFORMANCE_STRICT"] = "1"
    if harness.real_python() is None:
        sys.exit(harness.SKIP_REASON)
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", str(harness.ROOT / "tests" / "real_ttnn"),
                          *sys.argv[1:]]))
