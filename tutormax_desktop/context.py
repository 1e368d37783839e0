"""The composition root: settings, paths, database, API client and sandbox, wired once.

The CLI and the GUI both build their world here, so `tutormax sync` from cron and the
desktop's F5 use the same settings, the same database and the same API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from services.api.rails_time import from_datetime, to_datetime
from services.settings import Settings, load_settings, save_settings
from tutormax_desktop.paths import AppPaths, app_paths

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from services.api.client import RailsApiClient

# The HTTP client, SQLAlchemy and Alembic are imported where they are first used: the
# desktop paints its window before it needs any of them (about 0.7 s of imports).

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    paths: AppPaths
    settings: Settings
    _engine: Engine | None = None
    # services.sandbox.launcher.RunningSandbox; imported lazily because building a
    # world pulls in the simulator, which a sync against a real API never needs.
    _sandbox: Any = None
    _extra_cleanup: list = field(default_factory=list)

    @classmethod
    def load(cls) -> AppContext:
        paths = app_paths().ensure()
        return cls(paths, load_settings(paths.settings_file))

    # ---------------------------------------------------------------- database

    @property
    def database_url(self) -> str:
        return self.settings.database_url or self.paths.default_database_url()

    def engine(self, url: str | None = None) -> Engine:
        """The database, migrated to the current schema (the app migrates on start)."""
        wanted = url or self.database_url
        if self._engine is not None and self._engine.url.render_as_string(False) != wanted:
            self._engine.dispose()
            self._engine = None
        if self._engine is None:
            self._engine = open_database(wanted)
        return self._engine

    # ---------------------------------------------------------------- API

    def sandbox_anchor_us(self) -> int:
        """The sandbox world's anchor, fixed at first use and kept in the settings."""
        if self.settings.sandbox.anchor is None:
            anchor = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            self.settings.sandbox.anchor = anchor
            # Persist only the anchor: this run's in-memory overrides (--sandbox, a
            # --database given on the command line) are not the user's settings.
            on_disk = load_settings(self.paths.settings_file)
            on_disk.sandbox.anchor = anchor
            save_settings(on_disk, self.paths.settings_file)
        return from_datetime(self.settings.sandbox.anchor)

    def start_sandbox(self) -> Any:
        """The embedded sandbox marketplace (started on first use)."""
        from services.sandbox.launcher import start_sandbox

        if self._sandbox is None:
            sb = self.settings.sandbox
            self._sandbox = start_sandbox(
                scale=sb.scale, seed=sb.seed, anchor_us=self.sandbox_anchor_us()
            )
        return self._sandbox

    def api_client(self, api_url: str | None = None) -> RailsApiClient:
        """A client for ``api_url``, the configured API, or the embedded sandbox."""
        from services.api.client import RailsApiClient, RetryPolicy
        from services.credentials import resolve_token

        sync = self.settings.sync
        url = api_url or self.settings.api_url
        if url is None:
            sandbox = self.start_sandbox()
            url, token = sandbox.base_url, sandbox.token
        else:
            token = resolve_token(url)
        verify: bool | str = self.settings.ca_bundle or True
        return RailsApiClient(
            url,
            token,
            timeout=sync.timeout_seconds,
            verify=verify,
            retry=RetryPolicy(max_attempts=sync.max_attempts),
        )

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def open_database(url: str) -> Engine:
    from services.db.engine import make_engine
    from services.db.migrate import migrate

    engine = make_engine(url)
    migrate(engine)
    return engine


def describe_anchor(anchor_us: int) -> str:
    return to_datetime(anchor_us).isoformat()
