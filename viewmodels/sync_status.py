"""The sync's state for the window: a table model of resources and a "sync now" command.

The view model never talks HTTP or SQL itself: it is given two plain functions by the
composition root, ``run_sync(state)`` (pulls everything, reporting
``services.sync.engine.SyncProgress`` through ``state.progress``) and
``read_status()`` (the ``services.sync.status.sync_status`` dict), and runs both as
tasks off the GUI thread.
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
    Qt,
    Signal,
    Slot,
)

from viewmodels.tasks import Task, TaskState

COLUMNS = ("Resource", "Status", "Rows", "Rejects", "Fetched this run", "Last success")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1

Index = QModelIndex | QPersistentModelIndex


class ResourceStatusModel(QAbstractTableModel):
    """One row per API resource: status, local row count, rejects, progress."""

    def __init__(self, resources: list[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._names = list(resources)
        self._rows: dict[str, dict[str, Any]] = {
            n: {"status": "never", "rows": 0, "rejects": 0, "fetched": 0, "last_success": None}
            for n in self._names
        }

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._names)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        name = self._names[index.row()]
        row = self._rows[name]
        col = index.column()
        raw = (
            name,
            row["status"],
            row["rows"],
            row["rejects"],
            row["fetched"],
            row["last_success"],
        )[col]
        if role == SORT_ROLE:
            return raw
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return name.replace("_", " ")
            if col in (2, 3, 4):
                return f"{raw:,}"
            if col == 5:
                return _ago(raw)
            return raw
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def update_resource(self, name: str, **values: Any) -> None:
        if name not in self._rows:
            return
        row = self._rows[name]
        changed = {k: v for k, v in values.items() if row.get(k) != v}
        if not changed:
            return  # no signal when nothing changed: views repaint only what moved
        row.update(changed)
        r = self._names.index(name)
        self.dataChanged.emit(self.index(r, 0), self.index(r, len(COLUMNS) - 1))

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def value(self, name: str, key: str) -> Any:
        return self._rows[name][key]


def _ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = (datetime.now(UTC) - when).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


class SyncViewModel(QObject):
    sig_busy_changed = Signal(bool)
    """True while a sync runs."""
    sig_message = Signal(str)
    """A one-line summary for the status bar."""
    sig_error = Signal(str)
    """A sync failed as a whole (not one resource): show it."""

    def __init__(
        self,
        resources: list[str],
        run_sync: Callable[[TaskState], Any],
        read_status: Callable[[], dict[str, Any]],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = ResourceStatusModel(resources, self)
        self._run_sync = run_sync
        self._read_status = read_status
        self._task: Task | None = None
        self._status_task: Task | None = None
        self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.sig_busy_changed.emit(busy)

    @Slot()
    def refresh(self) -> None:
        """Re-read the local status (off the GUI thread)."""
        if self._status_task is not None and self._status_task.running:
            return
        task = Task("read-status", lambda _state: self._read_status())
        task.sig_succeeded.connect(self._apply_status)
        self._status_task = task
        task.start()

    @Slot()
    def sync_now(self) -> None:
        if self._busy:
            return  # a sync never overlaps with itself
        task = Task("sync", self._run_sync)
        task.sig_progress.connect(self._on_progress)
        task.sig_succeeded.connect(self._on_done)
        task.sig_failed.connect(self._on_failed)
        task.sig_finished.connect(self._on_finished)
        self._task = task
        for name in self.model.names:
            self.model.update_resource(name, fetched=0)
        self._set_busy(True)
        self.sig_message.emit("Syncing…")
        task.start()

    @Slot()
    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.sig_message.emit("Cancelling after the current page…")

    # ---------------------------------------------------------------- results

    @Slot(object)
    def _on_progress(self, p: Any) -> None:
        if isinstance(p, str):
            self.sig_message.emit(p)
            return
        self.model.update_resource(p.resource, status=p.status, fetched=p.fetched)

    @Slot(object)
    def _on_done(self, report: Any) -> None:
        self.sig_message.emit(
            f"Sync {report.status}: {report.total_fetched:,} records in {report.seconds:.1f}s, "
            f"{report.total_rejected:,} rejected"
        )
        self.refresh()

    @Slot(str, str)
    def _on_failed(self, message: str, _trace: str) -> None:
        self.sig_error.emit(message)
        self.sig_message.emit(f"Sync failed: {message}")

    @Slot()
    def _on_finished(self) -> None:
        self._set_busy(False)

    @Slot(object)
    def _apply_status(self, status: dict[str, Any]) -> None:
        for name, r in status["resources"].items():
            last = r["last_success_at"]
            self.model.update_resource(
                name,
                status=r["status"],
                rows=r["rows"],
                rejects=r["rejects"],
                last_success=datetime.fromisoformat(last) if last else None,
            )
