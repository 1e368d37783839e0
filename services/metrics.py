"""What the Dashboard and the System page show, computed from the local database. No Qt.

Everything here runs on the desktop's task runner (never on the GUI thread) and returns
plain frozen dataclasses. Queries read only the window they need (the last five weeks
of sessions, two weeks of availability) through the raw driver and compute with numpy,
so a full-scale database (about 540,000 sessions) costs a fraction of a second.

"Now" for the marketplace is the instant the data describes (``as_of``: the newest
``updated_at`` the sync has seen, as in ``services.ml_data``), not the wall clock: an
offline laptop shows the last known hour, and says how old it is.

Metric definitions (DOMAIN.md "Marketplace"; thresholds in :class:`Thresholds`):

=====================  ==================================================================
active sessions        sessions (scheduled or completed) overlapping the current hour;
                       trend vs the same hour a week earlier
sessions today         non-cancelled sessions starting today (local day, booked ahead
                       included) vs a target (Settings, else the mean of the same
                       weekday over the previous four weeks); trend vs a week earlier
average rating (7 d)   mean rating of sessions rated in the last 7 days; vs the 7 before
utilization (7 d)      booked session hours / available tutor hours of the last 7 days
satisfaction (7 d)     share of ratings of 4 or 5 in the last 7 days
supply/demand (7 d)    available tutor hours / demanded hours (sessions booked plus
                       bookings left unfilled); below 80 % is a shortage, above 130 % a
                       surplus
=====================  ==================================================================
"""

from __future__ import annotations

import json
import math
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from services.db.models import (
    AvailabilitySlot,
    Booking,
    Intervention,
    Reject,
    ScoringRun,
    SyncState,
    Tutor,
    TutoringSession,
    TutorPrediction,
)

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TIERS = ("Platinum", "Gold", "Silver", "Bronze")
RISK_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class Thresholds:
    """Green/yellow/red boundaries (DOMAIN.md: defaults the user can change)."""

    rating_green: float = 4.3
    rating_yellow: float = 4.0
    satisfaction_green: float = 0.85
    satisfaction_yellow: float = 0.75
    volume_green: float = 0.95  # share of target (or of last week) reached
    volume_yellow: float = 0.80
    utilization_band: tuple[float, float] = (0.55, 0.92)
    utilization_soft: tuple[float, float] = (0.40, 0.97)
    coverage_band: tuple[float, float] = (0.80, 1.30)
    coverage_soft: tuple[float, float] = (0.70, 1.50)


@dataclass(frozen=True)
class MetricCard:
    key: str
    title: str
    value: float | None
    display: str  # the value as shown
    previous: float | None
    trend: str  # "up" / "down" / "flat" / "none"
    trend_text: str  # "+4 % vs last week"
    # Which direction is good: "up", "down", or "band" (neither; the status says)
    good: str
    status: str  # "green" / "yellow" / "red" / "none"
    detail: str
    spark: tuple[float, ...]  # 7 days; NaN where there was nothing to measure
    spark_labels: tuple[str, ...]


@dataclass(frozen=True)
class CriticalTutor:
    tutor_id: int
    name: str
    risk_tier: str
    p_churn_30d: float | None
    reason: str
    manager_id: int | None
    open_intervention: bool
    # Set when the row comes from an open Critical alert (services.alerts): its identity
    # (notifications de-duplicate on it), id and whether someone acknowledged it already.
    alert_key: str | None = None
    alert_id: int | None = None
    alert_state: str | None = None


@dataclass(frozen=True)
class Dashboard:
    as_of: datetime
    timezone: str
    as_of_local: datetime  # as_of in the user's zone (what the page prints)
    cards: tuple[MetricCard, ...]
    heatmap: tuple[tuple[int, ...], ...]  # 7 weekdays (Mon first) x 24 local hours
    heatmap_days: int
    has_sessions: bool
    # None when no scoring run has written tutor predictions yet (the models issue)
    tiers: dict[str, int] | None
    critical: tuple[CriticalTutor, ...]
    scoring_run: dict[str, Any] | None
    seconds: float = 0.0


# ---------------------------------------------------------------------- helpers


def _us(dt: datetime) -> int:
    return int((dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


def _dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))


