"""``tutormax worker``: the team deployment's headless loop (no Qt).

One process next to a team's PostgreSQL database does what each desktop's scheduler
does while the app is open (DOMAIN.md "Schedules"): every tick it drains the outbox and
syncs the resources whose cadence is due, then runs the jobs the scheduler finds due
(scoring after new data at most every 15 minutes, retraining nightly, forecasts daily,
a first training as soon as there is data). It reuses :mod:`services.scheduler` for
*when* and :mod:`services.jobs` for *what*: jobs run one at a time, each in its own
process (``run_isolated``), so a cancel can end a long training without leaving this
process in an unknown state. A job whose module does not exist yet is simply not
registered (``discover_jobs`` skips missing providers, and that is logged).

SIGTERM or SIGINT stops it cleanly: the running sync stops between pages (what is
committed stays), a running job is cancelled (and terminated after a grace period),
the database is released, exit 0.
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("tutormax.worker")

STATE_FILE = "worker-schedule.json"
EXIT_AUTH = 3  # as the CLI's: the API refused the token


class AuthRefused(RuntimeError):
    """The API answered 401: the worker cannot go on with this token."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class WorkerOptions:
    database_url: str | None = None
    api_url: str | None = None
    models_dir: Path | None = None
    tick_seconds: float = 60.0
    # Stop after this many ticks (tests, cron-style single runs); None: until signalled.
    max_ticks: int | None = None


