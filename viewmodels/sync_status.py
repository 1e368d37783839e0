"""The sync's state for the window: per-resource table, "sync now", online/offline, data age.

The view model never talks HTTP or SQL itself: the composition root gives it two plain
functions, ``run_sync(state, resources, trigger)`` (``services.sync.engine`` reporting
``SyncProgress`` through ``state.progress``) and ``read_status()`` (the
``services.sync.status.sync_status`` dict), and both run on the task runner.
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
    QTimer,
    Signal,
    Slot,
)

from services.api import errors
from viewmodels.tasks import SORT_ROLE, TaskRunner, TaskState

COLUMNS = ("Resource", "Status", "Rows", "Rejects", "Fetched this run", "Last success")
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2
SYNC_TASK = "sync"

Index = QModelIndex | QPersistentModelIndex

# connection states
UNKNOWN, ONLINE, OFFLINE, AUTH_FAILED, SYNC_FAILED = (
    "unknown",
    "online",
    "offline",
    "auth_failed",
    "failed",
)


class ResourceStatusModel(QAbstractTableModel):
    """One row per API resource: status, local row count, rejects, progress."""

    def __init__(self, resources: list[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._names = list(resources)
        self._rows: dict[str, dict[str, Any]] = {
            n: {
                "status": "never",
                "rows": 0,
                "rejects": 0,
                "fetched": 0,
                "last_success": None,
                "error": None,
            }
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
            if col == 5:
                return raw.timestamp() if raw is not None else 0.0
            return raw
        if role == STATUS_ROLE:
            return row["status"]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return name.replace("_", " ")
            if col in (2, 3, 4):
                return f"{raw:,}"
            if col == 5:
                return ago(raw)
            return raw
        if role == Qt.ItemDataRole.ToolTipRole:
            if row["error"]:
                return row["error"]
            if col == 5 and raw is not None:
                return raw.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
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

    def refresh_ages(self) -> None:
        """ "N min ago" moves with the clock."""
        if self._names:
            self.dataChanged.emit(
                self.index(0, 5),
                self.index(len(self._names) - 1, 5),
                [Qt.ItemDataRole.DisplayRole],
            )

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def value(self, name: str, key: str) -> Any:
        return self._rows[name][key]


def ago(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def classify_failure(exc: BaseException | None) -> str:
    """Why a sync failed, as a connection state."""
    if exc is None:
        return SYNC_FAILED
    name = type(exc).__name__
    # services.credentials.CredentialError, by name: importing it loads keyring.
    if isinstance(exc, errors.AuthError) or name == "CredentialError":
        return AUTH_FAILED
    if isinstance(exc, errors.UnavailableError | ConnectionError) or name == "OfflineError":
        return OFFLINE
    return SYNC_FAILED


class SyncViewModel(QObject):
    sig_busy_changed = Signal(bool)
    """True while a sync runs."""
    sig_message = Signal(str)
    """A one-line summary for the status bar."""
    sig_error = Signal(str)
    """A sync failed as a whole (not one resource): worth telling the user."""
    sig_connection_changed = Signal(str)
    """online / offline / auth_failed / failed / unknown."""
    sig_last_synced_changed = Signal(object)
    """The newest successful sync of any resource (aware datetime) or None."""
    sig_age_text_changed = Signal(str)
    """"Last synced 3 min ago" / "Offline · data from 2 h ago"."""
    sig_sync_landed = Signal(object, bool)
    """A sync ended with a report; True when it changed data (scoring, dashboard)."""
    sig_status_read = Signal(object)
    """The sync_status dict after each refresh."""

    def __init__(
        self,
        runner: TaskRunner,
        resources: list[str],
        run_sync: Callable[[TaskState, list[str] | None, str], Any],
        read_status: Callable[[], dict[str, Any]],
        parent: QObject | None = None,
        *,
        age_interval_ms: int = 30_000,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.model = ResourceStatusModel(resources, self)
        self._run_sync = run_sync
        self._read_status = read_status
        self._busy = False
        self._connection = UNKNOWN
        self._last_synced: datetime | None = None
        self._age_text = ""
        self._progress_text = ""
        self._age_timer = QTimer(self)
        self._age_timer.setInterval(age_interval_ms)
        self._age_timer.timeout.connect(self._tick_age)

    # ------------------------------------------------------------------ properties

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def connection(self) -> str:
        return self._connection

    @property
    def last_synced(self) -> datetime | None:
        return self._last_synced

    @property
    def age_text(self) -> str:
        return self._age_text

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.sig_busy_changed.emit(busy)

    def _set_connection(self, state: str) -> None:
        if state != self._connection:
            self._connection = state
            self.sig_connection_changed.emit(state)
            self._tick_age()

    def _set_last_synced(self, when: datetime | None) -> None:
        if when != self._last_synced:
            self._last_synced = when
            self.sig_last_synced_changed.emit(when)
            self._tick_age()

    @Slot()
    def _tick_age(self) -> None:
        age = ago(self._last_synced)
        if self._connection == OFFLINE:
            text = f"Offline · data from {age}" if self._last_synced else "Offline · no data yet"
        elif self._connection == AUTH_FAILED:
            text = "Token refused · data from " + age
        elif self._last_synced is None:
            text = "Never synced"
        else:
            text = f"Last synced {age}"
        if text != self._age_text:
            self._age_text = text
            self.sig_age_text_changed.emit(text)
        self.model.refresh_ages()

    # ------------------------------------------------------------------ commands

    def start(self) -> None:
        self._age_timer.start()
        self.refresh()

    def stop(self) -> None:
        self._age_timer.stop()

    @Slot()
    def refresh(self) -> None:
        """Re-read the local status (off the GUI thread)."""
        self.runner.submit(
            "read-status",
            lambda _state: self._read_status(),
            on_success=self._apply_status,
            record=False,
            coalesce=True,
        )

    @Slot()
    def sync_now(self) -> None:
        self.sync(None, trigger="manual")

    def sync(self, resources: list[str] | None, *, trigger: str = "manual") -> bool:
        """Start a sync of ``resources`` (all by default); False if one is running."""
        if self.runner.is_running(SYNC_TASK):
            return False  # a sync never overlaps with itself
        names = list(resources) if resources is not None else None
        for name in names or self.model.names:
            self.model.update_resource(name, fetched=0)
        rec = self.runner.submit(
            SYNC_TASK,
            lambda state: self._run_sync(state, names, trigger),
            title="Sync" if names is None else f"Sync ({len(names)} resources)",
            trigger=trigger,
            on_success=self._on_done,
            on_failure=self._on_failed,
            on_progress=self._on_progress,
            on_finished=lambda _rec: self._set_busy(False),
            summarize=_summarize_report,
        )
        if rec is None:
            return False
        self._set_busy(True)
        self.sig_message.emit("Syncing…")
        return True

    @Slot()
    def cancel(self) -> None:
        if self.runner.cancel(SYNC_TASK):
            self.sig_message.emit("Cancelling after the current page…")

    # ------------------------------------------------------------------ results

    def _on_progress(self, p: Any) -> None:
        if isinstance(p, str):
            self.sig_message.emit(p)
            return
        self.model.update_resource(p.resource, status=p.status, fetched=p.fetched)
        total = sum(self.model.value(n, "fetched") for n in self.model.names)
        text = f"Syncing… {total:,} records"
        if text != self._progress_text:
            self._progress_text = text
            self.sig_message.emit(text)

    def _on_done(self, report: Any) -> None:
        changed = any((r.upserted or r.deleted) for r in report.results.values())
        if report.status == "auth_failed":
            self._set_connection(AUTH_FAILED)
            self.sig_error.emit("The API refused the token. Enter a new one in Settings.")
        elif report.status == "failed":
            self._set_connection(SYNC_FAILED)
        else:
            self._set_connection(ONLINE)
        self.sig_message.emit(_summarize_report(report))
        self.sig_sync_landed.emit(report, changed)
        self.refresh()

    def _on_failed(self, exc: BaseException, _trace: str) -> None:
        state = classify_failure(exc)
        if isinstance(exc, errors.CancelledError):
            self.sig_message.emit("Sync cancelled")
            self.refresh()
            return
        self._set_connection(state)
        message = str(exc)
        if state == OFFLINE:
            self.sig_message.emit("Offline: working from the local database")
        else:
            self.sig_message.emit(f"Sync failed: {message}")
            self.sig_error.emit(message)
        self.refresh()

    def _apply_status(self, status: dict[str, Any]) -> None:
        newest: datetime | None = None
        for name, r in status["resources"].items():
            last = datetime.fromisoformat(r["last_success_at"]) if r["last_success_at"] else None
            if last is not None and (newest is None or last > newest):
                newest = last
            self.model.update_resource(
                name,
                status=r["status"],
                rows=r["rows"],
                rejects=r["rejects"],
                last_success=last,
                error=r.get("last_error"),
            )
        self._set_last_synced(newest)
        self.sig_status_read.emit(status)


def _summarize_report(report: Any) -> str:
    return f"Sync {report.status}: {report.total_fetched:,} records in {report.seconds:.1f}s" + (
        f", {report.total_rejected:,} rejected" if report.total_rejected else ""
    )
