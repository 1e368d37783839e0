"""Comparing the local database with what the sandbox server shows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from services.api.client import RailsApiClient, RetryPolicy
from services.api.contract import RESOURCES
from services.api.rails_time import from_datetime
from services.db.models import resource_table
from services.sync.engine import SyncEngine

Rows = dict[int, tuple[int, int | None]]


def server_rows(world: Any, now_us: int, resource: str) -> Rows:
    """id -> (updated_at, deleted_at) of every record the API shows at ``now_us``."""
    log = world.logs[resource]
    rows = log.current_rows(now_us)
    ids, _ = log.column("id", rows)
    upd, _ = log.column("updated_at", rows)
    dele, mask = log.column("deleted_at", rows)
    out: Rows = {}
    for i, rid in enumerate(ids.tolist()):
        deleted = None if mask is not None and mask[i] else int(dele[i])
        out[int(rid)] = (int(upd[i]), deleted)
    return out


def local_rows(engine: Engine, resource: str) -> Rows:
    table = resource_table(resource)
    with engine.connect() as conn:
        result = conn.execute(select(table.c.id, table.c.updated_at, table.c.deleted_at))
        return {
            int(r.id): (
                from_datetime(r.updated_at),
                None if r.deleted_at is None else from_datetime(r.deleted_at),
            )
            for r in result
            if r.id is not None
        }


def assert_mirrors_server(engine: Engine, handle: Any, resources: Any = None) -> None:
    """The local tables hold exactly the server's records, at the server's versions.

    Timestamps compare at millisecond precision when the server emits milliseconds.
    """
    now = handle.clock.read_bound_us()
    precision = 1 if handle.server.time_precision == 6 else 1000
    for name in resources or RESOURCES:
        expected = {
            k: (u - u % precision, None if d is None else d - d % precision)
            for k, (u, d) in server_rows(handle.world, now, name).items()
        }
        got = local_rows(engine, name)
        missing = expected.keys() - got.keys()
        extra = got.keys() - expected.keys()
        stale = [k for k in expected.keys() & got.keys() if expected[k] != got[k]]
        problems = (
            f"{name}: {len(missing)} missing, {len(extra)} extra, {len(stale)} stale "
            f"(e.g. {sorted(missing)[:3]} {sorted(extra)[:3]} {stale[:3]})"
        )
        assert (missing, extra, stale) == (set(), set(), []), problems


def make_sync(
    engine: Engine, handle: Any, *, token: str | None = None, attempts: int = 4, **kw: Any
) -> SyncEngine:
    client = RailsApiClient(
        handle.base_url,
        token or handle.token,
        timeout=10,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.05),
    )
    return SyncEngine(engine, client, **kw)


def assert_indexes_complete(engine: Engine) -> None:
    """Every secondary index of the schema exists (bulk loads drop and rebuild them)."""
    from sqlalchemy import inspect

    from services.db.models import RESOURCE_TABLES

    inspector = inspect(engine)
    for name, table in RESOURCE_TABLES.items():
        expected = {ix.name for ix in table.indexes}
        present = {ix["name"] for ix in inspector.get_indexes(name)}
        assert expected <= present, f"{name}: missing indexes {sorted(expected - present)}"
