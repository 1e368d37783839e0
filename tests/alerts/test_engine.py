"""Reconciliation: one open alert per (rule, subject), cooldowns, escalation, clearing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from services.alerts import Finding, Rule, apply_action, evaluate_alerts, registered_rules
from services.db.models import Alert, AuditEntry
from services.settings import AlertSettings
from tests.alerts.conftest import AS_OF, DAY, Market

HOUR = timedelta(hours=1)
CHURN = registered_rules()["churn_risk"]


def churn(market: Market, now=AS_OF, settings=None):  # type: ignore[no-untyped-def]
    return evaluate_alerts(market.engine, settings, rules=[CHURN], now=now)


def rescore(market: Market, p30_by_tutor: dict[int, float]) -> None:
    """A new scoring run with these tutors at these risks."""
    market.new_run()
    for tid, p30 in p30_by_tutor.items():
        market.tutor(tid, p30=p30, login=False)


def alerts(market: Market) -> list:
    with market.engine.connect() as conn:
        return conn.execute(select(Alert.__table__).order_by(Alert.id)).all()


def audit_actions(market: Market, alert_id: int) -> list[str]:
    with market.engine.connect() as conn:
        return list(
            conn.execute(
                select(AuditEntry.action)
                .where(AuditEntry.entity_type == "alert", AuditEntry.entity_id == str(alert_id))
                .order_by(AuditEntry.id)
            ).scalars()
        )


def test_one_open_alert_per_rule_and_subject(market: Market) -> None:
    market.tutor(2, p30=0.75)
    first = churn(market)
    assert [a.subject_id for a in first.new] == ["2"]
    rescore(market, {2: 0.78})
    again = churn(market, now=AS_OF + HOUR)
    assert again.new == [] and again.escalated == []
    assert again.updated == 1  # the new figures replaced the old ones in place
    rows = alerts(market)
    assert len(rows) == 1 and rows[0].facts["p_churn_30d"] == 0.78
    assert rows[0].last_seen_at > rows[0].created_at
    # The database refuses a second open alert of the same key, whoever writes it.
    with pytest.raises(Exception, match=r"(?i)unique"), market.engine.begin() as conn:
        conn.execute(
            insert(Alert).values(
                key=rows[0].key,
                open_key=rows[0].key,
                rule="churn_risk",
                subject_type="tutor",
                subject_id="2",
                severity="High",
                priority=1,
                title="dup",
            )
        )


def test_unchanged_findings_write_nothing_but_last_seen(market: Market) -> None:
    market.tutor(2, p30=0.75)
    churn(market)
    again = churn(market, now=AS_OF + HOUR)
    assert (again.unchanged, again.updated, again.cleared) == (1, 0, 0)
    assert audit_actions(market, alerts(market)[0].id) == ["alert.open"]


def test_escalation_is_reported_like_a_new_alert(market: Market) -> None:
    market.tutor(2, p30=0.55)
    assert churn(market).new[0].severity == "High"
    rescore(market, {2: 0.8})
    result = churn(market, now=AS_OF + HOUR)
    assert result.new == []
    [up] = result.escalated
    assert (up.severity, up.previous_severity, up.change) == ("Critical", "High", "escalated")
    assert result.fired == [up]
    assert audit_actions(market, up.alert_id) == ["alert.open", "alert.escalate"]


def test_cleared_when_the_condition_no_longer_holds(market: Market) -> None:
    market.tutor(2, p30=0.75)
    market.tutor(3, p30=0.75)
    churn(market)
    rescore(market, {2: 0.3, 3: 0.75})
    result = churn(market, now=AS_OF + HOUR)
    assert result.cleared == 1 and result.open_total == 1
    by_subject = {a.subject_id: a for a in alerts(market)}
    gone = by_subject["2"]
    assert (gone.state, gone.close_reason, gone.closed_by) == ("resolved", "cleared", "system")
    assert gone.open_key is None
    assert gone.cooldown_until == AS_OF + HOUR + timedelta(hours=72)
    assert audit_actions(market, gone.id) == ["alert.open", "alert.clear"]
    assert by_subject["3"].state == "active"


def test_a_lapse_past_its_window_expires_and_a_return_clears(market: Market) -> None:
    lapsed = registered_rules()["customer_lapsed"]
    market.customer(2, days_since_last_session=30)
    market.customer(3, days_since_last_session=30)
    first = evaluate_alerts(market.engine, rules=[lapsed], now=AS_OF)
    assert {a.subject_id for a in first.new} == {"2", "3"}
    # A week later: customer 2 is still gone (37 days, past the 14-day window), customer
    # 3 booked again.
    market.new_run(AS_OF + 7 * DAY)
    market.customer(2, days_since_last_session=37)
    market.customer(3, days_since_last_session=1)
    later = evaluate_alerts(market.engine, rules=[lapsed], now=AS_OF + 7 * DAY)
    assert later.new == [] and later.cleared == 2 and later.open_total == 0
    rows = {a.subject_id: a for a in alerts(market)}
    assert (rows["2"].state, rows["2"].close_reason) == ("resolved", "expired")
    assert (rows["3"].state, rows["3"].close_reason) == ("resolved", "cleared")
    assert audit_actions(market, rows["2"].id) == ["alert.open", "alert.expire"]
    assert audit_actions(market, rows["3"].id) == ["alert.open", "alert.clear"]
    # The window is stored with the alert, beside the settings it read.
    assert rows["2"].thresholds["customer_lapsed_window_days"] == 14
    assert rows["2"].thresholds["customer_lapsed_days"] == 21
    # Still gone a week after that: nothing comes back once the cooldown is over.
    market.new_run(AS_OF + 14 * DAY)
    market.customer(2, days_since_last_session=44)
    assert evaluate_alerts(market.engine, rules=[lapsed], now=AS_OF + 14 * DAY).new == []


def test_the_lapse_window_in_settings_is_what_the_alert_records(market: Market) -> None:
    lapsed = registered_rules()["customer_lapsed"]
    market.customer(2, days_since_last_session=50)
    wide = AlertSettings(customer_lapsed_window_days=40)
    assert evaluate_alerts(market.engine, rules=[lapsed], now=AS_OF).new == []  # 29 days in
    result = evaluate_alerts(market.engine, wide, rules=[lapsed], now=AS_OF)
    assert [a.subject_id for a in result.new] == ["2"]
    (row,) = alerts(market)
    assert row.thresholds["customer_lapsed_window_days"] == 40


def test_cooldown_suppresses_refiring_unless_severity_rises(market: Market) -> None:
    market.tutor(2, p30=0.55)  # High
    [first] = churn(market).new
    apply_action(market.engine, [first.alert_id], "resolve", actor="ana", now=AS_OF + HOUR)
    # Same severity within the cooldown: nothing new.
    rescore(market, {2: 0.56})
    quiet = churn(market, now=AS_OF + 2 * HOUR)
    assert quiet.new == [] and quiet.suppressed == 1
    # Severity rose: a new alert despite the cooldown.
    rescore(market, {2: 0.72})
    loud = churn(market, now=AS_OF + 3 * HOUR)
    assert [a.severity for a in loud.new] == ["Critical"]
    assert loud.new[0].alert_id != first.alert_id


def test_refires_after_the_cooldown(market: Market) -> None:
    market.tutor(2, p30=0.55)
    [first] = churn(market).new
    settings = AlertSettings(cooldown_hours_by_rule={"churn_risk": 2})
    apply_action(
        market.engine, [first.alert_id], "dismiss", actor="ana", now=AS_OF, settings=settings
    )
    assert churn(market, now=AS_OF + HOUR, settings=settings).suppressed == 1
    later = churn(market, now=AS_OF + 3 * HOUR, settings=settings)
    assert len(later.new) == 1 and later.new[0].key == first.key


def test_a_running_snooze_carries_over_to_the_next_alert_of_the_key(market: Market) -> None:
    market.tutor(2, p30=0.75)
    [first] = churn(market).new
    until = AS_OF + timedelta(days=5)
    apply_action(market.engine, [first.alert_id], "snooze", actor="ana", until=until, now=AS_OF)
    rescore(market, {2: 0.2})
    no_cooldown = AlertSettings(cooldown_hours=0)
    assert churn(market, now=AS_OF + HOUR, settings=no_cooldown).cleared == 1
    rescore(market, {2: 0.8})
    [again] = churn(market, now=AS_OF + 2 * HOUR, settings=no_cooldown).new
    row = next(a for a in alerts(market) if a.id == again.alert_id)
    assert row.snoozed_until == until


def test_thresholds_are_stored_with_each_alert(market: Market) -> None:
    market.tutor(2, p30=0.65)
    churn(market, settings=AlertSettings(churn_high=0.6, churn_critical=0.9))
    [row] = alerts(market)
    assert row.thresholds == {"churn_high": 0.6, "churn_critical": 0.9}
    assert row.run_id == market.run_id


def test_a_failing_rule_is_reported_and_clears_nothing(market: Market) -> None:
    market.tutor(2, p30=0.75)
    churn(market)

    def broken(ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    flaky = Rule("churn_risk", "Churn risk", "tutor", broken)
    result = evaluate_alerts(market.engine, rules=[flaky], now=AS_OF + HOUR)
    assert result.errors == {"churn_risk": "RuntimeError: boom"}
    assert result.cleared == 0 and result.open_total == 1


def test_a_new_rule_plugs_in_without_touching_the_engine(market: Market) -> None:
    def shortage(ctx):  # type: ignore[no-untyped-def]
        yield Finding(
            subject_type="subject",
            subject_id="Spanish",
            severity="High",
            priority=70,
            title="Spanish: coverage 60 % tomorrow 16:00",
            next_step="Open more slots",
            facts={"coverage": 0.6},
        )

    result = evaluate_alerts(
        market.engine, rules=[Rule("supply_shortage", "Supply shortage", "subject", shortage)]
    )
    assert [a.key for a in result.new] == ["supply_shortage:subject:Spanish"]


def test_disabled_rules_do_not_run(market: Market) -> None:
    market.tutor(2, p30=0.75)
    result = churn(market, settings=AlertSettings(disabled_rules=["churn_risk"]))
    assert result.new == [] and result.by_rule == {}


def test_nothing_scored_yet_is_not_an_error(alert_engine) -> None:  # type: ignore[no-untyped-def]
    result = evaluate_alerts(alert_engine)
    assert result.run_id is None and result.new == []
    with alert_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Alert)).scalar_one() == 0
