"""The one task runner: every slow call goes off the GUI thread through here.

A task is a plain function ``fn(state)`` that reports progress and checks for
cancellation through ``state`` (Orange3's pattern), so it knows nothing of Qt and is
tested without it. :class:`TaskRunner` runs it on its own ``QThreadPool`` and brings
the outcome back by queued signal to the GUI thread, where the caller's callbacks run:
no widget is ever touched from a worker.

Rules it enforces:

- a task never overlaps with itself: submitting a name that is running is refused
  (``submit`` returns None), or, with ``coalesce=True``, remembered and run once more
  when the current run ends (a refresh asked for during a refresh);
- every task can be cancelled (``state.cancel_event``) and reports progress;
- finished tasks land in :attr:`TaskRunner.history` (name, trigger, start, duration,
  result) for the System page;
- :meth:`TaskRunner.shutdown` cancels everything and waits, so no thread outlives the
  window (the tests check that).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    Qt,
    QThreadPool,
    Signal,
    Slot,
)

log = logging.getLogger(__name__)

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


class TaskState:
    """What a task function gets: progress reporting and a cancel flag.

    Progress is coalesced on the worker: at most one delivery every
    ``PROGRESS_INTERVAL`` seconds, each carrying the latest value per key (a sync's
    ``SyncProgress`` is keyed by resource, messages and fractions by their type), and
    whatever is pending is delivered before the task's result. A sync reporting 2,500
    pages then costs the GUI thread a few dozen updates, not 2,500.
    """

    PROGRESS_INTERVAL = 0.05

    def __init__(self, emit_progress: Callable[[object], None]) -> None:
        self.cancel_event = threading.Event()
        self._emit = emit_progress
        self._lock = threading.Lock()
        self._pending: dict[object, object] = {}
        self._last = 0.0

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def progress(self, value: object) -> None:
        key = getattr(value, "resource", None) or type(value).__name__
        with self._lock:
            self._pending[key] = value
            now = time.monotonic()
            if now - self._last < self.PROGRESS_INTERVAL:
                return
            self._last = now
            values, self._pending = list(self._pending.values()), {}
        for v in values:
            self._emit(v)

    def flush(self) -> None:
        with self._lock:
            values, self._pending = list(self._pending.values()), {}
        for v in values:
            self._emit(v)


@dataclass
class TaskRecord:
    """One finished (or running) task, as the System page lists it."""

    id: int
    name: str
    title: str
    trigger: str
    started_at: datetime
    status: str = "running"  # running / ok / failed / cancelled
    seconds: float | None = None
    summary: str = ""
    error: str = ""
    result: Any = field(default=None, repr=False)


@dataclass
class _Active:
    record: TaskRecord
    state: TaskState
    on_success: Callable[[Any], None] | None
    on_failure: Callable[[BaseException, str], None] | None
    on_progress: Callable[[object], None] | None
    on_finished: Callable[[TaskRecord], None] | None
    summarize: Callable[[Any], str] | None
    started: float
    rerun: tuple[Any, ...] | None = None


class TaskRunner(QObject):
    sig_started = Signal(object)
    """A TaskRecord that just started."""
    sig_progress = Signal(str, object)
    """Task name and whatever it passed to ``state.progress``."""
    sig_finished = Signal(object)
    """The TaskRecord of a task that ended (ok, failed or cancelled)."""
    sig_busy_changed = Signal(bool)
    """True while any recorded task runs."""

    # From workers to the runner (queued: the runner lives on the GUI thread).
    _sig_worker_progress = Signal(int, object)
    _sig_worker_done = Signal(int, str, object, object, str)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        # Idle worker threads stay as long as the runner: a few cost nothing, and a
        # task then never waits for a new thread.
        self._pool.setExpiryTimeout(-1)
        self._active: dict[int, _Active] = {}
        self._by_name: dict[str, int] = {}
        self._next_id = 1
        self._busy = False
        self._closed = False
        self.history = TaskHistoryModel(self)
        self._sig_worker_progress.connect(self._on_progress)
        self._sig_worker_done.connect(self._on_done)

    # ------------------------------------------------------------------ queries

    @property
    def busy(self) -> bool:
        return self._busy

    def is_running(self, name: str) -> bool:
        return name in self._by_name

    def running_names(self) -> set[str]:
        return set(self._by_name)

    def state_of(self, name: str) -> TaskState | None:
        tid = self._by_name.get(name)
        return self._active[tid].state if tid is not None else None

    # ------------------------------------------------------------------ commands

    def submit(
        self,
        name: str,
        fn: Callable[[TaskState], Any],
        *,
        title: str | None = None,
        trigger: str = "",
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException, str], None] | None = None,
        on_progress: Callable[[object], None] | None = None,
        on_finished: Callable[[TaskRecord], None] | None = None,
        summarize: Callable[[Any], str] | None = None,
        record: bool = True,
        coalesce: bool = False,
    ) -> TaskRecord | None:
        """Start ``fn`` on a worker; None if a task of that name is already running."""
        if self._closed:
            return None
        running = self._by_name.get(name)
        if running is not None:
            if coalesce:
                self._active[running].rerun = (
                    fn,
                    title,
                    trigger,
                    on_success,
                    on_failure,
                    on_progress,
                    on_finished,
                    summarize,
                    record,
                )
            return None
        tid = self._next_id
        self._next_id += 1
        state = TaskState(lambda value, tid=tid: self._sig_worker_progress.emit(tid, value))
        rec = TaskRecord(tid, name, title or name, trigger, datetime.now(UTC))
        self._active[tid] = _Active(
            rec,
            state,
            on_success,
            on_failure,
            on_progress,
            on_finished,
            summarize,
            time.perf_counter(),
        )
        self._by_name[name] = tid
        if record:
            self.history.add(rec)
        self.sig_started.emit(rec)
        self._update_busy()
        self._pool.start(_Runnable(self, tid, fn, state))
        return rec

    def cancel(self, name: str) -> bool:
        tid = self._by_name.get(name)
        if tid is None:
            return False
        active = self._active[tid]
        active.rerun = None
        active.state.cancel_event.set()
        return True

    def cancel_all(self) -> None:
        for name in list(self._by_name):
            self.cancel(name)

    def wait_for_done(self, msecs: int = 30_000) -> bool:
        return self._pool.waitForDone(msecs)

    def shutdown(self, msecs: int = 15_000) -> bool:
        """Cancel everything, refuse new work, wait for the workers to end."""
        self._closed = True
        self.cancel_all()
        done = self._pool.waitForDone(msecs)
        if not done:
            log.warning("background tasks still running after %d ms: %s", msecs, self._by_name)
        return done

    # ------------------------------------------------------------------ worker side

    def _run(self, tid: int, fn: Callable[[TaskState], Any], state: TaskState) -> None:
        try:
            result = fn(state)
            state.flush()
        except BaseException as exc:
            state.flush()
            status = "cancelled" if state.cancelled else "failed"
            if status == "failed":
                log.error("task %d failed: %s", tid, exc, exc_info=exc)
            self._sig_worker_done.emit(tid, status, None, exc, traceback.format_exc())
        else:
            self._sig_worker_done.emit(tid, "ok", result, None, "")

    # ------------------------------------------------------------------ GUI side

    @Slot(int, object)
    def _on_progress(self, tid: int, value: object) -> None:
        active = self._active.get(tid)
        if active is None:
            return
        self.sig_progress.emit(active.record.name, value)
        if active.on_progress is not None:
            active.on_progress(value)

    @Slot(int, str, object, object, str)
    def _on_done(self, tid: int, status: str, result: Any, exc: Any, trace: str) -> None:
        active = self._active.pop(tid, None)
        if active is None:
            return
        rec = active.record
        self._by_name.pop(rec.name, None)
        rec.status = status
        rec.seconds = time.perf_counter() - active.started
        rec.result = result
        if status == "ok":
            try:
                rec.summary = active.summarize(result) if active.summarize else ""
            except Exception as e:  # a summary must never lose the result
                rec.summary = f"(no summary: {e})"
        else:
            rec.error = f"{type(exc).__name__}: {exc}" if exc is not None else status
            rec.summary = "cancelled" if status == "cancelled" else rec.error
        self.history.update(rec)
        try:
            if status == "ok" and active.on_success is not None:
                active.on_success(result)
            elif status != "ok" and active.on_failure is not None:
                active.on_failure(exc, trace)
        finally:
            if active.on_finished is not None:
                active.on_finished(rec)
            self.sig_finished.emit(rec)
            self._update_busy()
            if active.rerun is not None and not self._closed:
                fn, title, trigger, ok, fail, prog, fin, summ, record = active.rerun
                self.submit(
                    rec.name,
                    fn,
                    title=title,
                    trigger=trigger,
                    on_success=ok,
                    on_failure=fail,
                    on_progress=prog,
                    on_finished=fin,
                    summarize=summ,
                    record=record,
                )

    def _update_busy(self) -> None:
        busy = any(a.record.id in self.history.ids for a in self._active.values())
        if busy != self._busy:
            self._busy = busy
            self.sig_busy_changed.emit(busy)


class _Runnable(QRunnable):
    def __init__(
        self, runner: TaskRunner, tid: int, fn: Callable[[TaskState], Any], state: TaskState
    ) -> None:
        super().__init__()
        self._runner = runner
        self._tid = tid
        self._fn = fn
        self._state = state
        self.setAutoDelete(True)

    def run(self) -> None:
        self._runner._run(self._tid, self._fn, self._state)


# ---------------------------------------------------------------------- history


HISTORY_COLUMNS = ("Task", "Trigger", "Started", "Duration", "Status", "Result")
HISTORY_LIMIT = 300


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "…"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.1f} s"
    return f"{s / 60:.1f} min"


class TaskHistoryModel(QAbstractTableModel):
    """Background tasks of this session (and, merged in, persisted job runs)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[TaskRecord] = []
        self.ids: set[int] = set()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HISTORY_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HISTORY_COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        rec = self._rows[index.row()]
        col = index.column()
        if role == SORT_ROLE:
            return (
                rec.title,
                rec.trigger,
                rec.started_at.timestamp(),
                rec.seconds if rec.seconds is not None else -1.0,
                rec.status,
                rec.summary,
            )[col]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return rec.title
            if col == 1:
                return rec.trigger or "–"
            if col == 2:
                return rec.started_at.astimezone().strftime("%a %H:%M:%S")
            if col == 3:
                return _fmt_seconds(rec.seconds)
            if col == 4:
                return rec.status
            return rec.summary
        if role == Qt.ItemDataRole.ToolTipRole and col == 5:
            return rec.error or rec.summary
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def add(self, rec: TaskRecord) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.insert(0, rec)
        self.ids.add(rec.id)
        self.endInsertRows()
        if len(self._rows) > HISTORY_LIMIT:
            self.beginRemoveRows(QModelIndex(), HISTORY_LIMIT, len(self._rows) - 1)
            for old in self._rows[HISTORY_LIMIT:]:
                self.ids.discard(old.id)
            del self._rows[HISTORY_LIMIT:]
            self.endRemoveRows()

    def add_past(self, records: list[TaskRecord]) -> None:
        """Runs from earlier sessions (oldest last), below this session's."""
        if not records:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        self._rows.extend(records)
        self.endInsertRows()

    def update(self, rec: TaskRecord) -> None:
        for r, row in enumerate(self._rows):
            if row.id == rec.id and row is rec:
                self.dataChanged.emit(self.index(r, 0), self.index(r, len(HISTORY_COLUMNS) - 1))
                return

    def record(self, row: int) -> TaskRecord:
        return self._rows[row]

    def records(self) -> list[TaskRecord]:
        return list(self._rows)


def lazy_call(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported on its first call. The composition root binds database
    reads when the window is built; importing them then would put SQLAlchemy and pandas
    in front of the first paint, while the calls themselves run later, on a worker."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = name
    return call
