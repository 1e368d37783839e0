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

import contextlib
import importlib
import importlib.util
import logging
import os
import threading
import time
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
    # The user's services.settings.Settings (thresholds a job stores with what it writes);
    # None: the defaults.
    settings: Any = None

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
    # Run in a separate process (the default): a CPU-bound job in a thread of the GUI
    # process would take the GIL from the GUI thread for its whole run.
    isolated: bool = True
    # "module:qualname" of fn, for a spec known only by name in this process
    # (discovered in another one); None: taken from fn.
    target: str | None = None
    # Trains the models other jobs use (retraining): with no trained model yet the
    # scheduler runs it first, as the catch-up of the nightly run that never happened.
    trains_models: bool = False
    # Uses trained models (scoring): it waits, rather than fails, while none exists.
    needs_models: bool = False

    @property
    def target_ref(self) -> str:
        return self.target or f"{self.fn.__module__}:{self.fn.__qualname__}"

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
        isolated: bool = True,
        trains_models: bool = False,
        needs_models: bool = False,
    ) -> JobSpec:
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"job name must be a short identifier, not {name!r}")
        wanted = frozenset(triggers) | {MANUAL}
        unknown = wanted - TRIGGERS
        if unknown:
            raise ValueError(f"unknown job triggers {sorted(unknown)}; known: {sorted(TRIGGERS)}")
        if min_interval_minutes < 0:
            raise ValueError("min_interval_minutes must not be negative")
        if isolated and ("<lambda>" in fn.__qualname__ or "<locals>" in fn.__qualname__):
            raise ValueError(
                f"job {name!r}: an isolated job runs in its own process, so its function "
                "must be importable (a module-level function), or pass isolated=False"
            )
        spec = JobSpec(
            name=name,
            fn=fn,
            title=title or name.replace("_", " ").capitalize(),
            triggers=wanted,
            min_interval=timedelta(minutes=min_interval_minutes),
            description=description,
            isolated=isolated,
            trains_models=trains_models,
            needs_models=needs_models,
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


# ---------------------------------------------------------------------- isolation


@dataclass(frozen=True)
class JobEnvironment:
    """What a job process needs to build its JobContext (everything picklable)."""

    database_url: str
    data_dir: str | None
    models_dir: str | None
    trigger: str = MANUAL
    # services.settings.Settings as JSON (picklable, and parsed with the same validation).
    settings_json: str | None = None


class JobFailed(RuntimeError):
    """An isolated job raised; the message carries its type, text and traceback."""


def run_isolated(
    spec: JobSpec,
    env: JobEnvironment,
    *,
    cancel_event: threading.Event,
    on_progress: Callable[[object], None] | None = None,
) -> Any:
    """Run a registered job in its own process (see :func:`run_in_subprocess`)."""
    return run_in_subprocess(
        "services.jobs:_job_process",
        (spec.target_ref, env),
        cancel_event=cancel_event,
        on_progress=on_progress,
        name=f"tutormax-job-{spec.name}",
    )


def _job_process(payload: tuple[str, JobEnvironment], progress, cancel) -> Any:  # type: ignore[no-untyped-def]
    target, env = payload
    fn = _resolve(target)
    from services.db.engine import make_engine

    engine = make_engine(env.database_url)
    try:
        ctx = JobContext(
            engine=engine,
            data_dir=Path(env.data_dir) if env.data_dir else None,
            models_dir=Path(env.models_dir) if env.models_dir else None,
            trigger=env.trigger,
            cancel_event=cancel,  # a multiprocessing Event: is_set()/wait() as threading's
            on_progress=progress,
            settings=_settings(env.settings_json),
        )
        return fn(ctx)
    finally:
        engine.dispose()


def _settings(raw: str | None) -> Any:
    if raw is None:
        return None
    from services.settings import Settings

    return Settings.model_validate_json(raw)


def run_in_subprocess(
    target: str,
    payload: Any,
    *,
    cancel_event: threading.Event,
    on_progress: Callable[[object], None] | None = None,
    name: str = "tutormax-worker",
    exceptions: dict[str, type[BaseException]] | None = None,
    poll_seconds: float = 0.1,
    cancel_grace_seconds: float = 5.0,
) -> Any:
    """Call ``target`` ("module:function") as ``fn(payload, progress, cancel)`` in a fresh
    process and wait for it here, relaying progress and cancellation.

    Why a process: a CPU-bound job (scoring, training, a sync's validation and writes)
    in a thread of the GUI process holds the GIL the GUI thread needs for every paint;
    in its own process it cannot. The process is spawned (never forked from a threaded
    GUI). Payload, progress values and the result must be picklable; nothing is written
    to disk. An exception in the child comes back as the same class when its name is in
    ``exceptions`` (plus :class:`JobCancelled`), else as :class:`JobFailed`. A child
    that has not stopped ``cancel_grace_seconds`` after a cancel is terminated (the app
    is quitting; the work is transactional and resumes next time).
    """
    import multiprocessing as mp
    import queue as queue_module

    known = {"JobCancelled": JobCancelled, **(exceptions or {})}
    mp_ctx = mp.get_context("spawn")
    messages = mp_ctx.Queue()
    cancel = mp_ctx.Event()
    proc = mp_ctx.Process(
        target=_subprocess_main,
        args=(target, payload, messages, cancel),
        name=name,
        daemon=True,
    )
    proc.start()
    cancelled_at: float | None = None
    try:
        while True:
            if cancel_event.is_set():
                cancel.set()
                now = time.monotonic()
                if cancelled_at is None:
                    cancelled_at = now
                elif now - cancelled_at > cancel_grace_seconds and proc.is_alive():
                    proc.terminate()
                    raise JobCancelled(f"{name} did not stop in time and was terminated")
            try:
                kind, value = messages.get(timeout=poll_seconds)
            except queue_module.Empty:
                if proc.is_alive():
                    continue
                try:
                    kind, value = messages.get(timeout=1.0)
                except queue_module.Empty:
                    raise JobFailed(
                        f"{name} ended without a result (exit code {proc.exitcode})"
                    ) from None
            if kind == "progress":
                if on_progress is not None:
                    on_progress(value)
            elif kind == "result":
                return value
            else:
                type_name, message, details = value
                log.info("%s raised %s: %s\n%s", name, type_name, message, details)
                cls = known.get(type_name)
                if cls is not None:
                    raise cls(message)
                raise JobFailed(f"{type_name}: {message}")
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)
        messages.close()
        messages.join_thread()


