"""Drains the outbox: local intervention writes go to the API, in order, idempotently.

A POST carries the row's idempotency key, so a retry after a lost response returns the
first record instead of making a second. A PATCH carries the lock_version the user's
edit was based on; a 409 keeps the user's change and stores the server's record beside
it for the user to settle. A server that is down stops the drain (the rest wait for the
next tick, with backoff per row); a 401 stops it and is raised.

Several drainers may share one database (two desktops and the headless worker on a
team's PostgreSQL): each item is *claimed* before it is sent, by one conditional UPDATE
that moves it from ``pending`` to ``sending`` with a lease (``next_attempt_at``). Only
the drainer whose UPDATE matched sends it, so no item goes out twice; a drainer that
dies mid-send leaves a lease that expires after :data:`CLAIM_LEASE`, and the next
drainer resends with the same idempotency key (the server answers with the first
record). Items of one intervention go in order: one that another drainer holds, or
that waits for its backoff, holds back the later ones. Every write takes the write lock
at BEGIN (``begin_write``): on SQLite a transaction that reads and then writes would
otherwise fail with "database is locked" when another drainer committed in between.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from services.api import errors
from services.api.client import RailsApiClient
from services.api.rails_time import TimestampError, parse_us, to_datetime
from services.db.engine import begin_write
from services.db.models import Intervention, OutboxItem

log = logging.getLogger(__name__)

# Statuses of an item not yet through: waiting, or claimed by a drainer.
OPEN_STATUSES = ("pending", "sending")
# How long a claim holds. A send is one request with a few retries (well under a
# minute); the margin covers clocks of machines sharing the database drifting apart.
CLAIM_LEASE = timedelta(minutes=15)


@dataclass(slots=True)
class DrainReport:
    sent: int = 0
    failed: int = 0
    conflicts: int = 0
    deferred: int = 0
    remaining: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "conflicts": self.conflicts,
            "deferred": self.deferred,
            "remaining": self.remaining,
        }


def _now() -> datetime:
    return datetime.now(UTC)


def drain_outbox(engine: Engine, client: RailsApiClient, *, limit: int = 200) -> DrainReport:
    report = DrainReport()
    with engine.connect() as conn:
        items = conn.execute(
            select(OutboxItem.__table__)
            .where(OutboxItem.status.in_(OPEN_STATUSES))
            .order_by(OutboxItem.id)
            .limit(limit)
        ).all()
    blocked: set[int] = set()  # interventions whose earlier item did not go through
    for item in items:
        if item.intervention_local_id in blocked:
            continue
        if not _claim(engine, item.id, _now()):
            # Another drainer holds it, it was finished meanwhile, or it waits for its
            # backoff: either way the intervention's later items wait behind it.
            blocked.add(item.intervention_local_id)
            continue
        try:
            ok = _send(engine, client, item, report)
        except (errors.UnavailableError, errors.BadResponseError) as exc:
            _defer(engine, item, str(exc))
            report.deferred += 1
            log.info("outbox: API unavailable, stopping the drain: %s", exc)
            break
        except BaseException:
            _release(engine, item)  # e.g. a 401: the item is untouched for next time
            raise
        if not ok:
            blocked.add(item.intervention_local_id)
    with engine.connect() as conn:
        report.remaining = int(
            conn.execute(
                select(func.count())
                .select_from(OutboxItem)
                .where(OutboxItem.status.in_(OPEN_STATUSES))
            ).scalar_one()
        )
    return report


def _claim(engine: Engine, item_id: int, now: datetime) -> bool:
    """Take the item for this drainer; False when it is not ours to send now.

    One UPDATE whose WHERE is the whole test, so two drainers can never both match: on
    PostgreSQL the second waits for the first's row lock and re-checks the WHERE on the
    committed row; on SQLite writers are serialized.
    """
    due = or_(OutboxItem.next_attempt_at.is_(None), OutboxItem.next_attempt_at <= now)
    with begin_write(engine) as conn:
        claimed = conn.execute(
            update(OutboxItem)
            .where(
                OutboxItem.id == item_id,
                or_(
                    and_(OutboxItem.status == "pending", due),
                    # a drainer that died mid-send: its lease ran out
                    and_(OutboxItem.status == "sending", OutboxItem.next_attempt_at <= now),
                ),
            )
            .values(status="sending", next_attempt_at=now + CLAIM_LEASE)
        )
    return claimed.rowcount == 1


def _release(engine: Engine, item: Any) -> None:
    """Give a claimed item back as it was (not sent, nothing learned)."""
    with begin_write(engine) as conn:
        conn.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item.id, OutboxItem.status == "sending")
            .values(status="pending", next_attempt_at=item.next_attempt_at)
        )


def _send(engine: Engine, client: RailsApiClient, item: Any, report: DrainReport) -> bool:
    """Send one item; True when it went through (later items may follow)."""
    with engine.connect() as conn:
        local = conn.execute(
            select(Intervention.__table__).where(
                Intervention.local_id == item.intervention_local_id
            )
        ).first()
    if local is None:  # deleted locally; the FK cascade normally removed the item too
        _finish(engine, item.id, "failed", "the intervention no longer exists")
        report.failed += 1
        return False
    try:
        if item.kind == "intervention.create":
            _status, record = client.create_intervention(item.payload, item.idempotency_key)
        elif item.kind == "intervention.update":
            if local.id is None:
                _release(engine, item)
                return False  # its create has not reached the server yet
            payload = dict(item.payload, lock_version=local.lock_version)
            record = client.update_intervention(local.id, payload)
        else:
            _finish(engine, item.id, "failed", f"unknown outbox kind {item.kind!r}")
            report.failed += 1
            return False
    except errors.ConflictError as exc:
        if _already_applied(item, exc.current):
            # Our own PATCH reached the server but its answer was lost (a crash, a
            # dropped connection): the server's newer version *is* this change. Taking
            # it as sent keeps a resend from showing the user a conflict with themselves.
            with begin_write(engine) as conn:
                _apply_server_record(conn, local.local_id, exc.current, item.id)
                _finish_in(conn, item.id, "sent", None)
            report.sent += 1
            return True
        with begin_write(engine) as conn:
            conn.execute(
                update(Intervention)
                .where(Intervention.local_id == local.local_id)
                .values(conflict=exc.current)
            )
            _finish_in(conn, item.id, "conflict", str(exc))
        report.conflicts += 1
        return False
    except (errors.RequestRejectedError, errors.NotFoundError, errors.ForbiddenError) as exc:
        _finish(engine, item.id, "failed", str(exc))
        report.failed += 1
        return False
    with begin_write(engine) as conn:
        _apply_server_record(conn, local.local_id, record, item.id)
        _finish_in(conn, item.id, "sent", None)
    report.sent += 1
    return True


def _already_applied(item: Any, current: dict | None) -> bool:
    """An update whose every field already has its value on the server."""
    if item.kind != "intervention.update" or not current or not item.payload:
        return False
    return all(current.get(k) == v for k, v in item.payload.items())


def _apply_server_record(conn: Connection, local_id: int, record: dict, item_id: int) -> None:
    values: dict[str, Any] = {"id": record.get("id"), "lock_version": record.get("lock_version")}
    for name in ("created_at", "updated_at"):
        raw = record.get(name)
        if isinstance(raw, str):
            with contextlib.suppress(TimestampError):
                values[name] = to_datetime(parse_us(raw))
    still_pending = conn.execute(
        select(func.count())
        .select_from(OutboxItem)
        .where(
            OutboxItem.intervention_local_id == local_id,
            OutboxItem.status.in_(OPEN_STATUSES),
            OutboxItem.id != item_id,
        )
    ).scalar_one()
    values["pending"] = bool(still_pending)
    values["conflict"] = None
    conn.execute(update(Intervention).where(Intervention.local_id == local_id).values(**values))


def _finish(engine: Engine, item_id: int, status: str, error: str | None) -> None:
    with begin_write(engine) as conn:
        _finish_in(conn, item_id, status, error)


def _finish_in(conn: Connection, item_id: int, status: str, error: str | None) -> None:
    values: dict[str, Any] = {
        "status": status,
        "last_error": error,
        "attempts": OutboxItem.attempts + 1,
        "next_attempt_at": None,  # finished: no lease, no backoff
    }
    if status == "sent":
        values["sent_at"] = _now()
    conn.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(**values))


def _defer(engine: Engine, item: Any, error: str) -> None:
    attempts = int(item.attempts) + 1
    delay = timedelta(seconds=min(3600, 30 * 2 ** min(attempts, 7)))
    with begin_write(engine) as conn:
        conn.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item.id)
            .values(
                status="pending",
                attempts=attempts,
                last_error=error,
                next_attempt_at=_now() + delay,
            )
        )
