"""Mean predicted 30-day churn risk by subject x tenure band (the churn heatmap).

Risk is the newest scoring run's P(churn 30 d) of each active tutor; tenure is counted
at that run's as-of. A tutor teaching three subjects counts in each of the three rows
(the rows overlap, as tutors do). A cell with fewer than ``min_n`` tutors keeps its
count but no mean: one or two tutors make a colour that means nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

BANDS: tuple[tuple[str, float, float], ...] = (
    ("< 30 d", 0, 30),
    ("30–90 d", 30, 90),
    ("90–180 d", 90, 180),
    ("180–365 d", 180, 365),
    ("1 y +", 365, np.inf),
)
MIN_N = 10


@dataclass(frozen=True)
class RiskHeatmap:
    subjects: tuple[str, ...]
    bands: tuple[str, ...]
    mean: tuple[tuple[float | None, ...], ...]  # [subject][band]; None below min_n
    count: tuple[tuple[int, ...], ...]
    min_n: int
    overall: float | None  # mean over the tutors (each once)
    tutors: int


def tenure_band(days: np.ndarray) -> np.ndarray:
    """Index into BANDS per tenure in days (-1 when unknown)."""
    d = np.asarray(days, dtype=float)
    out = np.full(len(d), -1, dtype=np.int64)
    for i, (_label, lo, hi) in enumerate(BANDS):
        out[(d >= lo) & (d < hi)] = i
    return out


def risk_heatmap(
    risk: pd.Series,
    subjects: pd.Series,
    tenure_days: pd.Series,
    *,
    min_n: int = MIN_N,
) -> RiskHeatmap:
    """``risk`` (P(churn 30 d)), ``subjects`` (lists) and ``tenure_days`` by tutor id."""
    risk = risk.dropna()
    frame = pd.DataFrame(
        {
            "risk": risk,
            "subject": subjects.reindex(risk.index),
            "band": tenure_band(tenure_days.reindex(risk.index).to_numpy()),
        }
    )
    frame["subject"] = [_subject_list(v) for v in frame["subject"]]
    long = frame.explode("subject")
    long = long[long["band"] >= 0]
    grouped = long.groupby(["subject", "band"])["risk"].agg(["mean", "size"])
    names = sorted(long["subject"].unique().tolist())
    mean_rows: list[tuple[float | None, ...]] = []
    count_rows: list[tuple[int, ...]] = []
    for s in names:
        means, counts = [], []
        for b in range(len(BANDS)):
            if (s, b) in grouped.index:
                m, n = grouped.loc[(s, b)]
                counts.append(int(n))
                means.append(float(m) if n >= min_n else None)
            else:
                counts.append(0)
                means.append(None)
        mean_rows.append(tuple(means))
        count_rows.append(tuple(counts))
    return RiskHeatmap(
        subjects=tuple(names),
        bands=tuple(b[0] for b in BANDS),
        mean=tuple(mean_rows),
        count=tuple(count_rows),
        min_n=min_n,
        overall=float(risk.mean()) if len(risk) else None,
        tutors=len(risk),
    )


def _subject_list(value: object) -> Sequence[str]:
    if isinstance(value, list | tuple | np.ndarray) and len(value):
        return [str(v) for v in value]
    return ["(none)"]
