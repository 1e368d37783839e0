"""Schema migrations, run by the app itself on every start.

The Alembic configuration is built in code from this package's path (no ``alembic.ini``
needed), so it works from a source checkout, an installed wheel and a PyInstaller
bundle alike, as long as ``services/db/migrations`` ships as files.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

# Alembic's `context` and `op` are module-level proxies: two migrations in one process
# at once would share them. Across processes, env.py takes a database lock instead.
_IN_PROCESS = threading.Lock()


def alembic_config() -> Config:
    """An Alembic ``Config`` pointing at this package's migrations."""
    config = Config()
    # ConfigParser interpolation would read a "%" in the install path as a variable.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (the newest by default), in one transaction.

    A database already there is left alone, so the app can call this on every start.
    """
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Downgrade to ``revision`` ("base" drops every table). For tests and tooling."""
    _run(engine, command.downgrade, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest revision this build knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS_DIR}"
    return head


def _run(engine: Engine, fn, revision: str) -> None:  # type: ignore[no-untyped-def]
    config = alembic_config()
    with _IN_PROCESS, engine.connect() as conn:
        # env.py runs on this connection and owns its transaction.
        config.attributes["connection"] = conn
        fn(config, revision)
