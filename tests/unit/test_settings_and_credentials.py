"""Settings round-trip and refuse secrets; tokens come from the keychain or the env."""

from __future__ import annotations

import json
import stat

import keyring
import pytest
from keyring.backend import KeyringBackend

from services import credentials
from services.settings import Settings, SettingsError, load_settings, save_settings


def test_defaults_when_there_is_no_file(tmp_path):
    s = load_settings(tmp_path / "missing.json")
    assert s.uses_sandbox and s.sync.page_limit == 1000


def test_round_trip_is_private_and_atomic(tmp_path):
    path = tmp_path / "settings.json"
    s = Settings(api_url="https://ops.example.com/")
    s.sandbox.seed = 7
    save_settings(s, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = load_settings(path)
    assert back.api_url == "https://ops.example.com"
    assert back.sandbox.seed == 7
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"api_url": "https://user:secret@ops.example.com"}, "must not contain credentials"),
        ({"api_url": "http://ops.example.com"}, "must use https"),
        ({"api_url": "ftp://x"}, "http(s) URL"),
        ({"sync": {"page_limit": 5000}}, "sync.page_limit"),
        ({"token": "abc"}, "token"),
        ({"version": 99}, "newer than this app"),
    ],
)
def test_invalid_settings_name_the_field(tmp_path, raw, message):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(SettingsError, match="settings") as err:
        load_settings(path)
    assert message in str(err.value)


def test_unreadable_settings_file_is_a_clear_error(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(path)


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self):
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def get_password(self, service, username):
        return self.store.get((service, username))

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_token_from_env_wins_then_keychain(memory_keyring):
    url = "https://ops.example.com"
    credentials.store_token(url, "  from-keychain  ")
    assert memory_keyring.store == {(credentials.SERVICE, url): "from-keychain"}
    assert credentials.resolve_token(url, environ={}) == "from-keychain"
    assert credentials.resolve_token(url, environ={"TUTORMAX_API_TOKEN": "env"}) == "env"
    credentials.forget_token(url)
    with pytest.raises(credentials.CredentialError, match="TUTORMAX_API_TOKEN"):
        credentials.resolve_token(url, environ={})


def test_no_keychain_is_said_plainly_never_a_file_fallback():
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(credentials.CredentialError, match="No OS keychain is available"):
            credentials.store_token("https://ops.example.com", "t")
    finally:
        keyring.set_keyring(previous)


def test_first_sandbox_start_persists_only_the_anchor(tmp_path, monkeypatch):
    from tutormax_desktop.context import AppContext
    from tutormax_desktop.paths import app_paths

    monkeypatch.setenv("TUTORMAX_HOME", str(tmp_path))
    paths = app_paths().ensure()
    save_settings(Settings(api_url="https://ops.example.com"), paths.settings_file)
    ctx = AppContext.load()
    ctx.settings.api_url = None  # what `tutormax-desktop --sandbox` does for this run
    anchor = ctx.sandbox_anchor_us()
    on_disk = load_settings(paths.settings_file)
    assert on_disk.api_url == "https://ops.example.com"
    assert on_disk.sandbox.anchor is not None
    assert AppContext.load().sandbox_anchor_us() == anchor  # fixed from now on
