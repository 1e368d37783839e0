"""The intervention-effectiveness chart and the panel around it (explanation, caveat,
status), shown on the Interventions page and on the Dashboard's Analytics tab.

A type the selection-bias check flagged is drawn hollow and grey with dashed bars: its
matched comparison is not an effect (managers chose tutors worse off than the model saw),
and a manager reading a filled red-zone point would conclude the intervention drives
tutors away. A random hold-out's estimate, the unbiased one, is a diamond beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.theme import LIGHT, Theme
from ui.widgets import quiet_plot, theme_plot

NOTE = (
    "Each point: how many more of the treated tutors were still active 30 days later "
    "than untreated tutors at the same predicted risk (bars: 95 % interval; ×: the naive "
    "comparison with everyone untreated; ◆: a random hold-out, where a hold-out share is "
    "set). Hover a point for its figures."
)
CAVEAT_NOTE = (
    "Hollow points are not measured effects: managers chose tutors who were worse off "
    "than the churn model saw (they left faster in their first week, before the "
    "intervention could act), so the comparison understates the effect."
)
HOLDOUT_OFFSET = 0.22  # the hold-out's diamond sits just right of the matched estimate


class EffectChart(pg.PlotWidget):
    """Effect on 30-day retention per type (points), its 95 % interval (bars), the naive
    comparison (×) and the random hold-out (◆); flagged types hollow. Created once,
    updated in place; the theme re-draws from the last data."""

    def __init__(self, parent: QWidget | None = None, *, wrap_labels: bool = False) -> None:
        super().__init__(parent)
        self.setMinimumHeight(220)
        quiet_plot(self)
        self.setLabel("left", "retention vs comparable untreated (points)")
        # Two-line ticks: the type and its n; wrapped types (a narrower place, such as
        # the Dashboard's Analytics tab, where seven names side by side overlap) take a
        # line more.
        self.wrap_labels = wrap_labels
        self.getAxis("bottom").setHeight(60 if wrap_labels else 44)
        self.addLine(y=0, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        empty = np.zeros(0)
        self.errors = pg.ErrorBarItem(x=empty, y=empty, beam=0.2)
        self.biased_errors = pg.ErrorBarItem(x=empty, y=empty, beam=0.2)
        self.holdout_errors = pg.ErrorBarItem(x=empty, y=empty, beam=0.12)
        self.points = pg.ScatterPlotItem(size=11, hoverable=True, tip=_tip)
        self.naive = pg.ScatterPlotItem(size=9, symbol="x")
        self.holdout = pg.ScatterPlotItem(size=11, symbol="d", hoverable=True, tip=_tip)
        for item in (
            self.errors,
            self.biased_errors,
            self.holdout_errors,
            self.points,
            self.naive,
            self.holdout,
        ):
            self.addItem(item)
        self.n_points = 0
        self._data: dict[str, list[Any]] | None = None
        self._theme = LIGHT

    def set_data(self, data: dict[str, list[Any]]) -> None:
        self._data = data
        self._draw()

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        theme_plot(self, theme, text=theme.text)
        self._draw()

    def is_hollow(self, i: int) -> bool:
        """Whether the ``i``-th type's point is drawn without fill (flagged)."""
        return self.points.points()[i].brush().style() == Qt.BrushStyle.NoBrush

    # ------------------------------------------------------------------ drawing

    def _draw(self) -> None:
        data, theme = self._data, self._theme
        if data is None:
            return
        n = len(data["labels"])
        self.n_points = n
        x = np.arange(n, dtype=float)
        effect = np.array(data["effect"], dtype=float)
        low, high = np.array(data["low"], dtype=float), np.array(data["high"], dtype=float)
        biased = np.array(data.get("biased") or [False] * n, dtype=bool)
        tips = data.get("tips") or [""] * n
        dashed = pg.mkPen(theme.muted, width=1.2, style=Qt.PenStyle.DashLine)
        for bars, keep, pen in (
            (self.errors, ~biased, pg.mkPen(theme.text, width=1.5)),
            (self.biased_errors, biased, dashed),
        ):
            e = effect[keep]
            bars.setData(x=x[keep], y=e, top=high[keep] - e, bottom=e - low[keep], pen=pen)
        hollow, filled = QBrush(Qt.BrushStyle.NoBrush), pg.mkBrush(theme.accent)
        self.points.setData(
            [
                {
                    "pos": (x[i], effect[i]),
                    "data": tips[i],
                    "symbol": "o",
                    "brush": hollow if biased[i] else filled,
                    "pen": pg.mkPen(theme.muted if biased[i] else theme.accent, width=2),
                }
                for i in range(n)
            ]
        )
        naive = np.array(data["naive"], dtype=float)
        ok = np.isfinite(naive)
        self.naive.setData(x[ok], naive[ok], pen=pg.mkPen(theme.muted, width=2))
        hold = np.array(data.get("holdout") or [np.nan] * n, dtype=float)
        h_low = np.array(data.get("holdout_low") or [np.nan] * n, dtype=float)
        h_high = np.array(data.get("holdout_high") or [np.nan] * n, dtype=float)
        h_ok = np.isfinite(hold)
        hx = x[h_ok] + HOLDOUT_OFFSET
        self.holdout.setData(
            [
                {"pos": (px, hold[i]), "data": tips[i]}
                for px, i in zip(hx, np.flatnonzero(h_ok), strict=True)
            ],
            brush=pg.mkBrush(theme.green),
            pen=pg.mkPen(theme.green),
        )
        hv = hold[h_ok]
        self.holdout_errors.setData(
            x=hx,
            y=hv,
            top=h_high[h_ok] - hv,
            bottom=hv - h_low[h_ok],
            pen=pg.mkPen(theme.green, width=1.2),
        )
        self.getAxis("bottom").setTicks([self._ticks(data, biased)])
        if n:
            values = np.concatenate([low, high, naive[ok], h_low[h_ok], h_high[h_ok], [0.0]])
            values = values[np.isfinite(values)]
            span = max(float(values.max() - values.min()), 1.0)
            self.setYRange(values.min() - 0.1 * span, values.max() + 0.1 * span, padding=0)
            self.setXRange(-0.6, n - 0.4 + (HOLDOUT_OFFSET if h_ok.any() else 0.0), padding=0)

    def _ticks(self, data: dict[str, list[Any]], biased: np.ndarray) -> list[tuple[int, str]]:
        return [
            (
                i,
                f"{_wrap(label) if self.wrap_labels else label}\nn={nt:,}"
                + (" · biased" if biased[i] else ""),
            )
            for i, (label, nt) in enumerate(zip(data["labels"], data["n_treated"], strict=True))
        ]


