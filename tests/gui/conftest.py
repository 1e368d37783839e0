"""GUI tests: offscreen Qt, and a check that no thread, pool or timer outlives a test.

Every ``QTimer.start`` made from Python and every ``TaskRunner`` created during a test
is remembered; after the test (fixtures torn down) a timer still active, a runner whose
pool still has a thread working, or a new non-daemon Python thread fails the test
(napari's conftest does the same): view models must stop what they started.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QThreadPool, QTimer

from viewmodels import tasks as tasks_module


@pytest.fixture(autouse=True)
def no_leftover_threads_or_timers(monkeypatch, request) -> Iterator[None]:
    timers: list[weakref.ref[QTimer]] = []
    runners: list[weakref.ref[Any]] = []
    original_start = QTimer.start
    original_init = tasks_module.TaskRunner.__init__

    def recording_start(self: QTimer, *args: Any) -> None:
        timers.append(weakref.ref(self))
        original_start(self, *args)

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        runners.append(weakref.ref(self))

    monkeypatch.setattr(QTimer, "start", recording_start)
    monkeypatch.setattr(tasks_module.TaskRunner, "__init__", recording_init)
    threads_before = set(threading.enumerate())
    yield
    monkeypatch.undo()
    if request.node.get_closest_marker("allow_leftovers"):
        return
    problems = []
    deadline = time.monotonic() + 5
    while True:
        active = [
            t
            for ref in timers
            if (t := ref()) is not None and shiboken6.isValid(t) and t.isActive()
        ]
        busy = [
            r
            for ref in runners
            if (r := ref()) is not None and shiboken6.isValid(r) and r._pool.activeThreadCount() > 0
        ]
        threads = [
            t
            for t in set(threading.enumerate()) - threads_before
            if t.is_alive() and not t.daemon and not isinstance(t, threading._DummyThread)
        ]
        if not (busy or threads) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if active:
        problems.append(
            "timers still running: "
            + ", ".join(f"{t.objectName() or t.parent()!r} every {t.interval()} ms" for t in active)
        )
    if busy:
        problems.append(f"{len(busy)} task runner(s) still working: call shutdown()")
    if threads:
        problems.append("threads still alive: " + ", ".join(t.name for t in threads))
    if QThreadPool.globalInstance().activeThreadCount():
        problems.append("the global QThreadPool is still working")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "allow_leftovers: skip the leftover thread/timer check (for a test of it)"
    )


@pytest.fixture
def make_window(qtbot):
    """``make(settings, **shell_options)``: the real main window (no tray) for a context
    in this test's TUTORMAX_HOME, started (database opening; no sync unless
    ``sync_at_start``); shut down (tasks, timers, sandbox) after the test."""
    from tutormax_desktop.context import AppContext
    from tutormax_desktop.gui import build_window
    from tutormax_desktop.paths import app_paths

    built = []

    def make(
        settings: Any,
        *,
        tray: bool = False,
        start: bool = True,
        sync_at_start: bool = False,
        **options: Any,
    ) -> Any:
        ctx = AppContext(app_paths().ensure(), settings)
        window = build_window(ctx, tray=tray, **options)
        window.on_quit = lambda: None
        qtbot.addWidget(window)
        built.append(window)
        if start:
            window.shell.start(sync_at_start=sync_at_start)
        return window

    yield make
    for window in built:
        window.app_shell.shutdown()


def wait_ready(qtbot: Any, window: Any, timeout: int = 20_000) -> None:
    qtbot.waitUntil(lambda: window.shell.ready, timeout=timeout)


@pytest.fixture
def settings_dialog(qtbot: Any) -> Iterator[Any]:
    """Preferences on the real backend and the test's settings file, shown."""
    import os
    from pathlib import Path

    from PySide6.QtCore import QSettings

    from services.settings import Settings
    from tutormax_desktop.backend import Backend
    from tutormax_desktop.context import AppContext
    from tutormax_desktop.paths import app_paths
    from ui.settings_dialog import SettingsDialog
    from viewmodels.settings import SettingsViewModel

    backend = Backend(AppContext(app_paths().ensure(), Settings()))
    runner = tasks_module.TaskRunner()
    vm = SettingsViewModel(
        runner, lambda: backend.settings, backend.test_connection, backend.apply_settings
    )
    ui = QSettings(
        str(Path(os.environ["TUTORMAX_HOME"]) / "config" / "ui.ini"), QSettings.Format.IniFormat
    )
    dialog = SettingsDialog(vm, None, ui)
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog
    runner.shutdown()
    backend.close()


def press_save(dialog: Any) -> None:
    from PySide6.QtWidgets import QDialogButtonBox

    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