@dataclass
class Worker:
    ctx: Any  # tutormax_desktop.context.AppContext
    options: WorkerOptions = field(default_factory=WorkerOptions)
    clock: Callable[[], datetime] = _now
    stop_event: threading.Event = field(default_factory=threading.Event)
    _cancel: threading.Event = field(default_factory=threading.Event)

    # ------------------------------------------------------------------ control

    def stop(self, reason: str = "asked to stop") -> None:
        """From a signal handler: finish nothing new, cancel what runs."""
        if not self.stop_event.is_set():
            log.info("stopping (%s): cancelling the running step", reason)
        self.stop_event.set()
        self._cancel.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: self.stop(signal.Signals(signum).name))

    # ------------------------------------------------------------------ loop

    def run(self) -> int:
        from services.jobs import JOB_PROVIDERS, discover_jobs
        from services.models_admin import missing_models
        from services.scheduler import Scheduler, parse_hhmm, user_zone

        settings = self.ctx.settings
        engine = self.ctx.engine(self.options.database_url)  # migrated (the app's lock)
        models_dir = self.options.models_dir or self.ctx.models_dir
        models_dir.mkdir(parents=True, exist_ok=True)
        data_dir = models_dir.parent
        url = engine.url.render_as_string(hide_password=True)
        log.info("worker started: database %s, models %s", url, models_dir)
        # Discovered in this process: a headless worker has no GUI thread to protect,
        # and each job still runs in a process of its own.
        registry, problems = discover_jobs()
        for problem in problems:
            log.warning("job provider skipped: %s", problem)
        for provider in JOB_PROVIDERS:
            if importlib.util.find_spec(provider) is None:
                log.info("no %s in this build: its jobs are skipped", provider)
        log.info("jobs: %s", ", ".join(registry.names()) or "none")
        scheduler = Scheduler(
            registry,
            data_dir / STATE_FILE,
            nightly_at=parse_hhmm(settings.schedule.nightly_at),
            tz=user_zone(settings.notifications.timezone),
        )
        ticks = 0
        code = 0
        try:
            client = None
            while not self.stop_event.is_set():
                if client is None:
                    client = self._client()
                try:
                    changed = self._sync_due(engine, client)
                except AuthRefused as exc:
                    # A refused token does not fix itself: say so and stop.
                    log.error("%s", exc)
                    code = EXIT_AUTH
                    break
                if changed is not None:
                    scheduler.record_sync(changed=changed, at=self.clock())
                scheduler.models_missing = bool(missing_models(models_dir))
                self._run_due_jobs(scheduler, engine, models_dir, data_dir, missing_models)
                ticks += 1
                if self.options.max_ticks is not None and ticks >= self.options.max_ticks:
                    break
                self.stop_event.wait(self.options.tick_seconds)
        finally:
            if client is not None:
                client.close()
            self.ctx.close()  # releases the database (and an in-process sandbox)
            log.info("worker stopped after %d ticks", ticks)
        return code

    def _client(self) -> Any:
        client = self.ctx.api_client(self.options.api_url)
        client.cancel = self._cancel  # a stop interrupts retries and waits
        return client

    def _sync_due(self, engine: Any, client: Any) -> bool | None:
        """Drain the outbox, then pull the resources whose cadence is due.

        Returns whether data changed (None: nothing was due or the sync failed).
        """
        from services.api import errors
        from services.sync.engine import SyncEngine
        from services.sync.outbox import drain_outbox

        sync_settings = self.ctx.settings.sync
        sync = SyncEngine(
            engine,
            client,
            page_limit=sync_settings.page_limit,
            concurrency=sync_settings.concurrency,
            cancel=self._cancel,
            cadence_minutes=sync_settings.cadence_minutes,
        )
        try:
            outbox = drain_outbox(engine, client)
            if outbox.sent or outbox.failed or outbox.conflicts:
                log.info("outbox: %s", outbox.as_dict())
        except errors.ApiError as exc:
            log.warning("outbox not drained: %s", exc)
        due = sync.due_resources()
        if not due or self.stop_event.is_set():
            return None
        log.info("sync: %s", ", ".join(due))
        report = sync.sync(due, trigger="worker")
        changed = any(r.upserted or r.deleted for r in report.results.values())
        log.info(
            "sync %s: %d records in %.1fs%s",
            report.status,
            report.total_fetched,
            report.seconds,
            "" if changed else " (no changes)",
        )
        for r in report.results.values():
            if r.error:
                log.warning("sync %s: %s", r.resource, r.error)
        if report.status == "auth_failed":
            raise AuthRefused(f"the API at {client.base_url} refused the token")
        # A cancelled or failed sync may still have committed pages: they count.
        return changed

    def _run_due_jobs(
        self, scheduler: Any, engine: Any, models_dir: Path, data_dir: Path, missing_models: Any
    ) -> None:
        from services.jobs import JobCancelled, JobEnvironment, run_isolated, summarize_result

        # One job at a time, re-asking after each: a first training makes scoring due.
        # A job that ran is not due again this tick (its attempt is recorded), so the
        # bound is only a guard.
        for _ in range(len(scheduler.registry) * 2):
            if self.stop_event.is_set():
                return
            due = scheduler.due_jobs(self.clock())
            if not due:
                return
            job = due[0]
            spec = scheduler.registry.get(job.name)
            run = scheduler.record_start(job.name, job.trigger, self.clock())
            log.info("job %s started (%s)", job.name, job.reason)
            started = time.perf_counter()
            env = JobEnvironment(
                database_url=engine.url.render_as_string(hide_password=False),
                data_dir=str(data_dir),
                models_dir=str(models_dir),
                trigger=job.trigger,
            )
            try:
                result = run_isolated(
                    spec,
                    env,
                    cancel_event=self._cancel,
                    on_progress=lambda v, n=job.name: log.debug("%s: %s", n, v),
                )
                status, summary = "ok", summarize_result(result)
            except JobCancelled as exc:
                status, summary = "cancelled", str(exc)
            except Exception as exc:
                status, summary = "failed", f"{type(exc).__name__}: {exc}"
            scheduler.record_finish(run, status=status, summary=summary, at=self.clock())
            log.info(
                "job %s %s in %.1fs: %s", job.name, status, time.perf_counter() - started, summary
            )
            if spec.trains_models:
                scheduler.models_missing = bool(missing_models(models_dir))


def setup_worker_logging(log_file: Path | None, verbose: bool = False) -> None:
    """Logs to stdout, one line each (a service manager, systemd or Docker, collects
    them), and to the usual rotating file; tokens scrubbed as everywhere."""
    from tutormax_desktop.logging_setup import RedactSecrets, setup_logging

    setup_logging(log_file, verbose=verbose, console=False)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    logging.getLogger().addHandler(handler)
    # Alembic names each plugin it loads at INFO; the migrations it runs stay visible.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
