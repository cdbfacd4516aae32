"""The mesh matrix bench (torch_ttnn/bench/mesh_matrix.py): one real cell, the n/a and failed cells, and the
report of a partial matrix. The whole matrix is the bench's job (python -m torch_ttnn.bench.mesh_matrix), not
the tests'."""
import json

import pytest

from torch_ttnn.bench import mesh_matrix as mm

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_one_cell_runs_and_records_its_figures():
    """Tiny BERT, tensor parallel on an n300: PCC against CPU, a device time per chip, the all_reduces' time."""
    c = mm.run_cell(mm.Cell("bert", "tiny", "1x2", "n300", "tp"), {})
    assert c.status == "pass", c.reason
    assert c.pcc >= mm.PCC_MIN and c.batch == 1 and c.layers == c.of_layers == 2
    assert len(c.per_chip_ms) == 2 and c.device_ms == max(c.per_chip_ms) > 0
    assert c.collective_ms > 0 and c.cpu_ops == 0
    tp = c.tensor_parallel
    assert tp["chips"] == 2 and tp["column_parallel"] > 0 and tp["row_parallel"] > 0 and tp["all_reduces"] > 0
    assert c.date and c.commit


def test_dp_tp_on_a_one_row_mesh_is_not_a_cell():
    c = mm.run_cell(mm.Cell("llama", "tiny", "1x2", "n300", "dp+tp"), {})
    assert c.status == "n/a" and "one chip along its row axis" in c.reason and c.pcc is None


def test_a_failing_cell_records_why():
    """A cell whose mesh the preset cannot have fails with the emulator's reason, and the run goes on."""
    c = mm.run_cell(mm.Cell("bert", "tiny", "2x4", "n300", "dp"), {})
    assert c.status == "failed" and "does not fit the emulated n300" in c.reason and c.pcc is None


def test_report_of_a_partial_matrix(tmp_path):
    """Cells merged from two runs keep their own dates; every cell of the matrix is in the table, the ones no
    run measured as 'not run' with the notes; the README's mesh cells come from the full-config passes only."""
    def cell(model, size, mesh, mode, status="pass", pcc=0.9995, date="2026-01-01T00:00:00"):
        return {**mm.asdict(mm.Cell(model, size, mesh, mm.MESHES[mesh], mode, layers=2, of_layers=16,
                                    status=status, pcc=pcc)), "date": date, "commit": "abc1234"}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"seq": 32, "commands": ["run a"], "cells": [cell("llama", "full", "1x2", "tp")]}))
    b.write_text(json.dumps({"seq": 32, "commands": ["run b"], "cells": [
        cell("llama", "full", "2x4", "dp+tp", date="2026-01-02T00:00:00"),
        cell("llama", "full", "8x4", "tp", status="low-pcc", pcc=0.5)]}))
    record = mm.merge([str(a), str(b)], tmp_path / "out", ["8x4 dp did not fit"])
    assert [c["date"] for c in record["cells"]] == ["2026-01-01T00:00:00", "2026-01-02T00:00:00",
                                                   "2026-01-01T00:00:00"]
    md = (tmp_path / "out" / "mesh-matrix.md").read_text()
    rows = [ln for ln in md.splitlines() if ln.startswith("| bert") or ln.startswith("| llama")]
    assert len(rows) == len(mm.MODELS) * len(mm.SIZES) * len(mm.MESHES) * len(mm.MODES)
    assert sum("not run" in r for r in rows) == len(rows) - 3
    assert "2 of 3 cells run pass" in md and "`run a`, `run b`" in md and "- 8x4 dp did not fit" in md
    assert mm.mesh_cells(record) == {"llama": "2x4 dp+tp (0.9995, 2 of 16 layers)"}
