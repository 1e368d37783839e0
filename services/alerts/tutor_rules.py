"""Tutor rules (DOMAIN.md "Alerts"; severities from tutor-engagement-platform.md:
Critical = churn risk and no sessions in 14 days, High = no login, low ratings, poor
first sessions, Medium = technical issues and reschedules).

Only tutors scored in the run are considered: the run scores active tutors, so a tutor
who left or was deleted never gets (and, once gone, clears) an alert.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from services.alerts.context import RuleContext, TutorRow, num
from services.alerts.model import Finding, scaled_priority
from services.alerts.registry import rule


def _tutor_finding(t: TutorRow, **kw: Any) -> Finding:
    return Finding(
        subject_type="tutor",
        subject_id=str(t.tutor_id),
        subject_name=t.name or f"Tutor #{t.tutor_id}",
        tutor_id=t.tutor_id,
        manager_id=t.manager_id,
        **kw,
    )


def _who(t: TutorRow) -> str:
    return t.name or f"Tutor #{t.tutor_id}"


def _manager(t: TutorRow) -> str:
    return t.manager_name or "their manager"


def _pct(p: float) -> str:
    return f"{100 * p:.0f} %"


def _round(v: float | None, digits: int = 2) -> float | None:
    return None if v is None else round(v, digits)


@rule(
    "churn_risk",
    "Churn risk",
    "tutor",
    settings=("churn_high", "churn_critical"),
    description="P(churn within 30 days) at High tier or above; Critical from the critical tier.",
)
def churn_risk(ctx: RuleContext) -> Iterator[Finding]:
    s = ctx.settings
    for t in ctx.tutors.values():
        p30 = num(t.p30)
        if p30 is None or p30 < s.churn_high:
            continue
        critical = p30 >= s.churn_critical
        factors = [f.get("text") for f in t.factors if f.get("text")][:3]
        why = f" ({'; '.join(factors)})" if factors else ""
        if critical:
            priority = scaled_priority(80, 100, p30, s.churn_critical, 0.95)
            step = f"{_manager(t)} to call {_who(t)} within 48 hours (manager coaching)" + (
                f"; start from: {factors[0]}" if factors else ""
            )
        else:
            priority = scaled_priority(60, 79, p30, s.churn_high, s.churn_critical)
            step = f"Coaching check-in with {_who(t)} this week" + (
                f"; start from: {factors[0]}" if factors else ""
            )
        yield _tutor_finding(
            t,
            severity="Critical" if critical else "High",
            priority=priority,
            title=f"{_who(t)}: {_pct(p30)} chance of leaving within 30 days{why}",
            next_step=step,
            facts={
                "p_churn_7d": _round(num(t.p7), 3),
                "p_churn_14d": _round(num(t.p14), 3),
                "p_churn_30d": round(p30, 3),
                "p_churn_90d": _round(num(t.p90), 3),
                "risk_tier": t.risk_tier,
                "top_factors": factors,
                "sessions_30d": _round(num(t.metrics.get("sessions_30d")), 1),
                "sessions_prev_30d": _round(num(t.metrics.get("sessions_prev_30d")), 1),
                "engagement_score_14d": _round(num(t.metrics.get("engagement_score_14d"))),
            },
        )


@rule(
    "no_sessions",
    "No sessions in 14 days",
    "tutor",
    settings=("no_sessions_days",),
    description="An active tutor with no session for no_sessions_days or more.",
)
def no_sessions(ctx: RuleContext) -> Iterator[Finding]:
    limit = ctx.settings.no_sessions_days
    for t in ctx.tutors.values():
        days = num(t.metrics.get("days_since_last_session"))
        if days is None or days < limit:
            continue
        sessions_before = num(t.metrics.get("sessions_prev_30d"))
        offered = num(t.metrics.get("hours_offered_next_14d"))
        yield _tutor_finding(
            t,
            severity="Critical",
            priority=scaled_priority(75, 95, days, limit, 2 * limit + 2),
            title=f"{_who(t)}: no sessions for {days:.0f} days",
            next_step=(
                f"{_manager(t)} to reach out to {_who(t)} today: ask what changed"
                + ("; they offer no hours in the next two weeks" if offered == 0 else "")
            ),
            facts={
                "days_since_last_session": round(days, 1),
                "sessions_prev_30d": _round(sessions_before, 1),
                "hours_offered_next_14d": _round(offered, 1),
            },
        )


@rule(
    "no_login",
    "No login in 7 days",
    "tutor",
    settings=("no_login_days",),
    description="An active tutor who has not logged in for no_login_days.",
)
def no_login(ctx: RuleContext) -> Iterator[Finding]:
    limit = ctx.settings.no_login_days
    recent = ctx.last_logins(limit)
    missing = [tid for tid, at in recent.items() if at is None and tid in ctx.tutors]
    ever = ctx.last_login_ever(missing)
    for tid in missing:
        t = ctx.tutors[tid]
        last = ever.get(tid)
        days = (ctx.as_of - last).total_seconds() / 86400 if last is not None else None
        yield _tutor_finding(
            t,
            severity="High",
            priority=scaled_priority(
                55, 75, days if days is not None else 3 * limit, limit, 3 * limit
            ),
            title=(
                f"{_who(t)}: no login for {days:.0f} days"
                if days is not None
                else f"{_who(t)}: has never logged in"
            ),
            next_step=f"Send {_who(t)} an engagement email; {_manager(t)} to follow up if no reply",
            facts={
                "days_since_last_login": _round(days, 1),
                "last_login_at": last.isoformat() if last is not None else None,
            },
        )


@rule(
    "low_ratings",
    "Low recent ratings",
    "tutor",
    settings=("rating_window_days", "low_rating", "min_ratings"),
    description="Average rating of the recent window below low_rating (enough ratings).",
)
def low_ratings(ctx: RuleContext) -> Iterator[Finding]:
    s = ctx.settings
    stats = ctx.session_stats(s.rating_window_days)
    for tid, st in stats.items():
        t = ctx.tutors.get(tid)
        avg = st.avg_rating
        if t is None or avg is None or st.ratings < s.min_ratings or avg >= s.low_rating:
            continue
        earlier = num(t.metrics.get("rating_avg_prev_30d"))
        yield _tutor_finding(
            t,
            severity="Critical" if avg < s.low_rating - 1.0 else "High",
            priority=scaled_priority(55, 85, s.low_rating - avg, 0.0, 1.5),
            title=(
                f"{_who(t)}: average rating {avg:.1f} over {st.ratings} ratings in "
                f"{s.rating_window_days} days"
            ),
            next_step=f"Assign {_who(t)} a training module on session quality; review the "
            "low-rated sessions together",
            facts={
                "avg_rating": round(avg, 2),
                "ratings": st.ratings,
                "window_days": s.rating_window_days,
                "rating_avg_prev_30d": _round(earlier),
            },
        )


@rule(
    "poor_first_sessions",
    "Poor first sessions",
    "tutor",
    settings=("first_session_window_days", "poor_first_sessions"),
    description="First sessions rated below 4 in the window, at least poor_first_sessions.",
)
def poor_first_sessions(ctx: RuleContext) -> Iterator[Finding]:
    s = ctx.settings
    stats = ctx.session_stats(s.first_session_window_days)
    for tid, st in stats.items():
        t = ctx.tutors.get(tid)
        if t is None or st.first_poor < s.poor_first_sessions:
            continue
        yield _tutor_finding(
            t,
            severity="High",
            priority=scaled_priority(
                55, 80, st.first_poor, s.poor_first_sessions, 2 * s.poor_first_sessions + 1
            ),
            title=(
                f"{_who(t)}: {st.first_poor} of {st.first_rated} first sessions rated below 4 "
                f"in {s.first_session_window_days} days"
            ),
            next_step=f"Training module on first sessions for {_who(t)}; send the prep guide "
            "before their next first session",
            facts={
                "poor_first_sessions": st.first_poor,
                "rated_first_sessions": st.first_rated,
                "window_days": s.first_session_window_days,
            },
        )


@rule(
    "first_session_success_drop",
    "First-session success down",
    "tutor",
    settings=("first_session_drop", "min_first_sessions"),
    description=(
        "First-session success over the trailing 30 days fell by more than first_session_drop "
        "(relative) against the same window a week earlier."
    ),
)
def first_session_success_drop(ctx: RuleContext) -> Iterator[Finding]:
    # Week over week on 30-day windows: a tutor has a handful of first sessions a week,
    # so comparing single weeks would mostly measure noise.
    s = ctx.settings
    for tid, (rated_now, good_now, rated_then, good_then) in ctx.first_session_success(
        30, 7
    ).items():
        t = ctx.tutors.get(tid)
        if t is None or min(rated_now, rated_then) < s.min_first_sessions or good_then == 0:
            continue
        now_rate, then_rate = good_now / rated_now, good_then / rated_then
        drop = (then_rate - now_rate) / then_rate
        if drop <= s.first_session_drop:
            continue
        yield _tutor_finding(
            t,
            severity="High" if drop >= 2 * s.first_session_drop else "Medium",
            priority=scaled_priority(45, 70, drop, s.first_session_drop, 0.6),
            title=(
                f"{_who(t)}: first-session success {_pct(now_rate)}, down from "
                f"{_pct(then_rate)} a week ago"
            ),
            next_step=f"Review {_who(t)}'s recent first sessions; training module on first "
            "sessions",
            facts={
                "success_rate_30d": round(now_rate, 3),
                "success_rate_30d_week_ago": round(then_rate, 3),
                "relative_drop": round(drop, 3),
                "rated_first_sessions": rated_now,
                "rated_first_sessions_week_ago": rated_then,
            },
        )


@rule(
    "high_reschedules",
    "High reschedule rate",
    "tutor",
    settings=("reschedule_window_days", "reschedule_rate", "min_reschedules"),
    description="Sessions rescheduled by the tutor as a share of their sessions in the window.",
)
def high_reschedules(ctx: RuleContext) -> Iterator[Finding]:
    s = ctx.settings
    for tid, st in ctx.session_stats(s.reschedule_window_days).items():
        t = ctx.tutors.get(tid)
        if t is None or not st.sessions or st.reschedules < s.min_reschedules:
            continue
        rate = st.reschedules / st.sessions
        if rate < s.reschedule_rate:
            continue
        yield _tutor_finding(
            t,
            severity="Medium",
            priority=scaled_priority(35, 55, rate, s.reschedule_rate, 0.6),
            title=(
                f"{_who(t)}: rescheduled {st.reschedules} of {st.sessions} sessions "
                f"({_pct(rate)}) in {s.reschedule_window_days} days"
            ),
            next_step=f"Ask {_who(t)} to update their availability so students are not moved",
            facts={
                "reschedules": st.reschedules,
                "sessions": st.sessions,
                "reschedule_rate": round(rate, 3),
                "window_days": s.reschedule_window_days,
            },
        )


@rule(
    "technical_issues",
    "Technical issues",
    "tutor",
    settings=("technical_window_days", "technical_issues"),
    description="Sessions with a technical issue in the window, at least technical_issues.",
)
def technical_issues(ctx: RuleContext) -> Iterator[Finding]:
    s = ctx.settings
    for tid, st in ctx.session_stats(s.technical_window_days).items():
        t = ctx.tutors.get(tid)
        if t is None or st.technical_issues < s.technical_issues:
            continue
        yield _tutor_finding(
            t,
            severity="Medium",
            priority=scaled_priority(
                30, 50, st.technical_issues, s.technical_issues, 3 * s.technical_issues
            ),
            title=(
                f"{_who(t)}: technical issues in {st.technical_issues} of {st.sessions} "
                f"sessions in {s.technical_window_days} days"
            ),
            next_step=f"Offer {_who(t)} an IT set-up check (camera, audio, connection)",
            facts={
                "technical_issues": st.technical_issues,
                "sessions": st.sessions,
                "window_days": s.technical_window_days,
            },
        )
