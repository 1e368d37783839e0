"""Intervention write-back: idempotent POST, optimistic-locking PATCH, validation."""

from __future__ import annotations

import threading
import uuid

import pytest

from services.api.rails_time import US_PER_DAY, parse_us
from tests.fixtures.sandbox import FIXED_ANCHOR_US, make_log, stub_world

ANCHOR = FIXED_ANCHOR_US


@pytest.fixture
def api(sandbox_server_factory):
    """A writable server: tutors 1-3 (3 hired after the clock), managers 1-2."""
    tutors = [
        {"id": i, "name": f"T{i}", "created_at": ANCHOR - 10 * US_PER_DAY, "updated_at": ANCHOR - 1}
        for i in (1, 2)
    ] + [{"id": 3, "name": "later", "created_at": ANCHOR + US_PER_DAY, "updated_at": ANCHOR + 5}]
    managers = [
        {"id": i, "name": f"M{i}", "created_at": ANCHOR - 1, "updated_at": ANCHOR - 1}
        for i in (1, 2)
    ]
    world = stub_world(
        {"tutors": make_log("tutors", tutors), "managers": make_log("managers", managers)}
    )
    handle = sandbox_server_factory(world=world, time_precision=6)
    with handle.client() as client:
        client.handle = handle
        yield client


def _post(client, key="auto", **attrs):
    body = {"tutor_id": 1, "intervention_type": "recognition", "priority": 50} | attrs
    if key == "auto":
        key = str(uuid.uuid4())
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post("/api/v1/interventions", json={"intervention": body}, headers=headers)


def _patch(client, record_id, **attrs):
    return client.patch(f"/api/v1/interventions/{record_id}", json={"intervention": attrs})


def _listed(client):
    return client.get("/api/v1/interventions", params={"limit": 1000}).json()["data"]


def test_post_creates_a_record_that_the_next_get_shows(api):
    r = _post(api, due_at="2026-12-01T09:30:00+01:00", assigned_to_id=2, reason="r", notes=7)
    assert r.status_code == 201
    record = r.json()
    assert record["id"] == 1
    assert record["lock_version"] == 0
    assert record["status"] == "open"
    assert record["outcome"] is None
    assert record["due_at"] == "2026-12-01T08:30:00.000000Z"
    assert record["notes"] == "7"  # Rails casts a number to the string column
    assert record["created_at"] == record["updated_at"]
    assert r.headers["Location"].endswith("/api/v1/interventions/1")
    assert _listed(api) == [record]
    assert api.handle.world.interventions_recorded == [
        (1, "recognition", parse_us(record["updated_at"]))
    ]


def test_replay_returns_the_first_record_even_if_the_body_differs(api):
    first = _post(api, key="same-key", priority=10)
    replay = _post(api, key="same-key", priority=99, tutor_id=2)
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert len(_listed(api)) == 1


def test_concurrent_posts_with_one_key_create_one_record(api):
    handle = api.handle
    statuses = []

    def post():
        with handle.client() as c:
            statuses.append(_post(c, key="raced").status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 7 + [201]
    assert len(_listed(api)) == 1


def test_writes_in_one_clock_instant_get_increasing_timestamps(api):
    stamps = [parse_us(_post(api).json()["updated_at"]) for _ in range(5)]
    assert stamps == sorted(set(stamps))
    assert stamps[0] == ANCHOR
    assert stamps[-1] == ANCHOR + 4
    ids = [r["id"] for r in _listed(api)]
    assert ids == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("attrs", "errors"),
    [
        ({"tutor_id": 99}, {"tutor": ["must exist"]}),
        ({"tutor_id": 3}, {"tutor": ["must exist"]}),  # hired after the clock
        ({"tutor_id": None}, {"tutor": ["must exist"]}),
        ({"intervention_type": "hug"}, {"intervention_type": ["is not included in the list"]}),
        ({"priority": None}, {"priority": ["is not a number"]}),
        ({"priority": "high"}, {"priority": ["is not a number"]}),
        ({"priority": 2.5}, {"priority": ["must be an integer"]}),
        ({"priority": 101}, {"priority": ["must be less than or equal to 100"]}),
        ({"priority": -1}, {"priority": ["must be greater than or equal to 0"]}),
        ({"due_at": "next tuesday"}, {"due_at": ["is not an ISO 8601 timestamp"]}),
        ({"assigned_to_id": 9}, {"assigned_to": ["must exist"]}),
    ],
)
def test_post_validation_errors(api, attrs, errors):
    r = _post(api, **attrs)
    assert r.status_code == 422
    assert r.json() == {"errors": errors}
    assert _listed(api) == []


