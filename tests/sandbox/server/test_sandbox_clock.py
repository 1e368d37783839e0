"""The sandbox clock, its control endpoints, server lifecycle and stats."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from services.api.rails_time import US_PER_HOUR, US_PER_SECOND, parse_us
from services.sandbox.clock import SandboxClock
from services.sandbox.server import SandboxServer
from tests.fixtures.sandbox import FIXED_ANCHOR_US, TEST_TOKEN, stub_world

ANCHOR = FIXED_ANCHOR_US


class FakeWall:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_fixed_clock_moves_only_when_told():
    clock = SandboxClock.fixed(ANCHOR)
    assert clock.now_us() == ANCHOR
    assert clock.advance(hours=1, seconds=1.5) == ANCHOR + US_PER_HOUR + 1_500_000
    clock.set(ANCHOR - 5)
    assert clock.now_us() == ANCHOR - 5
    with pytest.raises(ValueError, match="forwards"):
        clock.advance(seconds=-1)


def test_realtime_clock_runs_at_its_speed():
    wall = FakeWall()
    clock = SandboxClock(ANCHOR, mode="realtime", speed=60, wall=wall)
    wall.t += 2.0
    assert clock.now_us() == ANCHOR + 120 * US_PER_SECOND
    clock.advance(hours=1)
    wall.t += 1.0
    assert clock.now_us() == ANCHOR + 180 * US_PER_SECOND + US_PER_HOUR
    clock.set(ANCHOR)
    wall.t += 0.5
    assert clock.now_us() == ANCHOR + 30 * US_PER_SECOND


def test_write_stamps_are_strictly_increasing_and_visible():
    clock = SandboxClock.fixed(ANCHOR)
    stamps = [clock.stamp_write() for _ in range(3)]
    assert stamps == [ANCHOR, ANCHOR + 1, ANCHOR + 2]
    assert clock.now_us() == ANCHOR  # writes do not move the clock...
    assert clock.read_bound_us() == ANCHOR + 2  # ...but are visible to readers
    assert clock.stamp_write(at_least_us=ANCHOR + 50) == ANCHOR + 50
    clock.advance(seconds=1)
    assert clock.stamp_write() == ANCHOR + US_PER_SECOND
    assert clock.read_bound_us() == ANCHOR + US_PER_SECOND


def test_write_stamps_are_unique_across_threads():
    clock = SandboxClock.fixed(ANCHOR)
    stamps: list[int] = []
    lock = threading.Lock()

    def work():
        for _ in range(200):
            s = clock.stamp_write()
            with lock:
                stamps.append(s)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(stamps)) == 800


def test_bad_clock_settings():
    with pytest.raises(ValueError, match="mode"):
        SandboxClock(ANCHOR, mode="sometimes")
    with pytest.raises(ValueError, match="speed"):
        SandboxClock.realtime(ANCHOR, speed=0)


def test_clock_control_endpoints(sandbox_server_factory):
    world = stub_world()
    server = sandbox_server_factory(world=world)
    with server.client() as c:
        state = c.get("/sandbox/clock").json()
        assert state["now_us"] == ANCHOR
        assert state["mode"] == "fixed"
        r = c.post("/sandbox/clock/advance", json={"hours": 1})
        assert r.status_code == 200
        assert r.json()["now_us"] == ANCHOR + US_PER_HOUR
        c.post("/sandbox/clock/advance", json={"seconds": 30, "minutes": 1})
        assert server.clock.now_us() == ANCHOR + US_PER_HOUR + 90 * US_PER_SECOND
        health = c.get("/api/v1/health").json()
        assert parse_us(health["server_time"]) == ANCHOR + US_PER_HOUR + 90 * US_PER_SECOND
        for bad in ({"hours": -1}, {"weeks": 1}, {}, {"hours": "1"}):
            assert c.post("/sandbox/clock/advance", json=bad).status_code == 422
        r = c.put("/sandbox/clock", json={"now": "2026-11-21T00:00:00Z"})
        assert r.json()["now_us"] == parse_us("2026-11-21T00:00:00Z")
        assert c.put("/sandbox/clock", json={"now": "soon"}).status_code == 422
        assert c.get("/sandbox/nothing").status_code == 404
    with httpx.Client(base_url=server.base_url) as anonymous:
        assert anonymous.get("/sandbox/clock").status_code == 401
        assert anonymous.post("/sandbox/clock/advance", json={"hours": 1}).status_code == 401
        assert anonymous.put("/sandbox/faults", json={}).status_code == 401


def test_stats_count_requests_per_path_and_status(sandbox_server):
    with sandbox_server.client() as c:
        for _ in range(3):
            c.get("/api/v1/sessions", params={"limit": 1})
        c.get("/api/v1/sessions", params={"limit": 0})
        c.get("/api/v1/nope")
        stats = c.get("/sandbox/stats").json()
    s = sandbox_server.stats
    assert s.count(path="/api/v1/sessions", status=200) == 3
    assert s.count(path="/api/v1/sessions") == 4
    assert s.count(status=404) == 1
    assert s.count(method="GET", path="/sandbox/stats") == 1
    assert {"method": "GET", "path": "/api/v1/sessions", "status": 422, "count": 1} in (
        stats["requests"]
    )
    s.reset()
    assert s.total == 0


def test_server_lifecycle_and_loopback_only():
    world = stub_world()
    with pytest.raises(ValueError, match="loopback"):
        SandboxServer(world, TEST_TOKEN, host="0.0.0.0")
    with pytest.raises(ValueError, match="time_precision"):
        SandboxServer(world, TEST_TOKEN, time_precision=4)
    server = SandboxServer(world, TEST_TOKEN)
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        assert server.base_url.startswith("http://127.0.0.1:")
        client = httpx.Client(base_url=server.base_url)
        assert client.get("/api/v1/health").status_code == 200  # keep-alive left open
    # stop() closed the idle keep-alive connection and joined its thread.
    assert not [t for t in threading.enumerate() if t.name.startswith("sandbox-server")]
    with pytest.raises(httpx.TransportError):
        client.get("/api/v1/health")
    client.close()


def test_serve_forever_runs_on_the_calling_thread():
    server = SandboxServer(stub_world(), TEST_TOKEN, port=0)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not server.serving and time.monotonic() < deadline:
            time.sleep(0.001)
        assert httpx.get(server.base_url + "/api/v1/health").status_code == 200
    finally:
        server.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()
