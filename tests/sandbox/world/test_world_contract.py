"""Every version the world holds is a record the contract accepts, and consistent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.api.contract import MAX_PAGE_LIMIT, RESOURCES, Kind
from services.api.rails_time import US_PER_DAY

from .conftest import ANCHOR_US, every_version, visible


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_every_version_meets_the_contract(tiny_world, name):
    log = tiny_world.logs[name]
    resource = RESOURCES[name]
    cols = every_version(log)
    n = len(log)
    assert n > 0, name
    for f in resource.fields:
        values, nulls = cols[f.name]
        null = np.zeros(n, dtype=bool) if nulls is None else nulls
        where = f"{name}.{f.name}"
        if not f.nullable:
            assert not null.any(), where
        present = values[~null]
        if f.kind in (Kind.INT, Kind.TIMESTAMP, Kind.DATE):
            assert values.dtype == np.int64, where
        elif f.kind in (Kind.DECIMAL, Kind.FLOAT):
            assert values.dtype == np.float64, where
            assert not np.isnan(present).any(), where
        elif f.kind == Kind.BOOL:
            assert values.dtype == bool, where
        elif f.kind == Kind.STR_LIST:
            assert all(
                isinstance(v, tuple) and all(isinstance(s, str) for s in v) for v in present
            ), where
        else:
            assert all(isinstance(v, str) for v in present), where
        if f.kind == Kind.ENUM:
            assert set(present.tolist()) <= set(f.choices), where
        if f.minimum is not None and len(present):
            assert present.min() >= f.minimum, where
        if f.maximum is not None and len(present):
            assert present.max() <= f.maximum, where
        if f.kind == Kind.DATE:
            assert (present % US_PER_DAY == 0).all(), where
    created, c_null = cols["created_at"]
    updated = cols["updated_at"][0]
    assert c_null is None or not c_null.any(), f"{name}: created_at on every version"
    assert (updated >= created).all(), name
    ids = cols["id"][0]
    assert (ids >= 1).all()
    pairs = pd.DataFrame({"id": ids, "t": updated})
    assert not pairs.duplicated().any(), f"{name}: two versions of a record at one instant"
    first = pairs.sort_values("t").groupby("id").t.first()
    made = pd.Series(created, index=ids).groupby(level=0).nunique()
    assert (made == 1).all(), f"{name}: created_at changes between versions"
    assert len(first) == ids.max() == len(np.unique(ids)), f"{name}: ids are 1..n"


def test_no_record_has_two_versions_at_one_instant_at_demo_scale(demo_world):
    for name, log in demo_world.logs.items():
        cols = every_version(log)
        key = cols["id"][0] * (1 << 20) + (cols["updated_at"][0] % (1 << 20))
        stamps = pd.DataFrame({"id": cols["id"][0], "t": cols["updated_at"][0]})
        if len(np.unique(key)) != len(key):  # cheap check first, exact one if needed
            assert not stamps.duplicated().any(), name
        assert (cols["updated_at"][0] >= cols["created_at"][0]).all(), name


def test_timestamps_carry_random_microseconds(tiny_world):
    for name in ("sessions", "bookings", "engagement_events", "customers", "inbound_calls"):
        updated = every_version(tiny_world.logs[name])["updated_at"][0]
        sub_ms = updated % 1000
        assert (sub_ms != 0).mean() > 0.95, name
        assert len(np.unique(sub_ms)) > 200, name


def test_a_bulk_update_group_shares_one_microsecond(tiny_world, demo_world):
    for world, more_than in ((tiny_world, 100), (demo_world, MAX_PAGE_LIMIT)):
        log = world.logs["customers"]
        updated = every_version(log)["updated_at"][0]
        stamps, counts = np.unique(updated, return_counts=True)
        biggest = stamps[counts.argmax()]
        assert counts.max() > more_than
        at, ids = world.bulk_update
        assert biggest == at and counts.max() == len(ids)
        # Right after the update_all every member shows that one stored instant ...
        just_after = visible(log, int(at))
        group = just_after[just_after.updated_at == at]
        assert sorted(group.id) == sorted(ids.tolist())
        assert (group.acquisition_channel != "legacy_import").all()
        # ... and at the anchor most still do: more than a page, for a client syncing then.
        now = visible(log, ANCHOR_US)
        assert (now.updated_at == at).sum() > more_than
        live = now[now.deleted_at.isna()]
        assert (live.acquisition_channel == "legacy_import").sum() == 0


def test_soft_deletes_exist_where_expected(demo_world):
    for name in ("bookings", "sessions", "customers", "availability_slots"):
        now = visible(demo_world.logs[name], ANCHOR_US)
        deleted = now.deleted_at.notna()
        assert 0 < deleted.mean() < 0.05, name
        assert (now.deleted_at[deleted] <= now.updated_at[deleted]).all(), name


def test_records_reference_existing_records(tiny_world):
    f = {name: visible(log, tiny_world.horizon_us) for name, log in tiny_world.logs.items()}
    tutors, customers = set(f["tutors"].id), set(f["customers"].id)
    assert set(f["sessions"].tutor_id) <= tutors
    assert set(f["sessions"].customer_id) <= customers
    assert set(f["sessions"].booking_id) <= set(f["bookings"].id)
    assert set(f["bookings"].customer_id) <= customers
    assert set(f["bookings"].tutor_id.dropna().astype(int)) <= tutors
    assert set(f["inbound_calls"].customer_id) <= customers
    assert set(f["engagement_events"].tutor_id) <= tutors
    assert set(f["availability_slots"].tutor_id) <= tutors
    assert set(f["tutors"].manager_id) <= set(f["managers"].id)
    assert set(f["interventions"].assigned_to_id) <= set(f["managers"].id)
    # Whoever a record points at existed when the record was written.
    made_c = f["customers"].set_index("id").created_at
    made_t = f["tutors"].set_index("id").created_at
    for name, col in (
        ("sessions", "customer_id"),
        ("bookings", "customer_id"),
        ("inbound_calls", "customer_id"),
        ("sessions", "tutor_id"),
        ("engagement_events", "tutor_id"),
        ("availability_slots", "tutor_id"),
    ):
        made = made_c if col == "customer_id" else made_t
        rec = f[name]
        assert (made.loc[rec[col]].to_numpy() <= rec.created_at.to_numpy()).all(), (name, col)
    # One session per confirmed booking, with that booking's customer.
    sessions = f["sessions"]
    assert not sessions.booking_id.duplicated().any()
    booked = f["bookings"].set_index("id").loc[sessions.booking_id]
    assert (booked.customer_id.to_numpy() == sessions.customer_id.to_numpy()).all()
    assert set(booked.status) <= {"confirmed", "fulfilled", "cancelled"}


def test_session_lifecycle_is_consistent(demo_frames):
    s = demo_frames["sessions"]
    done = s.status == "completed"
    assert s.rating[~done].isna().all()
    assert s.learning_objectives_met[done].notna().all()
    assert (s.end_time > s.start_time).all()
    assert set(((s.end_time - s.start_time) // 60_000_000).unique()) == {30, 60, 90}
    assert (s.start_time[s.status == "scheduled"] > ANCHOR_US - 2 * 3600 * 10**6).all()
    assert (s.reschedule_count[s.rescheduled_by.isna()] == 0).all()
    assert (s.reschedule_count[s.rescheduled_by.notna()] >= 1).all()
    assert s.rating.isna().mean() < 0.3
    hours = (s.end_time - s.start_time) / 3.6e9
    tutors = demo_frames["tutors"].set_index("id").hourly_rate
    rate = tutors.loc[s.tutor_id].to_numpy()
    # Earnings follow the tutor's rate (raises apply to later bookings).
    assert (np.abs(s.tutor_earnings / hours - rate) / rate < 0.25).mean() > 0.95
    assert (s.price > s.tutor_earnings).all()


def test_churned_tutors_stop_teaching_and_offering_hours(demo_world):
    now = demo_world.horizon_us
    t = visible(demo_world.logs["tutors"], now)
    gone = t[t.status.isin(["churned", "inactive"])]
    assert len(gone) > 20 and gone.churned_at.notna().all()
    assert t[t.status == "active"].churned_at.isna().all()
    left = gone.set_index("id").churned_at
    s = visible(demo_world.logs["sessions"], now)
    s = s[s.tutor_id.isin(left.index)]
    after = s.start_time.to_numpy() > left.loc[s.tutor_id].to_numpy()
    assert (s.status[after] == "cancelled").all()
    assert after.sum() > 0  # they had future sessions, cancelled when they left
    slots = visible(demo_world.logs["availability_slots"], now)
    slots = slots[slots.tutor_id.isin(left.index)]
    live = slots.deleted_at.isna().to_numpy()
    later = slots.starts_at.to_numpy() > left.loc[slots.tutor_id].to_numpy() + US_PER_DAY
    assert not (live & later).any()


def test_interventions_stop_at_the_anchor_and_count_their_versions(demo_world):
    log = demo_world.logs["interventions"]
    cols = every_version(log)
    assert cols["updated_at"][0].max() <= ANCHOR_US
    iv = pd.DataFrame({k: v[0] for k, v in cols.items()})
    lock = iv.sort_values("updated_at").groupby("id").lock_version.apply(list)
    assert all(v == list(range(len(v))) for v in lock)
    now = visible(log, ANCHOR_US)
    assert set(now.status) == {"open", "in_progress", "completed", "cancelled"}
    assert now.idempotency_key.is_unique
    assert now.idempotency_key.str.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
        r"[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    ).all()
    assert (now.due_at > now.created_at).all()
    assert now.outcome[now.status == "completed"].notna().all()


def test_nobody_acts_after_leaving(demo_world):
    f = {n: visible(log, demo_world.horizon_us) for n, log in demo_world.logs.items()}
    left_c = f["customers"].set_index("id").churned_at
    left_t = f["tutors"].set_index("id").churned_at

    def after(frame, who, left, col):
        limit = left.loc[frame[who]].to_numpy()
        return np.nansum(frame[col].to_numpy() > limit)

    assert after(f["bookings"], "customer_id", left_c, "created_at") == 0
    done = f["sessions"][f["sessions"].status == "completed"]
    assert after(done, "customer_id", left_c, "start_time") == 0
    assert after(done, "tutor_id", left_t, "start_time") == 0
    assert after(f["sessions"], "tutor_id", left_t, "created_at") == 0
    assert after(f["engagement_events"], "tutor_id", left_t, "occurred_at") == 0
    assert after(f["availability_slots"], "tutor_id", left_t, "created_at") == 0
    assert after(f["interventions"], "tutor_id", left_t, "created_at") == 0
