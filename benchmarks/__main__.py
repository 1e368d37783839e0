"""`make bench`: run every benchmark, print figures against targets, write artifacts/bench.json.

Each module in SUITES has ``run() -> list[dict]`` returning rows
``{"name", "value", "unit", "target", "ok"}``. A failing benchmark is reported as a row
with ``ok: false`` and the error, so one broken benchmark does not hide the others.

    python -m benchmarks                 # everything
    python -m benchmarks sync world      # only these suites
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "artifacts" / "bench.json"

SUITES = {
    "world": "benchmarks.world_bench",
    "server": "benchmarks.server_bench",
    "sync": "benchmarks.sync_bench",
    "features": "benchmarks.features_bench",
    "models": "benchmarks.models_bench",
    "forecast": "benchmarks.forecast_bench",
    "gui": "benchmarks.startup_bench",
    "tutors": "benchmarks.tutors_bench",
    "customers": "benchmarks.customers_bench",
    "alerts": "benchmarks.alerts_bench",
    "anomalies": "benchmarks.anomalies_bench",
    "analytics": "benchmarks.analytics_bench",
    "persona": "benchmarks.persona_bench",
    "churn_worlds": "benchmarks.churn_worlds_bench",
    "package": "benchmarks.package_bench",
}


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def main(argv: list[str]) -> int:
    chosen = argv or list(SUITES)
    unknown = [s for s in chosen if s not in SUITES]
    if unknown:
        print(f"unknown suites {unknown}; known: {list(SUITES)}", file=sys.stderr)
        return 2
    rows: list[dict[str, object]] = []
    for name in chosen:
        print(f"== {name} ...", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(SUITES[name])
            got = module.run()
        except Exception as exc:
            traceback.print_exc()
            got = [
                {
                    "name": f"{name}.error",
                    "value": str(exc),
                    "unit": "",
                    "target": None,
                    "ok": False,
                }
            ]
        rows += got
        print(f"   {time.perf_counter() - started:.0f}s", flush=True)
    width = max(len(str(r["name"])) for r in rows)
    print(f"\n{'benchmark':<{width}}  {'value':>14} {'unit':<10} {'target':>12}  ok")
    for r in rows:
        mark = "yes" if r["ok"] else "NO"
        print(
            f"{r['name']!s:<{width}}  {_fmt(r['value']):>14} {r['unit']!s:<10} "
            f"{_fmt(r['target']):>12}  {mark}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(OUT.read_text()) if OUT.exists() and argv else []
    names = {r["name"] for r in rows}
    merged = [r for r in previous if r.get("name") not in names] + rows
    OUT.write_text(json.dumps(merged, indent=2))
    print(f"\nwrote {OUT.relative_to(ROOT)}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
