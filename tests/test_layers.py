"""The architecture's one rule: imports point down (tools -> compiler/device -> lowering -> runtime -> sim)."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "torch_ttnn"
# What each layer may import from torch_ttnn (besides itself).
ALLOWED = {
    "sim": set(),
    "runtime": {"sim"},
    "lowering": {"runtime", "sim"},
    "compiler": {"lowering", "runtime", "sim"},
    "device": {"lowering", "runtime", "sim"},
    "zoo": {"compiler", "device", "lowering", "runtime", "sim"},
    "bench": {"zoo", "compiler", "device", "lowering", "runtime", "sim"},
    "cli": {"zoo", "bench", "compiler", "device", "lowering", "runtime", "sim"},
    "cpp_extension": {"device"},
}


def _imports(path: pathlib.Path, layer: str):
    tree = ast.parse(path.read_text())
    pkg = path.relative_to(ROOT.parent).with_suffix("").parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                names = [".".join(base + ((node.module,) if node.module else ()))]
                if not node.module:
                    names = [".".join(base + (a.name,)) for a in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for n in names:
            parts = n.split(".")
            if parts[0] == "torch_ttnn" and len(parts) > 1 and parts[1] in ALLOWED and parts[1] != layer:
                yield node.lineno, parts[1]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_down(layer):
    bad = [f"{p.relative_to(ROOT.parent)}:{line} imports torch_ttnn.{dep}"
           for p in sorted((ROOT / layer).rglob("*.py")) for line, dep in _imports(p, layer)
           if dep not in ALLOWED[layer]]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_only_runtime_imports_the_real_ttnn():
    bad = []
    for p in ROOT.rglob("*.py"):
        if p.parent.name in ("runtime", "cli", "conformance"):
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and not node.level else []
            bad += [f"{p.relative_to(ROOT.parent)}:{node.lineno}" for m in mods if m and m.split(".")[0] == "ttnn"]
    assert not bad, "only torch_ttnn.runtime may import the real ttnn: " + ", ".join(bad)
