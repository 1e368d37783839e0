"""The Analytics tab's two charts: retention curves by start month and the churn-risk
heatmap. Created once, updated in place; colours from the current theme."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ui.theme import LIGHT, Theme
from ui.widgets import quiet_plot, theme_plot

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
        quiet_plot(self)
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
        theme_plot(self, theme, text=theme.text)
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
