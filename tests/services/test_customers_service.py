"""services.customers on both backends with rows made for it: components and figures
extracted from the nested components JSON (json_extract on SQLite, #> on PostgreSQL),
the risk tier under the run's own cut-offs, subjects and main tutor from the sessions,
open alerts, and a detail bundle (history, sessions, calls, contacts, next step); then
the list and a bundle on the scored demo, checked against the database itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from services.customers import (
    CustomerNotFoundError,
    customer_bundle,
    list_customers,
    recommended_action,
)
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import (
    Alert,
    AuditEntry,
    Customer,
    CustomerPrediction,
    InboundCall,
    ScoringRun,
    Tutor,
    TutoringSession,
)

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _rows(rows: list[dict]) -> list[dict]:
    """The same keys in every row (an executemany binds one set of columns)."""
    keys = {k for r in rows for k in r}
    return [{k: r.get(k) for k in keys} for r in rows]


def _components(fs: float, calls_14d: int | None, sessions_30d: int) -> dict:
    return {
        "first_session_success": fs, "session_velocity": 40.0, "inbound_calls": 0.0,
        "goal_status": 70.0, "tutor_consistency": None,
        "figures": {"sessions_30d": sessions_30d, "days_since_last_session": 3.5,
                    "calls_14d": calls_14d},
    }  # fmt: skip


def _fill(engine) -> dict[int, int]:
    with engine.begin() as conn:
        conn.execute(
            insert(Tutor),
            [{"id": 7, "updated_at": AS_OF, "name": "Sarah Chen", "status": "active"},
             {"id": 8, "updated_at": AS_OF, "name": "Mike Ross", "status": "active"}],
        )  # fmt: skip
        conn.execute(
            insert(Customer),
            _rows([
                {"id": 1, "updated_at": AS_OF, "name": "Ada Park", "grade_level": "10",
                 "acquisition_channel": "referral", "status": "active",
                 "goal_status": "in_progress", "signup_date": date(2026, 9, 1)},
                {"id": 2, "updated_at": AS_OF, "name": "Ben Unscored", "status": "active"},
                {"id": 3, "updated_at": AS_OF, "name": "Gone", "deleted_at": AS_OF},
            ]),
        )  # fmt: skip
        runs = {}
        # Run 0 uses a stricter cut-off: P = 0.40 is High under it, Medium by default.
        for days, scores in ((7, {}), (0, {"risk_high": 0.35})):
            at = AS_OF - timedelta(days=days)
            runs[days] = conn.execute(
                insert(ScoringRun)
                .values(started_at=at, status="ok", as_of=at, thresholds={"scores": scores})
                .returning(ScoringRun.id)
            ).scalar_one()
        conn.execute(
            insert(CustomerPrediction),
            [
                {"run_id": runs[7], "customer_id": 1, "as_of": AS_OF - timedelta(days=7),
                 "p_churn_30d": 0.2, "health_score": 75.0, "health_tier": "Healthy",
                 "components": _components(100.0, 0, 6), "factors": []},
                {"run_id": runs[0], "customer_id": 1, "as_of": AS_OF, "p_churn_30d": 0.40,
                 "health_score": 38.0, "health_tier": "Critical",
                 "components": _components(0.0, 2, 1),
                 "factors": [{"text": "2 calls in 14 days", "direction": "raises risk"}]},
            ],
        )  # fmt: skip
        # Ada: algebra with Sarah 3 times, physics with Mike 3 times (one cancelled, one to
        # come): a tie, broken by the lower tutor id (Sarah) and A-Z for the subjects.
        conn.execute(
            insert(TutoringSession),
            _rows(
                [{"id": 100 + i, "updated_at": AS_OF, "tutor_id": 7, "customer_id": 1,
                  "subject": "algebra", "status": "completed", "rating": 2 + i,
                  "first_session": i == 0, "start_time": AS_OF - timedelta(days=20 - i)}
                 for i in range(3)]
                + [{"id": 200 + i, "updated_at": AS_OF, "tutor_id": 8, "customer_id": 1,
                    "subject": "physics", "status": "cancelled" if i else "completed",
                    "start_time": AS_OF - timedelta(days=5 - i)} for i in range(2)]
                # after as-of: not history yet
                + [{"id": 300, "updated_at": AS_OF, "tutor_id": 8, "customer_id": 1,
                    "subject": "physics", "status": "scheduled",
                    "start_time": AS_OF + timedelta(days=1)}]
            ),
        )  # fmt: skip
        conn.execute(
            insert(InboundCall),
            [{"id": 400 + i, "updated_at": AS_OF, "customer_id": 1,
              "call_time": AS_OF - timedelta(days=2 + i), "duration_seconds": 300,
              "reason_code": "billing_question", "sentiment": "negative"} for i in range(2)],
        )  # fmt: skip
        alert_ids = []
        for rule, prio, state in (
            ("customer_calls", 90, "active"),
            ("customer_slow_start", 30, "acknowledged"),
            ("customer_idle", 50, "resolved"),
        ):
            alert_ids.append(
                conn.execute(
                    insert(Alert)
                    .values(
                        key=f"{rule}:customer:1", rule=rule, subject_type="customer",
                        subject_id="1", customer_id=1, severity="High", priority=prio,
                        state=state, title=f"Ada Park: {rule}", next_step=f"do {rule}",
                    )
                    .returning(Alert.id)
                ).scalar_one()
            )  # fmt: skip
        conn.execute(
            insert(AuditEntry),
            [{"at": AS_OF - timedelta(hours=2), "actor": "cs.agent", "action": "alert.acknowledge",
              "entity_type": "alert", "entity_id": str(alert_ids[1]), "details": {}},
             {"at": AS_OF - timedelta(hours=1), "actor": "cs.agent", "action": "customer.call",
              "entity_type": "customer", "entity_id": "1", "details": {"note": "left message"}},
             {"at": AS_OF, "actor": "x", "action": "alert.open", "entity_type": "alert",
              "entity_id": "999999", "details": {}}],
        )  # fmt: skip
    return runs


def test_list_and_bundle_on_both_backends(engine):
    runs = _fill(engine)
    listing = list_customers(engine)
    assert [r.name for r in listing.rows] == ["Ada Park", "Ben Unscored"]  # deleted: gone
    ada, ben = listing.rows
    assert listing.run_id == runs[0] and listing.as_of == AS_OF
    assert ada.health_score == 38.0 and ada.health_tier == "Critical"
    assert ada.first_session_success == 0.0 and ada.session_velocity == 40.0
    assert ada.tutor_consistency is None  # JSON null stays missing
    assert ada.sessions_30d == 1 and ada.calls_14d == 2 and ada.days_since_last_session == 3.5
    assert ada.risk_tier == "High"  # the run's own cut-off, not the default
    assert ada.subjects == ("algebra", "physics") and ada.main_tutor == "Sarah Chen"
    assert ada.open_alerts == 2  # active + acknowledged, not the resolved one
    assert (ada.segment, ada.channel) == ("10", "referral")
    assert not ben.scored and ben.risk_tier is None and ben.subjects == () and ben.open_alerts == 0
    assert listing.subjects == ("algebra", "physics") and listing.tutors == ("Sarah Chen",)

    b = customer_bundle(engine, 1)
    assert b.prediction is not None and b.prediction["run_id"] == runs[0]
    assert b.prediction["risk_tier"] == "High"
    assert "figures" not in b.prediction["components"]
    assert b.prediction["figures"]["calls_14d"] == 2
    assert [h[1] for h in b.history] == [75.0, 38.0]  # oldest first
    assert [s["session_id"] for s in b.sessions] == [201, 200, 102, 101, 100]  # newest first
    assert b.sessions[-1]["tutor"] == "Sarah Chen" and b.sessions[-1]["first_session"]
    assert [c["reason"] for c in b.calls] == ["billing question"] * 2
    assert [a["rule"] for a in b.alerts] == ["customer_calls", "customer_slow_start"]
    assert b.recommended_action == "do customer_calls"  # the most urgent open trigger
    assert [c["action"] for c in b.contacts] == ["customer.call", "alert.acknowledge"]
    assert b.contacts[1]["about"] == "Ada Park: customer_slow_start"
    assert b.customer["tenure_days"] == (AS_OF.date() - date(2026, 9, 1)).days

    unscored = customer_bundle(engine, 2)
    assert unscored.prediction is None and unscored.history == () and unscored.sessions == ()
    assert "Not scored" in unscored.recommended_action
    with pytest.raises(CustomerNotFoundError, match="no customer 77"):
        customer_bundle(engine, 77)


def test_recommended_action_without_triggers_names_the_weakest_component():
    weak = {"health_tier": "At Risk", "components": {"goal_status": 40.0, "inbound_calls": 10.0}}
    assert "support calls" in recommended_action([], weak)
    assert "inbound calls is the weakest" in recommended_action([], weak)
    well = {"health_tier": "Thriving", "components": {"inbound_calls": 10.0}}
    assert recommended_action([], well).startswith("No action needed")


def test_list_and_bundle_on_the_scored_demo(scored_demo):
    engine = scored_demo["engine"]
    listing = list_customers(engine)
    with engine.connect() as conn:
        n_customers = conn.execute(
            select(func.count()).select_from(Customer).where(Customer.deleted_at.is_(None))
        ).scalar()
        scored = conn.execute(
            select(func.count()).where(CustomerPrediction.run_id == listing.run_id)
        ).scalar()
        open_alerts = conn.execute(
            select(func.count()).where(
                Alert.customer_id.is_not(None), Alert.state.in_(("active", "acknowledged"))
            )
        ).scalar()
    assert len(listing.rows) == n_customers
    assert sum(r.scored for r in listing.rows) == scored > 0
    assert sum(r.open_alerts for r in listing.rows) == open_alerts
    for r in listing.rows:
        if r.health_score is not None:
            parts = (r.first_session_success, r.session_velocity, r.inbound_calls, r.goal)
            assert all(p is not None and 0 <= p <= 100 for p in parts)
            # The tier is the PRD's band of the score.
            band = (
                "Critical" if r.health_score <= 40 else "At Risk" if r.health_score <= 70
                else "Healthy" if r.health_score <= 85 else "Thriving"
            )  # fmt: skip
            assert r.health_tier == band
    busy = max(listing.rows, key=lambda r: (r.open_alerts, r.customer_id))
    b = customer_bundle(engine, busy.customer_id)
    assert len(b.alerts) == busy.open_alerts
    assert len(b.history) >= 2  # the fixture scores weekly past runs too
    assert b.prediction is not None and b.prediction["factors"]
    assert b.recommended_action in {a["next_step"] for a in b.alerts}
    assert all(s["start_time"] < b.as_of for s in b.sessions)
