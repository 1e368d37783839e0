"""services.first_session_stats on both backends: success = completed first sessions
rated 4+, by tutor (below 70 % red, the top tenth green), by subject (below 60 % flagged)
and by grade, against the period before; other sessions never count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import Customer, Tutor, TutoringSession
from services.first_session_stats import first_session_stats

END = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _session(sid: int, tutor: int, customer: int, subject: str, days_ago: float, rating, **kw):
    row = {
        "id": sid, "updated_at": END, "tutor_id": tutor, "customer_id": customer,
        "subject": subject, "start_time": END - timedelta(days=days_ago), "rating": rating,
        "status": "completed", "first_session": True,
    }  # fmt: skip
    return row | kw


def test_rates_flags_and_trend_on_both_backends(engine):
    with engine.begin() as conn:
        conn.execute(
            insert(Tutor),
            [{"id": 1, "updated_at": END, "name": "Ana Good"},
             {"id": 2, "updated_at": END, "name": "Bo Poor"}],
        )  # fmt: skip
        conn.execute(
            insert(Customer),
            [{"id": 10 + i, "updated_at": END, "grade_level": "9" if i % 2 else "adult"}
             for i in range(10)],
        )  # fmt: skip
        rows = [
            # this week: Ana 5,5,4,2 in algebra (0.75); Bo 2,3,5 in physics (0.33)
            _session(1, 1, 10, "algebra", 1, 5),
            _session(2, 1, 11, "algebra", 2, 5),
            _session(3, 1, 12, "algebra", 3, 4),
            _session(4, 1, 13, "algebra", 4, 2),
            _session(5, 2, 14, "physics", 1, 2),
            _session(6, 2, 15, "physics", 2, 3),
            _session(7, 2, 16, "physics", 3, 5),
            _session(8, 2, 17, "physics", 3, None),  # completed, not rated: counted, no rate
            # the week before: Bo 5,5 (1.0)
            _session(9, 2, 18, "physics", 8, 5),
            _session(10, 2, 19, "physics", 9, 5),
            # never counted: not a first session, cancelled, deleted; then one outside
            # both weeks (a month counts it)
            _session(11, 2, 14, "physics", 1, 1, first_session=False),
            _session(12, 2, 14, "physics", 1, 1, status="cancelled"),
            _session(13, 2, 14, "physics", 1, 1, deleted_at=END),
            _session(14, 2, 14, "physics", 20, 1),
        ]
        keys = {k for r in rows for k in r}
        conn.execute(insert(TutoringSession), [{k: r.get(k) for k in keys} for r in rows])

    stats = first_session_stats(engine, "week", end=END)
    assert stats.start == END - timedelta(days=7) and stats.previous_start == END - timedelta(14)
    tutors = {r.label: r for r in stats.by_tutor}
    ana, bo = tutors["Ana Good"], tutors["Bo Poor"]
    assert (ana.first_sessions, ana.rated, ana.success_rate) == (4, 4, 0.75)
    assert ana.avg_rating == pytest.approx(4.0) and ana.previous_rate is None
    assert ana.flag == "green"  # the top tenth of two ranked tutors: the best one
    assert (bo.first_sessions, bo.rated) == (4, 3)
    assert bo.success_rate == pytest.approx(1 / 3) and bo.flag == "red"
    assert bo.previous_rate == 1.0 and bo.trend == pytest.approx(1 / 3 - 1)
    subjects = {r.key: r for r in stats.by_subject}
    assert subjects["physics"].flag == "red" and subjects["algebra"].flag == ""
    segments = {r.key: r for r in stats.by_segment}
    assert sum(r.first_sessions for r in segments.values()) == 8
    assert stats.overall_rate == pytest.approx(4 / 7)
    assert stats.previous_overall_rate == 1.0

    # A month holds both weeks and the older session: 2,3,5,5,5,1 rated, three good.
    month = first_session_stats(engine, "month", end=END)
    bo_m = next(r for r in month.by_tutor if r.label == "Bo Poor")
    assert bo_m.rated == 6 and bo_m.success_rate == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="unknown period"):
        first_session_stats(engine, "fortnight", end=END)


def test_the_scored_demo_periods_end_at_the_data_time(scored_demo):
    engine = scored_demo["engine"]
    week = first_session_stats(engine, "week")
    quarter = first_session_stats(engine, "quarter")
    assert week.end == quarter.end
    assert (
        sum(r.first_sessions for r in quarter.by_tutor)
        >= sum(r.first_sessions for r in week.by_tutor)
        > 0
    )
    for stats in (week, quarter):
        total = sum(r.first_sessions for r in stats.by_tutor)
        assert sum(r.first_sessions for r in stats.by_subject) == total
        assert sum(r.first_sessions for r in stats.by_segment) == total
        for r in stats.by_tutor:
            if r.success_rate is not None and r.success_rate < 0.7:
                assert r.flag == "red"
            if r.flag == "green":
                assert r.rated >= 3 and r.success_rate >= 0.7
