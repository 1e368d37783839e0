"""The intervention workflow on top of the local writes of ``services.interventions``.

Opening one (policy, SLA clock, default assignee = the tutor's manager, one open
intervention per tutor and type), moving it through its states, notes, pausing the SLA
while the team waits on the tutor, the outcome 30 days later, SLA breaches with their
escalation, and settling a 409 conflict. Every change the API knows about goes through
``update_intervention`` (local transaction + outbox row); the local-only parts (pause,
outcome result, escalation) are audited in the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from services.db.models import (
    AuditEntry,
    Intervention,
    InterventionEscalation,
    InterventionTracking,
    OutboxItem,
    Tutor,
)
from services.intervention_policy import (
    DEFAULT_POLICY,
    OUTCOME_RESULTS,
    policy_record,
    sla_clock,
)
from services.intervention_settings import InterventionSettings
from services.interventions import (
    InterventionInputError,
    create_intervention,
    update_intervention,
)
from services.sla import AroundTheClock, Pause, SlaClock, SlaError, TeamCalendar

OPEN_STATUSES = ("open", "in_progress")


def _now() -> datetime:
    return datetime.now(UTC)


def open_intervention(
    engine: Engine,
    *,
    tutor_id: int,
    intervention_type: str,
    reason: str,
    actor: str,
    settings: InterventionSettings | None = None,
    now: datetime | None = None,
    assigned_to_id: int | None = None,
    priority: int | None = None,
    session_at: datetime | None = None,
    notes: str | None = None,
    source_alert_key: str | None = None,
    risk: float | None = None,
    auto: bool = False,
    conn: Connection | None = None,
) -> int:
    """Create an intervention with the policy's SLA; returns its local id.

    Refused with a clear message: an unknown or deleted tutor, a second open
    intervention of the same type for the tutor, a session that already started.
    """
    settings = settings or InterventionSettings()
    now = now or _now()
    if intervention_type not in DEFAULT_POLICY:
        raise InterventionInputError(
            f"intervention_type: must be one of {', '.join(DEFAULT_POLICY)}"
        )
    policy = settings.policy(intervention_type)
    with _reading(engine, conn) as reader:
        tutor = reader.execute(
            select(Tutor.name, Tutor.manager_id, Tutor.deleted_at, Tutor.status).where(
                Tutor.id == tutor_id
            )
        ).first()
        if tutor is None:
            raise InterventionInputError(f"tutor: no tutor {tutor_id} in the local database")
        if tutor.deleted_at is not None:
            raise InterventionInputError(
                f"tutor: {tutor.name or tutor_id} was deleted on the server; "
                "an intervention cannot be created for them"
            )
        existing = open_for(reader, tutor_id, intervention_type)
    if existing is not None:
        raise InterventionInputError(
            f"{intervention_type.replace('_', ' ')} for {tutor.name or tutor_id} is already "
            f"open (intervention {existing}); one open intervention per tutor and type"
        )
    if session_at is not None and session_at <= now:
        raise InterventionInputError("due_at: the session has already started; the SLA is past")
    calendar = settings.team_calendar()
    clock = sla_clock(policy, now, calendar=calendar, session_at=session_at)
    due = clock.due_at()
    assert due is not None  # a new clock is never paused
    tracking = {
        "policy": policy_record(policy, calendar),
        "sla_started_at": now,
        "sla_seconds": None if clock.budget is None else int(clock.budget.total_seconds()),
        "sla_deadline": clock.deadline,
        "pauses": [],
        "auto_created": auto,
        "risk_at_creation": risk,
    }
    return create_intervention(
        engine,
        tutor_id=tutor_id,
        intervention_type=intervention_type,
        priority=policy.priority if priority is None else priority,
        due_at=due,
        assigned_to_id=assigned_to_id if assigned_to_id is not None else tutor.manager_id,
        reason=reason,
        source_alert_key=source_alert_key,
        notes=notes,
        actor=actor,
        tracking=tracking,
        conn=conn,
    )


@contextlib.contextmanager
def _reading(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    if conn is not None:
        yield conn  # inside the caller's transaction: sees its own writes
        return
    with engine.connect() as new:
        yield new


def open_for(conn: Connection, tutor_id: int, intervention_type: str) -> int | None:
    """The local id of the tutor's open intervention of this type, if any."""
    row = conn.execute(
        select(Intervention.local_id).where(
            Intervention.tutor_id == tutor_id,
            Intervention.intervention_type == intervention_type,
            Intervention.status.in_(OPEN_STATUSES),
            Intervention.deleted_at.is_(None),
        )
    ).first()
    return None if row is None else int(row[0])


