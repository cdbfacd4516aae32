"""The real ttnn version is pinned once (conformance/requirements-ttnn.txt); what repeats it must agree."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pin():
    m = re.search(r"^ttnn==([\w.]+)\s*$", (ROOT / "conformance" / "requirements-ttnn.txt").read_text(), re.M)
    assert m, "conformance/requirements-ttnn.txt must pin ttnn==X.Y.Z"
    return m.group(1)


def test_pyproject_extras_match_the_pin():
    pins = re.findall(r'"ttnn==([\w.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pins and set(pins) == {_pin()}, f"pyproject pins ttnn {pins}, conformance pins {_pin()}"


def test_emulator_version_matches_the_pin(ttnn):
    assert ttnn.__version__.split("+")[0] == _pin()


def test_real_library_is_the_pinned_one(real):
    assert real["meta"]["version"] == _pin()
