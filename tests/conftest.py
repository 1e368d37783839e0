"""Suite-wide set-up: isolated app folders, offscreen Qt, shared fixtures."""

from __future__ import annotations

import os

# Before anything imports Qt: widgets render offscreen unless a test asks for a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never talk to a real keychain or read a real user's settings by accident.
os.environ.pop("TUTORMAX_API_TOKEN", None)

import pytest

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.sandbox",
    "tests.fixtures.scored_demo",
    "tests.fixtures.session_bus",
]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Each test gets its own config/data/log folders (TUTORMAX_HOME)."""
    home = tmp_path_factory.mktemp("tutormax-home")
    monkeypatch.setenv("TUTORMAX_HOME", str(home))
    return home
