"""What `tutormax status` and the System page show about the local copy of the API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from services.api.contract import SYNC_ORDER
from services.db.models import FlaggedValue, OutboxItem, Reject, SyncRun, SyncState, resource_table


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def sync_status(engine: Engine) -> dict[str, Any]:
    """Cursors, last success, row counts, rejects and outbox depth, as plain data."""
    with engine.connect() as conn:
        states = {s.resource: s for s in conn.execute(select(SyncState.__table__))}
        rejects = dict(
            conn.execute(
                select(Reject.resource, func.count())
                .where(Reject.resolved_at.is_(None))
                .group_by(Reject.resource)
            ).all()
        )
        flags = dict(
            conn.execute(
                select(FlaggedValue.resource, func.count()).group_by(FlaggedValue.resource)
            ).all()
        )
        resources: dict[str, Any] = {}
        for name in SYNC_ORDER:
            table = resource_table(name)
            rows, tombstones = conn.execute(
                select(
                    func.count(),
                    func.count(table.c.deleted_at),
                )
            ).one()
            st = states.get(name)
            resources[name] = {
                "rows": int(rows) - int(tombstones),
                "deleted": int(tombstones),
                "rejects": int(rejects.get(name, 0)),
                "flagged": int(flags.get(name, 0)),
                "status": st.status if st else "never",
                "cursor_updated_at": _iso(st.cursor_updated_at) if st else None,
                "cursor_id": st.cursor_id if st else None,
                "cursor_exact": bool(st.cursor_exact) if st else None,
                "last_success_at": _iso(st.last_success_at) if st else None,
                "last_attempt_at": _iso(st.last_attempt_at) if st else None,
                "last_error": st.last_error if st else None,
            }
        outbox = dict(
            conn.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all()
        )
        last_run = conn.execute(
            select(SyncRun.__table__).order_by(SyncRun.id.desc()).limit(1)
        ).first()
    return {
        "database": _describe_database(engine),
        "resources": resources,
        "outbox": {k: int(v) for k, v in outbox.items()},
        "outbox_depth": int(sum(v for k, v in outbox.items() if k in ("pending", "sending"))),
        "last_run": None
        if last_run is None
        else {
            "id": last_run.id,
            "trigger": last_run.trigger,
            "status": last_run.status,
            "started_at": _iso(last_run.started_at),
            "finished_at": _iso(last_run.finished_at),
            "error": last_run.error,
        },
    }


def _describe_database(engine: Engine) -> dict[str, Any]:
    url = make_url(str(engine.url))
    out: dict[str, Any] = {
        "url": url.render_as_string(hide_password=True),
        "dialect": engine.dialect.name,
    }
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        out["size_bytes"] = sum(
            p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
        )
    return out
