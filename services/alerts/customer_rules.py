"""Customer triggers (DOMAIN.md "Customers"), from the run's customer predictions and the
figures stored with them (calls, sessions, days since the last session, tenure).

Each rule tests whole columns (:class:`~services.alerts.context.CustomerTable`) and
builds findings only for the customers that fire: at full scale there are 50,000.

Where two triggers describe the same lapse they are split by time so a customer carries
one of them: re-engagement from ``customer_idle_days`` until ``customer_lapsed_days``,
then the at-risk flag (the re-engagement alert clears when the at-risk one fires); a
halved velocity only while the customer still books (an idle or lapsed customer's
velocity has halved too, and the lapse alert already says so).

Triggers fire on the **transition**, not on a state a customer may sit in for months:
the at-risk flag while the lapse is recent (``customer_lapsed_window_days`` after it began; a
customer gone longer is not an alert anybody acts on, so the flag *expires*), a
completed goal while it is fresh and the customer still books, a poor first session
while the customer is new. Without that, the demo sandbox's queue held ~1,800 at-risk
flags of customers gone for up to three years.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from services.alerts.context import CustomerTable, RuleContext
from services.alerts.model import Finding, scaled_priority
from services.alerts.registry import rule
from services.settings import AlertSettings


def _finding(c: CustomerTable, i: int, facts: dict[str, Any], **kw: Any) -> Finding:
    cid = int(c.ids[i])
    return Finding(
        subject_type="customer",
        subject_id=str(cid),
        subject_name=c.name(i),
        customer_id=cid,
        facts=facts | c.base_facts(i),
        **kw,
    )


def _hits(mask: np.ndarray) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask)]


@rule(
    "customer_calls",
    "Customer calling support",
    "customer",
    settings=("customer_calls",),
    description="customer_calls or more inbound calls in 14 days (a critical alert).",
)
def customer_calls(ctx: RuleContext) -> Iterator[Finding]:
    # The stored figure counts the 14 days before as-of (ml.features.customer calls_14d).
    c, limit = ctx.customers, ctx.settings.customer_calls
    calls = c.figures["calls_14d"]
    for i in _hits(calls >= limit):
        n = float(calls[i])
        yield _finding(
            c,
            i,
            {"calls_14d": int(n)},
            severity="Critical",
            priority=scaled_priority(80, 100, n, limit, limit + 3),
            title=f"{c.name(i)}: {n:.0f} calls to support in 14 days",
            next_step=f"Call {c.name(i)} back today; find what keeps going wrong",
        )


@rule(
    "customer_poor_first_session",
    "Customer's first session rated poorly",
    "customer",
    settings=("customer_poor_first_rating", "customer_poor_first_window_days"),
    description="The customer's very first session rated below customer_poor_first_rating.",
)
def customer_poor_first_session(ctx: RuleContext) -> Iterator[Finding]:
    c, s = ctx.customers, ctx.settings
    rating, tenure = c.figures["first_session_rating"], c.figures["tenure_days"]
    mask = (rating < s.customer_poor_first_rating) & (tenure <= s.customer_poor_first_window_days)
    for i in _hits(mask):
        r = float(rating[i])
        yield _finding(
            c,
            i,
            {"first_session_rating": r, "tenure_days": round(float(tenure[i]), 1)},
            severity="High",
            priority=scaled_priority(60, 80, s.customer_poor_first_rating - r, 0, 2),
            title=f"{c.name(i)}: first session rated {r:.0f}",
            next_step=f"Offer {c.name(i)} a different tutor and a free make-up session",
        )


def _regular(c: CustomerTable, min_sessions: int) -> np.ndarray:
    """Customers with ``min_sessions`` or more sessions in the 60 days before as-of:
    DOMAIN.md's "after 3+ sessions", the ones a lapse is news about."""
    history = np.nan_to_num(c.figures["sessions_30d"]) + np.nan_to_num(
        c.figures["sessions_prev_30d"]
    )
    return history >= min_sessions


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
    c, s = ctx.customers, ctx.settings
    days = c.figures["days_since_last_session"]
    history = np.nan_to_num(c.figures["sessions_30d"]) + np.nan_to_num(
        c.figures["sessions_prev_30d"]
    )
    mask = (days >= s.customer_idle_days) & (days < s.customer_lapsed_days)
    mask &= _regular(c, s.customer_idle_min_sessions)
    for i in _hits(mask):
        d, h = float(days[i]), int(history[i])
        yield _finding(
            c,
            i,
            {"days_since_last_session": round(d, 1), "sessions_60d": h},
            severity="Medium",
            priority=scaled_priority(40, 60, d, s.customer_idle_days, s.customer_lapsed_days),
            title=f"{c.name(i)}: no session for {d:.0f} days after {h} sessions",
            next_step=f"Re-engagement email to {c.name(i)} with their tutor's open slots",
        )


def _lapsed_since(c: CustomerTable, lapsed_days: int) -> np.ndarray:
    """Days since the customer lapsed (negative: not lapsed; NaN: no session ever)."""
    return c.figures["days_since_last_session"] - lapsed_days


def _lapsed_flagged(c: CustomerTable, s: AlertSettings) -> np.ndarray:
    since = _lapsed_since(c, s.customer_lapsed_days)
    recent = (since >= 0) & (since < s.customer_lapsed_window_days)
    return recent & _regular(c, s.customer_idle_min_sessions)


