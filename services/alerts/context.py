"""What the rules read: the latest scoring run's predictions and a few aggregates of the
synced data, each loaded once per evaluation and only if a rule asks for it.

Aggregates are computed in SQL (GROUP BY over an indexed time range) rather than by
loading sessions into pandas: at full scale the 14-day window alone is ~40,000 sessions,
and the whole evaluation has a 3 s budget.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, and_, case, func, select

from services.db.models import (
    Customer,
    CustomerPrediction,
    EngagementEvent,
    FirstSessionPrediction,
    Manager,
    ScoringRun,
    Tutor,
    TutoringSession,
    TutorPrediction,
)
from services.settings import AlertSettings

DAY = timedelta(days=1)


@dataclass(frozen=True)
class RunInfo:
    id: int
    as_of: datetime
    thresholds: dict[str, Any]


def latest_run(conn: Connection) -> RunInfo | None:
    """The newest successful scoring run, or None before the first one."""
    row = conn.execute(
        select(ScoringRun.id, ScoringRun.as_of, ScoringRun.thresholds)
        .where(ScoringRun.status == "ok")
        .order_by(ScoringRun.id.desc())
        .limit(1)
    ).first()
    if row is None or row.as_of is None:
        return None
    return RunInfo(int(row.id), row.as_of, row.thresholds or {})


def num(value: Any) -> float | None:
    """A finite float or None (metrics come back from JSON with nulls and NaNs)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass(frozen=True, slots=True)
class TutorRow:
    tutor_id: int
    name: str | None
    manager_id: int | None
    manager_name: str | None
    p7: float | None
    p14: float | None
    p30: float | None
    p90: float | None
    risk_tier: str | None
    metrics: dict[str, Any]
    factors: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SessionStats:
    """One tutor's sessions in a window before the run's as-of instant."""

    sessions: int
    ratings: int
    rating_sum: float
    reschedules: int
    technical_issues: int
    first_rated: int
    first_poor: int

    @property
    def avg_rating(self) -> float | None:
        return self.rating_sum / self.ratings if self.ratings else None


CUSTOMER_FIGURES = (
    "calls_14d",
    "days_since_last_session",
    "sessions_30d",
    "sessions_prev_30d",
    "first_session_rating",
    "tenure_days",
)


def _floats(values: Any) -> np.ndarray:
    # numpy turns None into NaN for a float array, in C.
    return np.asarray(values, dtype=float)


def _epoch_seconds(values: Any) -> np.ndarray:
    """Datetimes (aware, from SQLAlchemy) or SQLite's stored text (naive UTC) as epoch
    seconds; NaN for None."""
    values = list(values)
    if values and all(isinstance(v, str) or v is None for v in values):
        stamps = np.array([v or "NaT" for v in values], dtype="datetime64[us]")
        out = stamps.astype("int64").astype(float) / 1e6
        out[np.isnat(stamps)] = np.nan
        return out
    return _floats([None if v is None else v.timestamp() for v in values])


@dataclass(frozen=True)
class CustomerTable:
    """Customers of a run as columns (NaN where a figure is missing)."""

    ids: np.ndarray
    names: list[str | None]
    goal_status: np.ndarray
    # The API's account status ("active", "paused"; churned customers are not scored).
    status: np.ndarray
    p_churn_30d: np.ndarray
    health_score: np.ndarray
    health_tier: list[str | None]
    # When the customer record last changed (epoch seconds; NaN unknown): the API has no
    # "goal completed at", so a recent change is the best sign of a recent completion.
    updated_at: np.ndarray
    figures: dict[str, np.ndarray]

    @classmethod
    def from_rows(cls, rows: list[Any]) -> CustomerTable:
        width = 8 + len(CUSTOMER_FIGURES)
        cols = list(zip(*rows, strict=True)) if rows else [()] * width
        return cls(
            ids=np.array(cols[0], dtype=np.int64),
            names=list(cols[4]),
            goal_status=np.array(cols[5], dtype=object),
            p_churn_30d=_floats(cols[1]),
            health_score=_floats(cols[2]),
            health_tier=list(cols[3]),
            updated_at=_epoch_seconds(cols[6]),
            status=np.array(cols[7], dtype=object),
            figures={name: _floats(cols[8 + i]) for i, name in enumerate(CUSTOMER_FIGURES)},
        )

    def __len__(self) -> int:
        return len(self.ids)

    def name(self, i: int) -> str:
        return self.names[i] or f"Customer #{int(self.ids[i])}"

    def base_facts(self, i: int) -> dict[str, Any]:
        health, p30 = self.health_score[i], self.p_churn_30d[i]
        return {
            "health_score": None if np.isnan(health) else round(float(health), 1),
            "health_tier": self.health_tier[i],
            "p_churn_30d": None if np.isnan(p30) else round(float(p30), 3),
        }


