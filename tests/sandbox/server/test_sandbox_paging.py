"""Keyset paging over HTTP: every record once, ties, limits, precision, the clock."""

from __future__ import annotations

import numpy as np
import pytest

from services.api.contract import RESOURCES, Kind
from services.api.rails_time import US_PER_DAY, US_PER_HOUR, format_us, parse_us
from services.sandbox.clock import SandboxClock
from tests.fixtures.sandbox import FIXED_ANCHOR_US, make_log, stub_world

ANCHOR = FIXED_ANCHOR_US
BULK_AT = ANCHOR - US_PER_DAY + 123_456  # one stored microsecond, 1,200 records


def _managers(versions):
    """versions: (id, updated_at, name) -> manager records."""
    return [
        {"id": i, "name": n, "email": f"{n}@x.test", "created_at": t, "updated_at": t}
        for i, t, n in versions
    ]


@pytest.fixture(scope="module")
def tie_versions():
    """(id, updated_at, name) for 2,600 managers: a bulk update of 1,200 at one µs, other
    ties, later versions superseding earlier ones, some versions after the anchor."""
    rng = np.random.default_rng(3)
    out = []
    for i in range(1, 2601):
        t = ANCHOR - 3 * US_PER_DAY + int(rng.integers(0, 40)) * 1000  # ties within a ms
        out.append((i, t, f"a{i}"))
        if i <= 1200:
            out.append((i, BULK_AT, f"bulk{i}"))
        if i % 7 == 0:
            out.append((i, ANCHOR + int(rng.integers(1, 5)) * US_PER_HOUR, f"future{i}"))
    return out


def _visible(versions, now):
    latest = {}
    for i, t, n in versions:
        if t <= now and (i not in latest or t > latest[i][0]):
            latest[i] = (t, n)
    return {i: n for i, (t, n) in latest.items()}


def _crawl(client, path, limit, max_pages=100):
    """A correct client with 6-digit timestamps: cursor = last (updated_at, id)."""
    seen = []
    params = {"limit": limit}
    for _ in range(max_pages):
        body = client.get(path, params=params).json()
        seen += body["data"]
        if body["data"]:
            last = body["data"][-1]
            params = {"limit": limit, "updated_since": last["updated_at"], "after_id": last["id"]}
        if not body["meta"]["has_more"]:
            return seen
    raise AssertionError("paging did not finish")


@pytest.fixture
def tie_server(sandbox_server_factory, tie_versions):
    world = stub_world({"managers": make_log("managers", _managers(tie_versions))})
    return sandbox_server_factory(world=world, time_precision=6)


@pytest.mark.parametrize("limit", [1000, 333, 7])
def test_paging_with_microseconds_visits_every_record_once(tie_server, tie_versions, limit):
    with tie_server.client() as c:
        if limit == 7:
            # Small pages through the whole table take long; start inside the bulk group.
            since = format_us(BULK_AT)
            got = []
            params = {"limit": 7, "updated_since": since, "after_id": 1150}
            while True:
                body = c.get("/api/v1/managers", params=params).json()
                got += body["data"]
                if not body["meta"]["has_more"]:
                    break
                last = body["data"][-1]
                params = {"limit": 7, "updated_since": last["updated_at"], "after_id": last["id"]}
            ids = [r["id"] for r in got]
            assert ids[:50] == list(range(1151, 1201))  # the tail of the tie, by id
            assert len(ids) == len(set(ids))
            return
        seen = _crawl(c, "/api/v1/managers", limit)
    expected = _visible(tie_versions, ANCHOR)
    ids = [r["id"] for r in seen]
    assert len(ids) == len(set(ids)) == len(expected)
    assert {r["id"]: r["name"] for r in seen} == expected
    keys = [(parse_us(r["updated_at"]), r["id"]) for r in seen]
    assert keys == sorted(keys)


