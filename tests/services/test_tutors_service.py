"""services.tutors on both backends with rows made for it: the list's figures extracted
from the metrics JSON (json_extract on SQLite, ->> on PostgreSQL's JSONB), the trend
against the run a week earlier, open interventions, and a profile bundle's weekly
activity counted from sessions and logins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import (
    EngagementEvent,
    Intervention,
    Manager,
    ScoringRun,
    Tutor,
    TutoringSession,
    TutorPrediction,
)
from services.tutors import TutorNotFoundError, list_tutors, tutor_bundle

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _prediction(run_id: int, tutor_id: int, at: datetime, p30: float, metrics: dict) -> dict:
    return {
        "run_id": run_id, "tutor_id": tutor_id, "as_of": at, "p_churn_7d": p30 / 3,
        "p_churn_14d": p30 / 2, "p_churn_30d": p30, "p_churn_90d": min(1.0, p30 * 1.2),
        "risk_tier": "Critical" if p30 >= 0.7 else "Low", "performance_score": 72.0,
        "performance_tier": "Gold", "health_score": 45.0, "segment": "At-Risk",
        "factors": [{"text": "engagement 0.32 (was 0.75)", "direction": "raises risk"}],
        "metrics": metrics,
    }  # fmt: skip


def _rows(rows: list[dict]) -> list[dict]:
    """The same keys in every row (an executemany binds one set of columns)."""
    keys = {k for r in rows for k in r}
    return [{k: r.get(k) for k in keys} for r in rows]


def test_list_and_bundle_on_both_backends(engine):
    with engine.begin() as conn:
        conn.execute(insert(Manager).values(id=1, updated_at=AS_OF, name="Rafael Reed"))
        conn.execute(
            insert(Tutor),
            _rows([
                {"id": 7, "updated_at": AS_OF, "name": "Sarah Chen", "status": "active",
                 "subjects": ["algebra"], "manager_id": 1, "hired_at": AS_OF - timedelta(days=120)},
                {"id": 8, "updated_at": AS_OF, "name": "Una Scored", "status": "active",
                 "subjects": ["physics"], "manager_id": 1},
                {"id": 9, "updated_at": AS_OF, "name": "Gone", "status": "active",
                 "deleted_at": AS_OF},
            ]),
        )  # fmt: skip
        runs = {}
        for days in (14, 7, 0):
            at = AS_OF - timedelta(days=days)
            runs[days] = conn.execute(
                insert(ScoringRun)
                .values(started_at=at, status="ok", as_of=at, thresholds={"scores": {}})
                .returning(ScoringRun.id)
            ).scalar_one()
        metrics = {"sessions_30d": 15, "rating_avg_30d": 4.1, "first_session_success_rate": None}
        conn.execute(
            insert(TutorPrediction),
            [
                _prediction(runs[14], 7, AS_OF - timedelta(days=14), 0.30, metrics),
                _prediction(runs[7], 7, AS_OF - timedelta(days=7), 0.45, metrics),
                _prediction(runs[0], 7, AS_OF, 0.72, metrics),
            ],
        )
        conn.execute(
            insert(Intervention).values(
                tutor_id=7, intervention_type="manager_coaching", status="open",
                idempotency_key="k1", due_at=AS_OF + timedelta(days=2),
            )
        )  # fmt: skip
        conn.execute(
            insert(TutoringSession),
            _rows([
                {"id": 100 + i, "updated_at": AS_OF, "tutor_id": 7, "status": "completed",
                 "start_time": AS_OF - timedelta(days=3 + 7 * i), "rating": 5 - (i % 2),
                 "first_session": i == 0}
                for i in range(3)
            ]
            + [{"id": 200, "updated_at": AS_OF, "tutor_id": 7, "status": "no_show_tutor",
                "start_time": AS_OF - timedelta(days=2), "rescheduled_by": "tutor"}]),
        )  # fmt: skip
        conn.execute(
            insert(EngagementEvent),
            [
                {"id": 300 + i, "updated_at": AS_OF, "tutor_id": 7, "event_type": "login",
                 "occurred_at": AS_OF - timedelta(days=1, hours=i)}
                for i in range(4)
            ],
        )  # fmt: skip

    listing = list_tutors(engine)
    assert [r.name for r in listing.rows] == ["Sarah Chen", "Una Scored"]  # deleted: gone
    sarah, una = listing.rows
    assert listing.as_of == AS_OF and listing.previous_as_of == AS_OF - timedelta(days=7)
    assert sarah.sessions_30d == 15 and sarah.avg_rating_30d == pytest.approx(4.1)
    assert sarah.first_session_success is None  # JSON null stays missing
    assert sarah.trend_30d == pytest.approx(0.72 - 0.45)
    assert sarah.open_interventions == 1 and sarah.manager == "Rafael Reed"
    assert not una.scored and una.trend_30d is None and una.open_interventions == 0

    b = tutor_bundle(engine, 7)
    assert b.prediction["churn"]["30d"] == pytest.approx(0.72)
    assert b.curve_change["30d"] == pytest.approx(0.72 - 0.45)
    assert [round(p, 2) for _, p, _ in b.history] == [0.30, 0.45, 0.72]
    w = b.weekly
    assert w.sessions[-1] == 1 and w.sessions[-2] == 1 and w.sessions[-3] == 1
    assert w.no_shows[-1] == 1 and w.reschedules[-1] == 1 and w.logins[-1] == 4
    assert w.first_session_success[-1] == 1.0 and w.first_sessions[-1] == 1
    assert b.tier is not None and b.tier.tier == "Gold"
    assert [r.intervention_type for r in b.interventions] == ["manager_coaching"]
    assert b.tutor["tenure_days"] == 120
    with pytest.raises(TutorNotFoundError, match="no tutor 404"):
        tutor_bundle(engine, 404)
