"""Every injected fault is observable by a client, reproducible, and off by default."""

from __future__ import annotations

import http.client
import time

import httpx
import orjson
import pytest

from services.sandbox.faults import MALFORMED_KINDS, FaultConfig
from tests.fixtures.sandbox import TEST_TOKEN

SESSIONS = "/api/v1/sessions"


def _statuses(server, n, path=SESSIONS):
    with server.client() as c:
        return [c.get(path, params={"limit": 5}).status_code for _ in range(n)]


def test_faults_are_off_by_default(sandbox_server):
    assert sandbox_server.faults == FaultConfig()
    assert set(_statuses(sandbox_server, 20)) == {200}
    assert sum(sandbox_server.stats.faults.values()) == 0


def test_500_with_rails_error_bodies(sandbox_server):
    sandbox_server.faults = FaultConfig(error_500_rate=1.0)
    with sandbox_server.client() as c:
        r = c.get(SESSIONS)
        assert (r.status_code, r.json()) == (500, {"status": 500, "error": "Internal Server Error"})
        r = c.get(SESSIONS, headers={"Accept": "*/*"})
        assert (r.status_code, r.content) == (500, b"")
        # Health and the control endpoints are never faulted.
        assert c.get("/api/v1/health").status_code == 200
        assert c.get("/sandbox/clock").status_code == 200
    assert sandbox_server.stats.faults["500"] == 2


def test_rates_are_deterministic_per_seed(sandbox_server_factory, sandbox_world):
    patterns = []
    for seed in (1, 1, 2):
        server = sandbox_server_factory(
            world=sandbox_world, faults=FaultConfig(seed=seed, error_500_rate=0.3)
        )
        patterns.append(_statuses(server, 40))
    assert patterns[0] == patterns[1]
    assert patterns[0] != patterns[2]
    assert 4 <= patterns[0].count(500) <= 24


def test_429_with_retry_after_and_storms(sandbox_server):
    sandbox_server.faults = FaultConfig(rate_429=1.0, retry_after_seconds=7)
    with sandbox_server.client() as c:
        r = c.get(SESSIONS)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "7"
    sandbox_server.faults = FaultConfig(storm_429=3)
    assert _statuses(sandbox_server, 5) == [429, 429, 429, 200, 200]
    sandbox_server.faults = FaultConfig(storm_429=2)  # a new config starts a new storm
    assert _statuses(sandbox_server, 3) == [429, 429, 200]


def test_slow_responses(sandbox_server):
    sandbox_server.faults = FaultConfig(slow_ms=250)
    with sandbox_server.client() as c:
        started = time.perf_counter()
        assert c.get(SESSIONS, params={"limit": 1}).status_code == 200
        assert time.perf_counter() - started >= 0.25
        c.get("/api/v1/health")
    # Only the data request was delayed (counted, not timed: tests assert no upper
    # bounds on wall-clock time).
    assert sandbox_server.stats.faults["slow"] == 1


def test_connection_dropped_mid_body(sandbox_server):
    sandbox_server.faults = FaultConfig(drop_mid_body_rate=1.0)
    conn = http.client.HTTPConnection("127.0.0.1", sandbox_server.server.port, timeout=5)
    conn.request("GET", SESSIONS, headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    resp = conn.getresponse()
    assert resp.status == 200
    declared = int(resp.getheader("Content-Length"))
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert 0 < len(info.value.partial) < declared
    conn.close()
    with sandbox_server.client() as c, pytest.raises(httpx.RemoteProtocolError):
        c.get(SESSIONS)
    sandbox_server.faults = None
    assert _statuses(sandbox_server, 1) == [200]  # the server itself is fine


def test_dropped_post_response_is_recovered_by_replaying_the_key(writable_sandbox_server):
    server = writable_sandbox_server
    with server.client() as c:
        tutor_id = c.get("/api/v1/tutors", params={"limit": 1}).json()["data"][0]["id"]
        before = len(c.get("/api/v1/interventions", params={"limit": 1000}).json()["data"])
        server.faults = FaultConfig(drop_mid_body_rate=1.0)
        body = {"intervention": {"tutor_id": tutor_id, "intervention_type": "recognition",
                                 "priority": 5}}  # fmt: skip
        headers = {"Idempotency-Key": "lost-response"}
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/api/v1/interventions", json=body, headers=headers)
        server.faults = None
        r = c.post("/api/v1/interventions", json=body, headers=headers)
        assert r.status_code == 200
        assert r.headers["Idempotent-Replayed"] == "true"
        after = c.get("/api/v1/interventions", params={"limit": 1000}).json()["data"]
    assert len(after) == before + 1


def test_malformed_body_is_a_complete_200_that_is_not_json(sandbox_server):
    sandbox_server.faults = FaultConfig(malformed_body_rate=1.0)
    with sandbox_server.client() as c:
        r = c.get(SESSIONS)
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == len(r.content)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)


