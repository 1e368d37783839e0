"""Supply shortage (DOMAIN.md "Marketplace"): forecast demand above the tutor-hours
offered, in a slot 12 or more hours ahead.

Reads the newest stored demand forecast (services.forecasting, refitted daily) and its
supply; slots are judged against the scoring run's as-of, so the lead time in the alert
is the time left to act. One alert per subject (the alert's identity), about its worst
slot, with every short slot of the week in its facts; it clears when the subject has no
short slot left. A forecast older than ``STALE_AFTER`` is not used: a week-old forecast
says little about tonight's supply.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pandas as pd
from sqlalchemy import select

from services.alerts.context import RuleContext
from services.alerts.model import Finding, scaled_priority
from services.alerts.registry import rule

STALE_AFTER = timedelta(days=2)
HIGH_BELOW = 0.5  # coverage under which a shortage is High rather than Medium


@rule(
    "supply_shortage",
    "Supply shortage",
    "subject",
    settings=("shortage_coverage", "shortage_lead_hours", "surplus_coverage"),
    description="Tutor-hours offered below 80 % of the forecast bookings (coverage) "
    "in a slot 12+ hours ahead (both in Settings).",
)
def supply_shortage(ctx: RuleContext) -> Iterator[Finding]:
    from ml.forecast.supply import SHORTAGE
    from services.db.models import ForecastRun
    from services.forecasting import balance_from, latest_run_id, shortage_slots

    run_id = latest_run_id(ctx.conn)
    if run_id is None:
        return
    as_of = pd.Timestamp(ctx.as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    stored = ctx.conn.execute(select(ForecastRun.as_of).where(ForecastRun.id == run_id))
    run_as_of = pd.Timestamp(stored.scalar_one())
    run_as_of = run_as_of.tz_localize("UTC") if run_as_of.tzinfo is None else run_as_of
    if as_of - run_as_of > pd.Timedelta(STALE_AFTER):
        return
    # The thresholds in force now, not the ones the forecast job ran with: a changed
    # threshold applies from the next evaluation, without waiting for tomorrow's forecast.
    slots = shortage_slots(
        ctx.conn, now=max(as_of, run_as_of), run_id=run_id, settings=balance_from(ctx.settings)
    )
    short = slots[slots["kind"] == SHORTAGE]
    for subject, group in short.groupby("subject"):
        worst = group.sort_values("worst_coverage").iloc[0]
        cov = float(worst["coverage"])
        when = f"{worst['start']:%a %d %b %H:%M}-{worst['end']:%H:%M} UTC"
        yield Finding(
            subject_type="subject",
            subject_id=str(subject),
            subject_name=str(subject),
            severity="High" if cov < HIGH_BELOW else "Medium",
            # 50 at the threshold, up to 85 when a slot has a third of its tutors.
            priority=scaled_priority(50, 85, ctx.settings.shortage_coverage - cov, 0.0, 0.5),
            title=(
                f"{subject}: {worst['supply']:.0f} tutor-hours for {worst['demand']:.0f} "
                f"expected bookings {when} ({cov:.0%}), in {worst['lead_hours']:.0f} h"
            ),
            next_step=(
                f"Ask {subject} tutors to open hours then, or raise the subject's recruiting budget"
            ),
            facts={
                "forecast_run_id": int(run_id),
                "lead_hours": float(worst["lead_hours"]),
                "coverage": cov,
                "demand": float(worst["demand"]),
                "supply": float(worst["supply"]),
                "start": worst["start"].isoformat(),
                "end": worst["end"].isoformat(),
                "short_slots": len(group),
                "slots": [
                    {
                        "start": r.start.isoformat(),
                        "hours": int(r.hours),
                        "coverage": round(float(r.coverage), 3),
                        "lead_hours": float(r.lead_hours),
                    }
                    for r in group.itertuples()
                ],
            },
        )