# ---------------------------------------------------------------------- state changes


def set_status(engine: Engine, local_id: int, status: str, *, actor: str) -> None:
    """open -> in_progress -> completed, or cancelled; anything else is refused."""
    update_intervention(engine, local_id, actor=actor, status=status)


def add_note(
    engine: Engine, local_id: int, text: str, *, actor: str, now: datetime | None = None
) -> str:
    """Append a dated, signed line to the notes (notes are one text field on the API)."""
    if not text.strip():
        raise InterventionInputError("notes: an empty note says nothing")
    now = now or _now()
    with engine.connect() as conn:
        current = conn.execute(
            select(Intervention.notes).where(Intervention.local_id == local_id)
        ).first()
    if current is None:
        raise InterventionInputError(f"no intervention {local_id}")
    line = f"[{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC, {actor}] {text.strip()}"
    notes = f"{current.notes}\n{line}" if current.notes else line
    update_intervention(engine, local_id, actor=actor, notes=notes)
    return notes


def record_outcome(
    engine: Engine,
    local_id: int,
    result: str,
    note: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> None:
    """Retained or churned 30 days later, and the manager's note (sent as the outcome)."""
    if result not in OUTCOME_RESULTS:
        raise InterventionInputError(f"outcome: must be one of {', '.join(OUTCOME_RESULTS)}")
    now = now or _now()
    text = f"{result}: {note.strip()}" if note.strip() else result
    update_intervention(engine, local_id, actor=actor, outcome=text)
    with engine.begin() as conn:
        _ensure_tracking(conn, local_id)
        conn.execute(
            update(InterventionTracking)
            .where(InterventionTracking.local_id == local_id)
            .values(outcome_result=result, outcome_note=note.strip() or None, outcome_at=now)
        )


def pause_sla(engine: Engine, local_id: int, *, actor: str, now: datetime | None = None) -> None:
    """Stop the SLA clock while the team waits on the tutor (local only, audited)."""
    _change_pauses(engine, local_id, actor, now or _now(), pause=True)


def resume_sla(engine: Engine, local_id: int, *, actor: str, now: datetime | None = None) -> None:
    _change_pauses(engine, local_id, actor, now or _now(), pause=False)


def _change_pauses(engine: Engine, local_id: int, actor: str, now: datetime, pause: bool) -> None:
    with engine.begin() as conn:
        row = _row(conn, local_id)
        if row.status not in OPEN_STATUSES:
            raise InterventionInputError(f"the intervention is {row.status}; its SLA has stopped")
        _ensure_tracking(conn, local_id)
        row = _row(conn, local_id)
        clock = clock_of(row)
        if clock is None:
            raise InterventionInputError("this intervention has no SLA to pause")
        try:
            clock = clock.pause(now) if pause else clock.resume(now)
        except SlaError as exc:
            raise InterventionInputError(str(exc)) from None
        conn.execute(
            update(InterventionTracking)
            .where(InterventionTracking.local_id == local_id)
            .values(pauses=_pauses_json(clock.pauses))
        )
        _audit(
            conn,
            actor,
            "intervention.sla_pause" if pause else "intervention.sla_resume",
            local_id,
            {"at": now.isoformat()},
        )


# ---------------------------------------------------------------------- SLA read-out


def _pauses_json(pauses: tuple[Pause, ...]) -> list[list[str | None]]:
    return [[p.started.isoformat(), p.ended.isoformat() if p.ended else None] for p in pauses]


def _calendar_of(policy: dict[str, Any] | None) -> TeamCalendar | AroundTheClock:
    cal = (policy or {}).get("calendar")
    if not cal:
        return AroundTheClock()
    from datetime import date, time

    return TeamCalendar(
        timezone=cal["timezone"],
        workdays=frozenset(cal["workdays"]),
        start=time.fromisoformat(cal["start"]),
        end=time.fromisoformat(cal["end"]),
        holidays=frozenset(date.fromisoformat(d) for d in cal.get("holidays", ())),
    )


def clock_of(row: Any) -> SlaClock | None:
    """The SLA clock of a row joined with its tracking (``sla_*``, ``pauses``, ``policy``).

    An intervention from another desktop has no tracking: its clock is a fixed deadline
    at the API's ``due_at`` (created_at to due_at gives the amber share).
    """
    started = getattr(row, "sla_started_at", None)
    pauses = tuple(
        Pause(
            datetime.fromisoformat(a),
            datetime.fromisoformat(b) if b else None,
        )
        for a, b in (getattr(row, "pauses", None) or [])
    )
    try:
        if started is not None and getattr(row, "sla_seconds", None):
            from datetime import timedelta

            return SlaClock(
                started,
                budget=timedelta(seconds=row.sla_seconds),
                calendar=_calendar_of(row.policy),
                pauses=pauses,
            )
        if row.due_at is None:
            return None
        start = started or row.created_at or getattr(row, "local_updated_at", None) or row.due_at
        deadline = getattr(row, "sla_deadline", None) or row.due_at
        return SlaClock(min(start, deadline), deadline=deadline, pauses=pauses)
    except SlaError:
        return None


def _row(conn: Connection, local_id: int) -> Any:
    i, t = Intervention.__table__.c, InterventionTracking.__table__.c
    row = conn.execute(
        select(
            i.local_id,
            i.status,
            i.due_at,
            i.created_at,
            i.local_updated_at,
            t.policy,
            t.sla_started_at,
            t.sla_seconds,
            t.sla_deadline,
            t.pauses,
        )
        .select_from(
            Intervention.__table__.outerjoin(
                InterventionTracking.__table__, t.local_id == i.local_id
            )
        )
        .where(i.local_id == local_id)
    ).first()
    if row is None:
        raise InterventionInputError(f"no intervention {local_id}")
    return row


def _ensure_tracking(conn: Connection, local_id: int) -> None:
    """A synced-down intervention gets its tracking row when first worked on here."""
    exists = conn.execute(
        select(func.count())
        .select_from(InterventionTracking)
        .where(InterventionTracking.local_id == local_id)
    ).scalar_one()
    if not exists:
        row = _row(conn, local_id)
        start = row.created_at or row.local_updated_at or row.due_at
        conn.execute(
            insert(InterventionTracking).values(
                local_id=local_id,
                pauses=[],
                sla_started_at=start if row.due_at is not None else None,
                sla_deadline=row.due_at,
            )
        )


# ---------------------------------------------------------------------- breaches


@dataclass(frozen=True)
class Breach:
    local_id: int
    tutor_id: int | None
    intervention_type: str
    due_at: datetime
    escalated_to: str | None


def check_breaches(
    engine: Engine,
    *,
    settings: InterventionSettings | None = None,
    now: datetime | None = None,
    actor: str = "tutormax",
) -> list[Breach]:
    """Mark open interventions whose SLA ran out since the last look; escalate each to
    the configured contact once (recorded and audited). Returns the new breaches."""
    settings = settings or InterventionSettings()
    now = now or _now()
    i, t = Intervention.__table__.c, InterventionTracking.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                i.local_id,
                i.tutor_id,
                i.intervention_type,
                i.status,
                i.due_at,
                i.created_at,
                i.local_updated_at,
                t.policy,
                t.sla_started_at,
                t.sla_seconds,
                t.sla_deadline,
                t.pauses,
                t.breached_at,
            )
            .select_from(
                Intervention.__table__.outerjoin(
                    InterventionTracking.__table__, t.local_id == i.local_id
                )
            )
            .where(i.status.in_(OPEN_STATUSES), i.deleted_at.is_(None), t.breached_at.is_(None))
        ).all()
    found: list[Breach] = []
    for row in rows:
        clock = clock_of(row)
        if clock is None or clock.remaining(now).total_seconds() > 0:
            continue
        due = clock.due_at(now) or now
        found.append(
            Breach(
                int(row.local_id),
                row.tutor_id,
                row.intervention_type or "",
                due,
                settings.escalation_contact,
            )
        )
    if not found:
        return found
    with engine.begin() as conn:
        for b in found:
            _ensure_tracking(conn, b.local_id)
            conn.execute(
                update(InterventionTracking)
                .where(InterventionTracking.local_id == b.local_id)
                .values(breached_at=now)
            )
            details: dict[str, Any] = {"due_at": b.due_at.isoformat()}
            if b.escalated_to:
                reason = (
                    f"SLA breached: {b.intervention_type.replace('_', ' ')} for tutor "
                    f"{b.tutor_id} was due {b.due_at:%Y-%m-%d %H:%M} UTC"
                )
                conn.execute(
                    insert(InterventionEscalation).values(
                        intervention_local_id=b.local_id,
                        at=now,
                        contact=b.escalated_to,
                        reason=reason,
                        due_at=b.due_at,
                    )
                )
                details["escalated_to"] = b.escalated_to
            _audit(conn, actor, "intervention.sla_breach", b.local_id, details)
    return found


