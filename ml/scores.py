"""Tiers and scores of DOMAIN.md, vectorised and NaN-safe, from feature frames.

Inputs are the frames of :mod:`ml.features.tutor` and :mod:`ml.features.customer` (their
column names; a missing column counts as missing data) plus model outputs. Every
function returns a DataFrame on the input's index with the score, its tier and the
parts it is made of, so the UI can show *why*. Missing data never gives a silent NaN:
the part takes a stated neutral value and a ``no_*`` flag says so.

Boundaries (scores are rounded to 9 decimals first, so 84.999999999 from floating point
reads 85):

- risk tier from P(churn 30 d): Critical >= 0.70, High >= 0.50, Medium >= 0.25, else
  Low; a missing probability is "Unknown".
- performance tier: Platinum >= 85, Gold >= 70, Silver >= 55, else Bronze.
- tutor segment: Star > 80, Healthy 60-80, At-Risk 40-60 (below 60), Churning < 40.
- customer tier: Critical <= 40, At Risk <= 70, Healthy <= 85, Thriving above (the PRD's
  0-40 / 41-70 / 71-85 / 86-100 on a continuous score).

**Tutor performance score** (DOMAIN.md), 0-100:
``35 * rating / 5 + 25 * first-session success + 25 * reliability + 15 * engagement``
with rating the 30-day average when it rests on 5+ ratings (else the all-time average),
first-session success the share of rated first sessions rated 4+, reliability
``1 - (reschedule rate + no-show rate)`` over 90 days, engagement the 14-day score. Neutral
values when missing: rating 4.3 (the platform prior), first-session success 0.75,
reliability 0.93 (the platform's typical rates), engagement 0.5.

**Tutor health score** (tutor-tracking-plan.md: "overall tutor engagement score" with
segments by health, burnout and availability; this formula is ours), 0-100:

    30 * (1 - P(churn 30 d))          will they still be here
  + 20 * engagement (14 d)            logins and replies
  + 15 * momentum                     sessions vs the previous 30 days: 1 + change, 0-1
  + 15 * quality                      (rating - 3) / 2 on 0-1 (3 stars = 0, 5 = 1)
  + 10 * reliability                  1 - (reschedule + no-show rate)
  + 10 * availability                 hours offered, last 14 d vs the 14 before, 0-1
  - 10 if the burnout flag is up

**Burnout flag** (the tracking plan's burnout risk): high load (utilization over 14 days
>= 0.85 with at least 6 sessions in 7 days) *and* at least one decline: ratings falling
(last 7 days 0.3+ below the 30-day average, or 30-day average 0.3+ below the previous
30 days) or replies slowing (median reply over 14 days 25 %+ slower than over 30 days).

**Customer health score** (ops-dashboard-prd.md), 0-100, the five parts shown
separately (each 0-100 before its weight):

- first-session success 30 %: share of first sessions rated 4+; else the first
  session's rating >= 4; neutral 0.7 before any rated first session.
- session velocity 25 %: sessions per week over 30 days against one a week (full marks;
  the sandbox's customers average 0.4), halved when sessions fell by half or more vs
  the previous 30 days.
- inbound-call frequency 20 %: 0 calls in 14 days = 1, 1 call = 0.5, 2+ = 0.
- goal status 15 %: completed 1, in progress 0.7, none 0.4.
- tutor consistency 10 %: share of sessions with the usual tutor over 90 days;
  neutral 0.8 without sessions.

**Predicted sessions next week**: :class:`SessionsForecast`, a median linear regression
on the week already booked, recent volume, hours offered and engagement, next to two
naive baselines (last 7 days; sessions already booked); its MAE on a later hold-out is
in the report (full-scale sandbox: MAE 0.743 vs 0.740 for "what is booked" and 1.86 for
"same as last week"; the booked week is nearly all there is to know, and the fit says
so with a coefficient of 0.995 on it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ml import metrics

ROUND = 9


# ---------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ScoreSettings:
    """Every weight and threshold of the scores (user-changeable, stored with results)."""

    risk_critical: float = 0.70
    risk_high: float = 0.50
    risk_medium: float = 0.25
    perf_w_rating: float = 35.0
    perf_w_first_session: float = 25.0
    perf_w_reliability: float = 25.0
    perf_w_engagement: float = 15.0
    perf_platinum: float = 85.0
    perf_gold: float = 70.0
    perf_silver: float = 55.0
    prior_rating: float = 4.3
    perf_min_recent_ratings: float = 5.0
    prior_first_session_success: float = 0.75
    prior_reliability: float = 0.93
    prior_engagement: float = 0.5
    health_w_retention: float = 30.0
    health_w_engagement: float = 20.0
    health_w_momentum: float = 15.0
    health_w_quality: float = 15.0
    health_w_reliability: float = 10.0
    health_w_availability: float = 10.0
    health_burnout_penalty: float = 10.0
    segment_star: float = 80.0
    segment_healthy: float = 60.0
    segment_at_risk: float = 40.0
    burnout_utilization: float = 0.85
    burnout_sessions_7d: float = 6.0
    burnout_rating_drop: float = 0.3
    burnout_reply_slowdown: float = 1.25
    cust_w_first_session: float = 30.0
    cust_w_velocity: float = 25.0
    cust_w_calls: float = 20.0
    cust_w_goal: float = 15.0
    cust_w_consistency: float = 10.0
    cust_velocity_target_per_week: float = 1.0
    cust_prior_first_session: float = 0.7
    cust_prior_consistency: float = 0.8
    cust_goal_completed: float = 1.0
    cust_goal_in_progress: float = 0.7
    cust_goal_none: float = 0.4
    cust_critical: float = 40.0
    cust_at_risk: float = 70.0
    cust_healthy: float = 85.0

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT = ScoreSettings()


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _first(*arrays: np.ndarray) -> np.ndarray:
    out = arrays[0].copy()
    for a in arrays[1:]:
        out = np.where(np.isnan(out), a, out)
    return out


def _r(x: np.ndarray) -> np.ndarray:
    return np.round(x, ROUND)


# ---------------------------------------------------------------------- tiers


def risk_tier(p_churn_30d, settings: ScoreSettings = DEFAULT) -> np.ndarray:
    """Critical >= 0.70, High >= 0.50, Medium >= 0.25, Low; NaN -> "Unknown"."""
    p = _r(pd.to_numeric(pd.Series(np.asarray(p_churn_30d).ravel()), errors="coerce")
           .to_numpy(dtype=float, na_value=np.nan))  # fmt: skip
    s = settings
    return np.select(
        [np.isnan(p), p >= s.risk_critical, p >= s.risk_high, p >= s.risk_medium],
        ["Unknown", "Critical", "High", "Medium"],
        "Low",
    ).astype(object)


def performance_tier(score, settings: ScoreSettings = DEFAULT) -> np.ndarray:
    x = _r(np.asarray(score, dtype=float))
    s = settings
    return np.select(
        [np.isnan(x), x >= s.perf_platinum, x >= s.perf_gold, x >= s.perf_silver],
        ["Unknown", "Platinum", "Gold", "Silver"],
        "Bronze",
    ).astype(object)


def health_segment(score, settings: ScoreSettings = DEFAULT) -> np.ndarray:
    x = _r(np.asarray(score, dtype=float))
    s = settings
    return np.select(
        [np.isnan(x), x > s.segment_star, x >= s.segment_healthy, x >= s.segment_at_risk],
        ["Unknown", "Star", "Healthy", "At-Risk"],
        "Churning",
    ).astype(object)


def customer_tier(score, settings: ScoreSettings = DEFAULT) -> np.ndarray:
    x = _r(np.asarray(score, dtype=float))
    s = settings
    return np.select(
        [np.isnan(x), x <= s.cust_critical, x <= s.cust_at_risk, x <= s.cust_healthy],
        ["Unknown", "Critical", "At Risk", "Healthy"],
        "Thriving",
    ).astype(object)


# ---------------------------------------------------------------------- tutors


def _tutor_parts(X: pd.DataFrame, s: ScoreSettings) -> dict[str, np.ndarray]:
    recent = _col(X, "rating_avg_30d")
    enough = np.nan_to_num(_col(X, "ratings_30d"), nan=np.inf) >= s.perf_min_recent_ratings
    rating = _first(np.where(enough, recent, np.nan), _col(X, "rating_avg_all"), recent)
    fs = _col(X, "first_session_success_rate")
    resched = _col(X, "tutor_reschedule_rate_90d")
    noshow = _col(X, "no_show_rate_90d")
    reliability = 1.0 - (resched + noshow)
    eng = _col(X, "engagement_score_14d")
    return {
        "no_ratings": np.isnan(rating),
        "no_first_sessions": np.isnan(fs),
        "no_sessions": np.isnan(reliability),
        "no_engagement": np.isnan(eng),
        "rating": np.clip(np.where(np.isnan(rating), s.prior_rating, rating), 1.0, 5.0),
        "first_session": np.clip(np.where(np.isnan(fs), s.prior_first_session_success, fs), 0, 1),
        "reliability": np.clip(
            np.where(np.isnan(reliability), s.prior_reliability, reliability), 0, 1
        ),
        "engagement": np.clip(np.where(np.isnan(eng), s.prior_engagement, eng), 0, 1),
    }


def tutor_performance(X: pd.DataFrame, settings: ScoreSettings = DEFAULT) -> pd.DataFrame:
    """Performance score 0-100 (DOMAIN.md weights), tier, the weighted parts and flags."""
    s = settings
    p = _tutor_parts(X, s)
    parts = {
        "perf_rating": s.perf_w_rating * p["rating"] / 5.0,
        "perf_first_session": s.perf_w_first_session * p["first_session"],
        "perf_reliability": s.perf_w_reliability * p["reliability"],
        "perf_engagement": s.perf_w_engagement * p["engagement"],
    }
    score = _r(sum(parts.values()))
    out = pd.DataFrame(
        {"performance_score": score, "performance_tier": performance_tier(score, s), **parts},
        index=X.index,
    )
    for flag in ("no_ratings", "no_first_sessions", "no_sessions", "no_engagement"):
        out[flag] = p[flag]
    return out


def burnout(X: pd.DataFrame, settings: ScoreSettings = DEFAULT) -> pd.DataFrame:
    """Burnout flag: high load and falling ratings or slowing replies (see module doc)."""
    s = settings
    util = _col(X, "utilization_14d")
    s7 = _col(X, "sessions_7d")
    high_load = (np.nan_to_num(util) >= s.burnout_utilization) & (
        np.nan_to_num(s7) >= s.burnout_sessions_7d
    )
    trend = _col(X, "rating_trend_7d_vs_30d")
    change = _col(X, "rating_change_30d")
    falling = (np.nan_to_num(trend) <= -s.burnout_rating_drop) | (
        np.nan_to_num(change) <= -s.burnout_rating_drop
    )
    r14, r30 = _col(X, "reply_minutes_14d"), _col(X, "reply_minutes_30d")
    slowing = np.nan_to_num(r14) >= s.burnout_reply_slowdown * np.nan_to_num(r30, nan=np.inf)
    slowing &= np.nan_to_num(r14) > 0
    return pd.DataFrame(
        {
            "burnout": high_load & (falling | slowing),
            "high_load": high_load,
            "ratings_falling": falling,
            "replies_slowing": slowing,
        },
        index=X.index,
    )


def tutor_health(X: pd.DataFrame, p_churn_30d, settings: ScoreSettings = DEFAULT) -> pd.DataFrame:
    """Health score 0-100, segment, the weighted parts, the burnout flags (module doc).

    A missing churn probability counts as the retention part at half marks and sets
    ``no_churn_prediction``."""
    s = settings
    p = _tutor_parts(X, s)
    pc = pd.to_numeric(pd.Series(np.asarray(p_churn_30d).ravel()), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    if len(pc) != len(X):
        raise ValueError("p_churn_30d must have one value per feature row")
    no_pred = np.isnan(pc)
    retention = np.where(no_pred, 0.5, 1.0 - np.clip(pc, 0, 1))
    change = _col(X, "sessions_change_30d")
    momentum = np.clip(1.0 + np.nan_to_num(change, nan=0.0), 0.0, 1.0)
    offered_change = _col(X, "hours_offered_change_14d")
    availability = np.clip(1.0 + np.nan_to_num(offered_change, nan=0.0), 0.0, 1.0)
    quality = np.clip((p["rating"] - 3.0) / 2.0, 0.0, 1.0)
    b = burnout(X, s)
    parts = {
        "health_retention": s.health_w_retention * retention,
        "health_engagement": s.health_w_engagement * p["engagement"],
        "health_momentum": s.health_w_momentum * momentum,
        "health_quality": s.health_w_quality * quality,
        "health_reliability": s.health_w_reliability * p["reliability"],
        "health_availability": s.health_w_availability * availability,
        "health_burnout_penalty": -s.health_burnout_penalty * b["burnout"].to_numpy(float),
    }
    score = _r(np.clip(sum(parts.values()), 0.0, 100.0))
    out = pd.DataFrame(
        {"health_score": score, "health_segment": health_segment(score, s), **parts},
        index=X.index,
    )
    out = pd.concat([out, b], axis=1)
    out["no_churn_prediction"] = no_pred
    out["no_ratings"] = p["no_ratings"]
    return out


# ---------------------------------------------------------------------- customers


def customer_health(X: pd.DataFrame, settings: ScoreSettings = DEFAULT) -> pd.DataFrame:
    """Customer health 0-100 with the PRD's five parts (each 0-100 and weighted), tier,
    and flags for parts taken at their neutral value."""
    s = settings
    n = len(X)
    fs_rate = _col(X, "first_session_success_rate")
    first_rating = _col(X, "first_session_rating")
    fs = _first(fs_rate, np.where(np.isnan(first_rating), np.nan, (first_rating >= 4) * 1.0))
    no_first = np.isnan(fs)
    fs = np.where(no_first, s.cust_prior_first_session, np.clip(fs, 0, 1))

    s30 = np.nan_to_num(_col(X, "sessions_30d"))
    prev30 = _col(X, "sessions_prev_30d")
    per_week = _first(_col(X, "sessions_per_week"), s30 * 7.0 / 30.0)
    per_week = np.nan_to_num(per_week)
    velocity = np.clip(per_week / s.cust_velocity_target_per_week, 0.0, 1.0)
    halved = np.nan_to_num(prev30) > 0
    halved &= s30 <= 0.5 * np.nan_to_num(prev30)
    velocity = np.where(halved, 0.5 * velocity, velocity)

    calls = np.nan_to_num(_col(X, "calls_14d"))
    call_part = np.select([calls >= 2, calls >= 1], [0.0, 0.5], 1.0)

    done = np.nan_to_num(_col(X, "goal_completed")) > 0.5
    going = np.nan_to_num(_col(X, "goal_in_progress")) > 0.5
    goal = np.select([done, going], [s.cust_goal_completed, s.cust_goal_in_progress],
                     s.cust_goal_none)  # fmt: skip

    cons = _col(X, "tutor_consistency_90d")
    no_cons = np.isnan(cons)
    cons = np.where(no_cons, s.cust_prior_consistency, np.clip(cons, 0, 1))

    parts = {
        "part_first_session": 100 * fs,
        "part_velocity": 100 * velocity,
        "part_calls": 100 * call_part,
        "part_goal": 100 * goal,
        "part_consistency": 100 * cons,
    }
    weights = {
        "part_first_session": s.cust_w_first_session,
        "part_velocity": s.cust_w_velocity,
        "part_calls": s.cust_w_calls,
        "part_goal": s.cust_w_goal,
        "part_consistency": s.cust_w_consistency,
    }
    total_w = sum(weights.values())
    score = _r(sum(parts[k] * w for k, w in weights.items()) / total_w) if n else np.zeros(0)
    out = pd.DataFrame(
        {"health_score": score, "health_tier": customer_tier(score, s), **parts}, index=X.index
    )
    out["velocity_halved"] = halved
    out["no_first_session"] = no_first
    out["no_tutor_history"] = no_cons
    return out


# ---------------------------------------------------------------------- sessions next week

FORECAST_FEATURES = (
    "upcoming_sessions_7d",
    "sessions_7d",
    "sessions_30d",
    "hours_offered_14d",
    "engagement_score_14d",
)
FORECAST_FILE = "sessions_forecast.json"


def sessions_in_window(sessions: pd.DataFrame, ids, start, end) -> pd.Series:
    """Completed sessions per tutor ending in ``[start, end)`` (the forecast's target)."""
    s = sessions
    m = (s["status"] == "completed") & (s["end_time"] >= start) & (s["end_time"] < end)
    counts = s.loc[m, "tutor_id"].value_counts()
    return counts.reindex(pd.Index(ids), fill_value=0).astype(float)


@dataclass
class SessionsForecast:
    """Completed sessions in the next 7 days: a median (least absolute deviation) linear
    regression, mostly "the week already booked" plus what usually gets added to it.

    Median rather than mean because the figure is judged by its MAE and weekly counts
    are skewed; identity link because sessions booked ahead map one to one onto sessions
    held (a Poisson GLM with a log link did worse than the booked count alone).
    Predictions are floored at 0; missing inputs take the training medians.
    """

    KIND = "sessions_forecast_lad"
    features: list[str] = field(default_factory=lambda: list(FORECAST_FEATURES))
    alpha: float = 1e-6
    coef: list[float] = field(default_factory=list)
    intercept: float = 0.0
    medians: list[float] = field(default_factory=list)
    report: dict = field(default_factory=dict)

    def _design(self, X: pd.DataFrame) -> np.ndarray:
        cols = [_col(X, f) for f in self.features]
        Z = np.column_stack(cols) if cols else np.zeros((len(X), 0))
        if self.medians:
            Z = np.where(np.isnan(Z), np.asarray(self.medians)[None, :], Z)
        return Z

    def fit(self, X: pd.DataFrame, y) -> SessionsForecast:
        """Least absolute deviations by iteratively reweighted least squares (weights
        1 / max(|residual|, 0.05); a small ridge ``alpha`` keeps it well posed)."""
        y = np.asarray(y, dtype=float)
        raw = np.column_stack([_col(X, f) for f in self.features])
        med = np.nanmedian(np.where(np.isfinite(raw), raw, np.nan), axis=0)
        self.medians = np.nan_to_num(med).tolist()
        Z = np.column_stack([np.ones(len(y)), self._design(X)])
        ridge = self.alpha * len(y) * np.eye(Z.shape[1])
        ridge[0, 0] = 0.0
        w = np.ones(len(y))
        beta = np.zeros(Z.shape[1])
        for _ in range(100):
            zw = Z * w[:, None]
            new = np.linalg.solve(Z.T @ zw + ridge, zw.T @ y)
            done = np.max(np.abs(new - beta)) < 1e-7
            beta = new
            if done:
                break
            w = 1.0 / np.maximum(np.abs(y - Z @ beta), 0.05)
        self.intercept = float(beta[0])
        self.coef = beta[1:].tolist()
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if not self.coef:
            raise ValueError("the sessions forecast is not fitted")
        if len(X) == 0:
            return np.zeros(0)
        return np.maximum(self.intercept + self._design(X) @ np.asarray(self.coef), 0.0)

    def evaluate(self, X: pd.DataFrame, y) -> dict:
        """MAE of the GLM and of the naive baselines on held-out rows."""
        y = np.asarray(y, dtype=float)
        pred = self.predict(X)
        return {
            "n": len(y),
            "mean_actual": float(y.mean()) if len(y) else float("nan"),
            "mae": metrics.mae(y, pred),
            "wape": metrics.wape(y, pred),
            "mae_last_7d": metrics.mae(y, np.nan_to_num(_col(X, "sessions_7d"))),
            "mae_booked": metrics.mae(y, np.nan_to_num(_col(X, "upcoming_sessions_7d"))),
        }

    def save(self, directory: str | Path) -> list[str]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        doc = {"kind": self.KIND, **asdict(self)}
        (directory / FORECAST_FILE).write_text(json.dumps(doc, indent=1, default=float))
        return [FORECAST_FILE]

    @classmethod
    def load(cls, directory: str | Path) -> SessionsForecast:
        doc = json.loads((Path(directory) / FORECAST_FILE).read_text())
        if doc.pop("kind", None) != cls.KIND:
            raise ValueError("not a sessions forecast")
        m = cls(**doc)
        if len(m.coef) != len(m.features):
            raise ValueError("sessions forecast JSON is inconsistent")
        return m
