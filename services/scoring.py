"""Scoring every active tutor, upcoming first session and customer into the database.

:func:`ml.pipeline.score_all` computes everything on frames; this module loads the frames
and the best usable model versions (``ml.registry``; fallbacks become warnings kept with
the run), and writes one ``scoring_runs`` row with all its predictions in a single
transaction, with the thresholds that produced the tiers (DOMAIN.md: stored with the
data, so a score can be explained later).

History: every run's rows are kept for two days; older runs are thinned to the last run
of each day (the tutor profile charts risk over time at one point a day). Scoring every
15 minutes would otherwise add about 5 million rows a day at full scale.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from ml.frames import MarketFrames
from ml.noshow import NoShowSettings
from ml.pipeline import score_all
from ml.registry import ModelRegistry
from ml.scores import ScoreSettings
from services.db.engine import begin_write
from services.db.models import (
    CustomerPrediction,
    FirstSessionPrediction,
    ScoringRun,
    TutorPrediction,
)
from services.ml_data import load_frames

log = logging.getLogger(__name__)

MODELS = ("tutor_churn", "customer_churn", "first_session", "sessions_forecast")
KEEP_ALL_RUNS_FOR = timedelta(days=2)
UPCOMING_DAYS = 7


class ScoringError(RuntimeError):
    """Scoring could not run (no model, no data); the message says what to do."""


class ScoringCancelledError(ScoringError):
    pass


@dataclass
class ScoringResult:
    run_id: int
    counts: dict[str, int] = field(default_factory=dict)
    models: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    as_of: str = ""
    # The alert evaluation after the run: counts, and the new/escalated alerts in short
    # (services.alerts.EvaluationResult.as_report()); empty if it did not run.
    alerts: dict[str, Any] = field(default_factory=dict)
    # The evaluation itself (its .fired alerts feed the intervention policy); not JSON.
    alert_evaluation: Any = field(default=None, repr=False)
    # Interventions created from it and SLA breaches found (services.intervention_auto).
    interventions: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (what ``tutormax score --json`` prints)."""
        return {k: v for k, v in self.__dict__.items() if k != "alert_evaluation"}


def load_models(models_dir: Path) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """The best usable version of every model, their versions, and what was skipped."""
    registry = ModelRegistry(models_dir)
    models: dict[str, Any] = {}
    versions: dict[str, int] = {}
    warnings: list[str] = []
    for name in MODELS:
        loaded = registry.load_best(name)
        warnings += loaded.warnings
        if loaded.model is None:
            raise ScoringError(
                f"no usable {name} model ({'; '.join(loaded.warnings)}); "
                "train first (tutormax train, or Retrain now in the app)"
            )
        models[name] = loaded.model
        versions[name] = loaded.version.version
    return models, versions, warnings


def score(
    engine: Engine,
    models_dir: Path,
    *,
    trigger: str = "manual",
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    frames: MarketFrames | None = None,
    now: datetime | None = None,
    settings: Any = None,
) -> ScoringResult:
    """Score everything at the data's ``observed_until`` and write it as one run, then
    evaluate the alert rules on it (``settings``: services.settings.Settings, for the
    alert thresholds; None: the defaults)."""
    say = progress or (lambda _msg: None)
    cancel = cancel or threading.Event()
    started = time.perf_counter()

    def step(message: str) -> None:
        if cancel.is_set():
            raise ScoringCancelledError("scoring cancelled")
        say(message)

    step("loading the models")
    models, versions, warnings = load_models(models_dir)
    step("loading the marketplace from the local database")
    frames = frames if frames is not None else load_frames(engine)
    step("scoring tutors, customers and first sessions")
    out = score_all(frames, models, days=UPCOMING_DAYS)
    step("saving the predictions")
    as_of = frames.observed_until.to_pydatetime()
    thresholds = {"scores": ScoreSettings().to_dict(), "noshow": NoShowSettings().to_dict()}
    with begin_write(engine) as conn:
        run_id = conn.execute(
            insert(ScoringRun)
            .values(
                started_at=now or datetime.now(UTC),
                trigger=trigger,
                status="running",
                as_of=as_of,
                models=versions,
                thresholds=_json_safe(thresholds),
                warnings={"messages": warnings} if warnings else None,
            )
            .returning(ScoringRun.id)
        ).scalar_one()
        counts = {
            "tutors": _write_tutors(conn, run_id, as_of, out, versions),
            "first_sessions": _write_first_sessions(conn, run_id, out, versions),
            "customers": _write_customers(conn, run_id, as_of, out, versions),
        }
        conn.execute(
            update(ScoringRun)
            .where(ScoringRun.id == run_id)
            .values(status="ok", finished_at=datetime.now(UTC), counts=counts)
        )
    step("evaluating the alert rules")
    evaluation = _evaluate_alerts(engine, run_id, settings, now, warnings)
    step("creating interventions")
    interventions = _interventions_after(engine, evaluation, settings, now, warnings)
    pruned = prune_history(engine, now=now)
    if pruned:
        log.info("pruned %d old scoring runs", pruned)
    seconds = time.perf_counter() - started
    log.info("scoring run %d: %s in %.1fs", run_id, counts, seconds)
    return ScoringResult(
        run_id,
        counts,
        versions,
        warnings,
        seconds,
        as_of.isoformat(),
        alerts=evaluation.as_report() if evaluation is not None else {},
        alert_evaluation=evaluation,
        interventions=interventions,
    )


