"""The root view model: composes the others, owns the task runner, the current page.

Start-up order keeps the first paint fast: the window shows at once; the database is
opened (and migrated) as the first task; when it is ready, every page loads from the
local database and the scheduler starts (its first tick syncs what is due and catches
up missed jobs).

After a sync lands, only what it can have changed is reloaded: the dashboard and the
interventions when data changed, the System page always.

Each data source (the built-in sandbox, a company API) has its own database, models and
schedule (``backend.source_key``): when Settings switch the source, the schedule state
follows, every page reloads from the other database, and that source is synced.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from services.jobs import JobRegistry
from services.notifications import (
    NOTICE,
    NotificationEvent,
    PolicySettings,
    critical_alert_event,
    sla_breach_event,
)
from services.scheduler import Scheduler, parse_hhmm
from services.settings import Settings
from viewmodels.alerts import AlertsViewModel
from viewmodels.analytics import AnalyticsViewModel
from viewmodels.customers import build_customer_view_models
from viewmodels.dashboard import DashboardViewModel, without_subject
from viewmodels.forecast import ForecastViewModel
from viewmodels.interventions import InterventionsViewModel
from viewmodels.notifications import NotificationCenter
from viewmodels.recommendations import RecommendationsViewModel
from viewmodels.scheduler import SchedulerViewModel
from viewmodels.settings import SettingsViewModel
from viewmodels.sync_status import SyncViewModel
from viewmodels.system import SystemViewModel
from viewmodels.tasks import TaskRunner
from viewmodels.tutors import build_tutor_view_models

log = logging.getLogger(__name__)

PAGES = (
    "dashboard",
    "alerts",
    "interventions",
    "tutors",
    "customers",
    "forecast",
    "recommendations",
    "system",
)
PAGE_TITLES = {
    "dashboard": "Dashboard",
    "alerts": "Alerts",
    "interventions": "Interventions",
    "tutors": "Tutors",
    "customers": "Customers",
    "forecast": "Forecast",
    "recommendations": "Recommendations",
    "system": "System",
}
# At most this many notifications from one scoring run or one interventions load; the
# rest are on the page itself.
NOTIFY_CAP = 20
# An SLA that passed longer ago than this is old news, not a breach to announce.
SLA_FRESH = timedelta(hours=24)


class ShellViewModel(QObject):
    sig_page_changed = Signal(int)
    sig_ready_changed = Signal(bool)
    """True once the database is open and the pages load."""
    sig_startup_failed = Signal(str)
    sig_message = Signal(str)
    """One line for the status bar."""
    sig_error = Signal(str, str)
    """(title, message) for a dialog."""
    sig_settings_changed = Signal(object)
    sig_source_changed = Signal(str, bool)
    """(source label, is the sandbox) after Settings switched the data source."""

    def __init__(
        self,
        backend: Any,
        parent: QObject | None = None,
        *,
        scheduler_interval_ms: int = 60_000,
        age_interval_ms: int = 30_000,
        summary_interval_ms: int = 60_000,
    ) -> None:
        super().__init__(parent)
        self.backend = backend
        self.runner = TaskRunner(self)
        self.sync = SyncViewModel(
            self.runner,
            backend.resources,
            backend.run_sync,
            backend.read_status,
            self,
            age_interval_ms=age_interval_ms,
        )
        self.dashboard = DashboardViewModel(
            self.runner, backend.dashboard, backend.create_intervention, self
        )
        self.system = SystemViewModel(
            self.runner,
            backend.system_snapshot,
            backend.rejects,
            self,
            rollback=backend.rollback_model,
            release=backend.release_model_pin,
        )
        self.interventions = InterventionsViewModel(
            self.runner, backend.interventions, self, service=backend.intervention_service()
        )
        # The Dashboard's Analytics tab; its effectiveness chart is the Interventions
        # page's measurement (one run serves both).
        self.analytics = AnalyticsViewModel(
            self.runner, getattr(backend, "analytics", None), self.interventions.effects, self
        )
        self.dashboard.attach_analytics(self.analytics)
        from services.alerts import current_user

        self.alerts = AlertsViewModel(
            self.runner,
            backend.engine,
            user=current_user(),
            settings=lambda: backend.settings,
            parent=self,
        )
        self.tutors, self.tutor_profile = build_tutor_view_models(self.runner, backend, self)
        self.customers, self.customer_detail = build_customer_view_models(
            self.runner, backend, self
        )
        self.forecast = ForecastViewModel(self.runner, backend.engine, self)
        self.recommendations = RecommendationsViewModel(
            self.runner, backend.engine, user=current_user(), parent=self
        )
        settings: Settings = backend.settings
        self.notifications = NotificationCenter(
            Path(backend.data_dir) / "inbox.json",
            _policy_settings(settings),
            self,
            summary_interval_ms=summary_interval_ms,
        )
        self._source_key = backend.source_key
        self._database = backend.database_label
        scheduler = Scheduler(
            JobRegistry(),
            Path(backend.source_dir) / "schedule.json",
            nightly_at=parse_hhmm(settings.schedule.nightly_at),
            tz=backend.timezone(),
            enabled=settings.schedule.enabled,
        )
        self.scheduler = SchedulerViewModel(
            self.runner,
            self.sync,
            scheduler,
            due_resources=backend.due_resources,
            job_context=backend.job_context,
            job_environment=backend.job_environment,
            models_missing=backend.models_missing,
            interval_ms=scheduler_interval_ms,
            parent=self,
        )
        self.settings = SettingsViewModel(
            self.runner,
            lambda: backend.settings,
            backend.test_connection,
            backend.apply_settings,
            self,
        )
        self._page = 0
        self._ready = False
        self._sync_at_start = True
        self._notified_run: int | None = None
        self._closed = False
        self._stale: dict[str, bool] = {}
        self._jobs_found = False

        self.sync.sig_sync_landed.connect(self._on_sync_landed)
        self.sync.sig_message.connect(self.sig_message)
        self.dashboard.sig_message.connect(self.sig_message)
        self.dashboard.sig_error.connect(lambda m: self.sig_error.emit("Dashboard", m))
        self.dashboard.sig_loaded.connect(self._notify_critical)
        self.dashboard.sig_intervention_created.connect(lambda *_: self.interventions.load())
        self.tutors.sig_intervention_created.connect(lambda *_: self.interventions.load())
        self.tutors.sig_message.connect(self.sig_message)
        self.tutors.sig_error.connect(lambda m: self.sig_error.emit("Tutors", m))
        self.tutor_profile.sig_intervention_created.connect(lambda *_: self.interventions.load())
        self.tutor_profile.sig_message.connect(self.sig_message)
        self.tutor_profile.sig_error.connect(lambda m: self.sig_error.emit("Tutor profile", m))
        self.customers.sig_message.connect(self.sig_message)
        self.customers.sig_error.connect(lambda m: self.sig_error.emit("Customers", m))
        self.interventions.sig_overdue.connect(self._notify_sla_breaches)
        # An alert action changes what the dashboard's Critical panel shows.
        self.alerts.sig_changed.connect(lambda: self._reload("dashboard"))
        self.alerts.sig_message.connect(self.sig_message)
        self.alerts.sig_intervention_created.connect(lambda *_: self.interventions.load())
        self.scheduler.sig_message.connect(self.sig_message)
        self.scheduler.sig_job_finished.connect(self._on_job_finished)
        self.scheduler.sig_idle_tick.connect(self.discover_jobs)
        self.settings.sig_saved.connect(self._on_settings_saved)
        self.system.sig_message.connect(self.sig_message)
        self.system.sig_models_changed.connect(self._rescore)
        self.system.sig_error.connect(lambda m: self.sig_error.emit("Models", m))

    # ------------------------------------------------------------------ properties

    @property
    def page(self) -> int:
        return self._page

    @property
    def page_name(self) -> str:
        return PAGES[self._page]

    @Slot(int)
    def set_page(self, index: int) -> None:
        index = max(0, min(index, len(PAGES) - 1))
        if index != self._page:
            self._page = index
            self.sig_page_changed.emit(index)
            self._load_page(PAGES[index])

    def set_page_name(self, name: str) -> None:
        if name in PAGES:
            self.set_page(PAGES.index(name))

    @property
    def ready(self) -> bool:
        return self._ready

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, sync_at_start: bool = True) -> None:
        """Open the database off the GUI thread; everything else follows when it is."""
        self._sync_at_start = sync_at_start
        self.runner.submit(
            "open-database",
            lambda _state: self.backend.open(),
            title="Open the local database",
            trigger="start",
            summarize=lambda _r: f"ready ({self.backend.database_label})",
            on_success=self._on_ready,
            on_failure=lambda exc, _t: self.sig_startup_failed.emit(
                f"The local database could not be opened: {exc}"
            ),
        )

    def _on_ready(self, _result: Any) -> None:
        self._ready = True
        self.sig_ready_changed.emit(True)
        self.sync.start()
        self.notifications.start()
        self.dashboard.load()
        self._load_interventions()
        self.system.load()
        # The scheduled jobs (scoring, training) are found in another process. They
        # only run after a sync, so with a sync starting now they are looked for when
        # it lands, not at the same moment (two processes starting at once on a small
        # machine slow the GUI down).
        if self._sync_at_start and self.scheduler.scheduler.enabled:
            self.scheduler.start()
        else:
            self.discover_jobs()
            if self._sync_at_start:
                self.sync.sync_now()

    def discover_jobs(self) -> None:
        if self._jobs_found or self.runner.is_running("discover-jobs"):
            return
        self.runner.submit(
            "discover-jobs",
            lambda _state: self.backend.discover_jobs(),
            title="Find background jobs",
            trigger="start",
            summarize=lambda r: (
                f"{len(r[0])} jobs: {', '.join(j.title for j in r[0])}" if len(r[0]) else "none"
            ),
            on_success=self._on_jobs_found,
            on_failure=lambda exc, _t: self.sig_message.emit(
                f"Background jobs could not be loaded: {exc}"
            ),
        )

    def _on_jobs_found(self, result: tuple[JobRegistry, list[str]]) -> None:
        registry, problems = result
        self._jobs_found = True
        self.scheduler.set_registry(registry)
        for problem in problems:
            self.sig_message.emit(f"A background job could not be loaded: {problem}")
        if self.scheduler.running:
            self.scheduler.run_due_jobs()

    def refresh_all(self) -> None:
        if not self._ready:
            return
        self.dashboard.load()
        self._load_interventions()
        self.system.load()
        self.sync.refresh()

    def _load_page(self, name: str) -> None:
        """A page that became visible reloads if the data changed while it was hidden."""
        if not self._ready:
            return
        if name == "system" and self._stale.pop("system", True):
            self.system.load()
        elif name == "interventions":
            self.interventions.load()
        elif name == "alerts" and (self._stale.pop("alerts", False) or not self.alerts.loaded):
            self.alerts.load()
        elif name == "dashboard" and self._stale.pop("dashboard", False):
            self.dashboard.load()
        elif name == "tutors":
            self.tutors.load()
        elif name == "customers":
            self.customers.load()
        elif name == "forecast" and (
            self._stale.pop("forecast", False) or not self.forecast.has_forecast
        ):
            self.forecast.load()
        elif name == "recommendations" and (
            self._stale.pop("recommendations", False) or not self.recommendations.loaded
        ):
            self.recommendations.load()

    def _load_interventions(self) -> None:
        """The Interventions page's table when it is shown; otherwise only the SLA check
        (on a worker), which the notifications need: filling a table of thousands of
        interventions on the GUI thread while nobody looks at it would stall it."""
        if PAGES[self._page] == "interventions":
            self.interventions.load()
            return
        from viewmodels.interventions import prepare_rows

        interventions = self.backend.interventions

        def overdue(_state: Any) -> list[Any]:
            prepared = prepare_rows(interventions(), datetime.now(UTC))
            return [p.row for p in prepared if p.sla == "overdue"]

        self.runner.submit(
            "sla-check",
            overdue,
            on_success=self._notify_sla_breaches,
            on_failure=lambda exc, _t: log.warning("SLA check failed: %s", exc),
            record=False,
            coalesce=True,
        )

    def _reload(self, name: str) -> None:
        """Reload now if that page is shown, else when it is next shown: refreshing
        only what is on screen keeps the GUI thread free after every sync."""
        if PAGES[self._page] == name:
            {
                "dashboard": self.dashboard.load,
                "system": self.system.load,
                "alerts": self.alerts.load,
                "forecast": self.forecast.load,
                "recommendations": self.recommendations.load,
            }[name]()
        else:
            self._stale[name] = True

    def shutdown(self, msecs: int = 15_000) -> bool:
        """Stop timers, cancel and wait for every task, save the inbox."""
        if self._closed:
            return True
        self._closed = True
        self.scheduler.stop()
        self.sync.stop()
        self.notifications.stop()
        return self.runner.shutdown(msecs)

    # ------------------------------------------------------------------ reactions

    def _on_sync_landed(self, _report: Any, changed: bool) -> None:
        self.discover_jobs()
        if changed:
            self._reload("dashboard")
        # Always: overdue interventions raise SLA-breach notifications.
        self._load_interventions()
        self._reload("system")

    def _rescore(self) -> None:
        """After a roll-back or a release: score again with the version now in use."""
        if "score" in self.scheduler.registry:
            self.scheduler.run_now("score")

    def _on_job_finished(self, _name: str, _status: str) -> None:
        # A scoring or training run writes predictions: what the dashboard shows.
        self._reload("dashboard")
        self._reload("alerts")  # scoring evaluates the alert rules
        if PAGES[self._page] == "tutors":  # new scores: the visible list and profile
            self.tutors.load()
            self.tutor_profile.reload()
        if PAGES[self._page] == "customers":  # new health scores and alerts
            self.customers.load()
            self.customer_detail.reload()
        self._reload("system")
        if _name == "forecast":  # a new forecast run (and its shortage slots)
            self._reload("forecast")
            self._reload("recommendations")  # the job makes them from the new run

    def _on_settings_saved(self, settings: Settings) -> None:
        self.notifications.set_settings(_policy_settings(settings))
        sched = self.scheduler.scheduler
        sched.nightly_at = parse_hhmm(settings.schedule.nightly_at)
        sched.tz = self.backend.timezone()
        sched.enabled = settings.schedule.enabled
        self.sig_settings_changed.emit(settings)
        # Another database (a team's shared one, or back to this computer's) is
        # switched to like another source: every page reloads from it.
        database = self.backend.database_label
        if self.backend.source_key != self._source_key or database != self._database:
            self._switch_source()
        else:
            self.sig_message.emit("Settings saved")

    def _switch_source(self) -> None:
        """Another data source: its own schedule, database and models from now on."""
        self._source_key = self.backend.source_key
        self._database = self.backend.database_label
        sched = self.scheduler.scheduler
        sched.use_state_file(Path(self.backend.source_dir) / "schedule.json")
        self.scheduler.recheck_models()  # this source's models
        self._notified_run = None
        self._stale = {"dashboard": True, "system": True}
        self.sig_source_changed.emit(self.backend.source_label, bool(self.backend.sandbox))
        self.sig_message.emit(f"Data source: {self.backend.source_label}")
        if self._ready:
            self.refresh_all()
            self.sync.sync_now()

    # ------------------------------------------------------------------ notifications

    def notify(self, event: NotificationEvent) -> Any:
        return self.notifications.post(event)

    def notice(self, key: str, title: str, body: str, target: str = "inbox") -> Any:
        return self.notify(NotificationEvent(key, NOTICE, "info", title, body, target))

    def _notify_critical(self, dash: Any) -> None:
        """New Critical tutors of a scoring run. (Issue 5's alert engine will post its
        own Critical alerts through the same policy; this keeps the tray useful now.)"""
        run = dash.scoring_run
        if run is None or run.get("id") == self._notified_run:
            return
        self._notified_run = run.get("id")
        # Rows from the alert engine carry their alert's identity: the policy then
        # de-duplicates on it, and an acknowledged alert does not ping again.
        critical = [
            c
            for c in dash.critical
            if c.risk_tier == "Critical" and getattr(c, "alert_state", None) != "acknowledged"
        ]
        events = []
        for c in critical[:NOTIFY_CAP]:
            reason = without_subject(c.reason, c.name)
            # The alert's own reason says the risk when it is about the risk ("81 %
            # chance of leaving..."); other rules ("no sessions for 27 days") get it added.
            risk = (
                ""
                if c.p_churn_30d is None or "%" in reason
                else f"{c.p_churn_30d * 100:.0f} % churn risk in 30 days"
            )
            events.append(
                critical_alert_event(
                    alert_key=c.alert_key or f"churn_critical:tutor:{c.tutor_id}",
                    subject=c.name,
                    reason="; ".join(x for x in (risk, reason) if x),
                    target=(
                        f"alerts/{c.alert_id}"
                        if c.alert_id is not None
                        else f"dashboard/tutor/{c.tutor_id}"
                    ),
                )
            )
        # One batch: the riskiest gets the desktop pop and the top of the inbox.
        decisions = self.notifications.post_batch(events)
        new = sum(getattr(d, "reason", "") != "duplicate" for d in decisions)
        # "N more" only with news: a re-scoring with the same Critical tutors is quiet.
        if len(critical) > NOTIFY_CAP and new:
            self.notice(
                f"critical-overflow:{run.get('id')}",
                f"{len(critical) - NOTIFY_CAP} more Critical tutors",
                "See the Critical tutors panel on the Dashboard.",
                "dashboard",
            )

    def _notify_sla_breaches(self, rows: list[Any]) -> None:
        now = datetime.now(UTC)
        fresh = [r for r in rows if r.due_at is not None and now - r.due_at <= SLA_FRESH]
        for r in fresh[:NOTIFY_CAP]:
            self.notify(
                sla_breach_event(
                    intervention_key=str(r.local_id),
                    subject=f"{r.intervention_type.replace('_', ' ')} for {r.tutor_name}",
                    due_at=r.due_at,
                    target=f"interventions/{r.local_id}",
                )
            )


def _policy_settings(settings: Settings) -> PolicySettings:
    try:
        return PolicySettings.from_settings(settings.notifications)
    except ValueError as exc:
        log.warning("notification settings unusable (%s); using defaults", exc)
        return PolicySettings()
