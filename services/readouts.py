"""Read-outs of the latest predictions, for `tutormax tutor show`, `first-sessions` and support.

Plain dicts of JSON-ready values; the CLI prints them as text or JSON, and the GUI's view
models can use the same queries.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, String, cast, func, select

from services.db.models import (
    FirstSessionPrediction,
    Manager,
    ScoringRun,
    Tutor,
    TutorPrediction,
)


class ReadoutError(LookupError):
    """Nothing to show (unknown tutor, ambiguous name, nothing scored yet)."""


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def find_tutor(engine: Engine, key: str) -> dict[str, Any]:
    """A tutor by id or by (part of) name; an ambiguous name lists the candidates."""
    key = key.strip()
    with engine.connect() as conn:
        q = select(Tutor.id, Tutor.name, Tutor.status, Tutor.subjects, Tutor.manager_id,
                   Tutor.hired_at).where(Tutor.deleted_at.is_(None))  # fmt: skip
        if key.isdigit():
            rows = conn.execute(q.where(Tutor.id == int(key))).all()
        else:
            needle = f"%{key.lower()}%"
            rows = conn.execute(
                q.where(func.lower(cast(Tutor.name, String)).like(needle)).order_by(Tutor.id)
            ).all()
            exact = [r for r in rows if (r.name or "").lower() == key.lower()]
            rows = exact or rows
    if not rows:
        raise ReadoutError(f"no tutor matches {key!r}")
    if len(rows) > 1:
        names = ", ".join(f"{r.name} (#{r.id})" for r in rows[:10])
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        raise ReadoutError(f"{key!r} matches several tutors: {names}{more}; give the id")
    r = rows[0]
    return {
        "id": r.id,
        "name": r.name,
        "status": r.status,
        "subjects": r.subjects or [],
        "manager_id": r.manager_id,
        "hired_at": _iso(r.hired_at),
    }


def tutor_profile(engine: Engine, key: str) -> dict[str, Any]:
    """The tutor's latest risk curve, tiers, scores and top factors, and risk over time."""
    tutor = find_tutor(engine, key)
    with engine.connect() as conn:
        manager = conn.execute(
            select(Manager.name).where(Manager.id == tutor["manager_id"])
        ).scalar()
        history = conn.execute(
            select(TutorPrediction.__table__)
            .join(ScoringRun, ScoringRun.id == TutorPrediction.run_id)
            .where(TutorPrediction.tutor_id == tutor["id"], ScoringRun.status == "ok")
            .order_by(TutorPrediction.as_of, TutorPrediction.run_id)
        ).all()
    if not history:
        raise ReadoutError(
            f"{tutor['name']} (#{tutor['id']}) has not been scored"
            + (" (not an active tutor)" if tutor["status"] != "active" else "; run tutormax score")
        )
    p = history[-1]
    return {
        "tutor": tutor | {"manager": manager},
        "as_of": _iso(p.as_of),
        "run_id": p.run_id,
        "churn": {
            "7d": p.p_churn_7d,
            "14d": p.p_churn_14d,
            "30d": p.p_churn_30d,
            "90d": p.p_churn_90d,
        },
        "risk_tier": p.risk_tier,
        "performance": {"score": p.performance_score, "tier": p.performance_tier},
        "health": {"score": p.health_score, "segment": p.segment},
        "predicted_sessions_next_week": p.predicted_sessions_next_week,
        "burnout": p.burnout,
        "noshow_risk": p.noshow_risk,
        "factors": p.factors or [],
        "metrics": p.metrics or {},
        "model_version": p.model_version,
        "history": [
            {"as_of": _iso(h.as_of), "p_churn_30d": h.p_churn_30d, "risk_tier": h.risk_tier}
            for h in history
        ],
    }


def upcoming_first_sessions(engine: Engine, days: int = 7) -> dict[str, Any]:
    """First sessions starting within ``days`` of the latest run's data, riskiest first."""
    if days < 1:
        raise ValueError("days must be at least 1")
    with engine.connect() as conn:
        run = conn.execute(
            select(ScoringRun.id, ScoringRun.as_of)
            .where(ScoringRun.status == "ok")
            .order_by(ScoringRun.id.desc())
            .limit(1)
        ).first()
        if run is None:
            raise ReadoutError("nothing has been scored yet; run tutormax score")
        fs = FirstSessionPrediction
        rows = conn.execute(
            select(fs.__table__, Tutor.name.label("tutor_name"))
            .join(Tutor, Tutor.id == fs.tutor_id, isouter=True)
            .where(
                fs.run_id == run.id,
                fs.start_time >= run.as_of,
                fs.start_time < run.as_of + timedelta(days=days),
            )
            .order_by(fs.p_poor.desc(), fs.start_time)
        ).all()
    return {
        "as_of": _iso(run.as_of),
        "run_id": run.id,
        "days": days,
        "sessions": [
            {
                "session_id": r.session_id,
                "start_time": _iso(r.start_time),
                "tutor_id": r.tutor_id,
                "tutor": r.tutor_name,
                "customer_id": r.customer_id,
                "subject": r.subject,
                "p_poor": r.p_poor,
                "risk_tier": r.risk_tier,
                "noshow_risk": r.noshow_risk,
                "factors": r.factors or [],
            }
            for r in rows
        ],
    }