def test_millisecond_cursor_repeats_a_bulk_group_and_a_microsecond_probe_moves_on(
    sandbox_server_factory, tie_versions
):
    """Default Rails: the emitted cursor is behind the stored instant (RAILS_API.md)."""
    world = stub_world({"managers": make_log("managers", _managers(tie_versions))})
    server = sandbox_server_factory(world=world)  # time_precision 3
    with server.client() as c:
        since = format_us(BULK_AT - 123_456)  # the whole millisecond before the group
        first = c.get("/api/v1/managers", params={"limit": 1000, "updated_since": since}).json()
        last = first["data"][-1]
        assert last["updated_at"].endswith(".123Z")  # truncated, the stored value is .123456
        again = c.get(
            "/api/v1/managers",
            params={"limit": 1000, "updated_since": last["updated_at"], "after_id": last["id"]},
        ).json()
        # The cursor did not move: the page starts at the group again, has_more still true.
        assert again["data"][0]["id"] == first["data"][0]["id"]
        assert again["meta"]["has_more"]
        exact = format_us(BULK_AT)
        moved = c.get(
            "/api/v1/managers",
            params={"limit": 1000, "updated_since": exact, "after_id": last["id"]},
        ).json()
        assert moved["data"][0]["id"] == last["id"] + 1


def test_updated_since_alone_is_inclusive_and_after_id_breaks_ties(tie_server):
    with tie_server.client() as c:
        at = format_us(BULK_AT)
        incl = c.get("/api/v1/managers", params={"updated_since": at, "limit": 3}).json()
        assert [r["id"] for r in incl["data"]] == [1, 2, 3]
        tie = c.get(
            "/api/v1/managers", params={"updated_since": at, "after_id": 1198, "limit": 5}
        ).json()
        assert [r["id"] for r in tie["data"]][:2] == [1199, 1200]
        assert all(parse_us(r["updated_at"]) > BULK_AT for r in tie["data"][2:])


def test_limit_default_and_cap(tie_server):
    with tie_server.client() as c:
        assert len(c.get("/api/v1/managers").json()["data"]) == 500
        assert len(c.get("/api/v1/managers", params={"limit": 5000}).json()["data"]) == 1000
        assert len(c.get("/api/v1/managers", params={"limit": 1001}).json()["data"]) == 1000
        assert len(c.get("/api/v1/managers", params={"limit": 1}).json()["data"]) == 1


def test_millisecond_and_microsecond_formats(sandbox_server_factory):
    t = parse_us("2026-11-19T14:03:11.482999Z")
    log = make_log(
        "managers", [{"id": 1, "name": "m", "email": "e", "created_at": t, "updated_at": t}]
    )
    world = stub_world({"managers": log})
    for precision, text in ((3, "2026-11-19T14:03:11.482Z"), (6, "2026-11-19T14:03:11.482999Z")):
        server = sandbox_server_factory(world=world, time_precision=precision)
        with server.client() as c:
            record = c.get("/api/v1/managers").json()["data"][0]
            assert record["updated_at"] == record["created_at"] == text
            assert c.get("/api/v1/health").json()["server_time"].count(".") == 1
    server.server.time_precision = 0
    with server.client() as c:
        assert c.get("/api/v1/managers").json()["data"][0]["updated_at"] == "2026-11-19T14:03:11Z"


def test_clock_hides_the_future_and_advancing_reveals_it(sandbox_server_factory, tie_versions):
    world = stub_world({"managers": make_log("managers", _managers(tie_versions))})
    server = sandbox_server_factory(world=world, time_precision=6)
    with server.client() as c:
        before = {r["id"]: r["name"] for r in _crawl(c, "/api/v1/managers", 1000)}
        assert not any(n.startswith("future") for n in before.values())
        server.server.advance(hours=2)
        after = {r["id"]: r["name"] for r in _crawl(c, "/api/v1/managers", 1000)}
    assert after == _visible(tie_versions, ANCHOR + 2 * US_PER_HOUR)
    assert any(n.startswith("future") for n in after.values())
    assert len(after) == len(before)  # new versions replace old ones, never duplicate


