"""The Customers page's Velocity tab: sessions per customer by week since joining (a
cohort heatmap), cohort retention curves, days from the 1st to the 2nd and 3rd session,
the 30-day session frequency histogram and churn by velocity segment, with the cohort
and segment tables (each exportable as shown).

Widgets only: ``viewmodels.customer_velocity`` loads on a worker the first time the tab
is shown, and this tab draws what it hands over.
"""

from __future__ import annotations

import math

from PySide6.QtWidgets import (
    QGridLayout,
    QWidget,
)

from ui.customer_charts import BarChart, CohortHeatmap, LineChart, bar_color
from ui.pages.customer_tab import CustomerTab, export_button, small_table
from ui.theme import LIGHT, Theme
from ui.widgets import EmptyState, panel
from viewmodels.customer_velocity import VelocityViewModel


class VelocityTab(CustomerTab):
    def __init__(self, vm: VelocityViewModel, parent: QWidget | None = None) -> None:
        super().__init__(vm, parent)
        self._theme = LIGHT

        self.heatmap = CohortHeatmap("weeks since joining")
        self.retention = LineChart("customers with a session (%)", "weeks since joining")
        self.time_to = BarChart("median days from the 1st session", "signup cohort (month)")
        self.frequency = BarChart("active customers", "sessions / week, last 30 days")
        self.segments = BarChart("churned within 30 days (%)", "sessions per week before")
        self.cohort_table = small_table(vm.cohort_table, (8, 6, 4, 6, 5, 4, 4, 4, 8, 0))
        self.segment_table = small_table(vm.segment_table, (10, 6, 5, 0))
        self.cohort_export = export_button(
            "Velocity cohorts", lambda p: vm.export_table(vm.cohort_table, p, "velocity cohorts")
        )
        self.segment_export = export_button(
            "Velocity segments",
            lambda p: vm.export_table(vm.segment_table, p, "velocity segments"),
        )

        grid = QGridLayout()
        grid.setSpacing(10)
        grid.addWidget(
            panel("Sessions per customer by week since joining", self.heatmap),
            0,
            0,
            1,
            3,
        )
        grid.addWidget(
            panel("Retention: share with a session in week k", self.retention),
            0,
            3,
            1,
            3,
        )
        grid.addWidget(panel("Time to the 2nd and 3rd session", self.time_to), 1, 0, 1, 2)
        grid.addWidget(panel("Session frequency", self.frequency), 1, 2, 1, 2)
        grid.addWidget(panel("Churn by velocity segment", self.segments), 1, 4, 1, 2)
        # The tables below the charts at full width: side by side they hid their last
        # columns behind a scroll bar at a laptop's width.
        grid.addWidget(panel("Cohorts", self.cohort_table, extra=self.cohort_export), 2, 0, 1, 6)
        grid.addWidget(panel("Segments", self.segment_table, extra=self.segment_export), 3, 0, 1, 3)
        for col in range(6):
            grid.setColumnStretch(col, 1)
        self._assemble(
            grid,
            EmptyState(
                "No customer sessions yet",
                "Velocity appears once customers and their sessions have been synced: cohorts "
                "of customers who joined since the session history begins, how often they book "
                "and how that relates to churn.",
            ),
        )

    # ------------------------------------------------------------------ drawing

    def render(self) -> None:
        vm, v = self.vm, self.vm.velocity
        if v is None:
            return
        self.stack.setCurrentWidget(self.empty if v.empty else self.stack.widget(0))
        self.summary.setText(vm.summary())
        t = self._theme
        cohorts = v.cohorts
        matrix = vm.sessions_matrix()

        def cell(r: int, c: int) -> str:
            x = matrix[r, c]
            co = cohorts[r]
            if math.isnan(x):
                return f"{co.label}, week {c}: not complete yet for the whole cohort"
            return (
                f"{co.label}, week {c}: {x:.2f} sessions per customer "
                f"({co.customers:,} customers; {co.retention[c] * 100:.0f} % had one)"
            )

        self.heatmap.set_grid(matrix, vm.cohort_labels(), hover=cell)

        lines = vm.retention_series()

        def point(si: int, j: int) -> str:
            name, xs, ys, n = lines[si]
            return f"{name}, week {xs[j]}: {ys[j]:.0f} % of {n:,} customers had a session"

        self.retention.set_lines(
            [(name, xs, ys) for name, xs, ys, _n in lines],
            hover=point,
            y_range=(0, 102),
            empty="No cohort has two complete weeks yet",
        )

        labels, to2, to3, n2, n3 = vm.time_to_nth()

        def nth(i: int, s: int) -> str:
            days, n, which = (to2, n2, "2nd") if s == 0 else (to3, n3, "3rd")
            if math.isnan(days[i]):
                return f"{labels[i]}: nobody has had a {which} session yet"
            iqr = vm.spread(i, 2 if s == 0 else 3)
            middle = f" (middle half {iqr[0]:.0f}–{iqr[1]:.0f})" if iqr else ""
            return (
                f"{labels[i]}: median {days[i]:.0f} days{middle} from the 1st to the {which} "
                f"session, over the {n[i]:,} customers who got there"
            )

        self.time_to.set_bars(
            vm.short_labels(),
            [
                ("1st → 2nd", to2, bar_color(t, "accent")),
                ("1st → 3rd", to3, bar_color(t, "second")),
            ],
            hover=nth,
        )

        bins, counts = vm.frequency()
        total = sum(counts) or 1
        self.frequency.set_bars(
            vm.frequency_ticks(),
            [("customers", counts, bar_color(t, "accent"))],
            hover=lambda i, _s: (
                f"{bins[i]} sessions a week: {counts[i]:,} active customers "
                f"({counts[i] / total * 100:.1f} %)"
            ),
        )

        segs, rates, ns, churned = vm.segments()

        def seg(i: int, _s: int) -> str:
            if not ns[i]:
                return f"{segs[i]}: no customers"
            return f"{segs[i]}: {churned[i]:,} of {ns[i]:,} churned ({rates[i]:.1f} %)"

        self.segments.set_bars(
            [s.replace(" / week", "") for s in segs],
            [("churn rate", rates, bar_color(t, "red"))],
            hover=seg,
            empty="No customer was active 30 days ago",
            texts=[f"{r:.1f} %" if n else "" for r, n in zip(rates, ns, strict=True)],
        )

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        for chart in (self.heatmap, self.retention, self.time_to, self.frequency, self.segments):
            chart.apply_theme(theme)
        self.render()  # bar colours come from the theme
