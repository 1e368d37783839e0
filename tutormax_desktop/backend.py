"""What the desktop's view models may ask of the application, in one Qt-free object.

View models never import ``tutormax_desktop`` (tests/test_layers.py); they get this
object from the composition root and call its methods from the task runner's workers.
Every method here may be slow (HTTP, SQL, the keychain) and must never be called on
the GUI thread; properties are cheap.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.api import errors
from services.api.contract import SYNC_ORDER
from services.settings import Settings, save_settings
from tutormax_desktop.context import AppContext

log = logging.getLogger(__name__)

ACTOR = "desktop"


class OfflineError(RuntimeError):
    """The API could not be reached; the app keeps working from the local database."""


@dataclass(frozen=True)
class SyncRequest:
    """Everything a sync process needs (picklable; the token travels by pipe only)."""

    database_url: str
    base_url: str
    token: str = field(repr=False)
    verify: bool | str
    timeout: float
    max_attempts: int
    page_limit: int
    concurrency: int
    cadence_minutes: dict[str, int]
    resources: list[str] | None
    trigger: str


def sync_process(request: SyncRequest, progress: Any, cancel: Any) -> Any:
    """One sync, in whatever process calls it: outbox first, then the pull."""
    from services.api.client import RailsApiClient, RetryPolicy
    from services.db.engine import make_engine
    from services.sync.engine import SyncEngine
    from services.sync.outbox import drain_outbox

    engine = make_engine(request.database_url)
    client = RailsApiClient(
        request.base_url,
        request.token,
        timeout=request.timeout,
        verify=request.verify,
        retry=RetryPolicy(max_attempts=request.max_attempts),
        cancel=cancel,
    )
    try:
        Backend._check_reachable(client)
        sync = SyncEngine(
            engine,
            client,
            page_limit=request.page_limit,
            concurrency=request.concurrency,
            cancel=cancel,
            on_progress=progress,
            cadence_minutes=request.cadence_minutes,
        )
        try:
            drain_outbox(engine, client)
        except errors.AuthError:
            raise
        except Exception as exc:  # the pull still runs; the outbox waits its turn
            log.warning("outbox drain failed: %s", exc)
        return sync.sync(request.resources, trigger=request.trigger)
    finally:
        client.close()
        engine.dispose()


class _Lines:
    """A child's output lines, read on a thread of their own so that whoever waits for
    them can give up (a cancel) while the child says nothing (building its world).
    After :meth:`detach` the rest is read and dropped: the pipe never fills."""

    def __init__(self, stream: Any) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._keep = True
        threading.Thread(target=self._pump, args=(stream,), name="sandbox-output",
                         daemon=True).start()  # fmt: skip

    def _pump(self, stream: Any) -> None:
        for line in stream:
            if self._keep:
                self._queue.put(line)
        self._queue.put(None)

    def get(self, timeout: float) -> str | None:
        """The next line; "" if none came within ``timeout``; None once it ended."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return ""

    def detach(self) -> None:
        self._keep = False


def warm_up() -> None:
    """Import the modules the app's worker threads use, and start multiprocessing's
    resource tracker, while nothing else is going on."""
    import importlib
    import multiprocessing.queues  # noqa: F401 (the sync and job processes)
    from multiprocessing import resource_tracker

    for name in (
        "services.credentials",
        "services.metrics",
        "services.sync.engine",
        "services.sync.outbox",
        "services.sync.status",
        "services.interventions",
    ):
        importlib.import_module(name)
    resource_tracker.ensure_running()