class EffectPanel(QWidget):
    """Explanation, chart, the caveat (only when a type is flagged) and a status line,
    following an ``EffectivenessViewModel``; ``measure_button`` adds a Measure button."""

    def __init__(
        self,
        effects: Any,
        parent: QWidget | None = None,
        *,
        wrap_labels: bool = False,
        measure_button: bool = False,
        status: str = "",
    ) -> None:
        super().__init__(parent)
        self.effects = effects
        self.note = _muted(NOTE)
        self.chart = EffectChart(wrap_labels=wrap_labels)
        self.caveat = _muted(CAVEAT_NOTE)
        self.caveat.setObjectName("warning")
        self.caveat.setVisible(False)
        self.status = _muted(status)
        top = QHBoxLayout()
        top.addWidget(self.note, 1)
        self.measure_button: QPushButton | None = None
        if measure_button:
            self.measure_button = QPushButton("Measure")
            self.measure_button.setToolTip("Measure again on the current data (takes seconds)")
            self.measure_button.clicked.connect(effects.load)
            top.addWidget(self.measure_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.chart, 1)
        lay.addWidget(self.caveat)
        lay.addWidget(self.status)
        effects.sig_ready.connect(self.refresh)
        effects.sig_error.connect(self.status.setText)
        effects.sig_progress.connect(self.status.setText)

    def refresh(self, *_args: Any) -> None:
        self.chart.set_data(self.effects.chart_data())
        self.caveat.setVisible(bool(self.effects.biased()))
        self.status.setText(self.effects.status_text())

    def apply_theme(self, theme: Theme) -> None:
        self.chart.apply_theme(theme)


def _tip(x: float, y: float, data: Any) -> str:
    """The hover text of a point: its type's figures and caveat, from ``chart_data``."""
    return str(data) if data else f"{y:+.0f} points"


def _muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(True)
    return label


def _wrap(label: str, width: int = 16) -> str:
    """A label on lines of at most ``width`` characters, split between words
    ('performance improvement plan' on two)."""
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return "\n".join(lines)
