"""The composition root: settings, paths, database, API client and sandbox, wired once.

The CLI and the GUI both build their world here, so `tutormax sync` from cron and the
desktop's F5 use the same settings, the same database and the same API.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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

    # ---------------------------------------------------------------- data source

    @property
    def source_key(self) -> str:
        """A folder name per data source: each has its own database, models and schedule.

        The built-in sandbox is keyed by scale and seed (another world is another
        source: its ids mean other tutors); a company API by host and a hash of its URL.
        Switching sources in Settings thus never mixes two marketplaces in one database,
        and switching back finds the first one's data as it was.
        """
        return source_key(self.settings)

    @property
    def source_dir(self) -> Path:
        return self.paths.data_dir / "sources" / self.source_key

    @property
    def models_dir(self) -> Path:
        return self.source_dir / "models"

    # ---------------------------------------------------------------- database

    @property
    def database_url(self) -> str:
        """The configured database (a team's PostgreSQL serves whatever source it was
        set up for), else this data source's SQLite file."""
        if self.settings.database_url:
            return self.settings.database_url
        return f"sqlite:///{self.source_dir / 'tutormax.db'}"

    def ensure_source_dir(self) -> Path:
        """Create this source's folders (owner-only, like the data folder).

        The first time (no ``sources/`` yet), a database and models from before there
        was a folder per source (``tutormax.db`` and ``models/`` in the data folder) are
        moved into the folder of the source configured now: the one they were used with.
        """
        import contextlib
        import os

        sources = self.paths.data_dir / "sources"
        if not sources.exists():
            self.source_dir.mkdir(parents=True, exist_ok=True)
            legacy_db = self.paths.data_dir / "tutormax.db"
            if legacy_db.exists():
                for suffix in ("", "-wal", "-shm"):
                    old = Path(f"{legacy_db}{suffix}")
                    if old.exists():
                        os.replace(old, self.source_dir / f"tutormax.db{suffix}")
                log.info("moved %s into %s", legacy_db, self.source_dir)
            legacy_models = self.paths.data_dir / "models"
            if legacy_models.is_dir() and any(legacy_models.iterdir()):
                os.replace(legacy_models, self.models_dir)
        for d in (self.source_dir, self.models_dir):
            d.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                d.chmod(0o700)
        return self.source_dir

    def engine(self, url: str | None = None) -> Engine:
        """The database, migrated to the current schema (the app migrates on start)."""
        wanted = url or self.database_url
        if self._engine is not None and self._engine.url.render_as_string(False) != wanted:
            self._engine.dispose()
            self._engine = None
        if self._engine is None:
            if url is None and not self.settings.database_url:
                self.ensure_source_dir()
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


def source_key(settings: Settings) -> str:
    if settings.api_url is None:
        return f"sandbox-{settings.sandbox.scale}-{settings.sandbox.seed}"
    parts = urlsplit(settings.api_url)
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{parts.hostname or 'api'}-{parts.port or ''}")
    digest = hashlib.sha256(settings.api_url.encode()).hexdigest()[:8]
    return f"api-{host.strip('-')}-{digest}"


def describe_anchor(anchor_us: int) -> str:
    return to_datetime(anchor_us).isoformat()
