"""Initial and incremental sync of the sandbox marketplace into SQLite, end to end.

The sandbox runs as its own process (`tutormax sandbox serve`, as a user would run it),
so client and server do not share a GIL; the sync runs in this process exactly as
`tutormax sync` does. Targets (issue "Foundation"): an initial sync of the full-scale
world (about 2 million records) at >= 50,000 records/s, an incremental sync after one
simulated hour in < 1 s. Peak RSS is reported for the client.

Run alone: ``.venv/bin/python -m benchmarks.sync_bench [--scale full|demo]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from services.api.client import RailsApiClient
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.sync.engine import SyncEngine

TOKEN = "bench-sandbox-token"
ANCHOR = "2026-11-20T12:00:00Z"
INITIAL_TARGET = 50_000  # records/s
INCREMENTAL_TARGET = 1.0  # seconds


def _start_server(scale: str, anchor: str = ANCHOR) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tutormax_desktop.cli",
            "sandbox",
            "serve",
            "--scale",
            scale,
            "--clock",
            "fixed",
            "--anchor",
            anchor,
            "--token",
            TOKEN,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(r"serving at (http://\S+)", line)
        if m:
            return proc, m.group(1)
    proc.wait()
    raise RuntimeError(f"the sandbox server did not start (exit {proc.returncode})")


def _server_rss_mb(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024 if m else None


def measure(scale: str = "full") -> dict[str, float]:
    started = time.perf_counter()
    proc, url = _start_server(scale)
    build_s = time.perf_counter() - started
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            migrate(engine)
            client = RailsApiClient(url, TOKEN, timeout=60)
            sync = SyncEngine(engine, client, page_limit=1000, concurrency=3)
            report = sync.sync(trigger="bench")
            if report.status != "ok":
                raise RuntimeError(f"initial sync {report.status}: {report.as_dict()}")
            initial = report
            httpx.post(
                f"{url}/sandbox/clock/advance",
                json={"hours": 1},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=120,
            ).raise_for_status()
            t0 = time.perf_counter()
            incremental = sync.sync(trigger="bench")
            incremental_s = time.perf_counter() - t0
            if incremental.status != "ok":
                raise RuntimeError(f"incremental sync {incremental.status}")
            client.close()
            engine.dispose()
            db_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6
        return {
            "server_build_s": build_s,
            "records": initial.total_fetched,
            "initial_s": initial.seconds,
            "records_per_s": initial.records_per_second,
            "incremental_s": incremental_s,
            "incremental_records": incremental.total_fetched,
            "client_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "server_peak_rss_mb": _server_rss_mb(proc.pid) or 0.0,
            "database_mb": db_mb,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def run(scale: str = "full") -> list[dict[str, object]]:
    m = measure(scale)
    p = f"sync.{scale}"
    return [
        {
            "name": f"{p}.initial.records_per_s",
            "value": round(m["records_per_s"]),
            "unit": "records/s",
            "target": INITIAL_TARGET,
            "ok": m["records_per_s"] >= INITIAL_TARGET,
        },
        {
            "name": f"{p}.initial.records",
            "value": m["records"],
            "unit": "records",
            "target": None,
            "ok": True,
        },
        {
            "name": f"{p}.initial.seconds",
            "value": round(m["initial_s"], 1),
            "unit": "s",
            "target": None,
            "ok": True,
        },
        {
            "name": f"{p}.incremental_after_1h.seconds",
            "value": round(m["incremental_s"], 3),
            "unit": "s",
            "target": INCREMENTAL_TARGET,
            "ok": m["incremental_s"] < INCREMENTAL_TARGET,
        },
        {
            "name": f"{p}.incremental_after_1h.records",
            "value": m["incremental_records"],
            "unit": "records",
            "target": None,
            "ok": True,
        },
        {
            "name": f"{p}.client_peak_rss",
            "value": round(m["client_peak_rss_mb"]),
            "unit": "MB",
            "target": None,
            "ok": True,
        },
        {
            "name": f"{p}.server_peak_rss",
            "value": round(m["server_peak_rss_mb"]),
            "unit": "MB",
            "target": None,
            "ok": True,
        },
        {
            "name": f"{p}.database_size",
            "value": round(m["database_mb"]),
            "unit": "MB",
            "target": None,
            "ok": True,
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="full", choices=("tiny", "demo", "full"))
    args = parser.parse_args()
    print(json.dumps(run(args.scale), indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