# ---------------------------------------------------------------------- conflicts


def resolve_conflict(engine: Engine, local_id: int, choice: str, *, actor: str) -> None:
    """Settle a 409: keep ``"mine"`` (sent again on top of the server's version) or take
    ``"theirs"`` (the server's record replaces the local change, which is dropped)."""
    if choice not in ("mine", "theirs"):
        raise InterventionInputError("choice: must be 'mine' or 'theirs'")
    with engine.begin() as conn:
        row = conn.execute(
            select(Intervention.conflict).where(Intervention.local_id == local_id)
        ).first()
        if row is None or row.conflict is None:
            raise InterventionInputError("this intervention has no conflict to settle")
        server = row.conflict
        items = OutboxItem.__table__.c
        if choice == "mine":
            # Based on the server's version now: the drain sends it with this lock_version.
            conn.execute(
                update(Intervention)
                .where(Intervention.local_id == local_id)
                .values(conflict=None, lock_version=server.get("lock_version"), pending=True)
            )
            conn.execute(
                update(OutboxItem)
                .where(items.intervention_local_id == local_id, items.status == "conflict")
                .values(status="pending", next_attempt_at=None)
            )
        else:
            values = {k: server.get(k) for k in ("status", "notes", "outcome", "lock_version")}
            conn.execute(
                update(Intervention)
                .where(Intervention.local_id == local_id)
                .values(**values, conflict=None, pending=False)
            )
            # The local edits are dropped, and so are their unsent PATCHes.
            conn.execute(
                update(OutboxItem)
                .where(
                    items.intervention_local_id == local_id,
                    items.status.in_(("conflict", "pending")),
                    items.kind == "intervention.update",
                )
                .values(status="superseded", last_error="the server's version was chosen")
            )
        _audit(conn, actor, "intervention.conflict_resolved", local_id, {"kept": choice})


