"""Running slow work off the GUI thread and bringing results back by signal.

A :class:`Task` wraps a plain function ``fn(state)`` that reports progress and checks for
cancellation through ``state`` (Orange3's pattern): the function knows nothing of Qt
and is tested without it. The runner executes it on the global ``QThreadPool`` and
emits ``sig_progress``/``sig_succeeded``/``sig_failed`` from the worker; Qt queues those
signals to receivers living on the GUI thread, so no widget is ever touched from a
worker.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class TaskState:
    """What a task function gets: progress reporting and a cancel flag."""

    def __init__(self, emit_progress: Callable[[object], None]) -> None:
        self.cancel_event = threading.Event()
        self._emit = emit_progress

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def progress(self, value: object) -> None:
        self._emit(value)


class Task(QObject):
    """One run of ``fn``; create a new Task per run."""

    sig_progress = Signal(object)
    """Whatever the function passed to ``state.progress`` (emitted from the worker)."""
    sig_succeeded = Signal(object)
    """The function's return value."""
    sig_failed = Signal(str, str)
    """A one-line message and the traceback, for the log and an error dialog."""
    sig_finished = Signal()
    """After success or failure, always."""

    def __init__(self, name: str, fn: Callable[[TaskState], Any]) -> None:
        super().__init__()
        self.name = name
        self._fn = fn
        self.state = TaskState(self.sig_progress.emit)
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def start(self, pool: QThreadPool | None = None) -> None:
        if self._running:
            raise RuntimeError(f"task {self.name!r} is already running")
        self._running = True
        (pool or QThreadPool.globalInstance()).start(_Runnable(self))

    def cancel(self) -> None:
        self.state.cancel_event.set()

    def _run(self) -> None:
        try:
            result = self._fn(self.state)
        except Exception as exc:
            log.exception("task %s failed", self.name)
            self.sig_failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            self.sig_succeeded.emit(result)
        finally:
            self._running = False
            self.sig_finished.emit()


class _Runnable(QRunnable):
    def __init__(self, task: Task) -> None:
        super().__init__()
        self._task = task
        self.setAutoDelete(True)

    def run(self) -> None:
        self._task._run()
