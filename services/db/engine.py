"""Engines for the local database: a private SQLite file, or a shared PostgreSQL.

SQLite is set up for a desktop app that syncs in the background while the GUI reads:
WAL (readers never wait for the writer), ``synchronous=NORMAL`` (durable at checkpoints,
safe against corruption, much faster commits), enforced foreign keys, a busy timeout,
and a database file readable by its owner only, since it holds customer names and
emails.

Transactions on SQLite are real: the ``sqlite3`` module's legacy mode (Python < 3.16)
only opens a transaction before INSERT/UPDATE/DELETE, so DDL and SAVEPOINTs would run
outside it and survive a rollback. We switch that off and emit ``BEGIN`` ourselves when
SQLAlchemy begins. A connection with ``isolation_level="AUTOCOMMIT"`` in its execution
options gets no BEGIN (needed for ``VACUUM``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

# Seconds a writer waits for another writer before "database is locked". A sync page
# commits in tens of milliseconds; a long wait means something is stuck.
SQLITE_BUSY_TIMEOUT_S = 30.0

# Execution option naming how a SQLite transaction begins: "DEFERRED" (the default),
# "IMMEDIATE" or "EXCLUSIVE". Ignored on other backends. See begin_write().
SQLITE_BEGIN = "sqlite_begin"
_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})

_PRIVATE_FILE_MODE = 0o600
_SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")


def make_engine(url: str | URL, **kw: Any) -> Engine:
    """An engine for ``url`` (any SQLAlchemy URL), set up for this app.

    SQLite files: the parent folder is created, the file is created 0600 before SQLite
    opens it (its -wal/-shm are chmod-ed 0600 as they appear), and every connection
    gets WAL, ``synchronous=NORMAL``, ``foreign_keys=ON`` and a busy timeout. In-memory
    and ``uri=true`` URLs get the pragmas but no file handling. PostgreSQL gets
    ``pool_pre_ping`` (a team server restarts; a laptop sleeps). ``kw`` goes to
    ``create_engine`` and wins over these defaults.
    """
    url = make_url(url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, kw)
    if backend == "postgresql":
        kw.setdefault("pool_pre_ping", True)
    return create_engine(url, **kw)


@contextlib.contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A transaction for a writer: ``BEGIN IMMEDIATE`` on SQLite, a plain one elsewhere.

    A deferred SQLite transaction that reads first and writes later fails at once with
    "database is locked" when another writer committed in between; waiting cannot help.
    Taking the write lock up front makes a second writer wait its turn (busy timeout).
    Readers are not affected (WAL).
    """
    with engine.connect() as conn:
        conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with conn.begin():
            yield conn


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of a SQLite URL; None for in-memory and ``uri=true`` URLs."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        return None
    if url.query.get("uri") in ("true", "1", True):
        return None
    if url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _sqlite_engine(url: URL, kw: dict[str, Any]) -> Engine:
    path = sqlite_file(url)
    if path is not None:
        _create_private_file(path)
    connect_args = dict(kw.pop("connect_args", {}))
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
    engine = create_engine(url, connect_args=connect_args, **kw)
    engine_autocommit = kw.get("isolation_level") == "AUTOCOMMIT"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN; see the module docstring
        cursor = dbapi_conn.cursor()
        try:
            _enter_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # A full sync writes a few hundred MB through six indexes; SQLite's default
            # 2 MB page cache makes every index insert a miss. 64 MB is a ceiling, not
            # an allocation. Checkpointing every 16 MB of WAL instead of 4 MB halves
            # the copying during bulk writes.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.execute("PRAGMA wal_autocheckpoint=4000")
        finally:
            cursor.close()
        if path is not None:
            # SQLite gives its side files the main file's mode; this covers a file
            # that was created before make_engine tightened it.
            _restrict_sidecars(path)

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, _record: Any) -> None:
        # Resetting a connection that ran with AUTOCOMMIT puts sqlite3 back in its
        # legacy mode; keep every pooled connection in the same, known state.
        if dbapi_conn is not None:
            dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if engine_autocommit or options.get("isolation_level") == "AUTOCOMMIT":
            return
        mode = str(options.get(SQLITE_BEGIN, "DEFERRED")).upper()
        if mode not in _BEGIN_MODES:
            raise ValueError(f"{SQLITE_BEGIN} must be one of {sorted(_BEGIN_MODES)}: {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _enter_wal(cursor: sqlite3.Cursor) -> None:
    # Turning a new file into WAL takes an exclusive lock, and SQLite reports a clash
    # there at once instead of calling the busy handler: two processes opening one new
    # database together (a desktop and the headless worker) would fail 1 time in 3.
    # Retry within the busy timeout; once the file is WAL the pragma is a no-op.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _create_private_file(path: Path) -> None:
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    # Created with its final mode, so there is no moment when another user could open
    # it; an existing file is tightened too.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, _PRIVATE_FILE_MODE)
    os.close(fd)
    # Some filesystems (a FAT stick, a Windows share) have no modes to set.
    with contextlib.suppress(OSError):
        os.chmod(path, _PRIVATE_FILE_MODE)


def _restrict_sidecars(path: Path) -> None:
    for suffix in _SIDECAR_SUFFIXES:
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(OSError):  # absent, or a filesystem without modes
            os.chmod(side, _PRIVATE_FILE_MODE)
