"""The Customers page's Velocity tab (issue 8): how fast customers book, by signup cohort.

Definitions (``services.customer_frames`` for joined, churned and session):

- **cohort**: the calendar month (UTC) a customer joined. Only customers who joined on or
  after the first day of the synced session history count: an older customer's early
  weeks are not in this database, and counting them would show their first months as
  empty. Week *k* after joining is ``[joined + 7k days, joined + 7(k+1) days)``.
- **sessions per week by cohort**: the mean number of sessions in week *k* per customer of
  the cohort (every customer of the cohort is in the denominator, churned ones too).
- **retention**: the share of the cohort with at least one session in week *k*.
- Censoring of both: a cohort has a point for week *k* only when its *last* customer to
  join has completed week *k* by the data time; no partial weeks, no partial cohorts.
- **time to 2nd and 3rd session**: days from a customer's first session to their second
  (third); the median and the middle half (25th-75th percentile) over the cohort's
  customers who got there (customers still on their way are not in it: a young
  cohort's figures are of its quick customers so far).
- **session frequency**: sessions per week over the last 30 days (the tenure clipped to
  7-30 days, the churn model's ``sessions_per_week``) of every customer active at the
  data time (joined and not churned), in half-session bins.
- **churn by velocity segment**: customers active 30 days before the data time, put in a
  segment by their sessions per week over the 30 days before that instant, and how many
  of them churned in the 30 days after it: exactly the customer churn model's 30-day
  label (``ml.labels``), observed in full.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from services.customer_frames import (
    DAY,
    CustomerFrames,
    active_at,
    churned_between,
    load_customer_frames,
    sessions_per_week,
)

MAX_WEEKS = 26  # weeks after joining shown on the cohort charts
CHURN_HORIZON_DAYS = 30
FREQUENCY_EDGES = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, math.inf)
# (label, lower bound inclusive, upper bound exclusive) in sessions per week
SEGMENTS: tuple[tuple[str, float, float], ...] = (
    ("< 0.5 / week", 0.0, 0.5),
    ("0.5–1 / week", 0.5, 1.0),
    ("1–2 / week", 1.0, 2.0),
    ("2+ / week", 2.0, math.inf),
)


@dataclass(frozen=True, slots=True)
class CohortRow:
    cohort: str  # "2026-06"
    label: str  # "Jun 2026"
    customers: int
    last_joined: datetime
    weeks_observed: int  # complete weeks after the cohort's last join; points shown
    sessions_per_week: tuple[float, ...]  # mean sessions per customer in week k
    retention: tuple[float, ...]  # share of the cohort with a session in week k
    with_first: int  # customers with at least one session
    reached_2nd: int
    median_days_to_2nd: float | None
    reached_3rd: int
    median_days_to_3rd: float | None
    # The middle half (25th-75th percentile) of the same days, for the spread.
    iqr_days_to_2nd: tuple[float, float] | None = None
    iqr_days_to_3rd: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class SegmentRow:
    label: str
    low: float
    high: float
    customers: int
    churned: int

    @property
    def churn_rate(self) -> float | None:
        return self.churned / self.customers if self.customers else None


@dataclass(frozen=True)
class CustomerVelocity:
    as_of: datetime
    history_start: datetime | None
    cohorts: tuple[CohortRow, ...]  # oldest first
    frequency_edges: tuple[float, ...]
    frequency_counts: tuple[int, ...]  # active customers per bin
    segment_reference: datetime  # velocity measured before it, churn counted after it
    segments: tuple[SegmentRow, ...]

    @property
    def empty(self) -> bool:
        return not self.cohorts and not sum(self.frequency_counts)


def _median(values: pd.Series) -> float | None:
    return None if values.empty else float(values.median())


def _iqr(values: pd.Series) -> tuple[float, float] | None:
    if values.empty:
        return None
    return float(values.quantile(0.25)), float(values.quantile(0.75))


def _nth_gap(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per customer: days from the first session to the second and to the third."""
    ordered = sessions.sort_values(["customer_id", "start"], kind="stable")
    rank = ordered.groupby("customer_id").cumcount()
    first = ordered[rank == 0].set_index("customer_id")["start"]
    out = pd.DataFrame(index=first.index)
    for n, name in ((1, "to_2nd"), (2, "to_3rd")):
        nth = ordered[rank == n].set_index("customer_id")["start"]
        out[name] = (nth - first.reindex(nth.index)) / DAY
    return out


