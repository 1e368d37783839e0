"""The Dashboard's Analytics tab: retention by start month, churn risk by subject and
tenure, star vs lagging tutors, the first-session deep dive, intervention effectiveness.

Everything is computed by ``viewmodels.analytics`` on a worker; this page only draws.
Charts are created once and updated in place; colours follow the theme.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.analytics_charts import RetentionChart, RiskHeatmap
from ui.effect_chart import EffectPanel
from ui.theme import Theme
from ui.widgets import EmptyState, default_column_widths, panel
from viewmodels.analytics import DELTA_COLUMN, AnalyticsViewModel
from viewmodels.tasks import SORT_ROLE


def _table(model: Any, widths: tuple[int, ...], stretch: int | None = None) -> QTableView:
    proxy = QSortFilterProxyModel(model)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # the header's default is descending
    view.verticalHeader().hide()
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    default_column_widths(view, widths)
    return view


def _fit_rows(view: QTableView) -> None:
    """Small tables inside the scrolling page: tall enough for every row, so the page
    scrolls and the table does not."""
    height = view.horizontalHeader().height() + 2 * view.frameWidth()
    height += sum(view.rowHeight(r) for r in range(view.model().rowCount()))
    view.setFixedHeight(max(height + 2, 80))


def _stack(empty: EmptyState, body: QWidget) -> QStackedWidget:
    stack = QStackedWidget()
    stack.addWidget(empty)
    stack.addWidget(body)
    return stack


def _note(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(True)
    return label


class AnalyticsPage(QWidget):
    """The tab's content; ``vm.set_active`` follows its visibility (lazy first load)."""

    def __init__(self, vm: AnalyticsViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.status = _note("Analytics load when this tab is first shown.")
        self.refresh_button = QPushButton("Recompute")
        self.refresh_button.setToolTip("Recompute every section from the local database")
        self.refresh_button.clicked.connect(self._refresh_or_cancel)
        head = QHBoxLayout()
        head.addWidget(self.status, 1)
        head.addWidget(self.refresh_button)

        # Retention
        self.retention = RetentionChart()
        self.retention_note = _note()
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.retention, 1)
        bl.addWidget(self.retention_note)
        self.retention_empty = EmptyState("No cohorts yet", "")
        self.retention_stack = _stack(self.retention_empty, body)

        # Heatmap
        self.heatmap = RiskHeatmap()
        self.heatmap_note = _note()
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.heatmap)
        bl.addWidget(self.heatmap_note)
        self.heatmap_empty = EmptyState("No risk scores yet", "")
        self.heatmap_stack = _stack(self.heatmap_empty, body)

        # Stars vs lagging
        self.stars_table = _table(vm.stars, (24, 0, 7, 7, 6, 6, 7, 7), stretch=1)
        self.stars_note = _note()
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.stars_note)
        bl.addWidget(self.stars_table)
        self.stars_empty = EmptyState("No performance scores yet", "")
        self.stars_stack = _stack(self.stars_empty, body)

        # First sessions
        self.first_table = _table(vm.first_sessions, (27, 0, 7, 7, 6, 6, 7, 7), stretch=1)
        self.factors_table = _table(vm.factors, (26, 0, 9, 9, 10, 8, 9, 9), stretch=1)
        self.first_note = _note()
        self.factors_note = _note(
            "Poor-session rate by factor. The p-value asks whether the rate depends on "
            "the factor at all; a level's difference from the overall rate is in points."
        )
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.first_note)
        bl.addWidget(self.first_table)
        bl.addWidget(self.factors_note)
        bl.addWidget(self.factors_table)
        self.first_empty = EmptyState("No rated first sessions yet", "")
        self.first_stack = _stack(self.first_empty, body)

        # Effectiveness (the Interventions page's measurement and chart)
        self.effects_panel: EffectPanel | None = None
        if vm.effects is not None:
            self.effects_panel = EffectPanel(
                vm.effects, wrap_labels=True, status="Measured when this tab is first shown."
            )
            self.effects_panel.chart.setFixedHeight(330)

        content = QWidget()
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 8, 0)
        lay.setSpacing(12)
        lay.addLayout(head)
        row = QHBoxLayout()
        row.setSpacing(12)
        row.addWidget(panel("Retention by start month", self.retention_stack), 1)
        row.addWidget(panel("Churn risk by subject and tenure", self.heatmap_stack), 1)
        lay.addLayout(row)
        lay.addWidget(panel("Star performers vs lagging tutors", self.stars_stack))
        lay.addWidget(panel("First sessions: what separates good from poor", self.first_stack))
        if self.effects_panel is not None:
            lay.addWidget(panel("Intervention effectiveness", self.effects_panel))
        lay.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)

        vm.sig_loaded.connect(self.show_report)
        vm.sig_loading_changed.connect(self._on_loading)
        vm.sig_progress.connect(self._on_progress)
        vm.sig_error.connect(self._on_error)

    # ------------------------------------------------------------------ reactions

    def _refresh_or_cancel(self) -> None:
        if self.vm.loading:
            self.vm.cancel()
        else:
            self.vm.load()

    def _on_loading(self, loading: bool) -> None:
        self.refresh_button.setText("Cancel" if loading else "Recompute")
        if loading:
            self.status.setText("Computing the analytics…")
        elif self.status.text().startswith("Computing"):  # cancelled: nothing new shown
            self.status.setText(
                "Cancelled; the sections below are from the last complete computation."
                if self.vm.report is not None
                else "Cancelled: Recompute computes every section."
            )

    def _on_progress(self, text: str) -> None:
        if self.vm.loading:
            self.status.setText(f"Computing the analytics… {text}")

    def _on_error(self, text: str) -> None:
        self.status.setText(text)

    def show_report(self, report: Any) -> None:
        seconds = sum(report.seconds.values())
        run = report.run_as_of
        self.status.setText(
            f"Data up to {report.observed_until:%d %b %Y %H:%M} UTC"
            + (f" · scores of {run:%d %b %H:%M} UTC" if run is not None else " · no scores yet")
            + f" · computed in {seconds:.1f} s"
        )
        self._show_retention(report)
        self._show_heatmap(report)
        self._show_stars(report)
        self._show_first_sessions(report)

    def _show_retention(self, report: Any) -> None:
        r = report.retention
        series = self.vm.retention_series()
        if not series:
            self.retention_empty.set_text("No cohorts to draw yet", report.missing["retention"])
            self.retention_stack.setCurrentIndex(0)
            return
        self.retention.set_series(series)
        start = f"{r.history_start:%d %b %Y}" if r.history_start is not None else "–"
        self.retention_note.setText(
            "Share of each month's new tutors not churned (the churn model's definition) "
            f"k weeks after starting. Points stop where a cohort's newest member has been "
            f"followed: up to {r.settled_until:%d %b %Y}, 30 days before the data ends, "
            "since quiet tutors are only called churned after 30 days. Cohorts start after "
            f"the synced history begins ({start}); {r.skipped_before:,} earlier-hired "
            "tutors are left out, as those who left before then are not in the data."
        )
        self.retention_stack.setCurrentIndex(1)

    def _show_heatmap(self, report: Any) -> None:
        h = report.heatmap
        if h is None:
            self.heatmap_empty.set_text("No risk scores yet", report.missing.get("heatmap", ""))
            self.heatmap_stack.setCurrentIndex(0)
            return
        self.heatmap.set_data(h)
        overall = "–" if h.overall is None else f"{h.overall * 100:.0f} %"
        self.heatmap_note.setText(
            f"Mean predicted P(churn 30 d) of {h.tutors:,} active tutors (overall {overall}); "
            f"a tutor counts in each subject they teach. Grey: fewer than {h.min_n} tutors."
        )
        self.heatmap_stack.setCurrentIndex(1)

    def _show_stars(self, report: Any) -> None:
        s = report.star_lagging
        if s is None:
            self.stars_empty.set_text("No comparison yet", report.missing.get("star_lagging", ""))
            self.stars_stack.setCurrentIndex(0)
            return
        found = [r for r in s.rows if not r.in_definition and r.significant]
        lead = (
            "Beyond the score itself, the clearest differences: "
            + "; ".join(r.label.lower() for r in found[:3])
            + "."
            if found
            else "Beyond the score itself, no difference survives the correction."
        )
        self.stars_note.setText(
            f"Top 10 % ({s.n_star:,} tutors, score ≥ {s.star_cutoff:.0f}) vs bottom 10 % "
            f"({s.n_lagging:,}, score ≤ {s.lagging_cutoff:.0f}) of {s.tutors:,} active tutors "
            f"by the {s.measure}. * Part of that score: differs by construction. " + lead
        )
        self.stars_table.sortByColumn(DELTA_COLUMN, Qt.SortOrder.DescendingOrder)
        _fit_rows(self.stars_table)
        self.stars_stack.setCurrentIndex(1)

    def _show_first_sessions(self, report: Any) -> None:
        f = report.first_sessions
        if f is None:
            self.first_empty.set_text("No comparison yet", report.missing.get("first_sessions", ""))
            self.first_stack.setCurrentIndex(0)
            return
        self.first_note.setText(
            f"{f.sessions:,} rated first sessions from {f.start:%d %b} to {f.end:%d %b %Y}: "
            f"{f.poor:,} poor (rated 1–3, {f.poor_rate * 100:.0f} %). The tutor's record is "
            "as it was when each session started."
        )
        self.first_table.sortByColumn(DELTA_COLUMN, Qt.SortOrder.DescendingOrder)
        _fit_rows(self.first_table)
        _fit_rows(self.factors_table)
        self.first_stack.setCurrentIndex(1)

    # ------------------------------------------------------------------ shell hooks

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.vm.set_active(True)

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self.vm.set_active(False)

    def apply_theme(self, theme: Theme) -> None:
        self.retention.apply_theme(theme)
        self.heatmap.apply_theme(theme)
        if self.effects_panel is not None:
            self.effects_panel.apply_theme(theme)

    def hover_point(self, weeks: float, percent: float) -> QPointF:
        """Scene position of (weeks, %) on the retention chart (tests hover with it)."""
        return self.retention.getPlotItem().vb.mapViewToScene(QPointF(weeks, percent))
