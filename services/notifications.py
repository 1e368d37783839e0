"""Which events reach the desktop as notifications, and the in-app inbox. No Qt.

Alerts (Critical ones), SLA breaches and the app's own notices arrive here as
:class:`NotificationEvent`; :class:`NotificationPolicy` decides, for each, whether it
goes to the desktop (tray balloon / ``org.freedesktop.Notifications``), only to the
inbox, or nowhere:

- **de-duplicated** on the event's ``key`` (its identity, e.g. ``alert:churn:tutor:42``,
  never its text): the same key within ``dedupe_hours`` is dropped, unless its severity
  rose;
- **rate-limited**: at most ``max_per_window`` desktop notifications per
  ``window_minutes``; the rest go to the inbox only and are summed up in one
  "N more" notification once the window allows (:meth:`NotificationPolicy.pending_summary`);
- **quiet hours** in the user's time zone (``22:00``-``07:00`` by default, wrapping
  midnight): inbox only, with a summary when they end;
- the inbox keeps every event that was not a duplicate, read or unread.

The Qt side (viewmodels.notifications) only shows what this module decided.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from services.scheduler import parse_hhmm, user_zone

log = logging.getLogger(__name__)

SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
INBOX_LIMIT = 500

CRITICAL_ALERT = "critical_alert"
SLA_BREACH = "sla_breach"
NOTICE = "notice"
SUMMARY = "summary"


@dataclass(frozen=True)
class NotificationEvent:
    key: str  # identity: the same thing happening again has the same key
    kind: str  # critical_alert / sla_breach / notice / summary
    severity: str  # critical / high / medium / low / info
    title: str
    body: str
    # Where a click leads: "<page>" or "<page>/<id>", e.g. "alerts/123", "interventions/7".
    target: str = ""
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "severity": self.severity,
            "title": self.title,
            "body": self.body,
            "target": self.target,
            "occurred_at": self.occurred_at.isoformat(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> NotificationEvent:
        at = datetime.fromisoformat(raw["occurred_at"])
        return cls(
            key=str(raw["key"]),
            kind=str(raw.get("kind", NOTICE)),
            severity=str(raw.get("severity", "info")),
            title=str(raw.get("title", "")),
            body=str(raw.get("body", "")),
            target=str(raw.get("target", "")),
            occurred_at=at if at.tzinfo else at.replace(tzinfo=UTC),
        )


@dataclass(frozen=True)
class PolicySettings:
    desktop: bool = True
    # Which kinds may reach the desktop at all (others: inbox only).
    desktop_kinds: frozenset[str] = frozenset({CRITICAL_ALERT, SLA_BREACH, SUMMARY})
    quiet_hours: bool = True
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)
    tz: tzinfo = UTC
    max_per_window: int = 5
    window: timedelta = timedelta(minutes=10)
    dedupe: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, s: Any) -> PolicySettings:
        """From ``services.settings.NotificationSettings`` (duck-typed)."""
        return cls(
            desktop=bool(s.desktop),
            quiet_hours=bool(s.quiet_hours),
            quiet_start=parse_hhmm(s.quiet_start),
            quiet_end=parse_hhmm(s.quiet_end),
            tz=user_zone(s.timezone),
            max_per_window=int(s.max_per_window),
            window=timedelta(minutes=s.window_minutes),
            dedupe=timedelta(hours=s.dedupe_hours),
        )


@dataclass(frozen=True)
class Decision:
    desktop: bool
    inbox: bool
    reason: str  # "deliver" / "duplicate" / "quiet hours" / "rate limited" / "disabled" / ...


def in_quiet_hours(now: datetime, start: time, end: time, tz: tzinfo) -> bool:
    """Whether ``now`` falls in [start, end) local time; wraps midnight when start > end."""
    if start == end:
        return False
    t = now.astimezone(tz).time().replace(tzinfo=None)
    if start < end:
        return start <= t < end
    return t >= start or t < end


class NotificationPolicy:
    """Stateful: remembers recent keys and recent desktop deliveries."""

    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.settings = settings or PolicySettings()
        self._seen: dict[str, tuple[datetime, int]] = {}  # key -> (last seen, severity rank)
        self._delivered: deque[datetime] = deque()
        self._held: list[NotificationEvent] = []  # inbox-only because of quiet/rate limits

    def decide(self, event: NotificationEvent, now: datetime) -> Decision:
        s = self.settings
        rank = SEVERITY_RANK.get(event.severity, 0)
        seen = self._seen.get(event.key)
        if seen is not None and now - seen[0] < s.dedupe and rank <= seen[1]:
            return Decision(False, False, "duplicate")
        self._seen[event.key] = (now, max(rank, seen[1] if seen else 0))
        self._forget_old(now)
        if not s.desktop:
            return Decision(False, True, "desktop notifications are off")
        if event.kind not in s.desktop_kinds:
            return Decision(False, True, "inbox only")
        if s.quiet_hours and in_quiet_hours(now, s.quiet_start, s.quiet_end, s.tz):
            self._held.append(event)
            return Decision(False, True, "quiet hours")
        if len(self._delivered) >= s.max_per_window:
            self._held.append(event)
            return Decision(False, True, "rate limited")
        self._delivered.append(now)
        return Decision(True, True, "deliver")

    def pending_summary(self, now: datetime) -> NotificationEvent | None:
        """One "N more" notification for what quiet hours or the rate limit held back,
        once a desktop notification is allowed again; None otherwise."""
        s = self.settings
        self._forget_old(now)
        if not self._held or not s.desktop:
            return None
        if s.quiet_hours and in_quiet_hours(now, s.quiet_start, s.quiet_end, s.tz):
            return None
        if len(self._delivered) >= s.max_per_window:
            return None
        held, self._held = self._held, []
        critical = sum(1 for e in held if e.severity == "critical")
        n = len(held)
        title = f"{n} notification{'s' if n != 1 else ''} held back"
        body = (
            f"{critical} critical. " if critical else ""
        ) + "Open the inbox in TutorMax Desktop to see them."
        self._delivered.append(now)
        return NotificationEvent(
            key=f"summary:{now.isoformat()}",
            kind=SUMMARY,
            severity="critical" if critical else "info",
            title=title,
            body=body,
            target="inbox",
            occurred_at=now,
        )

    def _forget_old(self, now: datetime) -> None:
        window = self.settings.window
        while self._delivered and now - self._delivered[0] >= window:
            self._delivered.popleft()
        if len(self._seen) > 5000:
            cutoff = now - self.settings.dedupe
            self._seen = {k: v for k, v in self._seen.items() if v[0] >= cutoff}

    def seen_keys(self) -> dict[str, tuple[datetime, int]]:
        return dict(self._seen)

    def restore_seen(self, seen: dict[str, tuple[datetime, int]]) -> None:
        self._seen.update(seen)


# ---------------------------------------------------------------------- inbox


@dataclass
class InboxItem:
    event: NotificationEvent
    received_at: datetime
    read: bool = False
    desktop: bool = False  # whether it was also shown on the desktop

    def as_json(self) -> dict[str, Any]:
        return {
            "event": self.event.as_json(),
            "received_at": self.received_at.isoformat(),
            "read": self.read,
            "desktop": self.desktop,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> InboxItem:
        at = datetime.fromisoformat(raw["received_at"])
        return cls(
            event=NotificationEvent.from_json(raw["event"]),
            received_at=at if at.tzinfo else at.replace(tzinfo=UTC),
            read=bool(raw.get("read", False)),
            desktop=bool(raw.get("desktop", False)),
        )


class Inbox:
    """Newest first; persisted to a JSON file (with the policy's recent keys)."""

    def __init__(self, path: Path | None = None, limit: int = INBOX_LIMIT) -> None:
        self.path = path
        self.limit = limit
        self.items: list[InboxItem] = []
        self.seen: dict[str, tuple[datetime, int]] = {}

    @property
    def unread(self) -> int:
        return sum(1 for i in self.items if not i.read)

    def add(self, event: NotificationEvent, *, at: datetime, desktop: bool) -> InboxItem:
        item = InboxItem(event, at, read=False, desktop=desktop)
        self.items.insert(0, item)
        del self.items[self.limit :]
        return item

    def find(self, key: str) -> InboxItem | None:
        return next((i for i in self.items if i.event.key == key), None)

    def mark_read(self, key: str) -> bool:
        item = self.find(key)
        if item is None or item.read:
            return False
        item.read = True
        return True

    def mark_all_read(self) -> int:
        n = 0
        for i in self.items:
            if not i.read:
                i.read, n = True, n + 1
        return n

    def clear(self) -> None:
        self.items.clear()

    # ------------------------------------------------------------------ file

    @classmethod
    def load(cls, path: Path | None) -> Inbox:
        inbox = cls(path)
        if path is None or not path.exists():
            return inbox
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            inbox.items = [InboxItem.from_json(r) for r in raw.get("items", [])]
            for key, (at, rank) in (raw.get("seen") or {}).items():
                when = datetime.fromisoformat(at)
                inbox.seen[key] = (when if when.tzinfo else when.replace(tzinfo=UTC), int(rank))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("inbox %s unreadable (%s); starting empty", path, exc)
            inbox.items, inbox.seen = [], {}
        return inbox

    def save(self, seen: dict[str, tuple[datetime, int]] | None = None) -> None:
        if self.path is None:
            return
        if seen is not None:
            self.seen = dict(seen)
        data = {
            "version": 1,
            "items": [i.as_json() for i in self.items],
            "seen": {k: [v[0].isoformat(), v[1]] for k, v in self.seen.items()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".inbox-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            log.warning("could not save the inbox to %s: %s", self.path, exc)


def critical_alert_event(
    *,
    alert_key: str,
    subject: str,
    reason: str,
    target: str,
    at: datetime | None = None,
    severity: str = "critical",
) -> NotificationEvent:
    """The notification for a Critical alert (issue 5's alert engine feeds these)."""
    return NotificationEvent(
        key=f"alert:{alert_key}",
        kind=CRITICAL_ALERT,
        severity=severity,
        title=f"Critical: {subject}",
        body=reason,
        target=target,
        occurred_at=at or datetime.now(UTC),
    )


def sla_breach_event(
    *, intervention_key: str, subject: str, due_at: datetime, target: str
) -> NotificationEvent:
    return NotificationEvent(
        key=f"sla:{intervention_key}",
        kind=SLA_BREACH,
        severity="high",
        title=f"SLA breached: {subject}",
        body=f"Was due {due_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        target=target,
        occurred_at=datetime.now(UTC),
    )
