"""Runs DOMAIN.md's schedules while the app is open.

A timer ticks (every minute by default, and once at start so missed runs catch up).
Each tick:

1. asks, on the task runner, which resources are due (``SyncEngine.due_resources``)
   and starts a sync of those, unless one is running;
2. asks ``services.scheduler.Scheduler`` which registered jobs are due (after a sync
   that changed data, nightly at 02:00 local, daily) and starts each on the runner.

Jobs come from ``services.jobs`` (the registry is filled off the GUI thread at start by
``discover_jobs``), so scoring and training plug in without touching this module.

``models_missing`` (a look at the model registry, done on the task runner with each
check and after each job) tells the scheduler whether any trained model exists: on a
first run the retraining job then runs right after the first sync, and scoring after
it, instead of scoring failing for want of a model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from services.jobs import MANUAL, JobRegistry, run_isolated, summarize_result
from services.scheduler import JobRun, Scheduler
from viewmodels.sync_status import SyncViewModel
from viewmodels.tasks import TaskRecord, TaskRunner, TaskState

log = logging.getLogger(__name__)

CHECK_TASK = "schedule-check"


class SchedulerViewModel(QObject):
    sig_jobs_changed = Signal()
    """The registry was (re)loaded: the System page lists the jobs."""
    sig_job_finished = Signal(str, str)
    """(job name, status) after a job ran."""
    sig_message = Signal(str)
    sig_idle_tick = Signal()
    """A tick found no sync due (the shell then makes sure the jobs are known)."""

    def __init__(
        self,
        runner: TaskRunner,
        sync: SyncViewModel,
        scheduler: Scheduler,
        *,
        due_resources: Callable[[], list[str]],
        job_context: Callable[[TaskState, str], Any],
        job_environment: Callable[[str], Any] | None = None,
        models_missing: Callable[[], bool] | None = None,
        interval_ms: int = 60_000,
        clock: Callable[[], datetime] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.sync = sync
        self.scheduler = scheduler
        self._due_resources = due_resources
        self._job_context = job_context
        self._job_environment = job_environment
        self._models_missing = models_missing
        self._clock = clock or (lambda: datetime.now(UTC))
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)
        self._runs: dict[str, JobRun] = {}
        self._models_after: dict[str, bool | None] = {}
        self._history_loaded = False
        sync.sig_sync_landed.connect(self._on_sync_landed)

    @property
    def registry(self) -> JobRegistry:
        return self.scheduler.registry

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        """Start ticking; the first tick (catch-up) runs at once."""
        if not self._history_loaded:
            self._history_loaded = True
            self.runner.history.add_past(
                [
                    TaskRecord(
                        id=-(i + 1),
                        name=r.name,
                        title=self._title(r.name),
                        trigger=r.trigger,
                        started_at=r.started_at,
                        status=r.status if r.status != "running" else "interrupted",
                        seconds=r.seconds,
                        summary=r.summary,
                    )
                    for i, r in enumerate(reversed(self.scheduler.history()))
                ]
            )
        if self.scheduler.enabled:
            self._timer.start()
            QTimer.singleShot(0, self, self.tick)

    def stop(self) -> None:
        self._timer.stop()

    def set_registry(self, registry: JobRegistry) -> None:
        self.scheduler.registry = registry
        self.sig_jobs_changed.emit()

    def _title(self, name: str) -> str:
        return self.registry.get(name).title if name in self.registry else name

    # ------------------------------------------------------------------ ticking

    @Slot()
    def tick(self) -> None:
        """Sync what is due first; jobs run when no sync is (they read what it writes)."""
        if self.runner.is_running("sync"):
            return
        self.runner.submit(
            CHECK_TASK,
            lambda _s: (self._due_resources(), self._probe_models()),
            on_success=self._on_checked,
            on_failure=lambda exc, _t: log.warning("schedule check failed: %s", exc),
            record=False,
        )

    def _probe_models(self) -> bool | None:
        """On a worker: does the registry lack a trained model? None: not known."""
        if self._models_missing is None:
            return None
        try:
            return bool(self._models_missing())
        except Exception as exc:  # a broken models folder must not stop the schedule
            log.warning("could not look at the model registry: %s", exc)
            return None

    def recheck_models(self) -> None:
        """Look at the model registry again (another data source: other models). Until
        the answer lands, jobs that need models wait."""
        if self._models_missing is None:
            return
        self.scheduler.models_missing = True
        self.runner.submit(
            "models-check",
            lambda _s: self._probe_models(),
            on_success=self._set_models_missing,
            record=False,
            coalesce=True,
        )

    def _set_models_missing(self, missing: bool | None) -> None:
        if missing is not None:
            self.scheduler.models_missing = missing

    def _on_checked(self, result: tuple[list[str], bool | None]) -> None:
        resources, missing = result
        self._set_models_missing(missing)
        self._start_due_sync(resources)

    def _start_due_sync(self, resources: list[str]) -> None:
        if resources and self.sync.sync(resources, trigger="schedule"):
            log.info("scheduled sync of %s", ", ".join(resources))
            return  # the jobs follow when it lands
        self.sig_idle_tick.emit()
        self.run_due_jobs()

    def _on_sync_landed(self, _report: Any, changed: bool) -> None:
        self.scheduler.record_sync(changed=changed, at=self._clock())
        self.run_due_jobs()

    def run_due_jobs(self) -> list[str]:
        """Start the first due job, if no sync and no other job runs: jobs are heavy
        (scoring, training) and run one after the other; the next one starts when
        this one finishes."""
        running = self.runner.running_names()
        if "sync" in running or running & set(self.registry.names()):
            return []
        for due in self.scheduler.due_jobs(self._clock(), running):
            if self._start_job(due.name, due.trigger, due.reason):
                return [due.name]
        return []

    # ------------------------------------------------------------------ jobs

    @Slot(str)
    def run_now(self, name: str) -> bool:
        """A manual run ("Retrain now") of a registered job."""
        if name not in self.registry:
            self.sig_message.emit(f"No job named {name!r} is available yet")
            return False
        return self._start_job(name, MANUAL, "started by you")

    def _start_job(self, name: str, trigger: str, reason: str) -> bool:
        spec = self.registry.get(name)
        context = self._job_context
        environment = self._job_environment

        def work(state: TaskState) -> Any:
            try:
                if spec.isolated and environment is not None:
                    # Its own process: a CPU-bound job never holds this process's GIL.
                    return run_isolated(
                        spec,
                        environment(trigger),
                        cancel_event=state.cancel_event,
                        on_progress=state.progress,
                    )
                return spec.fn(context(state, trigger))
            finally:
                if spec.trains_models:
                    # Read by _on_job_finished, on the GUI thread, after this returns.
                    self._models_after[name] = self._probe_models()

        rec = self.runner.submit(
            name,
            work,
            title=spec.title,
            trigger=trigger,
            summarize=summarize_result,
            on_finished=self._on_job_finished,
        )
        if rec is None:
            return False
        self._runs[name] = self.scheduler.record_start(name, trigger, self._clock())
        log.info("job %s started (%s)", name, reason)
        self.sig_message.emit(f"{spec.title}: {reason}")
        return True

    def _on_job_finished(self, rec: TaskRecord) -> None:
        self._set_models_missing(self._models_after.pop(rec.name, None))
        run = self._runs.pop(rec.name, None)
        if run is not None:
            self.scheduler.record_finish(
                run, status=rec.status, summary=rec.summary, at=self._clock()
            )
        self.sig_job_finished.emit(rec.name, rec.status)
        if self._timer.isActive():
            QTimer.singleShot(0, self, self.run_due_jobs)
