"""The version log answers keyset queries the way RAILS_API.md says."""

import numpy as np
import pytest

from services.api.contract import RESOURCES
from services.sandbox.store import VersionLog

MANAGERS = RESOURCES["managers"]


def _log(rows):
    """rows: (id, updated_at, name) tuples -> a managers log."""
    ids, times, names = zip(*rows, strict=True)
    cols = {
        "id": np.array(ids),
        "updated_at": np.array(times),
        "created_at": np.array(times),
        "deleted_at": np.zeros(len(ids), dtype=np.int64),
        "name": np.array(names, dtype=object),
        "email": np.array([f"{n}@x.test" for n in names], dtype=object),
    }
    return VersionLog(MANAGERS, cols, {"deleted_at": np.ones(len(ids), dtype=bool)})


def _ids(log, page):
    return log.column("id", page.rows)[0].tolist()


def test_current_version_only_and_clock_hides_the_future():
    log = _log([(1, 10, "a"), (2, 20, "b"), (1, 30, "a2"), (3, 40, "c")])
    page = log.page(now_us=35)
    assert _ids(log, page) == [2, 1]  # record 1's first version is superseded at 30
    assert log.column("name", page.rows)[0].tolist() == ["b", "a2"]
    page = log.page(now_us=25)
    assert _ids(log, page) == [1, 2]
    assert log.column("name", page.rows)[0].tolist() == ["a", "b"]


def test_keyset_ties_break_on_id_and_since_alone_is_inclusive():
    log = _log([(i, 100, f"m{i}") for i in range(1, 8)] + [(9, 50, "early")])
    p = log.page(now_us=1000, updated_since_us=100, after_id=3, limit=2)
    assert _ids(log, p) == [4, 5]
    assert p.has_more
    p = log.page(now_us=1000, updated_since_us=100, after_id=6, limit=2)
    assert _ids(log, p) == [7]
    assert not p.has_more
    p = log.page(now_us=1000, updated_since_us=100, limit=3)
    assert _ids(log, p) == [1, 2, 3]
    p = log.page(now_us=1000, updated_since_us=51, limit=10)
    assert 9 not in _ids(log, p)


def test_append_merges_new_versions_and_supersedes_old_ones():
    log = _log([(1, 10, "a"), (2, 20, "b")])
    log.append(
        {
            "id": np.array([1]),
            "updated_at": np.array([25]),
            "created_at": np.array([10]),
            "deleted_at": np.array([25]),
            "name": np.array(["a"], dtype=object),
            "email": np.array(["a@x.test"], dtype=object),
        }
    )
    page = log.page(now_us=100)
    assert _ids(log, page) == [2, 1]
    deleted, mask = log.column("deleted_at", page.rows)
    assert mask.tolist() == [True, False]
    assert deleted[1] == 25
    assert log.last_version(1)["deleted_at"] == 25
    assert log.last_version(2)["deleted_at"] is None


@pytest.mark.parametrize("limit", [1, 3, 1000])
def test_paging_visits_every_visible_record_exactly_once(limit):
    rng = np.random.default_rng(7)
    n = 3000
    ids = np.arange(1, n + 1)
    first = rng.integers(0, 5000, n)
    second = first + rng.integers(1, 5000, n)
    rows = [(int(i), int(t), "v1") for i, t in zip(ids, first, strict=True)]
    rows += [(int(i), int(t), "v2") for i, t in zip(ids, second, strict=True)]
    log = _log(rows)
    now = 4000
    seen = []
    since = after = None
    while True:
        page = log.page(now_us=now, updated_since_us=since, after_id=after, limit=limit)
        got = _ids(log, page)
        seen += got
        if got:
            since = int(log.column("updated_at", page.rows[-1:])[0][0])
            after = got[-1]
        if not page.has_more:
            break
    expected = {int(i) for i, t in zip(ids, first, strict=True) if t <= now}
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
