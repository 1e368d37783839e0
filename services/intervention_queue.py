"""The intervention queue as the CLI and the Interventions page read it.

Each row carries its live SLA (state, due time, time left) from the stored clock, who
handles it (the assignee's name from the synced managers: interventions synced down from
the API show who on the team is on which tutor), its sync state and the latest
escalation. Sorted overdue first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from services.db.models import (
    AuditEntry,
    Intervention,
    InterventionEscalation,
    InterventionTracking,
    Manager,
    OutboxItem,
    Tutor,
)
from services.intervention_workflow import clock_of
from services.sla import DONE, NO_SLA, countdown_text, queue_key


@dataclass(frozen=True)
class QueueRow:
    local_id: int
    remote_id: int | None
    tutor_id: int | None
    tutor_name: str
    intervention_type: str
    status: str
    priority: int | None
    due_at: datetime | None  # None while paused (it depends on when it resumes)
    sla_state: str
    remaining: timedelta | None
    countdown: str
    assigned_to_id: int | None
    assignee: str
    reason: str
    notes: str
    outcome: str
    pending: bool
    conflict: dict[str, Any] | None
    escalated_to: str | None
    source_alert_key: str | None
    created_at: datetime | None
    auto_created: bool
    policy: dict[str, Any] | None
    lock_version: int | None
    clock: Any = None  # the SlaClock (None: no SLA), for live countdowns
    # Why the API refused this intervention's last failed write (a 422's reason).
    sync_error: str | None = None
    # retained / churned 30 days after completion (measured or recorded)
    outcome_result: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.remote_id,
            "local_id": self.local_id,
            "type": self.intervention_type,
            "tutor": self.tutor_name,
            "tutor_id": self.tutor_id,
            "state": self.status,
            "sla": self.sla_state,
            "due_at": _iso(self.due_at),
            "countdown": self.countdown,
            "assignee": self.assignee,
            "assigned_to_id": self.assigned_to_id,
            "priority": self.priority,
            "created_at": _iso(self.created_at),
            "sync": self.sync_state,
            "sync_error": self.sync_error,
            "outcome_result": self.outcome_result,
            "escalated_to": self.escalated_to,
            "reason": self.reason,
        }

    @property
    def sync_state(self) -> str:
        if self.conflict:
            return "conflict"
        if self.sync_error:
            return "rejected"
        return "pending" if self.pending else "synced"


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def list_queue(
    engine: Engine,
    *,
    now: datetime | None = None,
    limit: int = 20000,
    tutor_id: int | None = None,
) -> list[QueueRow]:
    """The queue, overdue first; ``tutor_id``: only that tutor's (the tutor profile)."""
    now = now or datetime.now(UTC)
    i, t, tr, m = (
        Intervention.__table__.c,
        Tutor.__table__.c,
        InterventionTracking.__table__.c,
        Manager.__table__.c,
    )
    e = InterventionEscalation.__table__.c
    latest_escalation = (
        select(e.intervention_local_id, func.max(e.id).label("eid"))
        .group_by(e.intervention_local_id)
        .subquery()
    )
    esc = InterventionEscalation.__table__.alias("esc")
    o = OutboxItem.__table__.c
    last_failed = (
        select(o.intervention_local_id, func.max(o.id).label("oid"))
        .where(o.status == "failed")
        .group_by(o.intervention_local_id)
        .subquery()
    )
    failed = OutboxItem.__table__.alias("failed")
    query = (
        select(
            i.local_id,
            i.id.label("remote_id"),
            i.tutor_id,
            t.name.label("tutor_name"),
            i.intervention_type,
            i.status,
            i.priority,
            i.due_at,
            i.assigned_to_id,
            m.name.label("assignee"),
            i.reason,
            i.notes,
            i.outcome,
            i.pending,
            i.conflict,
            i.source_alert_key,
            i.created_at,
            i.local_updated_at,
            i.lock_version,
            tr.policy,
            tr.sla_started_at,
            tr.sla_seconds,
            tr.sla_deadline,
            tr.pauses,
            tr.auto_created,
            esc.c.contact.label("escalated_to"),
            failed.c.last_error.label("sync_error"),
            tr.outcome_result,
        )
        .select_from(
            Intervention.__table__.outerjoin(Tutor.__table__, t.id == i.tutor_id)
            .outerjoin(Manager.__table__, m.id == i.assigned_to_id)
            .outerjoin(InterventionTracking.__table__, tr.local_id == i.local_id)
            .outerjoin(latest_escalation, latest_escalation.c.intervention_local_id == i.local_id)
            .outerjoin(esc, esc.c.id == latest_escalation.c.eid)
            .outerjoin(last_failed, last_failed.c.intervention_local_id == i.local_id)
            .outerjoin(failed, failed.c.id == last_failed.c.oid)
        )
        .where(i.deleted_at.is_(None))
        .order_by(i.local_id.desc())
        .limit(limit)
    )
    if tutor_id is not None:
        query = query.where(i.tutor_id == tutor_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    out = [_row(r, now) for r in rows]
    out.sort(key=lambda q: queue_key(q.sla_state, q.due_at, q.remaining))
    return out


def _row(r: Any, now: datetime) -> QueueRow:
    status = r.status or ""
    clock = clock_of(r)
    if clock is None:
        state = DONE if status in ("completed", "cancelled") else NO_SLA
        due, remaining = r.due_at, None
    else:
        state = clock.state(now, status)
        due, remaining = clock.due_at(now), clock.remaining(now)
    if state == DONE:
        remaining = None
    return QueueRow(
        local_id=int(r.local_id),
        remote_id=r.remote_id,
        tutor_id=r.tutor_id,
        tutor_name=r.tutor_name or (f"Tutor {r.tutor_id}" if r.tutor_id else "–"),
        intervention_type=r.intervention_type or "",
        status=status,
        priority=r.priority,
        due_at=due,
        sla_state=state,
        remaining=remaining,
        countdown=countdown_text(remaining, state),
        assigned_to_id=r.assigned_to_id,
        assignee=r.assignee
        or (f"Manager {r.assigned_to_id}" if r.assigned_to_id else "unassigned"),
        reason=r.reason or "",
        notes=r.notes or "",
        outcome=r.outcome or "",
        pending=bool(r.pending),
        conflict=r.conflict,
        escalated_to=r.escalated_to,
        source_alert_key=r.source_alert_key,
        created_at=r.created_at or r.sla_started_at or r.local_updated_at,
        auto_created=bool(r.auto_created),
        policy=r.policy,
        lock_version=r.lock_version,
        clock=clock,
        sync_error=r.sync_error,
        outcome_result=r.outcome_result,
    )


def history(engine: Engine, local_id: int) -> list[dict[str, Any]]:
    """The audit trail of one intervention, oldest first."""
    a = AuditEntry.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(a.at, a.actor, a.action, a.details)
            .where(a.entity_type == "intervention", a.entity_id == str(local_id))
            .order_by(a.id)
        ).all()
    return [
        {"at": r.at, "actor": r.actor, "action": r.action, "details": r.details or {}} for r in rows
    ]
