"""Notifications for the window and the tray: the policy's decisions, the in-app inbox.

``post(event)`` asks ``services.notifications.NotificationPolicy`` what to do; a desktop
notification goes out through ``sig_desktop`` (the tray shows it), every event that is
not a duplicate lands in the inbox (``inbox`` table model, ``unread`` property). A timer
sends the "N held back" summary when quiet hours or the rate limit end. Clicking an
item (``open_item``) marks it read and asks the window to open its target.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
    Slot,
)

from services.notifications import (
    Inbox,
    InboxItem,
    NotificationEvent,
    NotificationPolicy,
    PolicySettings,
)

Index = QModelIndex | QPersistentModelIndex

KEY_ROLE = Qt.ItemDataRole.UserRole + 30
READ_ROLE = Qt.ItemDataRole.UserRole + 31
SEVERITY_ROLE = Qt.ItemDataRole.UserRole + 32
TARGET_ROLE = Qt.ItemDataRole.UserRole + 33
TITLE_ROLE = Qt.ItemDataRole.UserRole + 34
BODY_ROLE = Qt.ItemDataRole.UserRole + 35
TIME_ROLE = Qt.ItemDataRole.UserRole + 36


class InboxModel(QAbstractListModel):
    def __init__(self, inbox: Inbox, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._inbox = inbox

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._inbox.items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item: InboxItem = self._inbox.items[index.row()]
        ev = item.event
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{ev.title}\n{ev.body}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{ev.title}\n{ev.body}\n{item.received_at.astimezone():%Y-%m-%d %H:%M}"
        return {
            KEY_ROLE: ev.key,
            READ_ROLE: item.read,
            SEVERITY_ROLE: ev.severity,
            TARGET_ROLE: ev.target,
            TITLE_ROLE: ev.title,
            BODY_ROLE: ev.body,
            TIME_ROLE: item.received_at,
        }.get(role)

    def inserted_at_top(self) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self.endInsertRows()

    def reset(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def changed(self, key: str) -> None:
        for r, item in enumerate(self._inbox.items):
            if item.event.key == key:
                idx = self.index(r, 0)
                self.dataChanged.emit(idx, idx)
                return


class NotificationCenter(QObject):
    sig_desktop = Signal(object)
    """A NotificationEvent to show on the desktop now."""
    sig_unread_changed = Signal(int)
    sig_open_target = Signal(str)
    """"alerts/123", "interventions/7", "inbox", ... : the window navigates there."""
    sig_posted = Signal(object, object)
    """Every event the policy looked at, with its Decision (for tests and the log)."""

    def __init__(
        self,
        inbox_path: Path | None,
        settings: PolicySettings | None = None,
        parent: QObject | None = None,
        *,
        summary_interval_ms: int = 60_000,
        save_delay_ms: int = 1500,
    ) -> None:
        super().__init__(parent)
        self.policy = NotificationPolicy(settings)
        self._inbox = Inbox.load(inbox_path)
        self.policy.restore_seen(self._inbox.seen)
        self.inbox = InboxModel(self._inbox, self)
        self._unread = self._inbox.unread
        self._summary_timer = QTimer(self)
        self._summary_timer.setInterval(summary_interval_ms)
        self._summary_timer.timeout.connect(self.flush_summary)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(save_delay_ms)
        self._save_timer.timeout.connect(self.save)

    @property
    def unread(self) -> int:
        return self._unread

    def items(self) -> list[InboxItem]:
        return list(self._inbox.items)

    def start(self) -> None:
        self._summary_timer.start()

    def stop(self) -> None:
        self._summary_timer.stop()
        if self._save_timer.isActive():
            self._save_timer.stop()
        self.save()

    def set_settings(self, settings: PolicySettings) -> None:
        self.policy.settings = settings

    def _update_unread(self) -> None:
        n = self._inbox.unread
        if n != self._unread:
            self._unread = n
            self.sig_unread_changed.emit(n)

    # ------------------------------------------------------------------ commands

    def post(self, event: NotificationEvent, now: datetime | None = None) -> Any:
        return self.post_batch([event], now)[0]

    def post_batch(self, events: list[NotificationEvent], now: datetime | None = None) -> list[Any]:
        """Events of one moment, most urgent first. The policy decides them in that order
        (the desktop pops its rate limit allows go to the most urgent), and the inbox,
        newest on top, lists them in that order too: posted one by one, the least
        urgent of a scoring run would end up on top."""
        now = now or datetime.now(UTC)
        decided = [(event, self.policy.decide(event, now)) for event in events]
        added = False
        for event, decision in reversed(decided):
            if decision.inbox:
                self._inbox.add(event, at=now, desktop=decision.desktop)
                self.inbox.inserted_at_top()
                added = True
        if added:
            self._update_unread()
            self._save_timer.start()
        for event, decision in decided:
            if decision.desktop:
                self.sig_desktop.emit(event)
            self.sig_posted.emit(event, decision)
        return [decision for _, decision in decided]

    @Slot()
    def flush_summary(self, now: datetime | None = None) -> None:
        summary = self.policy.pending_summary(now or datetime.now(UTC))
        if summary is not None:
            self.sig_desktop.emit(summary)

    @Slot(str)
    def open_item(self, key: str) -> None:
        item = self._inbox.find(key)
        if item is None:
            return
        if self._inbox.mark_read(key):
            self.inbox.changed(key)
            self._update_unread()
            self._save_timer.start()
        self.sig_open_target.emit(item.event.target)

    def open_event(self, event: NotificationEvent) -> None:
        """A click on a desktop notification: its inbox item if any, else its target."""
        if self._inbox.find(event.key) is not None:
            self.open_item(event.key)
        else:
            self.sig_open_target.emit(event.target)

    @Slot()
    def mark_all_read(self) -> None:
        if self._inbox.mark_all_read():
            self.inbox.reset()
            self._update_unread()
            self._save_timer.start()

    @Slot()
    def save(self) -> None:
        self._inbox.save(self.policy.seen_keys())
