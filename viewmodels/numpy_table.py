"""A table model over prepared rows that sorts and filters itself with numpy.

The work a ``QSortFilterProxyModel`` would do on the GUI thread (a Python ``lessThan``
per comparison, n·log n calls into Python per sort, ``filterAcceptsRow`` per row) is
done here on whole columns, prepared once on a worker:

- every column has a numeric **sort key** array (text columns as their rank among the
  column's distinct values, see :func:`key_columns`); a sort is one stable
  ``argsort``, descending on the negated key so ties keep their order either way;
- ties keep a **tie order** the subclass chooses (default: the order the rows came in);
- a filter is one boolean **mask** (:meth:`NumpyTableModel._filter_mask`);
- the model keeps the sorted permutation of all rows and the **view**, the sorted rows
  the mask lets through; ``data`` reads row ``r`` of the table as source row
  ``view[r]``.

A sort keeps the selection on the same rows (persistent indexes are moved: a layout
change, not a reset); a new filter or new data is a reset. Subclasses say what a cell
shows (:meth:`NumpyTableModel._display`) and answer their own roles
(:meth:`NumpyTableModel._role`); :data:`~viewmodels.tasks.SORT_ROLE` returns the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt

from viewmodels.rows_table import RIGHT, ColumnsTableModel
from viewmodels.tasks import SORT_ROLE

Index = QModelIndex | QPersistentModelIndex


def text_rank(values: Sequence[Any]) -> np.ndarray:
    """Sort key of a text column: each value's rank among the column's distinct values
    (Python's string order; None sorts first, as ""). Callers lower-case first when
    the order should ignore case."""
    if not len(values):
        return np.zeros(0, np.int64)
    arr = np.array(["" if v is None else str(v) for v in values], dtype=object)
    _, inverse = np.unique(arr.astype(str), return_inverse=True)
    return inverse.astype(np.int64).reshape(-1)


def key_columns(keys: Sequence[Sequence[Any]], width: int) -> list[np.ndarray]:
    """Per-row key tuples (``keys[row][column]``) as one array per column: numbers as
    float64, anything else (text) as :func:`text_rank`. Run it on the worker."""
    out: list[np.ndarray] = []
    for col in range(width):
        values = [k[col] for k in keys]
        if all(isinstance(v, Real) for v in values):
            out.append(np.array(values, dtype=np.float64))
        else:
            out.append(text_rank(values))
    return out


def sort_order(key: np.ndarray, descending: bool, ties: np.ndarray | None = None) -> np.ndarray:
    """Positions of the rows sorted by ``key``; equal keys keep the order of ``ties``
    (a permutation; default the rows' own order), ascending or descending alike."""
    base = np.arange(len(key), dtype=np.int64) if ties is None else np.asarray(ties, np.int64)
    k = np.asarray(key)[base]
    if k.dtype.kind in "ub":  # negating an unsigned or bool key would wrap
        k = k.astype(np.int64)
    return base[np.argsort(-k if descending else k, kind="stable")]


class NumpyTableModel(ColumnsTableModel):
    """The shared machinery (module doc); subclasses set :attr:`columns` and implement
    :meth:`_display`, and usually :meth:`_filter_mask` and :meth:`_role`."""

    def __init__(
        self, parent: QObject | None = None, *, sort: tuple[int, Qt.SortOrder] | None = None
    ) -> None:
        super().__init__(parent)
        self._keys: Sequence[np.ndarray] = [np.zeros(0) for _ in self.columns]
        self._ties: np.ndarray | None = None
        self._n = 0
        # None: no sort yet, the rows keep the tie order (the order they came in).
        self._sort: tuple[int, Qt.SortOrder] | None = sort
        self._order = np.zeros(0, np.int64)  # every row, sorted
        self._mask = np.zeros(0, bool)  # which rows the filter lets through
        self._view = np.zeros(0, np.int64)  # the visible rows, sorted

    # ------------------------------------------------------------------ Qt

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._view)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._view):
            return None
        i, col = int(self._view[index.row()]), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(i, col)
        if role == SORT_ROLE:
            return self._keys[col][i].item()
        if role == Qt.ItemDataRole.TextAlignmentRole and col in self.right_aligned:
            return RIGHT
        return self._role(i, col, role)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns):
            return
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        old_view = self._view
        self._order = self._sorted()
        self._view = self._order[self._mask[self._order]]
        self._move_persistent(old_view)
        self.layoutChanged.emit()

    # ------------------------------------------------------------------ subclass hooks

    def _display(self, i: int, column: int) -> Any:
        """What source row ``i`` shows in ``column``."""
        raise NotImplementedError

    def _role(self, i: int, column: int, role: int) -> Any:
        """Any other role of source row ``i`` (ids, tiers, tooltips)."""
        return None

    def _filter_mask(self) -> np.ndarray:
        """Which source rows the current filter lets through (all by default)."""
        return np.ones(self._n, bool)

    # ------------------------------------------------------------------ for subclasses

    def _load(self, n: int, keys: Sequence[np.ndarray], ties: np.ndarray | None = None) -> None:
        """New rows: ``n`` of them, one sort key array per column, an optional tie
        order. Sorts and filters them (a reset)."""
        if len(keys) != len(self.columns) or any(len(k) != n for k in keys):
            raise ValueError(f"need {len(self.columns)} key arrays of {n} values")
        # Everything that can fail happens before the reset begins.
        mask = self._checked_mask(n)
        self.beginResetModel()
        self._n, self._keys, self._ties = n, keys, ties
        self._order = self._sorted()
        self._mask = mask
        self._view = self._order[self._mask[self._order]]
        self.endResetModel()

    def _refilter(self) -> None:
        """The filter changed: recompute the mask (a reset)."""
        mask = self._checked_mask(self._n)
        self.beginResetModel()
        self._mask = mask
        self._view = self._order[self._mask[self._order]]
        self.endResetModel()

    def source_row(self, row: int) -> int:
        """The source row shown at table row ``row``."""
        return int(self._view[row])

    def view_of(self, source_rows: np.ndarray) -> np.ndarray:
        """Table rows of ``source_rows`` among the visible ones (-1 where hidden)."""
        pos = np.full(self._n, -1, np.int64)
        pos[self._view] = np.arange(len(self._view), dtype=np.int64)
        return pos[np.asarray(source_rows, np.int64)]

    @property
    def view(self) -> np.ndarray:
        """The visible source rows in table order (a copy: later changes leave it)."""
        return self._view.copy()

    @property
    def sort_state(self) -> tuple[int, Qt.SortOrder] | None:
        return self._sort

    @property
    def row_total(self) -> int:
        """All rows, shown or not."""
        return self._n

    # ------------------------------------------------------------------ internals

    def _sorted(self) -> np.ndarray:
        if self._sort is None or not self._n:
            if self._ties is not None:
                return np.asarray(self._ties, np.int64)
            return np.arange(self._n, dtype=np.int64)
        column, order = self._sort
        return sort_order(self._keys[column], order == Qt.SortOrder.DescendingOrder, self._ties)

    def _checked_mask(self, n: int) -> np.ndarray:
        mask = np.asarray(self._filter_mask(), bool)
        if mask.shape != (n,):
            raise ValueError(f"filter mask of shape {mask.shape} for {n} rows")
        return mask

    def _move_persistent(self, old_view: np.ndarray) -> None:
        """After a sort, keep persistent indexes (the selection) on the same rows."""
        old = self.persistentIndexList()
        if not old:
            return
        where = np.full(self._n, -1, np.int64)
        where[self._view] = np.arange(len(self._view), dtype=np.int64)
        new = []
        for idx in old:
            r = idx.row()
            row = int(where[old_view[r]]) if 0 <= r < len(old_view) else -1
            new.append(self.index(row, idx.column()) if row >= 0 else QModelIndex())
        self.changePersistentIndexList(old, new)
