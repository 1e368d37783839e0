"""A customer alert is worked by contacting the customer: the contact is logged on the
customer's contact history and moves the alert on; a customer's poor first session also
leads to an intervention for the tutor who gave it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from services.alerts import evaluate_alerts, registered_rules
from services.alerts.actions import AlertActionError, apply_action
from services.alerts.contacts import log_customer_contact
from services.alerts.queries import alert_detail
from services.alerts.suggest import suggest_intervention
from services.customers import customer_bundle
from services.db.models import Alert, AuditEntry, TutoringSession
from tests.alerts.conftest import AS_OF, DAY, Market

LATER = AS_OF + timedelta(hours=1)


def fire(market: Market, *rules: str) -> dict[str, int]:
    """Evaluate ``rules``; alert id by subject id."""
    result = evaluate_alerts(market.engine, rules=[registered_rules()[r] for r in rules], now=AS_OF)
    return {a.subject_id: a.alert_id for a in result.new}


def row(market: Market, alert_id: int):  # type: ignore[no-untyped-def]
    with market.engine.connect() as conn:
        return conn.execute(select(Alert.__table__).where(Alert.id == alert_id)).one()


def audit_count(market: Market) -> int:
    with market.engine.connect() as conn:
        return len(conn.execute(select(AuditEntry.id)).all())


def test_a_logged_call_acknowledges_the_alert_and_is_on_the_customers_history(
    market: Market,
) -> None:
    market.customer(9, calls_14d=3)
    [calls] = fire(market, "customer_calls").values()
    done = log_customer_contact(
        market.engine, calls, channel="call", note="Fixed their login", actor="ana", now=LATER
    )
    assert (done.customer_id, done.alert_change) == (9, "acknowledged")
    a = row(market, calls)
    assert (a.state, a.acknowledged_by, a.open_key is not None) == ("acknowledged", "ana", True)
    history = customer_bundle(market.engine, 9).contacts
    [contact] = [c for c in history if c["action"] == "contact.call"]
    assert contact["details"]["note"] == "Fixed their login" and contact["actor"] == "ana"
    assert contact["details"]["alert_id"] == calls
    ack = [c for c in history if c["action"] == "alert.acknowledge"]
    assert ack and "call logged: Fixed their login" in ack[0]["details"]["note"]


def test_a_contact_that_settles_it_resolves_with_the_rules_cooldown(market: Market) -> None:
    market.customer(9, days_since_last_session=25)
    [lapsed] = fire(market, "customer_lapsed").values()
    done = log_customer_contact(
        market.engine,
        lapsed,
        channel="email",
        note="Back next week",
        actor="ana",
        resolve=True,
        now=LATER,
    )
    a = row(market, lapsed)
    assert done.alert_change == "resolved"
    assert (a.state, a.close_reason, a.open_key) == ("resolved", "resolved", None)
    assert a.cooldown_until == LATER + timedelta(hours=72)


def test_a_second_contact_leaves_an_acknowledged_or_closed_alert_as_it_is(
    market: Market,
) -> None:
    market.customer(9, calls_14d=3)
    [calls] = fire(market, "customer_calls").values()
    apply_action(market.engine, [calls], "acknowledge", actor="bo", now=LATER)
    again = log_customer_contact(
        market.engine, calls, channel="message", note="Sent the guide", actor="ana", now=LATER
    )
    assert again.alert_change == "" and row(market, calls).acknowledged_by == "bo"
    apply_action(market.engine, [calls], "resolve", actor="bo", now=LATER)
    after = log_customer_contact(
        market.engine, calls, channel="call", note="Follow-up", actor="ana", now=LATER
    )
    assert after.alert_change == "" and row(market, calls).state == "resolved"
    notes = [
        c["details"].get("note")
        for c in customer_bundle(market.engine, 9).contacts
        if c["action"].startswith("contact.")
    ]
    assert sorted(notes) == ["Follow-up", "Sent the guide"]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"note": "  "}, "note"),
        ({"channel": "fax"}, "channel"),
        ({"actor": ""}, "actor"),
    ],
)
def test_incomplete_input_is_refused_and_nothing_written(market: Market, kw, match) -> None:  # type: ignore[no-untyped-def]
    market.customer(9, calls_14d=3)
    [calls] = fire(market, "customer_calls").values()
    before = audit_count(market)
    args = {"channel": "call", "note": "x", "actor": "ana"} | kw
    with pytest.raises(AlertActionError, match=match):
        log_customer_contact(market.engine, calls, **args)
    assert audit_count(market) == before and row(market, calls).state == "active"


def test_a_tutor_alert_has_no_customer_to_contact(market: Market) -> None:
    market.tutor(2, p30=0.8)
    [churn] = fire(market, "churn_risk").values()
    before = audit_count(market)
    with pytest.raises(AlertActionError, match="about a tutor, not a customer"):
        log_customer_contact(market.engine, churn, channel="call", note="x", actor="ana")
    with pytest.raises(AlertActionError, match="no alert"):
        log_customer_contact(market.engine, 10_000, channel="call", note="x", actor="ana")
    assert audit_count(market) == before


def test_a_poor_first_session_suggests_training_for_the_tutor_who_gave_it(
    market: Market,
) -> None:
    market.tutor(4, name="Lee Park")
    market.tutor(5, name="Ann Moss")
    market.customer(9, first_session_rating=2, tenure_days=20)
    with market.engine.begin() as conn:
        for sid, tid, days, rating in ((1, 4, 19, 2), (2, 5, 10, 5)):
            at = AS_OF - days * DAY
            conn.execute(
                insert(TutoringSession).values(
                    id=sid,
                    tutor_id=tid,
                    customer_id=9,
                    start_time=at,
                    end_time=at + timedelta(hours=1),
                    updated_at=at,
                    status="completed",
                    rating=rating,
                    first_session=True,
                )
            )
    [poor] = fire(market, "customer_poor_first_session").values()
    detail = alert_detail(market.engine, poor)
    assert detail["related_tutor"]["tutor_id"] == 4  # the first one, not the later tutor
    s = suggest_intervention(detail)
    assert (s.tutor_id, s.intervention_type) == (4, "training_module")
    assert "Lee Park" in s.reason and s.source_alert_key == detail["key"]
