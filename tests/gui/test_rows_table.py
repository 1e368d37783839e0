"""The shared read-only rows model: header texts and tips, right-aligned numbers, the
subclass's cells, and a refresh with the same rows that keeps the selection."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from viewmodels.rows_table import RowsTableModel


class Pairs(RowsTableModel):
    columns = ("Name", "Count")
    column_tips = (None, "How many")
    right_aligned = frozenset({1})

    def _data(self, row, col, role, position):
        if role == Qt.ItemDataRole.DisplayRole:
            return (row[0], f"{row[1]:,}")[col]
        if role == Qt.ItemDataRole.UserRole:
            return position
        return None


def test_header_cells_and_alignment(qtbot):
    m = Pairs()
    m.set_rows([("a", 1200), ("b", 3)])
    assert (m.rowCount(), m.columnCount()) == (2, 2)
    h = Qt.Orientation.Horizontal
    assert m.headerData(1, h) == "Count" and m.headerData(1, h, Qt.ItemDataRole.ToolTipRole)
    assert m.headerData(0, h, Qt.ItemDataRole.ToolTipRole) is None
    assert m.headerData(0, Qt.Orientation.Vertical) is None
    assert m.index(0, 1).data() == "1,200" and m.index(1, 0).data() == "b"
    assert m.index(1, 0).data(Qt.ItemDataRole.UserRole) == 1
    align = Qt.ItemDataRole.TextAlignmentRole
    assert m.index(0, 1).data(align) and m.index(0, 0).data(align) is None
    assert m.row(1) == ("b", 3) and m.rows() == [("a", 1200), ("b", 3)]


def test_the_same_rows_again_reset_only_when_asked_to_keep_nothing(qtbot):
    for skip, resets in ((False, 2), (True, 1)):
        m = Pairs()
        m.skip_same_rows = skip
        sel = QItemSelectionModel(m)
        seen: list[int] = []
        m.modelReset.connect(lambda seen=seen: seen.append(1))
        m.set_rows([("a", 1), ("b", 2)])
        sel.select(m.index(1, 0), QItemSelectionModel.SelectionFlag.Select)
        m.set_rows([("a", 1), ("b", 2)])
        assert len(seen) == resets
        assert sel.isSelected(m.index(1, 0)) == skip
        m.set_rows([("c", 3)])  # new rows always reset
        assert len(seen) == resets + 1 and m.rowCount() == 1


def test_columns_can_be_given_per_instance(qtbot):
    m = Pairs(columns=("Subject", "Sessions"))
    assert m.headerData(0, Qt.Orientation.Horizontal) == "Subject"
    assert Pairs.columns == ("Name", "Count")
