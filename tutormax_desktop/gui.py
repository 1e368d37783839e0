"""`tutormax-desktop`: the GUI entry point and its wiring.

Start-up: one instance per user (a second launch raises the first window), logging to
a rotating file, a crash dialog instead of a dead app, the first-run choice (company
API or built-in sandbox), then the window, painted before anything slow happens: the
database opens and the pages load on the task runner.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tutormax_desktop import __version__

log = logging.getLogger(__name__)

EXIT_NO_DISPLAY = 2

NO_DISPLAY_MESSAGE = """\
TutorMax Desktop needs a display, and this session has none (no DISPLAY or WAYLAND_DISPLAY).
On a headless machine, run it under a virtual X server:

    xvfb-run -a make run
    xvfb-run -a .venv/bin/tutormax-desktop

(or use the headless command line: .venv/bin/tutormax sync / status)"""


def has_display(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """False on a Linux/BSD box with no X or Wayland display and no Qt platform forced."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return True
    if env.get("QT_QPA_PLATFORM"):
        return True  # offscreen, minimal, vnc... chosen on purpose
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tutormax-desktop", description="TutorMax Desktop")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument(
        "--sandbox",
        action="store_true",
        help="use the built-in sandbox marketplace even if an API is configured",
    )
    p.add_argument("--no-sync", action="store_true", help="do not sync or run jobs at start")
    p.add_argument(
        "--database",
        metavar="URL",
        help="use this database for this run (e.g. a team's postgresql+psycopg://...); "
        "Settings > Database URL keeps one",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    # tutormax_desktop/self_test.py: a packaged app checks itself, offscreen.
    test = p.add_argument_group("self-test (offscreen; for installers, CI and support)")
    test.add_argument(
        "--self-test",
        action="store_true",
        help="migrate a fresh database, sync the sandbox, train, score, render every page; "
        "exit 0 if all works",
    )
    test.add_argument("--self-test-dir", help="folder for its files (kept); default a temp one")
    test.add_argument("--keep", action="store_true", help="keep the temp folder after a pass")
    test.add_argument("--self-test-scale", choices=("tiny", "demo"), default="demo")
    test.add_argument(
        "--self-test-steps", help="comma-separated subset of qt,database,sync,jobs,pages"
    )
    return p


@dataclass
class Shell:
    """Everything the running app holds, for an orderly shutdown."""

    window: Any
    backend: Any
    theme: Any
    ui_settings: Any
    tray: Any = None

    def shutdown(self) -> None:
        if getattr(self, "_done", False):
            return
        self._done = True
        self.window.save_state()
        self.window.shell.shutdown()
        if self.tray is not None:
            self.tray.hide()
        self.theme.disconnect_os()
        self.theme.deleteLater()
        self.backend.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.self_test:
        from tutormax_desktop.self_test import STEPS, run_self_test

        return run_self_test(
            folder=args.self_test_dir,
            keep=args.keep,
            scale=args.self_test_scale,
            steps=args.self_test_steps.split(",") if args.self_test_steps else STEPS,
            verbose=args.verbose,
        )
    if not has_display():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return EXIT_NO_DISPLAY

    from PySide6.QtWidgets import QApplication, QMessageBox

    from tutormax_desktop.context import AppContext
    from tutormax_desktop.logging_setup import setup_logging

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("TutorMax Desktop")
    app.setOrganizationName("TutorMax")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("tutormax-desktop")
    # Closing the window hides it to the tray; Quit is explicit.
    app.setQuitOnLastWindowClosed(False)
    try:
        ctx = AppContext.load()
    except ValueError as exc:
        QMessageBox.critical(None, "TutorMax Desktop", f"Cannot start: {exc}")
        return EXIT_NO_DISPLAY
    setup_logging(ctx.paths.log_file, verbose=args.verbose)

    from tutormax_desktop.single_instance import SingleInstance

    instance = SingleInstance(ctx.paths.data_dir)
    if not instance.acquire():
        print("TutorMax Desktop is already running; its window was brought to the front.")
        return 0

    from tutormax_desktop.crash import CrashHandler

    crash = CrashHandler(ctx.paths.log_file)
    crash.install()
    try:
        from PySide6.QtCore import QSettings

        from ui.theme import ThemeManager

        ui_settings = QSettings(str(ctx.paths.config_dir / "ui.ini"), QSettings.Format.IniFormat)
        theme = ThemeManager(app, str(ui_settings.value("theme", "system")))
        if args.database:
            from services.db.url import check_database_url

            try:  # this run only; the settings file is unchanged
                ctx.settings.database_url = check_database_url(args.database)
            except ValueError as exc:
                QMessageBox.critical(None, "TutorMax Desktop", f"--database: {exc}")
                return EXIT_NO_DISPLAY
        if args.sandbox:
            ctx.settings.api_url = None  # this run only; the settings file is unchanged
        elif not ctx.paths.settings_file.exists() and not first_run_choice(ctx, theme, ui_settings):
            return 0
        shell = build_shell(ctx, theme=theme, ui_settings=ui_settings)
        instance.sig_activate.connect(shell.window.bring_to_front)
        if os.environ.get(STARTUP_PROBE_ENV):
            _install_startup_probe(shell, os.environ[STARTUP_PROBE_ENV])
        shell.window.show()
        after_first_paint(
            shell.window, lambda: shell.window.shell.start(sync_at_start=not args.no_sync)
        )
        code = app.exec()
        shell.shutdown()
        return int(code)
    finally:
        instance.release()
        crash.uninstall()


STARTUP_PROBE_ENV = "TUTORMAX_STARTUP_PROBE"


def after_first_paint(window: Any, fn: Any, fallback_ms: int = 1500) -> None:
    """Call ``fn`` once the window has painted for the first time (or after
    ``fallback_ms`` if it never does, e.g. started minimized).

    The database opens on a worker thread, but opening it imports SQLAlchemy, the
    models and Alembic (about half a second of Python): running that while the GUI
    thread paints the first frame makes both fight over the GIL, and the first frame
    takes twice as long. After it, the imports run while the GUI thread is idle.
    """
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def __init__(self) -> None:
            super().__init__(window)
            self.done = False

        def eventFilter(self, obj: Any, event: Any) -> bool:
            if not self.done and event.type() == QEvent.Type.Paint:
                # After this paint returns and the frame is out.
                QTimer.singleShot(0, self.fire)
            return False

        def fire(self) -> None:
            if self.done:
                return
            self.done = True
            window.removeEventFilter(self)
            fn()

    waiter = FirstPaint()
    window.installEventFilter(waiter)
    QTimer.singleShot(fallback_ms, waiter.fire)


def _install_startup_probe(shell: Shell, mode: str) -> None:
    """For benchmarks/startup_bench.py: print when the window first paints and when the
    dashboard has its data; with mode "quit", leave once it has."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class Probe(QObject):
        def __init__(self) -> None:
            super().__init__(shell.window)
            self.painted = False

        def eventFilter(self, obj: Any, event: Any) -> bool:
            if not self.painted and event.type() == QEvent.Type.Paint:
                self.painted = True
                # After this paint returns: the frame is on screen and the loop is free.
                QTimer.singleShot(0, lambda: print("startup: painted", flush=True))
            return False

    probe = Probe()
    shell.window.installEventFilter(probe)

    def loaded(_dash: Any) -> None:
        print("startup: dashboard", flush=True)
        if mode == "quit":
            QTimer.singleShot(0, shell.window.quit)

    shell.window.shell.dashboard.sig_loaded.connect(loaded)


def first_run_choice(ctx: Any, theme: Any, ui_settings: Any) -> bool:
    """The first-run dialog (company API or sandbox); False if closed without a choice."""
    from tutormax_desktop.backend import Backend
    from ui.settings_dialog import SettingsDialog
    from viewmodels.settings import SettingsViewModel
    from viewmodels.tasks import TaskRunner

    backend = Backend(ctx)
    runner = TaskRunner()
    vm = SettingsViewModel(
        runner, lambda: backend.settings, backend.test_connection, backend.apply_settings
    )
    try:
        return bool(SettingsDialog(vm, theme, ui_settings, first_run=True).exec())
    finally:
        runner.shutdown()


def tune_gc() -> None:
    """Keep the cyclic garbage collector from stalling the GUI thread.

    A full (generation 2) collection walks every object in the process while holding
    the GIL: with Qt, SQLAlchemy, pydantic and pyqtgraph loaded that is 100+ ms,
    whichever thread triggers it. Freezing what exists after start-up takes those
    long-lived objects out of every later collection; a larger generation-0 threshold
    makes collections rarer while each stays a few milliseconds. Called again when the
    database is open (more modules are loaded by then).
    """
    import gc

    # No gc.collect() first: on the GUI thread it would be the very stall we avoid;
    # garbage frozen with the rest is a few kilobytes.
    gc.freeze()
    gc.set_threshold(5_000, 10, 10)


def build_shell(
    ctx: Any,
    *,
    tray: bool = True,
    theme: Any = None,
    ui_settings: Any = None,
    **shell_options: Any,
) -> Shell:
    """Wire backend, view models, theme, window and tray for this context."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from tutormax_desktop.backend import Backend
    from ui.main_window import MainWindow
    from ui.theme import ThemeManager, icon
    from ui.tray import TrayController
    from viewmodels.shell import ShellViewModel

    app = QApplication.instance()
    assert isinstance(app, QApplication), "a QApplication must exist"
    if ui_settings is None:
        ui_settings = QSettings(str(ctx.paths.config_dir / "ui.ini"), QSettings.Format.IniFormat)
    if theme is None:
        theme = ThemeManager(app, str(ui_settings.value("theme", "system")))
    backend = Backend(ctx)
    vm = ShellViewModel(backend, **shell_options)
    tune_gc()
    vm.sig_ready_changed.connect(lambda ready: ready and tune_gc())
    window = MainWindow(
        vm,
        theme,
        ui_settings,
        source_label=backend.source_label,
        sandbox=backend.sandbox,
        data_dir=str(backend.data_dir),
        log_file=str(backend.log_file),
    )
    controller = None
    if tray:
        controller = TrayController(vm.notifications, vm.sync, icon("app"), ui_settings, window)
        controller.sig_show_window.connect(window.bring_to_front)
        controller.sig_quit.connect(window.quit)
        window.set_tray(controller)
        vm.sig_ready_changed.connect(
            lambda ready: ready and controller.announce_missing_tray(vm.notice)
        )
    return Shell(window, backend, theme, ui_settings, controller)


def build_window(ctx: Any, **shell_options: Any) -> Any:
    """The main window for ``ctx`` (tests and the end-to-end driver use this)."""
    shell = build_shell(ctx, **shell_options)
    shell.window.app_shell = shell
    return shell.window


if __name__ == "__main__":
    raise SystemExit(main())
