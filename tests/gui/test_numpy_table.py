"""The shared numpy table model (viewmodels.numpy_table), tested without a view."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from viewmodels.numpy_table import NumpyTableModel, key_columns, sort_order, text_rank
from viewmodels.tasks import SORT_ROLE

ASC, DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder
ROWS = [  # name, score, group
    ("delta", 2.0, "b"),
    ("Alpha", 5.0, "a"),
    ("charlie", 2.0, "a"),
    ("bravo", 9.0, "b"),
    ("echo", 2.0, "b"),
]


class People(NumpyTableModel):
    columns = ("Name", "Score", "Group")
    column_tips = ("", "Points", "")
    right_aligned = frozenset({1})

    def __init__(self, ties: np.ndarray | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.group = ""
        keys = key_columns([(n.lower(), s, g) for n, s, g in ROWS], 3)
        self._load(len(ROWS), keys, ties)

    def _display(self, i: int, column: int) -> Any:
        return str(ROWS[i][column])

    def _role(self, i: int, column: int, role: int) -> Any:
        return i if role == Qt.ItemDataRole.UserRole else None

    def _filter_mask(self) -> np.ndarray:
        if not self.group:
            return np.ones(len(ROWS), bool)
        return np.array([g == self.group for _, _, g in ROWS])

    def set_group(self, group: str) -> None:
        self.group = group
        self._refilter()


def names(m: NumpyTableModel) -> list[str]:
    return [m.index(r, 0).data() for r in range(m.rowCount())]


def test_text_rank_and_key_columns() -> None:
    assert text_rank(["b", None, "a", "b"]).tolist() == [2, 0, 1, 2]  # None sorts first
    assert text_rank([]).tolist() == []
    keys = key_columns([("x", 1, 2.5), ("a", 3, -1.0)], 3)
    assert keys[0].tolist() == [1, 0] and keys[1].dtype == np.float64
    assert keys[2].tolist() == [2.5, -1.0]


def test_unsorted_rows_keep_their_order_until_a_sort(qtbot) -> None:  # type: ignore[no-untyped-def]
    m = People()
    assert names(m) == ["delta", "Alpha", "charlie", "bravo", "echo"]
    assert m.sort_state is None and m.row_total == 5


def test_sort_is_stable_both_ways(qtbot) -> None:  # type: ignore[no-untyped-def]
    m = People()
    m.sort(1, ASC)  # three rows score 2.0: delta, charlie, echo in load order
    assert names(m) == ["delta", "charlie", "echo", "Alpha", "bravo"]
    m.sort(1, DESC)  # ties keep load order descending too (not reversed)
    assert names(m) == ["bravo", "Alpha", "delta", "charlie", "echo"]
    m.sort(0, ASC)
    assert names(m) == ["Alpha", "bravo", "charlie", "delta", "echo"]
    m.sort(99, ASC)  # no such column: nothing changes
    assert m.sort_state == (0, ASC)


def test_ties_follow_the_tie_order_given(qtbot) -> None:  # type: ignore[no-untyped-def]
    m = People(ties=np.array([4, 3, 2, 1, 0]), sort=(1, ASC))
    assert names(m)[:3] == ["echo", "charlie", "delta"]
    m.sort(1, DESC)
    assert names(m)[2:] == ["echo", "charlie", "delta"]


def test_filter_mask_and_row_mapping(qtbot) -> None:  # type: ignore[no-untyped-def]
    m = People(sort=(1, DESC))
    m.set_group("b")
    assert names(m) == ["bravo", "delta", "echo"]
    assert [m.source_row(r) for r in range(3)] == [3, 0, 4]
    assert m.view.tolist() == [3, 0, 4]
    assert m.view_of(np.array([0, 1, 4])).tolist() == [1, -1, 2]  # Alpha is hidden
    m.set_group("")
    assert m.rowCount() == 5


def test_roles(qtbot) -> None:  # type: ignore[no-untyped-def]
    m = People(sort=(0, ASC))
    top = m.index(0, 1)
    assert top.data() == "5.0"
    assert top.data(SORT_ROLE) == 5.0 and isinstance(top.data(SORT_ROLE), float)
    assert m.index(0, 0).data(SORT_ROLE) == 0  # "alpha" ranks first
    assert top.data(Qt.ItemDataRole.TextAlignmentRole) == int(
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    )
    assert m.index(0, 0).data(Qt.ItemDataRole.TextAlignmentRole) is None
    assert m.index(0, 0).data(Qt.ItemDataRole.UserRole) == 1  # the subclass's role
    h = Qt.Orientation.Horizontal
    assert m.headerData(1, h) == "Score" and m.headerData(1, h, Qt.ItemDataRole.ToolTipRole)
    assert m.headerData(0, h, Qt.ItemDataRole.ToolTipRole) is None
    assert m.index(9, 0).data() is None


def test_a_sort_keeps_the_selection_on_the_same_rows(qtbot) -> None:  # type: ignore[no-untyped-def]
    m = People(sort=(0, ASC))
    sel = QItemSelectionModel(m)
    sel.select(m.index(2, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)  # charlie
    resets: list[int] = []
    m.modelReset.connect(lambda: resets.append(1))
    m.sort(1, DESC)
    [picked] = sel.selectedIndexes()
    assert picked.data() == "charlie" and resets == []


def test_sort_order_of_unsigned_and_bool_keys() -> None:
    key = np.array([1, 0, 2], dtype=np.uint8)
    assert sort_order(key, descending=True).tolist() == [2, 0, 1]
    assert sort_order(np.array([True, False, True]), descending=True).tolist() == [0, 2, 1]


def test_bad_shapes_are_refused(qtbot) -> None:  # type: ignore[no-untyped-def]
    m = People()
    with pytest.raises(ValueError, match="key arrays"):
        m._load(2, [np.zeros(2)])
    m.group = "b"
    m._filter_mask = lambda: np.ones(3, bool)  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="filter mask"):
        m._refilter()
    assert m.rowCount() == 5  # the failed filter left the table as it was
