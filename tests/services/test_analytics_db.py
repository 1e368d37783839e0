"""services.analytics.compute_analytics on the scored demo database: the figures agree
with a recount straight from the tables (the same churn labels, the newest run's
predictions), so the loading and joining are right, not only the arithmetic."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from ml.labels import tutor_churn_times
from services.analytics import compute_analytics
from services.analytics.risk_heatmap import BANDS
from services.db.models import ScoringRun, TutorPrediction
from services.ml_data import load_frames


@pytest.fixture(scope="module")
def report(scored_demo):
    return compute_analytics(scored_demo["engine"])


def test_every_section_is_computed(report):
    assert report.missing == {}
    assert report.retention.cohorts and report.heatmap and report.star_lagging
    assert report.first_sessions.sessions > 1000


def test_retention_recounts_from_the_tables(report, scored_demo):
    frames = load_frames(scored_demo["engine"])
    tutors = frames.tutors.set_index("id")
    start = tutors["hired_at"].fillna(tutors["created_at"])
    churn = tutor_churn_times(frames)
    settled = frames.observed_until - pd.Timedelta(days=30)
    assert report.retention.settled_until == settled
    for cohort in report.retention.cohorts:
        month = start.dt.tz_localize(None).dt.to_period("M") == pd.Period(cohort.start, "M")
        members = start.index[month]
        assert cohort.size == len(members)
        assert cohort.start >= report.retention.history_start
        last = cohort.weeks[-1]
        # Censoring: the newest member reached the last week, and not the one after.
        newest = start[members].max()
        assert newest + pd.Timedelta(weeks=last) <= settled
        assert newest + pd.Timedelta(weeks=last + 1) > settled
        for k in (0, last // 2, last):
            at = start[members] + pd.Timedelta(weeks=k)
            gone = churn.reindex(members).notna() & (churn.reindex(members) <= at)
            assert cohort.still_active[k] == int((~gone).sum())


def test_heatmap_means_match_a_groupby_of_the_newest_run(report, scored_demo):
    engine = scored_demo["engine"]
    with engine.connect() as conn:
        run_id = conn.execute(
            select(ScoringRun.id)
            .where(ScoringRun.status == "ok")
            .order_by(ScoringRun.as_of.desc(), ScoringRun.id.desc())
            .limit(1)
        ).scalar()
        p = TutorPrediction
        risk = dict(conn.execute(select(p.tutor_id, p.p_churn_30d).where(p.run_id == run_id)).all())
    frames = load_frames(engine, ("tutors",))
    t = frames.tutors.set_index("id")
    t = t[t["status"] == "active"]
    t = t[t.index.isin(list(risk))]
    tenure = (report.run_as_of - t["hired_at"].fillna(t["created_at"])).dt.total_seconds() / 86400
    band = pd.cut(tenure, [b[1] for b in BANDS] + [float("inf")], right=False, labels=False)
    long = pd.DataFrame(
        {"risk": pd.Series(risk).reindex(t.index), "subject": t["subjects"], "band": band}
    ).explode("subject")
    expected = long.groupby(["subject", "band"])["risk"].agg(["mean", "size"])
    h = report.heatmap
    compared = 0
    for (subject, b), (mean, size) in expected.iterrows():
        i = h.subjects.index(subject)
        assert h.count[i][int(b)] == size
        if size >= h.min_n:
            assert h.mean[i][int(b)] == pytest.approx(mean)
            compared += 1
    assert compared >= 10
    assert h.tutors == len(t)


def test_stars_and_lagging_are_the_top_and_bottom_tenth(report):
    s = report.star_lagging
    assert s.n_star == s.n_lagging == -(-s.tutors // 10)
    assert s.star_cutoff > s.lagging_cutoff
    rating = next(r for r in s.rows if r.feature == "rating_avg_30d")
    assert rating.in_definition and rating.mean_a > rating.mean_b


def test_the_cut_down_frames_give_the_same_churn_and_first_session_rows(scored_demo):
    """services.analytics.data reads less than load_frames (one slot per tutor, context
    only for the window's first sessions, recent logins and replies): the churn labels
    and the first-session rows it feeds must not change."""
    from ml.features.first_session import first_session_rows
    from services.analytics.data import load_analytics_frames
    from services.analytics.report import _rated_first_sessions

    engine = scored_demo["engine"]
    full = load_frames(engine)
    cut = load_analytics_frames(engine, 91, 104)
    assert cut.observed_until == full.observed_until
    pd.testing.assert_series_equal(tutor_churn_times(cut), tutor_churn_times(full))
    end = full.observed_until
    start = end - pd.Timedelta(days=90)
    picked_full = _rated_first_sessions(full.sessions, start, end)
    picked_cut = _rated_first_sessions(cut.sessions, start, end)
    assert picked_cut["id"].tolist() == picked_full["id"].tolist()
    assert len(picked_cut) > 1000
    for col in ("subject", "customer_id", "reschedule_count", "technical_issue"):
        assert picked_cut[col].astype(object).tolist() == picked_full[col].astype(object).tolist()
    pd.testing.assert_frame_equal(
        first_session_rows(cut, sessions=picked_cut),
        first_session_rows(full, sessions=picked_full),
    )
