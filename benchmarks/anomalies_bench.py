"""Metric anomalies at full scale: detection time after a sync, catch rate per metric,
false alarms in a normal week.

    .venv/bin/python -m benchmarks.anomalies_bench [--scale full|demo]

1. The sandbox is served from its own process (fixed clock at the anchor) and the four
   resources the rule reads (bookings, sessions, inbound calls, engagement events) are
   synced into a fresh SQLite database, as the app does.
2. Detection after a sync: the ``metric_anomaly`` rule on a scoring run at the clock's
   instant, as the app runs it after each sync's scoring (five weeks read from the
   database, streams, checks). Target: under 5 s.
3. End to end: an anomaly of every metric is injected over HTTP (``POST
   /sandbox/anomalies``) into 18:00-22:00 UTC (the session metrics on evenings of their
   own), the clock advances to 22:00, an incremental sync pulls it, the rule runs
   again: which metrics it raised.
4. Catch rate per metric: the synced five weeks before the anchor loaded as the rule
   loads them; in each of 18 four-hour windows (6 days x ending 18:00, 22:00 and 02:00
   UTC: US afternoon and evening, when the marketplace is busy) one metric misbehaves
   (``inject_anomaly``, 30 % kept or a 3x flood) and the checks run at the window's end.
   Target: 80 % or more each. Reported apart: windows ending 14:00 UTC (5-9 am in New
   York), when sessions are too few for their rates to be judged at all.
5. False alarms: the checks run at every hour of the week before the anchor without any
   injection; an episode is a (metric, check) that starts firing (the alert engine keeps
   one open alert while it lasts). Target: at most 6 a week across the six metrics.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ANCHOR = datetime(2026, 11, 20, 12, tzinfo=UTC)
RESOURCES = ["bookings", "sessions", "inbound_calls", "engagement_events"]
DETECTION_TARGET_S = 5.0
CATCH_TARGET = 0.8
FALSE_ALARMS_TARGET = 6
WINDOW_HOURS = 4
WINDOW_ENDS_UTC = (18, 22, 26)  # 26: 02:00 the next day
QUIET_END_UTC = 14
DAYS = 6
# End to end, one evening each (18:00-22:00 UTC from the anchor's day on).
PHASES = (
    ("bookings", "inbound_calls", "logins", "cancellation_rate"),
    ("no_show_rate",),
    ("average_rating",),
)


def _rule_seconds(engine: Any, as_of: datetime) -> tuple[float, list[Any]]:
    from services.alerts.context import RuleContext, RunInfo
    from services.alerts.registry import registered_rules
    from services.settings import AlertSettings

    rule = registered_rules()["metric_anomaly"]
    t = time.perf_counter()
    with engine.connect() as conn:
        found = list(rule.evaluate(RuleContext(conn, RunInfo(1, as_of, {}), AlertSettings())))
    return time.perf_counter() - t, found


def _sync(engine: Any, url: str) -> float:
    from benchmarks.sync_bench import TOKEN
    from services.api.client import RailsApiClient
    from services.sync.engine import SyncEngine

    client = RailsApiClient(url, TOKEN, timeout=60)
    t = time.perf_counter()
    report = SyncEngine(engine, client, page_limit=1000, concurrency=3).sync(RESOURCES)
    client.close()
    if report.status != "ok":
        raise RuntimeError(f"sync {report.status}")
    return time.perf_counter() - t


def measure(scale: str = "full") -> dict[str, Any]:
    import httpx

    from benchmarks.sync_bench import TOKEN, _start_server
    from services.db.engine import make_engine
    from services.db.migrate import migrate

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="anomalies-bench-") as tmp:
        proc, url = _start_server(scale)
        try:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            migrate(engine)
            out["initial_sync_seconds"] = _sync(engine, url)
            # The median of three: the first run pays for imports and a cold page cache,
            # and the 2-core machine is shared.
            runs = [_rule_seconds(engine, ANCHOR) for _ in range(3)]
            out["detection_seconds"] = sorted(r[0] for r in runs)[1]
            found = runs[-1][1]
            out["alerts_at_anchor"] = sorted(f.subject_id for f in found)

            http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"})
            injected, caught, now = [], set(), ANCHOR
            # The session metrics each get their own evening: a cancellation surge and a
            # no-show surge in the same hours would leave too few sessions held to judge.
            for day, metrics in enumerate(PHASES):
                first = ANCHOR.replace(hour=18) + timedelta(days=day)
                for metric in metrics:
                    r = http.post(
                        "/sandbox/anomalies",
                        json={"metric": metric, "start": first.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "hours": WINDOW_HOURS, "keep": 0.3},
                    )  # fmt: skip
                    r.raise_for_status()
                    injected.append(metric)
                at = first + timedelta(hours=WINDOW_HOURS)
                hours = (at - now).total_seconds() / 3600
                http.post("/sandbox/clock/advance", json={"hours": hours}).raise_for_status()
                now = at
                sync_s = _sync(engine, url)
                detect_s, found = _rule_seconds(engine, at)
                caught |= {f.subject_id for f in found} & set(metrics)
                if day == 0:
                    out["incremental_sync_seconds"] = sync_s
                    out["detection_after_sync_seconds"] = detect_s
            http.close()
            out["e2e_injected"] = sorted(injected)
            out["e2e_caught"] = sorted(caught)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        out.update(_catch_and_false_alarms(engine))
        engine.dispose()
    return out


def _catch_and_false_alarms(engine: Any) -> dict[str, Any]:
    import pandas as pd

    from services.anomalies import METRICS, WINDOW_DAYS, detect, inject_anomaly, load_window
    from services.anomalies import metric_streams as streams_of

    now = pd.Timestamp(ANCHOR)
    start = now - pd.Timedelta(days=WINDOW_DAYS + DAYS + 1)
    with engine.connect() as conn:
        frames = load_window(conn, start, now)
    t = time.perf_counter()
    base = streams_of(frames, start, now)
    streams_seconds = time.perf_counter() - t

    # False alarms: every hour of the normal week before the anchor.
    episodes: Counter[str] = Counter()
    before: set[tuple[str, str]] = set()
    for k in range(168, 0, -1):
        firing = {(a.metric, a.check) for a in detect(base, now - (k - 1) * pd.Timedelta(hours=1))
                  if a.bad}  # fmt: skip
        for metric, check in firing - before:
            episodes[f"{metric}.{check}"] += 1
        before = firing

    caught: dict[str, list[bool]] = {m: [] for m in METRICS}
    quiet: dict[str, list[bool]] = {m: [] for m in METRICS}
    for day in range(1, DAYS + 1):
        for hour in (*WINDOW_ENDS_UTC, QUIET_END_UTC):
            end = now.normalize() - pd.Timedelta(days=day) + pd.Timedelta(hours=hour)
            for i, metric in enumerate(METRICS):
                first = end - pd.Timedelta(hours=WINDOW_HOURS)
                seed = 100 * day + hour + i
                hurt = inject_anomaly(frames, metric, first, WINDOW_HOURS, keep=0.3, seed=seed)
                found = detect(streams_of(hurt, start, now), end)
                hit = any(a.metric == metric and a.bad for a in found)
                (quiet if hour == QUIET_END_UTC else caught)[metric].append(hit)
    return {
        "streams_seconds": streams_seconds,
        "false_alarm_episodes_week": sum(episodes.values()),
        "false_alarms_by_check": dict(episodes),
        "catch_rate": {m: sum(v) / len(v) for m, v in caught.items()},
        "catch_rate_quiet_hours": {m: sum(v) / len(v) for m, v in quiet.items()},
        "trials_per_metric": len(next(iter(caught.values()))),
    }


def _row(name: str, value: object, unit: str, target: object = None, ok: bool = True) -> dict:
    return {"name": f"anomalies.{name}", "value": value, "unit": unit, "target": target, "ok": ok}


def run(scale: str = "full") -> list[dict[str, object]]:
    # In a child process: the full-scale frames and the sync's memory go when it ends.
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.anomalies_bench", "--child", "--scale", scale],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    m = json.loads(done.stdout.strip().splitlines()[-1])
    det, after = m["detection_seconds"], m["detection_after_sync_seconds"]
    caught, injected = m["e2e_caught"], m["e2e_injected"]
    fa = m["false_alarm_episodes_week"]
    rows = [
        _row("detection_seconds", det, "s", DETECTION_TARGET_S, det < DETECTION_TARGET_S),
        _row("detection_after_incremental_sync_seconds", after, "s", DETECTION_TARGET_S,
             after < DETECTION_TARGET_S),
        _row("incremental_sync_seconds", m["incremental_sync_seconds"], "s"),
        _row("initial_sync_seconds", m["initial_sync_seconds"], "s"),
        _row("streams_seconds", m["streams_seconds"], "s"),
        _row("e2e_caught_over_http", len(set(caught) & set(injected)), f"of {len(injected)}",
             len(injected), set(injected) <= set(caught)),
        _row("e2e_missed_over_http", ", ".join(sorted(set(injected) - set(caught))) or "-", ""),
        _row("false_alarm_episodes_per_normal_week", fa, "episodes", FALSE_ALARMS_TARGET,
             fa <= FALSE_ALARMS_TARGET),
    ]  # fmt: skip
    for check, n in sorted(m["false_alarms_by_check"].items()):
        rows.append(_row(f"false_alarms.{check}", n, "episodes"))
    for metric, rate in m["catch_rate"].items():
        rows.append(_row(f"catch_rate.{metric}", rate, f"of {m['trials_per_metric']}",
                         CATCH_TARGET, rate >= CATCH_TARGET))  # fmt: skip
    for metric, rate in m["catch_rate_quiet_hours"].items():
        rows.append(_row(f"catch_rate_5_to_9_am_et.{metric}", rate, f"of {DAYS}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="full")
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.scale)), flush=True)
        return 0
    for r in run(args.scale):
        print(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
