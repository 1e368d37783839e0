"""The Customers page's Churn tab: ``services.customer_churn_view`` read on a worker the
first time the tab is shown, handed to the view as chart series and two tables (risk by
group, the drop-off funnel).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from viewmodels.customer_tabs import CustomerTabViewModel, pct
from viewmodels.tasks import TaskRunner
from viewmodels.tutor_profile import TextTableModel

if TYPE_CHECKING:  # imported where used: SQLAlchemy and pandas stay out of start-up
    from services.customer_churn_view import CustomerChurnView

# The service's dimensions, kept here too so the tab builds its selector before the
# first load without importing the service (pandas) at start-up.
DIMENSIONS = ("Channel", "Subject", "Tutor consistency", "Velocity")
GROUP_COLUMNS = ("Dimension", "Group", "Customers", "Mean risk", "At High+")
FUNNEL_COLUMNS = ("Stage", "Customers", "Of sign-ups", "Of the stage before")


class ChurnViewModel(CustomerTabViewModel):
    task_name = "customers-churn"
    title = "Customer churn"

    def __init__(
        self,
        runner: TaskRunner,
        *,
        load: Callable[[], Any],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(runner, load=load, parent=parent)
        self.group_table = TextTableModel(GROUP_COLUMNS, self)
        self.funnel_table = TextTableModel(FUNNEL_COLUMNS, self)

    @property
    def view(self) -> CustomerChurnView | None:
        return self.result

    def _apply(self, v: CustomerChurnView) -> None:
        self.group_table.set_rows(
            [
                (dim, g.group, f"{g.customers:,}", pct(g.mean_risk, 1), pct(g.high_share, 1))
                for dim in DIMENSIONS
                for g in v.dimension(dim)
            ]
        )
        self.funnel_table.set_rows(
            [
                (s.label, f"{s.customers:,}", pct(s.share_of_signups), pct(s.share_of_previous))
                for s in v.funnel
            ]
        )

    # --- narrow accessors for the charts

    def risk_histogram(self) -> tuple[list[float], list[int], list[tuple[str, float]]]:
        """Bin edges, customers per bin, and the run's tier cut-offs."""
        v = self.view
        if v is None:
            return [], [], []
        return list(v.risk_edges), list(v.risk_counts), list(v.cutoffs)

    def dimension(self, name: str) -> tuple[list[str], list[float], list[int], list[float]]:
        """Groups, mean risk in %, customers and the share at High+ in % of one dimension."""
        v = self.view
        if v is None:
            return [], [], [], []
        gs = v.dimension(name)
        return (
            [g.group for g in gs],
            [100 * g.mean_risk for g in gs],
            [g.customers for g in gs],
            [100 * g.high_share for g in gs],
        )

    def funnel(self) -> tuple[list[str], list[int], list[float | None], list[float | None]]:
        v = self.view
        if v is None:
            return [], [], [], []
        return (
            [s.label for s in v.funnel],
            [s.customers for s in v.funnel],
            [s.share_of_signups for s in v.funnel],
            [s.share_of_previous for s in v.funnel],
        )

    @property
    def scored(self) -> bool:
        return self.view is not None and self.view.scored > 0

    def summary(self) -> str:
        v = self.view
        if v is None:
            return ""
        if v.as_of is None:
            risk = "Not scored yet: the risk charts fill after the first scoring run"
        else:
            high = dict(v.cutoffs).get("High", 0.5)
            mean = (
                sum(g.mean_risk * g.customers for g in v.dimension("Channel")) / v.scored
                if v.scored
                else None
            )
            risk = (
                f"Scored {v.as_of:%d %b %Y %H:%M} UTC: {v.scored:,} customers, mean P(churn "
                f"30 d) {pct(mean, 1)}; High from {pct(high)}"
            )
        since = f"{v.funnel_since:%d %b %Y}" if v.funnel_since else "–"
        return (
            f"{risk} · funnel: customers who joined since {since} (the session history's "
            f"start) by completed sessions reached at {v.funnel_as_of:%d %b %Y}; recent "
            f"sign-ups are still on their way"
        )
