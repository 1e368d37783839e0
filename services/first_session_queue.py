"""The queue of upcoming first sessions, riskiest first, and "Send prep email".

Rows come from the newest scoring run's first-session predictions (P(poor rating), its
tier and no-show risk) joined with the tutor's tier and the student's age. Sending the
prep e-mail opens the ``automated_coaching`` intervention through the workflow
(``services.intervention_workflow.open_intervention``): its SLA is a fixed deadline at
the session's start (DOMAIN.md: "24 h, or before the session"), it is assigned to the
tutor's manager, audited, and written back to the API through the outbox like every
other intervention. The source key is the one the automatic policy uses
(``first_session_risk:session:<id>``), so a hand-sent prep and an automatic one are the
same intervention, never two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from services.db.models import (
    Customer,
    FirstSessionPrediction,
    Intervention,
    Tutor,
    TutoringSession,
    TutorPrediction,
)
from services.intervention_settings import InterventionSettings
from services.intervention_workflow import OPEN_STATUSES, open_intervention
from services.interventions import InterventionInputError
from services.tutors import latest_run

PREP_TYPE = "automated_coaching"


def prep_key(session_id: int) -> str:
    return f"first_session_risk:session:{session_id}"


@dataclass(frozen=True)
class FirstSessionRow:
    session_id: int
    start_time: datetime | None
    tutor_id: int | None
    tutor: str
    subject: str | None
    student_age: int | None
    p_poor: float | None
    risk_tier: str | None
    noshow_risk: float | None
    tutor_tier: str | None  # the tutor's performance tier
    tutor_risk: str | None  # the tutor's churn risk tier
    why: str  # the top factors in words
    prep_sent: bool  # an open prep intervention exists for the tutor


@dataclass(frozen=True)
class FirstSessionQueue:
    rows: tuple[FirstSessionRow, ...]
    as_of: datetime | None
    days: int


def first_session_queue(engine: Engine, days: int = 7) -> FirstSessionQueue:
    """First sessions starting within ``days`` of the newest run's data, riskiest first."""
    if days < 1:
        raise ValueError("days must be at least 1")
    f, t, c = (
        FirstSessionPrediction.__table__.c,
        Tutor.__table__.c,
        Customer.__table__.c,
    )
    p, s, i = TutorPrediction.__table__.c, TutoringSession.__table__.c, Intervention.__table__.c
    with engine.connect() as conn:
        run = latest_run(conn)
        if run is None:
            return FirstSessionQueue((), None, days)
        rows = conn.execute(
            select(
                f.session_id,
                f.start_time,
                f.tutor_id,
                f.subject,
                f.p_poor,
                f.risk_tier,
                f.noshow_risk,
                f.factors,
                t.name.label("tutor"),
                c.student_age,
                p.performance_tier,
                p.risk_tier.label("tutor_risk"),
                s.status.label("session_status"),
            )
            .select_from(
                FirstSessionPrediction.__table__.outerjoin(Tutor.__table__, t.id == f.tutor_id)
                .outerjoin(Customer.__table__, c.id == f.customer_id)
                .outerjoin(
                    TutorPrediction.__table__, (p.tutor_id == f.tutor_id) & (p.run_id == run.id)
                )
                .outerjoin(TutoringSession.__table__, s.id == f.session_id)
            )
            .where(
                f.run_id == run.id,
                f.start_time >= run.as_of,
                f.start_time < run.as_of + timedelta(days=days),
            )
        ).all()
        open_preps = {
            int(tid)
            for (tid,) in conn.execute(
                select(i.tutor_id).where(
                    i.intervention_type == PREP_TYPE,
                    i.status.in_(OPEN_STATUSES),
                    i.deleted_at.is_(None),
                )
            ).all()
            if tid is not None
        }
    out = []
    for r in rows:
        if r.session_status not in (None, "scheduled"):
            continue  # cancelled (or held) since it was scored
        why = "; ".join(str(x.get("text", "")) for x in (r.factors or [])[:3] if x.get("text"))
        out.append(
            FirstSessionRow(
                session_id=int(r.session_id),
                start_time=r.start_time,
                tutor_id=r.tutor_id,
                tutor=r.tutor or (f"Tutor {r.tutor_id}" if r.tutor_id else "–"),
                subject=r.subject,
                student_age=r.student_age,
                p_poor=r.p_poor,
                risk_tier=r.risk_tier,
                noshow_risk=r.noshow_risk,
                tutor_tier=r.performance_tier,
                tutor_risk=r.tutor_risk,
                why=why,
                prep_sent=r.tutor_id is not None and int(r.tutor_id) in open_preps,
            )
        )
    far = datetime.max.replace(tzinfo=UTC)
    out.sort(key=lambda r: (-(r.p_poor if r.p_poor is not None else -1.0), r.start_time or far))
    return FirstSessionQueue(tuple(out), run.as_of, days)


def send_prep_email(
    engine: Engine,
    session_id: int,
    *,
    actor: str,
    settings: InterventionSettings | None = None,
    now: datetime | None = None,
) -> int:
    """Open the prep-email intervention for this first session's tutor, due when the
    session starts; returns its local id. Refused (InterventionInputError) for an
    unknown or unscored session, one that has started, or a prep already open."""
    f, p = FirstSessionPrediction.__table__.c, TutorPrediction.__table__.c
    with engine.connect() as conn:
        row = conn.execute(
            select(f.run_id, f.tutor_id, f.start_time, f.p_poor, f.subject)
            .where(f.session_id == session_id)
            .order_by(f.run_id.desc())
            .limit(1)
        ).first()
        if row is None:
            raise InterventionInputError(
                f"session {session_id} is not an upcoming first session with a prediction"
            )
        if row.tutor_id is None or row.start_time is None:
            raise InterventionInputError(f"session {session_id} has no tutor or no start time")
        risk = conn.execute(
            select(p.p_churn_30d).where(p.run_id == row.run_id, p.tutor_id == row.tutor_id)
        ).scalar()
    chance = "" if row.p_poor is None else f" at {row.p_poor:.0%} risk of a poor rating"
    reason = (
        f"First session{' in ' + row.subject if row.subject else ''} "
        f"{row.start_time.astimezone(UTC):%a %d %b %H:%M} UTC{chance}: "
        "send the prep e-mail before it starts"
    )
    return open_intervention(
        engine,
        tutor_id=int(row.tutor_id),
        intervention_type=PREP_TYPE,
        reason=reason,
        actor=actor,
        settings=settings,
        now=now,
        session_at=row.start_time,
        source_alert_key=prep_key(session_id),
        risk=risk,
    )


def describe(row: FirstSessionRow) -> dict[str, Any]:
    """JSON-ready (the CSV export and the CLI)."""
    return {
        "session_id": row.session_id,
        "start_time": row.start_time.isoformat() if row.start_time else None,
        "tutor": row.tutor,
        "subject": row.subject,
        "student_age": row.student_age,
        "p_poor": row.p_poor,
        "risk_tier": row.risk_tier,
        "tutor_tier": row.tutor_tier,
    }
