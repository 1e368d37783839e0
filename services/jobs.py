"""Named background jobs the app's scheduler runs: a small registry, no Qt.

A job is a plain function ``fn(ctx: JobContext) -> object`` that reports progress and
checks for cancellation through ``ctx`` (the same shape as every task of the desktop's
task runner), plus *when* it runs:

- ``AFTER_SYNC``: after a sync that changed data (scoring), at most every
  ``min_interval`` (DOMAIN.md "Schedules": scoring at most every 15 minutes);
- ``NIGHTLY``: once a night at the configured local time (retraining at 02:00);
- ``DAILY``: once per local calendar day, at the first chance (forecasts).

Missed ``NIGHTLY``/``DAILY`` runs are caught up when the app starts (services.scheduler).

Modules that provide jobs (scoring, training, forecasting, ...) plug in without touching
the shell: each may define ``register_jobs(registry: JobRegistry) -> None``, and
:func:`discover_jobs` calls it for every module named in :data:`JOB_PROVIDERS` that
exists. For example, in ``services/scoring.py``::

    from services.jobs import AFTER_SYNC, JobContext, JobRegistry

    def register_jobs(registry: JobRegistry) -> None:
        registry.register(
            "score", _score_job, title="Scoring", triggers={AFTER_SYNC}, min_interval_minutes=15
        )

    def _score_job(ctx: JobContext) -> dict:
        run = score(ctx.engine, models_dir=ctx.models_dir, progress=ctx.progress,
                    cancel=ctx.cancel_event, trigger=ctx.trigger)
        return {"summary": f"{run.counts['tutors']:,} tutors scored"}

A job's return value may be anything; a dict with a ``"summary"`` string, or a plain
string, is what the System page shows as its result.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

AFTER_SYNC = "after_sync"
NIGHTLY = "nightly"
DAILY = "daily"
MANUAL = "manual"
TRIGGERS = frozenset({AFTER_SYNC, NIGHTLY, DAILY, MANUAL})

# Modules asked for ``register_jobs(registry)``; a missing module is simply skipped.
JOB_PROVIDERS: tuple[str, ...] = (
    "services.scoring",
    "services.training",
    "services.forecasting",
    "services.alerts",
)


class JobCancelled(Exception):
    """Raised by :meth:`JobContext.check_cancel` when the user or the app cancelled."""


@dataclass
class JobContext:
    """What a job function gets: where the data is, progress, cancellation, why it runs."""

    engine: Any  # sqlalchemy.Engine (typed loosely: this module never imports SQLAlchemy)
    data_dir: Path | None = None
    models_dir: Path | None = None
    trigger: str = MANUAL
    cancel_event: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[object], None] | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancel(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled("cancelled")

    def progress(self, value: object) -> None:
        """A message (str), a fraction 0..1 (float) or anything the job documents."""
        if self.on_progress is not None:
            self.on_progress(value)


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: Callable[[JobContext], Any]
    title: str
    triggers: frozenset[str]
    min_interval: timedelta = timedelta(0)
    description: str = ""

    def runs_on(self, trigger: str) -> bool:
        return trigger in self.triggers


class JobRegistry:
    """Named jobs, in registration order. Registering a name twice replaces it."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobSpec] = {}

    def register(
        self,
        name: str,
        fn: Callable[[JobContext], Any],
        *,
        title: str | None = None,
        triggers: Iterable[str] = (MANUAL,),
        min_interval_minutes: float = 0,
        description: str = "",
    ) -> JobSpec:
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"job name must be a short identifier, not {name!r}")
        wanted = frozenset(triggers) | {MANUAL}
        unknown = wanted - TRIGGERS
        if unknown:
            raise ValueError(f"unknown job triggers {sorted(unknown)}; known: {sorted(TRIGGERS)}")
        if min_interval_minutes < 0:
            raise ValueError("min_interval_minutes must not be negative")
        spec = JobSpec(
            name=name,
            fn=fn,
            title=title or name.replace("_", " ").capitalize(),
            triggers=wanted,
            min_interval=timedelta(minutes=min_interval_minutes),
            description=description,
        )
        self._jobs[name] = spec
        return spec

    def unregister(self, name: str) -> None:
        self._jobs.pop(name, None)

    def get(self, name: str) -> JobSpec:
        try:
            return self._jobs[name]
        except KeyError:
            raise KeyError(f"no job named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)

    def names(self) -> list[str]:
        return list(self._jobs)

    def with_trigger(self, trigger: str) -> list[JobSpec]:
        return [j for j in self._jobs.values() if trigger in j.triggers]


def discover_jobs(
    registry: JobRegistry | None = None, providers: Iterable[str] | None = None
) -> tuple[JobRegistry, list[str]]:
    """Ask every provider module that exists to register its jobs.

    Returns the registry and a list of problems (a provider that failed to import or to
    register is logged and reported, never fatal: the app runs without that job).
    """
    registry = registry if registry is not None else JobRegistry()
    problems: list[str] = []
    for module_name in JOB_PROVIDERS if providers is None else providers:
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
        except (ImportError, ValueError):
            continue
        try:
            module = importlib.import_module(module_name)
            hook = getattr(module, "register_jobs", None)
            if hook is not None:
                hook(registry)
        except Exception as exc:
            log.exception("job provider %s failed", module_name)
            problems.append(f"{module_name}: {type(exc).__name__}: {exc}")
    return registry, problems


def summarize_result(result: object) -> str:
    """One line for the System page from whatever a job returned."""
    if result is None:
        return "done"
    if isinstance(result, str):
        return result
    if isinstance(result, dict):
        summary = result.get("summary")
        if isinstance(summary, str):
            return summary
        return ", ".join(f"{k}: {v}" for k, v in list(result.items())[:4])
    for attr in ("summary", "status"):
        value = getattr(result, attr, None)
        if isinstance(value, str):
            return value
    text = str(result)
    return text if len(text) <= 120 else text[:117] + "…"