def test_every_field_kind_is_emitted_as_the_contract_says(sandbox_server, sandbox_world):
    """The shared world, every resource: kinds, nulls, order (id first, timestamps last)."""
    with sandbox_server.client() as c:
        for name, resource in RESOURCES.items():
            r = c.get(f"/api/v1/{name}", params={"limit": 200})
            assert r.status_code == 200, name
            data = r.json()["data"]
            if not data:
                continue
            order = list(data[0])
            assert order[0] == "id"
            assert order[-3:] == ["created_at", "updated_at", "deleted_at"]
            assert set(order) == set(resource.field_names)
            for record in data:
                for f in resource.fields:
                    _check_kind(name, f, record[f.name])


def _check_kind(resource, f, value):
    where = f"{resource}.{f.name}={value!r}"
    if value is None:
        assert f.nullable, where
        return
    if f.kind == Kind.TIMESTAMP:
        ok = isinstance(value, str) and value.endswith("Z") and len(value) == 24
        parse_us(value)
    elif f.kind == Kind.DATE:
        ok = isinstance(value, str) and len(value) == 10
    elif f.kind == Kind.DECIMAL:
        # BigDecimal#to_s: no trailing zeros except the one of "40.0".
        ok = isinstance(value, str) and float(value) >= 0
        ok = ok and (not value.endswith("0") or value.endswith(".0"))
    elif f.kind == Kind.INT:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif f.kind == Kind.BOOL:
        ok = isinstance(value, bool)
    elif f.kind == Kind.STR_LIST:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif f.kind == Kind.ENUM:
        ok = value in f.choices
    elif f.kind == Kind.FLOAT:
        ok = isinstance(value, int | float)
    else:
        ok = isinstance(value, str)
    assert ok, where


def test_world_is_extended_when_the_clock_nears_its_horizon(sandbox_server_factory):
    from tests.fixtures.sandbox import synthetic_world

    world = synthetic_world(per_resource=5)
    server = sandbox_server_factory(world=world, clock=SandboxClock.fixed(world.anchor_us))
    horizon = world.horizon_us
    with server.client() as c:
        server.server.advance(days=10)  # 20 days before the horizon: nothing to do
        assert world.extend_calls == []
        server.clock.advance(days=8)  # within 14 days of it: the next request extends
        c.get("/api/v1/health")
        assert world.extend_calls == []  # health does not touch the world
        r = c.get("/api/v1/sessions", params={"limit": 1})
        assert r.status_code == 200
    assert len(world.extend_calls) == 1
    assert world.horizon_us > horizon
    assert world.extend_calls[0] >= server.clock.now_us() + 14 * US_PER_DAY


def test_the_shared_world_crawls_completely_with_microsecond_cursors(
    sandbox_server_factory, sandbox_world
):
    """Every resource of the real world: each visible record exactly once."""
    server = sandbox_server_factory(world=sandbox_world, time_precision=6)
    bound = server.clock.read_bound_us()
    with server.client() as c:
        for name in RESOURCES:
            seen = [r["id"] for r in _crawl(c, f"/api/v1/{name}", 1000)]
            expected = sandbox_world.logs[name].column(
                "id", sandbox_world.logs[name].current_rows(bound)
            )[0]
            assert len(seen) == len(set(seen)), name
            assert sorted(seen) == sorted(expected.tolist()), name


def test_advancing_past_the_horizon_extends_the_real_world(writable_sandbox_server):
    server = writable_sandbox_server
    world = server.world
    horizon = world.horizon_us
    since = format_us(server.clock.now_us() + 1)
    with server.client() as c:
        assert c.get("/api/v1/sessions", params={"updated_since": since}).json()["data"] == []
        server.server.advance(days=10)
        assert world.horizon_us > horizon
        assert world.horizon_us >= server.clock.now_us() + 14 * US_PER_DAY
        data = c.get("/api/v1/sessions", params={"updated_since": since, "limit": 1000}).json()
    assert data["data"]
    assert all(parse_us(r["updated_at"]) <= server.clock.now_us() for r in data["data"])
