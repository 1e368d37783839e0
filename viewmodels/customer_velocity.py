"""The Customers page's Velocity tab: ``services.customer_velocity`` read on a worker the
first time the tab is shown, handed to the view as chart series and two tables.

Censored cells stay NaN in every series: a cohort that has not reached week *k* has no
point there (not a zero), and the charts leave the gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject

from viewmodels.customer_tabs import CustomerTabViewModel, pct
from viewmodels.tasks import TaskRunner
from viewmodels.tutor_profile import TextTableModel

if TYPE_CHECKING:  # imported where used: SQLAlchemy and pandas stay out of start-up
    from services.customer_velocity import CustomerVelocity

RETENTION_WEEKS = (1, 4, 8, 12)  # the cohort table's retention columns
COHORT_COLUMNS = (
    "Cohort",
    "Customers",
    "Weeks",  # complete weeks observed for the whole cohort
    "Wk-0 sessions",
    *(f"Active wk {k}" if k == RETENTION_WEEKS[0] else f"wk {k}" for k in RETENTION_WEEKS),
    "1st→2nd days",
    "1st→3rd days",
)
SEGMENT_COLUMNS = ("Velocity before", "Customers", "Churned", "Churn rate")


def _days(x: float | None, n: int) -> str:
    return "–" if x is None else f"{x:.0f} (n={n:,})"


def _at(values: tuple[float, ...], k: int) -> str:
    return pct(values[k]) if k < len(values) else "–"


def _edge(x: float) -> str:
    return f"{x:g}"


class VelocityViewModel(CustomerTabViewModel):
    task_name = "customers-velocity"
    title = "Customer velocity"

    def __init__(
        self,
        runner: TaskRunner,
        *,
        load: Callable[[], Any],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(runner, load=load, parent=parent)
        self.cohort_table = TextTableModel(COHORT_COLUMNS, self)
        self.segment_table = TextTableModel(SEGMENT_COLUMNS, self)

    @property
    def velocity(self) -> CustomerVelocity | None:
        return self.result

    def _apply(self, v: CustomerVelocity) -> None:
        self.cohort_table.set_rows(
            [
                (
                    c.label,
                    f"{c.customers:,}",
                    str(c.weeks_observed),
                    f"{c.sessions_per_week[0]:.2f}" if c.sessions_per_week else "–",
                    *(_at(c.retention, k) for k in RETENTION_WEEKS),
                    _days(c.median_days_to_2nd, c.reached_2nd),
                    _days(c.median_days_to_3rd, c.reached_3rd),
                )
                for c in reversed(v.cohorts)  # newest first, as a manager reads it
            ]
        )
        self.segment_table.set_rows(
            [
                (s.label, f"{s.customers:,}", f"{s.churned:,}", pct(s.churn_rate, 1))
                for s in v.segments
            ]
        )

    # --- narrow accessors for the charts

    def cohort_labels(self) -> list[str]:
        return [c.label for c in self.velocity.cohorts] if self.velocity else []

    def weeks(self) -> int:
        v = self.velocity
        return max((c.weeks_observed for c in v.cohorts), default=0) if v else 0

    def sessions_matrix(self) -> np.ndarray:
        """Mean sessions per customer, cohorts (oldest first) x weeks; NaN where censored."""
        v, weeks = self.velocity, self.weeks()
        if v is None or not v.cohorts:
            return np.zeros((0, 0))
        grid = np.full((len(v.cohorts), max(weeks, 1)), np.nan)
        for i, c in enumerate(v.cohorts):
            grid[i, : len(c.sessions_per_week)] = c.sessions_per_week
        return grid

    def retention_series(self) -> list[tuple[str, list[float], list[float], int]]:
        """(cohort, weeks, share in %, customers) per cohort that has at least 2 weeks."""
        v = self.velocity
        if v is None:
            return []
        return [
            (c.label, list(range(len(c.retention))), [100 * x for x in c.retention], c.customers)
            for c in v.cohorts
            if len(c.retention) >= 2
        ]

    def short_labels(self) -> list[str]:
        """Cohort labels for a crowded axis: "Jun", or "Jun '25" when years differ."""
        v = self.velocity
        if v is None:
            return []
        years = {c.cohort[:4] for c in v.cohorts}
        return [
            c.label[:3] if len(years) == 1 else f"{c.label[:3]} '{c.cohort[2:4]}" for c in v.cohorts
        ]

    def time_to_nth(self) -> tuple[list[str], list[float], list[float], list[int], list[int]]:
        """Cohort labels, median days 1st->2nd and 1st->3rd (NaN: nobody yet), and n."""
        v = self.velocity
        if v is None:
            return [], [], [], [], []
        cs = v.cohorts

        def nan(x: float | None) -> float:
            return math.nan if x is None else float(x)

        return (
            [c.label for c in cs],
            [nan(c.median_days_to_2nd) for c in cs],
            [nan(c.median_days_to_3rd) for c in cs],
            [c.reached_2nd for c in cs],
            [c.reached_3rd for c in cs],
        )

    def spread(self, i: int, nth: int) -> tuple[float, float] | None:
        """The middle half of the days to the ``nth`` (2 or 3) session of cohort ``i``."""
        v = self.velocity
        if v is None or not 0 <= i < len(v.cohorts):
            return None
        c = v.cohorts[i]
        return c.iqr_days_to_2nd if nth == 2 else c.iqr_days_to_3rd

    def frequency(self) -> tuple[list[str], list[int]]:
        v = self.velocity
        if v is None:
            return [], []
        e = v.frequency_edges
        labels = [
            f"{_edge(e[i])}–{_edge(e[i + 1])}" if math.isfinite(e[i + 1]) else f"{_edge(e[i])}+"
            for i in range(len(e) - 1)
        ]
        return labels, list(v.frequency_counts)

    def frequency_ticks(self) -> list[str]:
        """Short axis labels, the bins' lower edges ("0", "0.5", ..., "4+"): full ranges
        side by side overlap at a laptop's width; the read-out names the range."""
        v = self.velocity
        if v is None:
            return []
        e = v.frequency_edges
        return [
            _edge(e[i]) if math.isfinite(e[i + 1]) else f"{_edge(e[i])}+" for i in range(len(e) - 1)
        ]

    def segments(self) -> tuple[list[str], list[float], list[int], list[int]]:
        """Segment labels, churn rate in % (NaN: nobody in it), customers, churned."""
        v = self.velocity
        if v is None:
            return [], [], [], []
        return (
            [s.label for s in v.segments],
            [math.nan if s.churn_rate is None else 100 * s.churn_rate for s in v.segments],
            [s.customers for s in v.segments],
            [s.churned for s in v.segments],
        )

    def summary(self) -> str:
        v = self.velocity
        if v is None:
            return ""
        since = f"{v.history_start:%d %b %Y}" if v.history_start else "–"
        active = sum(v.frequency_counts)
        return (
            f"As of {v.as_of:%d %b %Y %H:%M} UTC · cohorts: customers who joined since the "
            f"session history begins ({since}); a cohort shows week k only once its last "
            f"customer has completed it · time to the 2nd/3rd session: median over the "
            f"customers who got there (a young cohort's are its quick ones so far) · "
            f"frequency: sessions per week over the last 30 "
            f"days of the {active:,} active customers · churn by segment: velocity in the 30 "
            f"days before {v.segment_reference:%d %b}, churned in the 30 days after"
        )
