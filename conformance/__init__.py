"""Conformance of the emulator (torch_ttnn.sim) with the real TT-NN library: `make conformance`.

The real `ttnn` runs host-side in its own venv (see real_side.py); harness.py runs it and gives the emulator's
answers; the comparisons are the tests in tests/real_ttnn; coverage.py writes COVERAGE.md.
"""
