"""The system-tray icon: unread count, a menu built from the current state, notifications.

On Linux desktops with a StatusNotifierWatcher, Qt's tray is a StatusNotifierItem and
``showMessage`` is a real ``org.freedesktop.Notifications.Notify`` call. Where no tray
exists (stock GNOME, offscreen) the controller says so once, through the in-app inbox,
and the window's close button quits instead of hiding.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ui.theme import badge_icon
from viewmodels.notifications import KEY_ROLE, READ_ROLE, TITLE_ROLE, NotificationCenter
from viewmodels.sync_status import SyncViewModel

NO_TRAY_KEY = "tray/no_tray_notice_shown"
MENU_ITEMS = 5


class TrayController(QObject):
    sig_show_window = Signal()
    sig_quit = Signal()

    def __init__(
        self,
        notifications: NotificationCenter,
        sync: SyncViewModel,
        app_icon: QIcon,
        ui_settings: QSettings,
        parent: QObject | None = None,
        *,
        available: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.notifications = notifications
        self.sync = sync
        self.app_icon = app_icon
        self.ui_settings = ui_settings
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if available is None else available
        self.tray: QSystemTrayIcon | None = None
        self.menu: QMenu | None = None
        self.last_event: Any = None
        self.shown: list[Any] = []  # every event shown on the desktop (tests read it)
        notifications.sig_desktop.connect(self.show_event)
        notifications.sig_unread_changed.connect(self._update_icon)
        if self.available:
            self.tray = QSystemTrayIcon(app_icon, self)
            self.menu = QMenu()
            self.menu.aboutToShow.connect(self.build_menu)
            self.tray.setContextMenu(self.menu)
            self.tray.activated.connect(self._on_activated)
            self.tray.messageClicked.connect(self._on_message_clicked)
            self._update_icon(notifications.unread)
            self.build_menu()
            self.tray.show()

    # ------------------------------------------------------------------ start-up

    def announce_missing_tray(self, notice: Any) -> bool:
        """Where there is no tray, say so once (ever), in the inbox."""
        if self.available or self.ui_settings.value(NO_TRAY_KEY, False, type=bool):
            return False
        self.ui_settings.setValue(NO_TRAY_KEY, True)
        notice(
            "no-system-tray",
            "No system tray on this desktop",
            "TutorMax Desktop cannot put an icon in the tray here, so closing the window "
            "quits the app and notifications collect in this inbox (the bell in the "
            "status bar).",
        )
        return True

    # ------------------------------------------------------------------ menu

    def build_menu(self) -> None:
        """Rebuilt from the current state each time the menu opens."""
        menu = self.menu
        if menu is None:
            return
        menu.clear()
        menu.addAction("Open TutorMax Desktop", self.sig_show_window.emit)
        sync = menu.addAction("Syncing…" if self.sync.busy else "Sync now", self.sync.sync_now)
        sync.setEnabled(not self.sync.busy)
        age = QAction(self.sync.age_text or "Never synced", menu)
        age.setEnabled(False)
        menu.addAction(age)
        menu.addSeparator()
        model = self.notifications.inbox
        unread = [
            model.index(r, 0)
            for r in range(model.rowCount())
            if not model.index(r, 0).data(READ_ROLE)
        ][:MENU_ITEMS]
        header = QAction(
            f"{self.notifications.unread} unread notifications"
            if self.notifications.unread
            else "No unread notifications",
            menu,
        )
        header.setEnabled(False)
        menu.addAction(header)
        for idx in unread:
            key = str(idx.data(KEY_ROLE))
            menu.addAction(
                str(idx.data(TITLE_ROLE)),
                lambda key=key: self.notifications.open_item(key),
            )
        if self.notifications.unread:
            menu.addAction("Mark all read", self.notifications.mark_all_read)
        menu.addSeparator()
        menu.addAction("Quit", self.sig_quit.emit)

    # ------------------------------------------------------------------ notifications

    def show_event(self, event: Any) -> None:
        self.last_event = event
        self.shown.append(event)
        if self.tray is None:
            return  # the inbox has it
        kind = (
            QSystemTrayIcon.MessageIcon.Critical
            if event.severity == "critical"
            else QSystemTrayIcon.MessageIcon.Warning
            if event.severity == "high"
            else QSystemTrayIcon.MessageIcon.Information
        )
        self.tray.showMessage(event.title, event.body, kind, 15_000)

    def show_hint(self, title: str, body: str) -> None:
        if self.tray is not None:
            self.tray.showMessage(title, body, QSystemTrayIcon.MessageIcon.Information, 5000)

    def _on_message_clicked(self) -> None:
        if self.last_event is not None:
            self.notifications.open_event(self.last_event)
        self.sig_show_window.emit()

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.sig_show_window.emit()

    def _update_icon(self, unread: int) -> None:
        if self.tray is None:
            return
        self.tray.setIcon(badge_icon(self.app_icon, unread))
        self.tray.setToolTip(f"TutorMax Desktop: {unread} unread" if unread else "TutorMax Desktop")

    def hide(self) -> None:
        if self.tray is not None:
            self.tray.hide()
