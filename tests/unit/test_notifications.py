"""The notification policy: de-duplication, rate limit, quiet hours in the user's zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.notifications import (
    NOTICE,
    Inbox,
    NotificationEvent,
    NotificationPolicy,
    PolicySettings,
    critical_alert_event,
    in_quiet_hours,
    sla_breach_event,
)
from services.settings import NotificationSettings

NOON = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # 12:00 in New York
NY = ZoneInfo("America/New_York")


def _event(i: int, severity: str = "critical", at: datetime = NOON) -> NotificationEvent:
    return critical_alert_event(
        alert_key=f"churn:tutor:{i}",
        subject=f"Tutor {i}",
        reason="P(churn 30 d) 72 %",
        target=f"alerts/{i}",
        at=at,
        severity=severity,
    )


def test_duplicates_are_dropped_unless_severity_rises():
    policy = NotificationPolicy(PolicySettings(tz=NY))
    first = policy.decide(_event(1, "high"), NOON)
    assert first.desktop and first.inbox
    assert policy.decide(_event(1, "high"), NOON + timedelta(minutes=5)).reason == "duplicate"
    # The same alert rising to critical is news.
    assert policy.decide(_event(1, "critical"), NOON + timedelta(minutes=6)).desktop
    # ... and after the de-dup window it may notify again.
    assert policy.decide(_event(1, "critical"), NOON + timedelta(hours=25)).desktop


def test_rate_limit_holds_back_and_sums_up_later():
    policy = NotificationPolicy(PolicySettings(tz=NY, max_per_window=3))
    decisions = [policy.decide(_event(i), NOON + timedelta(seconds=i)) for i in range(5)]
    assert [d.desktop for d in decisions] == [True, True, True, False, False]
    assert all(d.inbox for d in decisions)
    assert decisions[3].reason == "rate limited"
    assert policy.pending_summary(NOON + timedelta(minutes=1)) is None  # window still full
    summary = policy.pending_summary(NOON + timedelta(minutes=11))
    assert summary is not None
    assert summary.title == "2 notifications held back"
    assert summary.body.startswith("2 critical")
    assert summary.target == "inbox"
    assert policy.pending_summary(NOON + timedelta(minutes=12)) is None


def test_quiet_hours_in_the_users_zone():
    settings = PolicySettings(tz=NY, quiet_start=time(22), quiet_end=time(7))
    policy = NotificationPolicy(settings)
    # 03:30 UTC is 22:30 in New York: quiet, though it is the middle of the day in UTC terms
    late = datetime(2026, 11, 21, 3, 30, tzinfo=UTC)
    d = policy.decide(_event(1), late)
    assert not d.desktop and d.inbox and d.reason == "quiet hours"
    assert policy.pending_summary(late + timedelta(hours=1)) is None
    morning = datetime(2026, 11, 21, 12, 5, tzinfo=UTC)  # 07:05 New York
    summary = policy.pending_summary(morning)
    assert summary is not None and summary.title == "1 notification held back"
    assert in_quiet_hours(datetime(2026, 11, 21, 11, 59, tzinfo=UTC), time(22), time(7), NY)
    assert not in_quiet_hours(NOON, time(22), time(7), NY)
    assert in_quiet_hours(NOON, time(9), time(17), NY)  # a day-time window, no wrap
    assert not in_quiet_hours(NOON, time(9), time(9), NY)  # empty window


def test_kinds_and_switches():
    policy = NotificationPolicy(PolicySettings(tz=NY))
    notice = NotificationEvent("n1", NOTICE, "info", "No tray", "Use the inbox", "inbox")
    assert policy.decide(notice, NOON).reason == "inbox only"
    breach = sla_breach_event(
        intervention_key="7", subject="Sarah Chen", due_at=NOON, target="interventions/7"
    )
    assert policy.decide(breach, NOON).desktop
    off = NotificationPolicy(PolicySettings(desktop=False))
    assert off.decide(_event(1), NOON).reason == "desktop notifications are off"


def test_policy_settings_from_the_app_settings():
    s = NotificationSettings(
        quiet_start="21:30", quiet_end="06:00", timezone="Europe/Berlin", max_per_window=2
    )
    p = PolicySettings.from_settings(s)
    assert p.quiet_start == time(21, 30) and p.quiet_end == time(6)
    assert p.tz == ZoneInfo("Europe/Berlin") and p.max_per_window == 2


def test_inbox_counts_unread_and_survives_a_restart(tmp_path):
    path = tmp_path / "inbox.json"
    inbox = Inbox.load(path)
    for i in range(3):
        inbox.add(_event(i), at=NOON, desktop=i == 0)
    assert inbox.unread == 3
    assert inbox.items[0].event.key == "alert:churn:tutor:2"  # newest first
    assert inbox.mark_read("alert:churn:tutor:1")
    assert not inbox.mark_read("alert:churn:tutor:1")
    assert inbox.unread == 2
    policy = NotificationPolicy()
    policy.decide(_event(9), NOON)
    inbox.save(policy.seen_keys())
    again = Inbox.load(path)
    assert again.unread == 2 and len(again.items) == 3
    assert again.items[2].desktop
    restored = NotificationPolicy()
    restored.restore_seen(again.seen)
    assert restored.decide(_event(9), NOON + timedelta(minutes=1)).reason == "duplicate"
    assert again.mark_all_read() == 2 and again.unread == 0
    path.write_text("garbage")
    assert Inbox.load(path).items == []
