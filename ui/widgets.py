"""Small building blocks: empty states, metric cards with sparklines, charts, badges.

Charts are pyqtgraph items created once and updated in place (``set_data``); colours
come from the current :class:`ui.theme.Theme` through ``apply_theme``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.theme import LIGHT, Theme, icon

pg.setConfigOptions(antialias=True, background=None, foreground=LIGHT.muted)

ARROWS = {"up": "▲", "down": "▼", "flat": "▬", "none": ""}
TIER_COLORS = {
    "Platinum": "#0e7490",
    "Gold": "#d97706",
    "Silver": "#94a3b8",
    "Bronze": "#9a3412",
}
RISK_COLORS = {"Critical": "#dc2626", "High": "#ea580c", "Medium": "#ca8a04", "Low": "#16a34a"}


class EmptyState(QWidget):
    """A centred icon, title and explanation where data will be (or is not yet)."""

    def __init__(
        self, title: str, text: str, parent: QWidget | None = None, *, icon_name: str | None = None
    ) -> None:
        super().__init__(parent)
        self.icon = QLabel()
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if icon_name:
            self.icon.setPixmap(icon(icon_name, "#94a3b8").pixmap(QSize(44, 44)))
        self.icon.setVisible(bool(icon_name))
        self.title = QLabel(title)
        self.title.setObjectName("emptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.text = QLabel(text)
        self.text.setObjectName("emptyText")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Word-wrapped labels get their height for the width they are given only when
        # the layout hands them the full width (no alignment flag in addWidget).
        box = QWidget()
        box.setMaximumWidth(560)
        bl = QVBoxLayout(box)
        bl.setSpacing(8)
        bl.addWidget(self.icon)
        bl.addWidget(self.title)
        bl.addWidget(self.text)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box, 10)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        lay.addLayout(row)
        lay.addStretch(2)

    def set_text(self, title: str, text: str) -> None:
        self.title.setText(title)
        self.text.setText(text)


def theme_plot(
    plot: pg.PlotWidget,
    theme: Theme,
    *,
    text: str | None = None,
    axes: tuple[str, ...] = ("left", "bottom"),
) -> None:
    """A chart's card background and its axes' lines and tick labels in ``theme``'s
    colours (``text``: the tick labels' colour, default the theme's muted grey)."""
    plot.setBackground(theme.card)
    for name in axes:
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(theme.border))
        axis.setTextPen(pg.mkPen(text or theme.muted))


def quiet_plot(plot: pg.PlotWidget, *, tight: bool = False) -> None:
    """A chart to read, not to explore: no panning or zooming, no "A" button, no context
    menu (``tight``: no margin around the plot either, for small inline charts)."""
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    if tight:
        plot.getPlotItem().setContentsMargins(0, 0, 0, 0)


class Sparkline(pg.PlotWidget):
    """Seven days (or 168 hours) of one metric; NaN gaps stay gaps."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        quiet_plot(self, tight=True)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.setFixedHeight(46)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # Two plain items (no fill under the curve: pyqtgraph builds fill paths in
        # Python on every paint, which the GUI thread cannot spare during a sync).
        self._curve = pg.PlotCurveItem([], [], connect="finite", skipFiniteCheck=False)
        self._dot = pg.ScatterPlotItem(size=6, pxMode=True)
        self.addItem(self._curve)
        self.addItem(self._dot)
        self._color = LIGHT.accent
        self.setToolTip("")

    def set_data(self, values: Sequence[float]) -> None:
        y = np.asarray(values, dtype=float)
        x = np.arange(len(y), dtype=float)
        finite = np.isfinite(y)
        self._curve.setData(x, y, connect="finite")
        if finite.any():
            lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
            pad = (hi - lo) * 0.15 or max(abs(hi) * 0.1, 1e-3)
            last = int(np.flatnonzero(finite)[-1])
            self._dot.setData([x[last]], [y[last]])
            self.setYRange(lo - pad, hi + pad, padding=0)
            self.setXRange(0, max(len(y) - 1, 1), padding=0.02)
        else:
            self._dot.setData([], [])

    def set_color(self, color: str, background: str) -> None:
        self._color = color
        self.setBackground(background)
        self._curve.setPen(pg.mkPen(color, width=2))
        self._dot.setBrush(pg.mkBrush(color))
        self._dot.setPen(pg.mkPen(color))


