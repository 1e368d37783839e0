"""A Critical alert reaches the desktop as a real org.freedesktop.Notifications.Notify
call on a session bus (dunst + a StatusNotifierWatcher + dbus-monitor, TESTING.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("drive_notification.py")


def _drive(desktop_notifications, *extra: str) -> dict:
    env = dict(
        os.environ,
        **desktop_notifications.env,
        QT_QPA_PLATFORM="xcb",
        PYTHONPATH=str(ROOT),
    )
    proc = subprocess.run(
        [sys.executable, str(DRIVER), *extra],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.xvfb
def test_a_critical_alert_becomes_a_desktop_notification_and_a_click_opens_it(
    desktop_notifications,
):
    summary = _drive(desktop_notifications, "--click")
    assert summary["platform"] == "xcb"
    assert summary["tray_available"], "Qt did not see the StatusNotifierWatcher"
    assert summary["decision"] == "deliver" and summary["desktop"]
    assert summary["second"] == "duplicate"
    deadline = time.monotonic() + 10
    while not desktop_notifications.notify_calls() and time.monotonic() < deadline:
        time.sleep(0.1)
    calls = desktop_notifications.notify_calls()
    assert len(calls) == 1, desktop_notifications.captured()
    call = calls[0]
    assert "interface=org.freedesktop.Notifications" in call
    assert 'string "Critical: Sarah Chen"' in call
    assert "72 % churn risk in 30 days" in call
    # Clicking it (dunst invokes the "default" action) opened the item: the window went
    # from System to the Dashboard, where the tutor is, and the inbox item is read.
    assert "member=ActionInvoked" in desktop_notifications.captured()
    assert summary["page"] == "dashboard"
    assert summary["unread"] == 0


@pytest.mark.xvfb
def test_quiet_hours_keep_it_in_the_inbox_only(desktop_notifications):
    summary = _drive(desktop_notifications, "--quiet-now")
    assert summary["tray_available"]
    assert summary["decision"] == "quiet hours" and not summary["desktop"]
    assert summary["unread"] == 1 and summary["page"] == "system"
    time.sleep(1)
    assert desktop_notifications.notify_calls() == []
