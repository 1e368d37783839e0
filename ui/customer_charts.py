"""Charts of the Customers page's Velocity and Churn tabs: grouped bars (vertical or
horizontal), lines with a legend, and a cohort x week heatmap.

Each is a small widget: a pyqtgraph plot whose items are created once and updated in
place (``set_*``), with axis labels, and a read-out line under it that names what the
mouse is over (also its tooltip). Colours come from :class:`ui.theme.Theme` through
``apply_theme``; an empty chart says so in the plot rather than showing bare axes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ui.theme import LIGHT, Theme
from ui.widgets import quiet_plot, theme_plot

# Distinct hues, colour-blind friendlier (Tableau 10), for cohorts and series.
SERIES_COLORS = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
Hover = Callable[[int, int], str]  # (category index, series index) -> read-out text


def _plot(minimum_height: int) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    quiet_plot(plot)
    plot.setMinimumHeight(minimum_height)
    # Charts share a scrolling tab: past this they only push the tables out of sight.
    plot.setMaximumHeight(minimum_height + 110)
    plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    return plot


class _Chart(QWidget):
    """A plot, its empty-state text and the hover read-out line."""

    def __init__(self, minimum_height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = _plot(minimum_height)
        self.readout = QLabel(" ")
        self.readout.setObjectName("muted")
        self.readout.setWordWrap(True)
        self.empty_text = pg.TextItem("", anchor=(0.5, 0.5))
        self.empty_text.setZValue(20)
        self.plot.addItem(self.empty_text, ignoreBounds=True)
        self._theme = LIGHT
        self.idle_text = ""  # the read-out when the mouse is over nothing (a legend, say)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.readout)
        self.plot.scene().sigMouseMoved.connect(self._moved)

    def show_empty(self, text: str) -> None:
        """Centre ``text`` in the plot (empty string: data is shown)."""
        self.empty_text.setText(text)
        vb = self.plot.getPlotItem().vb
        if text:
            (x0, x1), (y0, y1) = vb.viewRange()
            self.empty_text.setPos((x0 + x1) / 2, (y0 + y1) / 2)

    def set_readout(self, text: str) -> None:
        self.readout.setText(text or self.idle_text or " ")
        self.plot.setToolTip(text)

    def _moved(self, pos: Any) -> None:
        if not self.plot.sceneBoundingRect().contains(pos):
            return
        p = self.plot.getPlotItem().vb.mapSceneToView(pos)
        self.set_readout(self.hover_at(p.x(), p.y()))

    def hover_at(self, x: float, y: float) -> str:
        return ""

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        theme_plot(self.plot, theme, text=theme.text)
        for name in ("left", "bottom"):
            self.plot.getAxis(name).label.setDefaultTextColor(QColor(theme.muted))
        self.empty_text.setColor(theme.muted)


class BarChart(_Chart):
    """Categories with one bar per series (grouped), vertical or horizontal (long
    labels read better down the side). NaN values draw no bar."""

    def __init__(
        self,
        value_label: str,
        category_label: str = "",
        *,
        horizontal: bool = False,
        minimum_height: int = 180,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(minimum_height, parent)
        self.horizontal = horizontal
        self._value_axis = "bottom" if horizontal else "left"
        self._category_axis = "left" if horizontal else "bottom"
        self.plot.setLabel(self._value_axis, value_label)
        if category_label:
            self.plot.setLabel(self._category_axis, category_label)
        if horizontal:
            self.plot.getPlotItem().invertY(True)  # the first category on top
        self.bars: list[pg.BarGraphItem] = []
        self.labels: list[str] = []
        self.values: list[np.ndarray] = []
        self.colors: list[str] = []
        self._hover: Hover | None = None
        self.legend: Any = None
        self._names: list[str] = []
        self.bar_texts: list[pg.TextItem] = []  # numbers on the bars (first series)

    def set_bars(
        self,
        labels: Sequence[str],
        series: Sequence[tuple[str, Sequence[float], str]],
        *,
        hover: Hover | None = None,
        value_range: tuple[float, float] | None = None,
        empty: str = "No data yet",
        texts: Sequence[str] | None = None,
    ) -> None:
        """``series``: (name, values per category, colour); a legend when several;
        ``texts``: a label per category written at the end of the first series' bar."""
        self.labels = list(labels)
        self.values = [np.asarray(v, dtype=float) for _n, v, _c in series]
        self.colors = [c for _n, _v, c in series]
        self._names = [n for n, _v, _c in series]
        self._hover = hover
        k = max(1, len(series))
        width = 0.8 / k
        while len(self.bars) < len(series):
            item = pg.BarGraphItem(x=[0], height=[0], width=0.1)
            self.plot.addItem(item)
            self.bars.append(item)
        for i, item in enumerate(self.bars):
            if i >= len(series):
                item.setVisible(False)
                continue
            item.setVisible(True)
            vals = self.values[i]
            pos = np.arange(len(vals)) - 0.4 + width * (i + 0.5)
            heights = np.nan_to_num(vals, nan=0.0)
            brush = pg.mkBrush(self.colors[i])
            pen = pg.mkPen(self.colors[i])
            if self.horizontal:
                item.setOpts(x0=0, y=pos, width=heights, height=width * 0.92, brush=brush, pen=pen)
            else:
                item.setOpts(x=pos, height=heights, width=width * 0.92, brush=brush, pen=pen)
        self._legend(series)
        ticks = [[(i, t) for i, t in enumerate(self.labels)]]
        self.plot.getAxis(self._category_axis).setTicks(ticks)
        n = max(len(self.labels), 1)
        finite = [v[np.isfinite(v)] for v in self.values]
        top = max((float(v.max()) for v in finite if v.size), default=0.0)
        lo, hi = value_range if value_range is not None else (0.0, (top or 1.0) * 1.12)
        if self.horizontal:
            self.plot.setYRange(-0.6, n - 0.4, padding=0)
            self.plot.setXRange(lo, hi, padding=0)
        else:
            self.plot.setXRange(-0.6, n - 0.4, padding=0)
            self.plot.setYRange(lo, hi, padding=0)
        self._place_texts(list(texts or []), hi)
        has_data = any(v.size and np.isfinite(v).any() and np.nansum(v) > 0 for v in self.values)
        self.show_empty("" if has_data else empty)
        self.set_readout("")

    def _place_texts(self, texts: list[str], top: float) -> None:
        while len(self.bar_texts) < len(texts):
            anchor = (0, 0.5) if self.horizontal else (0.5, 1.0)
            item = pg.TextItem("", anchor=anchor, color=self._theme.text)
            self.plot.addItem(item, ignoreBounds=True)
            self.bar_texts.append(item)
        first = np.nan_to_num(self.values[0]) if self.values else np.zeros(0)
        k = max(1, len(self.values))
        for i, item in enumerate(self.bar_texts):
            text = texts[i] if i < len(texts) and i < len(first) else ""
            item.setText(text)
            item.setVisible(bool(text))
            if text:
                pos = i - 0.4 + 0.8 / k / 2
                value = float(first[i]) + top * 0.01
                if self.horizontal:
                    item.setPos(value, pos)
                else:
                    item.setPos(pos, value)

    def _legend(self, series: Sequence[tuple[str, Sequence[float], str]]) -> None:
        if len(series) < 2:
            return
        if self.legend is None:
            self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.legend.clear()
        for item, (name, _v, _c) in zip(self.bars, series, strict=False):
            self.legend.addItem(item, name)
        self._style_legend()

    def _style_legend(self) -> None:
        if self.legend is not None:
            t = self._theme
            self.legend.setBrush(pg.mkBrush(QColor(t.card)))
            self.legend.setPen(pg.mkPen(t.border))
            self.legend.setLabelTextColor(t.text)

    def hover_at(self, x: float, y: float) -> str:
        if not self.labels or self._hover is None:
            return ""
        along = y if self.horizontal else x
        i = round(along)
        if not 0 <= i < len(self.labels):
            return ""
        k = max(1, len(self.values))
        s = int(min(k - 1, max(0, (along - i + 0.4) // (0.8 / k))))
        return self._hover(i, s)

    def apply_theme(self, theme: Theme) -> None:
        super().apply_theme(theme)
        self._style_legend()
        for item in self.bar_texts:
            item.setColor(theme.text)


class LineChart(_Chart):
    """Several lines over a numeric x axis, each in its own colour, with a legend; the
    read-out names the nearest point (any line)."""

    def __init__(
        self,
        y_label: str,
        x_label: str,
        *,
        minimum_height: int = 200,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(minimum_height, parent)
        self.plot.setLabel("left", y_label)
        self.plot.setLabel("bottom", x_label)
        self.plot.showGrid(x=False, y=True, alpha=0.15)
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.curves: list[pg.PlotDataItem] = []
        self.series: list[tuple[str, np.ndarray, np.ndarray]] = []
        self._hover: Callable[[int, int], str] | None = None

    def set_lines(
        self,
        series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
        *,
        hover: Callable[[int, int], str] | None = None,
        y_range: tuple[float, float] | None = None,
        empty: str = "No data yet",
    ) -> None:
        """``series``: (name, xs, ys); ``hover(series index, point index)``."""
        self.series = [(n, np.asarray(x, float), np.asarray(y, float)) for n, x, y in series]
        self._hover = hover
        while len(self.curves) < len(series):
            curve = pg.PlotDataItem([], [], symbol="o", symbolSize=4)
            self.plot.addItem(curve)
            self.curves.append(curve)
        self.legend.clear()
        for i, curve in enumerate(self.curves):
            if i >= len(series):
                curve.setData([], [])
                curve.setVisible(False)
                continue
            name, x, y = self.series[i]
            color = SERIES_COLORS[i % len(SERIES_COLORS)]
            curve.setVisible(True)
            curve.setData(x, y, connect="finite")
            curve.setPen(pg.mkPen(color, width=2))
            curve.setSymbolBrush(pg.mkBrush(color))
            curve.setSymbolPen(pg.mkPen(color))
            self.legend.addItem(curve, name)
        xs = [x for _n, x, _y in self.series if x.size]
        hi_x = max((float(x.max()) for x in xs), default=1.0)
        self.plot.setXRange(0, max(hi_x, 1.0), padding=0.02)
        if y_range is not None:
            self.plot.setYRange(*y_range, padding=0)
        self._style_legend()
        self.show_empty("" if xs else empty)
        self.set_readout("")

    def _style_legend(self) -> None:
        t = self._theme
        self.legend.setBrush(pg.mkBrush(QColor(t.card)))
        self.legend.setPen(pg.mkPen(t.border))
        self.legend.setLabelTextColor(t.text)

    def hover_at(self, x: float, y: float) -> str:
        if self._hover is None or not self.series:
            return ""
        vb = self.plot.getPlotItem().vb
        (x0, x1), (y0, y1) = vb.viewRange()
        sx, sy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
        best: tuple[float, int, int] | None = None
        for si, (_n, xs, ys) in enumerate(self.series):
            if not xs.size:
                continue
            dist = ((xs - x) / sx) ** 2 + ((ys - y) / sy) ** 2
            dist = np.where(np.isfinite(dist), dist, np.inf)
            j = int(np.argmin(dist))
            if math.isfinite(dist[j]) and (best is None or dist[j] < best[0]):
                best = (float(dist[j]), si, j)
        if best is None or best[0] > 0.02:
            return ""
        return self._hover(best[1], best[2])

    def apply_theme(self, theme: Theme) -> None:
        super().apply_theme(theme)
        self._style_legend()


class CohortHeatmap(_Chart):
    """Rows (cohorts, oldest on top) x columns (weeks); NaN cells (not reached yet) are
    left blank, not coloured as zero."""

    def __init__(
        self, x_label: str, *, minimum_height: int = 200, parent: QWidget | None = None
    ) -> None:
        super().__init__(minimum_height, parent)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.plot.getPlotItem().invertY(True)
        self.plot.setLabel("bottom", x_label)
        self.grid = np.zeros((0, 0))
        self.rows: list[str] = []
        self._hover: Callable[[int, int], str] | None = None

    def set_grid(
        self,
        grid: np.ndarray,
        rows: Sequence[str],
        *,
        hover: Callable[[int, int], str] | None = None,
        empty: str = "No cohort has a complete week yet",
    ) -> None:
        self.grid = np.asarray(grid, dtype=float)
        self.rows = list(rows)
        self._hover = hover
        n_rows, n_cols = self.grid.shape if self.grid.ndim == 2 else (0, 0)
        finite = self.grid[np.isfinite(self.grid)] if self.grid.size else np.zeros(0)
        hi = float(finite.max()) if finite.size else 1.0
        if n_rows and n_cols:
            self.image.setImage(self.grid, levels=(0, max(hi, 1e-9)), autoLevels=False)
            self.image.setRect(QRectF(0, 0, n_cols, n_rows))
            self.image.setVisible(True)
        else:
            self.image.setVisible(False)
        self.plot.getAxis("left").setTicks([[(i + 0.5, r) for i, r in enumerate(self.rows)]])
        step = max(1, n_cols // 12)
        self.plot.getAxis("bottom").setTicks(
            [[(k + 0.5, str(k)) for k in range(0, max(n_cols, 1), step)]]
        )
        self.plot.setXRange(0, max(n_cols, 1), padding=0)
        self.plot.setYRange(0, max(n_rows, 1), padding=0)
        # No colour bar: the scale in words under the chart, where the read-out goes.
        # The theme's ramp runs light-to-dark on the light theme, dark-to-light on the dark.
        low, high = ("dark", "light") if self._theme.dark else ("light", "dark")
        self.idle_text = (
            f"{low.capitalize()} 0, {high} {hi:.2f} sessions per customer; blank: the week is "
            "not over for the whole cohort yet. Hover a cell for its figures."
            if finite.size
            else ""
        )
        self.show_empty("" if finite.size else empty)
        self.set_readout("")

    def hover_at(self, x: float, y: float) -> str:
        if self._hover is None or not self.grid.size:
            return ""
        c, r = math.floor(x), math.floor(y)
        if 0 <= r < self.grid.shape[0] and 0 <= c < self.grid.shape[1]:
            return self._hover(r, c)
        return ""

    def apply_theme(self, theme: Theme) -> None:
        super().apply_theme(theme)
        stops = np.linspace(0, 1, len(theme.heat))
        self.image.setColorMap(pg.ColorMap(stops, [QColor(c) for c in theme.heat]))


def bar_color(theme: Theme, key: str) -> str:
    """The colour of a named series: accent, or a risk/status colour."""
    return {
        "accent": theme.accent,
        "red": theme.red,
        "yellow": theme.yellow,
        "green": theme.green,
        "neutral": theme.neutral,
        "second": SERIES_COLORS[1],
    }.get(key, key)


def align_right(label: QLabel) -> QLabel:
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return label
