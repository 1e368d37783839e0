"""The Dashboard's Analytics tab: retention by start month, churn risk by subject and
tenure, star vs lagging tutors, the first-session deep dive, intervention effectiveness.

Everything is computed by ``viewmodels.analytics`` on a worker; this page only draws.
Charts are created once and updated in place; colours follow the theme.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTableView,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ui.theme import LIGHT, Theme
from ui.widgets import EffectChart, EmptyState, default_column_widths, panel
from viewmodels.analytics import DELTA_COLUMN, AnalyticsViewModel
from viewmodels.tasks import SORT_ROLE

# Distinct, colour-blind-friendlier hues for up to 12 cohorts (Tableau 10 + 2).
COHORT_COLORS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#d62728",
)  # fmt: skip


class RetentionChart(pg.PlotWidget):
    """Share still active by weeks since start, one line per start-month cohort; the
    hover read-out names the nearest point's cohort, week, share and counts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(280)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.setLabel("left", "still active (%)")
        self.setLabel("bottom", "weeks since start")
        self.setYRange(0, 102, padding=0)
        self.legend = self.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.readout = pg.TextItem("", anchor=(0, 1))
        self.readout.setZValue(10)
        self.addItem(self.readout, ignoreBounds=True)
        self.marker = pg.ScatterPlotItem(size=9, symbol="o")
        self.addItem(self.marker, ignoreBounds=True)
        self._curves: list[pg.PlotDataItem] = []
        self._series: list[dict[str, Any]] = []
        self._theme = LIGHT
        self.scene().sigMouseMoved.connect(self._hover)

    def set_series(self, series: list[dict[str, Any]]) -> None:
        self._series = series
        while len(self._curves) > len(series):
            curve = self._curves.pop()
            self.legend.removeItem(curve)
            self.removeItem(curve)
        while len(self._curves) < len(series):
            self._curves.append(self.plot([], []))
        for i, (curve, s) in enumerate(zip(self._curves, series, strict=True)):
            color = COHORT_COLORS[i % len(COHORT_COLORS)]
            curve.setData(
                np.asarray(s["weeks"], float),
                100.0 * np.asarray(s["retained"], float),
                pen=pg.mkPen(color, width=2),
                symbol="o",
                symbolSize=4,
                symbolBrush=color,
                symbolPen=color,
            )
            self.legend.removeItem(curve)
            self.legend.addItem(curve, f"{s['label']} (n={s['size']:,})")
        longest = max((s["weeks"][-1] for s in series if s["weeks"]), default=1)
        low = min((min(s["retained"]) for s in series if s["retained"]), default=0.0)
        self.setXRange(0, max(longest, 1), padding=0.02)
        self.setYRange(max(0.0, math.floor(low * 10 - 1) * 10), 102, padding=0)
        self.readout.setText("")
        self.marker.setData([], [])
        self._style_legend()

    def readout_at(self, x: float, y: float) -> str:
        """The text for the point nearest (x weeks, y %), within reach; '' otherwise."""
        best: tuple[float, str, float, float] | None = None
        for s in self._series:
            for w, r, a in zip(s["weeks"], s["retained"], s["still_active"], strict=True):
                d = (w - x) ** 2 + ((100 * r - y) / 4) ** 2
                if best is None or d < best[0]:
                    text = (
                        f"{s['label']} · week {w}: {r * 100:.0f} % still active "
                        f"({a:,} of {s['size']:,})"
                    )
                    best = (d, text, float(w), 100 * r)
        if best is None or best[0] > 4.0:
            return ""
        self.marker.setData([best[2]], [best[3]])
        self.readout.setPos(best[2], best[3])
        return best[1]

    def _hover(self, pos: Any) -> None:
        if not self.sceneBoundingRect().contains(pos) or not self._series:
            return
        p = self.getPlotItem().vb.mapSceneToView(pos)
        text = self.readout_at(p.x(), p.y())
        self.readout.setText(text)
        if not text:
            self.marker.setData([], [])

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.setBackground(theme.card)
        for name in ("left", "bottom"):
            axis = self.getAxis(name)
            axis.setPen(pg.mkPen(theme.border))
            axis.setTextPen(pg.mkPen(theme.text))
        self.readout.setColor(theme.text)
        self.readout.fill = pg.mkBrush(QColor(theme.card))
        self.marker.setPen(pg.mkPen(theme.text, width=1.5))
        self.marker.setBrush(pg.mkBrush(None))
        self._style_legend()

    def _style_legend(self) -> None:
        color = self._theme.text
        self.legend.setLabelTextColor(color)
        # setLabelTextColor only records the colour: existing labels are redrawn here.
        for _sample, label in self.legend.items:
            label.setText(label.text, color=color)
        self.legend.setBrush(pg.mkBrush(QColor(self._theme.card)))


