"""The Forecast page: demand per subject (and in total) against the tutor-hours offered.

One chart: the last two weeks' bookings per hour, the forecast line with its 95 % band,
the supply offered, shortage hours marked; a hover read-out names the hour's figures.
Below it the backtest figures, the accuracy of past forecasts and the shortage slots.
Chart items are created once and updated in place; switching series is a lookup in the
view model (every series is loaded together, off the GUI thread).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.theme import LIGHT, Theme
from ui.widgets import EmptyState, theme_plot
from viewmodels.forecast import ForecastViewModel

if TYPE_CHECKING:  # pandas is imported when the page first draws, not before the first paint
    import pandas as pd


def _seconds(hours: pd.Series) -> np.ndarray:
    """UTC timestamps as epoch seconds (pyqtgraph's DateAxisItem)."""
    import pandas as pd

    # as_unit: the frames' timestamps are microseconds (pandas would give asi8 in them).
    return pd.DatetimeIndex(hours).as_unit("s").asi8.astype(float) if len(hours) else np.zeros(0)


def _pct(v: Any) -> str:
    return "-" if v is None or v != v else f"{100 * float(v):.1f} %"


class ForecastPage(QWidget):
    def __init__(self, vm: ForecastViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self._theme = LIGHT
        self._x = np.zeros(0)  # forecast hours (epoch s), for the read-out
        self._hx = np.zeros(0)  # history hours
        self._view: Any = None

        self.series_box = QComboBox()
        self.series_box.setMinimumWidth(180)
        self.refresh_button = QPushButton("Refresh")
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        top = QHBoxLayout()
        top.addWidget(QLabel("Series"))
        top.addWidget(self.series_box)
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)

        self.chart = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.chart.setMinimumHeight(260)
        # No grid: the axes draw it, and repainting it over the whole plot was most of a
        # subject switch's painting.
        self.chart.setLabel("left", "bookings / tutor-hours per hour")
        self.chart.addLegend(offset=(10, 5))
        self.history_curve = pg.PlotDataItem([], [], name="bookings")
        self.upper_curve = pg.PlotDataItem([], [])
        self.lower_curve = pg.PlotDataItem([], [])
        self.band = pg.FillBetweenItem(self.lower_curve, self.upper_curve)
        self.mean_curve = pg.PlotDataItem([], [], name="forecast (95 % band)")
        self.supply_curve = pg.PlotDataItem([], [], name="tutor-hours offered")
        self.shortage_marks = pg.ScatterPlotItem([], [], symbol="t", size=9, name="shortage")
        self.now_line = pg.InfiniteLine(angle=90, movable=False)
        for item in (
            self.band,
            self.upper_curve,
            self.lower_curve,
            self.history_curve,
            self.mean_curve,
            self.supply_curve,
            self.shortage_marks,
            self.now_line,
        ):
            self.chart.addItem(item)  # fmt: skip
        self.readout = QLabel(" ")
        self.readout.setObjectName("forecastReadout")
        # A direct connection: the read-out is a lookup, cheap at mouse rate (and
        # pyqtgraph's SignalProxy crashed PySide6 at interpreter exit here).
        self.chart.scene().sigMouseMoved.connect(self._on_mouse_moved)

        self.figures = QLabel()
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.figures.setWordWrap(True)
        self.figures.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.slots = QLabel()
        self.slots.setTextFormat(Qt.TextFormat.RichText)
        self.slots.setWordWrap(True)
        self.slots.setAlignment(Qt.AlignmentFlag.AlignTop)
        below = QHBoxLayout()
        below.addWidget(self.figures, 1)
        below.addWidget(self.slots, 1)

        content = QWidget()
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.chart, 3)
        lay.addWidget(self.readout)
        lay.addLayout(below, 2)
        self.empty = EmptyState(
            "No forecast yet",
            "The demand forecast is refitted once a day after a sync (or now: "
            "tutormax forecast). It shows bookings per hour for the next 7 days with a "
            "95 % band against the tutor-hours offered, and shortage slots 12+ hours ahead.",
            icon_name="forecast",
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

        self.series_box.currentIndexChanged.connect(self._on_box)
        self.refresh_button.clicked.connect(self._on_refresh)
        vm.sig_loaded.connect(self._on_loaded)
        vm.sig_series_changed.connect(self._show_series)
        self.apply_theme(LIGHT)

    # ------------------------------------------------------------------ events

    def _on_refresh(self) -> None:
        self.vm.load()

    def _on_box(self, _index: int) -> None:
        name = self.series_box.currentData()
        if name:
            self.vm.select(name)

    def set_filter(self, text: str) -> None:
        """The window's search box: the first series whose name starts with (or holds)
        the text, e.g. "calc" shows Calculus."""
        needle = text.strip().lower()
        if not needle:
            return
        names = self.vm.series_names()
        labels = {n: self.vm.series_label(n).lower() for n in names}
        match = next((n for n in names if labels[n].startswith(needle)), None) or next(
            (n for n in names if needle in labels[n] or needle in n), None
        )
        if match is not None:
            self.vm.select(match)

    def _on_loaded(self) -> None:
        names = self.vm.series_names()
        self.series_box.blockSignals(True)  # our own echo: the view model picked already
        self.series_box.clear()
        for name in names:  # shown by name, keyed by the series' key
            self.series_box.addItem(self.vm.series_label(name), name)
        self.series_box.setCurrentIndex(max(0, self.series_box.findData(self.vm.current)))
        self.series_box.blockSignals(False)
        self.stack.setCurrentIndex(1 if self.vm.has_forecast else 0)
        self.summary.setText(
            f"<span style='color:{self._theme.muted}'>{escape(self.vm.run_summary())}</span>"
        )

    def _show_series(self, name: str) -> None:
        view = self.vm.series_view(name)
        self._view = view
        if view is None:
            return
        if self.series_box.currentData() != name:
            self.series_box.blockSignals(True)
            self.series_box.setCurrentIndex(self.series_box.findData(name))
            self.series_box.blockSignals(False)
        fc, hist = view.forecast, view.history
        self._x, self._hx = _seconds(fc["hour"]), _seconds(hist["hour"])
        self.history_curve.setData(self._hx, hist["actual"].to_numpy(dtype=float))
        self.mean_curve.setData(self._x, fc["mean"].to_numpy(dtype=float))
        self.upper_curve.setData(self._x, fc["upper"].to_numpy(dtype=float))
        self.lower_curve.setData(self._x, fc["lower"].to_numpy(dtype=float))
        supply = fc["supply"].to_numpy(dtype=float)
        self.supply_curve.setData(self._x, supply)
        short = self._shortage_hours(view)
        self.shortage_marks.setData(self._x[short], fc["mean"].to_numpy(dtype=float)[short])
        if len(self._x):
            self.now_line.setValue(self._x[0])
        self.chart.enableAutoRange()
        self.figures.setText(self._figures_html(view))
        self.slots.setText(self._slots_html(view))

    def _on_mouse_moved(self, event: Any) -> None:
        pos = event
        if not self.chart.sceneBoundingRect().contains(pos):
            return
        x = self.chart.getPlotItem().vb.mapSceneToView(pos).x()
        self.readout.setText(self.readout_at(x))

    # ------------------------------------------------------------------ read-out

    def readout_at(self, x: float) -> str:
        """The figures of the hour nearest ``x`` (epoch seconds), as one line."""
        view = self._view
        if view is None:
            return " "
        if len(self._x) and x >= self._x[0] - 1800:
            i = int(np.clip(np.searchsorted(self._x, x - 1800), 0, len(self._x) - 1))
            r = view.forecast.iloc[i]
            cov = r["supply"] / r["mean"] if r["mean"] > 0 else float("nan")
            return (
                f"{r['hour']:%a %d %b %H:00} UTC  forecast {r['mean']:.1f} bookings "
                f"(95 %: {r['lower']:.0f}-{r['upper']:.0f}), {r['supply']:.0f} tutor-hours "
                f"offered, coverage {_pct(cov)}"
            )
        if len(self._hx):
            i = int(np.clip(np.searchsorted(self._hx, x - 1800), 0, len(self._hx) - 1))
            r = view.history.iloc[i]
            return f"{r['hour']:%a %d %b %H:00} UTC  {int(r['actual'])} bookings"
        return " "

    # ------------------------------------------------------------------ text

    @staticmethod
    def _shortage_hours(view: Any) -> np.ndarray:
        hours = view.forecast["hour"]
        mask = np.zeros(len(hours), dtype=bool)
        short = view.slots[view.slots["kind"] == "shortage"] if len(view.slots) else view.slots
        for s in short.itertuples():
            mask |= ((hours >= s.start) & (hours < s.end)).to_numpy()
        return mask

    def _figures_html(self, view: Any) -> str:
        b = view.backtest or {}
        muted = self._theme.muted
        mase = "-" if b.get("mase") is None else f"{b['mase']:.2f}"
        lines = [
            "<b>Backtest</b> (4 weekly origins)",
            f"hourly WAPE {_pct(b.get('wape'))} <span style='color:{muted}'>(Poisson floor "
            f"{_pct(b.get('wape_floor'))})</span>",
            f"daily-total MAPE {_pct(b.get('daily_mape'))} · MASE {mase} vs same hour last week "
            f"· 95 % coverage {_pct(b.get('coverage'))}",
            "<br><b>Past forecasts</b>",
        ]
        acc = view.accuracy
        if acc is None or acc.empty:
            lines.append(f"<span style='color:{muted}'>none scored yet: a forecast is "
                         "scored as its hours arrive</span>")  # fmt: skip
        import pandas as pd

        for r in acc.head(5).itertuples():
            lines.append(
                f"{pd.Timestamp(r.created_at):%d %b}: {r.hours} h scored, WAPE {_pct(r.wape)}, "
                f"daily MAPE {_pct(r.daily_mape)}, coverage {_pct(r.coverage)}, "
                f"bias {_pct(r.bias)}"
            )
        return "<br>".join(lines)

    def _slots_html(self, view: Any) -> str:
        slots = view.slots
        if view.name == "total":
            return (f"<span style='color:{self._theme.muted}'>Shortages are judged per "
                    "subject: pick one to see its slots.</span>")  # fmt: skip
        short = slots[slots["kind"] == "shortage"] if len(slots) else slots
        surplus = slots[slots["kind"] == "surplus"] if len(slots) else slots
        lines = [f"<b>Shortage slots</b> (coverage &lt; 80 %, 12+ h ahead): {len(short)}"]
        for s in short.head(8).itertuples():
            lines.append(
                f"<span style='color:{self._theme.red}'>{s.start:%a %d %b %H:00}</span> "
                f"for {s.hours} h: {s.supply:.0f} tutor-hours for {s.demand:.1f} bookings "
                f"({_pct(s.coverage)}), in {s.lead_hours:.0f} h"
            )
        lines.append(f"<b>Surplus slots</b> (coverage &gt; 130 %): {len(surplus)}")
        return "<br>".join(lines)

    # ------------------------------------------------------------------ theme

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        theme_plot(self.chart, theme)
        band = QColor(theme.accent)
        band.setAlpha(60)
        self.band.setBrush(band)
        # The band's edges are drawn by the fill; the edge curves only carry its data.
        self.upper_curve.setPen(None)
        self.lower_curve.setPen(None)
        self.history_curve.setPen(pg.mkPen(theme.muted, width=1))
        self.mean_curve.setPen(pg.mkPen(theme.accent, width=2))
        self.supply_curve.setPen(pg.mkPen(theme.green, width=2, style=Qt.PenStyle.DashLine))
        self.shortage_marks.setBrush(pg.mkBrush(theme.red))
        self.shortage_marks.setPen(pg.mkPen(theme.red))
        self.now_line.setPen(pg.mkPen(theme.border, style=Qt.PenStyle.DotLine))
        if self._view is not None:
            self.figures.setText(self._figures_html(self._view))
            self.slots.setText(self._slots_html(self._view))

    def hover_point(self, x: float, y: float) -> QPointF:
        """Scene position of a data point (for tests driving the hover read-out)."""
        return self.chart.getPlotItem().vb.mapViewToScene(QPointF(x, y))
