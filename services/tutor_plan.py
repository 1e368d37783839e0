"""The metrics behind a tutor's performance tier, goals for the next tier, and concrete
improvement suggestions aimed at the weakest parts (the profile and the tutor's report).

The performance score is DOMAIN.md's: average rating 35 %, first-session success 25 %,
reliability = 1 - (reschedule + no-show rate) 25 %, engagement 15 %; Platinum >= 85,
Gold >= 70, Silver >= 55. Weights and thresholds come from the scoring run that made the
tier (stored with it), so the breakdown adds up to the score the tutor was given. The
points of each part are the scoring's own (kept in the prediction's metrics); for older
runs without them they are recomputed from the same headline figures.

A part is weak by the points it leaves on the table (weight - points): that is what an
improvement there is worth, so the suggestions come in that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULTS = {
    "perf_w_rating": 35.0,
    "perf_w_first_session": 25.0,
    "perf_w_reliability": 25.0,
    "perf_w_engagement": 15.0,
    "perf_platinum": 85.0,
    "perf_gold": 70.0,
    "perf_silver": 55.0,
    "perf_min_recent_ratings": 5.0,
    "prior_rating": 4.3,
    "prior_first_session_success": 0.75,
    "prior_reliability": 0.93,
    "prior_engagement": 0.5,
}
TIERS = ("Bronze", "Silver", "Gold", "Platinum")


@dataclass(frozen=True)
class Part:
    key: str  # rating / first_session / reliability / engagement
    label: str
    value: float | None  # the measured value (None: no data, the prior was used)
    value_text: str
    points: float
    weight: float

    @property
    def missing(self) -> float:
        """Points this part leaves on the table."""
        return max(0.0, self.weight - self.points)


@dataclass(frozen=True)
class TierBreakdown:
    score: float
    tier: str
    parts: tuple[Part, ...]
    next_tier: str | None  # None at Platinum
    next_threshold: float | None
    points_needed: float  # 0 at Platinum
    goals: tuple[str, ...]
    suggestions: tuple[str, ...]

    @property
    def weakest(self) -> tuple[Part, ...]:
        """The parts in order of points missed, worst first."""
        return tuple(sorted(self.parts, key=lambda p: -p.missing))


def _f(metrics: Mapping[str, Any], key: str) -> float | None:
    v = metrics.get(key)
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f else None


def _clip(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def _pct(x: float | None) -> str:
    return "no data yet" if x is None else f"{x * 100:.0f} %"


def tier_breakdown(prediction: Mapping[str, Any], settings: Mapping[str, Any]) -> TierBreakdown:
    """The breakdown of a prediction (``services.tutors`` profile dict: metrics, score,
    tier) under the run's score ``settings`` (``ScoreSettings.to_dict()``)."""
    s = {k: float(settings.get(k, v)) for k, v in DEFAULTS.items()}
    m: Mapping[str, Any] = prediction.get("metrics") or {}
    recent, n_recent = _f(m, "rating_avg_30d"), _f(m, "ratings_30d")
    rating = (
        recent if recent is not None and (n_recent or 0) >= s["perf_min_recent_ratings"] else None
    )
    rating = rating if rating is not None else (_f(m, "rating_avg_all") or recent)
    fs = _f(m, "first_session_success_rate")
    resched, noshow = _f(m, "tutor_reschedule_rate_90d"), _f(m, "no_show_rate_90d")
    reliability = None if resched is None or noshow is None else 1.0 - (resched + noshow)
    engagement = _f(m, "engagement_score_14d")

    def points(key: str, computed: float) -> float:
        stored = _f(m, f"perf_{key}")
        return stored if stored is not None else computed

    w = {k: s[f"perf_w_{k}"] for k in ("rating", "first_session", "reliability", "engagement")}
    r_used = _clip(rating if rating is not None else s["prior_rating"], 1.0, 5.0)
    fs_used = _clip(fs if fs is not None else s["prior_first_session_success"], 0, 1)
    rel_used = _clip(reliability if reliability is not None else s["prior_reliability"], 0, 1)
    eng_used = _clip(engagement if engagement is not None else s["prior_engagement"], 0, 1)
    rated = _f(m, "first_sessions_rated")
    fs_text = _pct(fs)
    if fs is not None and rated:
        fs_text = f"{fs * 100:.0f} % ({round(fs * rated):.0f} of {rated:.0f} rated 4+)"
    parts = (
        Part(
            "rating",
            "Average rating",
            rating,
            "no ratings yet" if rating is None else f"{rating:.2f} / 5",
            points("rating", w["rating"] * r_used / 5.0),
            w["rating"],
        ),
        Part(
            "first_session",
            "First-session success",
            fs,
            fs_text,
            points("first_session", w["first_session"] * fs_used),
            w["first_session"],
        ),
        Part(
            "reliability",
            "Reliability (no reschedules or no-shows)",
            reliability,
            _pct(reliability),
            points("reliability", w["reliability"] * rel_used),
            w["reliability"],
        ),
        Part(
            "engagement",
            "Engagement",
            engagement,
            "no data yet" if engagement is None else f"{engagement:.2f} / 1",
            points("engagement", w["engagement"] * eng_used),
            w["engagement"],
        ),
    )
    score = _f(prediction, "performance_score")
    if score is None:
        score = sum(p.points for p in parts)
    tier = str(prediction.get("performance_tier") or _tier_of(score, s))
    thresholds = {
        "Silver": s["perf_silver"],
        "Gold": s["perf_gold"],
        "Platinum": s["perf_platinum"],
    }
    next_tier = next((t for t in TIERS[1:] if thresholds[t] > score), None)
    next_threshold = thresholds[next_tier] if next_tier else None
    needed = max(0.0, (next_threshold or score) - score)
    return TierBreakdown(
        score=score,
        tier=tier,
        parts=parts,
        next_tier=next_tier,
        next_threshold=next_threshold,
        points_needed=needed,
        goals=_goals(parts, score, tier, next_tier, next_threshold, needed),
        suggestions=suggestions(parts, m),
    )


