"""``POST /sandbox/anomalies``: validation, what the served data becomes, and injected
anomalies outlasting the world's growth. (The app catching them: tests/services/
test_anomaly_injection_e2e.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from services.anomalies import METRICS as APP_METRICS
from services.api.rails_time import US_PER_DAY, US_PER_HOUR, parse_us
from services.sandbox import anomalies as sandbox_anomalies
from services.sandbox.rails_json import format_time


def _visible(world, resource: str, now_us: int) -> dict[int, dict[str, object]]:
    log = world.logs[resource]
    rows = log.current_rows(now_us)
    cols, nulls = log.versions(rows)
    out = {}
    for i, rid in enumerate(cols["id"].tolist()):
        out[rid] = {
            k: (None if k in nulls and nulls[k][i] else cols[k][i]) for k in cols if k != "id"
        }
    return out


def _in_window(records, col, start, end):
    return {k: r for k, r in records.items() if r[col] is not None and start <= r[col] < end}


def test_the_sandbox_knows_the_apps_metrics():
    assert set(sandbox_anomalies.METRICS) == set(APP_METRICS)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"metric": "weather", "start": "2026-11-20T14:00:00Z", "hours": 2}, "metric", "one of"),
        ({"metric": "bookings", "start": "yesterday", "hours": 2}, "start", "ISO 8601"),
        ({"metric": "bookings", "start": "2026-11-20T14:00:00Z", "hours": 0}, "hours", "above 0"),
        ({"metric": "bookings", "start": "2026-11-20T14:00:00Z", "hours": "2"}, "hours", "number"),
        ({"metric": "bookings", "start": "2026-11-20T14:00:00Z", "hours": 999}, "hours", "336"),
        ({"metric": "bookings", "start": "2026-11-20T14:00:00Z", "hours": 2, "keep": 1},
         "keep", "below 1"),
        ({"metric": "inbound_calls", "start": "2026-11-20T14:00:00Z", "hours": 2, "keep": 0},
         "keep", "1/keep"),
        ({"metric": "bookings", "start": "2026-11-20T14:00:00Z", "hours": 2, "seed": -1},
         "seed", ">= 0"),
        ({"metric": "bookings", "start": "2026-11-20T14:00:00Z", "hours": 2, "extra": 1},
         "anomaly", "unknown field(s) extra"),
        ({"metric": "bookings", "start": "2030-01-01T00:00:00Z", "hours": 2}, "start", "60 days"),
        ({"metric": "bookings", "start": "2001-01-01T00:00:00Z", "hours": 2}, "start", "first day"),
        ([1, 2], "anomaly", "JSON object"),
    ],
)  # fmt: skip
def test_a_bad_request_is_a_422_naming_the_field(writable_sandbox_server, body, field, words):
    with writable_sandbox_server.client() as http:
        r = http.post("/sandbox/anomalies", json=body)
        assert r.status_code == 422, r.text
        messages = r.json()["errors"][field]
        assert any(words in m for m in messages), messages
        # Nothing was applied.
        assert http.get("/sandbox/anomalies").json() == {"anomalies": []}


def test_the_endpoint_needs_the_token(writable_sandbox_server):
    import httpx

    r = httpx.post(
        writable_sandbox_server.url("/sandbox/anomalies"),
        json={"metric": "bookings", "start": "2026-11-20T14:00:00Z", "hours": 2},
    )
    assert r.status_code == 401


def _busiest_window(world, resource, col, hours=6):
    """A window after the anchor with many records (the tiny world is small)."""
    anchor = world.anchor_us
    recs = _visible(world, resource, world.horizon_us)
    times = np.array([r[col] for r in recs.values() if r[col] is not None])
    best, best_n = anchor, -1
    for h in range(0, 6 * 24, 1):
        start = anchor - anchor % US_PER_HOUR + h * US_PER_HOUR
        n = int(((times >= start) & (times < start + hours * US_PER_HOUR)).sum())
        if n > best_n:
            best, best_n = start, n
    return best, best + hours * US_PER_HOUR


def test_a_future_outage_removes_records_before_they_are_served_and_survives_growth(
    writable_sandbox_server,
):
    h = writable_sandbox_server
    world = h.world
    start, end = _busiest_window(world, "bookings", "created_at")
    late = world.horizon_us + 30 * US_PER_DAY
    before = _in_window(_visible(world, "bookings", late), "created_at", start, end)
    assert len(before) >= 5
    with h.client() as http:
        r = http.post(
            "/sandbox/anomalies",
            json={"metric": "bookings", "start": format_time(start), "hours": 6, "keep": 0.3},
        )
        assert r.status_code == 201, r.text
        body = r.json()
    assert body["removed"] > 0 and body["deleted"] == 0
    # The world grows (the clock moves a month on): the simulator's later versions of
    # the removed bookings (fulfilled, cancelled) must not bring them back.
    h.server.advance(days=30)
    now = h.clock.read_bound_us()
    after = _in_window(_visible(world, "bookings", now), "created_at", start, end)
    live = {k for k, r in after.items() if r["deleted_at"] is None}
    assert len(live) == len(before) - body["removed"]
    assert live < set(before)
    assert len(live) < 0.6 * len(before)


def test_a_past_cancellation_surge_is_a_new_version_the_next_sync_sees(writable_sandbox_server):
    h = writable_sandbox_server
    world = h.world
    start, end = _busiest_window(world, "sessions", "start_time")
    h.server.advance(days=7)  # the window is in the past now
    served = h.clock.read_bound_us()
    done = {
        k
        for k, r in _in_window(
            _visible(world, "sessions", served), "start_time", start, end
        ).items()
        if r["status"] == "completed" and r["deleted_at"] is None
    }
    assert len(done) >= 5
    with h.client() as http:
        r = http.post(
            "/sandbox/anomalies",
            json={"metric": "cancellation_rate", "start": format_time(start), "hours": 6},
        )
        assert r.status_code == 201, r.text
        changed = r.json()["changed"]
        # An incremental read from the bound served before sees exactly the corrections.
        page = http.get(
            "/api/v1/sessions", params={"updated_since": format_time(served + 1, 6)}
        ).json()
    assert changed > 0 and len(page["data"] if isinstance(page, dict) else page) == changed
    now = _visible(world, "sessions", h.clock.read_bound_us())
    cancelled = {k for k in done if now[k]["status"] == "cancelled" and now[k]["rating"] is None}
    assert len(cancelled) == changed
    # What was served before the correction is unchanged (the API never rewrites history).
    assert all(r["status"] == "completed" for k, r in _visible(world, "sessions", served).items()
               if k in cancelled)  # fmt: skip


def test_a_call_flood_adds_calls_in_the_window_with_ids_the_simulator_never_uses(
    writable_sandbox_server,
):
    h = writable_sandbox_server
    world = h.world
    start, end = _busiest_window(world, "inbound_calls", "call_time")
    late = world.horizon_us
    n0 = len(_in_window(_visible(world, "inbound_calls", late), "call_time", start, end))
    with h.client() as http:
        r = http.post(
            "/sandbox/anomalies",
            json={"metric": "inbound_calls", "start": format_time(start), "hours": 6, "keep": 0.25},
        )
    assert r.status_code == 201, r.text
    added = r.json()["added"]
    assert added == 3 * n0 and n0 > 0
    calls = _in_window(_visible(world, "inbound_calls", late), "call_time", start, end)
    assert len(calls) == 4 * n0
    assert sum(1 for k in calls if k >= sandbox_anomalies.INJECTED_ID_BASE) == added


def test_a_window_beyond_the_horizon_grows_the_world_first(writable_sandbox_server):
    h = writable_sandbox_server
    horizon = h.world.horizon_us
    start = horizon + US_PER_DAY
    with h.client() as http:
        r = http.post(
            "/sandbox/anomalies",
            json={"metric": "logins", "start": format_time(start), "hours": 24, "keep": 0.0},
        )
    assert r.status_code == 201, r.text
    assert h.world.horizon_us >= start + 24 * US_PER_HOUR
    logins = [
        r for r in _in_window(_visible(h.world, "engagement_events", h.world.horizon_us),
                              "occurred_at", start, start + 24 * US_PER_HOUR).values()
        if r["event_type"] == "login"
    ]  # fmt: skip
    assert r.json()["removed"] > 0 and logins == []


def test_parse_spec_defaults():
    spec = sandbox_anomalies.parse_spec(
        {"metric": "logins", "start": "2026-11-20T14:00:00Z", "hours": 3},
        None,
        parse_us("2026-11-20T12:00:00Z"),
    )
    assert spec == sandbox_anomalies.AnomalySpec("logins", parse_us("2026-11-20T14:00:00Z"), 3.0)
    assert spec.end_us - spec.start_us == 3 * US_PER_HOUR
