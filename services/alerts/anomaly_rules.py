"""Metric anomalies (DOMAIN.md "Marketplace"): bookings, cancellation rate, average
rating, no-show rate, inbound calls and logins against their own recent history.

Evaluated with the other rules after each sync's scoring run, at the run's as-of. One
alert per metric (the alert's identity), about the strongest check that fired, with
every check in its facts. Only moves in the harmful direction alert (fewer bookings,
more cancellations ...): a booking surge is good news, and alerting on both sides would
double the false alarms. Thresholds per metric: ``AlertSettings.anomaly_thresholds``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from services.alerts.context import RuleContext
from services.alerts.model import Finding, scaled_priority
from services.alerts.registry import rule


@rule(
    "metric_anomaly",
    "Metric anomaly",
    "metric",
    settings=("anomaly_thresholds",),
    description="A marketplace metric beyond 2 SD of the same hour's history, more than "
    "20 % off week over week, or worse 3 days in a row.",
)
def metric_anomaly(ctx: RuleContext) -> Iterator[Finding]:
    from services.anomalies import (
        METRICS,
        WINDOW_DAYS,
        detect,
        load_window,
        metric_streams,
        thresholds_for,
    )

    at = pd.Timestamp(ctx.as_of)
    at = (at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")).floor("h")
    start = at - pd.Timedelta(days=WINDOW_DAYS)
    frames = load_window(ctx.conn, start, at)
    streams = metric_streams(frames, start, at)
    found = detect(streams, at, thresholds_for(ctx.settings.anomaly_thresholds))
    by_metric: dict[str, list] = {}
    for a in found:
        if a.bad:
            by_metric.setdefault(a.metric, []).append(a)
    for name, items in by_metric.items():
        top = max(items, key=lambda a: a.score)
        metric = METRICS[name]
        yield Finding(
            subject_type="metric",
            subject_id=name,
            subject_name=metric.title,
            severity="High" if top.score >= 3.0 else "Medium",
            # 40 at 2 SD, up to 70 at 5 SD (a metric, not a person: below churn alerts).
            priority=scaled_priority(40, 70, top.score, 2.0, 5.0),
            title=top.text,
            next_step=f"Look at {metric.look_at} (the {metric.view.capitalize()} page)",
            facts={
                "metric": name,
                "current": top.current,
                "expected_low": top.expected_low,
                "expected_high": top.expected_high,
                "when": top.at.isoformat(),
                "look_at": metric.look_at,
                "view": metric.view,
                "checks": [
                    {"check": a.check, "score": round(a.score, 2), "text": a.text} for a in items
                ],
            },
        )
