"""The local interventions table, read-only for now (issue 5 brings the workflow).

Overdue first, then by due time; SLA state (overdue / due soon / on track / done) and
the sync state of each row (pending write-back, conflict) are roles the view colours.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)

from services.metrics import sla_state
from viewmodels.tasks import SORT_ROLE, TaskRunner

Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("SLA", "Due", "Tutor", "Type", "Status", "Priority", "Sync", "Reason")
SLA_ROLE = Qt.ItemDataRole.UserRole + 20
LOCAL_ID_ROLE = Qt.ItemDataRole.UserRole + 21
SLA_ORDER = {"overdue": 0, "due_soon": 1, "on_track": 2, "none": 3, "done": 4}
SLA_TEXT = {
    "overdue": "Overdue",
    "due_soon": "Due soon",
    "on_track": "On track",
    "none": "No SLA",
    "done": "Done",
}


def countdown(due: datetime | None, now: datetime) -> str:
    if due is None:
        return "–"
    seconds = (due - now).total_seconds()
    sign = "" if seconds >= 0 else "-"
    s = abs(seconds)
    if s < 3600:
        text = f"{s / 60:.0f} min"
    elif s < 48 * 3600:
        text = f"{s // 3600:.0f} h {s % 3600 // 60:02.0f} min"
    else:
        text = f"{s / 86400:.0f} days"
    return f"in {text}" if not sign else f"{text} late"


class InterventionsModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Any] = []
        self._now = datetime.now(UTC)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def sla(self, row: Any) -> str:
        return sla_state(row.due_at, row.status, self._now)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        col = index.column()
        sla = self.sla(r)
        if role == SLA_ROLE:
            return sla
        if role == LOCAL_ID_ROLE:
            return r.local_id
        sync = "conflict" if r.conflict else ("pending" if r.pending else "synced")
        if role == SORT_ROLE:
            # Scalars only: the proxy compares them in C++ (a tuple would not sort).
            due = r.due_at.timestamp() if r.due_at else 9e10
            # Open work soonest-due first; finished work newest first.
            within = 5e10 - due if sla == "done" else due
            return (
                SLA_ORDER[sla] * 1e11 + within,
                due,
                r.tutor_name,
                r.intervention_type,
                r.status,
                r.priority if r.priority is not None else -1,
                sync,
                r.reason,
            )[col]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return SLA_TEXT[sla]
            if col == 1:
                if sla == "done" or r.due_at is None:
                    return r.due_at.astimezone().strftime("%Y-%m-%d %H:%M") if r.due_at else "–"
                return countdown(r.due_at, self._now)
            if col == 2:
                return r.tutor_name
            if col == 3:
                return r.intervention_type.replace("_", " ")
            if col == 4:
                return r.status.replace("_", " ")
            if col == 5:
                return "–" if r.priority is None else str(r.priority)
            if col == 6:
                return {"conflict": "Conflict", "pending": "Pending upload", "synced": "Synced"}[
                    sync
                ]
            return r.reason
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 1 and r.due_at:
                return r.due_at.astimezone().strftime("Due %Y-%m-%d %H:%M %Z")
            if col == 7:
                return r.reason
        return None

    def set_rows(self, rows: list[Any], now: datetime | None = None) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._now = now or datetime.now(UTC)
        self.endResetModel()

    def tick(self, now: datetime | None = None) -> None:
        """Countdowns move: repaint SLA and due columns only."""
        self._now = now or datetime.now(UTC)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 1))

    def rows(self) -> list[Any]:
        return list(self._rows)


class InterventionsProxy(QSortFilterProxyModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)


class InterventionsViewModel(QObject):
    sig_loaded = Signal(int)
    """Number of interventions after a load."""
    sig_error = Signal(str)
    sig_overdue = Signal(object)
    """Rows that became overdue since the last look (for SLA-breach notifications)."""

    def __init__(
        self,
        runner: TaskRunner,
        load: Callable[[], list[Any]],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._load = load
        self.model = InterventionsModel(self)
        self.proxy = InterventionsProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.sort(0, Qt.SortOrder.AscendingOrder)
        self._loaded_once = False

    @Slot()
    def load(self) -> None:
        self.runner.submit(
            "interventions",
            lambda _s: self._load(),
            title="Interventions",
            on_success=self._on_loaded,
            on_failure=lambda exc, _t: self.sig_error.emit(str(exc)),
            record=False,
            coalesce=True,
        )

    def _on_loaded(self, rows: list[Any]) -> None:
        now = datetime.now(UTC)
        self.model.set_rows(rows, now)
        self._loaded_once = True
        self.sig_loaded.emit(len(rows))
        overdue = [r for r in rows if sla_state(r.due_at, r.status, now) == "overdue"]
        if overdue:
            self.sig_overdue.emit(overdue)

    @property
    def loaded(self) -> bool:
        return self._loaded_once

    def set_filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