def _resolve(target: str) -> Any:
    module_name, _, qualname = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _subprocess_main(target: str, payload: Any, messages, cancel) -> None:  # type: ignore[no-untyped-def]
    """The child process: run the target, send back the result or the error."""
    import traceback

    # Background work yields the CPU to the app the user is looking at.
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(10)
    try:
        fn = _resolve(target)
        result = fn(payload, lambda value: messages.put(("progress", value)), cancel)
        messages.put(("result", result))
    except BaseException as exc:
        messages.put(("error", (type(exc).__name__, str(exc), traceback.format_exc())))


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


def discover_jobs_isolated(
    providers: Iterable[str] | None = None, cancel_event: threading.Event | None = None
) -> tuple[JobRegistry, list[str]]:
    """:func:`discover_jobs` without importing the providers here.

    Job providers import the model libraries (seconds of import time, hundreds of MB);
    the app's process only needs to know each job's name, schedule and entry point,
    since isolated jobs run elsewhere. A provider's non-isolated jobs (rare) are
    registered by importing it here after all.
    """
    names = list(JOB_PROVIDERS if providers is None else providers)
    found, problems = run_in_subprocess(
        "services.jobs:_discover_process",
        names,
        cancel_event=cancel_event or threading.Event(),
        name="tutormax-discover-jobs",
    )
    registry = JobRegistry()
    in_process: list[str] = []
    for job in found:
        if not job["isolated"]:
            if job["provider"] not in in_process:
                in_process.append(job["provider"])
            continue
        registry._jobs[job["name"]] = JobSpec(
            name=job["name"],
            fn=_not_here,
            title=job["title"],
            triggers=frozenset(job["triggers"]),
            min_interval=timedelta(minutes=job["min_interval_minutes"]),
            description=job["description"],
            isolated=True,
            target=job["target"],
            trains_models=job.get("trains_models", False),
            needs_models=job.get("needs_models", False),
        )
    if in_process:
        _, more = discover_jobs(registry, in_process)
        problems = [*problems, *more]
    return registry, problems


def _not_here(ctx: JobContext) -> Any:
    raise RuntimeError("this job runs in its own process (services.jobs.run_isolated)")


def _discover_process(providers: list[str], progress, cancel) -> tuple[list[dict], list[str]]:  # type: ignore[no-untyped-def]
    out: list[dict] = []
    problems: list[str] = []
    for provider in providers:
        registry, more = discover_jobs(providers=[provider])
        problems += more
        for spec in registry:
            out.append(
                {
                    "provider": provider,
                    "name": spec.name,
                    "title": spec.title,
                    "triggers": sorted(spec.triggers),
                    "min_interval_minutes": spec.min_interval.total_seconds() / 60,
                    "description": spec.description,
                    "isolated": spec.isolated,
                    "target": spec.target_ref,
                    "trains_models": spec.trains_models,
                    "needs_models": spec.needs_models,
                }
            )
    return out, problems


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
