"""A small hand-made marketplace for the alert rules: a scoring run's predictions plus the
synced rows a rule reads, each made to fire (or not) one rule."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from services.db.engine import make_engine
from services.db.migrate import migrate
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

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

# Figures of a tutor for whom no rule should fire.
CALM_TUTOR = {
    "sessions_30d": 20,
    "sessions_prev_30d": 20,
    "days_since_last_session": 1.0,
    "rating_avg_prev_30d": 4.6,
    "engagement_score_14d": 0.8,
    "hours_offered_next_14d": 20,
}
CALM_CUSTOMER = {
    "sessions_30d": 6,
    "sessions_prev_30d": 6,
    "calls_14d": 0,
    "days_since_last_session": 2.0,
    "first_session_rating": 5,
    "tenure_days": 120,
}


class Market:
    """Builder of the rows the rules read, at AS_OF."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ids = itertools.count(1000)
        with engine.begin() as conn:
            conn.execute(insert(Manager).values(id=1, name="Dana Lopez", updated_at=AS_OF))
        self.run_id = self.new_run()

    def new_run(self, as_of: datetime = AS_OF) -> int:
        with self.engine.begin() as conn:
            self.run_id = conn.execute(
                insert(ScoringRun)
                .values(started_at=as_of, status="ok", as_of=as_of, trigger="test")
                .returning(ScoringRun.id)
            ).scalar_one()
        return self.run_id

    def tutor(
        self,
        tid: int,
        *,
        p30: float = 0.1,
        name: str | None = None,
        login: bool = True,
        run_id: int | None = None,
        **metrics: Any,
    ) -> int:
        with self.engine.begin() as conn:
            if not conn.execute(Tutor.__table__.select().where(Tutor.id == tid)).first():
                conn.execute(
                    insert(Tutor).values(
                        id=tid,
                        name=name or f"Tutor {tid}",
                        status="active",
                        manager_id=1,
                        updated_at=AS_OF,
                    )
                )
            conn.execute(
                insert(TutorPrediction).values(
                    run_id=run_id or self.run_id,
                    tutor_id=tid,
                    as_of=AS_OF,
                    p_churn_7d=p30 / 3,
                    p_churn_14d=p30 / 2,
                    p_churn_30d=p30,
                    p_churn_90d=min(1.0, p30 * 1.3),
                    risk_tier="Critical" if p30 >= 0.7 else "High" if p30 >= 0.5 else "Low",
                    metrics=CALM_TUTOR | metrics,
                    factors=[{"text": "sessions down 40 % vs last month", "direction": "up"}],
                )
            )
        if login:
            self.login(tid, AS_OF - DAY)
        return tid

    def login(self, tid: int, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(EngagementEvent).values(
                    id=next(self._ids),
                    tutor_id=tid,
                    event_type="login",
                    occurred_at=at,
                    updated_at=at,
                )
            )

    def session(self, tid: int, days_ago: float, **kw: Any) -> None:
        values = {"status": "completed", "rating": 5, "first_session": False} | kw
        at = AS_OF - timedelta(days=days_ago)
        with self.engine.begin() as conn:
            conn.execute(
                insert(TutoringSession).values(
                    id=next(self._ids),
                    tutor_id=tid,
                    customer_id=1,
                    start_time=at,
                    end_time=at + timedelta(hours=1),
                    updated_at=at,
                    **values,
                )
            )

    def first_session(self, sid: int, tid: int, *, p_poor: float, hours_ahead: float = 24) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(FirstSessionPrediction).values(
                    run_id=self.run_id,
                    session_id=sid,
                    tutor_id=tid,
                    customer_id=7,
                    start_time=AS_OF + timedelta(hours=hours_ahead),
                    subject="Spanish",
                    p_poor=p_poor,
                    risk_tier="High" if p_poor >= 0.5 else "Low",
                    factors=[{"text": "rating 3.8"}],
                )
            )

    def customer(
        self,
        cid: int,
        *,
        goal: str = "in_progress",
        changed: datetime = AS_OF,
        status: str = "active",
        **figures: Any,
    ) -> int:
        with self.engine.begin() as conn:
            if not conn.execute(Customer.__table__.select().where(Customer.id == cid)).first():
                conn.execute(
                    insert(Customer).values(
                        id=cid,
                        name=f"Customer {cid}",
                        status=status,
                        goal_status=goal,
                        updated_at=changed,
                    )
                )
            conn.execute(
                insert(CustomerPrediction).values(
                    run_id=self.run_id,
                    customer_id=cid,
                    as_of=AS_OF,
                    p_churn_30d=0.2,
                    health_score=70.0,
                    health_tier="At Risk",
                    components={"figures": CALM_CUSTOMER | figures},
                    factors=[{"text": "calls to support up to 3 in 14 days"}],
                )
            )
        return cid


@pytest.fixture
def alert_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'alerts.db'}")
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def market(alert_engine: Engine) -> Market:
    return Market(alert_engine)


@pytest.fixture
def sqlite_market(sqlite_engine: Engine) -> Market:
    return Market(sqlite_engine)
