"""An upgrade keeps the user's settings, keychain entry and data folders.

Everything here is a name an installed release already wrote somewhere: the settings
file's keys, the keychain's service and user names, the per-OS folder names and the
per-source database folder. Renaming any of them would make the next version start
empty (or ask for the token again) after an upgrade, so these tests pin them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import keyring
import pytest
from keyring.backend import KeyringBackend

from services import credentials
from services.settings import SETTINGS_VERSION, Settings, load_settings, save_settings
from tutormax_desktop import paths
from tutormax_desktop.context import source_key

# settings.json as TutorMax Desktop 0.1.0 wrote it (before alerts and interventions had
# settings of their own), every section away from its defaults.
RELEASE_0_1_0_SETTINGS = {
    "version": 1,
    "api_url": "https://ops.example.com",
    "ca_bundle": "/etc/ssl/company-ca.pem",
    "database_url": "postgresql+psycopg://ops@db.example.com/tutormax",
    "sandbox": {"scale": "tiny", "seed": 7, "anchor": "2026-11-20T12:00:00Z"},
    "sync": {
        "page_limit": 500,
        "timeout_seconds": 12.5,
        "max_attempts": 3,
        "concurrency": 2,
        "cadence_minutes": {"sessions": 2},
    },
    "schedule": {"enabled": False, "nightly_at": "03:30"},
    "notifications": {
        "desktop": False,
        "quiet_hours": False,
        "quiet_start": "21:00",
        "quiet_end": "06:30",
        "timezone": "Europe/Berlin",
        "max_per_window": 3,
        "window_minutes": 5,
        "dedupe_hours": 12,
    },
    "dashboard": {"daily_session_target": 2800},
}


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring(monkeypatch):
    ring = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(ring)
    monkeypatch.delenv(credentials.TOKEN_ENV, raising=False)
    yield ring
    keyring.set_keyring(previous)


def test_a_settings_file_of_release_0_1_0_loads_with_every_value(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(RELEASE_0_1_0_SETTINGS), encoding="utf-8")
    s = load_settings(path)
    assert s.api_url == "https://ops.example.com"
    assert s.ca_bundle == "/etc/ssl/company-ca.pem"
    assert s.database_url == "postgresql+psycopg://ops@db.example.com/tutormax"
    assert (s.sandbox.scale, s.sandbox.seed) == ("tiny", 7)
    assert s.sandbox.anchor == datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert s.sync.model_dump() == RELEASE_0_1_0_SETTINGS["sync"]
    assert s.schedule.model_dump() == RELEASE_0_1_0_SETTINGS["schedule"]
    assert s.notifications.model_dump() == RELEASE_0_1_0_SETTINGS["notifications"]
    assert s.dashboard.daily_session_target == 2800
    # Sections added since then start at their defaults.
    assert s.alerts == Settings().alerts and s.interventions == Settings().interventions


def test_the_current_format_keeps_every_key_of_0_1_0_and_reads_back_equal(tmp_path):
    path = tmp_path / "settings.json"
    old = load_settings(_written(tmp_path, RELEASE_0_1_0_SETTINGS))
    save_settings(old, path)
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["version"] == SETTINGS_VERSION

    def keys(d: dict, prefix: str = "") -> set[str]:
        out = set()
        for k, v in d.items():
            out.add(prefix + k)
            if isinstance(v, dict) and k != "cadence_minutes":
                out |= keys(v, f"{prefix}{k}.")
        return out

    assert keys(RELEASE_0_1_0_SETTINGS) <= keys(written), "a settings key was renamed"
    assert load_settings(path) == old


def _written(folder, raw):
    path = folder / "old-settings.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def test_the_keychain_entry_of_an_installed_release_is_found(memory_keyring):
    # What 0.1.0 stored: service "TutorMax Desktop API token", user = the API's URL.
    memory_keyring.set_password("TutorMax Desktop API token", "https://ops.example.com", "t-1")
    assert credentials.SERVICE == "TutorMax Desktop API token"
    assert credentials.resolve_token("https://ops.example.com") == "t-1"
    credentials.store_token("https://ops.example.com", "t-2")
    entry = ("TutorMax Desktop API token", "https://ops.example.com")
    assert memory_keyring.entries == {entry: "t-2"}


def test_the_data_folders_and_the_per_source_database_keep_their_names(monkeypatch):
    monkeypatch.delenv(paths.HOME_ENV, raising=False)
    assert (paths.APP_NAME, paths.APP_AUTHOR) == ("TutorMax Desktop", "TutorMax")
    found = paths.app_paths({})
    assert found.data_dir.name == "TutorMax Desktop"
    assert found.settings_file.name == "settings.json"
    assert found.log_file.name == "tutormax.log"
    # The database and models of each data source live in sources/<key>/.
    assert source_key(Settings()) == "sandbox-demo-42"
    assert source_key(Settings(api_url="https://ops.example.com")) == "api-ops.example.com-1c5f64a1"
