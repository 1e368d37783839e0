"""Tutor features: point in time, the demo script's Sarah Chen, missing data, the info."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ml.engagement import engagement_score
from ml.features.customer import customer_features
from ml.features.first_session import first_session_rows
from ml.features.info import KINDS, training_features
from ml.features.tutor import FEATURE_INFO, FEATURES, TutorFeatureBuilder, tutor_features
from ml.frames import MarketFrames

from .conftest import ANCHOR, frame_of

D = pd.Timedelta(days=1)


def _same(a: pd.DataFrame, b: pd.DataFrame, columns: list[str] | None = None) -> None:
    cols = list(a.columns) if columns is None else columns
    pd.testing.assert_frame_equal(a[cols], b[cols], check_dtype=False, check_exact=False)


def _future_records(frames: MarketFrames, as_of: pd.Timestamp) -> MarketFrames:
    """The same frames plus records that all happen at or after ``as_of``."""
    rng = np.random.default_rng(7)
    tutors = frames.tutors["id"].tolist()
    customers = frames.customers["id"].tolist()
    sid = int(frames.sessions["id"].max()) + 1
    sessions, events, slots, calls, bookings, interventions = [], [], [], [], [], []
    for i, t in enumerate(tutors):
        for j in range(3):
            start = as_of + pd.Timedelta(hours=int(rng.integers(0, 24 * 20)))
            sessions.append(
                {
                    "id": sid,
                    "tutor_id": t,
                    "customer_id": customers[(i * 3 + j) % len(customers)],
                    "booking_id": sid,
                    "subject": "algebra",
                    "start_time": start,
                    "end_time": start + pd.Timedelta(hours=1),
                    "status": ["completed", "no_show_tutor", "scheduled"][j],
                    "rating": [1, None, None][j],
                    "first_session": True,
                    "rescheduled_by": "tutor",
                    "reschedule_count": 2,
                    "technical_issue": True,
                    "price": 100.0,
                    "tutor_earnings": 70.0,
                    "created_at": as_of + pd.Timedelta(minutes=1),
                    "updated_at": start,
                }
            )
            sid += 1
        at = as_of + pd.Timedelta(hours=int(rng.integers(0, 24 * 10)))
        events += [
            {"id": 10**9 + 3 * i, "tutor_id": t, "event_type": "login", "occurred_at": at},
            {"id": 10**9 + 3 * i + 1, "tutor_id": t, "event_type": "message_reply",
             "occurred_at": at, "response_minutes": 999.0},
            {"id": 10**9 + 3 * i + 2, "tutor_id": t, "event_type": "profile_update",
             "occurred_at": as_of},
        ]  # fmt: skip
        slots.append(
            {"id": 10**9 + i, "tutor_id": t, "subject": "algebra", "created_at": as_of,
             "starts_at": as_of + 2 * D, "ends_at": as_of + 2 * D + pd.Timedelta(hours=5)}
        )  # fmt: skip
        interventions.append(
            {"id": 10**9 + i, "tutor_id": t, "intervention_type": "recognition",
             "status": "open", "created_at": as_of, "updated_at": as_of, "due_at": as_of + D}
        )  # fmt: skip
    for i, c in enumerate(customers):
        calls.append(
            {"id": 10**9 + i, "customer_id": c, "call_time": as_of + pd.Timedelta(hours=i % 48),
             "duration_seconds": 60, "reason_code": "billing", "sentiment": "negative"}
        )  # fmt: skip
        bookings.append(
            {"id": 10**9 + i, "customer_id": c, "tutor_id": None, "subject": "algebra",
             "scheduled_time": as_of + 3 * D, "status": "unfilled", "created_at": as_of}
        )  # fmt: skip

    def add(name: str, rows: list[dict]) -> pd.DataFrame:
        return pd.concat([getattr(frames, name), frame_of(name, rows)], ignore_index=True)

    return MarketFrames(
        tutors=frames.tutors,
        sessions=add("sessions", sessions),
        engagement=add("engagement", events),
        availability=add("availability", slots),
        customers=frames.customers,
        calls=add("calls", calls),
        bookings=add("bookings", bookings),
        interventions=add("interventions", interventions),
        observed_until=frames.observed_until,
    ).validate()


def _future_outcomes_changed(frames: MarketFrames, as_of: pd.Timestamp) -> MarketFrames:
    """The same frames where everything decided at or after ``as_of`` turned out otherwise:
    sessions ending after it cancelled and unrated, everyone churned soon after."""
    s = frames.sessions.copy()
    # Sessions not over at as_of, except ones already cancelled then (final before as_of).
    settled = (s["status"] == "cancelled") & (s["updated_at"] < as_of)
    later = (s["end_time"] >= as_of) & ~settled
    s["status"] = s["status"].astype(object).where(~later, "cancelled")
    s["rating"] = s["rating"].astype(object).where(~later, None)
    s["rescheduled_by"] = s["rescheduled_by"].astype(object).where(~later, "tutor")
    # A change after as_of is a new version: its updated_at is after as_of too.
    s["updated_at"] = s["updated_at"].where(~later, s["updated_at"].clip(lower=as_of + 1 * D))
    t = frames.tutors.copy()
    alive = t["churned_at"].isna() | (t["churned_at"] >= as_of)
    t.loc[alive, "churned_at"] = as_of + 3 * D
    t["status"] = t["status"].astype(object).where(~alive, "churned")
    t["hourly_rate"] = 1.0  # a current-value field: not point in time
    c = frames.customers.copy()
    c_alive = c["churned_at"].isna() | (c["churned_at"] >= as_of)
    c.loc[c_alive, "churned_at"] = as_of + 2 * D
    c["status"] = c["status"].astype(object).where(~c_alive, "churned")
    c["goal_status"] = "completed"  # current value: not point in time
    return MarketFrames(
        tutors=t,
        sessions=s,
        engagement=frames.engagement,
        availability=frames.availability,
        customers=c,
        calls=frames.calls,
        bookings=frames.bookings,
        interventions=frames.interventions,
        observed_until=frames.observed_until,
    ).validate()


def test_future_records_cannot_change_a_past_feature_row(tiny_frames):
    as_of = ANCHOR.floor("D") - 20 * D
    ids = TutorFeatureBuilder(tiny_frames).active_at(int(as_of.value // 1000))
    tutor_ids = tiny_frames.tutors["id"].to_numpy()[ids]
    before = tutor_features(tiny_frames, as_of, tutor_ids)
    assert len(before) > 40
    augmented = _future_records(tiny_frames, as_of)
    assert len(augmented.sessions) > len(tiny_frames.sessions) + 100
    _same(before, tutor_features(augmented, as_of, tutor_ids))  # every column
    customers_before = customer_features(tiny_frames, as_of)
    _same(customers_before, customer_features(augmented, as_of, customers_before.index))
    past = tiny_frames.sessions
    past_first = past[past["first_session"] & (past["start_time"] < as_of)]["id"]
    rows = first_session_rows(tiny_frames, past_first, as_of)
    assert len(rows) > 50 and rows["poor"].notna().any()
    _same(rows, first_session_rows(augmented, past_first, as_of))


def test_future_outcomes_cannot_change_a_past_feature_row(tiny_frames):
    as_of = ANCHOR.floor("D") - 20 * D
    before = tutor_features(tiny_frames, as_of)
    changed = _future_outcomes_changed(tiny_frames, as_of)
    after = tutor_features(changed, as_of, before.index)
    _same(before, after, training_features(FEATURE_INFO))
    assert (after["hourly_rate"] == 1.0).all()  # the current value, as documented
    from ml.features.customer import FEATURE_INFO as CUSTOMER_INFO

    c_before = customer_features(tiny_frames, as_of)
    c_after = customer_features(changed, as_of, c_before.index)
    _same(c_before, c_after, training_features(CUSTOMER_INFO))


def test_more_than_fifty_features_each_with_words():
    assert len(FEATURES) >= 50
    assert list(FEATURE_INFO) == FEATURES
    for name, info in FEATURE_INFO.items():
        assert info.name == name and info.label and info.group
        assert info.kind in KINDS and info.direction in (-1, 0, 1)
        if info.compare_to:
            assert info.compare_to in FEATURE_INFO
        for value in (0, 1, 2.5, -0.4, 120.25):
            text = info.phrase({name: value, info.compare_to or "": 3.0})
            assert "{" not in text and "n/a" not in text, (name, text)
        missing = info.phrase({name: float("nan")})
        assert missing == (info.missing or f"{info.label}: no data")
    groups = {i.group for i in FEATURE_INFO.values()}
    assert {"volume", "ratings", "reliability", "first_sessions", "engagement",
            "availability", "students", "earnings", "profile"} <= groups  # fmt: skip
    scoring_only = set(FEATURE_INFO) - set(training_features(FEATURE_INFO))
    assert scoring_only == {
        "hours_offered_next_7d", "hours_offered_next_14d", "utilization_next_7d",
        "certification_count", "hourly_rate", "instant_book_enabled",
    }  # fmt: skip


def test_sarah_chen_reads_as_the_demo_script(demo_world, demo_frames):
    sarah = demo_world.personas["sarah_chen"]
    row = tutor_features(demo_frames, demo_frames.observed_until).loc[sarah]
    assert row["sessions_30d"] == 15 and row["sessions_prev_30d"] == 25
    assert row["sessions_change_30d"] == pytest.approx(-0.4)
    assert row["rating_avg_30d"] == pytest.approx(4.1, abs=0.05)
    assert row["rating_avg_prev_30d"] == pytest.approx(4.5, abs=0.05)
    assert row["tutor_reschedules_7d"] == 3
    assert row["engagement_score_14d"] == pytest.approx(0.32, abs=0.03)
    assert row["engagement_score_prev_14d"] == pytest.approx(0.75, abs=0.03)
    assert row["tenure_days"] == pytest.approx(120, abs=1)
    say = {n: FEATURE_INFO[n].phrase(row) for n in FEATURE_INFO}
    assert say["sessions_change_30d"] == "sessions down 40 % vs the previous 30 days"
    assert say["engagement_score_14d"] == "engagement 0.32 (was 0.75)"
    assert say["tutor_reschedules_7d"] == "3 reschedules in the last 7 days"
    assert say["sessions_30d"] == "15 sessions in the last 30 days (was 25)"
    assert say["rating_avg_30d"] == "average rating 4.1 in the last 30 days (was 4.5)"
    assert say["tenure_days"] == "with us for 120 days"
    # Where DOMAIN.md is silent, a decliner's record: sessions fell away once the decline
    # set in (her last fortnight: the three she moved and one more), none in days, and
    # both far below her own usual.
    assert row["sessions_14d"] == 4 and row["sessions_7d"] == 3
    assert row["days_since_last_session"] >= 2.5
    assert row["sessions_vs_usual_14d"] < -0.5
    assert row["engagement_score_14d"] - row["engagement_vs_usual"] > 0.7  # her usual
    assert row["engagement_vs_usual"] < -0.35
    assert say["engagement_vs_usual"].startswith("engagement down 0.")


def test_usual_engagement_and_volume_are_the_days_90_to_28_before(demo_frames):
    as_of = demo_frames.observed_until
    X = tutor_features(demo_frames, as_of)
    ev, s = demo_frames.engagement, demo_frames.sessions
    lo, hi = as_of - 90 * D, as_of - 28 * D
    old = X.index[X["tenure_days"] >= 100][:15]
    assert len(old) == 15
    done = s[(s.status == "completed") & (s.end_time >= lo) & (s.end_time < hi)]
    for tutor in old:
        e = ev[(ev.tutor_id == tutor) & (ev.occurred_at >= lo) & (ev.occurred_at < hi)]
        days = e[e.event_type == "login"].occurred_at.dt.floor("D").nunique()
        replies = e[e.event_type == "message_reply"].response_minutes.to_numpy(float)
        usual = engagement_score(days, 62, replies)
        expected = X.loc[tutor, "engagement_score_14d"] - usual
        assert X.loc[tutor, "engagement_vs_usual"] == pytest.approx(expected), tutor
        fortnight = (done.tutor_id == tutor).sum() * 14 / 62
        want = X.loc[tutor, "sessions_14d"] / fortnight - 1 if fortnight else np.nan
        assert X.loc[tutor, "sessions_vs_usual_14d"] == pytest.approx(want, nan_ok=True), tutor
    # Too new to have a usual (hired within the last six weeks): unknown, not zero.
    new = X.index[X["tenure_days"] < 40]
    assert len(new) and X.loc[new, "sessions_vs_usual_14d"].isna().all()


def test_no_nan_where_none_is_promised(demo_frames):
    X = tutor_features(demo_frames, demo_frames.observed_until)
    assert len(X) >= 380 and X.index.is_unique
    never_nan = [n for n, i in FEATURE_INFO.items() if i.missing is None]
    assert not X[never_nan].isna().any().any(), X[never_nan].isna().sum()[lambda s: s > 0]
    assert np.isfinite(X.drop(columns=X.columns[X.isna().any()]).to_numpy(float)).all()
    # Shares and scores stay in range.
    for col in ("engagement_score_14d", "completion_rate_30d", "first_session_success_rate",
                "low_rating_share_30d", "returning_student_share_30d"):  # fmt: skip
        v = X[col].dropna()
        assert ((v >= 0) & (v <= 1)).all(), col
    assert X["rating_avg_30d"].dropna().between(1, 5).all()


def test_engagement_is_ml_engagement_over_the_window(tiny_frames):
    as_of = ANCHOR
    X = tutor_features(tiny_frames, as_of)
    ev = tiny_frames.engagement
    old = X.index[X["tenure_days"] >= 30][:15]
    assert len(old) >= 10
    for tutor in old:
        for lo, hi, col in ((14, 0, "engagement_score_14d"), (28, 14, "engagement_score_prev_14d")):
            e = ev[(ev.tutor_id == tutor) & (ev.occurred_at >= as_of - lo * D)
                   & (ev.occurred_at < as_of - hi * D)]  # fmt: skip
            days = e[e.event_type == "login"].occurred_at.dt.floor("D").nunique()
            replies = e[e.event_type == "message_reply"].response_minutes.to_numpy(float)
            expected = engagement_score(days, 14, replies)
            assert X.loc[tutor, col] == pytest.approx(expected), (tutor, col)


def test_counts_match_a_plain_pandas_count(tiny_frames):
    as_of = ANCHOR - 3 * D
    X = tutor_features(tiny_frames, as_of)
    s = tiny_frames.sessions
    done = s[(s.status == "completed") & (s.end_time < as_of)]
    last30 = done[done.end_time >= as_of - 30 * D]
    expected = last30.groupby("tutor_id").size().reindex(X.index, fill_value=0)
    assert (X["sessions_30d"] == expected).all()
    rated = last30.dropna(subset=["rating"])
    mean = rated.groupby("tutor_id")["rating"].mean().astype(float).reindex(X.index)
    pd.testing.assert_series_equal(X["rating_avg_30d"], mean, check_names=False)
    moved = s[(s.rescheduled_by == "tutor") & (s.end_time < as_of) & (s.end_time >= as_of - 7 * D)]
    expected = moved.groupby("tutor_id").size().reindex(X.index, fill_value=0)
    assert (X["tutor_reschedules_7d"] == expected).all()


def test_edge_cases_give_clear_values(make_frames):
    as_of = ANCHOR
    subjects = ["algebra"]
    tutors = [
        {"id": 1, "hired_at": as_of - 100 * D, "created_at": as_of - 100 * D,
         "status": "active", "subjects": subjects, "timezone": "America/New_York"},
        {"id": 2, "hired_at": as_of - pd.Timedelta(hours=1), "status": "active"},
        {"id": 3, "hired_at": as_of - 200 * D, "status": "active", "subjects": subjects,
         "certifications": ["tesol"], "years_experience": 4, "hourly_rate": "42.5"},
        {"id": 4, "hired_at": as_of + D, "status": "active"},
        {"id": 5, "hired_at": as_of - 300 * D, "status": "churned",
         "churned_at": as_of - 10 * D},
    ]  # fmt: skip
    sessions = [
        {"id": 10 + k, "tutor_id": 3, "customer_id": 100 + k % 3, "subject": "algebra",
         "start_time": as_of - (k + 2) * D, "end_time": as_of - (k + 2) * D + pd.Timedelta(hours=1),
         "status": "completed", "rating": None, "first_session": k < 3}
        for k in range(10)
    ]  # fmt: skip
    f = make_frames(tutors=tutors, sessions=sessions)
    X = tutor_features(f, as_of)
    assert list(X.index) == [1, 2, 3]
    counts = [n for n, i in FEATURE_INFO.items() if i.kind == "count" and n != "subject_count"]
    assert (X.loc[[1, 2], counts] == 0).all().all()
    assert X.loc[1, "has_sessions"] == 0 and X.loc[3, "has_sessions"] == 1
    assert X.loc[1, "days_since_last_session"] == pytest.approx(100)
    assert X.loc[1, "days_since_last_login"] == pytest.approx(100)
    assert X.loc[2, "tenure_days"] == pytest.approx(1 / 24)
    assert X.loc[2, "is_new_tutor"] == 1
    assert X.loc[2, "engagement_score_14d"] == 0.0  # measured over its first day: no login
    assert math.isnan(X.loc[2, "engagement_score_prev_14d"])  # not hired then
    assert X.loc[1, "engagement_score_prev_14d"] == 0.0
    # All ratings null: averages undefined, flagged, the smoothed rating defined.
    assert X.loc[3, "sessions_30d"] == 10 and X.loc[3, "has_ratings"] == 0
    assert np.isnan(X.loc[3, ["rating_avg_30d", "rating_avg_all", "rating_volatility_90d",
                              "first_session_success_rate"]].astype(float)).all()  # fmt: skip
    assert X.loc[3, "rating_smoothed_30d"] == pytest.approx(4.3)
    assert X.loc[3, "unique_students_30d"] == 3 and X.loc[3, "returning_students_30d"] == 3
    assert X.loc[3, "certification_count"] == 1 and X.loc[3, "hourly_rate"] == 42.5
    # NaN only where FEATURE_INFO says what it means.
    nan_cols = set(X.columns[X.isna().any()])
    assert nan_cols <= {n for n, i in FEATURE_INFO.items() if i.missing}
    # Asked for explicitly: a future hire has a negative tenure; unknown ids are an error.
    assert tutor_features(f, as_of, [4]).loc[4, "tenure_days"] == pytest.approx(-1)
    with pytest.raises(KeyError, match="unknown tutor ids"):
        tutor_features(f, as_of, [99])


def test_empty_frames_give_an_empty_frame():
    f = MarketFrames.empty(ANCHOR)
    X = tutor_features(f, ANCHOR)
    assert list(X.columns) == FEATURES and len(X) == 0 and X.index.name == "tutor_id"
    assert tutor_features(f, ANCHOR, []).shape == (0, len(FEATURES))


def test_many_as_of_dates_reuse_one_builder(tiny_frames):
    b = TutorFeatureBuilder(tiny_frames)
    for days in (30, 10, 0):
        as_of = ANCHOR - days * D
        _same(b.at(as_of), tutor_features(tiny_frames, as_of))
