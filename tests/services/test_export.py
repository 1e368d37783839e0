"""CSV export: formula cells neutralised, numbers kept, all-or-nothing files."""

from __future__ import annotations

import csv

import pytest

from services.export import ExportError, neutralise, write_csv


def test_text_that_a_spreadsheet_would_run_is_neutralised_and_numbers_are_not(tmp_path):
    path = tmp_path / "out.csv"
    rows = [
        ['=HYPERLINK("http://x","click")', -0.05, "+1 555", "@SUM(A1)", "-2 pts", 3, None],
        ["Zoë Müller", 0.25, "\tTab", "plain", "a, b", True, float("nan")],
    ]
    assert write_csv(path, ["name", "trend", "phone", "at", "text", "n", "none"], rows) == 2
    with path.open(encoding="utf-8-sig", newline="") as f:
        got = list(csv.reader(f))
    assert got[1] == ["'=HYPERLINK(\"http://x\",\"click\")", "-0.05", "'+1 555", "'@SUM(A1)",
                      "'-2 pts", "3", ""]  # fmt: skip
    assert got[2] == ["Zoë Müller", "0.25", "'\tTab", "plain", "a, b", "yes", ""]
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with a BOM
    assert neutralise(["=a", "b"]) == "'=a, b"


def test_a_failed_export_leaves_no_file_and_says_why(tmp_path):
    path = tmp_path / "out.csv"
    with pytest.raises(ValueError, match="row 2 has 1 cells for 2 columns"):
        write_csv(path, ["a", "b"], [[1, 2], [3]])
    assert not path.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError, match="does not exist"):
        write_csv(tmp_path / "missing" / "out.csv", ["a"], [[1]])
    with pytest.raises(ValueError, match="at least one column"):
        write_csv(path, [], [])
