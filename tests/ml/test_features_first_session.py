"""First-session rows: Mike Ross's upcoming session, the record as of each start, labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.features.first_session import COLUMNS, FEATURE_INFO, FEATURES, first_session_rows
from ml.frames import MarketFrames

from .conftest import ANCHOR

D = pd.Timedelta(days=1)
H = pd.Timedelta(hours=1)


def test_mike_ross_upcoming_first_session(demo_world, demo_frames):
    until = demo_frames.observed_until + 7 * D
    rows = first_session_rows(demo_frames, as_of=demo_frames.observed_until, until=until)
    assert list(rows.columns) == COLUMNS
    assert rows["poor"].isna().all() and (rows["start_time"] >= demo_frames.observed_until).all()
    mike = rows.loc[demo_world.personas["mike_ross_first_session"]]
    assert mike["tutor_id"] == demo_world.personas["mike_ross"]
    assert mike["subject"] == "spanish"
    assert mike["local_weekday"] == 5 and mike["local_hour"] == 8 and mike["is_weekend"] == 1
    assert mike["student_age"] == 14
    assert mike["tutor_sessions_completed"] == 5
    assert mike["tutor_rating_avg"] == pytest.approx(3.8)
    assert mike["tutor_first_sessions_rated"] == 5
    assert mike["tutor_first_session_success_rate"] == pytest.approx(0.4)
    assert mike["tutor_engagement_score"] == pytest.approx(0.55, abs=0.03)
    assert mike["cutoff"] == demo_frames.observed_until
    assert not rows[[c for c in FEATURES if FEATURE_INFO[c].missing is None]].isna().any().any()


def test_training_rows_see_only_what_came_before_each_start(tiny_frames):
    rows = first_session_rows(tiny_frames)
    assert len(rows) > 150
    assert rows["poor"].isin([0.0, 1.0]).all()
    assert (rows["poor"] == (rows["rating"] < 4)).all()
    assert (rows["cutoff"] == rows["start_time"]).all()
    s = tiny_frames.sessions
    done = s[s.status == "completed"]
    sample = rows.sample(60, random_state=1)
    for sid, r in sample.iterrows():
        mine = done[(done.tutor_id == r.tutor_id) & (done.end_time < r.start_time)]
        assert r.tutor_sessions_completed == len(mine), sid
        rated = mine.rating.dropna().astype(float)
        expected = rated.mean() if len(rated) else np.nan
        assert r.tutor_rating_avg == pytest.approx(expected, nan_ok=True)
        firsts = mine[mine.first_session].rating.dropna().astype(float)
        assert r.tutor_first_sessions_rated == len(firsts)
        ok = (firsts >= 4).mean() if len(firsts) else np.nan
        assert r.tutor_first_session_success_rate == pytest.approx(ok, nan_ok=True)
        assert sid not in mine.id.values


def test_hour_is_the_tutors_local_time_and_gaps_are_clear(make_frames):
    as_of = ANCHOR
    tutors = [
        {"id": 1, "hired_at": as_of - 50 * D, "timezone": "America/Los_Angeles"},
        {"id": 2, "hired_at": as_of - 50 * D, "timezone": "Mars/Olympus_Mons"},
    ]
    start = pd.Timestamp("2026-11-21T16:00:00Z")  # 08:00 in Los Angeles, a Saturday
    sessions = [
        {"id": 1, "tutor_id": 1, "customer_id": 5, "subject": "spanish", "start_time": start,
         "end_time": start + H, "status": "scheduled", "first_session": True,
         "created_at": as_of - D},
        {"id": 2, "tutor_id": 2, "customer_id": 6, "subject": None, "start_time": start,
         "end_time": start + H, "status": "scheduled", "first_session": True,
         "created_at": as_of - D},
        {"id": 3, "tutor_id": 99, "customer_id": 5, "subject": "french", "start_time": start,
         "end_time": start + H, "status": "scheduled", "first_session": True,
         "created_at": as_of - D},
    ]  # fmt: skip
    customers = [{"id": 5, "created_at": as_of - 5 * D, "student_age": 9}]
    f = make_frames(tutors=tutors, sessions=sessions, customers=customers)
    rows = first_session_rows(f, as_of=as_of)
    assert list(rows.index) == [1, 2, 3]
    assert rows.loc[1, "local_hour"] == 8 and rows.loc[1, "local_weekday"] == 5
    assert rows.loc[2, "local_hour"] == 16  # unknown zone: UTC
    assert rows.loc[2, "subject"] == "unknown"
    new = rows.loc[1]
    assert new["tutor_sessions_completed"] == 0 and np.isnan(new["tutor_rating_avg"])
    assert new["tutor_rating_smoothed"] == pytest.approx(4.3)
    assert new["tutor_first_session_success_smoothed"] == pytest.approx(0.75)
    assert new["tutor_reschedule_rate"] == 0 and new["tutor_engagement_score"] == 0
    assert new["student_age"] == 9 and np.isnan(rows.loc[2, "student_age"])
    unknown = rows.loc[3]  # a tutor not in the tutors frame: no record, no crash
    assert np.isnan(unknown["tutor_engagement_score"]) and unknown["tutor_ratings"] == 0


def test_empty_frames_give_empty_rows():
    f = MarketFrames.empty(ANCHOR)
    for rows in (first_session_rows(f), first_session_rows(f, as_of=ANCHOR)):
        assert list(rows.columns) == COLUMNS and len(rows) == 0