def discard_rejected(engine: Engine, local_id: int, *, actor: str) -> None:
    """Drop an intervention the API refused to create (a 422): it never existed on the
    server, so nothing is sent; the audit trail keeps what it was and why it went."""
    with engine.begin() as conn:
        row = conn.execute(
            select(Intervention.id, Intervention.tutor_id, Intervention.intervention_type).where(
                Intervention.local_id == local_id
            )
        ).first()
        if row is None:
            raise InterventionInputError(f"no intervention {local_id}")
        failed = conn.execute(
            select(OutboxItem.last_error).where(
                OutboxItem.intervention_local_id == local_id,
                OutboxItem.kind == "intervention.create",
                OutboxItem.status == "failed",
            )
        ).first()
        if row.id is not None or failed is None:
            raise InterventionInputError(
                "only an intervention the API refused to create can be discarded"
            )
        _audit(
            conn,
            actor,
            "intervention.discarded",
            local_id,
            {
                "tutor_id": row.tutor_id,
                "intervention_type": row.intervention_type,
                "refused_because": failed.last_error,
            },
        )
        conn.execute(Intervention.__table__.delete().where(Intervention.local_id == local_id))


def _audit(conn: Connection, actor: str, action: str, local_id: int, details: dict) -> None:
    conn.execute(
        insert(AuditEntry).values(
            at=_now(),
            actor=actor,
            action=action,
            entity_type="intervention",
            entity_id=str(local_id),
            details=details,
        )
    )
