"""Alembic environment, for the app (``services.db.migrate``) and for the CLI.

Programmatic use hands a Connection in ``config.attributes["connection"]``. The CLI
builds an engine with the app's own ``make_engine`` from, in order: ``-x url=...``,
``TUTORMAX_DB_URL``, or ``sqlalchemy.url`` in the ini file::

    alembic -c services/db/alembic.ini -x url=sqlite:////tmp/t.db upgrade head
    alembic -c services/db/alembic.ini -x url=sqlite:////tmp/t.db revision \\
        --autogenerate -m "add alerts"

All pending revisions run in one transaction on both backends (SQLite DDL is
transactional too), so a failed upgrade leaves the previous schema intact.
"""

from __future__ import annotations

import logging.config
import os

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, Connection, text
from sqlalchemy.types import TypeDecorator

from services.db.engine import SQLITE_BEGIN, make_engine
from services.db.models import Base

config = context.config
target_metadata = Base.metadata

# Any constant will do; it only has to be the same for every process migrating one
# PostgreSQL database (two desktops starting together, or the headless worker).
_PG_MIGRATION_LOCK = 7_324_118_001

if config.config_file_name is not None:
    # Only the CLI has an ini file; the app has configured logging already.
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("TUTORMAX_DB_URL")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise SystemExit("no database URL: pass -x url=... or set TUTORMAX_DB_URL")
    return url


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | bool:
    # Render the app's TypeDecorators (UTCDateTime) as their plain SQLAlchemy impl, so
    # a generated revision never imports app code (see script.py.mako).
    if type_ != "type":
        return False
    if isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    if isinstance(obj, JSON) and "postgresql" in obj._variant_mapping:
        # Alembic's own rendering of JSONB leaves an unimported Text() behind.
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def _configure(**kw: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        # Every script must run on SQLite too, whichever backend autogenerate compared
        # against, so table changes are always rendered as batch operations.
        render_as_batch=True,
        # Alembic assumes SQLite DDL is not transactional; with engine.py's BEGIN it is.
        transactional_ddl=True,
        compare_type=True,
        render_item=_render_item,
        **kw,
    )


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Take the write lock at BEGIN: a second process waits instead of failing.
        connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        # A batch migration recreates a table (copy, DROP, rename). With foreign keys
        # on, that DROP would cascade (e.g. interventions -> outbox rows). The pragma is
        # a no-op inside a transaction, so it is set on the driver connection first, and
        # the keys are checked before commit instead.
        if not connection.in_transaction():
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        _configure(connection=connection)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
    finally:
        if sqlite and not connection.in_transaction():
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
