"""Interventions created automatically after a scoring run (DOMAIN.md "Interventions").

Triggers come from the alerts that fired in this evaluation (``services.alerts``: one
alert per rule and subject, with cooldowns, so a trigger does not fire every 15 minutes)
and from changes between the latest scoring run and the one before (a tutor who entered
Medium risk, rose a performance tier). Upcoming high-risk first sessions get a prep
e-mail due before the session. While the alert engine has never written an alert (it
is switched off, or this database predates it), the latest predictions stand in for the
churn alerts so that Critical tutors are never left without their manager coaching.

One open intervention per tutor and type: an existing one is never duplicated. A
per-type random hold-out share leaves some would-be interventions untreated on purpose
(recorded as hold-outs) for an unbiased effectiveness estimate.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from services.db.engine import begin_write
from services.db.models import (
    Alert,
    FirstSessionPrediction,
    Intervention,
    InterventionHoldout,
    ScoringRun,
    TutorPrediction,
)
from services.intervention_policy import Signal, type_label, types_for
from services.intervention_settings import InterventionSettings
from services.intervention_workflow import OPEN_STATUSES, open_intervention
from services.interventions import InterventionInputError

log = logging.getLogger(__name__)

AUTO_ACTOR = "tutormax (auto)"
HOLDOUT_MEMORY = timedelta(days=30)  # a held-out tutor stays untreated for the type
RISKY_FIRST_SESSION = ("High", "Critical")
# Types that risk alone triggers; a tier *change* triggers the others.
RISK_TYPES = ("manager_coaching", "retention_interview", "peer_mentoring")


@dataclass
class AutoReport:
    created: list[int] = field(default_factory=list)
    skipped_open: int = 0
    held_out: int = 0
    refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": len(self.created),
            "skipped_open": self.skipped_open,
            "held_out": self.held_out,
            "refused": self.refused[:20],
        }


@dataclass(frozen=True)
class Planned:
    tutor_id: int
    intervention_type: str
    reason: str
    risk: float | None
    alert_key: str | None
    session_at: datetime | None = None


def _runs(conn: Connection) -> tuple[int | None, int | None]:
    ids = conn.execute(
        select(ScoringRun.id).where(ScoringRun.status == "ok").order_by(ScoringRun.id.desc())
    ).all()
    latest = int(ids[0][0]) if ids else None
    previous = int(ids[1][0]) if len(ids) > 1 else None
    return latest, previous


def _predictions(conn: Connection, run_id: int | None) -> dict[int, Any]:
    if run_id is None:
        return {}
    p = TutorPrediction.__table__.c
    rows = conn.execute(
        select(p.tutor_id, p.risk_tier, p.p_churn_30d, p.performance_tier, p.metrics).where(
            p.run_id == run_id
        )
    ).all()
    return {int(r.tutor_id): r for r in rows}


def _fired_alerts(conn: Connection, since: datetime | None) -> dict[int, list[Any]]:
    a = Alert.__table__.c
    query = select(a.tutor_id, a.rule, a.key, a.severity, a.facts).where(
        a.tutor_id.is_not(None), a.state.in_(("active", "acknowledged"))
    )
    if since is not None:
        query = query.where(a.created_at >= since)
    out: dict[int, list[Any]] = {}
    for r in conn.execute(query):
        out.setdefault(int(r.tutor_id), []).append(r)
    return out


def plan(
    conn: Connection,
    *,
    fired_alerts: Iterable[Any] | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
) -> list[Planned]:
    """What the triggers call for now (before de-duplication and hold-outs).

    ``fired_alerts``: the alerts an evaluation just opened or escalated
    (``EvaluationResult.fired``: anything with tutor_id, rule, key); without them, the
    open alerts created since ``since`` (all open ones when ``since`` is None).
    """
    now = now or datetime.now(UTC)
    latest, previous = _runs(conn)
    current = _predictions(conn, latest)
    before = _predictions(conn, previous)
    if fired_alerts is not None:
        fired: dict[int, list[Any]] = {}
        for a in fired_alerts:
            if a.tutor_id is not None:
                fired.setdefault(int(a.tutor_id), []).append(a)
    else:
        fired = _fired_alerts(conn, since)
    alerts_in_use = bool(conn.execute(select(func.count()).select_from(Alert)).scalar_one())
    planned: list[Planned] = []
    for tutor_id, pred in current.items():
        alerts = fired.get(tutor_id, [])
        rules = frozenset(a.rule for a in alerts)
        old = before.get(tutor_id)
        churn_alert = next((a for a in alerts if a.rule == "churn_risk"), None)
        # Risk triggers: the churn alert fired now (or, with no alert engine, the tier).
        risk_now = churn_alert is not None or (
            not alerts_in_use and pred.risk_tier in ("Critical", "High")
        )
        entered_medium = (
            old is not None and pred.risk_tier == "Medium" and old.risk_tier != "Medium"
        )
        metrics = pred.metrics or {}
        signal = Signal(
            tutor_id=tutor_id,
            risk_tier=pred.risk_tier if (risk_now or entered_medium) else None,
            p_churn_30d=pred.p_churn_30d if risk_now else None,
            tenure_days=_num(metrics.get("tenure_days")),
            rules=rules,
            performance_tier=pred.performance_tier if old is not None else None,
            previous_performance_tier=old.performance_tier if old is not None else None,
            bronze_days=_num(metrics.get("bronze_days")),
            avg_rating=_num(metrics.get("avg_rating_30d")),
        )
        key = churn_alert.key if churn_alert is not None else None
        if key is None and alerts:
            key = alerts[0].key
        if key is None and risk_now:
            key = f"churn_risk:tutor:{tutor_id}"
        for itype in types_for(signal):
            planned.append(
                Planned(tutor_id, itype, _reason(itype, pred, rules), pred.p_churn_30d, key)
            )
    planned += _first_session_preps(conn, latest, current, now)
    return planned


def _first_session_preps(
    conn: Connection, run_id: int | None, current: dict[int, Any], now: datetime
) -> list[Planned]:
    if run_id is None:
        return []
    f = FirstSessionPrediction.__table__.c
    rows = conn.execute(
        select(f.session_id, f.tutor_id, f.start_time, f.p_poor, f.risk_tier)
        .where(f.run_id == run_id, f.risk_tier.in_(RISKY_FIRST_SESSION), f.start_time > now)
        .order_by(f.start_time)
    ).all()
    out, seen = [], set()
    for r in rows:
        if r.tutor_id is None or r.tutor_id in seen:
            continue  # one prep per tutor: the earliest risky session
        seen.add(int(r.tutor_id))
        pred = current.get(int(r.tutor_id))
        out.append(
            Planned(
                int(r.tutor_id),
                "automated_coaching",
                f"First session {r.start_time:%a %d %b %H:%M} UTC at {r.p_poor:.0%} risk of a "
                "poor rating: send the prep e-mail before it starts",
                None if pred is None else pred.p_churn_30d,
                f"first_session_risk:session:{r.session_id}",
                session_at=r.start_time,
            )
        )
    return out


def _reason(itype: str, pred: Any, rules: frozenset[str]) -> str:
    p = pred.p_churn_30d
    risk = "" if p is None else f"{p:.0%} churn risk in 30 days"
    return {
        "manager_coaching": f"Critical: {risk}",
        "retention_interview": f"Very high risk: {risk}",
        "peer_mentoring": f"New tutor at High risk: {risk}",
        "automated_coaching": f"Medium risk: {risk}",
        "training_module": "Falling ratings or first-session success ("
        + ", ".join(sorted(rules))
        + ")",
        "performance_improvement_plan": "Bronze for 30+ days with a rating below 3.5",
        "recognition": f"Rose to {pred.performance_tier}",
    }.get(itype, type_label(itype))


def auto_create(
    engine: Engine,
    settings: InterventionSettings | None = None,
    *,
    fired_alerts: Iterable[Any] | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> AutoReport:
    """Create the interventions the triggers call for; returns what happened."""
    settings = settings or InterventionSettings()
    now = now or datetime.now(UTC)
    rng = rng or random.Random()
    report = AutoReport()
    with engine.connect() as conn:
        planned = plan(conn, fired_alerts=fired_alerts, since=since, now=now)
    done: set[tuple[int, str]] = set()
    # One write transaction for the whole batch: hundreds of creations after a first
    # scoring run commit once (each on its own took ~11 ms on SQLite).
    with begin_write(engine) as conn:
        already = _open_pairs(conn)
        for p in planned:
            pair = (p.tutor_id, p.intervention_type)
            type_settings = settings.types.get(p.intervention_type)
            if pair in done or (type_settings is not None and not type_settings.auto_create):
                continue
            done.add(pair)
            if pair in already:
                report.skipped_open += 1
                continue
            if _held_out_recently(conn, p, now):
                report.held_out += 1
                continue
            share = type_settings.holdout_share if type_settings is not None else 0.0
            if share > 0 and rng.random() < share:
                conn.execute(
                    insert(InterventionHoldout).values(
                        tutor_id=p.tutor_id,
                        intervention_type=p.intervention_type,
                        at=now,
                        risk_at_creation=p.risk,
                        source_alert_key=p.alert_key,
                    )
                )
                report.held_out += 1
                continue
            try:  # refused before anything is written, so the batch goes on
                local_id = open_intervention(
                    engine,
                    tutor_id=p.tutor_id,
                    intervention_type=p.intervention_type,
                    reason=p.reason,
                    actor=AUTO_ACTOR,
                    settings=settings,
                    now=now,
                    session_at=p.session_at,
                    source_alert_key=p.alert_key,
                    risk=p.risk,
                    auto=True,
                    conn=conn,
                )
            except InterventionInputError as exc:
                report.refused.append(f"tutor {p.tutor_id}: {exc}")
                continue
            report.created.append(local_id)
    if report.created or report.held_out:
        log.info("auto-created interventions: %s", report.as_dict())
    return report


def _open_pairs(conn: Connection) -> set[tuple[int, str]]:
    """(tutor, type) of every open intervention, read once for the whole batch."""
    i = Intervention.__table__.c
    rows = conn.execute(
        select(i.tutor_id, i.intervention_type).where(
            i.status.in_(OPEN_STATUSES), i.deleted_at.is_(None), i.tutor_id.is_not(None)
        )
    )
    return {(int(t), str(k)) for t, k in rows}


def _held_out_recently(conn: Connection, p: Planned, now: datetime) -> bool:
    h = InterventionHoldout.__table__.c
    return bool(
        conn.execute(
            select(func.count())
            .select_from(InterventionHoldout)
            .where(
                h.tutor_id == p.tutor_id,
                h.intervention_type == p.intervention_type,
                h.at >= now - HOLDOUT_MEMORY,
            )
        ).scalar_one()
    )


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f else None


def after_scoring(
    engine: Engine,
    settings: InterventionSettings | None = None,
    *,
    fired_alerts: Iterable[Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The interventions' part of a scoring run: auto-create from what fired, look for
    SLA breaches (escalated once), and record the outcomes whose 30 days have passed.
    A failure here must not lose the scoring run, so the caller logs and goes on."""
    from services.intervention_outcomes import measure_outcomes
    from services.intervention_workflow import check_breaches

    report = auto_create(engine, settings, fired_alerts=fired_alerts, now=now)
    breaches = check_breaches(engine, settings=settings, now=now)
    outcomes = measure_outcomes(engine, now=now)
    return {**report.as_dict(), "breaches": len(breaches), "outcomes": outcomes}