def _tier_of(score: float, s: Mapping[str, float]) -> str:
    if score >= s["perf_platinum"]:
        return "Platinum"
    if score >= s["perf_gold"]:
        return "Gold"
    if score >= s["perf_silver"]:
        return "Silver"
    return "Bronze"


def _goals(
    parts: tuple[Part, ...],
    score: float,
    tier: str,
    next_tier: str | None,
    threshold: float | None,
    needed: float,
) -> tuple[str, ...]:
    if next_tier is None or threshold is None:
        return (
            f"Keep Platinum: your score is {score:.0f}; stay at 85 or above by keeping "
            "ratings, first sessions and reliability where they are.",
        )
    goals = [
        f"Reach {next_tier} ({threshold:.0f} points): {needed:.1f} more points than "
        f"today's {score:.1f}."
    ]
    hints = []
    for p in sorted(parts, key=lambda p: -p.missing):
        if p.missing < needed or p.weight <= 0:
            continue  # this part alone cannot close the gap
        share = needed / p.weight  # of the part's 0-1 scale
        base = p.points / p.weight
        if p.key == "rating":
            hints.append(f"average rating from {base * 5:.2f} to {(base + share) * 5:.2f}")
        elif p.key == "engagement":
            hints.append(f"engagement from {base:.2f} to {base + share:.2f}")
        else:
            label = p.label.split(" (")[0].lower()
            hints.append(f"{label} from {base * 100:.0f} % to {(base + share) * 100:.0f} %")
    if hints:
        goals.append("Any one of these gets there: " + "; or ".join(hints[:3]) + ".")
    else:
        goals.append("No single area closes the gap alone: combine the suggestions below.")
    return tuple(goals)


def suggestions(parts: tuple[Part, ...], metrics: Mapping[str, Any], k: int = 3) -> tuple[str, ...]:
    """Concrete advice for the ``k`` parts that miss the most points (worst first)."""
    out = []
    for p in sorted(parts, key=lambda p: -p.missing):
        if p.missing < 0.5 or len(out) >= k:
            continue
        out.append(_advice(p, metrics))
    if not out:
        out.append("Every part of the score is near its maximum: keep doing what works.")
    return tuple(out)


def _advice(p: Part, m: Mapping[str, Any]) -> str:
    gain = f"(up to {p.missing:.1f} points)"
    if p.key == "rating":
        prev = _f(m, "rating_avg_prev_30d")
        was = (
            f", down from {prev:.1f} the month before"
            if prev and p.value and prev - p.value >= 0.1
            else ""
        )
        now = "no recent ratings" if p.value is None else f"{p.value:.1f}{was}"
        return (
            f"Average rating {now} {gain}: close every session by agreeing the next step "
            "with the student, ask for feedback while it is fresh, and review the lowest "
            "rated sessions of the month with your manager."
        )
    if p.key == "first_session":
        return (
            f"First-session success {p.value_text} {gain}: before each first session read "
            "the student's goals, plan a short diagnostic activity, confirm the time the "
            "day before, and leave the student with a concrete plan for the next lesson."
        )
    if p.key == "reliability":
        r7 = _f(m, "tutor_reschedules_7d")
        recent = f"; {r7:.0f} reschedules in the last week" if r7 else ""
        rs, ns = _f(m, "tutor_reschedule_rate_90d"), _f(m, "no_show_rate_90d")
        detail = (
            ""
            if rs is None or ns is None
            else f" ({rs * 100:.0f} % rescheduled by you, {ns * 100:.0f} % missed in 90 "
            f"days{recent})"
        )
        return (
            f"Reliability {p.value_text}{detail} {gain}: keep your availability calendar "
            "current, block the hours you cannot teach instead of rescheduling, and set a "
            "reminder an hour before each session."
        )
    prev = _f(m, "engagement_score_prev_14d")
    was = (
        f" (was {prev:.2f})"
        if prev is not None and p.value is not None and prev - p.value >= 0.05
        else ""
    )
    return (
        f"Engagement {p.value_text}{was} {gain}: log in daily, reply to student messages "
        "within a few hours, and keep your profile and availability up to date."
    )
