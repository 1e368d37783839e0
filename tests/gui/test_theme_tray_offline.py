"""The theme follows the OS and re-colours the charts; the tray menu is built from the
current state; a missing tray is announced once; an unreachable API means offline."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon

import ui.theme
from services.notifications import PolicySettings, critical_alert_event
from services.settings import Settings
from tests.gui.conftest import wait_ready
from ui.theme import DARK, LIGHT
from ui.tray import TrayController
from viewmodels.notifications import NotificationCenter
from viewmodels.sync_status import SyncViewModel
from viewmodels.tasks import TaskRunner


def test_the_theme_follows_the_os_and_recolours_charts(qtbot, make_window, monkeypatch):
    window = make_window(Settings(), start=False)
    window.set_theme_mode("system")
    assert window.theme.theme == LIGHT  # offscreen reports no preference
    changes = []
    window.theme.sig_theme_changed.connect(changes.append)
    monkeypatch.setattr(ui.theme, "system_prefers_dark", lambda: True)
    # What Qt emits when the desktop switches to dark.
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert changes == [DARK]
    assert window.dashboard_page.heatmap.backgroundBrush().color() == QColor(DARK.card)
    assert window.palette().window().color() == QColor(DARK.window)
    # An explicit choice wins over the OS.
    window.set_theme_mode("light")
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert window.theme.theme == LIGHT
    window.set_theme_mode("system")


def test_the_tray_menu_is_built_from_the_current_state(qtbot, tmp_path):
    runner = TaskRunner()
    sync = SyncViewModel(runner, ["sessions"], lambda *a: None, lambda: {"resources": {}})
    center = NotificationCenter(None, PolicySettings(quiet_hours=False))
    ui_settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    tray = TrayController(center, sync, QIcon(), ui_settings, available=True)
    try:

        def texts() -> list[str]:
            tray.menu.aboutToShow.emit()
            return [a.text() for a in tray.menu.actions() if not a.isSeparator()]

        assert texts() == [
            "Open TutorMax Desktop",
            "Sync now",
            "Never synced",
            "No unread notifications",
            "Quit",
        ]
        center.post(
            critical_alert_event(
                alert_key="churn:tutor:1", subject="Sarah Chen", reason="72 %", target="alerts/1"
            )
        )
        assert tray.shown[-1].title == "Critical: Sarah Chen"
        assert "1 unread" in tray.tray.toolTip()
        sync._set_busy(True)
        items = texts()
        assert items[1] == "Syncing…"
        assert not tray.menu.actions()[1].isEnabled()
        assert "1 unread notifications" in items
        assert "Critical: Sarah Chen" in items
        assert "Mark all read" in items
        opened = []
        center.sig_open_target.connect(opened.append)
        next(a for a in tray.menu.actions() if a.text() == "Critical: Sarah Chen").trigger()
        assert opened == ["alerts/1"] and center.unread == 0
    finally:
        sync._set_busy(False)
        tray.hide()
        center.stop()
        runner.shutdown()


def test_a_missing_tray_is_announced_once_ever(qtbot, tmp_path):
    runner = TaskRunner()
    sync = SyncViewModel(runner, [], lambda *a: None, lambda: {"resources": {}})
    center = NotificationCenter(None)
    ui_settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    notices = []
    try:
        tray = TrayController(center, sync, QIcon(), ui_settings, available=False)
        assert tray.announce_missing_tray(lambda *args: notices.append(args))
        assert not tray.announce_missing_tray(lambda *args: notices.append(args))
        again = TrayController(center, sync, QIcon(), ui_settings, available=False)
        assert not again.announce_missing_tray(lambda *args: notices.append(args))
        assert len(notices) == 1 and notices[0][1] == "No system tray on this desktop"
    finally:
        center.stop()
        runner.shutdown()


def test_an_unreachable_api_means_offline_and_the_app_keeps_working(
    qtbot, make_window, monkeypatch
):
    monkeypatch.setenv("TUTORMAX_API_TOKEN", "x" * 20)
    # Port 9 (discard) on loopback: nothing listens; the connection is refused at once.
    window = make_window(Settings(api_url="http://127.0.0.1:9"))
    window.show()
    wait_ready(qtbot, window)
    with qtbot.waitSignal(window.shell.sync.sig_connection_changed, timeout=30_000) as changed:
        window.sync_now()
    assert changed.args == ["offline"]
    assert window.offline_badge.isVisible() and window.offline_badge.text() == "Offline"
    qtbot.waitUntil(lambda: window.age.text().startswith("Offline"), timeout=5000)
    # Still working from the local database: pages load, navigation works.
    qtbot.waitUntil(lambda: window.shell.dashboard.dashboard is not None, timeout=10_000)
    window.go_to(7)
    assert window.shell.page_name == "system"
    assert Path(window.shell.backend.data_dir).exists()


def test_the_built_in_sandbox_serves_from_its_own_process(qtbot, make_window):
    settings = Settings()
    settings.sandbox.scale = "tiny"
    window = make_window(settings)
    assert window.sandbox_badge.isVisibleTo(window)
    wait_ready(qtbot, window)
    with qtbot.waitSignal(window.shell.sync.sig_sync_landed, timeout=120_000) as landed:
        window.sync_now()
    assert landed.args[0].status == "ok"
    backend = window.shell.backend
    proc = backend._sandbox_proc
    assert proc is not None and proc.poll() is None  # served by a child process
    # below the app's priority, and tied to the app's life (tests/sync: killed app)
    if hasattr(os, "getpriority"):
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(19, own + 10)
    assert proc.args[-2:] == ["--app-pid", str(os.getpid())]
    qtbot.waitUntil(lambda: window.shell.sync.model.value("sessions", "rows") > 0, timeout=10_000)
    backend.stop_sandbox()
    assert proc.poll() is not None
