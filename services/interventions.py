"""Local writes of interventions: a local transaction first, then an outbox row.

The user's change is saved (and visible) at once, offline or not; the outbox carries it
to the API later with an idempotency key, so a retried POST never creates a second
record. Every change is also written to the audit log with who and when.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from services.api.contract import INTERVENTION_STATUSES, INTERVENTION_TYPES
from services.db.models import AuditEntry, Intervention, InterventionTracking, OutboxItem
from services.intervention_policy import TRANSITIONS

# What a PATCH may change (RAILS_API.md).
UPDATABLE = ("status", "outcome", "notes")


class InterventionInputError(ValueError):
    """A create or update the API would refuse; the message says which field and why."""


def _now() -> datetime:
    return datetime.now(UTC)


def create_intervention(
    engine: Engine,
    *,
    tutor_id: int,
    intervention_type: str,
    priority: int,
    due_at: datetime,
    assigned_to_id: int | None,
    reason: str,
    source_alert_key: str | None = None,
    notes: str | None = None,
    actor: str,
    tracking: Mapping[str, Any] | None = None,
    conn: Connection | None = None,
) -> int:
    """Save a new intervention locally and queue its POST; returns the local id.

    ``tracking``: the local workflow row (SLA policy, risk at creation, ...), written in
    the same transaction so an intervention never exists without its SLA clock.
    ``conn``: write inside this open transaction (many at once, one commit).
    """
    problems = {}
    if intervention_type not in INTERVENTION_TYPES:
        problems["intervention_type"] = f"must be one of {', '.join(INTERVENTION_TYPES)}"
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 100:
        problems["priority"] = "must be a whole number from 0 to 100"
    if due_at.tzinfo is None:
        problems["due_at"] = "must carry a time zone"
    if not reason or not reason.strip():
        problems["reason"] = "must not be empty"
    if problems:
        raise InterventionInputError(
            "; ".join(f"{field}: {msg}" for field, msg in problems.items())
        )
    key = str(uuid.uuid4())
    now = _now()
    payload = {
        "tutor_id": tutor_id,
        "intervention_type": intervention_type,
        "priority": priority,
        "due_at": due_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "assigned_to_id": assigned_to_id,
        "reason": reason.strip(),
        "source_alert_key": source_alert_key,
        "notes": notes,
    }
    with _transaction(engine, conn) as conn:
        # Core inserts (the tables, not the ORM classes): a batch of hundreds after a
        # scoring run spent most of its time in the ORM's statement handling.
        local_id = conn.execute(
            insert(Intervention.__table__)
            .values(
                tutor_id=tutor_id,
                intervention_type=intervention_type,
                status="open",
                priority=priority,
                due_at=due_at,
                assigned_to_id=assigned_to_id,
                reason=payload["reason"],
                source_alert_key=source_alert_key,
                notes=notes,
                idempotency_key=key,
                pending=True,
                local_updated_at=now,
            )
            .returning(Intervention.__table__.c.local_id)
        ).scalar_one()
        conn.execute(
            insert(OutboxItem.__table__).values(
                kind="intervention.create",
                intervention_local_id=local_id,
                idempotency_key=key,
                payload=payload,
                status="pending",
                created_at=now,
            )
        )
        if tracking is not None:
            conn.execute(
                insert(InterventionTracking.__table__).values(local_id=local_id, **tracking)
            )
        _audit(conn, actor, "intervention.create", local_id, payload)
    return int(local_id)


def update_intervention(engine: Engine, local_id: int, *, actor: str, **changes: Any) -> None:
    """Change status/outcome/notes locally and queue the PATCH."""
    bad = set(changes) - set(UPDATABLE)
    if bad:
        raise InterventionInputError(f"cannot change {', '.join(sorted(bad))} of an intervention")
    if "status" in changes and changes["status"] not in INTERVENTION_STATUSES:
        raise InterventionInputError(f"status: must be one of {', '.join(INTERVENTION_STATUSES)}")
    now = _now()
    with engine.begin() as conn:
        row = conn.execute(
            select(Intervention.local_id, Intervention.status).where(
                Intervention.local_id == local_id
            )
        ).first()
        if row is None:
            raise InterventionInputError(f"no intervention {local_id}")
        new = changes.get("status")
        if new is not None and new != row.status and new not in TRANSITIONS.get(row.status, ()):
            allowed = ", ".join(sorted(TRANSITIONS.get(row.status, ()))) or "nothing (it is final)"
            raise InterventionInputError(
                f"status: cannot move from {row.status} to {new}; allowed: {allowed}"
            )
        conn.execute(
            update(Intervention)
            .where(Intervention.local_id == local_id)
            .values(**changes, pending=True, local_updated_at=now)
        )
        conn.execute(
            insert(OutboxItem).values(
                kind="intervention.update",
                intervention_local_id=local_id,
                idempotency_key=str(uuid.uuid4()),
                payload=changes,
                status="pending",
                created_at=now,
            )
        )
        _audit(conn, actor, "intervention.update", local_id, changes)


@contextlib.contextmanager
def _transaction(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    """The caller's transaction, or a new one committed at the end."""
    if conn is not None:
        yield conn
        return
    with engine.begin() as new:
        yield new


def _audit(conn: Connection, actor: str, action: str, local_id: int, details: dict) -> None:
    conn.execute(
        insert(AuditEntry.__table__).values(
            at=_now(),
            actor=actor,
            action=action,
            entity_type="intervention",
            entity_id=str(local_id),
            details=details,
        )
    )
