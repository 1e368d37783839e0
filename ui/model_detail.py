"""System → Models: the selected version's held-out figures, per horizon, with its
calibration when training measured one."""

from __future__ import annotations

from html import escape
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from ui.widgets import theme_plot

NOTHING = "Select a model version to see its held-out figures."


def _f(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _p(v: float | None) -> str:
    return "–" if v is None else f"{v:.1%}" if v < 0.1 else f"{v:.0%}"


def _n(v: int | None) -> str:
    return "–" if v is None else f"{v:,}"


class ModelDetail(QWidget):
    """Read-only; :meth:`show_entry` with a registry row (or None)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel(NOTHING)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.text)
        self.calibration = pg.PlotWidget()
        self.calibration.setMinimumWidth(260)
        self.calibration.setMaximumWidth(360)
        self.calibration.setTitle("Calibration (held-out)")
        self.calibration.setLabel("bottom", "predicted probability")
        self.calibration.setLabel("left", "observed rate")
        self.calibration.showGrid(x=True, y=True, alpha=0.2)
        self.calibration.setMouseEnabled(x=False, y=False)
        self.calibration.hideButtons()
        self._diagonal = self.calibration.plot([0, 1], [0, 1], pen=pg.mkPen("#888888", width=1))
        self.points = self.calibration.plot(
            [], [], pen=pg.mkPen("#2563eb", width=2), symbol="o", symbolSize=7,
            symbolBrush="#2563eb",
        )  # fmt: skip
        self.calibration.hide()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        left = QVBoxLayout()
        left.addWidget(scroll, 1)
        lay.addLayout(left, 1)
        lay.addWidget(self.calibration)

    def apply_theme(self, theme: Any) -> None:
        theme_plot(self.calibration, theme)
        for axis_name in ("left", "bottom"):
            # Probabilities, not "x0.001" units.
            self.calibration.getAxis(axis_name).enableAutoSIPrefix(False)
        self._diagonal.setPen(pg.mkPen(theme.muted, width=1, style=Qt.PenStyle.DashLine))
        self.points.setPen(pg.mkPen(theme.accent, width=2))
        self.points.setSymbolBrush(theme.accent)

    def show_entry(self, entry: Any) -> None:
        report = getattr(entry, "report", None)
        if entry is None or report is None:
            self.text.setText(NOTHING if entry is None else "No figures were recorded.")
            self.calibration.hide()
            return
        parts = [f"<h3>{escape(entry.name)} {escape(entry.version)}</h3>"]
        if getattr(entry, "warning", ""):
            parts.append(f"<p><b>{escape(entry.warning)}</b></p>")
        parts.append(_pairs(report.headline))
        if report.horizons:
            parts.append(_horizon_table(report.horizons))
        if report.notes:
            parts.append(
                "<p style='color:gray'>" + "<br>".join(escape(n) for n in report.notes) + "</p>"
            )
        self.text.setText("".join(parts))
        points = report.reliability
        if points:
            self.points.setData(
                [p["mean_predicted"] for p in points], [p["observed_rate"] for p in points]
            )
            top = max(max(p["mean_predicted"], p["observed_rate"]) for p in points)
            self.calibration.setRange(xRange=(0, top * 1.05), yRange=(0, top * 1.05), padding=0)
            self.calibration.show()
        else:
            self.points.setData([], [])
            self.calibration.hide()


def _pairs(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td style='padding-right:14px'>{escape(k)}</td><td><b>{escape(v)}</b></td></tr>"
        for k, v in rows
    )
    return f"<table cellspacing='0' cellpadding='2'>{cells}</table>"


def _horizon_table(rows: list[Any]) -> str:
    head = (
        "Horizon", "Outcome known", "Left", "AUC", "Brier", "Predicted vs observed",
        "At p ≥ 0.5: precision / recall", "Catching 80 % of leavers: cut-off, precision",
    )  # fmt: skip
    out = [
        "<p><b>By horizon</b> (held-out rows whose outcome at that horizon is known)</p>",
        "<table cellspacing='0' cellpadding='3' border='0'><tr>",
        *(f"<th align='left' style='padding-right:10px'>{escape(h)}</th>" for h in head),
        "</tr>",
    ]
    unmeasurable = []
    for r in rows:
        if r.auc is None and r.known and r.churned == r.known:
            # Only leavers have a known outcome: the rates there describe the window,
            # not the model, so they are not shown as if they were figures.
            unmeasurable.append(r.days)
            cells = (f"{r.days} days", _n(r.known), _n(r.churned), "–", "–",
                     f"{_p(r.mean_predicted)} vs –", "–", "–")  # fmt: skip
            out.append("<tr>" + "".join(f"<td style='padding-right:10px'>{c}</td>" for c in cells))
            out.append("</tr>")
            continue
        cells = (
            f"{r.days} days",
            _n(r.known),
            _n(r.churned),
            _f(r.auc),
            _f(r.brier),
            f"{_p(r.mean_predicted)} vs {_p(r.observed)}",
            f"{_p(r.precision_at_half)} / {_p(r.recall_at_half)}",
            f"{_f(r.threshold_r80, 3)}, {_p(r.precision_r80)}",
        )
        out.append("<tr>" + "".join(f"<td style='padding-right:10px'>{c}</td>" for c in cells))
        out.append("</tr>")
    out.append("</table>")
    if unmeasurable:
        days = ", ".join(f"{d}" for d in unmeasurable)
        out.append(
            f"<p style='color:gray'>No AUC at {days} days: the hold-out is too short to see "
            "anyone stay that long, so every known outcome there is a leaver.</p>"
        )
    return "".join(out)
