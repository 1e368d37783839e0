"""The Tutors page's data: the list of every tutor, and one tutor's profile bundle.

Plain frozen dataclasses and dicts, no Qt: the view models run these on the task runner
and hand the results to the GUI thread whole.

- :func:`list_tutors`: one row per tutor from the newest scoring run, with the change of
  P(churn 30 d) since the run about a week earlier (:func:`trend_since`), the headline
  figures kept with the prediction, open interventions and the manager. A handful of
  queries, none per tutor, so 5,000 tutors load in well under a second.
- :func:`tutor_bundle`: everything the profile shows, read in one connection: header,
  risk curve and its change, prediction history, weekly activity over 180 days, the
  metrics behind the performance tier with goals and suggestions
  (:mod:`services.tutor_plan`), open alerts, interventions with their SLA, recent and
  upcoming sessions (first sessions with P(poor rating) and no-show risk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from services.alerts.model import OPEN_STATES
from services.db.models import (
    Alert,
    Customer,
    EngagementEvent,
    FirstSessionPrediction,
    Intervention,
    Manager,
    ScoringRun,
    Tutor,
    TutoringSession,
    TutorPrediction,
)
from services.intervention_queue import QueueRow, list_queue
from services.intervention_workflow import OPEN_STATUSES
from services.tutor_plan import TierBreakdown, tier_breakdown

TREND_DAYS = 7
# "A week ago" is the newest run at least 6.5 days older than the current one: scoring
# runs land at irregular times, and a run 6 days 20 hours earlier is last week's.
TREND_SLACK = timedelta(hours=12)
PROFILE_DAYS = 182  # 26 whole weeks, the "last 180 days" of the profile's charts
UPCOMING_DAYS = 14
RECENT_SESSIONS = 15


class TutorNotFoundError(LookupError):
    """No tutor with that id in the local database."""


# ---------------------------------------------------------------------- trend


def trend_since(
    history: Sequence[tuple[datetime, float | None]],
    as_of: datetime,
    current: float | None,
    days: int = TREND_DAYS,
) -> float | None:
    """``current`` minus the value of the newest point at least ``days`` (less 12 hours)
    before ``as_of``; None when there is no such point or either value is missing."""
    if current is None:
        return None
    cutoff = as_of - timedelta(days=days) + TREND_SLACK
    before = [(at, v) for at, v in history if at <= cutoff]
    if not before:
        return None
    _, then = max(before, key=lambda p: p[0])
    return None if then is None else current - then


# ---------------------------------------------------------------------- the list


@dataclass(frozen=True)
class TutorRow:
    tutor_id: int
    name: str
    subjects: tuple[str, ...]
    status: str
    manager_id: int | None
    manager: str
    risk_tier: str | None
    p_churn_30d: float | None
    trend_30d: float | None  # change of P(churn 30 d) since about a week ago
    performance_tier: str | None
    performance_score: float | None
    segment: str | None
    health_score: float | None
    sessions_30d: float | None
    avg_rating_30d: float | None
    first_session_success: float | None
    open_interventions: int

    @property
    def scored(self) -> bool:
        return self.risk_tier is not None


@dataclass(frozen=True)
class TutorList:
    rows: tuple[TutorRow, ...]
    as_of: datetime | None  # the newest scoring run's data time; None: never scored
    run_id: int | None
    previous_as_of: datetime | None  # the run the trend compares with
    subjects: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f else None  # NaN -> None


def latest_run(conn: Connection) -> Any:
    return conn.execute(
        select(ScoringRun.id, ScoringRun.as_of, ScoringRun.thresholds)
        .where(ScoringRun.status == "ok", ScoringRun.as_of.is_not(None))
        .order_by(ScoringRun.as_of.desc(), ScoringRun.id.desc())
        .limit(1)
    ).first()


def _run_before(conn: Connection, as_of: datetime, days: int = TREND_DAYS) -> Any:
    return conn.execute(
        select(ScoringRun.id, ScoringRun.as_of)
        .where(
            ScoringRun.status == "ok",
            ScoringRun.as_of <= as_of - timedelta(days=days) + TREND_SLACK,
        )
        .order_by(ScoringRun.as_of.desc(), ScoringRun.id.desc())
        .limit(1)
    ).first()


def _open_interventions(conn: Connection, tutor_id: int | None = None) -> dict[int, int]:
    i = Intervention.__table__.c
    q = (
        select(i.tutor_id, func.count())
        .where(i.status.in_(OPEN_STATUSES), i.deleted_at.is_(None), i.tutor_id.is_not(None))
        .group_by(i.tutor_id)
    )
    if tutor_id is not None:
        q = q.where(i.tutor_id == tutor_id)
    return {int(t): int(n) for t, n in conn.execute(q).all()}


def list_tutors(engine: Engine, *, include_inactive: bool = True) -> TutorList:
    """Every tutor (not deleted on the server) with the newest scores; see module doc."""
    t, m, p = Tutor.__table__.c, Manager.__table__.c, TutorPrediction.__table__.c
    with engine.connect() as conn:
        run = latest_run(conn)
        prev = _run_before(conn, run.as_of) if run is not None else None
        q = (
            select(t.id, t.name, t.subjects, t.status, t.manager_id, m.name.label("manager"))
            .select_from(Tutor.__table__.outerjoin(Manager.__table__, m.id == t.manager_id))
            .where(t.deleted_at.is_(None))
        )
        if not include_inactive:
            q = q.where(t.status == "active")
        tutors = conn.execute(q).all()
        preds: dict[int, Any] = {}
        if run is not None:
            preds = {
                int(r.tutor_id): r
                for r in conn.execute(
                    select(
                        p.tutor_id,
                        p.p_churn_30d,
                        p.risk_tier,
                        p.performance_score,
                        p.performance_tier,
                        p.health_score,
                        p.segment,
                        # Three headline figures, extracted by the database: decoding
                        # every row's whole metrics JSON in Python cost more than the
                        # rest of the list (json_extract on SQLite, ->> on PostgreSQL).
                        p.metrics["sessions_30d"].as_float().label("sessions_30d"),
                        p.metrics["rating_avg_30d"].as_float().label("rating_avg_30d"),
                        p.metrics["first_session_success_rate"]
                        .as_float()
                        .label("first_session_success"),
                    ).where(p.run_id == run.id)
                ).all()
            }
        before: dict[int, float | None] = {}
        if prev is not None:
            before = {
                int(tid): v
                for tid, v in conn.execute(
                    select(p.tutor_id, p.p_churn_30d).where(p.run_id == prev.id)
                ).all()
            }
        open_iv = _open_interventions(conn)
    rows = []
    subjects: set[str] = set()
    managers: set[str] = set()
    for r in tutors:
        pred = preds.get(int(r.id))
        p30 = pred.p_churn_30d if pred is not None else None
        then = before.get(int(r.id))
        subj = tuple(str(s) for s in (r.subjects or ()))
        subjects.update(subj)
        manager = r.manager or (f"Manager {r.manager_id}" if r.manager_id else "–")
        managers.add(manager)
        rows.append(
            TutorRow(
                tutor_id=int(r.id),
                name=r.name or f"Tutor {r.id}",
                subjects=subj,
                status=r.status or "",
                manager_id=r.manager_id,
                manager=manager,
                risk_tier=pred.risk_tier if pred is not None else None,
                p_churn_30d=p30,
                trend_30d=None if p30 is None or then is None else p30 - then,
                performance_tier=pred.performance_tier if pred is not None else None,
                performance_score=pred.performance_score if pred is not None else None,
                segment=pred.segment if pred is not None else None,
                health_score=pred.health_score if pred is not None else None,
                sessions_30d=_num(pred.sessions_30d) if pred is not None else None,
                avg_rating_30d=_num(pred.rating_avg_30d) if pred is not None else None,
                first_session_success=(
                    _num(pred.first_session_success) if pred is not None else None
                ),
                open_interventions=open_iv.get(int(r.id), 0),
            )
        )
    return TutorList(
        rows=tuple(rows),
        as_of=run.as_of if run is not None else None,
        run_id=run.id if run is not None else None,
        previous_as_of=prev.as_of if prev is not None else None,
        subjects=tuple(sorted(subjects)),
        managers=tuple(sorted(managers)),
    )


# ---------------------------------------------------------------------- the profile


@dataclass(frozen=True)
class WeeklySeries:
    """26 weeks of the tutor's activity, oldest first; None where a week has no data."""

    week_starts: tuple[datetime, ...]
    sessions: tuple[int, ...]
    avg_rating: tuple[float | None, ...]
    first_session_success: tuple[float | None, ...]
    first_sessions: tuple[int, ...]
    reschedules: tuple[int, ...]
    no_shows: tuple[int, ...]
    logins: tuple[int, ...]

    @property
    def empty(self) -> bool:
        return not any(self.sessions) and not any(self.logins) and not any(self.no_shows)


