"""The API token lands in a real Secret Service keychain, and nowhere else."""

from __future__ import annotations

import logging
import os
import subprocess

import pytest

from services import credentials
from services.settings import Settings, save_settings
from tutormax_desktop.logging_setup import setup_logging

URL = "https://ops.example.com"
TOKEN = "tmx-live-7c1d9a4e2b8f4f0a9d3c"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_token_round_trips_through_gnome_keyring_and_nowhere_else(
    secret_service, tmp_path, restore_logging
):
    credentials.store_token(URL, TOKEN)
    assert "SecretService" in credentials.keychain_backend_name()
    # Read back through libsecret, not through our code: it really is in the keychain.
    looked_up = subprocess.run(
        ["secret-tool", "lookup", "service", credentials.SERVICE, "username", URL],
        env=dict(os.environ, **secret_service),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert looked_up.stdout.strip() == TOKEN
    assert credentials.resolve_token(URL, environ={}) == TOKEN

    # Settings, logs and the home folder never hold it.
    home = tmp_path / "home"
    save_settings(Settings(api_url=URL), home / "settings.json")
    setup_logging(home / "app.log", console=False)
    logging.getLogger("test").info("Authorization: Bearer %s", TOKEN)
    for h in logging.getLogger().handlers:
        h.flush()
    # The redaction filter caught the (deliberately) logged header.
    assert "Bearer [redacted]" in (home / "app.log").read_text()
    for path in home.rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(errors="replace"), path

    credentials.forget_token(URL)
    assert credentials.stored_token(URL) is None