def cohort_rows(frames: CustomerFrames, max_weeks: int = MAX_WEEKS) -> tuple[CohortRow, ...]:
    c, s, as_of = frames.customers, frames.sessions, frames.as_of
    start = frames.history_start
    if start is None or c.empty:
        return ()
    c = c[c["joined"].notna() & (c["joined"] >= start) & (c["joined"] < as_of)]
    if c.empty:
        return ()
    cohort = c["joined"].dt.strftime("%Y-%m")
    joined = c.set_index("customer_id")["joined"]
    mine = s[s["customer_id"].isin(joined.index)]
    week = ((mine["start"] - mine["customer_id"].map(joined)) / DAY // 7).clip(lower=0)
    cohort_of = pd.Series(cohort.to_numpy(), index=c["customer_id"].to_numpy())
    mine = mine.assign(week=week.astype(int), cohort=mine["customer_id"].map(cohort_of))
    gaps = _nth_gap(mine)
    rows = []
    for key, members in c.groupby(cohort, sort=True):
        n = len(members)
        last = members["joined"].max()
        observed = int(min(max_weeks, max(0, (as_of - last) // (7 * DAY))))
        ms = mine[(mine["cohort"] == key) & (mine["week"] < observed)]
        per_week = np.bincount(ms["week"].to_numpy(), minlength=observed)[:observed] / n
        active = ms.drop_duplicates(["customer_id", "week"])
        retained = np.bincount(active["week"].to_numpy(), minlength=observed)[:observed] / n
        g = gaps.reindex(members["customer_id"]).dropna(how="all")
        to2, to3 = g["to_2nd"].dropna(), g["to_3rd"].dropna()
        with_first = int(mine.loc[mine["cohort"] == key, "customer_id"].nunique())
        stamp = pd.Timestamp(f"{key}-01")
        rows.append(
            CohortRow(
                cohort=str(key),
                label=stamp.strftime("%b %Y"),
                customers=n,
                last_joined=last.to_pydatetime(),
                weeks_observed=observed,
                sessions_per_week=tuple(float(x) for x in per_week),
                retention=tuple(float(x) for x in retained),
                with_first=with_first,
                reached_2nd=len(to2),
                median_days_to_2nd=_median(to2),
                reached_3rd=len(to3),
                median_days_to_3rd=_median(to3),
                iqr_days_to_2nd=_iqr(to2),
                iqr_days_to_3rd=_iqr(to3),
            )
        )
    return tuple(rows)


def frequency_histogram(frames: CustomerFrames) -> tuple[int, ...]:
    """Active customers at the data time per ``FREQUENCY_EDGES`` bin of their sessions
    per week over the last 30 days."""
    c = frames.customers
    alive = c[active_at(c, frames.as_of)]
    rate = sessions_per_week(alive, frames.sessions, frames.as_of).to_numpy()
    counts, _ = np.histogram(rate, bins=np.array((*FREQUENCY_EDGES[:-1], 1e12)))
    return tuple(int(x) for x in counts)


def segment_rows(frames: CustomerFrames) -> tuple[pd.Timestamp, tuple[SegmentRow, ...]]:
    """Churn in the 30 days after the reference instant by velocity before it."""
    c, as_of = frames.customers, frames.as_of
    ref = as_of - CHURN_HORIZON_DAYS * DAY
    alive = c[active_at(c, ref)]
    rate = sessions_per_week(alive, frames.sessions, ref)
    churned = churned_between(alive, ref, as_of)
    rows = []
    for label, lo, hi in SEGMENTS:
        inside = (rate >= lo) & (rate < hi)
        rows.append(SegmentRow(label, lo, hi, int(inside.sum()), int((inside & churned).sum())))
    return ref, tuple(rows)


def velocity_from_frames(frames: CustomerFrames) -> CustomerVelocity:
    ref, segments = segment_rows(frames)
    return CustomerVelocity(
        as_of=frames.as_of.to_pydatetime(),
        history_start=(
            frames.history_start.to_pydatetime() if frames.history_start is not None else None
        ),
        cohorts=cohort_rows(frames),
        frequency_edges=FREQUENCY_EDGES,
        frequency_counts=frequency_histogram(frames),
        segment_reference=ref.to_pydatetime(),
        segments=segments,
    )


def customer_velocity(engine: Engine) -> CustomerVelocity:
    """The Velocity tab's figures from the local database (module doc)."""
    return velocity_from_frames(load_customer_frames(engine))
