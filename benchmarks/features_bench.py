"""How fast the features and training sets are at full scale, and how much memory they take.

Two fresh subprocesses, so each peak RSS is its own: the first builds the full-scale
sandbox world and times :func:`services.sandbox.frames.frames_at` (the whole marketplace
as MarketFrames: ~2.5 M records), then saves the frames; the second loads them (as the app
loads them from its database) and times, at the anchor:

- tutor features of every active tutor (target < 3 s);
- customer features of every active customer (target < 4 s);
- first-session rows of the coming week's first sessions (target < 1 s);
- all three together with one shared tutor index, the features part of a scoring run
  (info: the whole scoring run, models included, must stay under 10 s);
- a tutor training set over 26 as-of dates, 5 days apart (the 180-day history holds 20
  weekly ones after the 60-day warm-up; target < 30 s), and, for information,
  the customer training set over the same dates and the first-session training rows;
- the second process's peak RSS (frames + features + training sets; target < 2 GB).

Run: ``.venv/bin/python -m benchmarks.features_bench [--scale full|demo|tiny]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ANCHOR = "2026-11-20T12:00:00Z"
TARGETS = {
    "tutor_features_seconds": 3.0,
    "customer_features_seconds": 4.0,
    "first_session_rows_week_seconds": 1.0,
    "tutor_training_set_26_seconds": 30.0,
}
TARGET_RSS_MB = 2000.0

_BUILD = r"""
import json, pickle, sys, time
from services.api.rails_time import parse_us
from services.sandbox.frames import frames_at
from services.sandbox.world import WorldConfig, build_world

world = build_world(WorldConfig(scale=sys.argv[1], seed=42, anchor_us=parse_us(sys.argv[2])))
started = time.perf_counter()
frames = frames_at(world, world.anchor_us)
seconds = time.perf_counter() - started
with open(sys.argv[3], "wb") as fh:
    pickle.dump(frames, fh, protocol=5)
names = ("tutors", "sessions", "engagement", "availability", "customers", "calls", "bookings",
         "interventions")
records = {n: len(getattr(frames, n)) for n in names}
print(json.dumps({"frames_at_seconds": seconds, "records": records}))
"""

_FEATURES = r"""
import json, pickle, sys, time
import pandas as pd

with open(sys.argv[1], "rb") as fh:
    frames = pickle.load(fh)
from ml.datasets import as_of_dates, customer_training_set, tutor_training_set
from ml.features.customer import customer_features
from ml.features.first_session import first_session_rows
from ml.features.tutor import TutorFeatureBuilder, tutor_features

now = frames.observed_until
week = now + pd.Timedelta(days=7)
out = {}

def timed(name, fn):
    started = time.perf_counter()
    result = fn()
    out[name] = time.perf_counter() - started
    return result

X = timed("tutor_features_seconds", lambda: tutor_features(frames, now))
C = timed("customer_features_seconds", lambda: customer_features(frames, now))
F = timed("first_session_rows_week_seconds",
          lambda: first_session_rows(frames, as_of=now, until=week))

def scoring():
    builder = TutorFeatureBuilder(frames)
    builder.at(now)
    customer_features(frames, now)
    first_session_rows(frames, as_of=now, until=week, builder=builder)

timed("scoring_features_seconds", scoring)
dates = as_of_dates(frames, every_days=5, max_dates=26)
Xt, dt, et = timed("tutor_training_set_26_seconds", lambda: tutor_training_set(frames, dates))
Xc, dc, ec = timed("customer_training_set_26_seconds",
                   lambda: customer_training_set(frames, dates))
R = timed("first_session_training_rows_seconds", lambda: first_session_rows(frames))
out.update(
    tutors=len(X), customers=len(C), first_sessions_week=len(F), as_of_dates=len(dates),
    tutor_training_rows=len(Xt), customer_training_rows=len(Xc), first_session_rows=len(R),
    tutor_features=X.shape[1],
)
try:
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["peak_rss_mb"] = peak / 1024 / (1024 if sys.platform == "darwin" else 1)
except ImportError:  # Windows
    import psutil
    out["peak_rss_mb"] = psutil.Process().memory_info().peak_wset / 2**20
print(json.dumps(out))
"""


def _child(code: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(scale: str = "full") -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tutormax-features-bench-") as tmp:
        path = str(Path(tmp) / "frames.pkl")
        built = _child(_BUILD, scale, ANCHOR, path)
        timed = _child(_FEATURES, path)
    return {**built, **timed}


def _row(name: str, value: float, unit: str, target: float | None) -> dict[str, object]:
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "target": target,
        "ok": True if target is None else value < target,
    }


def run(scale: str = "full") -> list[dict[str, object]]:
    m = measure(scale)
    p = f"features.{scale}"
    rows = [_row(f"{p}.frames_at_seconds", m["frames_at_seconds"], "s", None)]
    for key in (
        "tutor_features_seconds",
        "customer_features_seconds",
        "first_session_rows_week_seconds",
        "scoring_features_seconds",
        "tutor_training_set_26_seconds",
        "customer_training_set_26_seconds",
        "first_session_training_rows_seconds",
    ):
        rows.append(_row(f"{p}.{key}", m[key], "s", TARGETS.get(key)))
    rows.append(_row(f"{p}.peak_rss_mb", m["peak_rss_mb"], "MB", TARGET_RSS_MB))
    for key in ("tutors", "customers", "first_sessions_week", "as_of_dates", "tutor_training_rows",
                "customer_training_rows", "first_session_rows"):  # fmt: skip
        rows.append(
            {
                "name": f"{p}.{key}",
                "value": m[key],
                "unit": "dates" if key == "as_of_dates" else "rows",
                "target": None,
                "ok": True,
            }
        )
    records = m["records"]
    rows.append(
        {
            "name": f"{p}.records",
            "value": sum(records.values()),
            "unit": "records",
            "target": None,
            "ok": True,
        }
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full", choices=["full", "demo", "tiny"])
    args = parser.parse_args()
    rows = run(args.scale)
    for r in rows:
        mark = "ok" if r["ok"] else "SLOW"
        target = "" if r["target"] is None else f"(target < {r['target']})"
        print(f"{r['name']:<55} {r['value']:>12} {r['unit']:<8} {target} {mark}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
