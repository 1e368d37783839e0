"""services.customer_velocity and services.customer_churn_view on a small hand-built
marketplace, on both backends. Every expected figure below is worked out by hand from
the rows inserted here (the comments show the arithmetic), not from the code.

The data time is the scoring run's as-of, Fri 20 Nov 2026 12:00 UTC; the session history
begins at midnight on 31 May (O's cancelled session), so only customers who joined since
then form cohorts and the funnel.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from services.customer_churn_view import customer_churn_view
from services.customer_velocity import customer_velocity
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import Customer, CustomerPrediction, ScoringRun, TutoringSession

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


def d(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# id: (joined, status, churned_at, channel)
CUSTOMERS = {
    1: (d(3, 1), "active", None, "referral"),  # O: old, steady
    2: (d(1, 1), "active", None, None),  # G: old, every 3 days
    3: (d(1, 1), "churned", d(11, 5), "social"),  # H: churned in the horizon
    5: (d(1, 1), "churned", d(11, 25), "social"),  # I: churns after the data time
    6: (d(1, 1), "churned", d(10, 30), "social"),  # J: churned in the horizon
    7: (d(1, 1), "churned", d(10, 10), "social"),  # K: churned before the reference
    10: (d(6, 1), "active", None, "referral"),  # A: June cohort
    11: (d(6, 15), "active", None, "referral"),  # B: June cohort
    12: (d(6, 20), "churned", d(7, 1), "direct"),  # F: June cohort, never came
    20: (d(10, 27), "active", None, "paid_search"),  # E: October cohort
    30: (d(11, 16), "active", None, "direct"),  # D: November cohort, too young
}
G_SESSIONS = [d(9, 22, 10) + timedelta(days=3 * k) for k in range(20)]  # 22 Sep ... 18 Nov


def _sessions() -> list[dict]:
    rows: list[tuple] = [
        # (customer, start, subject, status)
        (1, d(5, 31, 10), "reading", "cancelled"),  # the history starts on 31 May
        (1, d(10, 1, 10), "reading", "completed"),
        (1, d(10, 25, 10), "reading", "completed"),
        (1, d(11, 1, 10), "reading", "completed"),
        (1, d(11, 8, 10), "reading", "completed"),
        (10, d(6, 2, 10), "algebra", "completed"),  # A week 0
        (10, d(6, 4, 10), "algebra", "completed"),  # A week 0
        (10, d(6, 10, 10), "algebra", "completed"),  # A week 1
        (10, d(6, 25, 10), "physics", "completed"),  # A week 3
        (11, d(6, 16, 10), "physics", "completed"),  # B week 0
        (11, d(6, 17, 10), "physics", "cancelled"),  # not a session
        (11, d(6, 30, 10), "physics", "completed"),  # B week 2
        (20, d(10, 28, 10), "biology", "completed"),  # E week 0
        (20, d(11, 18, 10), "algebra", "completed"),  # E week 3: not complete yet
        (30, d(11, 25, 10), "algebra", "scheduled"),  # D: booked, not had
        *[(3, at, "chemistry", "completed") for at in
          (d(9, 25, 10), d(10, 1, 10), d(10, 5, 10), d(10, 10, 10), d(10, 15, 10))],
        *[(2, at, "chemistry", "completed") for at in G_SESSIONS],
        (99, d(6, 6, 10), "algebra", "completed"),  # the deleted customer's
    ]  # fmt: skip
    out = [
        {"id": i + 1, "updated_at": AS_OF, "customer_id": c, "start_time": at,
         "end_time": at + timedelta(hours=1), "subject": subject, "status": status,
         "tutor_id": 500, "deleted_at": None}
        for i, (c, at, subject, status) in enumerate(rows)
    ]  # fmt: skip
    # A deleted session of A's (week 0) never counts.
    out.append(out[5] | {"id": 999, "start_time": d(6, 3, 10), "deleted_at": AS_OF})
    return out


# customer: (P(churn 30 d), sessions_30d, tenure_days, tutor_consistency_90d)
PREDICTIONS = {
    10: (0.11, 0, 172, 1.0),
    11: (0.12, 4, 158, 0.5),
    20: (0.61, 2, 10, 0.3),
    1: (0.02, 3, 300, None),
    2: (0.81, 10, 300, 0.85),
    30: (None, 0, 4, None),
    99: (0.99, 0, 100, 1.0),  # deleted customer: not counted
}


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [
                {"id": cid, "updated_at": AS_OF, "created_at": joined,
                 "signup_date": joined.date(), "status": status, "churned_at": churned,
                 "acquisition_channel": channel, "name": f"C{cid}", "deleted_at": None}
                for cid, (joined, status, churned, channel) in CUSTOMERS.items()
            ]
            + [{"id": 99, "updated_at": AS_OF, "created_at": d(6, 5), "signup_date": d(6, 5).date(),
                "status": "active", "churned_at": None, "acquisition_channel": "referral",
                "name": "Gone", "deleted_at": AS_OF}],
        )  # fmt: skip
        conn.execute(insert(TutoringSession), _sessions())
        run_id = conn.execute(
            insert(ScoringRun)
            .values(status="ok", as_of=AS_OF, thresholds={})
            .returning(ScoringRun.id)
        ).scalar_one()
        conn.execute(
            insert(CustomerPrediction),
            [
                {"run_id": run_id, "customer_id": cid, "as_of": AS_OF, "p_churn_30d": p,
                 "components": {"figures": {"sessions_30d": s30, "tenure_days": tenure,
                                            "tutor_consistency_90d": cons}}}
                for cid, (p, s30, tenure, cons) in PREDICTIONS.items()
            ],
        )  # fmt: skip
    yield engine
    engine.dispose()


def test_cohorts_sessions_per_week_retention_and_time_to_nth(engine):
    v = customer_velocity(engine)
    assert v.as_of == AS_OF and v.history_start == d(5, 31)
    cohorts = {c.cohort: c for c in v.cohorts}
    # Old customers (joined before 31 May) and the deleted one form no cohort.
    assert list(cohorts) == ["2026-06", "2026-10", "2026-11"]

    june = cohorts["2026-06"]
    assert (june.customers, june.label, june.last_joined) == (3, "Jun 2026", d(6, 20))
    # F joined last, 20 Jun 00:00: 153.5 days to the data time = 21 complete weeks.
    assert june.weeks_observed == 21
    # Sessions: week 0 A, A, B (3 of 3 customers); weeks 1, 2, 3 one each; then none.
    assert june.sessions_per_week == pytest.approx([1.0, 1 / 3, 1 / 3, 1 / 3] + [0.0] * 17)
    # With a session: week 0 A and B; week 1 A; week 2 B; week 3 A.
    assert june.retention == pytest.approx([2 / 3, 1 / 3, 1 / 3, 1 / 3] + [0.0] * 17)
    # A: 2 Jun -> 4 Jun (2 days) -> 10 Jun (8 days); B: 16 Jun -> 30 Jun (14 days).
    assert (june.with_first, june.reached_2nd, june.reached_3rd) == (2, 2, 1)
    assert june.median_days_to_2nd == pytest.approx(8.0)  # median of 2 and 14
    assert june.median_days_to_3rd == pytest.approx(8.0)
    assert june.iqr_days_to_2nd == pytest.approx((5.0, 11.0))  # 2 + 12/4, 2 + 3 * 12/4
    assert june.iqr_days_to_3rd == pytest.approx((8.0, 8.0))

    october = cohorts["2026-10"]
    # E joined 27 Oct: 24.5 days, 3 complete weeks. Its 18 Nov session is in week 3,
    # which is not over: no point for it (censored), not a zero either.
    assert october.weeks_observed == 3
    assert october.sessions_per_week == pytest.approx([1.0, 0.0, 0.0])
    assert october.retention == pytest.approx([1.0, 0.0, 0.0])
    assert october.median_days_to_2nd == pytest.approx(21.0)
    assert october.median_days_to_3rd is None and october.iqr_days_to_3rd is None

    november = cohorts["2026-11"]  # D joined 4.5 days ago: no complete week at all
    assert november.weeks_observed == 0 and november.retention == ()
    assert (november.with_first, november.median_days_to_2nd) == (0, None)


def test_frequency_histogram_and_churn_by_velocity_segment(engine):
    v = customer_velocity(engine)
    # Active at the data time: O, G, A, B, E, D and I (whose churn is after it).
    # Last 30 days: O 3 sessions * 7 / 30 = 0.7; G 10 * 7 / 30 = 2.33; E 2 * 7 / 24.5 =
    # 0.57 (tenure 24.5 days); A, B, D, I none.
    assert v.frequency_edges[:3] == (0.0, 0.5, 1.0)
    assert v.frequency_counts == (4, 2, 0, 0, 1, 0, 0, 0, 0)

    # Reference 21 Oct 12:00; active then: O, G, H, I, J, A, B (K churned 10 Oct, E and
    # D had not joined, F churned 1 Jul). Velocity in the 30 days before it: O 1 session
    # (0.23), G 10 (2.33), H 5 (1.17), I, J, A, B none. Churned in (21 Oct, 20 Nov]:
    # H (5 Nov) and J (30 Oct); I churns on 25 Nov, after the data time: not yet.
    assert v.segment_reference == AS_OF - timedelta(days=30)
    segments = {s.label: (s.customers, s.churned) for s in v.segments}
    assert segments == {
        "< 0.5 / week": (5, 1),  # O, I, J, A, B; J churned
        "0.5–1 / week": (0, 0),
        "1–2 / week": (1, 1),  # H
        "2+ / week": (1, 0),  # G
    }
    assert v.segments[0].churn_rate == pytest.approx(0.2)
    assert v.segments[1].churn_rate is None


def test_churn_view_risk_histogram_groups_and_funnel(engine):
    view = customer_churn_view(engine)
    assert view.as_of == AS_OF and view.scored == 5  # D unscored, the deleted one left out
    assert view.cutoffs == (("Medium", 0.25), ("High", 0.5), ("Critical", 0.7))
    assert len(view.risk_counts) == 20 and sum(view.risk_counts) == 5
    # 0.02 -> bin 0; 0.11, 0.12 -> bin 2; 0.61 -> bin 12; 0.81 -> bin 16
    assert {i: n for i, n in enumerate(view.risk_counts) if n} == {0: 1, 2: 2, 12: 1, 16: 1}

    def groups(dim: str) -> dict[str, tuple[int, float, float]]:
        return {
            g.group: (g.customers, round(g.mean_risk, 4), round(g.high_share, 4))
            for g in view.dimension(dim)
        }

    assert groups("Channel") == {
        "referral": (3, round((0.11 + 0.12 + 0.02) / 3, 4), 0.0),  # A, B, O
        "paid search": (1, 0.61, 1.0),  # E
        "unknown": (1, 0.81, 1.0),  # G has no channel
    }
    # Main subject: A algebra 3 of 4; B physics (its cancelled session counts as a
    # booking); E algebra and biology once each: the tie goes to algebra.
    assert groups("Subject") == {
        "algebra": (2, 0.36, 0.5),
        "physics": (1, 0.12, 0.0),
        "reading": (1, 0.02, 0.0),
        "chemistry": (1, 0.81, 1.0),
    }
    assert [g.group for g in view.dimension("Tutor consistency")] == [
        "under 50 %", "50–79 %", "80–99 %", "100 % (one tutor)", "no sessions in 90 days",
    ]  # fmt: skip
    # Velocity from the stored figures: A 0; B 4 * 7 / 30 = 0.93; O 0.7; E 2 * 7 / 10
    # = 1.4 (tenure 10 days); G 2.33.
    assert groups("Velocity") == {
        "< 0.5 / week": (1, 0.11, 0.0),
        "0.5–1 / week": (2, 0.07, 0.0),
        "1–2 / week": (1, 0.61, 1.0),
        "2+ / week": (1, 0.81, 1.0),
    }

    # Funnel: joined since 31 May: A, B, F, E, D (5). Completed sessions: A 4, B 2,
    # E 2, F and D none.
    stages = [(s.label, s.customers) for s in view.funnel]
    assert stages == [
        ("Signed up", 5), ("1st session", 3), ("2nd session", 3), ("3rd session", 1),
        ("5th session", 0), ("10th session", 0),
    ]  # fmt: skip
    third = view.funnel[3]
    assert third.share_of_signups == pytest.approx(0.2)
    assert third.share_of_previous == pytest.approx(1 / 3)
    assert view.funnel[-1].share_of_previous is None  # nobody reached the 5th


def test_an_empty_database_gives_empty_figures(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    try:
        v = customer_velocity(engine)
        assert v.empty and v.cohorts == () and v.history_start is None
        assert all(s.customers == 0 for s in v.segments)
        view = customer_churn_view(engine)
        assert view.run_id is None and view.scored == 0 and view.groups == ()
        assert view.funnel == ()
    finally:
        engine.dispose()
