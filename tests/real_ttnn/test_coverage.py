"""Writes conformance/COVERAGE.md and the README's count from the same run (they are committed)."""
from conformance import coverage


def test_coverage_report(real):
    k, m = coverage.write(real)
    assert 0 < k <= m and m > 400, f"implausible coverage count {k} of {m}: is the real surface complete?"
    text = (coverage.harness.ROOT / "conformance" / "COVERAGE.md").read_text()
    assert f"**{k} of {m}**" in text