class RiskHeatmap(QWidget):
    """Mean predicted 30-day churn risk per subject (rows) x tenure band (columns): each
    cell says its mean and n; cells with too few tutors are grey with only their n."""

    ROW_H = 34
    HEAD_H = 24

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._data: Any = None
        self._theme = LIGHT
        self._label_w = 130

    def set_data(self, data: Any) -> None:
        self._data = data
        rows = len(data.subjects) if data is not None else 0
        self.setFixedHeight(self.HEAD_H + rows * self.ROW_H + 4)
        self.update()

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(600, self.height())

    def color_for(self, risk: float) -> QColor:
        """One hue, the theme's red, from faint (no risk) to full at 50 % and above:
        blended on the card colour so it reads on both themes."""
        x = max(0.0, min(1.0, risk / 0.5))
        card, red = QColor(self._theme.card), QColor(self._theme.red)
        alpha = 0.08 + 0.87 * x
        return QColor(
            round(card.red() + (red.red() - card.red()) * alpha),
            round(card.green() + (red.green() - card.green()) * alpha),
            round(card.blue() + (red.blue() - card.blue()) * alpha),
        )

    def _cell_rect(self, row: int, col: int) -> QRectF:
        n_cols = len(self._data.bands)
        w = (self.width() - self._label_w - 4) / max(n_cols, 1)
        return QRectF(self._label_w + col * w, self.HEAD_H + row * self.ROW_H, w, self.ROW_H)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        if self._data is None or x < self._label_w or y < self.HEAD_H:
            return None
        n_cols = len(self._data.bands)
        w = (self.width() - self._label_w - 4) / max(n_cols, 1)
        col, row = int((x - self._label_w) // w), int((y - self.HEAD_H) // self.ROW_H)
        if 0 <= row < len(self._data.subjects) and 0 <= col < n_cols:
            return row, col
        return None

    def cell_text(self, row: int, col: int) -> str:
        d = self._data
        subject = d.subjects[row].replace("_", " ")
        n, mean = d.count[row][col], d.mean[row][col]
        where = f"{subject}, tenure {d.bands[col]}"
        if n == 0:
            return f"{where}: no active scored tutors"
        if mean is None:
            return f"{where}: {n} tutor{'s' if n != 1 else ''}, too few for a mean (< {d.min_n})"
        return f"{where}: mean P(churn 30 d) {mean * 100:.1f} % over {n:,} tutors"

    def paintEvent(self, _event: QPaintEvent) -> None:
        d, t = self._data, self._theme
        if d is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        bold = QFont(font)
        bold.setBold(True)
        small = QFont(font)
        small.setPointSizeF(max(6.5, font.pointSizeF() * 0.82))
        p.setFont(font)
        fm = p.fontMetrics()
        self._label_w = max(90, max(fm.horizontalAdvance(s) for s in d.subjects) + 16)
        muted, text = QColor(t.muted), QColor(t.text)
        for col, band in enumerate(d.bands):
            r = self._cell_rect(0, col)
            p.setPen(muted)
            p.drawText(QRectF(r.x(), 0, r.width(), self.HEAD_H), Qt.AlignmentFlag.AlignCenter, band)
        for row, subject in enumerate(d.subjects):
            y = self.HEAD_H + row * self.ROW_H
            p.setPen(text)
            p.drawText(
                QRectF(0, y, self._label_w - 8, self.ROW_H),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                subject.replace("_", " "),
            )
            for col in range(len(d.bands)):
                r = self._cell_rect(row, col).adjusted(1, 1, -1, -1)
                mean, n = d.mean[row][col], d.count[row][col]
                top = QRectF(r.x(), r.y() + 2, r.width(), r.height() / 2)
                bottom = QRectF(r.x(), r.center().y() - 1, r.width(), r.height() / 2 - 1)
                p.setPen(Qt.PenStyle.NoPen)
                if mean is None:
                    p.setBrush(QColor(t.alt_base))
                    p.drawRoundedRect(r, 3, 3)
                    p.setPen(muted)
                    p.setFont(small)
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, f"n={n}" if n else "–")
                    continue
                fill = self.color_for(mean)
                p.setBrush(fill)
                p.drawRoundedRect(r, 3, 3)
                ink = QColor("#111827") if fill.lightness() > 140 else QColor("#f9fafb")
                p.setPen(ink)
                p.setFont(bold)
                p.drawText(top, Qt.AlignmentFlag.AlignCenter, f"{mean * 100:.0f} %")
                p.setFont(small)
                p.drawText(bottom, Qt.AlignmentFlag.AlignCenter, f"n={n}")
                p.setFont(font)
        p.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        cell = self.cell_at(pos.x(), pos.y())
        if cell is None:
            QToolTip.hideText()
            return
        QToolTip.showText(event.globalPosition().toPoint(), self.cell_text(*cell), self)


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
    view.setWordWrap(True)  # the verdict wraps rather than being cut off
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    default_column_widths(view, widths)
    # A column resized (the window, the stretching verdict): rows re-measured.
    header.sectionResized.connect(lambda *_: _fit_rows(view))
    return view


