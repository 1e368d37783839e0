"""Customer features: the DOMAIN.md signals, missing data, not-point-in-time flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.datasets import CUSTOMER_TRAINING_FEATURES
from ml.features.customer import FEATURE_INFO, FEATURES, customer_features
from ml.features.info import KINDS
from ml.frames import MarketFrames

from .conftest import ANCHOR

D = pd.Timedelta(days=1)
H = pd.Timedelta(hours=1)


def test_features_have_words_and_goal_is_scoring_only():
    assert list(FEATURE_INFO) == FEATURES and len(FEATURES) >= 35
    for name, info in FEATURE_INFO.items():
        assert info.kind in KINDS
        for value in (0, 1, 3.5):
            text = info.phrase({name: value, info.compare_to or "": 2})
            assert "{" not in text and "n/a" not in text, (name, text)
    assert not FEATURE_INFO["goal_completed"].point_in_time
    assert not FEATURE_INFO["goal_in_progress"].point_in_time
    assert "goal_completed" not in CUSTOMER_TRAINING_FEATURES
    assert set(FEATURES) - set(CUSTOMER_TRAINING_FEATURES) == {"goal_completed", "goal_in_progress"}


def test_domain_signals_on_a_hand_made_customer(make_frames):
    as_of = ANCHOR
    customers = [
        {"id": 1, "created_at": as_of - 10 * D, "signup_date": (as_of - 10 * D).floor("D"),
         "student_age": 14, "goal_status": "in_progress", "status": "active"},
        {"id": 2, "created_at": as_of - 400 * D, "status": "active", "goal_status": "completed"},
        {"id": 3, "created_at": as_of - 50 * D, "status": "churned",
         "churned_at": as_of - 5 * D},
        {"id": 4, "created_at": as_of - 50 * D, "status": "paused"},
    ]  # fmt: skip

    def session(sid, cust, tutor, days_ago, rating, first, status="completed", **kw):
        start = as_of - days_ago * D
        return {"id": sid, "customer_id": cust, "tutor_id": tutor, "start_time": start,
                "end_time": start + H, "status": status, "rating": rating,
                "first_session": first, "price": 50.0, "created_at": start - 5 * D,
                **kw}  # fmt: skip

    sessions = [
        session(1, 1, 7, 9, 2, True),  # very first session, rated 2
        session(2, 1, 8, 6, 5, True),  # switched tutor, good first session
        session(3, 1, 8, 3, None, False),
        session(4, 1, 8, 1, None, False, status="cancelled", rescheduled_by="tutor"),
        session(5, 1, 8, -2, None, False, status="scheduled"),  # upcoming
        session(6, 2, 7, 40, 4, False),
        # cancelled before as_of (its record says so since): known at as_of
        session(7, 1, 8, -4, None, False, status="cancelled", updated_at=as_of - D),
        # cancelled after as_of: unknown at as_of, still booked then
        session(8, 1, 8, -4.5, None, False, status="cancelled", updated_at=as_of + D),
    ]
    calls = [
        {"id": 1, "customer_id": 1, "call_time": as_of - 2 * D, "sentiment": "negative",
         "reason_code": "tutor_quality"},
        {"id": 2, "customer_id": 1, "call_time": as_of - 8 * D, "sentiment": "neutral",
         "reason_code": "scheduling"},
        {"id": 3, "customer_id": 2, "call_time": as_of - 20 * D, "sentiment": None},
    ]  # fmt: skip
    bookings = [
        {"id": 1, "customer_id": 1, "status": "unfilled", "created_at": as_of - 9 * D,
         "scheduled_time": as_of - 7 * D},
        {"id": 2, "customer_id": 1, "status": "unfilled", "created_at": as_of - 2 * D,
         "scheduled_time": as_of + 2 * D},  # its time has not come: not counted yet
    ]  # fmt: skip
    f = make_frames(customers=customers, sessions=sessions, calls=calls, bookings=bookings)
    X = customer_features(f, as_of)
    assert list(X.index) == [1, 2, 4]  # churned before as_of: not a row; paused is
    c = X.loc[1]
    assert c["sessions_total"] == 3 and c["sessions_first_7d"] == 2
    assert c["first_session_rating"] == 2 and c["first_session_success_rate"] == 0.5
    assert c["poor_first_sessions_30d"] == 1
    assert c["tutor_switches_30d"] == 1 and c["unique_tutors_90d"] == 2
    assert c["tutor_consistency_90d"] == pytest.approx(2 / 3)
    assert c["calls_14d"] == 2 and c["calls_2plus_14d"] == 1 and c["negative_calls_30d"] == 1
    assert c["days_since_last_call"] == pytest.approx(2)
    assert c["cancellations_30d"] == 1 and c["tutor_reschedules_30d"] == 1
    assert c["upcoming_sessions_14d"] == 2 and c["cancelled_upcoming_14d"] == 1
    assert c["unfilled_bookings_30d"] == 1 and c["bookings_30d"] == 2
    assert c["days_since_last_session"] == pytest.approx(3 - 1 / 24)
    assert c["is_new_customer"] == 1 and c["student_age"] == 14
    assert c["spend_30d"] == 150.0 and c["goal_in_progress"] == 1
    # No sessions lately, no calls: counts 0, shares NaN, days-since from tenure.
    old = X.loc[2]
    assert old["sessions_30d"] == 0 and old["sessions_90d"] == 1
    assert old["tutor_consistency_90d"] == 1.0 and old["calls_30d"] == 1
    assert old["goal_completed"] == 1 and np.isnan(old["student_age"])
    paused = X.loc[4]
    assert paused["has_sessions"] == 0 and paused["days_since_last_session"] == pytest.approx(50)
    assert paused["days_since_last_call"] == pytest.approx(50)
    nan_cols = set(X.columns[X.isna().any()])
    assert nan_cols <= {n for n, i in FEATURE_INFO.items() if i.missing}


def test_no_nan_where_none_is_promised(demo_frames):
    X = customer_features(demo_frames, demo_frames.observed_until)
    assert len(X) > 3500 and X.index.is_unique
    never_nan = [n for n, i in FEATURE_INFO.items() if i.missing is None and n != "student_age"]
    assert not X[never_nan].isna().any().any()
    assert X["tutor_consistency_90d"].dropna().between(0, 1).all()
    assert (X["calls_2plus_14d"] == (X["calls_14d"] >= 2)).all()


def test_empty_frames_and_unknown_ids():
    f = MarketFrames.empty(ANCHOR)
    X = customer_features(f, ANCHOR)
    assert list(X.columns) == FEATURES and len(X) == 0 and X.index.name == "customer_id"
    with pytest.raises(KeyError, match="unknown customer ids"):
        customer_features(f, ANCHOR, [1])