def _interventions_after(
    engine: Engine, evaluation: Any, settings: Any, now: datetime | None, warnings: list[str]
) -> dict[str, Any]:
    """Auto-create interventions from the alerts that fired (DOMAIN.md policy), then
    look for SLA breaches. Like the alerts, a failure is a warning, not a lost run."""
    from services.intervention_auto import after_scoring

    fired = evaluation.fired if evaluation is not None else None
    try:
        return after_scoring(
            engine, getattr(settings, "interventions", None), fired_alerts=fired, now=now
        )
    except Exception as exc:
        log.exception("intervention auto-creation failed on this run")
        warnings.append(f"interventions not created: {type(exc).__name__}: {exc}")
        return {}


def _evaluate_alerts(
    engine: Engine, run_id: int, settings: Any, now: datetime | None, warnings: list[str]
) -> Any:
    """The alert rules on the new run. The predictions are committed already: a failure
    here is a warning of the run (the next run evaluates again), not a lost run."""
    from services.alerts import evaluate_alerts

    try:
        evaluation = evaluate_alerts(
            engine, getattr(settings, "alerts", None), run_id=run_id, now=now
        )
    except Exception as exc:
        log.exception("alert evaluation failed on run %d", run_id)
        warnings.append(f"alert rules not evaluated: {type(exc).__name__}: {exc}")
        return None
    warnings += [f"alert rule {name} failed: {err}" for name, err in evaluation.errors.items()]
    return evaluation


# ---------------------------------------------------------------------- writing


def _factors_by_row(factors: pd.DataFrame) -> dict[Any, list[dict[str, Any]]]:
    """The long factor frame as {entity id: [factor, ...]} in rank order."""
    if factors.empty:
        return {}
    cols = ["feature", "label", "text", "contribution", "direction", "value"]
    ordered = factors.sort_values(["row", "rank"])
    records = ordered[cols].to_dict("records")
    out: dict[Any, list[dict[str, Any]]] = {}
    for key, rec in zip(ordered["row"].tolist(), records, strict=True):
        out.setdefault(key, []).append(_json_safe(rec))
    return out


def _write_tutors(conn: Connection, run_id: int, as_of: datetime, out: dict, versions: dict) -> int:
    tutors: pd.DataFrame = out["tutors"]
    if tutors.empty:
        return 0
    factors = _factors_by_row(out["tutor_factors"])
    metrics = out["tutor_metrics"].reindex(tutors.index)
    metric_records = dict(zip(metrics.index.tolist(), metrics.to_dict("records"), strict=True))
    version = f"tutor_churn v{versions['tutor_churn']}"
    rows = []
    for tid, r in zip(tutors.index.tolist(), tutors.to_dict("records"), strict=True):
        rows.append(
            {
                "run_id": run_id,
                "tutor_id": int(tid),
                "as_of": as_of,
                "p_churn_7d": _num(r.get("p7")),
                "p_churn_14d": _num(r.get("p14")),
                "p_churn_30d": _num(r.get("p30")),
                "p_churn_90d": _num(r.get("p90")),
                "risk_tier": _text(r.get("risk_tier")),
                "performance_score": _num(r.get("performance_score")),
                "performance_tier": _text(r.get("performance_tier")),
                "health_score": _num(r.get("health_score")),
                "segment": _text(r.get("health_segment")),
                "predicted_sessions_next_week": _num(r.get("sessions_next_week")),
                "burnout": bool(r.get("burnout")) if r.get("burnout") is not None else None,
                "noshow_risk": _num(r.get("noshow_risk")),
                "factors": factors.get(tid, []),
                "metrics": _json_safe(metric_records.get(tid, {})),
                "model_version": version,
            }
        )
    conn.execute(insert(TutorPrediction), rows)
    return len(rows)


def _write_first_sessions(conn: Connection, run_id: int, out: dict, versions: dict) -> int:
    sessions: pd.DataFrame = out["first_sessions"]
    if sessions.empty:
        return 0
    factors = _factors_by_row(out["first_session_factors"])
    version = f"first_session v{versions['first_session']}"
    rows = []
    for sid, r in zip(sessions.index.tolist(), sessions.to_dict("records"), strict=True):
        start = r.get("start_time")
        rows.append(
            {
                "run_id": run_id,
                "session_id": int(sid),
                "tutor_id": _int(r.get("tutor_id")),
                "customer_id": _int(r.get("customer_id")),
                "start_time": None if pd.isna(start) else start.to_pydatetime(),
                "subject": _text(r.get("subject")),
                "p_poor": _num(r.get("p_poor")),
                "risk_tier": _text(r.get("risk_tier")),
                "noshow_risk": _num(r.get("noshow_risk")),
                "factors": factors.get(sid, []),
                "model_version": version,
            }
        )
    conn.execute(insert(FirstSessionPrediction), rows)
    return len(rows)


