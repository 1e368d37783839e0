"""Reading alerts: the queue's rows, one alert's detail, and a tutor's risk history.

Plain dicts of JSON-ready values, shared by ``tutormax alerts list`` and the Alerts page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select

from services.alerts.model import SEVERITIES, SEVERITY_RANK, STATES
from services.db.models import (
    Alert,
    AuditEntry,
    CustomerPrediction,
    Manager,
    ScoringRun,
    Tutor,
    TutoringSession,
    TutorPrediction,
)

# Customer rules whose cause lies with a tutor: the tutor the detail names, so the
# alert can lead to that tutor's intervention (the customer still gets a contact).
TUTOR_CAUSED_RULES = ("customer_poor_first_session",)

# The columns the queue shows (facts and thresholds stay for the detail pane).
QUEUE_COLUMNS = (
    Alert.id,
    Alert.key,
    Alert.rule,
    Alert.subject_type,
    Alert.subject_id,
    Alert.subject_name,
    Alert.tutor_id,
    Alert.customer_id,
    Alert.manager_id,
    Alert.severity,
    Alert.priority,
    Alert.state,
    Alert.title,
    Alert.next_step,
    Alert.created_at,
    Alert.updated_at,
    Alert.snoozed_until,
    Alert.assignee,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def list_alerts(
    engine: Engine,
    *,
    states: Sequence[str] | None = None,
    severities: Sequence[str] | None = None,
    rules: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts, most urgent first (severity, then priority, then newest).

    ``states`` defaults to the open ones. Unknown states or severities raise ValueError
    with the allowed values, rather than silently matching nothing.
    """
    states = list(states) if states else ["active", "acknowledged"]
    bad = [s for s in states if s not in STATES]
    if bad:
        raise ValueError(f"unknown state {', '.join(bad)}; one of {', '.join(STATES)}")
    sev = [s.capitalize() for s in severities] if severities else None
    bad = [s for s in sev or [] if s not in SEVERITY_RANK]
    if bad:
        raise ValueError(f"unknown severity {', '.join(bad)}; one of {', '.join(SEVERITIES)}")
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    q = select(*QUEUE_COLUMNS, Manager.name.label("manager_name")).join(
        Manager, Manager.id == Alert.manager_id, isouter=True
    )
    q = q.where(Alert.state.in_(states))
    if sev:
        q = q.where(Alert.severity.in_(sev))
    if rules:
        q = q.where(Alert.rule.in_(list(rules)))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    out = [_row(r) for r in rows]
    out.sort(key=lambda a: (-SEVERITY_RANK.get(a["severity"], 0), -a["priority"], -a["id"]))
    return out[:limit] if limit else out


def queue_rows(engine: Engine, *, closed_within: timedelta = timedelta(days=30)) -> list[Any]:
    """The Alerts page's rows: every open alert and those closed within ``closed_within``,
    with the manager's name (raw rows: the view model prepares them off the GUI thread)."""
    since = datetime.now(UTC) - closed_within
    q = (
        select(*QUEUE_COLUMNS, Alert.closed_at, Manager.name.label("manager_name"))
        .join(Manager, Manager.id == Alert.manager_id, isouter=True)
        .where(or_(Alert.open_key.is_not(None), Alert.closed_at >= since))
    )
    with engine.connect() as conn:
        return list(conn.execute(q).all())


def _row(r: Any) -> dict[str, Any]:
    d = dict(r._mapping)
    for k in ("created_at", "updated_at", "snoozed_until"):
        d[k] = _iso(d[k])
    return d


def alert_detail(engine: Engine, alert_id: int) -> dict[str, Any]:
    """One alert with its facts, thresholds, audit trail and, for a tutor, the latest
    prediction's top factors and the risk history (P(churn 30 d) per scoring run)."""
    with engine.connect() as conn:
        row = conn.execute(select(Alert.__table__).where(Alert.id == alert_id)).first()
        if row is None:
            raise LookupError(f"no alert {alert_id}")
        d = dict(row._mapping)
        trail = conn.execute(
            select(AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.details)
            .where(AuditEntry.entity_type == "alert", AuditEntry.entity_id == str(alert_id))
            .order_by(AuditEntry.at, AuditEntry.id)
        ).all()
        history: list[dict[str, Any]] = []
        factors: list[dict[str, Any]] = []
        curve: dict[str, float | None] = {}
        if d["tutor_id"] is not None:
            preds = conn.execute(
                select(
                    TutorPrediction.as_of,
                    TutorPrediction.p_churn_7d,
                    TutorPrediction.p_churn_14d,
                    TutorPrediction.p_churn_30d,
                    TutorPrediction.p_churn_90d,
                    TutorPrediction.factors,
                )
                .join(ScoringRun, ScoringRun.id == TutorPrediction.run_id)
                .where(TutorPrediction.tutor_id == d["tutor_id"], ScoringRun.status == "ok")
                .order_by(TutorPrediction.as_of, TutorPrediction.run_id)
            ).all()
            history = [{"as_of": _iso(p.as_of), "p_churn_30d": p.p_churn_30d} for p in preds]
            if preds:
                last = preds[-1]
                factors = list(last.factors or [])
                curve = {
                    "7d": last.p_churn_7d,
                    "14d": last.p_churn_14d,
                    "30d": last.p_churn_30d,
                    "90d": last.p_churn_90d,
                }
        if d["tutor_id"] is None and d["customer_id"] is not None:
            # A customer alert: the customer churn model's top factors, newest run.
            factors = list(
                conn.execute(
                    select(CustomerPrediction.factors)
                    .join(ScoringRun, ScoringRun.id == CustomerPrediction.run_id)
                    .where(
                        CustomerPrediction.customer_id == d["customer_id"],
                        ScoringRun.status == "ok",
                    )
                    .order_by(CustomerPrediction.run_id.desc())
                    .limit(1)
                ).scalar()
                or []
            )
        d["related_tutor"] = None
        if d["customer_id"] is not None and d["rule"] in TUTOR_CAUSED_RULES:
            d["related_tutor"] = _first_session_tutor(conn, int(d["customer_id"]))
    for k, v in list(d.items()):
        if isinstance(v, datetime):
            d[k] = v.isoformat()
    d["audit"] = [
        {"at": _iso(a.at), "actor": a.actor, "action": a.action, "details": a.details or {}}
        for a in trail
    ]
    d["model_factors"] = factors
    d["risk_curve"] = curve
    d["risk_history"] = history
    return d


def _first_session_tutor(conn: Any, customer_id: int) -> dict[str, Any] | None:
    """The tutor of the customer's first rated session (the one the rule judged)."""
    s = TutoringSession
    row = conn.execute(
        select(s.tutor_id, Tutor.name, Tutor.manager_id)
        .join(Tutor, Tutor.id == s.tutor_id)
        .where(
            s.customer_id == customer_id,
            s.rating.is_not(None),
            s.deleted_at.is_(None),
            s.tutor_id.is_not(None),
        )
        .order_by(s.start_time, s.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    return {
        "tutor_id": int(row.tutor_id),
        "name": row.name or f"Tutor {row.tutor_id}",
        "manager_id": row.manager_id,
    }
