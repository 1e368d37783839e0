"""The local interventions table, read-only for now (issue 5 brings the workflow).

Overdue first, then by due time; SLA state (overdue / due soon / on track / done) and
the sync state of each row (pending write-back, conflict) are roles the view colours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class PreparedRow:
    """A row with its display texts and sort keys computed once, off the GUI thread:
    the proxy asks for sort keys n·log n times, and each ask must be a lookup."""

    row: Any
    sla: str
    display: tuple[str, ...]
    sort: tuple[Any, ...]
    due_tip: str


def prepare_rows(rows: list[Any], now: datetime) -> list[PreparedRow]:
    from services.metrics import sla_state

    out = []
    for r in rows:
        sla = sla_state(r.due_at, r.status, now)
        sync = "conflict" if r.conflict else ("pending" if r.pending else "synced")
        due = r.due_at.timestamp() if r.due_at else 9e10
        # Open work soonest-due first; finished work newest first. Scalars only: the
        # proxy compares them in C++ (a tuple would not sort).
        within = 5e10 - due if sla == "done" else due
        local_due = r.due_at.astimezone() if r.due_at else None
        if sla == "done" or r.due_at is None:
            due_text = local_due.strftime("%Y-%m-%d %H:%M") if local_due else "–"
        else:
            due_text = countdown(r.due_at, now)
        out.append(
            PreparedRow(
                row=r,
                sla=sla,
                display=(
                    SLA_TEXT[sla],
                    due_text,
                    r.tutor_name,
                    r.intervention_type.replace("_", " "),
                    r.status.replace("_", " "),
                    "–" if r.priority is None else str(r.priority),
                    {"conflict": "Conflict", "pending": "Pending upload", "synced": "Synced"}[sync],
                    r.reason,
                ),
                sort=(
                    SLA_ORDER[sla] * 1e11 + within,
                    due,
                    r.tutor_name,
                    r.intervention_type,
                    r.status,
                    r.priority if r.priority is not None else -1,
                    sync,
                    r.reason,
                ),
                due_tip=local_due.strftime("Due %Y-%m-%d %H:%M %Z") if local_due else "",
            )
        )
    return out


class InterventionsModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[PreparedRow] = []
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
        from services.metrics import sla_state

        return sla_state(row.due_at, row.status, self._now)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        p = self._rows[index.row()]
        col = index.column()
        if role == SORT_ROLE:
            return p.sort[col]
        if role == Qt.ItemDataRole.DisplayRole:
            return p.display[col]
        if role == SLA_ROLE:
            return p.sla
        if role == LOCAL_ID_ROLE:
            return p.row.local_id
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 1:
                return p.due_tip or None
            if col == 7:
                return p.row.reason
        return None

    def set_rows(self, rows: list[Any], now: datetime | None = None) -> None:
        """``rows``: PreparedRow (from a worker) or plain rows (prepared here)."""
        self._now = now or datetime.now(UTC)
        prepared = [r if isinstance(r, PreparedRow) else None for r in rows]
        if rows and prepared[0] is None:
            prepared = prepare_rows(rows, self._now)
        self.beginResetModel()
        self._rows = prepared  # type: ignore[assignment]
        self.endResetModel()

    def tick(self, now: datetime | None = None) -> None:
        """Countdowns move: recompute the SLA and due columns, repaint only those."""
        self._now = now or datetime.now(UTC)
        if self._rows:
            self._rows = prepare_rows([p.row for p in self._rows], self._now)
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 1))

    def rows(self) -> list[Any]:
        return [p.row for p in self._rows]


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
        load = self._load

        def work(_state: Any) -> tuple[list[PreparedRow], datetime]:
            now = datetime.now(UTC)
            return prepare_rows(load(), now), now

        self.runner.submit(
            "interventions",
            work,
            title="Interventions",
            on_success=self._on_loaded,
            on_failure=lambda exc, _t: self.sig_error.emit(str(exc)),
            record=False,
            coalesce=True,
        )

    def _on_loaded(self, result: tuple[list[PreparedRow], datetime]) -> None:
        prepared, now = result
        self.model.set_rows(prepared, now)
        self._loaded_once = True
        self.sig_loaded.emit(len(prepared))
        overdue = [p.row for p in prepared if p.sla == "overdue"]
        if overdue:
            self.sig_overdue.emit(overdue)

    @property
    def loaded(self) -> bool:
        return self._loaded_once

    def set_filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
