"""The first-session deep dive: what separates good first sessions (rated 4-5) from poor
ones (rated 1-3; DOMAIN.md "First sessions").

Rows come from ``ml.features.first_session.first_session_rows``: every completed, rated
first session of the window with the tutor's record *as it was when the session
started* (point-in-time, like the first-session model), so a tutor's later decline does
not leak into their early sessions. Numeric predictors are compared with Welch's t-test
and effect sizes (``services.analytics.stats``); categorical factors (subject, time of
day, weekday, student age, and what happened in the session: a technical issue, a
reschedule) by the poor rate per level with a chi-square test of independence and
Cramér's V (levels with fewer than ``MIN_LEVEL`` sessions left out). All p-values of
one table are adjusted together (Benjamini-Hochberg).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from services.analytics.stats import Comparison, benjamini_hochberg, compare

# Two months: recent enough to describe today's tutors and onboarding, and at full
# scale 30,000 rated first sessions, far more than the tests need; a quarter would cost
# half a second more of the tab's five-second budget for no better answer.
WINDOW_DAYS = 60
MIN_SESSIONS = 20
MIN_LEVEL = 20  # a level with fewer sessions is left out (its rate is noise, its
# expected counts break the chi-square approximation)

NUMERIC: tuple[tuple[str, str, str], ...] = (
    ("tutor_rating_avg", "Tutor's average rating", "{:.2f}"),
    ("tutor_first_session_success_rate", "Tutor's past first-session success", "{:.0%}"),
    ("tutor_sessions_completed", "Tutor's sessions completed", "{:.0f}"),
    ("tutor_engagement_score", "Tutor's engagement (14 d)", "{:.2f}"),
    ("tutor_reschedule_rate", "Tutor's reschedule rate", "{:.1%}"),
    ("tutor_no_show_rate", "Tutor's no-show rate", "{:.1%}"),
    ("tutor_tenure_days", "Tutor's tenure (days)", "{:.0f}"),
    ("student_age", "Student's age", "{:.1f}"),
    ("local_hour", "Hour (tutor's time)", "{:.1f}"),
)


@dataclass(frozen=True, slots=True)
class FactorLevel:
    factor: str
    level: str
    sessions: int
    poor: int
    poor_rate: float
    vs_overall: float  # poor_rate - overall rate, in share points
    p: float  # the factor's chi-square p (same on each of its levels)
    p_adjusted: float
    cramers_v: float


@dataclass(frozen=True)
class FirstSessionDrivers:
    numeric: tuple[Comparison, ...]
    factors: tuple[FactorLevel, ...]
    sessions: int
    poor: int
    poor_rate: float
    start: pd.Timestamp
    end: pd.Timestamp


def first_session_drivers(
    rows: pd.DataFrame,
    sessions: pd.DataFrame,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> FirstSessionDrivers | None:
    """``rows``: first_session_rows of rated first sessions (index session_id, ``poor``
    0/1); ``sessions``: the sessions frame, for what happened in each session."""
    rows = rows[rows["poor"].notna()]
    if len(rows) < MIN_SESSIONS:
        return None
    poor = rows["poor"].to_numpy(float) > 0.5
    numeric = compare(
        [
            (col, label, rows[col].to_numpy(float)[~poor], rows[col].to_numpy(float)[poor])
            for col, label, _fmt in NUMERIC
        ],
        names=("good", "poor"),
        fmt={col: fmt for col, _l, fmt in NUMERIC},
    )
    return FirstSessionDrivers(
        numeric=tuple(numeric),
        factors=tuple(_factor_rates(_factors(rows, sessions), poor)),
        sessions=len(rows),
        poor=int(poor.sum()),
        poor_rate=float(poor.mean()),
        start=start,
        end=end,
    )


def _factors(rows: pd.DataFrame, sessions: pd.DataFrame) -> dict[str, np.ndarray]:
    hour = rows["local_hour"].to_numpy(int)
    day = np.select(
        [(hour >= 6) & (hour < 12), (hour >= 12) & (hour < 17), (hour >= 17) & (hour < 22)],
        ["morning (6–12)", "afternoon (12–17)", "evening (17–22)"],
        "night (22–6)",
    )
    age = rows["student_age"].to_numpy(float)
    age_band = np.select(
        [age < 11, age < 14, age < 17, age >= 17],
        ["under 11", "11–13", "14–16", "17 +"],
        "not given",
    )
    history = rows["tutor_first_sessions_rated"].to_numpy(float)
    s = sessions.set_index("id").reindex(rows.index)
    tech = s["technical_issue"].astype("boolean").fillna(False).to_numpy(bool)
    moved = pd.to_numeric(s["reschedule_count"], errors="coerce").fillna(0).to_numpy() > 0
    return {
        "Subject": rows["subject"].astype(str).to_numpy(),
        "Time of day": day,
        "Weekend": np.where(rows["is_weekend"].to_numpy(int) == 1, "weekend", "weekday"),
        "Student's age": age_band,
        "Tutor's first sessions before": np.select(
            [history == 0, history < 5], ["none (new)", "1–4"], "5 +"
        ),
        "Technical issue in the session": np.where(tech, "yes", "no"),
        "Session was rescheduled": np.where(moved, "yes", "no"),
    }


def _factor_rates(factors: dict[str, np.ndarray], poor: np.ndarray) -> list[FactorLevel]:
    overall = float(poor.mean())
    tested: list[tuple[str, pd.DataFrame, float, float]] = []
    for name, levels in factors.items():
        table = pd.crosstab(pd.Series(levels, name="level"), pd.Series(poor, name="poor"))
        table = table.reindex(columns=[False, True], fill_value=0)
        table = table[table.sum(axis=1) >= MIN_LEVEL]
        table.columns = ["good", "poor"]
        p, v = _chi_square(table.to_numpy())
        tested.append((name, table, p, v))
    adjusted = benjamini_hochberg([t[2] for t in tested])
    out = []
    # Strongest association first; within a factor, the worst level first.
    ranked = sorted(
        zip(tested, adjusted, strict=True),
        key=lambda tq: -tq[0][3] if math.isfinite(tq[0][3]) else 0.0,
    )
    for (name, table, p, v), q in ranked:
        table = table.assign(rate=table["poor"] / table.sum(axis=1)).sort_values(
            "rate", ascending=False, kind="mergesort"
        )[["good", "poor"]]
        for level, (n_good, n_poor) in table.iterrows():
            n = int(n_good + n_poor)
            rate = n_poor / n if n else math.nan
            out.append(
                FactorLevel(
                    factor=name,
                    level=str(level),
                    sessions=n,
                    poor=int(n_poor),
                    poor_rate=float(rate),
                    vs_overall=float(rate - overall),
                    p=p,
                    p_adjusted=float(q),
                    cramers_v=v,
                )
            )
    return out


def _chi_square(table: np.ndarray) -> tuple[float, float]:
    """p-value and Cramér's V of a levels x (good, poor) table; NaN when untestable."""
    table = table[table.sum(axis=1) > 0]
    if table.shape[0] < 2 or (table.sum(axis=0) == 0).any():
        return math.nan, math.nan
    chi2, p, _dof, _exp = sps.chi2_contingency(table, correction=False)
    n = table.sum()
    k = min(table.shape) - 1
    return float(p), float(math.sqrt(chi2 / (n * k))) if n and k else math.nan
