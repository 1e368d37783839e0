"""services.sandbox.frames.frames_at: the sandbox world as MarketFrames at a clock."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.frames import COLUMNS, MarketFrames
from services.api.rails_time import US_PER_DAY
from services.sandbox.frames import RESOURCE_OF, frames_at


def _visible_ids(log, now_us: int) -> set[int]:
    rows = log.current_rows(now_us)
    ids, _ = log.column("id", rows)
    _, nulls = log.column("deleted_at", rows)
    return set(ids[nulls].tolist())


def test_every_frame_holds_the_current_undeleted_records(tiny_world, tiny_frames):
    f = tiny_frames
    assert isinstance(f, MarketFrames)
    f.validate()
    assert f.observed_until == pd.Timestamp(tiny_world.anchor_us, unit="us", tz="UTC")
    for name, resource in RESOURCE_OF.items():
        frame = getattr(f, name)
        assert set(COLUMNS[name]) <= set(frame.columns)
        log = tiny_world.logs[resource]
        assert set(frame["id"].tolist()) == _visible_ids(log, tiny_world.anchor_us), name
        assert frame["id"].is_unique and frame["id"].is_monotonic_increasing
        assert frame["deleted_at"].isna().all()
        assert (frame["updated_at"] <= f.observed_until).all()


def test_soft_deleted_records_are_left_out(tiny_world):
    later = tiny_world.anchor_us + 10 * US_PER_DAY
    log = tiny_world.logs["availability_slots"]
    rows = log.current_rows(later)
    _, nulls = log.column("deleted_at", rows)
    gone = set(log.column("id", rows)[0][~nulls].tolist())
    assert gone, "the tiny world withdraws some slots"
    f = frames_at(tiny_world, later)
    assert not gone & set(f.availability["id"].tolist())


def test_types_follow_the_contract(tiny_frames):
    s, t = tiny_frames.sessions, tiny_frames.tutors
    assert str(s["start_time"].dtype) == "datetime64[us, UTC]"
    assert str(tiny_frames.customers["signup_date"].dtype) == "datetime64[us, UTC]"
    assert s["id"].dtype == np.int64
    assert s["rating"].dtype == "Int64" and s["rating"].isna().any()
    assert s["first_session"].dtype == bool
    assert s["price"].dtype == np.float64
    assert isinstance(t["subjects"].iloc[0], list)
    assert all(isinstance(x, str) for x in t["subjects"].iloc[0])
    assert t["status"].isin(["active", "inactive", "churned"]).all()
    # Dates sit at midnight UTC.
    assert (tiny_frames.customers["signup_date"].dt.hour == 0).all()


def test_an_earlier_clock_sees_less(tiny_world, tiny_frames):
    earlier = tiny_world.anchor_us - 20 * US_PER_DAY
    f = frames_at(tiny_world, earlier)
    cut = pd.Timestamp(earlier, unit="us", tz="UTC")
    assert f.observed_until == cut
    assert len(f.sessions) < len(tiny_frames.sessions)
    assert (f.sessions["created_at"] <= cut).all()
    assert (f.engagement["occurred_at"] <= cut).all()
    # A session completed since then was still scheduled or unrated at the earlier clock.
    later = tiny_frames.sessions.set_index("id")
    now = f.sessions.set_index("id")
    common = now.index.intersection(later.index)
    changed = (now.loc[common, "status"] != later.loc[common, "status"]).sum()
    assert changed > 0
