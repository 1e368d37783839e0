"""First-session success (DOMAIN.md "Customers", issue 8's "First sessions" tab): the
share of completed first sessions rated 4 or 5, by tutor, by subject and by customer
segment (grade), for the last week, month or quarter, each with the period before it.

Flags: a tutor below 70 % is red, the top tenth of tutors (among those with at least
``MIN_RATED_FOR_TOP`` rated first sessions in the period) green; a subject below 60 % is
flagged (the PRD's "pause onboarding for review" threshold). The periods end at the
newest scoring run's as-of (the data time), or the newest session when nothing was
scored, so the figures match the rest of the app rather than the wall clock.

One query (first sessions of the two periods with their tutor and customer grade), then
pandas group-bys: at full scale a quarter and the one before hold about 45,000 rows.

Week-over-week drops: a tutor whose first-session success fell by more than the alert
threshold (20 % by default, relative) is marked, whatever the period shown. The figure
is the alert rule's own (``services.alerts.tutor_rules.first_session_success_drop``,
run here on the newest scoring run with the user's alert settings): trailing 30-day
windows a week apart, at least ``min_first_sessions`` rated in each, so the table and
the alert queue never disagree about who dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from services.db.models import Customer, ScoringRun, Tutor, TutoringSession

PERIODS: dict[str, timedelta] = {
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "quarter": timedelta(days=91),
}
TUTOR_RED_BELOW = 0.70
SUBJECT_FLAG_BELOW = 0.60
TOP_SHARE = 0.10
MIN_RATED_FOR_TOP = 3
GOOD_RATING = 4


@dataclass(frozen=True, slots=True)
class SuccessRow:
    key: str  # tutor id, subject or segment, as text
    label: str
    first_sessions: int  # completed first sessions in the period
    rated: int  # of which rated
    success_rate: float | None  # share of the rated ones at 4+; None: none rated
    avg_rating: float | None
    previous_rate: float | None  # the same figure for the period before
    trend: float | None  # success_rate - previous_rate
    flag: str  # "red", "green" or ""


@dataclass(frozen=True, slots=True)
class SuccessDrop:
    """One tutor's week-over-week fall in first-session success (the alert rule's facts)."""

    tutor_id: int
    rate_now: float  # trailing 30 days
    rate_week_ago: float  # the same window a week earlier
    relative_drop: float  # (week_ago - now) / week_ago
    rated_now: int
    rated_week_ago: int
    threshold: float  # the alert setting it exceeded
    severity: str


@dataclass(frozen=True)
class FirstSessionStats:
    period: str
    start: datetime
    end: datetime
    previous_start: datetime
    overall_rate: float | None
    previous_overall_rate: float | None
    by_tutor: tuple[SuccessRow, ...]
    by_subject: tuple[SuccessRow, ...]
    by_segment: tuple[SuccessRow, ...]
    drops: dict[str, SuccessDrop] = field(default_factory=dict)  # tutor key -> its drop


def _end(engine: Engine) -> datetime:
    with engine.connect() as conn:
        as_of = conn.execute(
            select(func.max(ScoringRun.as_of)).where(ScoringRun.status == "ok")
        ).scalar()
        if as_of is None:
            as_of = conn.execute(
                select(func.max(TutoringSession.start_time)).where(
                    TutoringSession.status == "completed"
                )
            ).scalar()
    return as_of or datetime.now(UTC)


def _load(engine: Engine, start: datetime, end: datetime) -> pd.DataFrame:
    s, c, t = TutoringSession.__table__.c, Customer.__table__.c, Tutor.__table__.c
    q = (
        select(
            s.tutor_id,
            t.name.label("tutor"),
            s.subject,
            c.grade_level.label("segment"),
            s.start_time,
            s.rating,
        )
        .select_from(
            TutoringSession.__table__.outerjoin(Tutor.__table__, t.id == s.tutor_id).outerjoin(
                Customer.__table__, c.id == s.customer_id
            )
        )
        .where(
            s.first_session.is_(True),
            s.status == "completed",
            s.deleted_at.is_(None),
            s.start_time >= start,
            s.start_time < end,
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return pd.DataFrame(
        rows, columns=["tutor_id", "tutor", "subject", "segment", "start_time", "rating"]
    )


def _rates(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per group: completed, rated, success rate, average rating."""
    if frame.empty:
        return pd.DataFrame(columns=["n", "rated", "rate", "avg"])
    rating = pd.to_numeric(frame["rating"], errors="coerce")
    work = pd.DataFrame(
        {
            "g": frame[by],
            "rated": rating.notna(),
            "good": rating >= GOOD_RATING,
            "rating": rating,
        }
    )
    grouped = work.groupby("g", dropna=True)
    out = pd.DataFrame(
        {
            "n": grouped.size(),
            "rated": grouped["rated"].sum(),
            "good": grouped["good"].sum(),
            "avg": grouped["rating"].mean(),
        }
    )
    out["rate"] = (out["good"] / out["rated"]).where(out["rated"] > 0)
    return out


