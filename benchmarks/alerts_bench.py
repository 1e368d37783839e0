"""Alerts at full scale: rule evaluation over the synced database, and the queue model.

1. The full-scale sandbox (5,000 tutors, 50,000 customers, 180 days, about 2.5 million
   records) is served from its own process and synced into a fresh SQLite database
   (as ``tutormax sync`` does; see sync_bench).
2. A scoring run is written with one prediction per active tutor and customer and one
   per upcoming first session. The prediction *values* are drawn at plausible rates
   (a few percent of tutors at High/Critical risk, customers' figures spread over the
   triggers) instead of training the models, which would add minutes and measure the
   models, not the rules: the rules' cost is the SQL over the synced data (sessions,
   logins, first sessions) and the reconciliation writes, which are real here.
3. ``evaluate_alerts`` runs twice: the first run opens every alert (insert-heavy), the
   second is the steady state after every scoring (most alerts unchanged). Target:
   each under 3 s.
4. The Alerts page's model with 50,000 alerts: every column's sort and the filters
   (severity, type, manager, state, "mine", text search), worst case of each. Target:
   under 100 ms.

Run alone: ``.venv/bin/python -m benchmarks.alerts_bench [--scale full|demo]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, select

from benchmarks.sync_bench import TOKEN, _start_server
from services.api.client import RailsApiClient
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import (
    Customer,
    CustomerPrediction,
    FirstSessionPrediction,
    ScoringRun,
    Tutor,
    TutoringSession,
    TutorPrediction,
)
from services.sync.engine import SyncEngine

ANCHOR = datetime(2026, 11, 20, 12, tzinfo=UTC)
EVALUATION_TARGET_S = 3.0
QUEUE_TARGET_MS = 100.0
QUEUE_ROWS = 50_000


def _synced_database(scale: str, folder: Path) -> Engine:
    proc, url = _start_server(scale)
    try:
        engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
        migrate(engine)
        client = RailsApiClient(url, TOKEN, timeout=60)
        report = SyncEngine(engine, client, page_limit=1000, concurrency=3).sync(trigger="bench")
        client.close()
        if report.status != "ok":
            raise RuntimeError(f"sync {report.status}")
        return engine
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _write_run(engine: Engine, seed: int = 7) -> dict[str, int]:
    """A scoring run with drawn prediction values over the real tutors, customers and
    upcoming first sessions (module doc, step 2)."""
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        tutors = list(conn.execute(select(Tutor.id).where(Tutor.status == "active")).scalars())
        customers = list(
            conn.execute(select(Customer.id).where(Customer.status == "active")).scalars()
        )
        firsts = conn.execute(
            select(
                TutoringSession.id,
                TutoringSession.tutor_id,
                TutoringSession.customer_id,
                TutoringSession.start_time,
                TutoringSession.subject,
            ).where(
                TutoringSession.first_session.is_(True),
                TutoringSession.start_time >= ANCHOR,
                TutoringSession.start_time < ANCHOR + timedelta(days=7),
            )
        ).all()
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(ScoringRun)
            .values(started_at=ANCHOR, status="ok", as_of=ANCHOR, trigger="bench")
            .returning(ScoringRun.id)
        ).scalar_one()
        p30 = rng.beta(1.2, 7.0, len(tutors))
        tutor_rows = [
            {
                "run_id": run_id,
                "tutor_id": int(t),
                "as_of": ANCHOR,
                "p_churn_7d": float(p / 3),
                "p_churn_14d": float(p / 2),
                "p_churn_30d": float(p),
                "p_churn_90d": float(min(1.0, p * 1.4)),
                "risk_tier": "Critical" if p >= 0.7 else "High" if p >= 0.5 else "Low",
                "factors": [{"text": "sessions down 40 % vs last month", "direction": "up"}],
                "metrics": {
                    "days_since_last_session": float(rng.exponential(4.0)),
                    "sessions_30d": int(rng.poisson(18)),
                    "sessions_prev_30d": int(rng.poisson(18)),
                    "rating_avg_prev_30d": 4.4,
                    "engagement_score_14d": 0.6,
                    "hours_offered_next_14d": 10.0,
                },
            }
            for t, p in zip(tutors, p30, strict=True)
        ]
        conn.execute(insert(TutorPrediction), tutor_rows)
        goals = rng.random(len(customers))
        customer_rows = [
            {
                "run_id": run_id,
                "customer_id": int(c),
                "as_of": ANCHOR,
                "p_churn_30d": float(rng.beta(1.5, 6)),
                "health_score": float(rng.uniform(20, 95)),
                "health_tier": "At Risk",
                "components": {
                    "figures": {
                        "calls_14d": int(rng.poisson(0.25)),
                        "days_since_last_session": float(rng.exponential(6.0)),
                        "sessions_30d": int(rng.poisson(5)),
                        "sessions_prev_30d": int(rng.poisson(5)),
                        "first_session_rating": int(rng.choice([2, 3, 4, 5, 5, 5])),
                        "tenure_days": float(rng.uniform(1, 180)),
                    }
                },
                "factors": [],
            }
            for c in customers
        ]
        conn.execute(insert(CustomerPrediction), customer_rows)
        # Goals completed for a share of customers (the cross-sell rule reads the table).
        done = [int(c) for c, g in zip(customers, goals, strict=True) if g < 0.05]
        for i in range(0, len(done), 500):
            conn.execute(
                Customer.__table__.update()
                .where(Customer.id.in_(done[i : i + 500]))
                .values(goal_status="completed")
            )
        fs_rows = [
            {
                "run_id": run_id,
                "session_id": int(s.id),
                "tutor_id": s.tutor_id,
                "customer_id": s.customer_id,
                "start_time": s.start_time,
                "subject": s.subject,
                "p_poor": float(rng.beta(2, 4)),
                "risk_tier": "Low",
                "factors": [],
            }
            for s in firsts
        ]
        if fs_rows:
            conn.execute(insert(FirstSessionPrediction), fs_rows)
    return {"tutors": len(tutors), "customers": len(customers), "first_sessions": len(firsts)}


def _warm_up(engine: Engine) -> float:
    """Every rule once, read-only: the libraries some rules import on first use (the
    supply rule's forecasting code) are loaded, as they are in ``tutormax score``, whose
    scoring has loaded them before the rules run. Returns the seconds it took."""
    from services.alerts.context import RuleContext, latest_run
    from services.alerts.registry import registered_rules
    from services.settings import AlertSettings

    t = time.perf_counter()
    with engine.connect() as conn:
        run = latest_run(conn)
        assert run is not None
        ctx = RuleContext(conn, run, AlertSettings())
        for r in registered_rules().values():
            for _ in r.evaluate(ctx):
                pass
    return time.perf_counter() - t


def _evaluate(engine: Engine) -> dict[str, Any]:
    from services.alerts import evaluate_alerts

    out: dict[str, Any] = {"warm_up_s": _warm_up(engine)}
    for label, now in (("first", ANCHOR), ("steady", ANCHOR + timedelta(minutes=15))):
        t = time.perf_counter()
        result = evaluate_alerts(engine, now=now)
        out[f"{label}_s"] = time.perf_counter() - t
        out[f"{label}_counts"] = result.counts()
        out["by_rule"] = result.by_rule
        if result.errors:
            raise RuntimeError(f"rules failed: {result.errors}")
    return out


def _queue_rows(n: int) -> list[Any]:
    rng = np.random.default_rng(3)
    rules = [
        "churn_risk",
        "no_sessions",
        "no_login",
        "low_ratings",
        "customer_calls",
        "customer_lapsed",
        "customer_idle",
        "first_session_risk",
    ]
    sev = ["Critical", "High", "Medium", "Low"]
    states = ["active"] * 6 + ["acknowledged"] * 2 + ["resolved", "dismissed"]
    rows = []
    for i in range(n):
        rule = rules[i % len(rules)]
        rows.append(
            SimpleNamespace(
                id=i + 1,
                key=f"{rule}:tutor:{i}",
                rule=rule,
                subject_type="tutor",
                subject_id=str(i),
                subject_name=f"Tutor {rng.integers(1e6):06d}",
                tutor_id=i,
                customer_id=None,
                manager_id=int(i % 40),
                manager_name=f"Manager {i % 40:02d}",
                severity=sev[int(rng.integers(4))],
                priority=int(rng.integers(0, 101)),
                state=states[int(rng.integers(10))],
                title=f"Tutor {i}: {rule.replace('_', ' ')} at {rng.uniform():.2f}",
                next_step="call",
                created_at=ANCHOR - timedelta(minutes=int(rng.integers(1e5))),
                updated_at=ANCHOR,
                snoozed_until=None,
                assignee="ana" if i % 13 == 0 else None,
                closed_at=None,
            )
        )
    return rows


def _queue(n: int = QUEUE_ROWS) -> dict[str, float]:
    from PySide6.QtCore import QCoreApplication, Qt

    from services.alerts.registry import rule_titles
    from viewmodels.alert_queue import COLUMNS, AlertQueueModel, QueueFilter, prepare_queue

    _app = QCoreApplication.instance() or QCoreApplication([])
    t = time.perf_counter()
    prepared = prepare_queue(_queue_rows(n), rule_titles(), ANCHOR)
    prepare_s = time.perf_counter() - t
    model = AlertQueueModel(user="ana")
    t = time.perf_counter()
    model.set_queue(prepared, ANCHOR)
    load_ms = (time.perf_counter() - t) * 1000
    sorts = []
    for column in range(len(COLUMNS)):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            t = time.perf_counter()
            model.sort(column, order)
            sorts.append((time.perf_counter() - t) * 1000)
    filters = [
        QueueFilter(severities=frozenset({"Critical", "High"})),
        QueueFilter(rules=frozenset({"churn_risk"}), manager_ids=frozenset({3, 4})),
        QueueFilter(state="all"),
        QueueFilter(state="closed"),
        QueueFilter(mine=True),
        QueueFilter(state="all", text="tutor 12"),
        QueueFilter(state="all", text="no match at all"),
    ]
    times = []
    for flt in filters:
        t = time.perf_counter()
        model.set_filter(flt)
        times.append((time.perf_counter() - t) * 1000)
    del _app
    return {
        "prepare_s": prepare_s,
        "load_ms": load_ms,
        "sort_ms": max(sorts),
        "filter_ms": max(times),
    }


def _prepare(scale: str, folder: Path) -> dict[str, int]:
    """Child process: sync the sandbox into ``folder``/bench.db and write the run."""
    engine = _synced_database(scale, folder)
    sizes = _write_run(engine)
    engine.dispose()
    return sizes


def measure(scale: str = "full") -> dict[str, Any]:
    """Sync and the run in a child process, the evaluation in this one: the evaluation
    runs in the scoring job's own process in the app, not in one that still holds a
    sync's millions of Python objects (every garbage collection would walk them)."""
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.alerts_bench", "--scale", scale, "--prepare", tmp],
            check=True,
            capture_output=True,
            text=True,
        )
        sizes = json.loads(out.stdout.strip().splitlines()[-1])
        synced_s = time.perf_counter() - t
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        evaluation = _evaluate(engine)
        engine.dispose()
    return {"synced_s": synced_s, "sizes": sizes, **evaluation, **_queue()}


