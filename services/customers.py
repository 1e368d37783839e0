"""The Customers page's data: the list of every customer, and one customer's detail bundle.

Plain frozen dataclasses, no Qt: the view models run these on the task runner and hand
the results to the GUI thread whole.

- :func:`list_customers`: one row per customer (not deleted on the server) with the newest
  scoring run's health score, tier, five components, P(churn 30 d) and its risk tier, the
  headline figures kept with the prediction (sessions in 30 days, days since the last
  session, calls in 14 days), the subjects and main tutor from the sessions, and the open
  alerts. A handful of grouped queries, none per customer: 50,000 customers must load in
  about a second at full scale.
- :func:`customer_bundle`: everything the detail view shows, read in one connection:
  header, prediction with components and factors, score history from past runs, sessions
  with ratings and tutors, inbound calls with reasons, alerts, a recommended action
  derived from the triggers (:func:`recommended_action`) and the contact history (alert
  changes from the audit trail).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from ml.scores import ScoreSettings, risk_tier
from services.alerts.model import OPEN_STATES
from services.customer_parts import COMPONENTS
from services.db.models import (
    Alert,
    AuditEntry,
    Customer,
    CustomerPrediction,
    InboundCall,
    ScoringRun,
    Tutor,
    TutoringSession,
)

TIERS = ("Critical", "At Risk", "Healthy", "Thriving")
RECENT_SESSIONS = 30
RECENT_CALLS = 30


class CustomerNotFoundError(LookupError):
    """No customer with that id in the local database."""


# ---------------------------------------------------------------------- the list


@dataclass(frozen=True, slots=True)
class CustomerRow:
    customer_id: int
    name: str
    segment: str  # the grade level: the only segmentation the API's customers carry
    channel: str  # acquisition channel
    status: str
    goal_status: str
    subjects: tuple[str, ...]  # every subject booked, most sessions first
    main_tutor_id: int | None  # the tutor with most of the customer's sessions
    main_tutor: str
    health_score: float | None
    health_tier: str | None
    first_session_success: float | None  # the five components, each 0-100
    session_velocity: float | None
    inbound_calls: float | None
    goal: float | None
    tutor_consistency: float | None
    p_churn_30d: float | None
    risk_tier: str | None  # Critical/High/Medium/Low from P(churn 30 d), the run's cut-offs
    sessions_30d: float | None
    days_since_last_session: float | None
    calls_14d: float | None
    open_alerts: int

    @property
    def scored(self) -> bool:
        return self.health_tier is not None


@dataclass(frozen=True)
class CustomerList:
    rows: tuple[CustomerRow, ...]
    as_of: datetime | None  # the newest scoring run's data time; None: never scored
    run_id: int | None
    segments: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    tutors: tuple[str, ...] = ()


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f else None  # NaN -> None


def raw_columns(conn: Connection, query: Any, width: int) -> list[np.ndarray]:
    """The query's columns as object arrays, from the driver's plain tuples: no Row
    objects, no per-value type processing (SQLite timestamps stay text), and one C call
    turns the rows into columns (``zip(*rows)`` costs as much as the fetch at 500,000
    rows)."""
    result = conn.execute(query)
    rows = result.cursor.fetchall()
    result.close()
    table = np.array(rows, dtype=object).reshape(len(rows), width)
    return [table[:, i] for i in range(width)]


def grade_order(grade: str) -> tuple[int, int, str]:
    """Sort key of a grade level: 1, 2, ..., 12, then the named ones (adult, college)."""
    return (0, int(grade), "") if grade.isdigit() else (1, 0, grade.lower())


def latest_customer_run(conn: Connection) -> Any:
    """The newest ok run that scored customers (a run may have had no customer model)."""
    cp = CustomerPrediction.__table__.c
    return conn.execute(
        select(ScoringRun.id, ScoringRun.as_of, ScoringRun.thresholds)
        .where(
            ScoringRun.status == "ok",
            ScoringRun.as_of.is_not(None),
            select(cp.id).where(cp.run_id == ScoringRun.id).exists(),
        )
        .order_by(ScoringRun.as_of.desc(), ScoringRun.id.desc())
        .limit(1)
    ).first()


def score_settings(thresholds: dict[str, Any] | None) -> ScoreSettings:
    """The run's stored score settings (unknown keys ignored: an older or newer app)."""
    stored = (thresholds or {}).get("scores") or {}
    known = {f.name for f in fields(ScoreSettings)}
    return ScoreSettings(**{k: v for k, v in stored.items() if k in known})