def test_post_accepts_rails_casts(api):
    r = _post(api, tutor_id="2", priority="0", due_at="2026-12-01", assigned_to_id=None)
    assert r.status_code == 201
    assert (r.json()["tutor_id"], r.json()["priority"]) == (2, 0)
    assert r.json()["due_at"] == "2026-12-01T00:00:00.000000Z"


def test_post_ignores_unpermitted_attributes(api):
    r = _post(api, status="completed", lock_version=7, id=500, outcome="x", color="red")
    record = r.json()
    assert (record["id"], record["status"], record["lock_version"]) == (1, "open", 0)
    assert record["outcome"] is None
    assert "color" not in record


def test_a_key_that_failed_validation_can_be_retried(api):
    assert _post(api, key="k", tutor_id=99).status_code == 422
    assert _post(api, key="k").status_code == 201


def test_post_without_key_or_root_or_json(api):
    r = _post(api, key=None)
    assert r.status_code == 422
    assert r.json() == {"errors": {"idempotency_key": ["must be given"]}}
    r = api.post("/api/v1/interventions", json={"tutor_id": 1}, headers={"Idempotency-Key": "a"})
    assert r.status_code == 400
    assert r.json() == {"status": 400, "error": "Bad Request"}
    r = api.post(
        "/api/v1/interventions",
        content=b'{"intervention": oops}',
        headers={"Idempotency-Key": "b", "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert _listed(api) == []


def test_patch_updates_bumps_lock_version_and_shows_in_get(api):
    created = _post(api).json()
    api.handle.clock.advance(minutes=5)
    r = _patch(api, created["id"], status="completed", outcome="retained", lock_version=0)
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["outcome"], body["lock_version"]) == ("completed", "retained", 1)
    assert parse_us(body["updated_at"]) == ANCHOR + 5 * 60 * 1_000_000
    assert body["created_at"] == created["created_at"]
    assert list(body)[:3] == ["status", "outcome", "lock_version"]  # Rails' write order
    listed = _listed(api)
    assert len(listed) == 1
    assert listed[0]["lock_version"] == 1
    assert listed[0]["outcome"] == "retained"
    assert next(iter(listed[0])) == "id"  # reads keep the column order


def test_patch_conflict_keeps_the_server_record(api):
    rid = _post(api).json()["id"]
    assert _patch(api, rid, notes="first", lock_version=0).status_code == 200
    r = _patch(api, rid, notes="second", lock_version=0)
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "stale_object"
    assert body["message"] == "lock_version 0 is stale; the record is at 1"
    assert body["current"]["notes"] == "first"
    assert body["current"]["lock_version"] == 1
    assert _listed(api)[0]["notes"] == "first"


def test_patch_validation_and_missing_records(api):
    rid = _post(api).json()["id"]
    r = _patch(api, rid, status="done", lock_version=0)
    assert r.status_code == 422
    assert r.json() == {"errors": {"status": ["is not included in the list"]}}
    r = _patch(api, rid, status="completed")
    assert (r.status_code, r.json()) == (422, {"errors": {"lock_version": ["must be given"]}})
    r = _patch(api, rid, status="completed", lock_version="x")
    assert r.status_code == 422
    assert _patch(api, 999, status="completed", lock_version=0).status_code == 404
    assert _patch(api, "abc", status="completed", lock_version=0).status_code == 404
    assert api.put(f"/api/v1/interventions/{rid}", json={}).status_code == 400


def test_patch_ignores_unpermitted_fields_and_a_no_op_saves_nothing(api):
    created = _post(api, priority=40).json()
    r = _patch(api, created["id"], priority=99, tutor_id=2, lock_version=0)
    assert r.status_code == 200
    assert r.json()["priority"] == 40
    assert r.json()["lock_version"] == 0  # nothing changed, nothing saved
    assert r.json()["updated_at"] == created["updated_at"]
    assert _patch(api, created["id"], status="open", lock_version=0).json()["lock_version"] == 0


def test_writes_need_the_token(api):
    handle = api.handle
    import httpx

    with httpx.Client(base_url=handle.base_url) as anonymous:
        r = anonymous.post(
            "/api/v1/interventions",
            json={"intervention": {"tutor_id": 1}},
            headers={"Idempotency-Key": "x"},
        )
        assert r.status_code == 401
        assert anonymous.patch("/api/v1/interventions/1", json={}).status_code == 401


def test_chunked_request_bodies_and_head(api):
    def chunks():
        yield b'{"intervention": {"tutor_id": 1, '
        yield b'"intervention_type": "recognition", "priority": 1}}'

    r = api.post(
        "/api/v1/interventions",
        content=chunks(),
        headers={"Idempotency-Key": "chunked", "Content-Type": "application/json"},
    )
    assert r.status_code == 201
    head = api.head("/api/v1/interventions")
    get = api.get("/api/v1/interventions")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Length"] == str(len(get.content))
