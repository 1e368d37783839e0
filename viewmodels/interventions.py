"""The Interventions queue: table model, filters, the selected one's detail, commands.

Overdue first, then by time left; SLA state (overdue / due soon / on track / paused /
done) and each row's sync state (pending write-back, conflict) are roles the view
colours. Every command runs on a worker (``TaskRunner``); the queue reloads after it and
the result or the refusal comes back as a signal (a refusal is the service's own message,
e.g. "status: cannot move from open to completed").
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

COLUMNS = ("SLA", "Due", "Tutor", "Type", "Status", "Priority", "Sync", "Assignee", "Reason")
SLA_ROLE = Qt.ItemDataRole.UserRole + 20
LOCAL_ID_ROLE = Qt.ItemDataRole.UserRole + 21
ROW_ROLE = Qt.ItemDataRole.UserRole + 22
SLA_ORDER = {"overdue": 0, "due_soon": 1, "on_track": 2, "paused": 3, "none": 4, "done": 5}
SLA_TEXT = {
    "overdue": "Overdue",
    "due_soon": "Due soon",
    "on_track": "On track",
    "paused": "Paused",
    "none": "No SLA",
    "done": "Done",
}
SYNC_TEXT = {
    "conflict": "Conflict",
    "rejected": "Rejected by API",
    "pending": "Pending upload",
    "synced": "Synced",
}
STATUSES = ("open", "in_progress", "completed", "cancelled")
# The moves a user can make from each state (the service refuses anything else too).
NEXT_STATUS = {"open": ("in_progress", "cancelled"), "in_progress": ("completed", "cancelled")}


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


def _sla_of(row: Any, now: datetime) -> tuple[str, datetime | None, Any]:
    """(state, due, time left) from the row's SLA clock when it has one (the queue's
    rows carry it), else from its due time alone."""
    clock = getattr(row, "clock", None)
    if clock is not None:
        state, remaining = clock.snapshot(now, row.status)
        return state, clock.due_at(now), remaining
    if hasattr(row, "sla_state"):
        return row.sla_state, row.due_at, None
    from services.metrics import sla_state

    return sla_state(row.due_at, row.status, now), row.due_at, None


@dataclass(frozen=True, slots=True)
class PreparedRow:
    """A row with its display texts and sort keys computed once, off the GUI thread:
    the proxy asks for sort keys n·log n times, and each ask must be a lookup."""

    row: Any
    sla: str
    display: tuple[str, ...]
    sort: tuple[Any, ...]
    due_tip: str
    due: datetime | None = None


def prepare_rows(rows: list[Any], now: datetime) -> list[PreparedRow]:
    out = []
    for r in rows:
        sla, due_at, remaining = _sla_of(r, now)
        sync = getattr(r, "sync_state", None) or (
            "conflict" if r.conflict else ("pending" if r.pending else "synced")
        )
        due = due_at.timestamp() if due_at else 9e10
        # Open work soonest-due first (by time left when the clock knows it); finished
        # work newest first. Scalars only: the proxy compares them in C++.
        if sla == "done":
            within = 5e10 - due
        elif remaining is not None:
            within = remaining.total_seconds()
        else:
            within = due - now.timestamp()
        local_due = due_at.astimezone() if due_at else None
        if sla == "paused" and remaining is not None:
            from services.sla import countdown_text

            due_text = countdown_text(remaining, sla)
        elif sla == "done" or due_at is None:
            due_text = local_due.strftime("%Y-%m-%d %H:%M") if local_due else "–"
        else:
            due_text = countdown(due_at, now)
        assignee = getattr(r, "assignee", None) or ""
        out.append(
            PreparedRow(
                row=r,
                sla=sla,
                display=(
                    SLA_TEXT.get(sla, sla),
                    due_text,
                    r.tutor_name,
                    r.intervention_type.replace("_", " "),
                    r.status.replace("_", " "),
                    "–" if r.priority is None else str(r.priority),
                    SYNC_TEXT[sync],
                    assignee,
                    r.reason,
                ),
                sort=(
                    SLA_ORDER.get(sla, 9) * 1e11 + within,
                    due,
                    r.tutor_name,
                    r.intervention_type,
                    r.status,
                    r.priority if r.priority is not None else -1,
                    sync,
                    assignee,
                    r.reason,
                ),
                due_tip=local_due.strftime("Due %Y-%m-%d %H:%M %Z") if local_due else "",
                due=due_at,
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
        return _sla_of(row, self._now)[0]

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
        if role == ROW_ROLE:
            return p.row
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 1:
                return p.due_tip or None
            if col == len(COLUMNS) - 1:
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

    def apply_tick(self, prepared: list[PreparedRow], now: datetime) -> None:
        """Countdowns recomputed on a worker: swap them in and repaint the SLA and due
        columns, keeping the rows (and the selection) when nothing else changed."""
        same = len(prepared) == len(self._rows) and all(
            a.row is b.row for a, b in zip(prepared, self._rows, strict=True)
        )
        if not same:
            self.set_rows(prepared, now)
            return
        self._now = now
        self._rows = prepared
        if prepared:
            self.dataChanged.emit(self.index(0, 0), self.index(len(prepared) - 1, 1))

    def rows(self) -> list[Any]:
        return [p.row for p in self._rows]

    def prepared(self) -> list[PreparedRow]:
        return list(self._rows)


class InterventionsProxy(QSortFilterProxyModel):
    """Text filter over every column, plus type / state / assignee / "mine"."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self._type: str | None = None
        self._status: str | None = None
        self._assignee: int | None = None
        self._mine: int | None = None

    def set_criteria(
        self,
        *,
        intervention_type: str | None = None,
        status: str | None = None,
        assigned_to_id: int | None = None,
        mine: int | None = None,
    ) -> None:
        self.beginFilterChange()
        self._type, self._status = intervention_type or None, status or None
        self._assignee, self._mine = assigned_to_id, mine
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        row = self.sourceModel().index(source_row, 0, source_parent).data(ROW_ROLE)
        if row is not None:
            if self._type and row.intervention_type != self._type:
                return False
            if self._status and row.status != self._status:
                return False
            assigned = getattr(row, "assigned_to_id", None)
            if self._assignee is not None and assigned != self._assignee:
                return False
            if self._mine is not None and assigned != self._mine:
                return False
        return super().filterAcceptsRow(source_row, source_parent)


