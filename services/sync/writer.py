"""Commits a validated page and the cursor that follows it, in one transaction.

That single transaction is the whole crash-safety story: after a kill -9 the database
holds whole pages and the cursor of the last one, so the next run resumes exactly
there, and the upserts make any re-delivered record a no-op (no duplicates).

SQLite gets a fast path: one ``executemany`` of an ``INSERT ... ON CONFLICT DO UPDATE``
through the raw driver with values already in the storage format of
``services.db.types`` (SQLAlchemy's per-value bind processing would halve throughput).
Other databases get the same statement through SQLAlchemy Core.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, bindparam, false, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from services.api.contract import RESOURCES, Kind
from services.api.rails_time import from_datetime, to_datetime
from services.api.records import Flag, Reject, ValidatedPage
from services.db.engine import begin_write
from services.db.models import (
    FlaggedValue,
    Intervention,
    SyncRun,
    SyncState,
    resource_table,
)
from services.db.models import Reject as RejectRow
from services.sync.cursor import Cursor

# Bound parameters per statement (SQLite's limit is 32766 since 3.32): a whole page of
# sessions in one statement, so one GIL handover per page.
SQLITE_MAX_PARAMS = 32_000


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class PageResult:
    upserted: int
    deleted: int
    rejected: int
    flagged: int


class PageWriter:
    """Writes pages for every resource; used from one thread (the writer thread)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._fast: dict[str, tuple[str, str, list[tuple[str, Any]]]] = {}

    # ------------------------------------------------------------------ cursor state

    def load_cursor(self, resource: str) -> Cursor:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    SyncState.cursor_updated_at, SyncState.cursor_id, SyncState.cursor_exact
                ).where(SyncState.resource == resource)
            ).first()
        if row is None or row.cursor_updated_at is None:
            return Cursor()
        return Cursor(from_datetime(row.cursor_updated_at), row.cursor_id, bool(row.cursor_exact))

    def set_status(
        self,
        resource: str,
        status: str,
        *,
        run_id: int | None = None,
        error: str | None = None,
        success: bool = False,
        attempt: bool = False,
    ) -> None:
        now = _utcnow()
        values: dict[str, Any] = {"status": status, "last_error": error}
        if run_id is not None:
            values["last_run_id"] = run_id
        if success:
            values["last_success_at"] = now
        if attempt:
            values["last_attempt_at"] = now
        with self.engine.begin() as conn:
            self._upsert_state(conn, resource, values)

    def _upsert_state(self, conn: Connection, resource: str, values: dict[str, Any]) -> None:
        table = SyncState.__table__
        stmt = _dialect_insert(conn, table).values(resource=resource, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["resource"], set_=values))

    # ------------------------------------------------------------------ bulk loading

    def is_empty(self, resource: str) -> bool:
        table = resource_table(resource)
        with self.engine.connect() as conn:
            return conn.execute(select(table.c.id).limit(1)).first() is None

    def drop_indexes(self, resource: str) -> None:
        """Drop a table's secondary indexes before loading it from empty.

        Keeping three indexes current row by row costs about 20 us a row on SQLite;
        building them once after the load costs a few seconds for half a million rows.
        """
        with begin_write(self.engine) as conn:
            for index in resource_table(resource).indexes:
                index.drop(conn, checkfirst=True)

    def ensure_indexes(self, resource: str) -> None:
        """Create any secondary index that is missing (after a bulk load, or a crash in one)."""
        with begin_write(self.engine) as conn:
            for index in resource_table(resource).indexes:
                index.create(conn, checkfirst=True)

    # ------------------------------------------------------------------ runs

    def start_run(self, trigger: str) -> int:
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    SyncRun.__table__.insert()
                    .values(trigger=trigger, status="running", started_at=_utcnow())
                    .returning(SyncRun.__table__.c.id)
                ).scalar_one()
            )

    def finish_run(
        self, run_id: int, status: str, details: dict[str, Any], error: str | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(SyncRun.__table__)
                .where(SyncRun.__table__.c.id == run_id)
                .values(status=status, details=details, error=error, finished_at=_utcnow())
            )

    # ------------------------------------------------------------------ pages

    def commit_page(
        self,
        resource: str,
        page: ValidatedPage,
        cursor: Cursor,
        run_id: int | None,
        *,
        server_precision: int | None = None,
    ) -> PageResult:
        """Upsert the page's rows, record its rejects and flags, move the cursor: atomically."""
        return self.commit_pages([(resource, page, cursor, server_precision)], run_id)[0]

    def commit_pages(
        self,
        pages: Sequence[tuple[str, ValidatedPage, Cursor, int | None]],
        run_id: int | None,
    ) -> list[PageResult]:
        """Several pages in one transaction (fewer commits when the writer is behind).

        Each page still goes in whole with its cursor; a resource's cursor only ever
        points at the last of its pages in the transaction, in page order.
        """
        now = _utcnow()
        results = []
        cursors: dict[str, dict[str, Any]] = {}
        with begin_write(self.engine) as conn:
            for resource, page, cursor, server_precision in pages:
                if resource == "interventions":
                    upserted = _merge_interventions(conn, page.rows, now)
                else:
                    upserted = self._upsert_rows(conn, resource, page.rows)
                _record_rejects(conn, resource, page.rejects, run_id, now)
                _record_flags(conn, resource, page.flags, now)
                state: dict[str, Any] = {
                    "cursor_updated_at": None
                    if cursor.updated_at_us is None
                    else to_datetime(cursor.updated_at_us),
                    "cursor_id": cursor.id,
                    "cursor_exact": cursor.exact,
                    "status": "running",
                    "last_run_id": run_id,
                }
                if server_precision is not None:
                    state["server_time_precision"] = server_precision
                # Within one transaction only a resource's last cursor matters.
                cursors[resource] = state
                deleted = sum(1 for r in page.rows if r.get("deleted_at") is not None)
                results.append(PageResult(upserted, deleted, len(page.rejects), len(page.flags)))
            for resource, state in cursors.items():
                self._upsert_state(conn, resource, state)
        return results

    def _upsert_rows(self, conn: Connection, resource: str, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        if self._sqlite:
            self._upsert_sqlite(conn, resource, rows)
            return len(rows)
        table = resource_table(resource)
        names = RESOURCES[resource].field_names
        params = [python_values(resource, r) for r in rows]
        stmt = postgresql.insert(table) if conn.dialect.name == "postgresql" else None
        if stmt is None:
            raise NotImplementedError(f"no upsert for dialect {conn.dialect.name}")
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={n: stmt.excluded[n] for n in names if n != "id"},
            # Never let an older version overwrite a newer one (a re-delivered page
            # after a newer sync is possible when runs overlap on a team database).
            where=table.c.updated_at <= stmt.excluded.updated_at,
        )
        conn.execute(stmt, params)
        return len(rows)

    def _fast_sqlite(self, resource: str) -> tuple[str, str, list[tuple[str, Any]]]:
        """The pieces of a multi-row upsert for ``resource``: head, tail, converters."""
        cached = self._fast.get(resource)
        if cached is not None:
            return cached
        res = RESOURCES[resource]
        names = res.field_names
        cols = ", ".join(f'"{n}"' for n in names)
        sets = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n != "id")
        head = f'INSERT INTO "{resource}" ({cols}) VALUES '
        tail = (
            f' ON CONFLICT ("id") DO UPDATE SET {sets} '
            f'WHERE excluded."updated_at" >= "{resource}"."updated_at"'
        )
        # Timestamps are storage text already and REAL columns take decimal strings as
        # numbers (type affinity); only dates and string lists need converting.
        converters = [
            (f.name, _SQLITE_CONVERTERS[f.kind]) for f in res.fields if f.kind in _SQLITE_CONVERTERS
        ]
        self._fast[resource] = (head, tail, converters)
        return head, tail, converters

    def _upsert_sqlite(self, conn: Connection, resource: str, rows: list[dict[str, Any]]) -> None:
        """Multi-row VALUES statements, not executemany.

        executemany gives the GIL back around every row's step and must win it back for
        the next; with fetch threads validating pages meanwhile that handover costs
        milliseconds per row. One statement of a few hundred rows binds under the GIL
        once, then runs in SQLite without it (and is twice as fast even alone).
        """
        head, tail, converters = self._fast_sqlite(resource)
        names = RESOURCES[resource].field_names
        for name, conv in converters:
            for row in rows:
                value = row[name]
                if value is not None:
                    row[name] = conv(value)
        per_row = "(" + ", ".join("?" for _ in names) + ")"
        step = max(1, SQLITE_MAX_PARAMS // len(names))
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            params = [row[n] for row in chunk for n in names]
            conn.exec_driver_sql(head + ", ".join([per_row] * len(chunk)) + tail, tuple(params))


# ---------------------------------------------------------------------- converters


def _sqlite_date(value: date) -> str:
    return value.isoformat()


def _json_list(value: list[str]) -> str:
    return orjson.dumps(value).decode()


# Timestamps arrive as UTC text in the storage format already (records.utc_text).
_SQLITE_CONVERTERS: dict[Kind, Callable[[Any], Any]] = {
    Kind.DATE: _sqlite_date,
    Kind.STR_LIST: _json_list,
}


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def python_values(resource: str, row: dict[str, Any]) -> dict[str, Any]:
    """A validated row as SQLAlchemy bind values (datetimes, floats), every column set."""
    out: dict[str, Any] = {}
    for f in RESOURCES[resource].fields:
        value = row.get(f.name)
        if value is not None:
            if f.kind is Kind.TIMESTAMP:
                value = _ts(value)
            elif f.kind is Kind.DECIMAL:
                value = float(value)
        out[f.name] = value
    return out


def _dialect_insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for dialect {conn.dialect.name}")


# ---------------------------------------------------------------------- side tables


def _record_rejects(
    conn: Connection, resource: str, rejects: list[Reject], run_id: int | None, now: datetime
) -> None:
    if not rejects:
        return
    table = RejectRow.__table__
    for rej in rejects:
        stmt = _dialect_insert(conn, table).values(
            resource=resource,
            record_id=rej.record_id,
            reason=rej.reason,
            raw=rej.raw,
            raw_sha1=hashlib.sha1(rej.raw.encode("utf-8", "replace")).hexdigest(),
            first_seen_at=now,
            last_seen_at=now,
            seen_count=1,
            sync_run_id=run_id,
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["resource", "raw_sha1"],
                set_={
                    "last_seen_at": now,
                    "seen_count": table.c.seen_count + 1,
                    "reason": rej.reason,
                    "sync_run_id": run_id,
                },
            )
        )


