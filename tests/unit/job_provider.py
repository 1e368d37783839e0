"""A job provider for the scheduler's tests, shaped like services.scoring/training.

``register_jobs`` is what :func:`services.jobs.discover_jobs` calls; the jobs are
module-level functions so that they can run isolated, in their own process.
"""

from __future__ import annotations

from typing import Any

from services.jobs import AFTER_SYNC, NIGHTLY, JobContext, JobRegistry


def register_jobs(registry: JobRegistry) -> None:
    registry.register(
        "score",
        score_job,
        title="Scoring (test provider)",
        triggers={AFTER_SYNC},
        min_interval_minutes=15,
        needs_models=True,
    )
    registry.register(
        "train", train_job, title="Training (test provider)", triggers={NIGHTLY}, trains_models=True
    )


def score_job(ctx: JobContext) -> dict[str, Any]:
    ctx.progress("scoring")
    return {"summary": f"scored on {ctx.trigger}"}


def train_job(ctx: JobContext) -> str:
    return "trained"