class InterventionsViewModel(QObject):
    sig_loaded = Signal(int)
    """Number of interventions after a load."""
    sig_error = Signal(str)
    sig_overdue = Signal(object)
    """Rows that are overdue (for SLA-breach notifications)."""
    sig_detail = Signal(object)
    """The selected intervention: {"row": queue row, "history": [...]} or None."""
    sig_message = Signal(str)
    """A command went through (status bar text)."""
    sig_refused = Signal(str)
    """A command was refused or failed: the reason, for the user."""
    sig_created = Signal(int)
    """Local id of an intervention created here."""
    sig_conflict = Signal(object)
    """The selected intervention has a 409 conflict to settle (its queue row)."""

    def __init__(
        self,
        runner: TaskRunner,
        load: Callable[[], list[Any]],
        parent: QObject | None = None,
        service: Any = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._load = load
        self.service = service
        self.model = InterventionsModel(self)
        self.proxy = InterventionsProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.sort(0, Qt.SortOrder.AscendingOrder)
        self._loaded_once = False
        self._selected: int | None = None
        self._choices: dict[str, list[tuple[int, str]]] = {"tutors": [], "managers": []}
        from viewmodels.intervention_effects import EffectivenessViewModel

        self.effects = EffectivenessViewModel(runner, service, self)

    # ------------------------------------------------------------------ loading

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
        if not self._loaded_once or not self._choices["tutors"]:
            self._refresh_choices()
        self._loaded_once = True
        self.sig_loaded.emit(len(prepared))
        overdue = [p.row for p in prepared if p.sla == "overdue"]
        if overdue:
            self.sig_overdue.emit(overdue)
        if self._selected is not None:
            self.select(self._selected)

    @property
    def loaded(self) -> bool:
        return self._loaded_once

    @Slot()
    def tick(self) -> None:
        """Move the countdowns: texts recomputed off the GUI thread (thousands of clocks
        take a noticeable fraction of a second), applied in one step."""
        rows = self.model.rows()
        if not rows:
            return

        def work(_state: Any) -> tuple[list[PreparedRow], datetime]:
            now = datetime.now(UTC)
            return prepare_rows(rows, now), now

        self.runner.submit(
            "interventions-tick",
            work,
            on_success=lambda result: self.model.apply_tick(*result),
            on_failure=lambda exc, _t: self.sig_error.emit(str(exc)),
            record=False,
            coalesce=True,
        )

    # ------------------------------------------------------------------ filters

    def set_filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)

    def set_criteria(
        self,
        *,
        intervention_type: str | None = None,
        status: str | None = None,
        assigned_to_id: int | None = None,
        mine: bool = False,
    ) -> None:
        me = self.service.my_manager_id() if (mine and self.service is not None) else None
        if mine and me is None:
            self.sig_refused.emit(
                "Set “My manager id” in Settings → Interventions to see your interventions"
            )
        self.proxy.set_criteria(
            intervention_type=intervention_type,
            status=status,
            assigned_to_id=assigned_to_id,
            mine=me,
        )

    # ------------------------------------------------------------------ selection

    def row_for(self, local_id: int) -> Any:
        return next((r for r in self.model.rows() if r.local_id == local_id), None)

    @Slot(int)
    def select(self, local_id: int) -> None:
        """Show one intervention's detail: its row now, its history from a worker."""
        self._selected = local_id
        row = self.row_for(local_id)
        if row is None:
            self.sig_detail.emit(None)
            return
        if self.service is None:
            self.sig_detail.emit({"row": row, "history": []})
            return
        service = self.service
        self.runner.submit(
            "intervention-detail",
            lambda _s: service.history(local_id),
            on_success=lambda h: self._on_detail(local_id, h),
            on_failure=lambda exc, _t: self.sig_error.emit(str(exc)),
            record=False,
            coalesce=True,
        )

    def _on_detail(self, local_id: int, history: list[dict[str, Any]]) -> None:
        row = self.row_for(local_id)
        if row is None or local_id != self._selected:
            return
        self.sig_detail.emit({"row": row, "history": history})
        if getattr(row, "conflict", None):
            self.sig_conflict.emit(row)

    # ------------------------------------------------------------------ commands

    def _command(self, name: str, fn: Callable[[], Any], done: str) -> None:
        if self.service is None:
            self.sig_refused.emit("interventions cannot be changed here")
            return

        def ok(result: Any) -> None:
            self.sig_message.emit(done)
            self.load()
            if name == "create" and isinstance(result, int):
                self._selected = result
                self.sig_created.emit(result)

        self.runner.submit(
            f"intervention-{name}",
            lambda _s: fn(),
            title=done,
            on_success=ok,
            on_failure=lambda exc, _t: self.sig_refused.emit(str(exc)),
            record=False,
        )

    def create(self, **values: Any) -> None:
        """Create one (validated by the service: tutor, type, SLA, duplicates)."""
        service = self.service
        self._command("create", lambda: service.create(**values), "Intervention created")

    def set_status(self, local_id: int, status: str) -> None:
        service = self.service
        self._command(
            "status",
            lambda: service.set_status(local_id, status),
            f"Marked {status.replace('_', ' ')}",
        )

    def add_note(self, local_id: int, text: str) -> None:
        service = self.service
        self._command("note", lambda: service.add_note(local_id, text), "Note added")

    def record_outcome(self, local_id: int, result: str, note: str) -> None:
        service = self.service
        self._command(
            "outcome", lambda: service.record_outcome(local_id, result, note), "Outcome recorded"
        )

    def pause(self, local_id: int) -> None:
        service = self.service
        self._command("pause", lambda: service.pause(local_id), "SLA paused")

    def resume(self, local_id: int) -> None:
        service = self.service
        self._command("resume", lambda: service.resume(local_id), "SLA resumed")

    def discard(self, local_id: int) -> None:
        """Drop a create the API refused (the reason stays in the history)."""
        service = self.service
        if self._selected == local_id:
            self._selected = None
        self._command("discard", lambda: service.discard(local_id), "Discarded")

    def resolve_conflict(self, local_id: int, choice: str) -> None:
        service = self.service
        kept = "your version" if choice == "mine" else "the server's version"
        self._command(
            "conflict", lambda: service.resolve_conflict(local_id, choice), f"Kept {kept}"
        )

    # ------------------------------------------------------------------ for dialogs

    def choices(self) -> dict[str, list[tuple[int, str]]]:
        """Tutors and managers for the create dialog, as read on a worker with the last
        load (a dialog opens at once, without a query on the GUI thread)."""
        return self._choices

    def _refresh_choices(self) -> None:
        service = self.service
        if service is None:
            return

        def work(_state: Any) -> dict[str, list[tuple[int, str]]]:
            return {"tutors": service.tutors(), "managers": service.managers()}

        def done(choices: dict[str, list[tuple[int, str]]]) -> None:
            self._choices = choices

        self.runner.submit(
            "intervention-choices",
            work,
            on_success=done,
            on_failure=lambda exc, _t: self.sig_error.emit(str(exc)),
            record=False,
            coalesce=True,
        )