def _record_flags(conn: Connection, resource: str, flags: list[Flag], now: datetime) -> None:
    if not flags:
        return
    table = FlaggedValue.__table__
    for flag in flags:
        stmt = _dialect_insert(conn, table).values(
            resource=resource,
            record_id=flag.record_id,
            field=flag.field,
            value=flag.value,
            first_seen_at=now,
            last_seen_at=now,
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["resource", "record_id", "field"],
                set_={"value": flag.value, "last_seen_at": now},
            )
        )


# ---------------------------------------------------------------------- interventions


def _merge_interventions(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> int:
    """Interventions are also written locally, so they merge by idempotency key.

    A local row with a change not yet accepted by the server (``pending``) keeps the
    user's edit *and* the lock_version it was based on, so the outbox's PATCH meets the
    server's newer version as a 409 instead of silently overwriting a colleague's
    change; only a missing server id is filled in.
    """
    if not rows:
        return 0
    table = Intervention.__table__
    params = []
    for row in rows:
        values = python_values("interventions", row)
        # Every record the API creates has a key; one that somehow lacks it still needs
        # a stable one here (NOT NULL, and the merge is keyed on it).
        values["idempotency_key"] = values.get("idempotency_key") or f"server:{values['id']}"
        values["pending"] = False
        values["local_updated_at"] = now
        params.append(values)
    stmt = _dialect_insert(conn, table)
    updatable = [n for n in RESOURCES["interventions"].field_names if n != "idempotency_key"]
    stmt = stmt.on_conflict_do_update(
        index_elements=["idempotency_key"],
        set_={n: stmt.excluded[n] for n in [*updatable, "local_updated_at"]},
        where=(table.c.pending == false())
        & or_(table.c.updated_at.is_(None), table.c.updated_at <= stmt.excluded.updated_at),
    )
    conn.execute(stmt, params)
    has_pending = conn.execute(
        select(table.c.local_id).where(table.c.pending == true(), table.c.id.is_(None)).limit(1)
    ).first()
    if has_pending is not None:
        conn.execute(
            update(table)
            .where(
                table.c.idempotency_key == bindparam("key"),
                table.c.pending == true(),
                table.c.id.is_(None),
            )
            .values(id=bindparam("server_id")),
            [{"key": p["idempotency_key"], "server_id": p["id"]} for p in params],
        )
    return len(rows)
