"""Uncaught exceptions: logged with their traceback, shown in a dialog with the log path,
and the app keeps running (a bug in one slot must not kill a manager's session).

Exceptions from worker threads reach the GUI thread through a queued signal; at most one
dialog is open at a time (repeats while it is open are counted, not stacked).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger("tutormax.crash")


class CrashHandler(QObject):
    _sig_show = Signal(str, str)
    sig_crashed = Signal(str)
    """The one-line summary of every uncaught exception (tests listen)."""

    def __init__(
        self, log_file: Path, parent: QObject | None = None, *, dialogs: bool = True
    ) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self.dialogs = dialogs
        self.count = 0
        self._open = False
        self._suppressed = 0
        self._previous_hook: Any = None
        self._previous_thread_hook: Any = None
        self._sig_show.connect(self._show)
        self.dialog: QMessageBox | None = None

    def install(self) -> None:
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self.handle
        threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        if self._previous_hook is not None:
            sys.excepthook = self._previous_hook
            threading.excepthook = self._previous_thread_hook
            self._previous_hook = None

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    def handle(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            if self._previous_hook is not None:
                self._previous_hook(exc_type, exc, tb)
            return
        self.count += 1
        log.critical("uncaught exception", exc_info=(exc_type, exc, tb))
        summary = f"{exc_type.__name__}: {exc}"
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        self.sig_crashed.emit(summary)
        # Queued when raised on a worker: the dialog is built on the GUI thread.
        self._sig_show.emit(summary, details)

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        if not self.dialogs:
            return
        if self._open:
            self._suppressed += 1
            return
        self._open = True
        try:
            box = QMessageBox(QMessageBox.Icon.Critical, "TutorMax Desktop: unexpected error", "")
            box.setText(
                "Something went wrong, and TutorMax Desktop kept running.<br><br>"
                f"<b>{_escape(summary)}</b><br><br>"
                "The details were written to the log file:<br>"
                f"<code>{_escape(str(self.log_file))}</code>"
            )
            box.setDetailedText(details)
            parent = _active_window()
            if parent is not None:
                box.setParent(parent, box.windowFlags())
            self.dialog = box
            box.exec()
        finally:
            self.dialog = None
            self._open = False
            if self._suppressed:
                log.warning(
                    "%d more uncaught exceptions while the dialog was open", self._suppressed
                )
                self._suppressed = 0


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _active_window() -> QWidget | None:
    from PySide6.QtWidgets import QApplication

    return QApplication.activeWindow()
