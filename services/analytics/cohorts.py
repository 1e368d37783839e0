"""Retention curves of tutors by start month (the Analytics tab's first chart).

A tutor's start is ``hired_at`` (``created_at`` when missing); they are *retained* at
``k`` weeks when they had not churned by start + k weeks, churn being
``ml.labels.tutor_churn_times``: the same definition the churn model learns.

Honest censoring, two ways:

- a point is drawn only when every member of the cohort has been followed for ``k``
  weeks, so each share is a plain count (retained / cohort size), never an estimate over
  a shrinking group (a cohort with a member not yet followed for a week is not drawn);
- followed means up to ``settled_until`` = observed_until - 30 days: a tutor who went
  quiet within the last 30 days cannot be called churned yet (DOMAIN.md: 30 days with
  no session and no availability), so those weeks would flatter the newest cohorts.

Left truncation: only cohorts whose whole month lies after the start of the synced
history are drawn. Tutors who left before the history starts are not in the data, so
an older cohort would consist of its survivors and look better than it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.labels import IDLE_DAYS

WEEK = pd.Timedelta(days=7)
MAX_COHORTS = 12


@dataclass(frozen=True, slots=True)
class Cohort:
    label: str  # "Jun 2026"
    start: pd.Timestamp  # first day of the month, UTC
    size: int
    weeks: tuple[int, ...]  # 0, 1, ... up to the last week every member has reached
    retained: tuple[float, ...]  # share still active at each week
    still_active: tuple[int, ...]  # the counts behind the shares


@dataclass(frozen=True)
class Retention:
    cohorts: tuple[Cohort, ...]
    history_start: pd.Timestamp | None
    settled_until: pd.Timestamp
    skipped_before: int  # tutors of cohorts left out by left truncation


def retention_curves(
    starts: pd.Series,
    churned: pd.Series,
    *,
    observed_until: pd.Timestamp,
    history_start: pd.Timestamp | None,
    settle_days: int = IDLE_DAYS,
    max_cohorts: int = MAX_COHORTS,
) -> Retention:
    """``starts`` and ``churned`` (NaT: not churned) indexed by tutor id, UTC."""
    settled = observed_until - pd.Timedelta(days=settle_days)
    start = pd.to_datetime(starts, utc=True)
    churn = pd.to_datetime(churned.reindex(start.index), utc=True)
    start, churn = start[start.notna()], churn[start.notna()]
    month = start.dt.tz_localize(None).dt.to_period("M")
    month_start = month.dt.start_time.dt.tz_localize("UTC")
    eligible = month_start >= history_start if history_start is not None else month_start.notna()
    skipped = int((~eligible).sum())
    cohorts: list[Cohort] = []
    for period in sorted(month[eligible].unique())[-max_cohorts:]:
        members = (month == period) & eligible
        s = start[members].to_numpy(dtype="datetime64[us]")
        c = churn[members].to_numpy(dtype="datetime64[us]")
        # Whole weeks the last-hired member has been followed.
        reach = (np.datetime64(settled.tz_localize(None), "us") - s.max()) // np.timedelta64(7, "D")
        if reach < 1:  # a member not yet settled, or only week 0: nothing to draw
            continue
        weeks = np.arange(int(reach) + 1)
        # Churned by start + k weeks: NaT (never churned) compares False.
        horizon = s[None, :] + weeks[:, None] * np.timedelta64(7, "D")
        gone = ~np.isnat(c)[None, :] & (c[None, :] <= horizon)
        active = (~gone).sum(axis=1)
        size = int(members.sum())
        cohorts.append(
            Cohort(
                label=period.strftime("%b %Y"),
                start=period.start_time.tz_localize("UTC"),
                size=size,
                weeks=tuple(int(w) for w in weeks),
                retained=tuple(float(a) / size for a in active),
                still_active=tuple(int(a) for a in active),
            )
        )
    return Retention(tuple(cohorts), history_start, settled, skipped)
