"""The real shell on an X display with a tray host on the session bus: a Critical alert
goes through the notification policy and out through the tray icon.

Started by test_desktop_notification.py as its own process. Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from services.notifications import critical_alert_event
from services.settings import NotificationSettings, Settings
from tutormax_desktop.context import AppContext
from tutormax_desktop.gui import build_shell
from tutormax_desktop.paths import app_paths


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quiet-now", action="store_true", help="quiet hours around the present")
    p.add_argument("--click", action="store_true", help="click the notification (dunstctl)")
    args = p.parse_args()
    app = QApplication(sys.argv[:1])
    app.setApplicationName("TutorMax Desktop")
    notifications = NotificationSettings(quiet_hours=False, timezone="UTC")
    if args.quiet_now:
        now = datetime.now(UTC)
        notifications = NotificationSettings(
            quiet_hours=True,
            quiet_start=(now - timedelta(hours=1)).strftime("%H:%M"),
            quiet_end=(now + timedelta(hours=1)).strftime("%H:%M"),
            timezone="UTC",
        )
    ctx = AppContext(app_paths().ensure(), Settings(notifications=notifications))
    shell = build_shell(ctx)
    window = shell.window
    window.show()
    wait(1500)  # the tray icon registers with the watcher
    tray = shell.tray
    event = critical_alert_event(
        alert_key="churn_critical:tutor:4242",
        subject="Sarah Chen",
        reason="72 % churn risk in 30 days; sessions down 40 % vs last month",
        target="dashboard/tutor/4242",
    )
    window.go_to(7)  # System: a click on the notification must bring us elsewhere
    decision = window.shell.notifications.post(event)
    again = window.shell.notifications.post(event)  # de-duplicated
    wait(2000)
    if args.click:
        # What a click does in dunst: invoke the notification's default action.
        import subprocess

        subprocess.run(["dunstctl", "action", "0"], check=False, timeout=10)
        wait(1500)
    summary = {
        "platform": app.platformName(),
        "tray_available": bool(tray and tray.available),
        "decision": decision.reason,
        "desktop": decision.desktop,
        "second": again.reason,
        "shown": [e.title for e in tray.shown] if tray else [],
        "unread": window.shell.notifications.unread,
        "page": window.shell.page_name,
    }
    print(json.dumps(summary))
    sys.stdout.flush()
    shell.shutdown()
    app.processEvents()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
