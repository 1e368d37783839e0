"""Training every model on the local database and saving it in the model registry.

The modelling itself is :func:`ml.pipeline.train_all` (pure, on frames); this module adds
where the data comes from (``services.ml_data``), where the models go
(``ml.registry.ModelRegistry`` under the app's models folder) with their training
window, held-out metrics and key metric, progress and cancellation for the GUI's task
runner and the CLI.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from ml.frames import MarketFrames
from ml.pipeline import train_all
from ml.registry import ModelRegistry
from services.ml_data import load_frames

log = logging.getLogger(__name__)

# name -> (key metric in its held-out figures, higher is better). The registry keeps the
# previous version when a new one scores worse on it.
KEY_METRICS: dict[str, tuple[str, bool]] = {
    "tutor_churn": ("concordance", True),
    "customer_churn": ("concordance", True),
    "first_session": ("auc", True),
    "sessions_forecast": ("mae", False),
}


class TrainingError(RuntimeError):
    """Training could not run (no data, too little history); the message says why."""


class TrainingCancelledError(TrainingError):
    """The caller cancelled; nothing was saved for the model being trained."""


@dataclass
class TrainingResult:
    versions: dict[str, int] = field(default_factory=dict)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    observed_until: str = ""
    rows: dict[str, int] = field(default_factory=dict)


def train_models(
    engine: Engine,
    models_dir: Path,
    *,
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    frames: MarketFrames | None = None,
) -> TrainingResult:
    """Train every model on the database's data and save each as a new registry version."""
    say = progress or (lambda _msg: None)
    cancel = cancel or threading.Event()

    def step(message: str) -> None:
        if cancel.is_set():
            raise TrainingCancelledError("training cancelled")
        say(message)

    started = time.perf_counter()
    step("loading the marketplace from the local database")
    frames = frames if frames is not None else load_frames(engine)
    if frames.sessions.empty or frames.tutors.empty:
        raise TrainingError(
            "no synced data to train on: sync the marketplace first (tutormax sync)"
        )
    try:
        models, figures, seconds = train_all(frames, progress=lambda m: step(f"training {m}"))
    except TrainingError:
        raise
    except ValueError as exc:  # the pipeline's "too little history ..." and the like
        raise TrainingError(f"cannot train yet: {exc}") from None
    step("saving the models")
    registry = ModelRegistry(models_dir)
    result = TrainingResult(
        figures=figures,
        seconds={k: round(v, 2) for k, v in seconds.items()},
        observed_until=frames.observed_until.isoformat(),
    )
    first_day = frames.sessions["start_time"].min()
    window = {
        "from": None if pd.isna(first_day) else first_day.isoformat(),
        "until": frames.observed_until.isoformat(),
    }
    for name, model in models.items():
        key, higher = KEY_METRICS[name]
        version = registry.save(
            name,
            model,
            {
                "metrics": figures.get(name, {}),
                "key_metric": key,
                "higher_is_better": higher,
                "training_window": window,
                "train_seconds": seconds.get(name),
            },
        )
        result.versions[name] = version.version
    # What the app will actually use: a worse new version is kept but not loaded, and a
    # roll-back stays pinned (ml.registry): both are said, never silent.
    for name in models:
        result.warnings += [
            w
            for w in registry.load_best(name).warnings
            if "worse" in w or "pinned" in w or "rolled back" in w
        ]
    result.seconds["total_with_io"] = round(time.perf_counter() - started, 2)
    log.info("trained %s in %.1fs", ", ".join(models), result.seconds["total_with_io"])
    return result


# ---------------------------------------------------------------------- scheduled job


def register_jobs(registry: Any) -> None:
    """Retraining nightly (02:00 local by default; DOMAIN.md "Schedules")."""
    from services.jobs import NIGHTLY

    registry.register(
        "train",
        train_job,
        title="Retraining",
        triggers={NIGHTLY},
        description="every model on the local data; a worse model is kept but not used",
        trains_models=True,
    )


def train_job(ctx: Any) -> dict[str, Any]:
    result = train_models(
        ctx.engine, Path(ctx.models_dir), progress=ctx.progress, cancel=ctx.cancel_event
    )
    versions = ", ".join(f"{k} v{v}" for k, v in result.versions.items())
    pinned = [w for w in result.warnings if "rolled back" in w]
    note = f"; kept by your roll-back: {'; '.join(pinned)}" if pinned else ""
    return {"summary": f"trained {versions}{note}", "warnings": result.warnings}