class Backend:
    def __init__(self, ctx: AppContext, *, isolate_sync: bool = True) -> None:
        self.ctx = ctx
        self.isolate_sync = isolate_sync
        self._sandbox_lock = threading.Lock()
        self._sandbox_proc: Any = None
        self._sandbox_url: str | None = None
        self._sandbox_token = ""
        self._sandbox_key = ""
        self._open_lock = threading.Lock()

    # ------------------------------------------------------------------ cheap facts

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def sandbox(self) -> bool:
        return self.ctx.settings.uses_sandbox

    @property
    def app_version(self) -> str:
        from tutormax_desktop import __version__

        return __version__

    @property
    def source_label(self) -> str:
        if self.sandbox:
            return "built-in sandbox marketplace"
        return str(self.ctx.settings.api_url)

    @property
    def resources(self) -> list[str]:
        return list(SYNC_ORDER)

    @property
    def data_dir(self) -> Path:
        return self.ctx.paths.data_dir

    @property
    def models_dir(self) -> Path:
        """This data source's model registry (models learn one marketplace)."""
        return self.ctx.models_dir

    @property
    def source_dir(self) -> Path:
        """This data source's folder: its database, models and schedule."""
        return self.ctx.source_dir

    @property
    def source_key(self) -> str:
        return self.ctx.source_key

    @property
    def log_file(self) -> Path:
        return self.ctx.paths.log_file

    @property
    def config_dir(self) -> Path:
        return self.ctx.paths.config_dir

    @property
    def database_label(self) -> str:
        # urllib rather than SQLAlchemy's make_url: the shell reads this before the first
        # paint, and importing SQLAlchemy then costs about a second.
        from urllib.parse import urlsplit, urlunsplit

        url = self.ctx.database_url
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))

    def timezone(self) -> Any:
        from services.scheduler import user_zone

        return user_zone(self.ctx.settings.notifications.timezone)

    # ------------------------------------------------------------------ database

    def open(self) -> None:
        """Open and migrate the database (the first task after the window shows), and
        import now what later tasks need: an import holds the GIL for its whole run, so
        one on a worker thread mid-session is a stall of the GUI thread."""
        with self._open_lock:
            self.ctx.engine()
        warm_up()

    def engine(self) -> Any:
        with self._open_lock:
            return self.ctx.engine()

    # ------------------------------------------------------------------ sync

    def run_sync(
        self,
        state: Any,
        resources: list[str] | None = None,
        trigger: str = "gui",
    ) -> Any:
        """Health check, drain the outbox, pull ``resources`` (all by default).

        The sync itself runs in its own process (``isolate_sync``): its fetch threads
        validate pages and its writer builds rows in Python, and in this process they
        would take the GIL from the GUI thread for the whole sync.
        """
        from services.credentials import CredentialError, resolve_token
        from services.jobs import run_in_subprocess

        self.engine()  # opened and migrated here, once
        if self.sandbox:
            url, token = self._sandbox_server(state)
        else:
            url = str(self.settings.api_url)
            token = resolve_token(url)
        sync = self.settings.sync
        request = SyncRequest(
            database_url=self.ctx.database_url,
            base_url=url,
            token=token,
            verify=self.settings.ca_bundle or True,
            timeout=sync.timeout_seconds,
            max_attempts=sync.max_attempts,
            page_limit=sync.page_limit,
            concurrency=sync.concurrency,
            cadence_minutes=dict(sync.cadence_minutes),
            resources=list(resources) if resources is not None else None,
            trigger=trigger,
        )
        if not self.isolate_sync:
            return sync_process(request, state.progress, state.cancel_event)
        return run_in_subprocess(
            "tutormax_desktop.backend:sync_process",
            request,
            cancel_event=state.cancel_event,
            on_progress=state.progress,
            name="tutormax-sync",
            exceptions={
                "OfflineError": OfflineError,
                "AuthError": errors.AuthError,
                "UnavailableError": errors.UnavailableError,
                "CancelledError": errors.CancelledError,
                "CredentialError": CredentialError,
            },
        )

    def _sandbox_server(self, state: Any) -> tuple[str, str]:
        """The built-in sandbox, served by its own process (``tutormax sandbox serve``):
        building its world and rendering its pages in this process would hold the GIL
        the GUI thread needs. Same world and clock as the in-process sandbox (seed,
        scale and anchor from the settings, realtime clock); started once, stopped with
        the app. ``isolate_sync=False`` keeps the in-process one (tests)."""
        import secrets
        import subprocess

        from services.api.rails_time import to_datetime
        from tutormax_desktop.launcher import cli_command

        if not self.isolate_sync:
            sandbox = self.ctx.start_sandbox()
            return sandbox.base_url, sandbox.token
        with self._sandbox_lock:
            proc = self._sandbox_proc
            if proc is not None and self._sandbox_key != self.source_key:
                self.stop_sandbox()  # another scale or seed in Settings: another world
                proc = None
            if proc is not None and proc.poll() is None and self._sandbox_url:
                return self._sandbox_url, self._sandbox_token
            self._sandbox_key = self.source_key
            state.progress("Starting the sandbox marketplace…")
            sb = self.settings.sandbox
            anchor = to_datetime(self.ctx.sandbox_anchor_us())
            token = secrets.token_urlsafe(24)  # a throwaway for this run's local server
            # cli_command: `python -m tutormax_desktop.cli`, or in a PyInstaller bundle
            # its own executable with a hidden flag (a bundle has no `python -m`).
            proc = subprocess.Popen(
                cli_command(
                    "sandbox",
                    "serve",
                    "--scale",
                    sb.scale,
                    "--seed",
                    str(sb.seed),
                    "--anchor",
                    anchor.isoformat().replace("+00:00", "Z"),
                    "--token",
                    token,
                    "--app-pid",  # below our priority, and ends when we do
                    str(os.getpid()),
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            self._sandbox_proc = proc
            assert proc.stdout is not None
            lines = _Lines(proc.stdout)
            said: deque[str] = deque(maxlen=3)  # its last words, should it fail
            while not state.cancelled:
                line = lines.get(timeout=0.2)
                if line is None:
                    break
                if not line:
                    continue
                said.append(line.rstrip())
                m = re.search(r"serving at (http://\S+)", line)
                if m:
                    lines.detach()
                    self._sandbox_url, self._sandbox_token = m.group(1), token
                    return self._sandbox_url, token
            code = None
            if not state.cancelled:  # its output ended: it has exited or is about to
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = proc.wait(timeout=5)
            self.stop_sandbox()
            if state.cancelled:
                raise errors.CancelledError("cancelled while the sandbox was starting")
            # Its own words say why (a port, a broken install); without them the
            # error names no cause.
            raise OfflineError(
                "the built-in sandbox did not start"
                + (f" (exit code {code})" if code is not None else "")
                + (": " + " | ".join(said) if said else ": it printed nothing")
            )

    def stop_sandbox(self) -> None:
        proc, self._sandbox_proc = self._sandbox_proc, None
        self._sandbox_url = None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except Exception:
                proc.kill()

    @staticmethod
    def _check_reachable(client: Any) -> None:
        from services.api.client import RetryPolicy

        saved = client.retry
        client.retry = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=2.0)
        try:
            client.health()
        except errors.UnavailableError as exc:
            raise OfflineError(f"the API at {client.base_url} is unreachable: {exc}") from None
        finally:
            client.retry = saved

    def due_resources(self) -> list[str]:
        """Resources whose cadence has passed (reads sync_state only; no HTTP)."""
        from types import SimpleNamespace

        from services.sync.engine import SyncEngine

        offline = SimpleNamespace(cancel=threading.Event())  # never used to fetch
        sync = SyncEngine(
            self.engine(),
            offline,  # type: ignore[arg-type]
            cadence_minutes=self.settings.sync.cadence_minutes,
        )
        return sync.due_resources()

    def read_status(self) -> dict[str, Any]:
        from services.sync.status import sync_status

        return sync_status(self.engine())

    # ------------------------------------------------------------------ pages

    def dashboard(self) -> Any:
        from services.metrics import compute_dashboard

        return compute_dashboard(
            self.engine(),
            tz=self.timezone(),
            daily_target=self.settings.dashboard.daily_session_target,
        )

    def analytics(self, progress: Any = None, cancel: Any = None) -> Any:
        """The Dashboard's Analytics tab (services.analytics); seconds: on a worker."""
        from services.analytics import compute_analytics

        return compute_analytics(self.engine(), progress=progress, cancel=cancel)

    def system_snapshot(self) -> dict[str, Any]:
        from services.metrics import database_size, model_registry
        from services.sync.status import sync_status

        engine = self.engine()
        status = sync_status(engine)
        status["database_size"] = database_size(engine)
        status["models"] = model_registry(self.models_dir)
        status["models_dir"] = str(self.models_dir)
        return status

    def models_missing(self) -> bool:
        """No trained model yet in this source's registry (file reads only)."""
        from services.models_admin import missing_models

        return bool(missing_models(self.models_dir))

    def rollback_model(self, name: str, version: int) -> str:
        from services.models_admin import rollback_model

        return rollback_model(self.engine(), self.models_dir, name, version, actor=ACTOR).message

    def release_model_pin(self, name: str) -> str:
        from services.models_admin import release_pin

        return release_pin(self.engine(), self.models_dir, name, actor=ACTOR).message

    def rejects(self) -> list[Any]:
        from services.metrics import list_rejects

        return list_rejects(self.engine())

    def interventions(self) -> list[Any]:
        return self.intervention_service().queue()

    def intervention_service(self) -> Any:
        """Reads and commands of the Interventions page (services.intervention_service)."""
        from services.intervention_service import InterventionService

        return InterventionService(
            self.engine, lambda: self.settings.interventions, models_dir=self.models_dir
        )

    def create_intervention(
        self,
        tutor_id: int,
        *,
        intervention_type: str,
        reason: str,
        due_in_hours: float | None = None,
        priority: int,
        assigned_to_id: int | None,
        source_alert_key: str | None = None,
    ) -> int:
        """Through the workflow: the SLA comes from the policy in Settings (business
        hours included), with its clock recorded, one open per tutor and type.
        ``due_in_hours`` is kept for callers that still pass it; the policy decides."""
        return self.intervention_service().create(
            tutor_id=tutor_id,
            intervention_type=intervention_type,
            reason=reason,
            priority=priority,
            assigned_to_id=assigned_to_id,
            source_alert_key=source_alert_key,
        )

    # ------------------------------------------------------------------ jobs

    def job_context(self, state: Any, trigger: str) -> Any:
        from services.jobs import JobContext

        return JobContext(
            engine=self.engine(),
            data_dir=self.source_dir,
            models_dir=self.models_dir,
            trigger=trigger,
            cancel_event=state.cancel_event,
            on_progress=state.progress,
            settings=self.ctx.settings,
        )

    def job_environment(self, trigger: str) -> Any:
        """For jobs that run in their own process (services.jobs.run_isolated)."""
        from services.jobs import JobEnvironment

        return JobEnvironment(
            database_url=self.ctx.database_url,
            data_dir=str(self.source_dir),  # what a job keeps belongs to this source
            models_dir=str(self.models_dir),
            trigger=trigger,
            settings_json=self.ctx.settings.model_dump_json(),
        )

    def discover_jobs(self) -> tuple[Any, list[str]]:
        """The scheduled jobs (scoring, training, ...), found in a separate process so
        the model libraries are never imported into the app's process."""
        from services.jobs import discover_jobs_isolated

        return discover_jobs_isolated()

    # ------------------------------------------------------------------ connection

    def test_connection(self, api_url: str | None, token: str | None) -> str:
        """Health (no auth) and one authenticated request; a sentence for the dialog.

        ``token`` None means "the one in the keychain". The sandbox needs neither.
        """
        if not api_url:
            return "The built-in sandbox needs no connection."
        from services.api.client import RailsApiClient, RetryPolicy
        from services.credentials import resolve_token

        url = Settings(api_url=api_url).api_url  # validates (https, no credentials)
        assert url is not None
        token = token or resolve_token(url)
        client = RailsApiClient(url, token, timeout=10, retry=RetryPolicy(max_attempts=2))
        try:
            health = client.health()
            client.check_auth()
        finally:
            client.close()
        server_time = health.get("server_time", "")
        return f"Connected: the API answered (server time {server_time}) and accepted the token."

    def apply_settings(self, new: Settings, token: str | None = None) -> None:
        """Save ``new``; a new token for its API goes to the keychain and nowhere else.

        The keychain is written first: if it refuses, nothing changes.
        """
        from services.credentials import store_token

        new = Settings.model_validate(new.model_dump())
        if new.api_url is not None and token:
            store_token(new.api_url, token)
        self.save_settings(new)

    def save_settings(self, new: Settings) -> None:
        """Validate, write the settings file, and use the new settings from now on."""
        from services.db.url import check_database_url

        new = Settings.model_validate(new.model_dump())
        new.database_url = check_database_url(new.database_url)
        save_settings(new, self.ctx.paths.settings_file)
        self.ctx.settings = new

    @property
    def first_run(self) -> bool:
        return not self.ctx.paths.settings_file.exists()

    def close(self) -> None:
        self.stop_sandbox()
        self.ctx.close()
