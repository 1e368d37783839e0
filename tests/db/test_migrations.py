"""Migrations: head is exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, text

from services.db.engine import make_engine
from services.db.migrate import MIGRATIONS_DIR, current_revision, downgrade, head_revision, migrate
from services.db.models import Base

REPO = Path(__file__).resolve().parents[2]


def schema_diff(engine: Engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_head_matches_models(migrated: Engine) -> None:
    assert schema_diff(migrated) == []
    assert table_names(migrated) == set(Base.metadata.tables) | {"alembic_version"}


def test_an_empty_database_differs(engine: Engine) -> None:
    # Guards the test above: compare_metadata must see a missing schema.
    assert len(schema_diff(engine)) >= len(Base.metadata.tables)


def test_revisions(engine: Engine) -> None:
    # The head is the newest file in versions/ (a revision someone forgot to chain to
    # the previous one would make a second head and fail here).
    newest = max(p.name.split("_")[0] for p in MIGRATIONS_DIR.joinpath("versions").glob("0*.py"))
    assert head_revision() == newest
    assert current_revision(engine) is None
    migrate(engine)
    assert current_revision(engine) == head_revision()


def test_migrate_twice_is_a_no_op(migrated: Engine) -> None:
    statements: list[str] = []

    @event.listens_for(migrated, "before_cursor_execute")
    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    migrate(migrated)
    ddl = [s for s in statements if s.split()[0].upper() in {"CREATE", "ALTER", "DROP"}]
    assert ddl == []
    assert not any(
        "alembic_version" in s and s.lstrip().upper().startswith(("INSERT", "UPDATE"))
        for s in statements
    )
    assert current_revision(migrated) == head_revision()


def test_downgrade_to_base_and_up_again(migrated: Engine) -> None:
    downgrade(migrated, "base")
    assert current_revision(migrated) is None
    assert table_names(migrated) <= {"alembic_version"}
    migrate(migrated)
    assert schema_diff(migrated) == []


def test_a_failed_upgrade_leaves_nothing_behind(engine: Engine) -> None:
    # app_meta is the last table 0001 creates: a clash there fails the upgrade after
    # every other table was created, and the transaction must take them all back.
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE app_meta (key VARCHAR(10) PRIMARY KEY)"))
    with pytest.raises(Exception, match=r"(?i)already exists"):
        migrate(engine)
    assert table_names(engine) == {"app_meta"}
    assert current_revision(engine) is None


def test_two_processes_starting_together_both_succeed(db_url: str) -> None:
    # A desktop and the headless worker starting on one new database: env.py's lock
    # (BEGIN IMMEDIATE / pg_advisory_xact_lock) makes the second wait, then find head.
    script = (
        "import sys, time\n"
        "from services.db import make_engine, migrate\n"
        "engine = make_engine(sys.argv[1])\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "migrate(engine)\n"
    )
    start_at = str(time.time() + 2.0)  # both past their imports, then go together
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, db_url, start_at],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    eng = make_engine(db_url)
    try:
        assert current_revision(eng) == head_revision()
        assert schema_diff(eng) == []
    finally:
        eng.dispose()


def test_threads_migrating_at_once_take_turns(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(2)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def start(eng: Engine) -> None:
        try:
            barrier.wait()
            migrate(eng)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
    finally:
        for e in engines:
            e.dispose()


def test_sqlite_foreign_keys_are_back_on_after_migrating(tmp_path: Path) -> None:
    # env.py turns them off around batch migrations; the pooled connection must not
    # keep that state.
    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}", pool_size=1, max_overflow=0)
    try:
        migrate(eng)
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        eng.dispose()


def test_migrations_ship_inside_the_package() -> None:
    # migrate() must not depend on the working directory or a repo-level alembic.ini.
    assert MIGRATIONS_DIR.is_relative_to(REPO / "services" / "db")
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()


def test_cli_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(REPO / "services/db/alembic.ini"),
         "-x", f"url=sqlite:///{db}", "upgrade", "head"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    eng = make_engine(f"sqlite:///{db}")
    try:
        assert current_revision(eng) == head_revision()
        assert schema_diff(eng) == []
    finally:
        eng.dispose()