def _tutor_names(conn: Connection) -> dict[int, str]:
    t = Tutor.__table__.c
    return {int(i): n or f"Tutor {i}" for i, n in conn.execute(select(t.id, t.name)).all()}


def _open_alert_counts(conn: Connection) -> dict[int, int]:
    a = Alert.__table__.c
    q = (
        select(a.customer_id, func.count())
        .where(a.state.in_(OPEN_STATES), a.customer_id.is_not(None))
        .group_by(a.customer_id)
    )
    return {int(c): int(n) for c, n in conn.execute(q).all()}


def _first_per_group(group: np.ndarray, item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (group, item) pair its count; pairs sorted by group, most counted first, ties
    by the lower item (so a main tutor never flips between loads)."""
    span = int(item.max()) + 1 if len(item) else 1
    keys, counts = np.unique(group * span + item, return_counts=True)
    g, i = keys // span, keys % span
    order = np.lexsort((i, -counts, g))
    return g[order], i[order]


def session_mix(conn: Connection) -> dict[int, tuple[tuple[str, ...], int | None]]:
    """Per customer: subjects (most sessions first) and the main tutor (most sessions),
    over every session (cancelled ones too: a booking says what they study).

    At full scale that is 517,000 sessions: a GROUP BY of three columns took SQLite 2-3 s,
    so the raw columns are fetched straight from the DB-API cursor (no Row objects),
    turned into columns by one numpy call and coded by ``pd.factorize`` (all in C; a
    ``zip(*rows)`` and a Python loop to code the subjects cost as much as the fetch),
    then counted with numpy."""
    s = TutoringSession.__table__.c
    cust_col, subj_col, tutor_col = raw_columns(
        conn,
        select(s.customer_id, s.subject, s.tutor_id).where(
            s.deleted_at.is_(None), s.customer_id.is_not(None)
        ),
        3,
    )
    if not len(cust_col):
        return {}
    customers = cust_col.astype(np.int64)
    # Codes in alphabetical order (so equally booked subjects list A-Z); None is -1.
    subject, labels = pd.factorize(subj_col, sort=True)
    names = [str(x) for x in labels]
    tutor = pd.to_numeric(pd.Series(tutor_col), errors="coerce").fillna(-1).to_numpy(np.int64)

    out: dict[int, tuple[tuple[str, ...], int | None]] = {}
    has = subject >= 0
    g, i = _first_per_group(customers[has], subject[has].astype(np.int64))
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.zeros(0, np.int64)
    ends = np.r_[starts[1:], len(g)]
    g_list, i_list = g.tolist(), i.tolist()
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        out[g_list[a]] = (tuple(names[j] for j in i_list[a:b] if names[j]), None)
    has = tutor >= 0
    g, i = _first_per_group(customers[has], tutor[has])
    first = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, dtype=bool)
    for cid, tid in zip(g[first].tolist(), i[first].tolist(), strict=True):
        out[cid] = (out.get(cid, ((), None))[0], tid)
    return out


def _floats(values: np.ndarray) -> np.ndarray:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def _optional(values: np.ndarray) -> list[float | None]:
    """Floats with None for NaN, as plain Python values."""
    return np.where(np.isnan(values), None, values).tolist()


# The prediction's numbers, in CustomerRow's order after the tier: (label, JSON path).
_PRED_NUMBERS: tuple[tuple[str, Any], ...] = (
    *((key, key) for key, _, _ in COMPONENTS),
    ("p_churn_30d", None),
    ("sessions_30d", ("figures", "sessions_30d")),
    ("days_since_last_session", ("figures", "days_since_last_session")),
    ("calls_14d", ("figures", "calls_14d")),
)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a million short-lived tuples and 50,000
    rows are allocated: its full passes over that growing heap cost 0.3-0.5 s of the
    list's load at full scale, and none of these objects form cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def list_customers(engine: Engine) -> CustomerList:
    """Every customer (not deleted on the server) with the newest scores; see module doc.

    Column-wise: the customers and the run's predictions come back as raw columns and
    are aligned by position with numpy (no Row objects, no per-value conversion calls);
    only the final ``CustomerRow`` construction is a loop."""
    with _gc_paused():
        return _list_customers(engine)


def _list_customers(engine: Engine) -> CustomerList:
    c, p = Customer.__table__.c, CustomerPrediction.__table__.c
    comp = p.components
    with engine.connect() as conn:
        run = latest_customer_run(conn)
        ids, names, grades, channels, statuses, goals = raw_columns(
            conn,
            select(
                c.id, c.name, c.grade_level, c.acquisition_channel, c.status, c.goal_status
            ).where(c.deleted_at.is_(None)),
            6,
        )
        pred_cols: list[np.ndarray] | None = None
        if run is not None:
            # The components and figures are extracted by the database: decoding 50,000
            # JSON documents in Python would cost more than the rest of the list.
            pred_cols = raw_columns(
                conn,
                select(
                    p.customer_id,
                    p.health_score,
                    p.health_tier,
                    *(
                        p.p_churn_30d if path is None else comp[path].as_float()
                        for _label, path in _PRED_NUMBERS
                    ),
                ).where(p.run_id == run.id),
                3 + len(_PRED_NUMBERS),
            )
        mix = session_mix(conn)
        tutor_names = _tutor_names(conn)
        alerts = _open_alert_counts(conn)
    settings = score_settings(run.thresholds if run is not None else None)
    id_list = ids.astype(np.int64).tolist()
    n = len(id_list)
    health = np.full(n, np.nan)
    numbers = {label: np.full(n, np.nan) for label, _ in _PRED_NUMBERS}
    tier = np.full(n, None, dtype=object)
    risk = np.full(n, None, dtype=object)
    if pred_cols is not None and len(pred_cols[0]):
        where = pd.Index(id_list).get_indexer(pred_cols[0].astype(np.int64))
        ok = where >= 0  # predictions of customers deleted since are left out
        at = where[ok]
        health[at] = _floats(pred_cols[1])[ok]
        tier[at] = pred_cols[2][ok]
        for k, (label, _path) in enumerate(_PRED_NUMBERS):
            numbers[label][at] = _floats(pred_cols[3 + k])[ok]
        tiers = risk_tier(numbers["p_churn_30d"][at], settings)
        risk[at] = np.where(tiers == "Unknown", None, tiers)
    opt = {label: _optional(values) for label, values in numbers.items()}
    empty: tuple[tuple[str, ...], int | None] = ((), None)
    mixes = [mix.get(cid, empty) for cid in id_list]
    mains = [m[1] for m in mixes]
    rows = [
        CustomerRow(*values)
        for values in zip(
            id_list,
            [nm or f"Customer {cid}" for nm, cid in zip(names.tolist(), id_list, strict=True)],
            [g or "" for g in grades.tolist()],
            [ch or "" for ch in channels.tolist()],
            [st or "" for st in statuses.tolist()],
            [gs or "" for gs in goals.tolist()],
            [m[0] for m in mixes],
            mains,
            ["" if t is None else tutor_names.get(t, f"Tutor {t}") for t in mains],
            _optional(health),
            tier.tolist(),
            opt["first_session_success"],
            opt["session_velocity"],
            opt["inbound_calls"],
            opt["goal_status"],
            opt["tutor_consistency"],
            opt["p_churn_30d"],
            risk.tolist(),
            opt["sessions_30d"],
            opt["days_since_last_session"],
            opt["calls_14d"],
            [alerts.get(cid, 0) for cid in id_list],
            strict=True,
        )
    ]
    return CustomerList(
        rows=tuple(rows),
        as_of=run.as_of if run is not None else None,
        run_id=run.id if run is not None else None,
        segments=tuple(sorted({r.segment for r in rows if r.segment}, key=grade_order)),
        channels=tuple(sorted({r.channel for r in rows if r.channel})),
        subjects=tuple(sorted({s for r in rows for s in r.subjects})),
        tutors=tuple(sorted({r.main_tutor for r in rows if r.main_tutor})),
    )


# ---------------------------------------------------------------------- the detail


@dataclass(frozen=True)
class CustomerBundle:
    customer: dict[str, Any]
    as_of: datetime  # the data time everything is relative to
    prediction: dict[str, Any] | None  # newest scoring of this customer; None: not scored
    history: tuple[tuple[datetime, float | None, str | None, float | None], ...]
    """(as_of, health score, health tier, P(churn 30 d)) per past run, oldest first."""
    sessions: tuple[dict[str, Any], ...]  # newest first
    calls: tuple[dict[str, Any], ...]  # newest first
    alerts: tuple[dict[str, Any], ...]  # open ones, most urgent first
    contacts: tuple[dict[str, Any], ...]  # audit trail of this customer's alerts, newest first
    recommended_action: str


# What to do about the weakest component when no trigger has fired.
_COMPONENT_ACTIONS = {
    "first_session_success": "Check how the first sessions went; offer a better-matched tutor",
    "session_velocity": "Help them book a regular weekly slot with their tutor",
    "inbound_calls": "Call back and resolve the issues behind their support calls",
    "goal_status": "Agree a learning goal with them and track it",
    "tutor_consistency": "Keep them with one tutor: suggest their most-booked tutor",
}


def recommended_action(
    alerts: list[dict[str, Any]] | tuple[dict[str, Any], ...],
    prediction: dict[str, Any] | None,
) -> str:
    """The next step: the most urgent open trigger's; else, for a customer below Healthy,
    the weakest component's; else keep going (nothing to fix)."""
    if alerts:
        top = max(alerts, key=lambda a: (a.get("priority") or 0, a.get("id") or 0))
        if top.get("next_step"):
            return str(top["next_step"])
    if prediction is None:
        return "Not scored yet: run scoring after the next sync"
    tier = prediction.get("health_tier")
    parts = {
        k: v for k, v in (prediction.get("components") or {}).items() if isinstance(v, int | float)
    }
    if tier in ("Critical", "At Risk") and parts:
        weakest = min(parts, key=lambda k: parts[k])
        action = _COMPONENT_ACTIONS.get(weakest, "Personal call to review their progress")
        return f"{action} ({weakest.replace('_', ' ')} is the weakest part)"
    return "No action needed: keep an eye on the next scores"


def customer_bundle(
    engine: Engine, customer_id: int, *, now: datetime | None = None
) -> CustomerBundle:
    """One customer's detail, everything read in one connection (module doc)."""
    c, p = Customer.__table__.c, CustomerPrediction.__table__.c
    s, t, ic = TutoringSession.__table__.c, Tutor.__table__.c, InboundCall.__table__.c
    a, au = Alert.__table__.c, AuditEntry.__table__.c
    with engine.connect() as conn:
        cust = conn.execute(select(Customer.__table__).where(c.id == customer_id)).first()
        if cust is None:
            raise CustomerNotFoundError(f"no customer {customer_id} in the local database")
        run = latest_customer_run(conn)
        as_of = run.as_of if run is not None else (now or datetime.now(UTC))
        history = conn.execute(
            select(p.run_id, p.as_of, p.health_score, p.health_tier, p.p_churn_30d)
            .join(ScoringRun, ScoringRun.id == p.run_id)
            .where(p.customer_id == customer_id, ScoringRun.status == "ok")
            .order_by(p.as_of, p.run_id)
        ).all()
        prediction: dict[str, Any] | None = None
        if history:
            last = conn.execute(
                select(CustomerPrediction.__table__).where(
                    p.run_id == history[-1].run_id, p.customer_id == customer_id
                )
            ).one()
            thresholds = conn.execute(
                select(ScoringRun.thresholds).where(ScoringRun.id == last.run_id)
            ).scalar()
            components = dict(last.components or {})
            figures = dict(components.pop("figures", None) or {})
            prediction = {
                "run_id": last.run_id,
                "as_of": last.as_of,
                "health_score": last.health_score,
                "health_tier": last.health_tier,
                "p_churn_30d": last.p_churn_30d,
                "risk_tier": (
                    str(risk_tier([last.p_churn_30d], score_settings(thresholds))[0])
                    if last.p_churn_30d is not None
                    else None
                ),
                "components": components,
                "figures": figures,
                "factors": list(last.factors or []),
                "model_version": last.model_version,
            }
        sessions = conn.execute(
            select(
                s.id,
                s.start_time,
                s.subject,
                s.status,
                s.rating,
                s.first_session,
                s.technical_issue,
                s.tutor_id,
                t.name.label("tutor"),
            )
            .select_from(TutoringSession.__table__.outerjoin(Tutor.__table__, t.id == s.tutor_id))
            .where(s.customer_id == customer_id, s.deleted_at.is_(None), s.start_time < as_of)
            .order_by(s.start_time.desc())
            .limit(RECENT_SESSIONS)
        ).all()
        calls = conn.execute(
            select(ic.id, ic.call_time, ic.duration_seconds, ic.reason_code, ic.sentiment)
            .where(ic.customer_id == customer_id, ic.deleted_at.is_(None), ic.call_time < as_of)
            .order_by(ic.call_time.desc())
            .limit(RECENT_CALLS)
        ).all()
        alert_rows = conn.execute(
            select(
                a.id,
                a.rule,
                a.severity,
                a.priority,
                a.state,
                a.title,
                a.next_step,
                a.created_at,
                a.closed_at,
                a.close_reason,
            )
            .where(a.customer_id == customer_id)
            .order_by(a.priority.desc(), a.id.desc())
        ).all()
        alert_ids = [str(r.id) for r in alert_rows]
        titles = {str(r.id): r.title for r in alert_rows}
        contacts = (
            conn.execute(
                select(au.at, au.actor, au.action, au.entity_type, au.entity_id, au.details)
                .where(
                    ((au.entity_type == "alert") & au.entity_id.in_(alert_ids))
                    | ((au.entity_type == "customer") & (au.entity_id == str(customer_id)))
                )
                .order_by(au.at.desc(), au.id.desc())
            ).all()
            if alert_ids
            else conn.execute(
                select(au.at, au.actor, au.action, au.entity_type, au.entity_id, au.details)
                .where(au.entity_type == "customer", au.entity_id == str(customer_id))
                .order_by(au.at.desc(), au.id.desc())
            ).all()
        )
    open_alerts = tuple(dict(r._mapping) for r in alert_rows if r.state in OPEN_STATES)
    signup = cust.signup_date
    info = {
        "id": int(cust.id),
        "name": cust.name or f"Customer {cust.id}",
        "email": cust.email,
        "segment": cust.grade_level or "",
        "channel": cust.acquisition_channel or "",
        "student_age": cust.student_age,
        "goal_status": cust.goal_status or "",
        "status": cust.status or "",
        "signup_date": signup,
        "tenure_days": (as_of.date() - signup).days if signup is not None else None,
        "churned_at": cust.churned_at,
        "deleted": cust.deleted_at is not None,
    }
    return CustomerBundle(
        customer=info,
        as_of=as_of,
        prediction=prediction,
        history=tuple(
            (h.as_of, _num(h.health_score), h.health_tier, _num(h.p_churn_30d)) for h in history
        ),
        sessions=tuple(
            {
                "session_id": int(r.id),
                "start_time": r.start_time,
                "subject": r.subject,
                "status": r.status,
                "rating": r.rating,
                "first_session": bool(r.first_session),
                "technical_issue": bool(r.technical_issue),
                "tutor_id": r.tutor_id,
                "tutor": r.tutor or (f"Tutor {r.tutor_id}" if r.tutor_id else ""),
            }
            for r in sessions
        ),
        calls=tuple(
            {
                "call_id": int(r.id),
                "call_time": r.call_time,
                "duration_seconds": r.duration_seconds,
                "reason": (r.reason_code or "").replace("_", " "),
                "sentiment": r.sentiment,
            }
            for r in calls
        ),
        alerts=open_alerts,
        contacts=tuple(
            {
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "about": titles.get(str(r.entity_id), "") if r.entity_type == "alert" else "",
                "details": dict(r.details or {}),
            }
            for r in contacts
        ),
        recommended_action=recommended_action(open_alerts, prediction),
    )
