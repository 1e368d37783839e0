"""Default column widths never clip a column's title."""

from __future__ import annotations

from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QTableView

from ui.widgets import default_column_widths


def test_a_narrow_guess_still_fits_the_title(qtbot):
    model = QStandardItemModel(3, 2)
    model.setHorizontalHeaderLabels(["Consistency of the main tutor", "Id"])
    table = QTableView()
    qtbot.addWidget(table)
    table.setModel(model)
    default_column_widths(table, (3, 20))
    header = table.horizontalHeader()
    title = header.fontMetrics().horizontalAdvance("Consistency of the main tutor")
    assert header.sectionSize(0) >= title
    # A generous guess for the data is kept when it is wider than the title.
    unit = table.fontMetrics().horizontalAdvance("abcdefghijklmnopqrstuvwxyz0123456789") / 36
    assert header.sectionSize(1) >= int(unit * 20)
