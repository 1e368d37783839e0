"""Critical alerts reach the tray through the notification policy, keyed on the alert's
identity: the same alert again is a duplicate, an acknowledged one does not ping."""

from __future__ import annotations

from types import SimpleNamespace

from services.metrics import CriticalTutor
from services.notifications import PolicySettings
from viewmodels.notifications import NotificationCenter
from viewmodels.shell import ShellViewModel


def critical(tid: int, key: str, state: str = "active") -> CriticalTutor:
    return CriticalTutor(
        tutor_id=tid,
        name=f"Tutor {tid}",
        risk_tier="Critical",
        p_churn_30d=0.8,
        reason="no sessions for 16 days",
        manager_id=1,
        open_intervention=False,
        alert_key=key,
        alert_id=tid * 10,
        alert_state=state,
    )


def test_critical_alerts_notify_once_per_alert_identity(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    center = NotificationCenter(
        tmp_path / "inbox.json", PolicySettings(quiet_hours=False, max_per_window=50)
    )
    desktop = []
    center.sig_desktop.connect(desktop.append)
    shell = SimpleNamespace(
        _notified_run=None, notifications=center, notify=center.post, notice=lambda *a: None
    )
    rows = (
        critical(1, "churn_risk:tutor:1"),
        critical(2, "no_sessions:tutor:2"),
        critical(3, "churn_risk:tutor:3", state="acknowledged"),
    )
    ShellViewModel._notify_critical(shell, SimpleNamespace(scoring_run={"id": 1}, critical=rows))
    keys = [i.event.key for i in center.items()]
    assert sorted(keys) == ["alert:churn_risk:tutor:1", "alert:no_sessions:tutor:2"]
    assert {e.target for e in desktop} == {"alerts/10", "alerts/20"}
    # The next scoring run finds the same open alerts: nothing new on the desktop.
    ShellViewModel._notify_critical(shell, SimpleNamespace(scoring_run={"id": 2}, critical=rows))
    assert len(desktop) == 2 and len(center.items()) == 2
    center.stop()


def test_a_scoring_runs_alerts_list_most_urgent_first_and_pop_the_most_urgent(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    # The rate limit allows one desktop pop: it must go to the most urgent alert, and
    # the inbox (newest on top) must list the run's alerts in their order of urgency.
    center = NotificationCenter(
        tmp_path / "inbox.json", PolicySettings(quiet_hours=False, max_per_window=1)
    )
    desktop = []
    center.sig_desktop.connect(desktop.append)
    shell = SimpleNamespace(
        _notified_run=None, notifications=center, notify=center.post, notice=lambda *a: None
    )
    rows = tuple(critical(t, f"churn_risk:tutor:{t}") for t in (7, 3, 5))  # most urgent first
    ShellViewModel._notify_critical(shell, SimpleNamespace(scoring_run={"id": 1}, critical=rows))
    keys = [i.event.key for i in center.items()]
    assert keys == [f"alert:churn_risk:tutor:{t}" for t in (7, 3, 5)]
    assert [e.target for e in desktop] == ["alerts/70"]
    assert center.unread == 3
    center.stop()