_CUSTOMER_PARTS = {
    "first_session_success": "part_first_session",
    "session_velocity": "part_velocity",
    "inbound_calls": "part_calls",
    "goal_status": "part_goal",
    "tutor_consistency": "part_consistency",
}


def _write_customers(
    conn: Connection, run_id: int, as_of: datetime, out: dict, versions: dict
) -> int:
    customers: pd.DataFrame = out["customers"]
    if customers.empty:
        return 0
    factors = _factors_by_row(out["customer_factors"])
    metrics = out["customer_metrics"].reindex(customers.index)
    metric_records = dict(zip(metrics.index.tolist(), metrics.to_dict("records"), strict=True))
    version = f"customer_churn v{versions['customer_churn']}"
    rows = []
    for cid, r in zip(customers.index.tolist(), customers.to_dict("records"), strict=True):
        components = {name: _num(r.get(col)) for name, col in _CUSTOMER_PARTS.items()}
        components["figures"] = _json_safe(metric_records.get(cid, {}))
        rows.append(
            {
                "run_id": run_id,
                "customer_id": int(cid),
                "as_of": as_of,
                "p_churn_30d": _num(r.get("p30")),
                "health_score": _num(r.get("health_score")),
                "health_tier": _text(r.get("health_tier")),
                "components": components,
                "factors": factors.get(cid, []),
                "model_version": version,
            }
        )
    conn.execute(insert(CustomerPrediction), rows)
    return len(rows)


# ---------------------------------------------------------------------- history


def prune_history(engine: Engine, *, now: datetime | None = None) -> int:
    """Delete runs older than two days that are not the last run of their day."""
    now = now or datetime.now(UTC)
    cutoff = now - KEEP_ALL_RUNS_FOR
    with engine.connect() as conn:
        old = conn.execute(
            select(ScoringRun.id, ScoringRun.started_at)
            .where(ScoringRun.started_at < cutoff)
            .order_by(ScoringRun.started_at)
        ).all()
    last_of_day: dict[Any, int] = {}
    for run_id, started in old:
        last_of_day[started.date()] = run_id
    doomed = [run_id for run_id, _ in old if run_id not in set(last_of_day.values())]
    if not doomed:
        return 0
    with begin_write(engine) as conn:
        for chunk in _chunks(doomed, 500):
            # Children first: foreign keys cascade on PostgreSQL, but SQLite cascades only
            # with foreign_keys=ON on that connection; being explicit is safe on both.
            for model in (TutorPrediction, FirstSessionPrediction, CustomerPrediction):
                conn.execute(delete(model).where(model.run_id.in_(chunk)))
            conn.execute(delete(ScoringRun).where(ScoringRun.id.in_(chunk)))
    return len(doomed)


def latest_run_id(conn: Connection) -> int | None:
    return conn.execute(select(func.max(ScoringRun.id)).where(ScoringRun.status == "ok")).scalar()


# ---------------------------------------------------------------------- helpers


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _num(value: Any) -> float | None:
    """A finite float or None: NaN never reaches the database or the UI."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _int(value: Any) -> int | None:
    f = _num(value)
    return int(f) if f is not None else None


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------- scheduled job


def register_jobs(registry: Any) -> None:
    """Scoring runs after every sync that changed data, at most every 15 minutes."""
    from services.jobs import AFTER_SYNC

    registry.register(
        "score",
        score_job,
        title="Scoring",
        triggers={AFTER_SYNC},
        min_interval_minutes=15,
        description="churn curves, tiers and scores for every tutor, customer and first session",
        needs_models=True,
    )


def score_job(ctx: Any) -> dict[str, Any]:
    result = score(
        ctx.engine,
        Path(ctx.models_dir),
        trigger=ctx.trigger,
        progress=ctx.progress,
        cancel=ctx.cancel_event,
        settings=getattr(ctx, "settings", None),
    )
    c = result.counts
    summary = (
        f"{c.get('tutors', 0):,} tutors, {c.get('customers', 0):,} customers, "
        f"{c.get('first_sessions', 0):,} first sessions scored"
    )
    if result.alerts:
        summary += f"; {result.alerts['summary']}"
    return {
        "summary": summary,
        "run_id": result.run_id,
        "warnings": result.warnings,
        # Counts and the new Critical alerts (for the tray), JSON-ready.
        "alerts": result.alerts,
    }
