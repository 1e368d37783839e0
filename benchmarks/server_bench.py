"""How fast the sandbox server serves pages: records/s of 1000-record session pages.

The sync client must reach 50,000 records/s end to end over loopback, so the server has
to serve well above that (target 100,000 records/s from one client thread). The client
here is deliberately thin (``http.client`` on one keep-alive connection, the cursor
read from the tail of the body) so the number measures the server, not a JSON parser.

Run: ``.venv/bin/python -m benchmarks.server_bench [--records N]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import time
from urllib.parse import quote

import numpy as np

from services.api.contract import RESOURCES
from services.api.rails_time import US_PER_DAY, parse_us
from services.sandbox.server import SandboxServer
from services.sandbox.store import VersionLog

TARGET_RECORDS_PER_S = 100_000
TOKEN = "bench-token"
ANCHOR_US = parse_us("2026-11-20T12:00:00Z")
_LAST = re.compile(rb'"id":(\d+),[^{]*"updated_at":"([^"]+)","deleted_at":[^}]*\}\],"meta"')


class _World:
    """The duck-typed world surface: just logs and an anchor (no horizon: no extend)."""

    def __init__(self, logs: dict[str, VersionLog], anchor_us: int) -> None:
        self.logs = logs
        self.anchor_us = anchor_us


def synthetic_sessions(n: int, seed: int = 1) -> VersionLog:
    """``n`` session versions over 180 days, realistic types and null rates."""
    res = RESOURCES["sessions"]
    rng = np.random.default_rng(seed)
    start = ANCHOR_US - 180 * US_PER_DAY
    updated = np.sort(start + rng.integers(0, 180 * US_PER_DAY, n))
    begin = updated - rng.integers(1, 7 * US_PER_DAY, n)
    subjects = np.array(["algebra", "chemistry", "french", "sat_prep", "physics"], dtype=object)
    statuses = np.array(res.field("status").choices, dtype=object)
    cols = {
        "id": np.arange(1, n + 1, dtype=np.int64),
        "booking_id": rng.integers(1, n, n),
        "tutor_id": rng.integers(1, 5000, n),
        "customer_id": rng.integers(1, 50000, n),
        "subject": subjects[rng.integers(0, len(subjects), n)],
        "start_time": begin,
        "end_time": begin + 3600 * 1_000_000,
        "status": statuses[rng.integers(0, len(statuses), n)],
        "rating": rng.integers(1, 6, n),
        "first_session": rng.random(n) < 0.1,
        "rescheduled_by": np.array(["tutor"] * n, dtype=object),
        "reschedule_count": rng.integers(0, 3, n),
        "technical_issue": rng.random(n) < 0.05,
        "learning_objectives_met": np.round(rng.random(n), 2),
        "price": np.round(rng.uniform(30, 90, n), 2),
        "tutor_earnings": np.round(rng.uniform(20, 60, n), 2),
        "created_at": begin - US_PER_DAY,
        "updated_at": updated,
        "deleted_at": np.zeros(n, dtype=np.int64),
    }
    nulls = {
        "rating": rng.random(n) < 0.3,
        "rescheduled_by": rng.random(n) < 0.85,
        "learning_objectives_met": rng.random(n) < 0.3,
        "deleted_at": rng.random(n) < 0.99,
    }
    return VersionLog(res, cols, nulls)


def _crawl(port: int, pages: int, limit: int) -> tuple[int, list[float], int]:
    """Follow the cursor for ``pages`` pages; (records, per-page seconds, bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    query = f"limit={limit}"
    records = 0
    nbytes = 0
    latencies = []
    try:
        for _ in range(pages):
            started = time.perf_counter()
            conn.request("GET", f"/api/v1/sessions?{query}", headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            latencies.append(time.perf_counter() - started)
            if resp.status != 200:
                raise RuntimeError(f"status {resp.status}: {body[:200]!r}")
            nbytes += len(body)
            records += body.count(b'"booking_id":')
            m = _LAST.search(body, max(0, len(body) - 2000))
            if m is None or body.endswith(b'"has_more":false}}'):
                break
            since = quote(m.group(2).decode(), safe="")
            next_query = f"limit={limit}&updated_since={since}&after_id={int(m.group(1))}"
            if next_query == query:
                break  # a millisecond cursor stuck on a bulk group: enough for a benchmark
            query = next_query
    finally:
        conn.close()
    return records, latencies, nbytes


def demo_world() -> object:
    """The simulator's demo-scale world (about 5 s to build), or None without it."""
    try:
        from services.sandbox.world import WorldConfig, build_world
    except ImportError:
        return None
    return build_world(WorldConfig(scale="demo", seed=42, anchor_us=ANCHOR_US))


def measure(
    records: int = 200_000,
    pages: int = 150,
    limit: int = 1000,
    precision: int = 6,
    world: object | None = None,
) -> dict[str, float]:
    """Crawl sessions pages; ``world`` defaults to a synthetic sessions-only one."""
    if world is None:
        world = _World({"sessions": synthetic_sessions(records)}, ANCHOR_US)
    with SandboxServer(world, TOKEN, time_precision=precision) as server:
        _crawl(server.port, 5, limit)  # warm up (log merge, imports, caches)
        started = time.perf_counter()
        served, latencies, nbytes = _crawl(server.port, pages, limit)
        elapsed = time.perf_counter() - started
    return {
        "records_per_s": served / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000,
        "mb_per_s": nbytes / elapsed / 1e6,
        "records": served,
    }


def run() -> list[dict[str, object]]:
    """Rows for ``make bench``: name, value, unit, target, ok."""
    rows: list[dict[str, object]] = []
    for precision in (3, 6):
        m = measure(precision=precision)
        rows.append(
            {
                "name": f"sandbox_server.sessions_1000_page.records_per_s.precision{precision}",
                "value": round(m["records_per_s"]),
                "unit": "records/s",
                "target": TARGET_RECORDS_PER_S,
                "ok": m["records_per_s"] >= TARGET_RECORDS_PER_S,
            }
        )
        rows.append(
            {
                "name": f"sandbox_server.sessions_1000_page.p95_ms.precision{precision}",
                "value": round(m["p95_ms"], 2),
                "unit": "ms",
                # 1000 records in 10 ms is the 100,000 records/s target per page.
                "target": 1000 / TARGET_RECORDS_PER_S * 1000,
                "ok": m["p95_ms"] <= 1000 / TARGET_RECORDS_PER_S * 1000,
            }
        )
    world = demo_world()
    if world is not None:
        m = measure(precision=6, world=world)
        rows.append(
            {
                "name": "sandbox_server.demo_world_sessions.records_per_s",
                "value": round(m["records_per_s"]),
                "unit": "records/s",
                "target": TARGET_RECORDS_PER_S,
                "ok": m["records_per_s"] >= TARGET_RECORDS_PER_S,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--pages", type=int, default=150)
    parser.add_argument("--demo-world", action="store_true", help="also the real demo world")
    args = parser.parse_args()
    for precision in (3, 6):
        m = measure(args.records, args.pages, precision=precision)
        print(json.dumps({"precision": precision, **{k: round(v, 2) for k, v in m.items()}}))
    if args.demo_world:
        m = measure(pages=args.pages, world=demo_world())
        print(json.dumps({"demo_world": True, **{k: round(v, 2) for k, v in m.items()}}))


if __name__ == "__main__":
    main()