class MetricCard(QFrame):
    """Value, trend arrow vs the previous period, status colour and a 7-day sparkline."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.setMinimumWidth(220)
        self._theme = LIGHT
        self._card: Any = None
        self.title = QLabel(title)
        self.title.setObjectName("cardTitle")
        self.status_dot = QLabel()
        self.status_dot.setFixedSize(10, 10)
        self.value = QLabel("…")
        self.value.setObjectName("cardValue")
        self.trend = QLabel("")
        self.trend.setTextFormat(Qt.TextFormat.PlainText)
        self.spark = Sparkline()
        self.detail = QLabel("")
        self.detail.setObjectName("muted")
        self.detail.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.status_dot)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 10)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addWidget(self.value)
        lay.addWidget(self.trend)
        lay.addWidget(self.spark)
        lay.addWidget(self.detail)

    @property
    def status(self) -> str:
        return self._card.status if self._card is not None else "none"

    @property
    def card(self) -> Any:
        return self._card

    def set_card(self, card: Any) -> None:
        self._card = card
        self.title.setText(card.title)
        self.value.setText(card.display)
        arrow = ARROWS.get(card.trend, "")
        self.trend.setText(f"{arrow} {card.trend_text}".strip())
        self.detail.setText(card.detail)
        self.spark.set_data(card.spark)
        tip = f"{card.title}: {card.display}\n{card.trend_text}\n{card.detail}"
        if card.spark_labels:
            tip += "\nLast 7 days: " + ", ".join(
                f"{label} {_short(v)}"
                for label, v in zip(card.spark_labels, card.spark, strict=False)
            )
        self.setToolTip(tip)
        self._restyle()

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._restyle()

    def _restyle(self) -> None:
        t = self._theme
        status = self._card.status if self._card is not None else "none"
        color = t.status_color(status)
        trend_color = t.muted
        card = self._card
        if card is not None and card.good in ("up", "down") and card.trend in ("up", "down"):
            trend_color = t.green if card.trend == card.good else t.red
        key = (t.name, status, trend_color)
        if key == getattr(self, "_style_key", None):
            return  # setStyleSheet re-polishes the whole card: only when something changed
        self._style_key = key
        self.setStyleSheet(
            f"QFrame#card {{ background: {t.card}; border: 1px solid {t.border};"
            f" border-left: 4px solid {color}; border-radius: 8px; }}"
        )
        self.status_dot.setStyleSheet(f"background: {color}; border-radius: 5px;")
        self.status_dot.setToolTip(
            {"green": "Good", "yellow": "Watch", "red": "Act"}.get(status, "No data")
        )
        self.trend.setStyleSheet(f"color: {trend_color};")
        self.spark.set_color(t.accent if status == "none" else color, t.card)


def _short(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if abs(v) >= 10:
        return f"{v:,.0f}"
    if abs(v) <= 1.0:
        return f"{v:.2f}"
    return f"{v:.1f}"


class HeatmapChart(pg.PlotWidget):
    """Sessions by weekday (rows, Monday on top) x local hour (columns)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        quiet_plot(self, tight=True)
        self.setMinimumHeight(230)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        self.getPlotItem().invertY(True)
        left = self.getAxis("left")
        left.setTicks(
            [
                [
                    (i + 0.5, d)
                    for i, d in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
                ]
            ]
        )
        bottom = self.getAxis("bottom")
        bottom.setTicks([[(h + 0.5, f"{h:02d}") for h in range(0, 24, 2)]])
        self.setXRange(0, 24, padding=0)
        self.setYRange(0, 7, padding=0)
        self._grid = np.zeros((7, 24))
        self.grid: Any = None  # as last set (tuples), to skip identical updates
        self.setToolTip("")
        self.scene().sigMouseMoved.connect(self._hover)

    def set_grid(self, grid: Sequence[Sequence[int]]) -> None:
        self.grid = grid
        self._grid = np.asarray(grid, dtype=float)
        hi = float(self._grid.max()) if self._grid.size else 0.0
        self.image.setImage(self._grid, levels=(0, max(hi, 1.0)), autoLevels=False)
        self.image.setRect(QRectF(0, 0, 24, 7))

    def apply_theme(self, theme: Theme) -> None:
        theme_plot(self, theme)
        stops = np.linspace(0, 1, len(theme.heat))
        self.image.setColorMap(pg.ColorMap(stops, [QColor(c) for c in theme.heat]))

    def _hover(self, pos: Any) -> None:
        vb = self.getPlotItem().vb
        if not self.sceneBoundingRect().contains(pos):
            return
        p = vb.mapSceneToView(pos)
        h, d = int(p.x()), int(p.y())
        if 0 <= h < 24 and 0 <= d < 7:
            day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[d]
            self.setToolTip(f"{day} {h:02d}:00–{h + 1:02d}:00: {int(self._grid[d, h]):,} sessions")