def _fit_rows(view: QTableView) -> None:
    """Small tables inside the scrolling page: every row measured (wrapped verdicts) and
    the table tall enough for all, so the page scrolls and the table does not. A few
    dozen rows: the measuring that would stall a big table costs nothing here."""
    view.resizeRowsToContents()
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
        self.stars_table = _table(vm.stars, (24, 0, 7, 7, 7, 7, 7, 7), stretch=1)
        self.stars_note = _note()
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.stars_note)
        bl.addWidget(self.stars_table)
        self.stars_empty = EmptyState("No performance scores yet", "")
        self.stars_stack = _stack(self.stars_empty, body)

        # First sessions
        self.first_table = _table(vm.first_sessions, (27, 0, 7, 7, 7, 7, 7, 7), stretch=1)
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
        self.effect_chart = EffectChart()
        self.effect_chart.setFixedHeight(300)
        self.effect_status = _note("Measured when this tab is first shown.")
        effect_note = _note(
            "Each point: how many more of the treated tutors were still active 30 days "
            "later than untreated tutors at the same predicted risk (bars: 95 % interval; "
            "×: the naive comparison with everyone untreated)."
        )
        self.effect_body = QWidget()
        bl = QVBoxLayout(self.effect_body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(effect_note)
        bl.addWidget(self.effect_chart, 1)
        bl.addWidget(self.effect_status)

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
        lay.addWidget(panel("Intervention effectiveness", self.effect_body))
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
        if vm.effects is not None:
            vm.effects.sig_ready.connect(self._effects_ready)
            vm.effects.sig_error.connect(self.effect_status.setText)
            vm.effects.sig_progress.connect(self.effect_status.setText)

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

    def _effects_ready(self, _records: Any) -> None:
        effects = self.vm.effects
        data = effects.chart_data()
        self.effect_chart.set_data(data)
        missing = effects.unmeasured()
        self.effect_status.setText(
            f"As of {effects.as_of[:16] or 'now'}; {sum(data['n_treated']):,} treated tutors "
            "compared."
            + (f" Not enough comparable data yet: {', '.join(missing)}." if missing else "")
        )

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
        self.effect_chart.apply_theme(theme)

    def hover_point(self, weeks: float, percent: float) -> QPointF:
        """Scene position of (weeks, %) on the retention chart (tests hover with it)."""
        return self.retention.getPlotItem().vb.mapViewToScene(QPointF(weeks, percent))
