"""The Customers page's Churn tab: the distribution of P(churn 30 d) with the risk-tier
cut-offs, mean risk by acquisition channel, main subject, tutor consistency or velocity
(chosen above the chart; every group in the table beside it), and the drop-off funnel
from sign-up to the 10th session, with both tables exportable as shown.

Widgets only: ``viewmodels.customer_churn`` loads on a worker the first time the tab is
shown.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QWidget,
)

from ui.customer_charts import BarChart, bar_color
from ui.pages.customer_tab import CustomerTab, export_button, small_table
from ui.theme import LIGHT, Theme
from ui.widgets import RISK_COLORS, EmptyState, panel
from viewmodels.customer_churn import DIMENSIONS, ChurnViewModel

LOG_TICKS = (1, 10, 100, 1_000, 10_000, 100_000)


class RiskHistogram(BarChart):
    """Customers per 5-point bin of P(churn 30 d) on a log scale (most customers sit in
    the lowest bins; a linear axis would hide the risky tail), bars coloured by the tier
    they fall in, with the tier cut-offs marked."""

    def __init__(self) -> None:
        super().__init__("customers (log scale)", "P(churn 30 d), %")
        self.cut_lines: list[pg.InfiniteLine] = []
        self.edges: list[float] = []
        self.counts: list[int] = []

    def set_histogram(
        self, edges: list[float], counts: list[int], cutoffs: list[tuple[str, float]], theme: Theme
    ) -> None:
        self.edges, self.counts = edges, counts
        n = len(counts)
        heights = [math.log10(c) + 1 if c > 0 else math.nan for c in counts]
        mids = [(edges[i] + edges[i + 1]) / 2 for i in range(n)]
        colors = [self._tier_color(m, cutoffs) for m in mids]
        labels = [""] * n
        top = max((h for h in heights if not math.isnan(h)), default=1.0)
        self.set_bars(
            labels,
            [("customers", heights, theme.accent)],
            hover=self._describe,
            value_range=(0, top * 1.1),
            empty="Not scored yet",
        )
        if self.bars and n:
            self.bars[0].setOpts(
                brushes=[pg.mkBrush(c) for c in colors], pens=[pg.mkPen(c) for c in colors]
            )
        self.plot.setXRange(-0.9, n - 0.4, padding=0)  # room for the "0" under the first edge
        # Ticks on the bin edges (every 10 points), not under the bars' centres.
        self.plot.getAxis("bottom").setTicks(
            [[(i - 0.5, f"{edges[i] * 100:.0f}") for i in range(0, n + 1, 2) if i < len(edges)]]
        )
        self.plot.getAxis("left").setTicks(
            [[(math.log10(t) + 1, f"{t:,}") for t in LOG_TICKS if math.log10(t) + 1 <= top * 1.1]]
        )
        for line in self.cut_lines:
            self.plot.removeItem(line)
        self.cut_lines = []
        width = edges[1] - edges[0] if len(edges) > 1 else 1.0
        for name, cut in cutoffs:
            x = cut / width - 0.5  # bin i is centred on i
            line = pg.InfiniteLine(
                pos=x,
                angle=90,
                pen=pg.mkPen(
                    RISK_COLORS.get(name, theme.muted),
                    width=1.5,
                    style=pg.QtCore.Qt.PenStyle.DashLine,
                ),
                label=f"{name} {cut * 100:.0f} %",
                labelOpts={"position": 0.92, "color": theme.text, "anchors": [(0, 0), (0, 0)]},
            )
            self.plot.addItem(line)
            self.cut_lines.append(line)

    @staticmethod
    def _tier_color(p: float, cutoffs: list[tuple[str, float]]) -> str:
        tier = "Low"
        for name, cut in cutoffs:
            if p >= cut:
                tier = name
        return RISK_COLORS.get(tier, "#64748b")

    def _describe(self, i: int, _s: int) -> str:
        if not self.counts:
            return ""
        lo, hi = self.edges[i] * 100, self.edges[i + 1] * 100
        total = sum(self.counts) or 1
        return (
            f"P(churn 30 d) {lo:.0f}–{hi:.0f} %: {self.counts[i]:,} customers "
            f"({self.counts[i] / total * 100:.1f} %)"
        )


class ChurnTab(CustomerTab):
    def __init__(self, vm: ChurnViewModel, parent: QWidget | None = None) -> None:
        super().__init__(vm, parent)
        self._theme = LIGHT

        self.histogram = RiskHistogram()
        self.dimension = QComboBox()
        for d in DIMENSIONS:
            self.dimension.addItem(d, d)
        self.dimension.currentIndexChanged.connect(lambda _i: self._render_groups())
        self.groups = BarChart("mean P(churn 30 d), %", horizontal=True, minimum_height=220)
        self.funnel_chart = BarChart("customers", "stage", minimum_height=180)
        self.group_table = small_table(vm.group_table, (12, 18, 8, 8, 0))
        self.group_table.setMinimumHeight(260)
        self.funnel_table = small_table(vm.funnel_table, (14, 10, 10, 0))
        self.group_export = export_button(
            "Churn risk by group", lambda p: vm.export_table(vm.group_table, p, "risk by group")
        )
        self.funnel_export = export_button(
            "Drop-off funnel", lambda p: vm.export_table(vm.funnel_table, p, "the funnel")
        )

        grid = QGridLayout()
        grid.setSpacing(10)
        grid.addWidget(panel("Risk distribution: P(churn 30 d)", self.histogram), 0, 0)
        grid.addWidget(panel("Mean risk by", self.groups, extra=self.dimension), 0, 1)
        grid.addWidget(panel("Drop-off funnel", self.funnel_chart), 1, 0)
        grid.addWidget(panel("Funnel", self.funnel_table, extra=self.funnel_export), 1, 1)
        # Full width: beside a chart its last columns hid behind a scroll bar.
        grid.addWidget(
            panel(
                "Risk by group: mean P(churn 30 d), share at High or Critical",
                self.group_table,
                extra=self.group_export,
            ),
            2,
            0,
            1,
            2,
        )
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        self._assemble(
            grid,
            EmptyState(
                "No customers yet",
                "Churn risk appears after the first scoring run; the funnel once customers "
                "and their sessions have been synced.",
            ),
        )

    def render(self) -> None:
        vm, v = self.vm, self.vm.view
        if v is None:
            return
        nothing = not v.scored and not v.funnel
        self.stack.setCurrentWidget(self.empty if nothing else self.stack.widget(0))
        self.summary.setText(vm.summary())
        edges, counts, cutoffs = vm.risk_histogram()
        self.histogram.set_histogram(edges, counts, cutoffs, self._theme)
        self._render_groups()
        labels, n, of_signups, of_previous = vm.funnel()

        def stage(i: int, _s: int) -> str:
            share = of_signups[i]
            prev = of_previous[i]
            text = f"{labels[i]}: {n[i]:,} customers"
            if share is not None and i:
                text += f", {share * 100:.0f} % of sign-ups"
            if prev is not None:
                text += f", {prev * 100:.0f} % of the stage before"
            return text

        self.funnel_chart.set_bars(
            [s.replace(" session", "") for s in labels],
            [("customers", n, bar_color(self._theme, "accent"))],
            hover=stage,
            empty="No customer joined since the session history began",
            texts=["" if x is None else f"{x * 100:.0f} %" for x in of_signups],
        )

    def _render_groups(self) -> None:
        name = self.dimension.currentData() or DIMENSIONS[0]
        labels, means, ns, high = self.vm.dimension(name)
        values = np.asarray(means, dtype=float)

        def group(i: int, _s: int) -> str:
            return (
                f"{name} {labels[i]}: mean P(churn 30 d) {means[i]:.1f} % over {ns[i]:,} "
                f"customers; {high[i]:.1f} % at High or Critical"
            )

        self.groups.set_bars(
            [f"{g} (n={k:,})" for g, k in zip(labels, ns, strict=True)],
            [("mean risk", values, bar_color(self._theme, "accent"))],
            hover=group,
            empty="Not scored yet",
        )

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        for chart in (self.histogram, self.groups, self.funnel_chart):
            chart.apply_theme(theme)
        self.render()