def _raw_rows(engine: Engine, query: Any) -> list[tuple]:
    """Plain driver tuples (no Row objects; SQLite timestamps stay text)."""
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql)
            return cursor.fetchall()
        finally:
            cursor.close()


def _to_us(values: Sequence[Any]) -> np.ndarray:
    """Epoch microseconds (int64) from SQLite text or driver datetimes; NaT -> min int."""
    if not len(values):
        return np.empty(0, dtype=np.int64)
    first = next((v for v in values if v is not None), None)
    if isinstance(first, str):
        arr = np.array([v if v is not None else "NaT" for v in values], dtype="datetime64[us]")
    else:
        arr = np.array(
            [
                np.datetime64(v.astimezone(UTC).replace(tzinfo=None), "us")
                if v is not None and v.tzinfo
                else (np.datetime64(v, "us") if v is not None else np.datetime64("NaT"))
                for v in values
            ],
            dtype="datetime64[us]",
        )
    return arr.astype(np.int64)


def _bind(dt: datetime) -> datetime:
    # Timestamps are stored naive UTC; literal_binds renders a naive value as stored.
    return dt.astimezone(UTC).replace(tzinfo=None)


def local_day_starts(first: datetime, days: int, tz: tzinfo) -> np.ndarray:
    """Epoch µs of ``days + 1`` consecutive local midnights starting on ``first``'s day."""
    d0 = first.astimezone(tz).date()
    return np.array(
        [
            _us(datetime.combine(d0 + timedelta(days=i), datetime.min.time(), tzinfo=tz))
            for i in range(days + 1)
        ],
        dtype=np.int64,
    )


