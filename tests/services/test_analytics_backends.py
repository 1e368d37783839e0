"""compute_analytics on SQLite and PostgreSQL: a small marketplace written row by row,
so every query of services.analytics.data runs on both backends and the figures are
hand counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from services.analytics import compute_analytics
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import (
    AvailabilitySlot,
    EngagementEvent,
    ScoringRun,
    SyncState,
    Tutor,
    TutoringSession,
    TutorPrediction,
)

END = datetime(2026, 11, 20, 12, tzinfo=UTC)
N_TUTORS = 40


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _fill(engine, *, cursors: bool) -> None:
    tutors, sessions, slots, events, predictions = [], [], [], [], []
    sid = 1
    for t in range(1, N_TUTORS + 1):
        hired = datetime(2026, 6, 1 + t % 28, tzinfo=UTC)  # one June cohort
        churned = t % 4 == 0  # every fourth tutor left, 50 days in
        tutors.append(
            {
                "id": t, "updated_at": END, "name": f"Tutor {t}", "status":
                "churned" if churned else "active", "hired_at": hired,
                "churned_at": hired + timedelta(days=50) if churned else None,
                "subjects": ["algebra", "physics"] if t % 2 else ["algebra"],
            }
        )  # fmt: skip
        # One completed, rated first session a day over the last 40 days: the good
        # tutors (odd ids) rate 5, the others 2.
        for d in range(40 if not churned else 0):
            start = END - timedelta(days=d + 1, hours=t % 5)
            sessions.append(
                {
                    "id": sid, "updated_at": END - timedelta(minutes=1), "tutor_id": t,
                    "customer_id": 1000 + sid, "subject": "algebra", "start_time": start,
                    "end_time": start + timedelta(hours=1), "status": "completed",
                    "rating": 5 if t % 2 else 2, "first_session": d % 2 == 0,
                    "reschedule_count": 0, "technical_issue": False,
                }
            )  # fmt: skip
            sid += 1
        slots.append(
            {
                "id": t, "updated_at": END, "created_at": END - timedelta(days=3),
                "tutor_id": t, "starts_at": END + timedelta(days=2),
                "ends_at": END + timedelta(days=2, hours=2),
            }
        )  # fmt: skip
        events.append(
            {
                "id": t, "updated_at": END - timedelta(minutes=2), "tutor_id": t,
                "event_type": "message_reply",
                "occurred_at": END - timedelta(days=2), "response_minutes": 10.0 + t,
            }
        )  # fmt: skip
    # The history starts in May: the June cohort lies inside it.
    sessions.append(
        sessions[0] | {"id": sid, "start_time": datetime(2026, 5, 10, tzinfo=UTC),
                       "end_time": None, "status": "cancelled", "rating": None}
    )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Tutor), tutors)
        conn.execute(insert(TutoringSession), sessions)
        conn.execute(insert(AvailabilitySlot), slots)
        conn.execute(insert(EngagementEvent), events)
        run = conn.execute(
            insert(ScoringRun)
            .values(status="ok", as_of=END, trigger="test")
            .returning(ScoringRun.id)
        ).scalar_one()
        for t in range(1, N_TUTORS + 1):
            if t % 4 == 0:
                continue
            predictions.append(
                {
                    "run_id": run, "tutor_id": t, "as_of": END, "p_churn_30d": t / 100,
                    "performance_score": float(t), "metrics": {"sessions_30d": t % 7},
                }
            )  # fmt: skip
        conn.execute(insert(TutorPrediction), predictions)
        if cursors:
            conn.execute(
                insert(SyncState),
                [
                    {"resource": r, "cursor_updated_at": END}
                    for r in ("sessions", "engagement_events", "bookings")
                ],
            )


@pytest.mark.parametrize("cursors", [True, False], ids=["cursors", "no-cursors"])
def test_every_section_on_both_backends(engine, cursors):
    _fill(engine, cursors=cursors)
    report = compute_analytics(engine)
    # The sync cursors when there are any, else the newest session or event.
    expected_end = END if cursors else END - timedelta(minutes=1)
    assert report.observed_until == expected_end
    # Retention: the June cohort (40 tutors); every fourth left 50 days in.
    (june,) = report.retention.cohorts
    assert june.label == "Jun 2026" and june.size == N_TUTORS
    assert june.still_active[7] == N_TUTORS  # 49 days: all still there
    assert june.still_active[8] == june.still_active[-1] == N_TUTORS - N_TUTORS // 4
    # Heatmap: 30 active scored tutors, all in algebra, the odd ones in physics too;
    # hired June 2-29: 144-172 days before the run, the 90-180 band.
    h = report.heatmap
    assert h.subjects == ("algebra", "physics") and h.tutors == 30
    assert h.count[0][2] == 30 and h.count[1][2] == 20
    scored = [t for t in range(1, N_TUTORS + 1) if t % 4]
    assert h.mean[0][2] == pytest.approx(sum(t / 100 for t in scored) / 30)
    # Stars and lagging: 3 each (10 % of 30, by the score = the id).
    s = report.star_lagging
    assert (s.n_star, s.n_lagging, s.star_cutoff, s.lagging_cutoff) == (3, 3, 37.0, 3.0)
    reply = next(r for r in s.rows if r.feature == "reply_minutes_30d")
    assert reply.mean_a == pytest.approx(10 + (38 + 39 + 37) / 3)
    # First sessions: 30 tutors x 20 rated first sessions in the last 60 days.
    f = report.first_sessions
    assert f.sessions == 30 * 20 and f.poor == 10 * 20  # ids 2, 6, ... 38 rate 2
    rating = next(r for r in f.numeric if r.feature == "tutor_rating_avg")
    assert rating.mean_a > 4.5 and rating.mean_b < 2.5
