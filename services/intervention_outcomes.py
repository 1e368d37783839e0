"""Outcomes 30 days after an intervention was completed: retained or churned, filled in
from the synced data (DOMAIN.md "Interventions": outcome 30 days later, and the manager's
note, which stays the manager's to write).

Completion time: when this desktop completed it (the audit trail), else the server's
``updated_at`` of the completed record (a colleague's). Churn: the tutor's
``churned_at`` within the 30 days after completion.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update

from services.db.models import AuditEntry, Intervention, InterventionTracking, Tutor
from services.intervention_policy import OUTCOME_AFTER


def measure_outcomes(engine: Engine, *, now: datetime | None = None) -> dict[str, int]:
    """Record the outcome of every completed intervention whose 30 days have passed and
    whose outcome is not known yet; returns how many were retained and churned."""
    now = now or datetime.now(UTC)
    i, t, tr = Intervention.__table__.c, Tutor.__table__.c, InterventionTracking.__table__.c
    a = AuditEntry.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(i.local_id, i.updated_at, t.churned_at, tr.local_id.label("tracked"))
            .select_from(
                Intervention.__table__.outerjoin(Tutor.__table__, t.id == i.tutor_id).outerjoin(
                    InterventionTracking.__table__, tr.local_id == i.local_id
                )
            )
            .where(
                i.status == "completed",
                i.deleted_at.is_(None),
                or_(tr.outcome_result.is_(None), tr.local_id.is_(None)),
            )
        ).all()
        # When this desktop completed them (the status change in the audit trail).
        done_here: dict[int, datetime] = {}
        for entity_id, at, details in conn.execute(
            select(a.entity_id, a.at, a.details).where(
                a.entity_type == "intervention", a.action == "intervention.update"
            )
        ):
            if (details or {}).get("status") == "completed" and entity_id.isdigit():
                done_here[int(entity_id)] = max(at, done_here.get(int(entity_id), at))
    results: list[tuple[Any, str, datetime]] = []
    for r in rows:
        done = done_here.get(int(r.local_id)) or r.updated_at
        if done is None or now - done < OUTCOME_AFTER:
            continue
        churned = r.churned_at is not None and done <= r.churned_at <= done + OUTCOME_AFTER
        results.append((r, "churned" if churned else "retained", done + OUTCOME_AFTER))
    if not results:
        return {"retained": 0, "churned": 0}
    with engine.begin() as conn:
        for r, result, at in results:
            if r.tracked is None:
                conn.execute(
                    insert(InterventionTracking).values(
                        local_id=r.local_id, pauses=[], outcome_result=result, outcome_at=at
                    )
                )
            else:
                conn.execute(
                    update(InterventionTracking)
                    .where(InterventionTracking.local_id == r.local_id)
                    .values(outcome_result=result, outcome_at=at)
                )
            conn.execute(
                insert(AuditEntry).values(
                    at=now,
                    actor="tutormax",
                    action="intervention.outcome_measured",
                    entity_type="intervention",
                    entity_id=str(r.local_id),
                    details={"result": result},
                )
            )
    counts = {"retained": 0, "churned": 0}
    for _r, result, _at in results:
        counts[result] += 1
    return counts
