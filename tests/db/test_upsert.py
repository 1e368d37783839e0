"""The upserts the sync relies on, with each backend's INSERT ... ON CONFLICT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from services.db.models import Intervention, Reject, resource_table

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def dialect_insert(conn: Connection, table):  # type: ignore[no-untyped-def]
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def upsert_by_id(conn: Connection, name: str, rows: list[dict]) -> None:
    table = resource_table(name)
    stmt = dialect_insert(conn, table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name != "id"}
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=updates), rows)


def session(id_: int, **values: object) -> dict:
    row = {c.name: None for c in resource_table("sessions").columns}
    return {**row, "id": id_, "updated_at": T0, **values}


def test_upsert_on_id_inserts_then_updates(migrated: Engine) -> None:
    sessions = resource_table("sessions")
    with migrated.begin() as conn:
        upsert_by_id(conn, "sessions", [session(1, status="scheduled"), session(2)])
    with migrated.begin() as conn:
        # Re-delivered (the cursor trails the stored microseconds) plus a real change
        # and a soft delete: still two rows, newest values win.
        upsert_by_id(conn, "sessions", [
            session(1, status="completed", rating=5, updated_at=T0 + timedelta(seconds=1)),
            session(2, deleted_at=T0 + timedelta(seconds=2)),
            session(2, deleted_at=T0 + timedelta(seconds=2)),
        ])  # fmt: skip
    with migrated.connect() as conn:
        rows = conn.execute(
            select(
                sessions.c.id, sessions.c.status, sessions.c.rating, sessions.c.deleted_at
            ).order_by(sessions.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "completed", 5, None),
        (2, None, None, T0 + timedelta(seconds=2)),
    ]


def test_a_session_may_arrive_before_its_tutor(migrated: Engine) -> None:
    with migrated.begin() as conn:
        upsert_by_id(conn, "sessions", [session(1, tutor_id=424242, customer_id=99)])
        count = conn.execute(select(func.count()).select_from(resource_table("tutors")))
        assert count.scalar() == 0


def test_interventions_upsert_on_the_idempotency_key(migrated: Engine) -> None:
    # Created locally (no server id yet), then the server's copy arrives by sync.
    with migrated.begin() as conn:
        local_id = conn.execute(
            dialect_insert(conn, Intervention.__table__).returning(Intervention.local_id),
            {"idempotency_key": "key-1", "tutor_id": 5, "status": "open", "pending": True},
        ).scalar_one()
    server = {"idempotency_key": "key-1", "id": 812, "tutor_id": 5, "status": "in_progress",
              "lock_version": 1, "created_at": T0, "updated_at": T0}  # fmt: skip
    for _ in range(2):  # idempotent
        with migrated.begin() as conn:
            stmt = dialect_insert(conn, Intervention.__table__)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["idempotency_key"],
                    set_={k: stmt.excluded[k] for k in server if k != "idempotency_key"}
                    | {"pending": False},
                ),
                server,
            )
    with migrated.connect() as conn:
        row = conn.execute(select(Intervention.__table__)).one()
    assert (row.local_id, row.id, row.status, row.lock_version, row.pending) == (
        local_id,
        812,
        "in_progress",
        1,
        False,
    )
    assert row.updated_at == T0


def test_a_reject_served_every_sync_is_one_row_with_a_count(migrated: Engine) -> None:
    rejects = Reject.__table__
    for i in range(3):
        with migrated.begin() as conn:
            stmt = dialect_insert(conn, rejects)
            seen = T0 + timedelta(hours=i)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["resource", "raw_sha1"],
                    set_={"seen_count": rejects.c.seen_count + 1, "last_seen_at": seen},
                ),
                {"resource": "sessions", "record_id": None, "reason": "id: missing",
                 "raw": "{}", "raw_sha1": "bf21a9e8fbc5a3846fb05b4fa0859e0917b2202f",
                 "first_seen_at": seen, "last_seen_at": seen},
            )  # fmt: skip
    with migrated.connect() as conn:
        row = conn.execute(select(rejects)).one()
    assert (row.seen_count, row.first_seen_at, row.last_seen_at) == (3, T0, T0 + timedelta(hours=2))