def test_huge_page_once(sandbox_server):
    sandbox_server.faults = FaultConfig(huge_page=True)
    with sandbox_server.client() as c:
        big = c.get(SESSIONS, params={"limit": 2})
        normal = c.get(SESSIONS, params={"limit": 2})
    assert len(big.content) > 10_000_000
    assert big.json()["data"] == normal.json()["data"]  # still valid, same records
    assert len(normal.content) < 10_000


def test_decimals_as_numbers(sandbox_server):
    sandbox_server.faults = FaultConfig(decimals_as_numbers_rate=1.0)
    with sandbox_server.client() as c:
        data = c.get(SESSIONS, params={"limit": 50}).json()["data"]
    prices = [r["price"] for r in data if r["price"] is not None]
    assert prices
    assert all(isinstance(p, float) for p in prices)


EXPECTED = {
    "string_id": lambda r: isinstance(r["id"], str) and r["id"].isdigit(),
    "wrong_type": lambda r: r["rating"] == "five",
    "missing_id": lambda r: "id" not in r,
    "missing_updated_at": lambda r: "updated_at" not in r,
    "impossible_value": lambda r: r["rating"] == 9,
    "naive_timestamp": lambda r: any(
        isinstance(r[k], str) and len(r[k]) == 23 and not r[k].endswith("Z")
        for k in ("start_time", "end_time", "created_at")
    ),
    "unknown_enum": lambda r: r["status"] == "on_leave",
    "unknown_field": lambda r: r["legacy_score"] == 17,
}


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformed_record_kind(sandbox_server, kind):
    sandbox_server.faults = FaultConfig(malformed_record_rate=1.0, malformed_kinds=(kind,))
    with sandbox_server.client() as c:
        data = c.get(SESSIONS, params={"limit": 20}).json()["data"]
    assert data
    assert all(EXPECTED[kind](r) for r in data), data[0]
    assert sandbox_server.stats.faults[f"malformed_record:{kind}"] == len(data)


def test_malformed_records_are_the_same_records_every_time(sandbox_server):
    with sandbox_server.client() as c:
        clean = c.get(SESSIONS, params={"limit": 200}).json()["data"]
        sandbox_server.faults = FaultConfig(seed=5, malformed_record_rate=0.2)
        first = c.get(SESSIONS, params={"limit": 200}).content
        c.get("/api/v1/tutors")  # other traffic in between changes nothing
        again = c.get(SESSIONS, params={"limit": 200}).content
        # A smaller page serves a prefix of the same rows: the same ones are bad.
        prefix = c.get(SESSIONS, params={"limit": 50}).json()["data"]
        sandbox_server.faults = FaultConfig(seed=6, malformed_record_rate=0.2)
        other_seed = c.get(SESSIONS, params={"limit": 200}).json()["data"]
    assert len(clean) == 200
    assert first == again
    data = orjson.loads(first)["data"]
    assert prefix == data[:50]
    bad = _differing(data, clean)
    assert 15 <= len(bad) <= 70
    assert bad != _differing(other_seed, clean)


def _differing(records, clean):
    return {i for i, (got, ok) in enumerate(zip(records, clean, strict=True)) if got != ok}


def test_faults_can_be_set_over_http(sandbox_server):
    with sandbox_server.client() as c:
        r = c.put("/sandbox/faults", json={"storm_429": 1, "malformed_kinds": ["missing_id"]})
        assert r.status_code == 200
        assert r.json()["storm_429"] == 1
        assert sandbox_server.faults.malformed_kinds == ("missing_id",)
        assert c.get(SESSIONS).status_code == 429
        assert c.get(SESSIONS).status_code == 200
        assert c.get("/sandbox/faults").json()["malformed_kinds"] == ["missing_id"]
        assert c.put("/sandbox/faults", json={"error_500_rate": 2}).status_code == 422
        assert c.put("/sandbox/faults", json={"bogus": 1}).status_code == 422
        assert c.put("/sandbox/faults", json={"malformed_kinds": ["x"]}).status_code == 422
        assert c.put("/sandbox/faults", json={}).json() == FaultConfig().to_json()


def test_fault_config_validation():
    with pytest.raises(ValueError, match="error_500_rate"):
        FaultConfig(error_500_rate=1.5)
    with pytest.raises(ValueError, match="malformed kinds"):
        FaultConfig(malformed_kinds=("nope",))
    with pytest.raises(ValueError, match="negative"):
        FaultConfig(storm_429=-1)
