"""How fast the sandbox world builds at full scale, and how much memory it takes.

The full scale is the PRD's marketplace (5,000 active tutors, 50,000 active customers,
about 3,000 sessions and 4,000 bookings a day, 180 days of history). Targets: build in
under 60 s with a peak RSS under 3 GB. The build runs in a fresh subprocess so its peak
RSS is its own, not this process's.

Run: ``.venv/bin/python -m benchmarks.world_bench [--scale full|demo|tiny]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

TARGET_SECONDS = {"full": 60.0, "demo": 5.0, "tiny": 1.0}
TARGET_RSS_MB = 3000.0
ANCHOR = "2026-11-20T12:00:00Z"

_CHILD = r"""
import json, sys, time
from services.api.rails_time import parse_us
from services.sandbox.world import WorldConfig, build_world

started = time.perf_counter()
world = build_world(WorldConfig(scale=sys.argv[1], seed=42, anchor_us=parse_us(sys.argv[2])))
seconds = time.perf_counter() - started
records = {name: len(log.current_rows(world.horizon_us + 10**15))
           for name, log in world.logs.items()}
versions = {name: len(log) for name, log in world.logs.items()}
at_anchor = {name: len(log.current_rows(world.anchor_us)) for name, log in world.logs.items()}
try:
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / 1024 / (1024 if sys.platform == "darwin" else 1)
except ImportError:  # Windows
    import psutil
    peak_mb = psutil.Process().memory_info().peak_wset / 2**20
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb, "records": records,
                  "versions": versions, "records_at_anchor": at_anchor}))
"""


def measure(scale: str = "full") -> dict[str, object]:
    """Build one world in a subprocess; its time, peak RSS and record counts."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, scale, ANCHOR],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(scale: str = "full") -> list[dict[str, object]]:
    m = measure(scale)
    target_s = TARGET_SECONDS[scale]
    rows: list[dict[str, object]] = [
        {
            "name": f"world.{scale}.build_seconds",
            "value": round(m["seconds"], 2),
            "unit": "s",
            "target": target_s,
            "ok": m["seconds"] < target_s,
        },
        {
            "name": f"world.{scale}.peak_rss_mb",
            "value": round(m["peak_rss_mb"]),
            "unit": "MB",
            "target": TARGET_RSS_MB,
            "ok": m["peak_rss_mb"] < TARGET_RSS_MB,
        },
        {
            "name": f"world.{scale}.records",
            "value": sum(m["records"].values()),
            "unit": "records",
            "target": None,
            "ok": True,
        },
        {
            "name": f"world.{scale}.records_at_anchor",
            "value": sum(m["records_at_anchor"].values()),
            "unit": "records",
            "target": None,
            "ok": True,
        },
        {
            "name": f"world.{scale}.versions",
            "value": sum(m["versions"].values()),
            "unit": "versions",
            "target": None,
            "ok": True,
        },
    ]
    for name, count in sorted(m["records"].items()):
        rows.append(
            {
                "name": f"world.{scale}.records.{name}",
                "value": count,
                "unit": "records",
                "target": None,
                "ok": True,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full", choices=sorted(TARGET_SECONDS))
    args = parser.parse_args(argv)
    rows = run(args.scale)
    for r in rows:
        mark = "ok" if r["ok"] else "FAIL"
        target = r["target"]
        print(f"{r['name']:<45} {r['value']!s:>12} {r['unit']:<8} target {target!s:>6}  {mark}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