class TierChart(pg.PlotWidget):
    """Platinum / Gold / Silver / Bronze counts as bars with their numbers on top."""

    TIERS = ("Platinum", "Gold", "Silver", "Bronze")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        quiet_plot(self, tight=True)
        self.setMinimumHeight(200)
        self.hideAxis("left")
        self.getAxis("bottom").setTicks([[(i, t) for i, t in enumerate(self.TIERS)]])
        self.bars = pg.BarGraphItem(
            x=np.arange(4),
            height=np.zeros(4),
            width=0.62,
            brushes=[TIER_COLORS[t] for t in self.TIERS],
        )
        self.addItem(self.bars)
        self.labels = [pg.TextItem("", anchor=(0.5, 1.0)) for _ in self.TIERS]
        for label in self.labels:
            self.addItem(label)
        self.setXRange(-0.6, 3.6, padding=0)
        self._counts = [0, 0, 0, 0]

    def set_counts(self, counts: dict[str, int]) -> None:
        self._counts = [int(counts.get(t, 0)) for t in self.TIERS]
        self.bars.setOpts(height=np.array(self._counts, dtype=float))
        top = max(self._counts) or 1
        for i, (label, n) in enumerate(zip(self.labels, self._counts, strict=True)):
            label.setText(f"{n:,}")
            label.setPos(i, n + top * 0.02)
        self.setYRange(0, top * 1.18, padding=0)

    def apply_theme(self, theme: Theme) -> None:
        theme_plot(self, theme, text=theme.text, axes=("bottom",))
        for label in self.labels:
            label.setColor(theme.text)


class RiskBadgeDelegate(QStyledItemDelegate):
    """Paints the risk column as a coloured pill."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        text = str(index.data() or "")
        color = QColor(RISK_COLORS.get(text.capitalize(), "#64748b"))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        font = QFont(option.font)
        font.setBold(True)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        w = metrics.horizontalAdvance(text) + 14
        h = metrics.height() + 4
        r = option.rect
        pill = QRectF(r.x() + 6, r.y() + (r.height() - h) / 2, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(pill, h / 2, h / 2)
        painter.setPen(QPen(QColor("#ffffff")))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        base = super().sizeHint(option, index)
        return QSize(base.width() + 24, max(base.height(), 26))


class LinkDelegate(QStyledItemDelegate):
    """Paints a column as an action link (the view handles the click)."""

    def __init__(self, color: str, parent: Any = None) -> None:
        super().__init__(parent)
        self.color = color

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        enabled = not str(index.data() or "").endswith("open")
        option.font.setUnderline(enabled)
        option.palette.setColor(
            option.palette.ColorRole.Text, QColor(self.color if enabled else "#94a3b8")
        )


def list_table(model: Any, chars: Sequence[int], *, row_height: int = 26) -> QTableView:
    """A read-only list of whole rows, one selected at a time, over ``model``: uniform
    row heights (the view never asks tens of thousands of rows for their size hints) and
    initial widths from the font (:func:`default_column_widths`)."""
    t = QTableView()
    t.setModel(model)
    t.verticalHeader().hide()
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setWordWrap(False)
    t.setAlternatingRowColors(True)
    t.setTextElideMode(Qt.TextElideMode.ElideRight)
    header = t.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    t.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    t.verticalHeader().setDefaultSectionSize(row_height)
    default_column_widths(t, chars)
    return t


def default_column_widths(table: Any, chars: Sequence[int]) -> None:
    """Initial column widths from the font (``chars`` average characters per column;
    0 leaves a column alone); a saved layout restored later wins. Never measures the
    data: fitting to contents asks the (Python) model for every cell, which stalls the
    GUI thread."""
    fm = table.fontMetrics()
    unit = fm.horizontalAdvance("abcdefghijklmnopqrstuvwxyz0123456789") / 36
    header = table.horizontalHeader()
    model = table.model()
    for i, n in enumerate(chars):
        if n > 0:
            # Never narrower than the column's own title (plus the sort arrow): a width
            # in characters guessed for the data clipped titles such as "Consistency".
            title = model.headerData(i, Qt.Orientation.Horizontal) if model is not None else None
            titled = header.fontMetrics().horizontalAdvance(str(title or "")) + 30
            header.resizeSection(i, max(int(unit * n + 18), titled))


def panel(title: str, body: QWidget, *, extra: QWidget | None = None) -> QFrame:
    """A titled card-like frame around ``body``."""
    frame = QFrame()
    frame.setObjectName("panel")
    label = QLabel(title)
    label.setObjectName("panelTitle")
    head = QHBoxLayout()
    head.addWidget(label, 1)
    if extra is not None:
        head.addWidget(extra)
    lay = QVBoxLayout(frame)
    lay.setContentsMargins(14, 10, 14, 12)
    lay.addLayout(head)
    lay.addWidget(body, 1)
    return frame
