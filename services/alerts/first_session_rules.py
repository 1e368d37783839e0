"""Upcoming first sessions at risk (DOMAIN.md "First sessions" and "Alerts").

A first session fires when P(poor rating) or its tutor's P(churn 30 d) reaches
``first_session_risk`` and it starts within ``first_session_horizon_hours`` of the run.
The subject is the session, so once it has started the alert clears by itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from services.alerts.context import RuleContext, num
from services.alerts.model import Finding, clamp_priority
from services.alerts.registry import rule


@rule(
    "first_session_risk",
    "Upcoming first session at risk",
    "session",
    settings=("first_session_horizon_hours", "first_session_risk"),
    description="An upcoming first session with a high P(poor rating) or a high-risk tutor.",
)
def first_session_risk(ctx: RuleContext) -> Iterator[Finding]:
    s = ctx.settings
    until = ctx.as_of + timedelta(hours=s.first_session_horizon_hours)
    for r in ctx.first_sessions:
        if r.start_time is None or not (ctx.as_of <= r.start_time < until):
            continue
        p_poor = num(r.p_poor)
        tutor = ctx.tutors.get(int(r.tutor_id)) if r.tutor_id is not None else None
        p30 = num(tutor.p30) if tutor is not None else None
        poor_risky = p_poor is not None and p_poor >= s.first_session_risk
        tutor_risky = p30 is not None and p30 >= s.first_session_risk
        if not (poor_risky or tutor_risky):
            continue
        hours = (r.start_time - ctx.as_of).total_seconds() / 3600
        # Riskier and sooner first: a session tomorrow morning beats one in three days.
        urgency = 1 - min(1.0, hours / s.first_session_horizon_hours)
        priority = clamp_priority(40 + 35 * max(p_poor or 0, p30 or 0) + 20 * urgency)
        who = r.tutor_name or (f"Tutor #{r.tutor_id}" if r.tutor_id is not None else "?")
        factors = [f.get("text") for f in (r.factors or []) if f.get("text")][:3]
        reasons = []
        if poor_risky:
            reasons.append(f"{100 * p_poor:.0f} % chance of a poor rating")
        if tutor_risky:
            reasons.append(f"tutor's churn risk {100 * p30:.0f} %")
        when = r.start_time.strftime("%a %d %b %H:%M UTC")
        yield Finding(
            subject_type="session",
            subject_id=str(r.session_id),
            subject_name=f"{who}, {r.subject or 'first session'} {when}",
            tutor_id=int(r.tutor_id) if r.tutor_id is not None else None,
            customer_id=int(r.customer_id) if r.customer_id is not None else None,
            manager_id=r.manager_id,
            severity="High" if poor_risky else "Medium",
            priority=priority,
            title=f"First session {when} with {who}: {', '.join(reasons)}",
            next_step=(
                f"Send {who} the first-session prep email before {when}"
                + (f"; watch: {factors[0]}" if factors else "")
            ),
            facts={
                "session_id": int(r.session_id),
                "start_time": r.start_time.isoformat(),
                "hours_until_start": round(hours, 1),
                "subject": r.subject,
                "p_poor": None if p_poor is None else round(p_poor, 3),
                "tutor_p_churn_30d": None if p30 is None else round(p30, 3),
                "top_factors": factors,
            },
        )
