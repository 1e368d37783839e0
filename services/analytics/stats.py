"""Two-group comparisons for the Analytics tab: Welch's t-test, effect sizes and the
Benjamini-Hochberg correction, with a sentence a manager can read.

Why both effect sizes: Cohen's d is what analysts expect, but counts and rates (sessions,
days idle, reschedule rates) are skewed, where a mean difference can hinge on a few
tutors. Cliff's delta, P(a random member of group A is above one of group B) minus the
reverse, is rank-based, bounded in [-1, 1] and comparable across features, so rows sort
by its size. The p-value is Welch's (means, unequal variances), as the issue asks; with a
dozen features tested at once, the adjusted p (Benjamini-Hochberg, false discovery rate)
is the one to read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_GROUP = 3  # below this a t-test is not computed (p stays NaN)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One feature compared between group A (stars, good sessions) and group B."""

    feature: str
    label: str
    mean_a: float
    mean_b: float
    n_a: int
    n_b: int
    t: float
    p: float
    p_adjusted: float
    cohen_d: float
    cliff_delta: float
    skewed: bool
    in_definition: bool  # part of what defines the groups: a difference by construction
    meaning: str
    fmt: str = "{:.2f}"  # how the means read ("{:.0%}" for a share)

    @property
    def significant(self) -> bool:
        return math.isfinite(self.p_adjusted) and self.p_adjusted < 0.05


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Welch's t statistic and two-sided p-value; NaN when a group is too small or both
    are constant."""
    a, b = _finite(a), _finite(b)
    if len(a) < MIN_GROUP or len(b) < MIN_GROUP:
        return math.nan, math.nan
    if np.var(a) == 0 and np.var(b) == 0:
        return (math.nan, math.nan) if a[0] == b[0] else (math.inf, 0.0)
    res = stats.ttest_ind(a, b, equal_var=False)
    return float(res.statistic), float(res.pvalue)


def cohen_d(a: np.ndarray, b: np.ndarray) -> float:
    """(mean A - mean B) / pooled standard deviation."""
    a, b = _finite(a), _finite(b)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return math.nan
    pooled = ((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2)
    if pooled <= 0:
        return math.nan
    return float((a.mean() - b.mean()) / math.sqrt(pooled))


def cliff_delta(a: np.ndarray, b: np.ndarray) -> float:
    """P(A > B) - P(A < B) over all pairs, from the Mann-Whitney U (ties count half)."""
    a, b = _finite(a), _finite(b)
    if len(a) == 0 or len(b) == 0:
        return math.nan
    u = stats.mannwhitneyu(a, b, alternative="two-sided").statistic
    return float(2.0 * u / (len(a) * len(b)) - 1.0)


def benjamini_hochberg(p: Sequence[float]) -> np.ndarray:
    """BH-adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(p, dtype=float)
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok):
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out


def is_skewed(values: np.ndarray, threshold: float = 1.0) -> bool:
    v = _finite(values)
    if len(v) < 8 or np.var(v) == 0:
        return False
    return bool(abs(stats.skew(v)) > threshold)


def magnitude(delta: float) -> str:
    """Romano et al.'s thresholds for |Cliff's delta|."""
    d = abs(delta)
    if not math.isfinite(d):
        return "unknown"
    if d < 0.147:
        return "negligible"
    if d < 0.33:
        return "small"
    if d < 0.474:
        return "medium"
    return "large"


def compare(
    features: Sequence[tuple[str, str, np.ndarray, np.ndarray]],
    *,
    names: tuple[str, str],
    fmt: dict[str, str] | None = None,
    defining: frozenset[str] = frozenset(),
) -> list[Comparison]:
    """Compare each ``(feature, label, values in A, values in B)``; rows sorted by
    |Cliff's delta|, p-values adjusted together."""
    rows = []
    for feature, label, a, b in features:
        fa, fb = _finite(a), _finite(b)
        t, p = welch(fa, fb)
        rows.append(
            dict(
                feature=feature,
                label=label,
                mean_a=float(fa.mean()) if len(fa) else math.nan,
                mean_b=float(fb.mean()) if len(fb) else math.nan,
                n_a=len(fa),
                n_b=len(fb),
                t=t,
                p=p,
                cohen_d=cohen_d(fa, fb),
                cliff_delta=cliff_delta(fa, fb),
                skewed=is_skewed(np.concatenate([fa, fb])),
                in_definition=feature in defining,
            )
        )
    adjusted = benjamini_hochberg([r["p"] for r in rows])
    out = []
    for r, q in zip(rows, adjusted, strict=True):
        r["p_adjusted"] = float(q)
        r["fmt"] = (fmt or {}).get(r["feature"], "{:.2f}")
        r["meaning"] = sentence(r, names, q)
        out.append(Comparison(**r))
    out.sort(key=lambda c: -abs(c.cliff_delta) if math.isfinite(c.cliff_delta) else 1.0)
    return out


def sentence(row: dict, names: tuple[str, str], q: float) -> str:
    """'Stars higher in 89 % of pairs (large)': the verdict in words; the means are in
    their own columns beside it, and a feature that is part of the groups' definition is
    marked there (``in_definition``), not in the sentence."""
    a, b = names
    delta = row["cliff_delta"]
    if not math.isfinite(delta) or not math.isfinite(row["mean_a"]):
        return "Too few values to compare."
    size = magnitude(delta)
    if size == "negligible":
        # With thousands of rows a negligible difference can still be "significant".
        significant = math.isfinite(q) and q < 0.05
        verdict = "Tiny difference: real, but negligible" if significant else "No real difference"
    else:
        higher = a if delta > 0 else b
        share = (1 + abs(delta)) / 2
        verdict = f"{higher.capitalize()} higher in {share * 100:.0f} % of pairs ({size})"
        if not (math.isfinite(q) and q < 0.05):
            verdict += ", may be chance"
    return verdict


def _finite(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return v[np.isfinite(v)]