def _num(x: Any) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def _rows(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    by: str,
    labels: dict[str, str],
    flag: Any,
) -> tuple[SuccessRow, ...]:
    now, before = _rates(current, by), _rates(previous, by)
    out = []
    for key, r in now.iterrows():
        rate = _num(r["rate"])
        prev = _num(before["rate"].get(key)) if key in before.index else None
        out.append(
            SuccessRow(
                key=str(key),
                label=labels.get(str(key), str(key)),
                first_sessions=int(r["n"]),
                rated=int(r["rated"]),
                success_rate=rate,
                avg_rating=_num(r["avg"]),
                previous_rate=prev,
                trend=None if rate is None or prev is None else rate - prev,
                flag="",
            )
        )
    flags = flag(out)
    rows = [
        SuccessRow(
            **{**{f: getattr(r, f) for f in SuccessRow.__slots__}, "flag": flags.get(r.key, "")}
        )
        for r in out
    ]
    # Most first sessions first: the rows that matter most on top until the user sorts.
    return tuple(sorted(rows, key=lambda r: (-r.first_sessions, r.label)))


def _tutor_flags(rows: list[SuccessRow]) -> dict[str, str]:
    flags = {
        r.key: "red"
        for r in rows
        if r.success_rate is not None and r.success_rate < TUTOR_RED_BELOW
    }
    ranked = sorted(
        (r for r in rows if r.rated >= MIN_RATED_FOR_TOP and r.success_rate is not None),
        key=lambda r: (-(r.success_rate or 0.0), -r.rated),
    )
    if ranked:
        top = max(1, int(len(ranked) * TOP_SHARE))
        cut = ranked[top - 1].success_rate or 0.0
        for r in ranked:
            # Everyone tied with the last of the top tenth is a top performer too.
            if (r.success_rate or 0.0) >= cut and r.key not in flags:
                flags[r.key] = "green"
    return flags


def _subject_flags(rows: list[SuccessRow]) -> dict[str, str]:
    return {
        r.key: "red"
        for r in rows
        if r.success_rate is not None and r.success_rate < SUBJECT_FLAG_BELOW
    }


def _overall(frame: pd.DataFrame) -> float | None:
    rating = pd.to_numeric(frame["rating"], errors="coerce").dropna()
    return None if rating.empty else float((rating >= GOOD_RATING).mean())


def success_drops(engine: Engine, alert_settings: Any = None) -> dict[str, SuccessDrop]:
    """Tutors (keyed by id as text) whose first-session success fell week over week by
    more than the alert threshold, from the alert rule itself (module doc); empty before
    the first scoring run."""
    from services.alerts.context import RuleContext, latest_run
    from services.alerts.tutor_rules import first_session_success_drop
    from services.settings import AlertSettings

    settings = alert_settings if alert_settings is not None else AlertSettings()
    with engine.connect() as conn:
        run = latest_run(conn)
        if run is None:
            return {}
        findings = list(first_session_success_drop(RuleContext(conn, run, settings)))
    out = {}
    for f in findings:
        if f.tutor_id is None:
            continue
        facts = f.facts
        out[str(f.tutor_id)] = SuccessDrop(
            tutor_id=int(f.tutor_id),
            rate_now=float(facts["success_rate_30d"]),
            rate_week_ago=float(facts["success_rate_30d_week_ago"]),
            relative_drop=float(facts["relative_drop"]),
            rated_now=int(facts["rated_first_sessions"]),
            rated_week_ago=int(facts["rated_first_sessions_week_ago"]),
            threshold=float(settings.first_session_drop),
            severity=str(f.severity),
        )
    return out


def first_session_stats(
    engine: Engine,
    period: str = "week",
    *,
    end: datetime | None = None,
    alert_settings: Any = None,
) -> FirstSessionStats:
    """Success by tutor, subject and segment for ``period`` (week/month/quarter) ending at
    ``end`` (default: the data time, module doc), with the period before it, and the
    tutors whose success dropped week over week (``alert_settings``: the user's alert
    thresholds; default the built-in ones)."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")
    span = PERIODS[period]
    end = end or _end(engine)
    start, previous_start = end - span, end - 2 * span
    frame = _load(engine, previous_start, end)
    frame["tutor_id"] = frame["tutor_id"].astype("Int64").astype(str)
    frame["segment"] = frame["segment"].fillna("unknown")
    frame["subject"] = frame["subject"].fillna("unknown")
    when = pd.to_datetime(frame["start_time"], utc=True)
    is_current = when >= pd.Timestamp(start)
    current, previous = frame[is_current], frame[~is_current]
    tutors = {
        str(k): (v or f"Tutor {k}") for k, v in zip(frame["tutor_id"], frame["tutor"], strict=True)
    }
    subjects = {s: s.replace("_", " ") for s in frame["subject"].unique()}
    return FirstSessionStats(
        period=period,
        start=start,
        end=end,
        previous_start=previous_start,
        overall_rate=_overall(current),
        previous_overall_rate=_overall(previous),
        by_tutor=_rows(current, previous, "tutor_id", tutors, _tutor_flags),
        by_subject=_rows(current, previous, "subject", subjects, _subject_flags),
        by_segment=_rows(current, previous, "segment", {}, lambda _rows: {}),
        drops=success_drops(engine, alert_settings),
    )
