"""make_engine: a private, WAL-mode SQLite file with real transactions; PostgreSQL."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from services.db.engine import begin_write, make_engine, sqlite_file
from services.db.migrate import migrate
from services.db.models import Intervention, OutboxItem


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "new folder" / "tutormax.db"


@pytest.fixture
def sqlite_engine(db_path: Path):
    eng = make_engine(f"sqlite:///{db_path}")
    yield eng
    eng.dispose()


def test_file_and_wal_files_are_private(sqlite_engine: Engine, db_path: Path) -> None:
    # The file exists, private, before SQLite has opened it.
    assert db_path.is_file()
    assert mode(db_path) == 0o600
    migrate(sqlite_engine)
    with sqlite_engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (x)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.commit()
        wal, shm = (db_path.with_name(db_path.name + s) for s in ("-wal", "-shm"))
        assert wal.exists()
        assert shm.exists()
        assert (mode(db_path), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)


def test_an_existing_world_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    eng = make_engine(f"sqlite:///{path}")
    try:
        assert mode(path) == 0o600
    finally:
        eng.dispose()


def test_pragmas(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("synchronous") == 1  # NORMAL
        assert pragma("busy_timeout") >= 5000


def test_in_memory_urls_work(tmp_path: Path) -> None:
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    eng = make_engine("sqlite://")
    try:
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        eng.dispose()


def test_outbox_row_for_a_missing_intervention_fails(migrated: Engine) -> None:
    row = {"kind": "intervention.create", "intervention_local_id": 999,
           "idempotency_key": "k1", "payload": {}}  # fmt: skip
    with pytest.raises(IntegrityError), migrated.begin() as conn:
        conn.execute(insert(OutboxItem), row)


def test_deleting_an_intervention_deletes_its_outbox_rows(migrated: Engine) -> None:
    with migrated.begin() as conn:
        local_id = conn.execute(
            insert(Intervention).returning(Intervention.local_id), {"idempotency_key": "k"}
        ).scalar_one()
        conn.execute(insert(OutboxItem), {"kind": "intervention.create",
                     "intervention_local_id": local_id, "idempotency_key": "k",
                     "payload": {"a": 1}})  # fmt: skip
    with migrated.begin() as conn:
        conn.execute(Intervention.__table__.delete())
    with migrated.connect() as conn:
        assert conn.execute(select(OutboxItem.id)).all() == []


def test_a_rolled_back_transaction_leaves_nothing(migrated: Engine) -> None:
    with migrated.connect() as conn:
        conn.execute(insert(Intervention), {"idempotency_key": "gone"})
        conn.execute(text("CREATE TABLE scratch (x INTEGER)"))  # DDL too
        conn.rollback()
    with migrated.connect() as conn:
        assert conn.execute(select(Intervention.local_id)).all() == []
        assert (
            conn.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'scratch'"
                if migrated.dialect.name == "postgresql"
                else "SELECT count(*) FROM sqlite_master WHERE name = 'scratch'"
            ).scalar()
            == 0
        )


def test_a_savepoint_first_still_belongs_to_the_transaction(migrated: Engine) -> None:
    # sqlite3's legacy mode would run a leading SAVEPOINT as its own transaction, which
    # RELEASE commits: the outer rollback would then keep the row.
    with migrated.connect() as conn, conn.begin():
        with conn.begin_nested():
            conn.execute(insert(Intervention), {"idempotency_key": "sp"})
        conn.get_transaction().rollback()
    with migrated.connect() as conn:
        assert conn.execute(select(Intervention.local_id)).all() == []


def test_autocommit_connections_can_vacuum_and_the_pool_stays_transactional(
    tmp_path: Path,
) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'v.db'}", pool_size=1, max_overflow=0)
    try:
        with eng.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("VACUUM")
        with eng.connect() as conn:  # the same pooled driver connection
            conn.exec_driver_sql("CREATE TABLE t (x)")
            conn.rollback()
        with eng.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar() == 0
    finally:
        eng.dispose()


def test_begin_write_takes_the_write_lock_up_front(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    first = make_engine(url)
    impatient = make_engine(url, connect_args={"timeout": 0.2})
    try:
        with first.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
        with begin_write(first):
            # Readers are not blocked (WAL) ...
            with impatient.connect() as reader:
                assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
            # ... but a second writer cannot even begin.
            with pytest.raises(OperationalError, match="locked"), begin_write(impatient):
                pass
    finally:
        first.dispose()
        impatient.dispose()


def test_a_waiting_writer_gets_its_turn(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    eng = make_engine(url)
    try:
        with eng.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
        acquired, released = threading.Event(), threading.Event()

        def hold() -> None:
            with begin_write(eng) as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
                acquired.set()
                released.wait(5)

        holder = threading.Thread(target=hold)
        holder.start()
        assert acquired.wait(5)
        threading.Timer(0.3, released.set).start()
        with begin_write(eng) as conn:  # waits (busy timeout), then runs
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        holder.join(5)
        with eng.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2
    finally:
        eng.dispose()


def test_opening_a_new_file_another_process_is_writing_waits_for_it(tmp_path: Path) -> None:
    # Another process created the file and is writing, still in rollback-journal mode
    # (it had not turned WAL on yet). Turning WAL on needs that writer gone, and SQLite
    # says "locked" at once instead of waiting: the clash that made two processes
    # starting on one new database fail 1 time in 3.
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    threading.Timer(0.3, other.execute, ("COMMIT",)).start()
    eng = make_engine(f"sqlite:///{path}")
    try:
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    finally:
        eng.dispose()
        other.close()


@pytest.mark.postgres
def test_postgres_engine_pings_before_use(postgres_url: str) -> None:
    eng = make_engine(postgres_url)
    try:
        assert eng.pool._pre_ping
        with begin_write(eng) as conn:  # the SQLite option is ignored
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        eng.dispose()
