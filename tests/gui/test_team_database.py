"""A desktop pointed at a team's database: Settings > Database URL (or --database),
checked before use, and the window switches to it at once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from sqlalchemy import func, select

from services.db.models import TutoringSession
from services.db.url import check_database_url
from services.settings import SandboxSettings, ScheduleSettings, Settings
from tests.gui.conftest import wait_ready
from ui.settings_dialog import SettingsDialog


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://ops@db.example.com/tutormax",
            "postgresql+psycopg://ops@db.example.com/tutormax",
        ),
        ("postgresql+psycopg://ops@/t?host=/run/pg", "postgresql+psycopg://ops@/t?host=/run/pg"),
        ("  sqlite:////srv/tutormax.db ", "sqlite:////srv/tutormax.db"),
        ("", None),
        (None, None),
    ],
)
def test_database_urls_are_normalised(url, expected):
    assert check_database_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://ops:hunter2@db/tutormax", "must not contain a password"),
        ("mysql://ops@db/tutormax", "SQLite or PostgreSQL"),
        ("db.example.com", "not a database URL"),
    ],
)
def test_bad_database_urls_are_refused_with_a_reason(url, message):
    with pytest.raises(ValueError, match=message):
        check_database_url(url)


def _dialog(qtbot, window) -> SettingsDialog:
    ui = QSettings(
        str(Path(os.environ["TUTORMAX_HOME"]) / "config" / "ui.ini"), QSettings.Format.IniFormat
    )
    dialog = SettingsDialog(window.shell.settings, None, ui)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_settings_point_the_window_at_another_database(qtbot, make_window, tmp_path):
    # A tiny sandbox and no schedule: the switch syncs the new database, and nothing
    # else (a first training) keeps the window busy.
    window = make_window(
        Settings(sandbox=SandboxSettings(scale="tiny"), schedule=ScheduleSettings(enabled=False))
    )
    wait_ready(qtbot, window)
    backend = window.shell.backend
    own = backend.engine().url.database
    team = tmp_path / "team.db"

    dialog = _dialog(qtbot, window)
    assert dialog.database.text() == ""  # this computer's own database
    dialog.database.setText("postgresql://ops:hunter2@db.example.com/tutormax")
    with qtbot.waitSignal(window.shell.settings.sig_error, timeout=10_000):
        dialog._save()
    assert "must not contain a password" in dialog.error.text()
    assert backend.settings.database_url is None
    settings_file = backend.ctx.paths.settings_file
    assert not settings_file.exists() or "hunter2" not in settings_file.read_text()

    dialog.database.setText(f"sqlite:///{team}")
    with qtbot.waitSignal(window.shell.settings.sig_saved, timeout=10_000):
        dialog._save()
    assert backend.settings.database_url == f"sqlite:///{team}"
    assert json.loads(settings_file.read_text())["database_url"] == f"sqlite:///{team}"

    # The window switched: the pages reload from the team database, migrated, and a
    # sync fills it. (Waiting for "not busy" alone could pass before the sync began.)
    def synced_into_team() -> bool:
        engine = backend.engine()
        if engine.url.database != str(team):
            return False
        with engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(TutoringSession)).scalar_one()
        return n > 0 and not window.shell.runner.busy

    qtbot.waitUntil(synced_into_team, timeout=120_000)
    assert str(team) != own
    # The next start reads it from the settings file.
    restarted = make_window(Settings.model_validate(json.loads(settings_file.read_text())))
    assert restarted.shell.backend.database_label == f"sqlite:///{team}"
