"""Star performers vs lagging tutors: the top and bottom 10 % of active tutors by the
performance score (DOMAIN.md: 35 % rating, 25 % first-session success, 25 % reliability,
15 % engagement) of the newest scoring run, and what else differs between them.

The score's own ingredients differ by construction; they stay in the table, marked, so
nobody mistakes them for a finding. The rest (volume, tenure, utilization, replies,
churn risk, experience) are what a manager can act on or hire for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from services.analytics.stats import Comparison, compare

SHARE = 0.10
MIN_TUTORS = 20  # fewer active scored tutors: no split worth showing

# column, label, display format
FEATURES: tuple[tuple[str, str, str], ...] = (
    ("rating_avg_30d", "Average rating (30 d)", "{:.2f}"),
    ("first_session_success_rate", "First-session success", "{:.0%}"),
    ("tutor_reschedule_rate_90d", "Reschedule rate (90 d)", "{:.1%}"),
    ("no_show_rate_90d", "No-show rate (90 d)", "{:.1%}"),
    ("engagement_score_14d", "Engagement (14 d)", "{:.2f}"),
    ("sessions_30d", "Sessions (30 d)", "{:.1f}"),
    ("sessions_change_30d", "Sessions vs previous 30 d", "{:+.0%}"),
    ("utilization_14d", "Utilization (14 d)", "{:.0%}"),
    ("hours_offered_next_14d", "Hours offered (next 14 d)", "{:.1f}"),
    ("days_since_last_session", "Days since last session", "{:.1f}"),
    ("reply_minutes_30d", "Median reply time (min, 30 d)", "{:.0f}"),
    ("tenure_days", "Tenure (days)", "{:.0f}"),
    ("years_experience", "Years of experience", "{:.1f}"),
    ("certifications", "Certifications", "{:.1f}"),
    ("hourly_rate", "Hourly rate", "{:.0f}"),
    ("p_churn_30d", "Predicted churn risk (30 d)", "{:.0%}"),
)
DEFINING = frozenset(
    {
        "rating_avg_30d",
        "first_session_success_rate",
        "tutor_reschedule_rate_90d",
        "no_show_rate_90d",
        "engagement_score_14d",
    }
)


@dataclass(frozen=True)
class StarLagging:
    rows: tuple[Comparison, ...]
    n_star: int
    n_lagging: int
    star_cutoff: float  # lowest score among the stars
    lagging_cutoff: float  # highest score among the lagging
    tutors: int
    measure: str = "performance score (0-100) of the newest scoring run"


def split_top_bottom(score: pd.Series, share: float = SHARE) -> tuple[pd.Index, pd.Index]:
    """The top and bottom ``share`` (at least one each) by score; ties broken by tutor
    id so the split is reproducible."""
    s = score.dropna()
    k = max(1, math.ceil(len(s) * share))
    s = s.loc[sorted(s.index)]
    order = s.sort_values(kind="mergesort").index  # stable: equal scores keep id order
    return order[-k:], order[:k]


def star_vs_lagging(tutors: pd.DataFrame, share: float = SHARE) -> StarLagging | None:
    """``tutors``: one row per active scored tutor (index tutor id) with
    ``performance_score`` and the FEATURES columns (missing ones are skipped)."""
    scored = tutors[tutors["performance_score"].notna()]
    if len(scored) < MIN_TUTORS:
        return None
    top, bottom = split_top_bottom(scored["performance_score"], share)
    features = [
        (col, label, scored.loc[top, col].to_numpy(float), scored.loc[bottom, col].to_numpy(float))
        for col, label, _fmt in FEATURES
        if col in scored.columns
    ]
    rows = compare(
        features,
        names=("stars", "lagging"),
        fmt={col: fmt for col, _l, fmt in FEATURES},
        defining=DEFINING,
    )
    return StarLagging(
        rows=tuple(rows),
        n_star=len(top),
        n_lagging=len(bottom),
        star_cutoff=float(scored.loc[top, "performance_score"].min()),
        lagging_cutoff=float(scored.loc[bottom, "performance_score"].max()),
        tutors=len(scored),
    )
