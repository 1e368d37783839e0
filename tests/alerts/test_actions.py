"""People's actions on alerts: the state machine, snoozes, claims, bulk, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, insert, select

from services.alerts import (
    AlertActionError,
    acknowledge,
    alert_detail,
    apply_action,
    assign,
    claim,
    dismiss,
    list_alerts,
    resolve,
    snooze,
)
from services.db.models import Alert, AuditEntry
from tests.alerts.conftest import AS_OF

HOUR = timedelta(hours=1)


def make_alerts(engine: Engine, n: int, *, state: str = "active", start: int = 0) -> list[int]:
    rows = [
        {
            "key": f"churn_risk:tutor:{i}",
            "open_key": f"churn_risk:tutor:{i}" if state in ("active", "acknowledged") else None,
            "rule": "churn_risk",
            "subject_type": "tutor",
            "subject_id": str(i),
            "subject_name": f"Tutor {i}",
            "tutor_id": i,
            "severity": ("Critical", "High", "Medium", "Low")[i % 4],
            "priority": i % 101,
            "state": state,
            "title": f"Tutor {i}: risk",
            "created_at": AS_OF,
            "updated_at": AS_OF,
        }
        for i in range(start, start + n)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Alert.__table__), rows)
        return list(
            conn.execute(
                select(Alert.id).where(Alert.tutor_id >= start, Alert.tutor_id < start + n)
            ).scalars()
        )


def state_of(engine: Engine, alert_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Alert.state).where(Alert.id == alert_id)).scalar_one()


def trail(engine: Engine, alert_id: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r.actor, r.action)
            for r in conn.execute(
                select(AuditEntry.actor, AuditEntry.action)
                .where(AuditEntry.entity_type == "alert", AuditEntry.entity_id == str(alert_id))
                .order_by(AuditEntry.id)
            )
        ]


def test_active_acknowledged_resolved_with_audit(alert_engine: Engine) -> None:
    [a] = make_alerts(alert_engine, 1)
    acknowledge(alert_engine, a, actor="ana")
    assert state_of(alert_engine, a) == "acknowledged"
    resolve(alert_engine, a, actor="ben", note="called her")
    assert state_of(alert_engine, a) == "resolved"
    assert trail(alert_engine, a) == [("ana", "alert.acknowledge"), ("ben", "alert.resolve")]
    detail = alert_detail(alert_engine, a)
    assert detail["acknowledged_by"] == "ana" and detail["closed_by"] == "ben"
    assert detail["open_key"] is None and detail["cooldown_until"] is not None
    assert detail["audit"][1]["details"]["note"] == "called her"


@pytest.mark.parametrize(
    ("first", "then", "message"),
    [
        ("resolve", "acknowledge", "cannot acknowledge a resolved alert"),
        ("dismiss", "resolve", "cannot resolve a dismissed alert"),
        ("acknowledge", "acknowledge", "cannot acknowledge a acknowledged alert"),
        ("resolve", "snooze", "cannot snooze a resolved alert"),
    ],
)
def test_refused_transitions(sqlite_engine: Engine, first: str, then: str, message: str) -> None:
    [a] = make_alerts(sqlite_engine, 1)
    apply_action(sqlite_engine, [a], first, actor="ana")
    before = trail(sqlite_engine, a)
    kw = {"until": AS_OF + timedelta(days=900)} if then == "snooze" else {}
    with pytest.raises(AlertActionError, match=message):
        {"acknowledge": acknowledge, "resolve": resolve, "snooze": snooze}[then](
            sqlite_engine, a, actor="ana", **kw
        )
    assert trail(sqlite_engine, a) == before  # nothing written


def test_dismiss_from_active(sqlite_engine: Engine) -> None:
    [a] = make_alerts(sqlite_engine, 1)
    dismiss(sqlite_engine, a, actor="ana")
    assert state_of(sqlite_engine, a) == "dismissed"


def test_snooze_in_the_past_is_refused_clearly(sqlite_engine: Engine) -> None:
    [a] = make_alerts(sqlite_engine, 1)
    now = AS_OF
    with pytest.raises(AlertActionError, match="in the past"):
        snooze(sqlite_engine, a, now - HOUR, actor="ana", now=now)
    with pytest.raises(AlertActionError, match="time zone"):
        snooze(sqlite_engine, a, (now + HOUR).replace(tzinfo=None), actor="ana", now=now)
    assert trail(sqlite_engine, a) == []
    snooze(sqlite_engine, a, now + HOUR, actor="ana", now=now)
    detail = alert_detail(sqlite_engine, a)
    assert detail["snoozed_until"] == (now + HOUR).isoformat() and detail["state"] == "active"


def test_claim_and_assign(sqlite_engine: Engine) -> None:
    [a] = make_alerts(sqlite_engine, 1)
    claim(sqlite_engine, a, actor="ana")
    assert alert_detail(sqlite_engine, a)["assignee"] == "ana"
    assign(sqlite_engine, a, "ben", actor="ana")
    detail = alert_detail(sqlite_engine, a)
    assert detail["assignee"] == "ben"
    assert detail["audit"][-1]["details"] == {
        "key": detail["key"],
        "from": "active",
        "assignee": "ben",
        "previous_assignee": "ana",
    }


def test_unknown_action_and_missing_actor(sqlite_engine: Engine) -> None:
    with pytest.raises(AlertActionError, match="unknown action"):
        apply_action(sqlite_engine, [1], "explode", actor="ana")
    with pytest.raises(AlertActionError, match="actor"):
        apply_action(sqlite_engine, [1], "resolve", actor=" ")


def test_bulk_over_ten_thousand_in_one_transaction(alert_engine: Engine) -> None:
    ids = make_alerts(alert_engine, 12_000)
    closed = make_alerts(alert_engine, 50, state="resolved", start=20_000)
    result = apply_action(alert_engine, ids + closed + [10**9], "acknowledge", actor="ana")
    assert len(result.changed) == 12_000
    assert len(result.refused) == 51 and result.refused[10**9] == "no such alert"
    assert "12,000 alerts changed" in result.message()
    with alert_engine.connect() as conn:
        states = dict(conn.execute(select(Alert.state, func.count()).group_by(Alert.state)).all())
        audits = conn.execute(
            select(func.count()).where(AuditEntry.action == "alert.acknowledge")
        ).scalar_one()
    assert states == {"acknowledged": 12_000, "resolved": 50}
    assert audits == 12_000
    # And back out in bulk: resolve them all, the unique open key is released.
    assert len(apply_action(alert_engine, ids, "resolve", actor="ana").changed) == 12_000
    assert list_alerts(alert_engine) == []


def test_bulk_is_all_or_nothing_on_failure(sqlite_engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ids = make_alerts(sqlite_engine, 1200)
    import services.alerts.actions as actions

    calls = {"n": 0}
    real = actions._update

    def failing(conn, chunk_ids, values, states):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        real(conn, chunk_ids, values, states)
        raise RuntimeError("disk full")

    monkeypatch.setattr(actions, "_update", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        apply_action(sqlite_engine, ids, "acknowledge", actor="ana")
    assert calls["n"] == 1
    with sqlite_engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).where(Alert.state == "active")).scalar_one() == 1200
        )


def test_list_alerts_filters_and_order(sqlite_engine: Engine) -> None:
    make_alerts(sqlite_engine, 8)
    crit = list_alerts(sqlite_engine, severities=["critical"])
    assert {a["severity"] for a in crit} == {"Critical"} and len(crit) == 2
    everything = list_alerts(sqlite_engine)
    ranks = [("Low", "Medium", "High", "Critical").index(a["severity"]) for a in everything]
    assert ranks == sorted(ranks, reverse=True)
    with pytest.raises(ValueError, match="unknown state"):
        list_alerts(sqlite_engine, states=["open"])
    with pytest.raises(ValueError, match="unknown severity"):
        list_alerts(sqlite_engine, severities=["urgent"])
