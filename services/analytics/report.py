"""Loading and composing the Analytics sections (see the package docstring)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from ml.features._events import equals
from services.analytics.cohorts import Retention, retention_curves
from services.analytics.data import load_analytics_frames
from services.analytics.first_session_drivers import (
    WINDOW_DAYS,
    FirstSessionDrivers,
    first_session_drivers,
)
from services.analytics.risk_heatmap import RiskHeatmap, risk_heatmap
from services.analytics.star_lagging import StarLagging, star_vs_lagging
from services.db.models import TutorPrediction

DAY = pd.Timedelta(days=1)
ENGAGEMENT_LOOKBACK_DAYS = 14  # the first-session rows' engagement score window
REPLY_DAYS = 30  # the star table's median reply time


class AnalyticsCancelled(InterruptedError):
    """The user moved on; nothing is half-shown."""


@dataclass(frozen=True)
class AnalyticsReport:
    observed_until: pd.Timestamp
    run_as_of: pd.Timestamp | None  # the scoring run behind the heatmap and the split
    retention: Retention
    heatmap: RiskHeatmap | None
    star_lagging: StarLagging | None
    first_sessions: FirstSessionDrivers | None
    missing: dict[str, str] = field(default_factory=dict)  # section -> why it is empty
    seconds: dict[str, float] = field(default_factory=dict)


def compute_analytics(
    engine: Engine,
    *,
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    window_days: int = WINDOW_DAYS,
) -> AnalyticsReport:
    """Every section; seconds at full scale, so run it off the GUI thread."""
    from ml.features.first_session import first_session_rows
    from ml.labels import tutor_churn_times
    from services.tutors import latest_run

    say = progress or (lambda _m: None)
    timings: dict[str, float] = {}
    missing: dict[str, str] = {}
    clock = [time.perf_counter()]

    def step(name: str) -> None:
        now = time.perf_counter()
        timings[name] = now - clock[0]
        clock[0] = now
        if cancel is not None and cancel.is_set():
            raise AnalyticsCancelled("analytics cancelled")

    say("Reading the marketplace")
    with engine.connect() as conn:
        run = latest_run(conn)
        predictions = _predictions(conn, run.id) if run is not None else None
    run_as_of = None
    if run is not None:
        run_as_of = pd.Timestamp(run.as_of)
        run_as_of = run_as_of.tz_localize("UTC") if run_as_of.tzinfo is None else run_as_of
    # Engagement: 14 days before the window's first sessions, 30 before the run.
    frames = load_analytics_frames(
        engine,
        window_days + 1,
        window_days + ENGAGEMENT_LOOKBACK_DAYS,
        None if run_as_of is None else run_as_of - pd.Timedelta(days=REPLY_DAYS + 1),
    )
    step("load")

    say("Retention by start month")
    tutors = frames.tutors.set_index("id")
    starts = tutors["hired_at"].fillna(tutors["created_at"])
    sessions = frames.sessions
    history_start = sessions["start_time"].min() if len(sessions) else None
    retention = retention_curves(
        starts,
        tutor_churn_times(frames),
        observed_until=frames.observed_until,
        history_start=None if pd.isna(history_start) else history_start,
    )
    if tutors.empty:
        missing["retention"] = "No tutors synced yet."
    elif not retention.cohorts:
        missing["retention"] = (
            "No start-month cohort has been followed long enough yet: a cohort needs its "
            "whole month inside the synced history and 30 days of settling."
        )
    step("retention")

    heatmap = star = None
    if predictions is None or predictions.empty or run_as_of is None:
        reason = "No risk scores yet: they appear after the first scoring run."
        missing["heatmap"] = missing["star_lagging"] = reason
    else:
        active = tutors.index[equals(tutors["status"], "active")]
        scored = predictions[predictions.index.isin(active)]
        tenure = (run_as_of - starts.reindex(scored.index)) / DAY
        say("Churn risk by subject and tenure")
        heatmap = risk_heatmap(scored["p_churn_30d"], tutors["subjects"], tenure)
        step("heatmap")
        say("Star and lagging tutors")
        table = _tutor_table(scored, tutors, frames.engagement, run_as_of)
        star = star_vs_lagging(table)
        if star is None:
            missing["star_lagging"] = "Too few scored active tutors to split into tenths."
        step("star_lagging")

    say("First sessions")
    end = frames.observed_until
    start = end - pd.Timedelta(days=window_days)
    picked = _rated_first_sessions(sessions, start, end)
    drivers = None
    if len(picked):
        rows = first_session_rows(frames, sessions=picked)
        drivers = first_session_drivers(rows, picked, start=start, end=end)
    if drivers is None:
        missing["first_sessions"] = (
            f"Too few rated first sessions in the last {window_days} days to compare."
        )
    step("first_sessions")
    return AnalyticsReport(
        observed_until=frames.observed_until,
        run_as_of=run_as_of,
        retention=retention,
        heatmap=heatmap,
        star_lagging=star,
        first_sessions=drivers,
        missing=missing,
        seconds=timings,
    )


def _predictions(conn: Any, run_id: int) -> pd.DataFrame:
    p = TutorPrediction
    rows = conn.execute(
        select(p.tutor_id, p.p_churn_30d, p.performance_score, p.metrics).where(p.run_id == run_id)
    ).all()
    frame = pd.DataFrame(
        [(r.tutor_id, r.p_churn_30d, r.performance_score) for r in rows],
        columns=["tutor_id", "p_churn_30d", "performance_score"],
    ).set_index("tutor_id")
    metrics = pd.DataFrame.from_records([r.metrics or {} for r in rows], index=frame.index).apply(
        pd.to_numeric, errors="coerce"
    )
    return frame.astype(float).join(metrics)


def _tutor_table(
    scored: pd.DataFrame, tutors: pd.DataFrame, engagement: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """The scored headline metrics plus what the tutors' records and replies add."""
    t = tutors.reindex(scored.index)
    out = scored.copy()
    out["years_experience"] = pd.to_numeric(t["years_experience"], errors="coerce")
    out["hourly_rate"] = pd.to_numeric(t["hourly_rate"], errors="coerce")
    out["certifications"] = [
        len(c) if isinstance(c, list | tuple | np.ndarray) else np.nan for c in t["certifications"]
    ]
    e = engagement
    recent = e[
        equals(e["event_type"], "message_reply")
        & (e["occurred_at"] < as_of)
        & (e["occurred_at"] >= as_of - pd.Timedelta(days=REPLY_DAYS))
    ]
    replies = pd.to_numeric(recent["response_minutes"], errors="coerce")
    out["reply_minutes_30d"] = replies.groupby(recent["tutor_id"].astype("int64")).median()
    return out


def _rated_first_sessions(
    sessions: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    s = sessions
    first = s["first_session"].astype("boolean").fillna(False).to_numpy(bool)
    rated = pd.to_numeric(s["rating"], errors="coerce").notna().to_numpy()
    ok = (
        first
        & rated
        & equals(s["status"], "completed")
        & (s["start_time"] >= start).to_numpy()
        & (s["end_time"] < end).to_numpy()
    )
    return s[ok]
