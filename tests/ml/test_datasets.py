"""Churn labels and survival training sets: censoring, inactivity churn, no look-ahead."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from ml.datasets import (
    CUSTOMER_TRAINING_FEATURES,
    TUTOR_TRAINING_FEATURES,
    as_of_dates,
    customer_training_set,
    tutor_training_set,
)
from ml.features.tutor import tutor_features
from ml.frames import MarketFrames
from ml.labels import customer_churn_times, horizon_labels, tutor_churn_times

from .conftest import ANCHOR

D = pd.Timedelta(days=1)
H = pd.Timedelta(hours=1)
END = ANCHOR  # observed_until of the hand-made frames


def _done(sid: int, tutor: int, when: pd.Timestamp) -> dict:
    return {"id": sid, "tutor_id": tutor, "customer_id": 1, "start_time": when,
            "end_time": when + H, "status": "completed", "rating": 5,
            "created_at": when - 2 * D}  # fmt: skip


@pytest.fixture
def frames(make_frames) -> MarketFrames:
    last = pd.Timestamp("2026-10-01T15:00:00Z")  # 50 days before END
    tutors = [
        # 1: active and working: censored
        {"id": 1, "hired_at": END - 200 * D, "status": "active"},
        # 2: churned 3 days after the as-of used below
        {"id": 2, "hired_at": END - 200 * D, "status": "churned", "churned_at": END - 7 * D},
        # 3: went quiet: last session 50 days ago, no availability since
        {"id": 3, "hired_at": END - 200 * D, "status": "active"},
        # 4: quiet as long, but still offering hours: not churned
        {"id": 4, "hired_at": END - 200 * D, "status": "active"},
        # 5: inactive without churned_at: the day after the last session
        {"id": 5, "hired_at": END - 200 * D, "status": "inactive"},
        # 6: hired after the as-of: not in the set
        {"id": 6, "hired_at": END - 5 * D, "status": "active"},
    ]
    sessions = [
        _done(1, 1, END - 2 * D),
        _done(2, 2, END - 30 * D),
        _done(3, 3, last),
        _done(4, 4, last),
        _done(5, 5, last),
        _done(6, 1, END - 100 * D),
    ]
    slots = [{"id": 1, "tutor_id": 4, "subject": "algebra", "created_at": last + D,
              "starts_at": END + 3 * D, "ends_at": END + 3 * D + 2 * H}]  # fmt: skip
    customers = [
        {"id": 1, "created_at": END - 100 * D, "status": "active"},
        {"id": 2, "created_at": END - 100 * D, "status": "churned", "churned_at": END - 4 * D},
        {"id": 3, "created_at": END - 100 * D, "status": "paused"},
    ]
    return make_frames(tutors=tutors, sessions=sessions, availability=slots, customers=customers)


def test_churn_times_explicit_and_from_inactivity(frames):
    churn = tutor_churn_times(frames)
    day_after = pd.Timestamp("2026-10-02T00:00:00Z")
    assert pd.isna(churn[1]) and pd.isna(churn[4]) and pd.isna(churn[6])
    assert churn[2] == END - 7 * D
    assert churn[3] == day_after  # 50 days quiet, nothing offered: churned the day after
    assert churn[5] == day_after  # inactive without a date: the day after the last session
    # Censored 20 days after the last session: 30 days have not passed yet.
    early = tutor_churn_times(frames, censor_at=pd.Timestamp("2026-10-21T00:00:00Z"))
    assert pd.isna(early[3]) and early[5] == day_after and pd.isna(early[2])
    # censor_at can never look past observed_until
    assert tutor_churn_times(frames, censor_at=END + 100 * D).equals(churn)


def test_censoring_and_horizons(frames):
    as_of = END - 10 * D
    X, duration, event = tutor_training_set(frames, [as_of])
    assert list(X.columns) == TUTOR_TRAINING_FEATURES
    assert X.index.names == ["as_of", "tutor_id"]
    got = pd.DataFrame({"d": duration, "e": event}).droplevel("as_of")
    assert sorted(got.index) == [1, 2, 4]  # 3 and 5 churned before; 6 not hired yet
    # Observed for 10 days without churn: censored, not "did not churn".
    assert got.loc[1, "e"] == 0 and got.loc[1, "d"] == pytest.approx(10)
    assert got.loc[2, "e"] == 1 and got.loc[2, "d"] == pytest.approx(3)
    y = horizon_labels(duration, event).droplevel("as_of")
    assert list(y.columns) == ["churn_7d", "churn_14d", "churn_30d", "churn_90d"]
    assert y.loc[1, "churn_7d"] == 0 and np.isnan(y.loc[1, "churn_30d"])
    assert np.isnan(y.loc[1, "churn_14d"]) and np.isnan(y.loc[1, "churn_90d"])
    assert (y.loc[2] == 1).all()
    # The features are the tutor features of that date.
    assert (X.dtypes == np.float32).all()
    pd.testing.assert_frame_equal(
        X.droplevel("as_of"),
        tutor_features(frames, as_of, [1, 2, 4])[TUTOR_TRAINING_FEATURES].astype(np.float32),
    )


def test_horizon_labels_edges():
    y = horizon_labels(np.array([7.0, 7.0, 6.9, 200.0]), np.array([1, 0, 0, 1]), (7, 30))
    np.testing.assert_array_equal(y["churn_7d"], [1.0, 0.0, np.nan, 0.0])
    assert y["churn_30d"][0] == 1 and np.isnan(y["churn_30d"][1]) and y["churn_30d"][3] == 0


def test_a_hold_out_cut_hides_everything_after_it(frames):
    cut = END - 9 * D
    dates = [END - 20 * D, END - 12 * D, END - 9 * D, END - 2 * D]
    X, duration, event = tutor_training_set(frames, dates, censor_at=cut)
    as_of = X.index.get_level_values("as_of")
    assert as_of.max() == END - 12 * D  # dates at or after the cut are dropped
    room = (cut - as_of) / D
    assert (duration.to_numpy() <= room + 1e-9).all()
    # Tutor 2 churns after the cut: censored in the training part.
    two = event.xs(2, level="tutor_id")
    assert (two == 0).all()
    full = tutor_training_set(frames, dates)[2].xs(2, level="tutor_id")
    assert (full == 1).all()


def test_customers_churn_only_on_status_churned(frames):
    churn = customer_churn_times(frames)
    assert churn[2] == END - 4 * D and pd.isna(churn[1]) and pd.isna(churn[3])
    X, duration, event = customer_training_set(frames, [END - 10 * D])
    assert list(X.columns) == CUSTOMER_TRAINING_FEATURES
    got = event.droplevel("as_of")
    assert got.to_dict() == {1: 0, 2: 1, 3: 0}
    assert duration.droplevel("as_of")[2] == pytest.approx(6)


def test_as_of_dates(tiny_frames, demo_frames):
    dates = as_of_dates(demo_frames)
    assert dates == sorted(dates) and len(dates) >= 15
    assert all(d == d.floor("D") and d.tzinfo is not None for d in dates)
    assert all((b - a) == 7 * D for a, b in itertools.pairwise(dates))
    assert dates[-1] < demo_frames.observed_until
    first = demo_frames.sessions["end_time"].min()
    assert dates[0] >= first + 60 * D
    assert len(as_of_dates(demo_frames, max_dates=4)) == 4
    assert as_of_dates(MarketFrames.empty(ANCHOR)) == []


def test_training_set_on_a_world(demo_frames):
    dates = as_of_dates(demo_frames, max_dates=8)
    X, duration, event = tutor_training_set(demo_frames, dates)
    assert len(X) == len(duration) == len(event) > 8 * 350
    assert (duration > 0).all() and set(event.unique()) <= {0, 1}
    assert X.index.is_unique
    churn = tutor_churn_times(demo_frames)
    per_date = X.groupby(level="as_of").size()
    for as_of, count in per_date.items():
        hired = demo_frames.tutors.set_index("id")["hired_at"]
        active = (hired < as_of) & (churn.isna() | (churn > as_of))
        assert count == active.sum()
    # Right-censored rows run to observed_until exactly.
    censored = duration[event == 0]
    as_of = censored.index.get_level_values("as_of")
    expected = (demo_frames.observed_until - as_of) / D
    assert np.allclose(censored.to_numpy(), np.asarray(expected, dtype=float))
    Xc, _, ec = customer_training_set(demo_frames, dates[-2:])
    assert len(Xc) > 7000 and ec.sum() > 0


def test_empty_frames_give_empty_sets():
    f = MarketFrames.empty(ANCHOR)
    X, d, e = tutor_training_set(f, [ANCHOR - 10 * D])
    assert len(X) == len(d) == len(e) == 0 and list(X.columns) == TUTOR_TRAINING_FEATURES
    Xc, _, _ = customer_training_set(f, [])
    assert len(Xc) == 0 and list(Xc.columns) == CUSTOMER_TRAINING_FEATURES
    assert len(tutor_churn_times(f)) == 0 and len(customer_churn_times(f)) == 0