@dataclass(frozen=True)
class TutorBundle:
    tutor: dict[str, Any]
    as_of: datetime  # the data time everything is relative to
    prediction: dict[str, Any] | None  # newest scoring of this tutor; None: not scored
    week_ago: dict[str, Any] | None  # the curve about a week earlier, if scored then
    history: tuple[tuple[datetime, float | None, str | None], ...]  # (as_of, p30, tier)
    weekly: WeeklySeries
    tier: TierBreakdown | None
    alerts: tuple[dict[str, Any], ...]
    interventions: tuple[QueueRow, ...]
    recent_sessions: tuple[dict[str, Any], ...]
    upcoming_sessions: tuple[dict[str, Any], ...]
    thresholds: dict[str, Any] = field(default_factory=dict)

    @property
    def curve_change(self) -> dict[str, float | None]:
        """Change of each horizon's probability since about a week ago."""
        out: dict[str, float | None] = {}
        for h in ("7d", "14d", "30d", "90d"):
            now = (self.prediction or {}).get("churn", {}).get(h)
            then = (self.week_ago or {}).get(h)
            out[h] = None if now is None or then is None else now - then
        return out


def _curve(row: Any) -> dict[str, float | None]:
    return {
        "7d": row.p_churn_7d,
        "14d": row.p_churn_14d,
        "30d": row.p_churn_30d,
        "90d": row.p_churn_90d,
    }


