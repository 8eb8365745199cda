"""docs/synthea.md's results table says what tests/synthea asserts: same patients, same topics.

Runs without ../shared (it compares the document with the test's own table, not with the data),
so a stale document fails in every clone.
"""

from __future__ import annotations

from pathlib import Path

from tests.synthea.test_synthea_patients import DRUGS, EXPECTED

DOC = Path(__file__).resolve().parents[2] / "docs" / "synthea.md"
COLUMNS = 9  # file, sex/age, deceased, key data, decision, patient-view, select, sign, why


def _topics(cell: str) -> tuple[str, ...]:
    """'-' is no card; otherwise comma-separated topic codes."""
    cell = cell.strip()
    return () if cell == "-" else tuple(t.strip() for t in cell.split(","))


def _per_drug(cell: str) -> dict[str, tuple[str, ...]]:
    """'romosozumab-not-indicated / -' -> topics per drug, in DRUGS order."""
    parts = cell.split("/")
    assert len(parts) == len(DRUGS), cell
    return {drug: _topics(part) for drug, part in zip(DRUGS, parts, strict=True)}


def _table_rows() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        assert len(cells) == COLUMNS, line[:80]
        rows[cells[0].strip("`")] = cells
    return rows


def test_doc_table_lists_the_tested_patients() -> None:
    assert sorted(_table_rows()) == sorted(EXPECTED)


def test_doc_table_topics_equal_the_tested_topics() -> None:
    for name, cells in _table_rows().items():
        spec = EXPECTED[name]
        assert _topics(cells[5]) == spec.patient_view, f"{name}: patient-view"
        assert _per_drug(cells[6]) == dict(spec.select), f"{name}: order-select"
        assert _per_drug(cells[7]) == dict(spec.sign), f"{name}: order-sign"
        assert (cells[2] == "no") == (spec.deceased is None), f"{name}: deceased"
        if spec.deceased is not None:
            assert cells[2] == spec.deceased, f"{name}: date of death"
