"""`tutormax-desktop`: the GUI entry point and its wiring."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
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
    p.add_argument("--no-sync", action="store_true", help="do not sync at start")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not has_display():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return EXIT_NO_DISPLAY

    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication, QMessageBox

    from tutormax_desktop.context import AppContext
    from tutormax_desktop.logging_setup import setup_logging

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("TutorMax Desktop")
    app.setOrganizationName("TutorMax")
    app.setApplicationVersion(__version__)
    try:
        ctx = AppContext.load()
    except ValueError as exc:
        QMessageBox.critical(None, "TutorMax Desktop", f"Cannot start: {exc}")
        return EXIT_NO_DISPLAY
    setup_logging(ctx.paths.log_file, verbose=args.verbose)
    if args.sandbox:
        ctx.settings.api_url = None
    window = build_window(ctx)
    window.show()
    window.vm.refresh()
    if not args.no_sync:
        window.vm.sync_now()
    code = app.exec()
    window.vm.cancel()
    QThreadPool.globalInstance().waitForDone(10_000)
    ctx.close()
    return int(code)


def build_window(ctx: Any) -> Any:
    """Wire the view model to the services for this context, and make the window."""
    from services.api.contract import SYNC_ORDER
    from services.sync.engine import SyncEngine
    from services.sync.outbox import drain_outbox
    from services.sync.status import sync_status
    from ui.main_window import MainWindow
    from viewmodels.sync_status import SyncViewModel

    engine = ctx.engine()
    sandbox = ctx.settings.uses_sandbox

    def run_sync(state: Any) -> Any:
        if sandbox:
            state.progress("Starting the sandbox marketplace…")
        client = ctx.api_client()
        try:
            sync = SyncEngine(
                engine,
                client,
                page_limit=ctx.settings.sync.page_limit,
                concurrency=ctx.settings.sync.concurrency,
                cancel=state.cancel_event,
                on_progress=state.progress,
                cadence_minutes=ctx.settings.sync.cadence_minutes,
            )
            drain_outbox(engine, client)
            return sync.sync(trigger="gui")
        finally:
            client.close()

    vm = SyncViewModel(list(SYNC_ORDER), run_sync, lambda: sync_status(engine))
    label = "built-in sandbox marketplace" if sandbox else str(ctx.settings.api_url)
    return MainWindow(vm, label, sandbox)


if __name__ == "__main__":
    raise SystemExit(main())