def _row(name: str, value: Any, unit: str, target: float | None = None, ok: bool = True):  # type: ignore[no-untyped-def]
    return {"name": name, "value": value, "unit": unit, "target": target, "ok": ok}


def run(scale: str = "full") -> list[dict[str, object]]:
    m = measure(scale)
    p = f"alerts.{scale}"
    first, steady = m["first_counts"], m["steady_counts"]
    return [
        _row(
            f"{p}.evaluation.first_run",
            round(m["first_s"], 2),
            "s",
            EVALUATION_TARGET_S,
            m["first_s"] < EVALUATION_TARGET_S,
        ),
        _row(
            f"{p}.evaluation.steady_run",
            round(m["steady_s"], 2),
            "s",
            EVALUATION_TARGET_S,
            m["steady_s"] < EVALUATION_TARGET_S,
        ),
        _row(f"{p}.evaluation.alerts_opened", first["new"], "alerts"),
        _row(f"{p}.evaluation.dry_run_with_imports", round(m["warm_up_s"], 2), "s"),
        _row(f"{p}.evaluation.steady_new", steady["new"], "alerts"),
        _row(f"{p}.evaluation.subjects", m["sizes"], "rows"),
        _row(f"{p}.evaluation.by_rule", m["by_rule"], "subjects"),
        _row(
            "alerts.queue_50k.sort_worst",
            round(m["sort_ms"], 1),
            "ms",
            QUEUE_TARGET_MS,
            m["sort_ms"] < QUEUE_TARGET_MS,
        ),
        _row(
            "alerts.queue_50k.filter_worst",
            round(m["filter_ms"], 1),
            "ms",
            QUEUE_TARGET_MS,
            m["filter_ms"] < QUEUE_TARGET_MS,
        ),
        _row("alerts.queue_50k.load_into_model", round(m["load_ms"], 1), "ms"),
        _row("alerts.queue_50k.prepare_off_gui_thread", round(m["prepare_s"], 2), "s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="full", choices=("tiny", "demo", "full"))
    parser.add_argument("--queue-only", action="store_true", help="only the 50,000-row queue")
    parser.add_argument("--prepare", help=argparse.SUPPRESS)  # the child of measure()
    args = parser.parse_args()
    if args.prepare:
        print(json.dumps(_prepare(args.scale, Path(args.prepare))))
        return
    if args.queue_only:
        print(json.dumps(_queue(), indent=2))
        return
    print(json.dumps(run(args.scale), indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    main()
