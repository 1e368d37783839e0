"""Run the real main window on an X display, sync, and screenshot the screen.

Started by test_real_window.py as its own process, because a Qt process picks its
platform (xcb here, offscreen in the rest of the suite) once, at start.
"""

from __future__ import annotations

import argparse
import sys

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from services.settings import Settings
from tutormax_desktop.context import AppContext
from tutormax_desktop.gui import build_window
from tutormax_desktop.paths import app_paths


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--api-url", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    app = QApplication(sys.argv[:1])
    if app.platformName() != "xcb":
        print(f"expected the xcb platform, got {app.platformName()}", file=sys.stderr)
        return 3
    ctx = AppContext(app_paths().ensure(), Settings(api_url=args.api_url))
    window = build_window(ctx)
    window.show()
    loop = QEventLoop()
    window.vm.sig_busy_changed.connect(lambda busy: None if busy else loop.quit())
    QTimer.singleShot(60_000, loop.quit)
    window.vm.sync_now()
    loop.exec()
    # Let the status refresh land and the window repaint before the screenshot.
    settle = QEventLoop()
    QTimer.singleShot(1500, settle.quit)
    settle.exec()
    ok = window.vm.model.value("sessions", "rows") > 0
    shot = app.primaryScreen().grabWindow(0)
    saved = shot.save(args.out)
    print(f"rows={window.vm.model.value('sessions', 'rows')} saved={saved}")
    window.close()
    ctx.close()
    return 0 if ok and saved else 1


if __name__ == "__main__":
    raise SystemExit(main())
