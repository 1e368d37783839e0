"""The Dashboard's Analytics tab, computed from the local database.

    report = compute_analytics(engine, progress=say, cancel=event)

One read of the marketplace (the frames the sections need) and of the newest scoring
run's tutor predictions, then four sections, each a pure function of those (tested on
constructed data): retention by start month (``cohorts``), the churn-risk heatmap
(``risk_heatmap``), star vs lagging tutors (``star_lagging``) and the first-session deep
dive (``first_session_drivers``). A section that cannot be computed (no scoring run yet,
too few first sessions) is None with the reason in ``report.missing``.
"""

from __future__ import annotations

from services.analytics.report import AnalyticsReport, compute_analytics

__all__ = ["AnalyticsReport", "compute_analytics"]
