"""A stand-in scoring job for shell tests, registered the way services.scoring will be.

It is *not* the churn model (issue 3): it reads the synced marketplace through
``services.ml_data.load_frames`` (the models' real input path, so the load on the
process is realistic), derives a crude risk from each tutor's recent sessions and
ratings, and writes a ``scoring_runs`` row with ``tutor_predictions``, so the shell's
job plug-in, scheduler and dashboard can be exercised end to end before the models land.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, update

from services.db.models import ScoringRun, TutorPrediction
from services.jobs import AFTER_SYNC, JobContext, JobRegistry


def register_jobs(registry: JobRegistry) -> None:
    registry.register(
        "score",
        score_job,
        title="Scoring (test stand-in)",
        triggers={AFTER_SYNC},
        min_interval_minutes=15,
    )


def score_job(ctx: JobContext) -> dict[str, Any]:
    from services.ml_data import load_frames

    ctx.progress("Scoring: loading the marketplace…")
    frames = load_frames(ctx.engine, ("tutors", "sessions", "engagement"))
    ctx.check_cancel()
    tutors = frames.tutors
    sessions = frames.sessions
    as_of = frames.observed_until
    active = tutors[tutors["status"] == "active"]
    done = sessions[sessions["status"] == "completed"]
    recent = done[done["start_time"] > as_of - timedelta(days=30)]
    before = done[
        (done["start_time"] <= as_of - timedelta(days=30))
        & (done["start_time"] > as_of - timedelta(days=60))
    ]
    n_recent = recent.groupby("tutor_id").size()
    n_before = before.groupby("tutor_id").size()
    rating = recent.groupby("tutor_id")["rating"].mean().astype("float64")
    # A little extra work of the kind scoring does (per-tutor aggregates over history).
    history = done.groupby("tutor_id").agg(n=("rating", "size"), mean=("rating", "mean"))
    ctx.check_cancel()
    ctx.progress(0.5)
    rows = []
    now = datetime.now(UTC)
    for tutor_id in active["id"].to_numpy():
        r = int(n_recent.get(tutor_id, 0))
        b = int(n_before.get(tutor_id, 0))
        avg = rating.get(tutor_id, np.nan)
        avg = float("nan") if avg is None or avg != avg else float(avg)
        drop = 0.0 if b == 0 else max(0.0, (b - r) / b)
        low = 0.0 if np.isnan(avg) else max(0.0, (4.5 - avg) / 2.0)
        p30 = float(np.clip(0.05 + 0.8 * drop + 0.6 * low, 0.01, 0.97))
        perf = 100 * float(np.clip(((avg if not np.isnan(avg) else 4.0) - 3.0) / 2.0, 0, 1))
        tier = (
            "Platinum"
            if perf >= 85
            else "Gold"
            if perf >= 70
            else "Silver"
            if perf >= 55
            else "Bronze"
        )
        risk = (
            "Critical"
            if p30 >= 0.7
            else "High"
            if p30 >= 0.5
            else "Medium"
            if p30 >= 0.25
            else "Low"
        )
        reason = (
            f"sessions down {drop * 100:.0f} % vs the month before"
            if drop >= 0.3
            else f"average rating {avg:.1f} in 30 days"
        )
        rows.append(
            {
                "tutor_id": int(tutor_id),
                "as_of": as_of.to_pydatetime(),
                "p_churn_7d": p30 * 0.4,
                "p_churn_14d": p30 * 0.6,
                "p_churn_30d": p30,
                "p_churn_90d": min(0.99, p30 * 1.4),
                "risk_tier": risk,
                "performance_score": perf,
                "performance_tier": tier,
                "factors": [{"text": reason, "contribution": p30}],
                "metrics": {"sessions_30d": r, "history": int(history["n"].get(tutor_id, 0))},
                "model_version": "test-stand-in",
            }
        )
    with ctx.engine.begin() as conn:
        run_id = conn.execute(
            insert(ScoringRun)
            .values(trigger=ctx.trigger, as_of=as_of.to_pydatetime(), models={"stand-in": "0"})
            .returning(ScoringRun.id)
        ).scalar_one()
        if rows:
            conn.execute(insert(TutorPrediction), [dict(r, run_id=run_id) for r in rows])
        conn.execute(
            update(ScoringRun)
            .where(ScoringRun.id == run_id)
            .values(status="ok", finished_at=now, counts={"tutors": len(rows)})
        )
    critical = sum(1 for r in rows if r["risk_tier"] == "Critical")
    return {"summary": f"{len(rows):,} tutors scored, {critical} critical (stand-in)"}