def _lapsed_gone(ctx: RuleContext) -> list[str]:
    # Still lapsed but no longer flagged: past the window, or their sessions before the
    # lapse have slid out of the 60 days. Their open flag expires; a customer who books
    # again clears it instead.
    c = ctx.customers
    gone = (_lapsed_since(c, ctx.settings.customer_lapsed_days) >= 0) & ~_lapsed_flagged(
        c, ctx.settings
    )
    return [str(int(c.ids[i])) for i in _hits(gone)]


@rule(
    "customer_lapsed",
    "Customer at risk (21+ days without a session)",
    "customer",
    settings=("customer_lapsed_days", "customer_lapsed_window_days", "customer_idle_min_sessions"),
    expired=_lapsed_gone,
    description=(
        "customer_lapsed_days or more since the last session, after at least "
        "customer_idle_min_sessions sessions in the 60 days before; only while the lapse "
        "is recent (customer_lapsed_window_days), then the flag expires."
    ),
)
def customer_lapsed(ctx: RuleContext) -> Iterator[Finding]:
    c, s = ctx.customers, ctx.settings
    limit = s.customer_lapsed_days
    days = c.figures["days_since_last_session"]
    for i in _hits(_lapsed_flagged(c, s)):
        d = float(days[i])
        yield _finding(
            c,
            i,
            {"days_since_last_session": round(d, 1)},
            severity="High",
            priority=scaled_priority(55, 75, d, limit, limit + s.customer_lapsed_window_days),
            title=f"{c.name(i)}: no session for {d:.0f} days",
            next_step=f"Personal call to {c.name(i)}: check their goal and offer a new slot",
        )


@rule(
    "customer_goal_completed",
    "Goal completed (cross-sell)",
    "customer",
    settings=("customer_goal_recent_days", "customer_lapsed_days"),
    description=(
        "The customer's learning goal is completed, recently (their record changed within "
        "customer_goal_recent_days), and they still book (an active account, a session "
        "within customer_lapsed_days): a cross-sell opportunity while it is fresh."
    ),
)
def customer_goal_completed(ctx: RuleContext) -> Iterator[Finding]:
    # A goal completed months ago is no longer an opportunity to act on, and at full
    # scale a third of the customers have one: without the window the queue would hold
    # tens of thousands of stale Low alerts. A paused or lapsed customer is not a
    # cross-sell but a win-back, which the lapse rules cover.
    c, s = ctx.customers, ctx.settings
    since = ctx.as_of.timestamp() - s.customer_goal_recent_days * 86400
    mask = (c.goal_status == "completed") & (c.updated_at >= since)
    mask &= (c.status == "active") & (c.figures["days_since_last_session"] < s.customer_lapsed_days)
    for i in _hits(mask):
        yield _finding(
            c,
            i,
            {"goal_status": "completed"},
            severity="Low",
            priority=25,
            title=f"{c.name(i)}: goal completed",
            next_step=f"Congratulate {c.name(i)} and suggest a next subject or goal",
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
    c, s = ctx.customers, ctx.settings
    tenure, sessions = c.figures["tenure_days"], c.figures["sessions_30d"]
    lo = s.customer_slow_start_days
    mask = (tenure >= lo) & (tenure < 2 * lo) & (sessions < s.customer_slow_start_sessions)
    for i in _hits(mask):
        n, t = float(sessions[i]), float(tenure[i])
        yield _finding(
            c,
            i,
            {"sessions": int(n), "tenure_days": round(t, 1)},
            severity="Low",
            priority=scaled_priority(
                30, 45, s.customer_slow_start_sessions - n, 1, s.customer_slow_start_sessions
            ),
            title=f"{c.name(i)}: {n:.0f} sessions after {t:.0f} days",
            next_step=f"Nudge {c.name(i)}: book the next sessions with their tutor",
        )


@rule(
    "customer_velocity_drop",
    "Session velocity halved",
    "customer",
    settings=("customer_velocity_drop", "customer_velocity_min_sessions", "customer_idle_days"),
    description=(
        "Sessions in the last 30 days down by customer_velocity_drop or more, while the "
        "customer still books (a session within customer_idle_days; an idle customer has "
        "the idle or at-risk alert instead)."
    ),
)
def customer_velocity_drop(ctx: RuleContext) -> Iterator[Finding]:
    c, s = ctx.customers, ctx.settings
    now, before = c.figures["sessions_30d"], c.figures["sessions_prev_30d"]
    with np.errstate(invalid="ignore", divide="ignore"):
        drop = (before - now) / before
    mask = (before >= s.customer_velocity_min_sessions) & (drop >= s.customer_velocity_drop)
    mask &= c.figures["days_since_last_session"] < s.customer_idle_days
    for i in _hits(mask):
        n, b, d = int(now[i]), int(before[i]), float(drop[i])
        yield _finding(
            c,
            i,
            {"sessions_30d": n, "sessions_prev_30d": b, "drop": round(d, 3)},
            severity="Medium",
            priority=scaled_priority(40, 60, d, s.customer_velocity_drop, 1.0),
            title=f"{c.name(i)}: {n} sessions in 30 days, down from {b}",
            next_step=f"Re-engagement call to {c.name(i)}: ask about schedule and progress",
        )
