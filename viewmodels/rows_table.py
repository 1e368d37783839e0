"""A small read-only table over a list of rows (a few thousand at most): the header, the
counts, right-aligned number columns and the reset on new rows, written once.

Large tables that sort and filter themselves use :mod:`viewmodels.numpy_table`; these
are the analytics, profile and System tables that a ``QSortFilterProxyModel`` (sorting
on :data:`~viewmodels.tasks.SORT_ROLE`) or nothing at all sits on. A subclass sets
:attr:`ColumnsTableModel.columns` (or passes them) and answers :meth:`RowsTableModel._data`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex

RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class ColumnsTableModel(QAbstractTableModel):
    """Named columns with header tooltips and right-aligned number columns: the part
    every table model here shares (:class:`RowsTableModel`,
    :class:`~viewmodels.numpy_table.NumpyTableModel`)."""

    columns: tuple[str, ...] = ()
    # Header tooltips per column (None or "" for none).
    column_tips: tuple[str | None, ...] = ()
    # Columns drawn right-aligned (numbers).
    right_aligned: frozenset[int] = frozenset()

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        if role == Qt.ItemDataRole.ToolTipRole and section < len(self.column_tips):
            return self.column_tips[section] or None
        return None


class RowsTableModel(ColumnsTableModel):
    # A periodic refresh (System's tables) hands the same rows again: keep the selection
    # and the scroll position instead of resetting.
    skip_same_rows = False

    def __init__(
        self, parent: QObject | None = None, *, columns: Sequence[str] | None = None
    ) -> None:
        super().__init__(parent)
        if columns is not None:
            self.columns = tuple(columns)
        self._rows: list[Any] = []

    # ------------------------------------------------------------------ Qt

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        col = index.column()
        if role == Qt.ItemDataRole.TextAlignmentRole and col in self.right_aligned:
            return RIGHT
        return self._data(self._rows[index.row()], col, role, index.row())

    # ------------------------------------------------------------------ subclass hook

    def _data(self, row: Any, col: int, role: int, position: int) -> Any:
        """What cell ``(position, col)`` of ``row`` says for ``role`` (None: nothing)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ rows

    def set_rows(self, rows: Sequence[Any]) -> None:
        """Replace the rows (a reset; none for the same rows with ``skip_same_rows``)."""
        rows = list(rows)
        if self.skip_same_rows and rows == self._rows:
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def row(self, i: int) -> Any:
        return self._rows[i]

    def rows(self) -> list[Any]:
        return list(self._rows)