def _local_hour_and_weekday(us: np.ndarray, tz: tzinfo) -> tuple[np.ndarray, np.ndarray]:
    """Local hour (0-23) and weekday (0 = Monday) of each instant, DST-correct."""
    if not len(us):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    hours = us // HOUR_US
    uniq, inverse = np.unique(hours, return_inverse=True)
    offsets = np.array(
        [int(_dt(int(h) * HOUR_US).astimezone(tz).utcoffset().total_seconds()) for h in uniq],
        dtype=np.int64,
    )
    local_us = us + offsets[inverse] * 1_000_000
    local_hours = local_us // HOUR_US
    hour = local_hours % 24
    # 1970-01-01 was a Thursday (weekday 3).
    weekday = (local_hours // 24 + 3) % 7
    return hour, weekday


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _trend(
    value: float | None,
    previous: float | None,
    *,
    relative: bool,
    unit: str = "",
    decimals: int = 2,
) -> tuple[str, str]:
    if value is None or previous is None or (isinstance(value, float) and math.isnan(value)):
        return "none", "no earlier data"
    if relative:
        if previous == 0:
            return ("up", "new vs none before") if value > 0 else ("none", "no activity")
        change = (value - previous) / previous
        if abs(change) < 0.01:
            return "flat", "±0 %"
        return ("up" if change > 0 else "down"), f"{change * 100:+.0f} %"
    diff = value - previous
    if abs(diff) < 0.5 * 10**-decimals:
        return "flat", f"±0{unit}"
    return ("up" if diff > 0 else "down"), f"{diff:+.{decimals}f}{unit}"


def _level(value: float | None, green: float, yellow: float) -> str:
    if value is None or math.isnan(value):
        return "none"
    if value >= green:
        return "green"
    return "yellow" if value >= yellow else "red"


def _band(value: float | None, band: tuple[float, float], soft: tuple[float, float]) -> str:
    if value is None or math.isnan(value):
        return "none"
    if band[0] <= value <= band[1]:
        return "green"
    return "yellow" if soft[0] <= value <= soft[1] else "red"


def _fmt_pct(v: float | None) -> str:
    return "–" if v is None or math.isnan(v) else f"{v * 100:.0f} %"


# ---------------------------------------------------------------------- as of


def data_as_of(engine: Engine, now: datetime | None = None) -> datetime:
    """The newest instant the synced marketplace data describes (never after ``now``)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        newest = conn.execute(
            select(func.max(SyncState.cursor_updated_at)).where(
                SyncState.resource.in_(("sessions", "bookings", "engagement_events"))
            )
        ).scalar()
    if newest is None:
        return now
    return min(newest, now)


# ---------------------------------------------------------------------- dashboard


def compute_dashboard(
    engine: Engine,
    *,
    tz: tzinfo = UTC,
    now: datetime | None = None,
    as_of: datetime | None = None,
    thresholds: Thresholds | None = None,
    daily_target: int | None = None,
    heatmap_days: int = 28,
    critical_limit: int = 50,
) -> Dashboard:
    started = _time.perf_counter()
    th = thresholds or Thresholds()
    as_of = as_of or data_as_of(engine, now)
    a = _us(as_of)
    day_starts = local_day_starts(as_of - timedelta(days=35), 36, tz)  # ... today, tomorrow
    # Index of today's local day in day_starts.
    today_i = int(np.searchsorted(day_starts, a, side="right") - 1)
    lo = min(int(day_starts[0]), a - 15 * DAY_US)
    hi = max(int(day_starts[-1]), a + DAY_US)

    s = TutoringSession.__table__.c
    rows = _raw_rows(
        engine,
        select(s.start_time, s.end_time, s.status, s.rating).where(
            s.deleted_at.is_(None),
            s.start_time >= _bind(_dt(lo)),
            s.start_time < _bind(_dt(hi)),
        ),
    )
    start = _to_us([r[0] for r in rows])
    end = _to_us([r[1] for r in rows])
    status = np.array([r[2] or "" for r in rows], dtype=object)
    rating = np.array([r[3] if r[3] is not None else np.nan for r in rows], dtype=float)
    nat = np.iinfo(np.int64).min
    end = np.where(end == nat, start + HOUR_US, end)
    not_cancelled = status != "cancelled"
    live = (status == "scheduled") | (status == "completed")
    booked = (status == "completed") | (status == "scheduled") | (status == "no_show_customer")
    hours = np.clip((end - start) / HOUR_US, 0, 12)

    av = AvailabilitySlot.__table__.c
    slots = _raw_rows(
        engine,
        select(av.starts_at, av.ends_at).where(
            av.deleted_at.is_(None),
            av.starts_at >= _bind(_dt(a - 15 * DAY_US)),
            av.starts_at <= _bind(_dt(a)),
        ),
    )
    slot_start = _to_us([r[0] for r in slots])
    slot_end = _to_us([r[1] for r in slots])
    slot_hours = np.clip((slot_end - slot_start) / HOUR_US, 0, 24)

    b = Booking.__table__.c
    unfilled = _to_us(
        [
            r[0]
            for r in _raw_rows(
                engine,
                select(b.scheduled_time).where(
                    b.deleted_at.is_(None),
                    b.status == "unfilled",
                    b.scheduled_time >= _bind(_dt(a - 15 * DAY_US)),
                    b.scheduled_time <= _bind(_dt(a)),
                ),
            )
        ]
    )
    mean_len = float(np.nanmean(hours[booked])) if booked.any() else 1.0

    cards: list[MetricCard] = []
    spark_days = day_starts[today_i - 6 : today_i + 2]  # 7 local days incl. today
    labels = tuple(WEEKDAYS[_dt(int(d)).astimezone(tz).weekday()] for d in spark_days[:-1])

    # --- active sessions this hour
    h0 = a - a % HOUR_US

    def active_in(t0: int) -> int:
        return int(np.count_nonzero(live & (start < t0 + HOUR_US) & (end > t0)))

    now_active, prev_active = active_in(h0), active_in(h0 - 7 * DAY_US)
    hourly = [active_in(h0 - k * HOUR_US) for k in range(167, -1, -1)]
    trend, trend_text = _trend(now_active, prev_active, relative=True)
    if now_active == 0 and prev_active == 0:
        st = "none"
    else:
        st = _level(_ratio(now_active, prev_active) or 0.0, th.volume_green, th.volume_yellow)
        if prev_active == 0:
            st = "green"
    cards.append(
        MetricCard(
            "active_sessions",
            "Active sessions this hour",
            float(now_active),
            f"{now_active:,}",
            float(prev_active),
            trend,
            f"{trend_text} vs same hour last week",
            "up",
            st,
            f"{_dt(h0).astimezone(tz):%H:00}–{_dt(h0 + HOUR_US).astimezone(tz):%H:00}, "
            f"{prev_active:,} a week ago",
            tuple(float(x) for x in hourly),
            (),
        )
    )

    # --- sessions today vs target
    def day_count(i: int) -> int:
        d0, d1 = int(day_starts[i]), int(day_starts[i + 1])
        return int(np.count_nonzero(not_cancelled & (start >= d0) & (start < d1)))

    today = day_count(today_i)
    last_week = day_count(today_i - 7) if today_i >= 7 else None
    same_days = [day_count(today_i - 7 * k) for k in range(1, 5) if today_i - 7 * k >= 0]
    same_days = [c for c in same_days if c > 0]
    if daily_target:
        target: float | None = float(daily_target)
        target_text = f"target {daily_target:,}"
    elif same_days:
        target = float(np.mean(same_days))
        weekday = _dt(int(day_starts[today_i])).astimezone(tz).strftime("%A")
        target_text = f"target {target:,.0f} (mean of the last {len(same_days)} {weekday}s)"
    else:
        target, target_text = None, "no target yet (needs a week of history)"
    trend, trend_text = _trend(today, last_week, relative=True)
    cards.append(
        MetricCard(
            "sessions_today",
            "Sessions today",
            float(today),
            f"{today:,}",
            None if last_week is None else float(last_week),
            trend,
            f"{trend_text} vs last week",
            "up",
            "none" if target is None else _level(today / target, th.volume_green, th.volume_yellow),
            target_text,
            tuple(float(day_count(i)) for i in range(today_i - 6, today_i + 1)),
            labels,
        )
    )

    # --- rolling 7-day windows
    rated = ~np.isnan(rating)
    # Windows are half-open [t0, t1); the current one ends just after as_of, so a
    # session starting at that very instant counts.
    a1 = a + 1
    w_cur = (start >= a1 - 7 * DAY_US) & (start < a1)
    w_prev = (start >= a1 - 14 * DAY_US) & (start < a1 - 7 * DAY_US)

    def mean_rating(mask: np.ndarray) -> float | None:
        m = mask & rated
        return float(rating[m].mean()) if m.any() else None

    def share_good(mask: np.ndarray) -> float | None:
        m = mask & rated
        return float((rating[m] >= 4).mean()) if m.any() else None

    def daily(fn: Any) -> tuple[float, ...]:
        out = []
        for i in range(today_i - 6, today_i + 1):
            d0, d1 = int(day_starts[i]), min(int(day_starts[i + 1]), a1)
            v = fn((start >= d0) & (start < d1))
            out.append(float("nan") if v is None else float(v))
        return tuple(out)

    cur, prev = mean_rating(w_cur), mean_rating(w_prev)
    trend, trend_text = _trend(cur, prev, relative=False)
    n_rated = int(np.count_nonzero(w_cur & rated))
    cards.append(
        MetricCard(
            "avg_rating",
            "Average rating (7 days)",
            cur,
            "–" if cur is None else f"{cur:.2f}",
            prev,
            trend,
            f"{trend_text} vs previous 7 days",
            "up",
            _level(cur, th.rating_green, th.rating_yellow),
            f"{n_rated:,} rated sessions",
            daily(mean_rating),
            labels,
        )
    )

    def utilization(mask_sessions: np.ndarray, s0: int, s1: int) -> float | None:
        supply = float(slot_hours[(slot_start >= s0) & (slot_start < s1)].sum())
        used = float(hours[mask_sessions & booked].sum())
        return _ratio(used, supply)

    cur = utilization(w_cur, a1 - 7 * DAY_US, a1)
    prev = utilization(w_prev, a1 - 14 * DAY_US, a1 - 7 * DAY_US)
    trend, trend_text = _trend(cur, prev, relative=True)
    supply_7 = float(slot_hours[(slot_start >= a1 - 7 * DAY_US) & (slot_start < a1)].sum())
    spark_util = []
    for i in range(today_i - 6, today_i + 1):
        d0, d1 = int(day_starts[i]), min(int(day_starts[i + 1]), a1)
        v = utilization((start >= d0) & (start < d1), d0, d1)
        spark_util.append(float("nan") if v is None else v)
    cards.append(
        MetricCard(
            "utilization",
            "Tutor utilization (7 days)",
            cur,
            _fmt_pct(cur),
            prev,
            trend,
            f"{trend_text} vs previous 7 days",
            "band",
            _band(cur, th.utilization_band, th.utilization_soft),
            f"booked of {supply_7:,.0f} available tutor hours",
            tuple(spark_util),
            labels,
        )
    )

    cur, prev = share_good(w_cur), share_good(w_prev)
    trend, trend_text = _trend(
        None if cur is None else cur * 100,
        None if prev is None else prev * 100,
        relative=False,
        unit=" pts",
        decimals=1,
    )
    cards.append(
        MetricCard(
            "satisfaction",
            "Satisfaction (7 days)",
            cur,
            _fmt_pct(cur),
            prev,
            trend,
            f"{trend_text} vs previous 7 days",
            "up",
            _level(cur, th.satisfaction_green, th.satisfaction_yellow),
            "share of ratings 4 or 5",
            daily(share_good),
            labels,
        )
    )

    def coverage(s0: int, s1: int) -> float | None:
        supply = float(slot_hours[(slot_start >= s0) & (slot_start < s1)].sum())
        m = (start >= s0) & (start < s1) & booked
        demand = float(hours[m].sum()) + mean_len * int(
            np.count_nonzero((unfilled >= s0) & (unfilled < s1))
        )
        return _ratio(supply, demand)

    cur = coverage(a1 - 7 * DAY_US, a1)
    prev = coverage(a1 - 14 * DAY_US, a1 - 7 * DAY_US)
    trend, trend_text = _trend(cur, prev, relative=True)
    if cur is None:
        balance = "no data"
    elif cur < th.coverage_band[0]:
        balance = "shortage: demand above supply"
    elif cur > th.coverage_band[1]:
        balance = "surplus: more supply than demand"
    else:
        balance = "balanced"
    spark_cov = []
    for i in range(today_i - 6, today_i + 1):
        v = coverage(int(day_starts[i]), min(int(day_starts[i + 1]), a1))
        spark_cov.append(float("nan") if v is None else v)
    cards.append(
        MetricCard(
            "supply_demand",
            "Supply / demand (7 days)",
            cur,
            _fmt_pct(cur),
            prev,
            trend,
            f"{trend_text} vs previous 7 days",
            "band",
            _band(cur, th.coverage_band, th.coverage_soft),
            f"tutor hours per demanded hour; {balance}",
            tuple(spark_cov),
            labels,
        )
    )

    # --- heatmap: sessions by local weekday x hour over the last `heatmap_days` days
    hm = not_cancelled & (start >= a1 - heatmap_days * DAY_US) & (start < a1)
    hour, weekday = _local_hour_and_weekday(start[hm], tz)
    grid = np.zeros((7, 24), dtype=np.int64)
    np.add.at(grid, (weekday, hour), 1)

    tiers, critical, run = _predictions(engine, critical_limit)
    return Dashboard(
        as_of=as_of,
        timezone=str(getattr(tz, "key", tz)),
        as_of_local=as_of.astimezone(tz),
        cards=tuple(cards),
        heatmap=tuple(tuple(int(x) for x in row) for row in grid),
        heatmap_days=heatmap_days,
        has_sessions=bool(len(start)),
        tiers=tiers,
        critical=critical,
        scoring_run=run,
        seconds=_time.perf_counter() - started,
    )


def _predictions(
    engine: Engine, limit: int
) -> tuple[dict[str, int] | None, tuple[CriticalTutor, ...], dict[str, Any] | None]:
    """Tier counts and the Critical/High tutors of the newest run with tutor predictions."""
    p = TutorPrediction.__table__.c
    with engine.connect() as conn:
        run_id = conn.execute(select(func.max(p.run_id))).scalar()
        if run_id is None:
            return None, (), None
        run = conn.execute(
            select(
                ScoringRun.id,
                ScoringRun.finished_at,
                ScoringRun.as_of,
                ScoringRun.status,
                ScoringRun.models,
            ).where(ScoringRun.id == run_id)
        ).first()
        tiers = dict.fromkeys(TIERS, 0)
        for tier, n in conn.execute(
            select(p.performance_tier, func.count())
            .where(p.run_id == run_id)
            .group_by(p.performance_tier)
        ):
            if tier:
                name = str(tier).capitalize()
                tiers[name] = tiers.get(name, 0) + int(n)
        t = Tutor.__table__.c
        rows = conn.execute(
            select(p.tutor_id, t.name, t.manager_id, p.risk_tier, p.p_churn_30d, p.factors)
            .select_from(
                Tutor.__table__.join(TutorPrediction.__table__, t.id == p.tutor_id, isouter=False)
            )
            .where(p.run_id == run_id, func.lower(p.risk_tier).in_(("critical", "high")))
            .order_by(p.p_churn_30d.desc())
            .limit(limit)
        ).all()
        ids = [r.tutor_id for r in rows]
        i = Intervention.__table__.c
        open_for = set()
        if ids:
            open_for = {
                r[0]
                for r in conn.execute(
                    select(i.tutor_id).where(
                        i.tutor_id.in_(ids),
                        i.status.in_(("open", "in_progress")),
                        i.deleted_at.is_(None),
                    )
                )
            }
    from_alerts = _critical_alerts(engine, limit, open_for_ids=open_for)
    if from_alerts:
        # The alert engine has run: the panel shows its open Critical alerts (they carry
        # the rule's facts and next step, cooldowns and acknowledgements).
        return tiers, from_alerts, _run_info(run)
    critical = tuple(
        CriticalTutor(
            tutor_id=int(r.tutor_id),
            name=r.name or f"Tutor {r.tutor_id}",
            risk_tier=str(r.risk_tier).capitalize(),
            p_churn_30d=r.p_churn_30d,
            reason=_reason(r.factors),
            manager_id=r.manager_id,
            open_intervention=r.tutor_id in open_for,
        )
        for r in rows
    )
    return tiers, critical, _run_info(run)


def _run_info(run: Any) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "finished_at": run.finished_at,
        "as_of": run.as_of,
        "status": run.status,
        "models": run.models,
    }


def _critical_alerts(
    engine: Engine, limit: int, *, open_for_ids: set[int]
) -> tuple[CriticalTutor, ...]:
    """Open, unsnoozed Critical alerts about tutors, one row per tutor (its most urgent
    alert), most urgent first; empty when there are none."""
    from services.db.models import Alert

    a = Alert.__table__.c
    now = datetime.now(UTC)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                a.id,
                a.key,
                a.state,
                a.tutor_id,
                a.subject_name,
                a.manager_id,
                a.title,
                a.facts,
                a.priority,
            )
            .where(
                a.open_key.is_not(None),
                a.severity == "Critical",
                a.tutor_id.is_not(None),
                (a.snoozed_until.is_(None)) | (a.snoozed_until <= now),
            )
            .order_by(a.priority.desc(), a.id.desc())
        ).all()
        if not rows:
            return ()
        p = TutorPrediction.__table__.c
        run_id = conn.execute(select(func.max(p.run_id))).scalar()
        # The tutors the panel will show: the first ``limit`` in priority order.
        tutor_ids = list(dict.fromkeys(int(r.tutor_id) for r in rows))[: max(limit, 1)]
        risk = {
            int(t): v
            for t, v in conn.execute(
                select(p.tutor_id, p.p_churn_30d).where(
                    p.run_id == run_id, p.tutor_id.in_(tutor_ids)
                )
            )
        }
        i = Intervention.__table__.c
        open_for = set(open_for_ids) | {
            int(r[0])
            for r in conn.execute(
                select(i.tutor_id).where(
                    i.tutor_id.in_(tutor_ids),
                    i.status.in_(("open", "in_progress")),
                    i.deleted_at.is_(None),
                )
            )
        }
    seen: set[int] = set()
    out = []
    for r in rows:
        tid = int(r.tutor_id)
        if tid in seen:
            continue
        seen.add(tid)
        out.append(
            CriticalTutor(
                tutor_id=tid,
                name=r.subject_name or f"Tutor {tid}",
                risk_tier="Critical",
                p_churn_30d=risk.get(tid),
                reason=r.title,
                manager_id=r.manager_id,
                open_intervention=tid in open_for,
                alert_key=r.key,
                alert_id=int(r.id),
                alert_state=r.state,
            )
        )
        if len(out) >= limit:
            break
    return tuple(out)


def _reason(factors: Any) -> str:
    if isinstance(factors, str):
        try:
            factors = json.loads(factors)
        except ValueError:
            return factors
    if isinstance(factors, list) and factors:
        first = factors[0]
        if isinstance(first, dict):
            return str(first.get("text") or first.get("label") or first.get("feature") or "")
        return str(first)
    return ""


# ---------------------------------------------------------------------- System page


@dataclass(frozen=True)
class RejectRow:
    id: int
    resource: str
    record_id: str | None
    reason: str
    raw: str
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    seen_count: int


def list_rejects(engine: Engine, *, limit: int = 2000) -> list[RejectRow]:
    r = Reject.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                r.id,
                r.resource,
                r.record_id,
                r.reason,
                r.raw,
                r.first_seen_at,
                r.last_seen_at,
                r.seen_count,
            )
            .where(r.resolved_at.is_(None))
            .order_by(r.last_seen_at.desc(), r.id.desc())
            .limit(limit)
        ).all()
    return [RejectRow(*row) for row in rows]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    version: str
    trained_at: str
    metrics: str
    path: str
    active: bool
    warning: str = ""
    pinned: bool = False  # rolled back to (ml.registry): used until the pin is released
    usable: bool = True  # files intact: it can be rolled back to
    report: Any = None  # services.model_report.ModelReport: the figures laid out


_MANIFEST_NAMES = ("manifest.json", "meta.json", "metadata.json", "model.json", "registry.json")


def model_registry(models_dir: Path | None) -> list[ModelEntry]:
    """Models saved under the data folder's ``models/``, read-only.

    With ``ml.registry`` (one folder per version, ``metadata.json`` each), every version
    is listed with its held-out metrics, and the one the app would load is marked
    active (a pinned roll-back first, else the newest acceptable version whose files
    check out); versions left out say why. Anything else that looks like a manifest is
    listed as found, and an unreadable file is listed with a warning, never skipped.
    """
    if models_dir is None or not models_dir.is_dir():
        return []
    entries = _registry_entries(models_dir)
    return entries if entries else _manifest_entries(models_dir)


_HEADLINE = (
    "auc",
    "concordance",
    "brier",
    "wape",
    "mae",
    "mape",
    "accuracy",
    "recall",
    "precision",
)


def _metrics_text(metrics: Any, key: str | None = None) -> str:
    """Up to four figures, the key metric first, then the headline kinds (AUC,
    concordance, Brier, WAPE...) before counts."""
    if not isinstance(metrics, dict):
        return str(metrics)
    scalars = [(k, v) for k, v in metrics.items() if not isinstance(v, dict | list)]

    def rank(item: tuple[str, Any]) -> int:
        k = item[0]
        if k == key:
            return 0
        return 1 if any(h in k for h in _HEADLINE) else 2

    return ", ".join(
        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
        for k, v in sorted(scalars, key=rank)[:4]
    )


def _when(text: Any) -> str:
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text or "")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _registry_entries(models_dir: Path) -> list[ModelEntry]:
    try:
        from ml.registry import ModelRegistry
    except ImportError:
        return []
    from services.model_report import model_report

    # No loaders: listing must not import the model libraries or load any model.
    registry = ModelRegistry(models_dir, loaders={})
    entries: list[ModelEntry] = []
    for name in registry.names():
        versions = registry.versions(name)
        if not versions:
            continue
        acceptable, _notes = registry.acceptable(name)
        ok_ids = {v.version for v in acceptable}
        pin = registry.pin(name)
        pinned = None if pin is None else pin.get("pinned")
        order = [v for v in versions if v.version == pinned] + list(reversed(acceptable))
        problems = {v.version: _check_files(v) for v in versions}
        active = next((v.version for v in order if problems[v.version] is None), None)
        for v in reversed(versions):
            md = v.metadata or {}
            warning = problems[v.version] or ""
            if not warning and v.version not in ok_ids:
                warning = "held-out metric worse than the version before: not used"
            if v.version == pinned:
                warning = (warning + "; " if warning else "") + "pinned (rolled back)"
            elif pinned is not None and v.version > pinned and not problems[v.version]:
                warning = f"newer than the pinned v{pinned}: not used while it is pinned"
            entries.append(
                ModelEntry(
                    name=name,
                    version=f"v{v.version}",
                    trained_at=_when(md.get("trained_at")),
                    metrics=_metrics_text(md.get("metrics") or {}, md.get("key_metric")),
                    path=str(v.path.relative_to(models_dir)),
                    active=v.version == active,
                    warning=warning,
                    pinned=v.version == pinned,
                    usable=problems[v.version] is None,
                    report=model_report(md),
                )
            )
    return entries


def _check_files(version: Any) -> str | None:
    """ml.registry's checksum rule, without loading: None when every file is intact."""
    import hashlib

    md = version.metadata
    if md is None:
        return version.problem or "metadata unreadable"
    files = md.get("files") or {}
    if not files:
        return "no model files recorded"
    for name, digest in files.items():
        path = version.path / name
        if not path.is_file():
            return f"file {name} is missing"
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != digest:
            return f"file {name} is corrupt (checksum mismatch)"
    return None


def _manifest_entries(models_dir: Path) -> list[ModelEntry]:
    entries: list[ModelEntry] = []
    for path in sorted(models_dir.rglob("*.json")):
        if len(path.relative_to(models_dir).parts) > 4:
            continue
        if path.name not in _MANIFEST_NAMES and not path.name.endswith(".meta.json"):
            continue
        rel = str(path.relative_to(models_dir))
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            entries.append(ModelEntry(path.parent.name, "?", "", "", rel, False, str(exc)))
            continue
        items = raw.get("models") if isinstance(raw, dict) and "models" in raw else [raw]
        if isinstance(items, dict):
            items = [
                dict(v, name=k) if isinstance(v, dict) else {"name": k} for k, v in items.items()
            ]
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            entries.append(
                ModelEntry(
                    name=str(item.get("name") or item.get("model") or path.parent.name),
                    version=str(item.get("version") or path.parent.name),
                    trained_at=str(item.get("trained_at") or item.get("created_at") or ""),
                    metrics=_metrics_text(item.get("metrics") or item.get("held_out") or {}),
                    path=rel,
                    active=bool(item.get("active", False)),
                )
            )
    return entries


def database_size(engine: Engine) -> int | None:
    """Bytes on disk (SQLite file + WAL), or the PostgreSQL database's size."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("select pg_database_size(current_database())").scalar())
    from services.db.engine import sqlite_file

    path = sqlite_file(engine.url)
    if path is None:
        return None
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


# ---------------------------------------------------------------------- interventions


@dataclass(frozen=True)
class InterventionRow:
    local_id: int
    remote_id: int | None
    tutor_id: int | None
    tutor_name: str
    intervention_type: str
    status: str
    priority: int | None
    due_at: datetime | None
    reason: str
    pending: bool
    conflict: bool
    updated_at: datetime | None


def list_interventions(engine: Engine, *, limit: int = 20000) -> list[InterventionRow]:
    i = Intervention.__table__.c
    t = Tutor.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                i.local_id,
                i.id,
                i.tutor_id,
                t.name,
                i.intervention_type,
                i.status,
                i.priority,
                i.due_at,
                i.reason,
                i.pending,
                i.conflict,
                func.coalesce(i.local_updated_at, i.updated_at),
            )
            .select_from(Intervention.__table__.outerjoin(Tutor.__table__, t.id == i.tutor_id))
            .where(i.deleted_at.is_(None))
            .order_by(i.due_at.desc())
            .limit(limit)
        ).all()
    return [
        InterventionRow(
            local_id=int(r[0]),
            remote_id=r[1],
            tutor_id=r[2],
            tutor_name=r[3] or (f"Tutor {r[2]}" if r[2] else "–"),
            intervention_type=r[4] or "",
            status=r[5] or "",
            priority=r[6],
            due_at=r[7],
            reason=r[8] or "",
            pending=bool(r[9]),
            conflict=r[10] is not None,
            updated_at=r[11],
        )
        for r in rows
    ]


def sla_state(due_at: datetime | None, status: str, now: datetime) -> str:
    """ "done" / "overdue" / "due_soon" (within 24 h) / "on_track" / "none"."""
    if status in ("completed", "cancelled"):
        return "done"
    if due_at is None:
        return "none"
    if due_at <= now:
        return "overdue"
    return "due_soon" if due_at - now <= timedelta(hours=24) else "on_track"


__all__ = [
    "Dashboard",
    "InterventionRow",
    "MetricCard",
    "ModelEntry",
    "RejectRow",
    "Thresholds",
    "compute_dashboard",
    "data_as_of",
    "database_size",
    "list_interventions",
    "list_rejects",
    "model_registry",
    "sla_state",
]