class RuleContext:
    """Read-only view of one evaluation: the run, the settings, cached loads."""

    def __init__(self, conn: Connection, run: RunInfo, settings: AlertSettings) -> None:
        self.conn = conn
        self.run = run
        self.settings = settings
        self._stats: dict[int, dict[int, SessionStats]] = {}
        self._success: dict[tuple[int, int], dict[int, tuple]] = {}
        self._logins: dict[int, dict[int, datetime | None]] = {}

    def prefetch(self, engine: Engine, *, workers: int = 3) -> None:
        """Load what the built-in rules read, in parallel on separate connections.

        The loads are independent SQL (SQLite and the PostgreSQL driver release the GIL
        while a query runs), so at full scale this takes about the longest one instead
        of the sum. A load that fails is left to the rule that needs it, which then
        fails alone (the engine reports it) rather than the whole evaluation.
        """
        s = self.settings
        windows = {
            s.rating_window_days,
            s.first_session_window_days,
            s.reschedule_window_days,
            s.technical_window_days,
        }
        jobs: list[tuple[Any, Any]] = [
            ("customers", lambda c: c.customers),
            ("tutors", lambda c: c.tutors),
            ("first_sessions", lambda c: c.first_sessions),
            (("success", 30, 7), lambda c: c.first_session_success(30, 7)),
            (("logins", s.no_login_days), lambda c: c.last_logins(s.no_login_days)),
            *[(("stats", d), lambda c, d=d: c.session_stats(d)) for d in sorted(windows)],
        ]

        def load(job: tuple[Any, Any]) -> tuple[Any, Any]:
            key, loader = job
            try:
                with engine.connect() as conn:
                    return key, loader(RuleContext(conn, self.run, self.settings))
            except Exception:  # the rule that needs it will fail and say what broke
                return key, None

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="alert-load") as pool:
            for key, value in pool.map(load, jobs):
                if value is None:
                    continue
                if isinstance(key, str):
                    self.__dict__[key] = value  # fills the cached_property
                elif key[0] == "stats":
                    self._stats[key[1]] = value
                elif key[0] == "success":
                    self._success[(key[1], key[2])] = value
                else:
                    self._logins[key[1]] = value

    @property
    def as_of(self) -> datetime:
        return self.run.as_of

    # ------------------------------------------------------------------ tutors

    @cached_property
    def tutors(self) -> dict[int, TutorRow]:
        """Every tutor scored in the run (the active ones), with name and manager."""
        tp = TutorPrediction
        rows = self.conn.execute(
            select(
                tp.tutor_id,
                Tutor.name,
                Tutor.manager_id,
                Manager.name.label("manager_name"),
                tp.p_churn_7d,
                tp.p_churn_14d,
                tp.p_churn_30d,
                tp.p_churn_90d,
                tp.risk_tier,
                tp.metrics,
                tp.factors,
            )
            .join(Tutor, Tutor.id == tp.tutor_id, isouter=True)
            .join(Manager, Manager.id == Tutor.manager_id, isouter=True)
            .where(tp.run_id == self.run.id)
        ).all()
        return {
            int(r.tutor_id): TutorRow(
                int(r.tutor_id),
                r.name,
                r.manager_id,
                r.manager_name,
                r.p_churn_7d,
                r.p_churn_14d,
                r.p_churn_30d,
                r.p_churn_90d,
                r.risk_tier,
                r.metrics or {},
                r.factors or [],
            )
            for r in rows
        }

    def session_stats(self, days: int) -> dict[int, SessionStats]:
        """Per tutor: sessions, ratings, reschedules by the tutor, technical issues and
        rated/poor first sessions that started in the ``days`` before as-of."""
        if days in self._stats:
            return self._stats[days]
        s = TutoringSession
        rated = s.rating.is_not(None)
        first = s.first_session.is_(True)
        rows = self.conn.execute(
            select(
                s.tutor_id,
                func.count(),
                func.count(s.rating),
                func.coalesce(func.sum(s.rating), 0),
                func.sum(case((s.rescheduled_by == "tutor", 1), else_=0)),
                func.sum(case((s.technical_issue.is_(True), 1), else_=0)),
                func.sum(case((and_(first, rated), 1), else_=0)),
                func.sum(case((and_(first, rated, s.rating < 4), 1), else_=0)),
            )
            .where(
                s.start_time >= self.as_of - days * DAY,
                s.start_time < self.as_of,
                s.deleted_at.is_(None),
                s.status != "scheduled",
                s.tutor_id.is_not(None),
            )
            .group_by(s.tutor_id)
        ).all()
        out = {
            int(r[0]): SessionStats(
                int(r[1]), int(r[2]), float(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7])
            )
            for r in rows
        }
        self._stats[days] = out
        return out

    def first_session_success(self, window_days: int, shift_days: int) -> dict[int, tuple]:
        """Per tutor: (rated, good) first sessions in the ``window_days`` before as-of and
        in the same window ``shift_days`` earlier: ``(rated_now, good_now, rated_then,
        good_then)``."""
        if (window_days, shift_days) in self._success:
            return self._success[(window_days, shift_days)]
        s = TutoringSession
        now_lo = self.as_of - window_days * DAY
        then_lo, then_hi = now_lo - shift_days * DAY, self.as_of - shift_days * DAY
        rated = s.rating.is_not(None)
        good = s.rating >= 4
        in_now = s.start_time >= now_lo
        in_then = s.start_time < then_hi
        rows = self.conn.execute(
            select(
                s.tutor_id,
                func.sum(case((and_(in_now, rated), 1), else_=0)),
                func.sum(case((and_(in_now, rated, good), 1), else_=0)),
                func.sum(case((and_(in_then, rated), 1), else_=0)),
                func.sum(case((and_(in_then, rated, good), 1), else_=0)),
            )
            .where(
                s.start_time >= then_lo,
                s.start_time < self.as_of,
                s.first_session.is_(True),
                s.deleted_at.is_(None),
                s.tutor_id.is_not(None),
            )
            .group_by(s.tutor_id)
        ).all()
        out = {int(r[0]): (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}
        self._success[(window_days, shift_days)] = out
        return out

    def last_logins(self, days: int) -> dict[int, datetime | None]:
        """Per scored tutor: their last login, or None when there was none in ``days``.

        A correlated MAX per tutor walks the (tutor_id, occurred_at) index over a short
        range; a plain GROUP BY would scan every engagement event ever synced.
        """
        if days in self._logins:
            return self._logins[days]
        e = EngagementEvent
        since = self.as_of - days * DAY
        tp = TutorPrediction
        recent = (
            select(func.max(e.occurred_at))
            .where(
                e.tutor_id == tp.tutor_id,
                e.occurred_at >= since,
                e.occurred_at < self.as_of,
                e.event_type == "login",
                e.deleted_at.is_(None),
            )
            .scalar_subquery()
        )
        rows = self.conn.execute(select(tp.tutor_id, recent).where(tp.run_id == self.run.id)).all()
        out: dict[int, datetime | None] = {int(r[0]): r[1] for r in rows}
        self._logins[days] = out
        return out

    def last_login_ever(self, tutor_ids: list[int]) -> dict[int, datetime]:
        """The last login before as-of of a few tutors (facts for the no-login rule)."""
        e = EngagementEvent
        out: dict[int, datetime] = {}
        for i in range(0, len(tutor_ids), 500):
            chunk = tutor_ids[i : i + 500]
            rows = self.conn.execute(
                select(e.tutor_id, func.max(e.occurred_at))
                .where(
                    e.tutor_id.in_(chunk),
                    e.occurred_at < self.as_of,
                    e.event_type == "login",
                    e.deleted_at.is_(None),
                )
                .group_by(e.tutor_id)
            ).all()
            out.update({int(r[0]): r[1] for r in rows if r[1] is not None})
        return out

    # ------------------------------------------------------------------ first sessions

    @cached_property
    def first_sessions(self) -> list[Any]:
        """Upcoming first sessions scored in the run, with the tutor's name and manager."""
        fs = FirstSessionPrediction
        return list(
            self.conn.execute(
                select(
                    fs.session_id,
                    fs.tutor_id,
                    fs.customer_id,
                    fs.start_time,
                    fs.subject,
                    fs.p_poor,
                    fs.risk_tier,
                    fs.factors,
                    Tutor.name.label("tutor_name"),
                    Tutor.manager_id,
                )
                .join(Tutor, Tutor.id == fs.tutor_id, isouter=True)
                .where(fs.run_id == self.run.id)
            ).all()
        )

    # ------------------------------------------------------------------ customers

    @cached_property
    def customers(self) -> CustomerTable:
        """Every customer scored in the run: name, goal status, health and the figures
        stored with the prediction, as columns (50,000 customers at full scale: the
        figures are read out of the JSON by the database, and rules test whole columns)."""
        cp = CustomerPrediction
        figures = [cp.components[("figures", name)].as_float() for name in CUSTOMER_FIGURES]
        query = (
            select(
                cp.customer_id,
                cp.p_churn_30d,
                cp.health_score,
                cp.health_tier,
                Customer.name,
                Customer.goal_status,
                Customer.updated_at,
                Customer.status,
                *figures,
            )
            .join(Customer, Customer.id == cp.customer_id, isouter=True)
            .where(cp.run_id == int(self.run.id))
        )
        if self.conn.dialect.name == "sqlite":
            # The driver's own rows (no per-value result processing for 50,000 x 13
            # values); the statement has no user input, only the run id and constant
            # JSON paths, so it is rendered with its values inline.
            sql = str(
                query.compile(dialect=self.conn.dialect, compile_kwargs={"literal_binds": True})
            )
            return CustomerTable.from_rows(self.conn.exec_driver_sql(sql).fetchall())
        return CustomerTable.from_rows(self.conn.execute(query).all())
