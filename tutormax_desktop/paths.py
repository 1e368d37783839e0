"""Where the app keeps its files.

Per-OS locations from platformdirs (``~/.local/share/TutorMax Desktop`` on Linux,
``%LOCALAPPDATA%\\TutorMax\\TutorMax Desktop`` on Windows, ``~/Library/Application
Support/TutorMax Desktop`` on macOS). ``TUTORMAX_HOME`` puts everything under one folder
instead: the tests use it for isolation, and a portable install can too.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "TutorMax Desktop"
APP_AUTHOR = "TutorMax"
HOME_ENV = "TUTORMAX_HOME"


@dataclass(frozen=True, slots=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    log_dir: Path
    cache_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def database_file(self) -> Path:
        return self.data_dir / "tutormax.db"

    @property
    def models_dir(self) -> Path:
        """Where models were kept before each data source had its folder (moved from
        there by ``AppContext.ensure_source_dir``); use ``AppContext.models_dir``."""
        return self.data_dir / "models"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "tutormax.log"

    def default_database_url(self) -> str:
        return f"sqlite:///{self.database_file}"

    def ensure(self) -> AppPaths:
        """Create the folders, readable by their owner only (they hold customer data)."""
        for d in (self.config_dir, self.data_dir, self.log_dir, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
            # Some filesystems (a FAT stick, a Windows share) have no modes to set.
            with contextlib.suppress(OSError):
                d.chmod(0o700)
        return self


def app_paths(environ: os._Environ[str] | dict[str, str] | None = None) -> AppPaths:
    env = os.environ if environ is None else environ
    home = env.get(HOME_ENV)
    if home:
        root = Path(home).expanduser()
        return AppPaths(root / "config", root / "data", root / "logs", root / "cache")
    return AppPaths(
        Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR)),
        Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR)),
        Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR)),
        Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR)),
    )
