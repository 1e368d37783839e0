"""The vectorised building blocks of the features, against brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.features._events import (
    NAT,
    Codes,
    EventIndex,
    distinct_count,
    group_median,
    positions,
    rel_change,
    safe_div,
    to_bool,
    to_float,
    to_us,
)


@pytest.fixture(scope="module")
def events():
    rng = np.random.default_rng(3)
    n_ent, m = 7, 400
    entity = rng.integers(-1, n_ent, m)  # -1: unknown entity, dropped
    times = rng.integers(0, 50, m) * 1000  # many equal times
    times[rng.random(m) < 0.05] = NAT  # unknown time, dropped
    value = rng.normal(size=m)
    return n_ent, entity, times, value, EventIndex(entity, times, n_ent, {"v": value})


def test_window_counts_and_sums_match_brute_force(events):
    n_ent, entity, times, value, idx = events
    ok = (entity >= 0) & (times != NAT)
    assert len(idx) == ok.sum()
    for lo, hi in ((0, 50_000), (10_000, 10_000), (10_000, 10_001), (-5, 3000), (25_000, 99_999)):
        sel = ok & (times >= lo) & (times < hi)
        count = np.bincount(entity[sel], minlength=n_ent)
        total = np.bincount(entity[sel], weights=value[sel], minlength=n_ent)
        assert (idx.count(lo, hi) == count).all()
        assert np.allclose(idx.sum("v", lo, hi), total)
        pos, owner = idx.gather(lo, hi)
        assert (np.bincount(owner, minlength=n_ent) == count).all()
        assert ((idx.times[pos] >= lo) & (idx.times[pos] < hi)).all()
    # open start, per-entity bounds, a subset of entities in any order
    ents = np.array([3, 0, 3, 6])
    his = np.array([20_000, 5000, 49_000, 0])
    got = idx.count(None, his, ents)
    want = [(ok & (entity == e) & (times < h)).sum() for e, h in zip(ents, his, strict=True)]
    assert got.tolist() == want


def test_last_and_first_times(events):
    n_ent, entity, times, _, idx = events
    ok = (entity >= 0) & (times != NAT)
    last = idx.last_before(20_000)
    first = idx.first_time()
    for e in range(n_ent):
        before = times[ok & (entity == e) & (times < 20_000)]
        assert last[e] == (before.max() if len(before) else NAT)
        mine = times[ok & (entity == e)]
        assert first[e] == (mine.min() if len(mine) else NAT)


def test_an_empty_index_answers_zeros():
    idx = EventIndex(np.zeros(0), np.zeros(0), 3, {"v": np.zeros(0)})
    assert idx.count(0, 10).tolist() == [0, 0, 0]
    assert idx.sum("v", None, 10).tolist() == [0, 0, 0]
    assert (idx.last_before(5) == NAT).all()
    pos, owner = idx.gather(0, 10)
    assert len(pos) == len(owner) == 0


def test_group_helpers():
    owner = np.array([0, 0, 0, 2, 2, 2, 2])
    values = np.array([5.0, 1.0, 3.0, 4.0, 1.0, 2.0, 10.0])
    med = group_median(owner, values, 4)
    assert med[0] == 3.0 and med[2] == np.median([4, 1, 2, 10]) and np.isnan(med[[1, 3]]).all()
    keys = np.array([7, 7, 8, 1, 1, 1, 2])
    assert distinct_count(owner, keys, 4).tolist() == [2, 0, 2, 0]
    assert np.isnan(safe_div(np.array([1.0]), np.array([0.0])))[0]
    assert rel_change(np.array([6.0, 3.0]), np.array([10.0, 0.0]))[0] == pytest.approx(-0.4)


def test_conversions_accept_what_a_database_loader_gives():
    ids = np.array([10, 30, 20])
    assert positions(ids, pd.Series([20, None, 99, 10], dtype=object)).tolist() == [2, -1, -1, 0]
    assert positions(ids, pd.Series([30.0, np.nan])).tolist() == [1, -1]
    assert np.isnan(to_float(pd.Series(["4.5", None, "x"], dtype=object))[1:]).all()
    assert to_float(pd.Series([1, None], dtype="Int64"))[0] == 1.0
    assert to_bool(pd.Series([True, None, 0, 1], dtype=object)).tolist() == [1, 0, 0, 1]
    assert to_bool(pd.Series(["true", "f", None])).tolist() == [True, False, False]
    assert to_bool(pd.Series([True, None], dtype="boolean")).tolist() == [True, False]
    ns = pd.Series(pd.to_datetime(["2026-11-20T12:00:00.000001Z", None], utc=True))
    assert to_us(ns).tolist() == [to_us(pd.Timestamp("2026-11-20T12:00:00.000001Z")), NAT]
    assert to_us(pd.Timestamp("1970-01-01T00:00:01Z")) == 1_000_000
    assert to_us(pd.Timestamp("1970-01-01 00:00:02")) == 2_000_000  # naive = UTC
    c = Codes(pd.Series(["a", None, "b", "a"]))
    assert c.eq("a").tolist() == [True, False, False, True] and not c.eq("zzz").any()
