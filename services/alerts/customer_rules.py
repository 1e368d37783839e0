"""Customer triggers (DOMAIN.md "Customers"), from the run's customer predictions and the
figures stored with them (calls, sessions, days since the last session, tenure).

Where two triggers describe the same lapse they are split by time so a customer carries
one of them: re-engagement from ``customer_idle_days`` until ``customer_lapsed_days``,
then the at-risk flag (the re-engagement alert clears when the at-risk one fires).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from services.alerts.context import RuleContext, num
from services.alerts.model import Finding, scaled_priority
from services.alerts.registry import rule


def _figures(row: Any) -> dict[str, Any]:
    return (row.components or {}).get("figures") or {}


def _finding(row: Any, **kw: Any) -> Finding:
    cid = int(row.customer_id)
    return Finding(
        subject_type="customer",
        subject_id=str(cid),
        subject_name=row.name or f"Customer #{cid}",
        customer_id=cid,
        **kw,
    )


def _name(row: Any) -> str:
    return row.name or f"Customer #{row.customer_id}"


def _base_facts(row: Any) -> dict[str, Any]:
    return {
        "health_score": None if num(row.health_score) is None else round(row.health_score, 1),
        "health_tier": row.health_tier,
        "p_churn_30d": None if num(row.p_churn_30d) is None else round(row.p_churn_30d, 3),
    }


@rule(
    "customer_calls",
    "Customer calling support",
    "customer",
    settings=("customer_calls", "customer_calls_days"),
    description="customer_calls or more inbound calls in 14 days (a critical alert).",
)
def customer_calls(ctx: RuleContext) -> Iterator[Finding]:
    # The stored figure counts the 14 days before as-of (ml.features.customer calls_14d).
    limit = ctx.settings.customer_calls
    for row in ctx.customers:
        calls = num(_figures(row).get("calls_14d"))
        if calls is None or calls < limit:
            continue
        yield _finding(
            row,
            severity="Critical",
            priority=scaled_priority(80, 100, calls, limit, limit + 3),
            title=f"{_name(row)}: {calls:.0f} calls to support in 14 days",
            next_step=f"Call {_name(row)} back today; find what keeps going wrong",
            facts={"calls_14d": int(calls), **_base_facts(row)},
        )


@rule(
    "customer_poor_first_session",
    "Customer's first session rated poorly",
    "customer",
    settings=("customer_poor_first_rating",),
    description="The customer's very first session rated below customer_poor_first_rating.",
)
def customer_poor_first_session(ctx: RuleContext) -> Iterator[Finding]:
    limit = ctx.settings.customer_poor_first_rating
    for row in ctx.customers:
        rating = num(_figures(row).get("first_session_rating"))
        if rating is None or rating >= limit:
            continue
        yield _finding(
            row,
            severity="High",
            priority=scaled_priority(60, 80, limit - rating, 0, 2),
            title=f"{_name(row)}: first session rated {rating:.0f}",
            next_step=f"Offer {_name(row)} a different tutor and a free make-up session",
            facts={"first_session_rating": rating, **_base_facts(row)},
        )


@rule(
    "customer_idle",
    "Customer idle (re-engagement)",
    "customer",
    settings=("customer_idle_days", "customer_lapsed_days", "customer_idle_min_sessions"),
    description=(
        "No session for customer_idle_days (until customer_lapsed_days) after at least "
        "customer_idle_min_sessions sessions in the 60 days before."
    ),
)
def customer_idle(ctx: RuleContext) -> Iterator[Finding]:
    s = ctx.settings
    for row in ctx.customers:
        f = _figures(row)
        days = num(f.get("days_since_last_session"))
        history = (num(f.get("sessions_30d")) or 0) + (num(f.get("sessions_prev_30d")) or 0)
        if days is None or not (s.customer_idle_days <= days < s.customer_lapsed_days):
            continue
        if history < s.customer_idle_min_sessions:
            continue
        yield _finding(
            row,
            severity="Medium",
            priority=scaled_priority(40, 60, days, s.customer_idle_days, s.customer_lapsed_days),
            title=f"{_name(row)}: no session for {days:.0f} days after {history:.0f} sessions",
            next_step=f"Re-engagement email to {_name(row)} with their tutor's open slots",
            facts={
                "days_since_last_session": round(days, 1),
                "sessions_60d": int(history),
                **_base_facts(row),
            },
        )


@rule(
    "customer_lapsed",
    "Customer at risk (21+ days without a session)",
    "customer",
    settings=("customer_lapsed_days",),
    description="customer_lapsed_days or more since the last session.",
)
def customer_lapsed(ctx: RuleContext) -> Iterator[Finding]:
    limit = ctx.settings.customer_lapsed_days
    for row in ctx.customers:
        days = num(_figures(row).get("days_since_last_session"))
        if days is None or days < limit:
            continue
        yield _finding(
            row,
            severity="High",
            priority=scaled_priority(55, 75, days, limit, 3 * limit),
            title=f"{_name(row)}: no session for {days:.0f} days",
            next_step=f"Personal call to {_name(row)}: check their goal and offer a new slot",
            facts={"days_since_last_session": round(days, 1), **_base_facts(row)},
        )


@rule(
    "customer_goal_completed",
    "Goal completed (cross-sell)",
    "customer",
    description="The customer's learning goal is completed: a cross-sell opportunity.",
)
def customer_goal_completed(ctx: RuleContext) -> Iterator[Finding]:
    for row in ctx.customers:
        if row.goal_status != "completed":
            continue
        yield _finding(
            row,
            severity="Low",
            priority=25,
            title=f"{_name(row)}: goal completed",
            next_step=f"Congratulate {_name(row)} and suggest a next subject or goal",
            facts={"goal_status": row.goal_status, **_base_facts(row)},
        )


@rule(
    "customer_slow_start",
    "Slow start (nudge)",
    "customer",
    settings=("customer_slow_start_days", "customer_slow_start_sessions"),
    description=(
        "Fewer than customer_slow_start_sessions sessions by day customer_slow_start_days "
        "(fires in the customer's second week, when a nudge still helps)."
    ),
)
def customer_slow_start(ctx: RuleContext) -> Iterator[Finding]:
    s = ctx.settings
    for row in ctx.customers:
        f = _figures(row)
        tenure = num(f.get("tenure_days"))
        sessions = num(f.get("sessions_30d"))
        lo = s.customer_slow_start_days
        if tenure is None or sessions is None or not (lo <= tenure < 2 * lo):
            continue
        if sessions >= s.customer_slow_start_sessions:
            continue
        yield _finding(
            row,
            severity="Low",
            priority=scaled_priority(
                30, 45, s.customer_slow_start_sessions - sessions, 1, s.customer_slow_start_sessions
            ),
            title=f"{_name(row)}: {sessions:.0f} sessions after {tenure:.0f} days",
            next_step=f"Nudge {_name(row)}: book the next sessions with their tutor",
            facts={
                "sessions": int(sessions),
                "tenure_days": round(tenure, 1),
                **_base_facts(row),
            },
        )


@rule(
    "customer_velocity_drop",
    "Session velocity halved",
    "customer",
    settings=("customer_velocity_drop", "customer_velocity_min_sessions"),
    description="Sessions in the last 30 days down by customer_velocity_drop or more.",
)
def customer_velocity_drop(ctx: RuleContext) -> Iterator[Finding]:
    s = ctx.settings
    for row in ctx.customers:
        f = _figures(row)
        now, before = num(f.get("sessions_30d")), num(f.get("sessions_prev_30d"))
        if now is None or before is None or before < s.customer_velocity_min_sessions:
            continue
        drop = (before - now) / before
        if drop < s.customer_velocity_drop:
            continue
        yield _finding(
            row,
            severity="Medium",
            priority=scaled_priority(40, 60, drop, s.customer_velocity_drop, 1.0),
            title=f"{_name(row)}: {now:.0f} sessions in 30 days, down from {before:.0f}",
            next_step=f"Re-engagement call to {_name(row)}: ask about schedule and progress",
            facts={
                "sessions_30d": int(now),
                "sessions_prev_30d": int(before),
                "drop": round(drop, 3),
                **_base_facts(row),
            },
        )
