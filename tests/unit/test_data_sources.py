"""A folder per data source: its own database, models and schedule (tutormax_desktop.context)."""

from __future__ import annotations

from services.settings import SandboxSettings, Settings
from tutormax_desktop.context import AppContext, source_key
from tutormax_desktop.paths import app_paths


def test_each_source_gets_its_own_key_and_database():
    sandbox = source_key(Settings())
    assert sandbox == "sandbox-demo-42"
    assert source_key(Settings(sandbox=SandboxSettings(scale="tiny", seed=7))) == "sandbox-tiny-7"
    company = source_key(Settings(api_url="https://api.example.com"))
    other = source_key(Settings(api_url="https://api.example.com/v2"))
    assert company.startswith("api-api.example.com-") and other != company

    ctx = AppContext(app_paths().ensure(), Settings())
    first = ctx.database_url
    ctx.settings = Settings(api_url="https://api.example.com")
    assert ctx.database_url != first and company in ctx.database_url
    assert ctx.models_dir == ctx.source_dir / "models"
    # A configured database (a team's PostgreSQL) is used as given.
    ctx.settings = Settings(database_url="postgresql+psycopg://db/tutormax")
    assert ctx.database_url == "postgresql+psycopg://db/tutormax"


def test_the_database_and_models_from_before_move_into_the_current_source():
    paths = app_paths().ensure()
    (paths.data_dir / "tutormax.db").write_bytes(b"old database")
    (paths.data_dir / "tutormax.db-wal").write_bytes(b"wal")
    (paths.data_dir / "models" / "tutor_churn").mkdir(parents=True)
    ctx = AppContext(paths, Settings())
    ctx.ensure_source_dir()
    assert (ctx.source_dir / "tutormax.db").read_bytes() == b"old database"
    assert (ctx.source_dir / "tutormax.db-wal").exists()
    assert (ctx.models_dir / "tutor_churn").is_dir()
    assert not (paths.data_dir / "tutormax.db").exists()
    # Only once: another source starts empty.
    ctx.settings = Settings(api_url="https://api.example.com")
    ctx.ensure_source_dir()
    assert not (ctx.source_dir / "tutormax.db").exists()
