"""The supply-shortage alert rule on a hand-made stored forecast (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from services.alerts.context import RuleContext, RunInfo
from services.alerts.registry import registered_rules
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import ForecastPoint, ForecastRun
from services.settings import AlertSettings

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
H = timedelta(hours=1)


def _store(engine, as_of: datetime, short: dict[int, float]) -> int:
    """A forecast of 10 bookings an hour for algebra and french over 48 hours with 10
    tutor-hours each, except algebra's supply at the given hours ahead."""
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(ForecastRun)
            .values(as_of=as_of, horizon_hours=48, model_version="test v1")
            .returning(ForecastRun.id)
        ).scalar_one()
        rows = []
        for series in ("algebra", "french", "total"):
            for h in range(48):
                supply = short.get(h, 10.0) if series == "algebra" else 10.0
                point = {"mean": 10.0, "lower": 5.0, "upper": 16.0, "supply": supply}
                rows.append({"run_id": run_id, "series": series, "hour": as_of + h * H} | point)
        conn.execute(insert(ForecastPoint), rows)
    return run_id


def _findings(engine, as_of: datetime):
    rule = registered_rules()["supply_shortage"]
    with engine.connect() as conn:
        ctx = RuleContext(conn, RunInfo(1, as_of, {}), AlertSettings())
        return list(rule.evaluate(ctx))


@pytest.fixture
def engine(db_url):
    e = make_engine(db_url)
    migrate(e)
    yield e
    e.dispose()


def test_one_alert_per_short_subject_about_its_worst_slot_with_lead_time(engine):
    assert _findings(engine, AS_OF) == []  # no forecast yet: nothing to say
    # Short 5-6 h ahead (too near to act), 20-22 h ahead (the worst: 3 of 10), 30 h.
    run_id = _store(engine, AS_OF, {5: 2.0, 6: 2.0, 20: 5.0, 21: 3.0, 22: 5.0, 30: 7.0})
    found = _findings(engine, AS_OF)
    assert [f.subject_id for f in found] == ["algebra"]
    f = found[0]
    assert f.subject_type == "subject" and f.facts["forecast_run_id"] == run_id
    assert f.facts["lead_hours"] == 20 and f.facts["coverage"] == pytest.approx(13 / 30)
    assert f.facts["short_slots"] == 2  # 20-22 h and 30 h; 5-6 h is under 12 h ahead
    assert f.severity == "High" and 50 <= f.priority <= 85
    assert "in 20 h" in f.title and "algebra" in f.title
    # Later the lead shrinks: 10 h on, only the slot's last hour is still 12 h ahead;
    # 11 h on, the worst slot left is the one at 30 h (19 h ahead).
    later = _findings(engine, AS_OF + 10 * H)[0].facts
    assert (later["lead_hours"], later["coverage"], later["short_slots"]) == (12, 0.5, 2)
    last = _findings(engine, AS_OF + 11 * H)[0].facts
    assert (last["lead_hours"], last["coverage"], last["short_slots"]) == (19, 0.7, 1)


def test_a_mild_shortage_is_medium_and_a_stale_forecast_is_ignored(engine):
    _store(engine, AS_OF, {30: 7.0})
    (f,) = _findings(engine, AS_OF)
    assert f.severity == "Medium" and f.priority < 70
    assert _findings(engine, AS_OF + timedelta(days=3)) == []


def test_the_engine_opens_one_shortage_alert_per_subject_and_clears_it(engine):
    from sqlalchemy import select

    from services.alerts import evaluate_alerts
    from services.db.models import Alert, ScoringRun

    with engine.begin() as conn:
        conn.execute(insert(ScoringRun).values(status="ok", as_of=AS_OF, started_at=AS_OF))
    _store(engine, AS_OF, {20: 5.0, 21: 3.0})
    rule = [registered_rules()["supply_shortage"]]
    evaluate_alerts(engine, rules=rule, now=AS_OF)
    evaluate_alerts(engine, rules=rule, now=AS_OF + H)  # the same shortage: no second alert
    with engine.connect() as conn:
        alerts = conn.execute(select(Alert.__table__)).all()
    assert [(a.rule, a.subject_type, a.subject_id, a.state) for a in alerts] == [
        ("supply_shortage", "subject", "algebra", "active")
    ]
    assert alerts[0].facts["lead_hours"] == 20 and "in 20 h" in alerts[0].title
    # The next forecast has the tutors: the alert clears.
    _store(engine, AS_OF, {})
    evaluate_alerts(engine, rules=rule, now=AS_OF + 2 * H)
    with engine.connect() as conn:
        states = conn.execute(select(Alert.state)).scalars().all()
    assert states == ["resolved"]


def test_a_runs_slots_are_rederived_with_the_thresholds_it_was_made_with(engine):
    """The Forecast page reads a run's slots without settings: the run's own thresholds
    (stored by the forecast job), not the defaults."""
    from sqlalchemy import update

    from services.forecasting import shortage_slots

    run_id = _store(engine, AS_OF, {30: 8.5})  # 85 %: no shortage by the default 80 %
    assert shortage_slots(engine, run_id=run_id, now=AS_OF).query("kind == 'shortage'").empty
    balance = {"shortage_below": 0.9, "surplus_above": 1.5, "min_lead_hours": 12.0,
               "min_demand": 1.0}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            update(ForecastRun).where(ForecastRun.id == run_id).values(config={"balance": balance})
        )
    short = shortage_slots(engine, run_id=run_id, now=AS_OF).query("kind == 'shortage'")
    assert list(short["subject"]) == ["algebra"] and float(short["coverage"].iloc[0]) == 0.85