def _weekly(conn: Connection, tutor_id: int, end: datetime) -> WeeklySeries:
    start = end - timedelta(days=PROFILE_DAYS)
    n = PROFILE_DAYS // 7
    s = TutoringSession.__table__.c
    rows = conn.execute(
        select(s.start_time, s.status, s.rating, s.first_session, s.rescheduled_by).where(
            s.tutor_id == tutor_id,
            s.deleted_at.is_(None),
            s.start_time >= start,
            s.start_time < end,
        )
    ).all()
    e = EngagementEvent.__table__.c
    logins = conn.execute(
        select(e.occurred_at).where(
            e.tutor_id == tutor_id,
            e.deleted_at.is_(None),
            e.event_type == "login",
            e.occurred_at >= start,
            e.occurred_at < end,
        )
    ).all()
    sessions = [0] * n
    ratings: list[list[int]] = [[] for _ in range(n)]
    fs_rated = [0] * n
    fs_good = [0] * n
    resched = [0] * n
    noshow = [0] * n
    login_n = [0] * n

    def week(at: datetime) -> int:
        return min(n - 1, max(0, int((at - start) / timedelta(days=7))))

    for r in rows:
        w = week(r.start_time)
        if r.rescheduled_by == "tutor":
            resched[w] += 1
        if r.status == "no_show_tutor":
            noshow[w] += 1
        if r.status != "completed":
            continue
        sessions[w] += 1
        if r.rating is not None:
            ratings[w].append(int(r.rating))
            if r.first_session:
                fs_rated[w] += 1
                fs_good[w] += int(r.rating >= 4)
    for (at,) in logins:
        login_n[week(at)] += 1
    return WeeklySeries(
        week_starts=tuple(start + timedelta(days=7 * i) for i in range(n)),
        sessions=tuple(sessions),
        avg_rating=tuple(sum(x) / len(x) if x else None for x in ratings),
        first_session_success=tuple(
            g / k if k else None for g, k in zip(fs_good, fs_rated, strict=True)
        ),
        first_sessions=tuple(fs_rated),
        reschedules=tuple(resched),
        no_shows=tuple(noshow),
        logins=tuple(login_n),
    )


def _sessions(
    conn: Connection, tutor_id: int, as_of: datetime, run_id: int | None
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    s, c = TutoringSession.__table__.c, Customer.__table__.c
    cols = (
        s.id,
        s.start_time,
        s.subject,
        s.status,
        s.rating,
        s.first_session,
        s.rescheduled_by,
        s.customer_id,
        c.name.label("customer"),
        c.student_age,
    )
    base = (
        select(*cols)
        .select_from(TutoringSession.__table__.outerjoin(Customer.__table__, c.id == s.customer_id))
        .where(s.tutor_id == tutor_id, s.deleted_at.is_(None))
    )
    recent = conn.execute(
        base.where(s.start_time < as_of).order_by(s.start_time.desc()).limit(RECENT_SESSIONS)
    ).all()
    upcoming = conn.execute(
        base.where(
            s.start_time >= as_of,
            s.start_time < as_of + timedelta(days=UPCOMING_DAYS),
            s.status == "scheduled",
        ).order_by(s.start_time)
    ).all()
    risk: dict[int, Any] = {}
    if run_id is not None and upcoming:
        f = FirstSessionPrediction.__table__.c
        risk = {
            int(r.session_id): r
            for r in conn.execute(
                select(f.session_id, f.p_poor, f.risk_tier, f.noshow_risk, f.factors).where(
                    f.run_id == run_id, f.session_id.in_([int(u.id) for u in upcoming])
                )
            ).all()
        }

    def as_dict(r: Any) -> dict[str, Any]:
        pred = risk.get(int(r.id))
        return {
            "session_id": int(r.id),
            "start_time": r.start_time,
            "subject": r.subject,
            "status": r.status,
            "rating": r.rating,
            "first_session": bool(r.first_session),
            "rescheduled_by": r.rescheduled_by,
            "customer": r.customer,
            "student_age": r.student_age,
            "p_poor": pred.p_poor if pred is not None else None,
            "risk_tier": pred.risk_tier if pred is not None else None,
            "noshow_risk": pred.noshow_risk if pred is not None else None,
            "factors": list(pred.factors or []) if pred is not None else [],
        }

    return tuple(as_dict(r) for r in recent), tuple(as_dict(r) for r in upcoming)


def _alerts(conn: Connection, tutor_id: int) -> tuple[dict[str, Any], ...]:
    a = Alert.__table__.c
    rows = conn.execute(
        select(
            a.id,
            a.rule,
            a.severity,
            a.priority,
            a.state,
            a.title,
            a.next_step,
            a.facts,
            a.created_at,
            a.snoozed_until,
        )
        .where(a.tutor_id == tutor_id, a.state.in_(OPEN_STATES))
        .order_by(a.priority.desc(), a.id.desc())
    ).all()
    return tuple(dict(r._mapping) for r in rows)


def tutor_bundle(engine: Engine, tutor_id: int, *, now: datetime | None = None) -> TutorBundle:
    """One tutor's profile, everything read in one connection (module doc)."""
    t, m, p = Tutor.__table__.c, Manager.__table__.c, TutorPrediction.__table__.c
    with engine.connect() as conn:
        tutor = conn.execute(
            select(
                t.id,
                t.name,
                t.email,
                t.subjects,
                t.status,
                t.hired_at,
                t.churned_at,
                t.manager_id,
                t.timezone,
                t.certifications,
                t.years_experience,
                t.deleted_at,
                m.name.label("manager"),
            )
            .select_from(Tutor.__table__.outerjoin(Manager.__table__, m.id == t.manager_id))
            .where(t.id == tutor_id)
        ).first()
        if tutor is None:
            raise TutorNotFoundError(f"no tutor {tutor_id} in the local database")
        run = latest_run(conn)
        as_of = run.as_of if run is not None else (now or datetime.now(UTC))
        history_rows = conn.execute(
            select(p.run_id, p.as_of, p.p_churn_30d, p.risk_tier)
            .join(ScoringRun, ScoringRun.id == p.run_id)
            .where(p.tutor_id == tutor_id, ScoringRun.status == "ok")
            .order_by(p.as_of, p.run_id)
        ).all()
        prediction: dict[str, Any] | None = None
        week_ago: dict[str, Any] | None = None
        if history_rows:
            last = conn.execute(
                select(TutorPrediction.__table__).where(
                    p.run_id == history_rows[-1].run_id, p.tutor_id == tutor_id
                )
            ).one()
            prediction = {
                "run_id": last.run_id,
                "as_of": last.as_of,
                "churn": _curve(last),
                "risk_tier": last.risk_tier,
                "performance_score": last.performance_score,
                "performance_tier": last.performance_tier,
                "health_score": last.health_score,
                "segment": last.segment,
                "predicted_sessions_next_week": last.predicted_sessions_next_week,
                "burnout": last.burnout,
                "noshow_risk": last.noshow_risk,
                "factors": list(last.factors or []),
                "metrics": dict(last.metrics or {}),
                "model_version": last.model_version,
            }
            cutoff = last.as_of - timedelta(days=TREND_DAYS) + TREND_SLACK
            earlier = [h for h in history_rows if h.as_of <= cutoff]
            if earlier:
                old = conn.execute(
                    select(
                        p.p_churn_7d, p.p_churn_14d, p.p_churn_30d, p.p_churn_90d, p.as_of
                    ).where(p.run_id == earlier[-1].run_id, p.tutor_id == tutor_id)
                ).one()
                week_ago = _curve(old) | {"as_of": old.as_of}
        thresholds = dict((run.thresholds or {}) if run is not None else {})
        if prediction is not None and prediction["run_id"] != (run.id if run else None):
            own = conn.execute(
                select(ScoringRun.thresholds).where(ScoringRun.id == prediction["run_id"])
            ).scalar()
            thresholds = dict(own or thresholds)
        weekly = _weekly(conn, tutor_id, as_of)
        recent, upcoming = _sessions(conn, tutor_id, as_of, run.id if run is not None else None)
        alerts = _alerts(conn, tutor_id)
    interventions = tuple(list_queue(engine, now=now, tutor_id=tutor_id))
    hired = tutor.hired_at
    info = {
        "id": int(tutor.id),
        "name": tutor.name or f"Tutor {tutor.id}",
        "email": tutor.email,
        "subjects": tuple(str(s) for s in (tutor.subjects or ())),
        "status": tutor.status or "",
        "hired_at": hired,
        "tenure_days": max(0, (as_of - hired).days) if hired is not None else None,
        "churned_at": tutor.churned_at,
        "deleted": tutor.deleted_at is not None,
        "manager_id": tutor.manager_id,
        "manager": tutor.manager
        or (f"Manager {tutor.manager_id}" if tutor.manager_id else "no manager"),
        "timezone": tutor.timezone,
        "certifications": tuple(tutor.certifications or ()),
        "years_experience": tutor.years_experience,
    }
    tier = (
        tier_breakdown(prediction, thresholds.get("scores") or {})
        if prediction is not None
        else None
    )
    return TutorBundle(
        tutor=info,
        as_of=as_of,
        prediction=prediction,
        week_ago=week_ago,
        history=tuple((h.as_of, h.p_churn_30d, h.risk_tier) for h in history_rows),
        weekly=weekly,
        tier=tier,
        alerts=alerts,
        interventions=interventions,
        recent_sessions=recent,
        upcoming_sessions=upcoming,
        thresholds=thresholds,
    )
