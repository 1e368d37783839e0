"""The Tutors page: every tutor (sortable, filterable, exportable), the upcoming
first-session queue, and one tutor's profile (header, Performance, Flags, Interventions,
Sessions), which opens from the list, the queue, or ``open_tutor(tutor_id)``.

Widgets only: the data comes from ``viewmodels.tutors`` and ``viewmodels.tutor_profile``
(loaded off the GUI thread); charts are pyqtgraph items created once and updated in
place.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.theme import LIGHT, Theme
from ui.widgets import (
    RISK_COLORS,
    TIER_COLORS,
    EmptyState,
    LinkDelegate,
    RiskBadgeDelegate,
    list_table,
    panel,
    quiet_plot,
    theme_plot,
)
from viewmodels.tutor_profile import TutorProfileViewModel
from viewmodels.tutors import (
    COL_RISK,
    FS_COL_ACTION,
    SESSION_ID_ROLE,
    TUTOR_ID_ROLE,
    TutorsViewModel,
    trend_text,
)

INTERVENTION_TYPES = (
    ("manager_coaching", "Manager coaching (48 h)"),
    ("automated_coaching", "Automated coaching e-mail (24 h)"),
    ("training_module", "Training module (72 h)"),
    ("peer_mentoring", "Peer mentoring (7 days)"),
    ("performance_improvement_plan", "Performance improvement plan (7 days)"),
    ("retention_interview", "Retention interview (24 h)"),
    ("recognition", "Recognition (7 days)"),
)
SEGMENT_COLORS = {
    "Star": "#0e7490",
    "Healthy": "#15803d",
    "At-Risk": "#ca8a04",
    "Churning": "#dc2626",
}


def _table(model: Any, chars: tuple[int, ...]) -> QTableView:
    return list_table(model, chars, row_height=28)


def badge(text: str, color: str) -> str:
    """A coloured pill as rich text (QLabel)."""
    return (
        f"<span style='background:{color}; color:white; font-weight:700;'>"
        f"&nbsp;{escape(text)}&nbsp;</span>"
    )


class _Chart(pg.PlotWidget):
    """One small weekly chart: bars or a line, x = weeks before now."""

    def __init__(self, title: str, *, bars: bool, y_range: tuple[float, float] | None = None):
        super().__init__()
        quiet_plot(self)
        # Fixed height: six charts and the risk history fit a laptop screen.
        self.setFixedHeight(165)
        self.setTitle(title, size="9pt")
        self._bars = bars
        self._y_range = y_range
        self.bar = pg.BarGraphItem(x=[], height=[], width=0.7, brush="#60a5fa")
        self.curve = pg.PlotDataItem([], [], connect="finite", symbol="o", symbolSize=5)
        self.addItem(self.bar if bars else self.curve)
        self.getAxis("bottom").setTicks(
            [[(float(-w), f"-{w}w" if w else "now") for w in range(0, 26, 4)]]
        )

    def set_series(self, x: list[float], y: list[float]) -> None:
        xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if self._bars:
            keep = np.isfinite(ys)  # no bar at all where there is no data
            self.bar.setOpts(x=xs[keep], height=ys[keep], width=0.7)
        elif np.isfinite(ys).any():
            self.curve.setData(xs, ys, connect="finite")
        else:
            self.curve.setData([], [])  # no data at all: an empty chart, not NaN points
        self.setXRange(-25.5, 0.5, padding=0)
        if self._y_range is not None:
            self.setYRange(*self._y_range, padding=0.05)
        else:
            top = float(np.nanmax(ys)) if np.isfinite(ys).any() else 0.0
            self.setYRange(0, max(top * 1.15, 1.0), padding=0)

    def apply_theme(self, theme: Theme, color: str) -> None:
        theme_plot(self, theme)
        self.getPlotItem().titleLabel.setText(self.getPlotItem().titleLabel.text, color=theme.text)
        if self._bars:
            self.bar.setOpts(brush=color, pen=pg.mkPen(color))
        else:
            self.curve.setPen(pg.mkPen(color, width=2))
            self.curve.setSymbolBrush(color)
            self.curve.setSymbolPen(color)


class CreateInterventionDialog(QDialog):
    def __init__(self, name: str, suggested: str, reason: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Create intervention for {name}")
        self.kind = QComboBox()
        for key, label in INTERVENTION_TYPES:
            self.kind.addItem(label, key)
        self.kind.setCurrentIndex(max(0, [k for k, _ in INTERVENTION_TYPES].index(suggested)))
        self.reason = QPlainTextEdit(reason)
        self.reason.setMinimumHeight(80)
        form = QFormLayout(self)
        form.addRow("Type", self.kind)
        form.addRow("Reason", self.reason)
        note = QLabel(
            "Assigned to the tutor's manager with the type's SLA; uploads through the outbox."
        )
        note.setObjectName("muted")
        note.setWordWrap(True)
        form.addRow(note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def choice(self) -> tuple[str, str]:
        return str(self.kind.currentData()), self.reason.toPlainText().strip()


class TutorProfileView(QWidget):
    """The profile: header with the risk curve, and four tabs."""

    def __init__(self, vm: TutorProfileViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self._theme = LIGHT
        self.back = QPushButton("← All tutors")
        self.name = QLabel("…")
        self.name.setObjectName("pageTitle")
        self.badges = QLabel("")
        self.badges.setTextFormat(Qt.TextFormat.RichText)
        self.subtitle = QLabel("")
        self.subtitle.setObjectName("muted")
        self.subtitle.setWordWrap(True)
        self.create_button = QPushButton("Create intervention…")
        self.create_button.clicked.connect(self._create)
        self.report_button = QPushButton("Export tutor report…")
        self.report_button.clicked.connect(self._export)
        self.curve = QLabel("")
        self.curve.setTextFormat(Qt.TextFormat.RichText)
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.RichText)
        top = QHBoxLayout()
        top.addWidget(self.back)
        top.addWidget(self.name)
        top.addWidget(self.badges, 1)
        top.addWidget(self.create_button)
        top.addWidget(self.report_button)
        head = QVBoxLayout()
        head.setSpacing(4)
        head.addLayout(top)
        head.addWidget(self.subtitle)
        head.addWidget(self.curve)
        head.addWidget(self.notice)

        # Performance
        self.charts = {
            "sessions": _Chart("Completed sessions per week", bars=True),
            "avg_rating": _Chart("Average rating", bars=False, y_range=(1, 5)),
            "first_session_success": _Chart("First-session success", bars=False, y_range=(0, 1)),
            "reschedules": _Chart("Reschedules by the tutor", bars=True),
            "no_shows": _Chart("No-shows", bars=True),
            "logins": _Chart("Engagement: logins per week", bars=True),
        }
        grid = QGridLayout()
        for i, chart in enumerate(self.charts.values()):
            grid.addWidget(chart, i // 3, i % 3)
        self.risk_chart = pg.PlotWidget()
        quiet_plot(self.risk_chart)
        self.risk_chart.setFixedHeight(170)
        self.risk_chart.setTitle("Predicted P(churn within 30 days) over time", size="9pt")
        self.risk_curve = pg.PlotDataItem([], [], symbol="o", symbolSize=7)
        self.risk_chart.addItem(self.risk_curve)
        self.risk_lines = [
            pg.InfiniteLine(
                pos=v, angle=0, pen=pg.mkPen(RISK_COLORS[t], style=Qt.PenStyle.DashLine)
            )
            for t, v in (("Critical", 0.70), ("High", 0.50), ("Medium", 0.25))
        ]
        for line in self.risk_lines:
            self.risk_chart.addItem(line)
        self.risk_chart.setYRange(0, 1, padding=0.02)
        self.risk_chart.getAxis("bottom").setTicks(
            [[(float(-w), f"-{w}w" if w else "now") for w in range(0, 26, 2)]]
        )
        self.weekly_note = QLabel("")
        self.weekly_note.setObjectName("muted")
        self.tier_table = QLabel("")
        self.tier_table.setTextFormat(Qt.TextFormat.RichText)
        self.tier_table.setWordWrap(True)
        perf_body = QWidget()
        pl = QVBoxLayout(perf_body)
        pl.addWidget(self.weekly_note)
        pl.addLayout(grid)
        pl.addWidget(self.risk_chart)
        pl.addWidget(panel("The metrics behind the tier", self.tier_table))
        perf = QScrollArea()
        perf.setWidgetResizable(True)
        perf.setFrameShape(QFrame.Shape.NoFrame)
        perf.setWidget(perf_body)

        # Flags
        self.flags = QLabel("")
        self.flags.setTextFormat(Qt.TextFormat.RichText)
        self.flags.setWordWrap(True)
        self.flags.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.flags.setContentsMargins(10, 8, 10, 8)
        flags = QScrollArea()
        flags.setWidgetResizable(True)
        flags.setFrameShape(QFrame.Shape.NoFrame)
        flags.setWidget(self.flags)

        # Interventions
        self.interventions_table = _table(vm.interventions, (18, 10, 16, 25, 14, 14, 0))
        self.interventions_empty = QLabel("No interventions for this tutor yet.")
        self.interventions_empty.setObjectName("muted")
        iv = QWidget()
        il = QVBoxLayout(iv)
        il.addWidget(self.interventions_empty)
        il.addWidget(self.interventions_table, 1)

        # Sessions
        self.upcoming_table = _table(vm.upcoming, (16, 12, 18, 5, 11, 12, 0))
        self.recent_table = _table(vm.recent, (16, 12, 18, 28, 8, 0))
        ss = QWidget()
        sl = QVBoxLayout(ss)
        self.upcoming_label = QLabel("Upcoming (next 14 days)")
        self.upcoming_label.setObjectName("panelTitle")
        sl.addWidget(self.upcoming_label)
        sl.addWidget(self.upcoming_table, 1)
        recent_label = QLabel("Recent")
        recent_label.setObjectName("panelTitle")
        sl.addWidget(recent_label)
        sl.addWidget(self.recent_table, 2)

        self.tabs = QTabWidget()
        self.tabs.addTab(perf, "Performance")
        self.tabs.addTab(flags, "Flags")
        self.tabs.addTab(iv, "Interventions")
        self.tabs.addTab(ss, "Sessions")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.tabs, 1)
        self._steps: list[Any] = []
        self._color_charts()
        vm.sig_loaded.connect(self.show_bundle)
        vm.sig_loading_changed.connect(self._on_loading)

    def _on_loading(self, loading: bool) -> None:
        if loading and (self.vm.bundle is None or self.vm.bundle.tutor["id"] != self.vm.tutor_id):
            self.name.setText("Loading…")
            self.badges.setText("")

    # ------------------------------------------------------------------ filling

    def show_bundle(self, b: Any) -> None:
        t, p = b.tutor, b.prediction
        self.name.setText(t["name"])
        pills = []
        if p is not None:
            if p["performance_tier"]:
                pills.append(
                    badge(
                        p["performance_tier"].upper(),
                        TIER_COLORS.get(p["performance_tier"], "#64748b"),
                    )
                )
            if p["risk_tier"]:
                pills.append(
                    badge(
                        f"{p['risk_tier'].upper()} RISK", RISK_COLORS.get(p["risk_tier"], "#64748b")
                    )
                )
            if p["segment"]:
                health = "" if p["health_score"] is None else f" · health {p['health_score']:.0f}"
                pills.append(
                    badge(f"{p['segment']}{health}", SEGMENT_COLORS.get(p["segment"], "#64748b"))
                )
        else:
            pills.append(badge("NOT SCORED YET", "#64748b"))
        self.badges.setText("&nbsp; ".join(pills))
        tenure = "–" if t["tenure_days"] is None else f"{t['tenure_days']} days"
        subjects = ", ".join(s.replace("_", " ") for s in t["subjects"]) or "no subjects"
        status = "" if t["status"] == "active" else f" · status {t['status']}"
        self.subtitle.setText(
            f"Tenure {tenure} · {subjects} · manager {t['manager']}{status} · data as of "
            f"{b.as_of.astimezone(self.vm.timezone()):%a %d %b %H:%M}"
        )
        self.create_button.setEnabled(not t["deleted"])
        self.report_button.setEnabled(True)
        self._show_curve(b)
        # The header paints first; charts and tabs follow one per turn of the event
        # loop (each pyqtgraph chart costs milliseconds to update and repaint), so no
        # single step holds the GUI thread for long. A newer bundle replaces the rest.
        steps: list[Any] = [
            (lambda k=key, c=chart: c.set_series(*self.vm.series(k)))
            for key, chart in self.charts.items()
        ]
        steps += [lambda: self._show_performance(b), lambda: self._show_flags(b)]
        restart = not self._steps
        self._steps = steps
        if restart:
            QTimer.singleShot(0, self, self._next_step)
        self.interventions_empty.setVisible(not b.interventions)
        self.interventions_table.setVisible(bool(b.interventions))
        n_first = sum(1 for s in b.upcoming_sessions if s["first_session"])
        self.upcoming_label.setText(
            f"Upcoming (next 14 days): {len(b.upcoming_sessions)} sessions, "
            f"{n_first} first session{'' if n_first == 1 else 's'}"
        )
        self.tabs.setTabText(1, f"Flags ({len(b.alerts)})")
        self.tabs.setTabText(2, f"Interventions ({len(b.interventions)})")

    def _show_curve(self, b: Any) -> None:
        p = b.prediction
        if p is None:
            self.curve.setText("")
            self.notice.setText(self.vm.no_prediction_text())
            self.notice.setVisible(True)
            return
        risky = self.vm.risky_first_sessions()
        self.notice.setText(
            "".join(
                f"{badge(s['risk_tier'].upper(), RISK_COLORS.get(s['risk_tier'], '#64748b'))} "
                f"Upcoming first session {escape(s['when'])}: {escape(s['what'])}<br/>"
                for s in risky
            )
        )
        self.notice.setVisible(bool(risky))
        change = b.curve_change
        cells = []
        for h in ("7d", "14d", "30d", "90d"):
            v = p["churn"][h]
            delta = change[h]
            arrow = trend_text(delta) if delta is not None else "no earlier run"
            color = (
                self._theme.red
                if (delta or 0) > 0.005
                else self._theme.green
                if (delta or 0) < -0.005
                else self._theme.muted
            )
            cells.append(
                f"<td style='padding-right:28px'><span style='color:{self._theme.muted}'>"
                f"P(churn {h[:-1]} d)</span><br/><span style='font-size:17pt; font-weight:700'>"
                f"{'–' if v is None else f'{v * 100:.0f} %'}</span>"
                f" <span style='color:{color}'>{escape(arrow)}</span></td>"
            )
        since = ""
        if b.week_ago is not None:
            since = f"changes since {b.week_ago['as_of'].astimezone(self.vm.timezone()):%d %b}"
        self.curve.setText(
            f"<table><tr>{''.join(cells)}<td style='color:{self._theme.muted}'>{since}</td>"
            "</tr></table>"
        )

    @property
    def pending(self) -> bool:
        """Parts of the newest bundle still waiting for their turn."""
        return bool(self._steps)

    def _next_step(self) -> None:
        if not self._steps:
            return
        self._steps.pop(0)()
        if self._steps:
            QTimer.singleShot(0, self, self._next_step)

    def _color_charts(self) -> None:
        colors = {
            "sessions": self._theme.accent,
            "avg_rating": "#b45309",
            "first_session_success": "#0e7490",
            "reschedules": "#ea580c",
            "no_shows": "#dc2626",
            "logins": "#7c3aed",
        }
        for key, chart in self.charts.items():
            chart.apply_theme(self._theme, colors[key])
        theme_plot(self.risk_chart, self._theme)
        self.risk_curve.setPen(pg.mkPen(self._theme.red, width=2))
        self.risk_curve.setSymbolBrush(self._theme.red)

    def _show_performance(self, b: Any) -> None:
        x, y = self.vm.risk_history()
        self.risk_curve.setData(x, y)
        self.risk_chart.setXRange(min([-4.0, *x]) - 0.5, 0.5, padding=0)
        self.weekly_note.setText(
            "No sessions or logins in the last 180 days yet."
            if b.weekly.empty
            else "Last 26 weeks, week by week (x: weeks before the newest data)."
        )
        tier = b.tier
        if tier is None:
            self.tier_table.setText(
                "No tier yet: the performance score comes with the first scoring run."
            )
            return
        rows = "".join(
            f"<tr><td>{escape(p.label)}</td><td align='right'>{escape(p.value_text)}</td>"
            f"<td align='right'><b>{p.points:.1f}</b> / {p.weight:.0f}</td></tr>"
            for p in tier.parts
        )
        goals = "".join(f"<li>{escape(g)}</li>" for g in tier.goals)
        tips = "".join(f"<li>{escape(s)}</li>" for s in tier.suggestions)
        self.tier_table.setText(
            f"<p><b>{escape(tier.tier)}</b>, performance score <b>{tier.score:.1f}</b> / 100</p>"
            f"<table cellpadding='4'>{rows}</table>"
            f"<p><b>Goals</b></p><ul>{goals}</ul>"
            f"<p><b>Suggestions (weakest first)</b></p><ol>{tips}</ol>"
        )

    def _show_flags(self, b: Any) -> None:
        parts = []
        if b.alerts:
            for a in b.alerts:
                color = RISK_COLORS.get(a["severity"], "#64748b")
                step = (
                    f"<br/><i>Next step:</i> {escape(a['next_step'])}" if a.get("next_step") else ""
                )
                parts.append(
                    f"<p>{badge(a['severity'].upper(), color)} <b>{escape(a['title'])}</b>"
                    f" <span style='color:{self._theme.muted}'>({escape(a['state'])})</span>"
                    f"{step}</p>"
                )
        else:
            parts.append(
                f"<p style='color:{self._theme.muted}'>No active alerts for this tutor.</p>"
            )
        p = b.prediction
        if p is not None and p["factors"]:
            parts.append("<p><b>Why the model rates this risk (top factors)</b></p><ul>")
            for f in p["factors"]:
                sign = "▲" if "raise" in str(f.get("direction", "")) else "▼"
                parts.append(
                    f"<li>{sign} {escape(str(f.get('text', '')))} <span style='color:"
                    f"{self._theme.muted}'>({escape(str(f.get('direction', '')))})</span></li>"
                )
            parts.append("</ul>")
        elif p is None:
            parts.append(f"<p>{escape(self.vm.no_prediction_text())}</p>")
        if p is not None and p.get("burnout"):
            parts.append(
                "<p>⚠ Burnout signs: high load with falling ratings or slower replies.</p>"
            )
        self.flags.setText("".join(parts))

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._color_charts()
        if self.vm.bundle is not None:
            self.show_bundle(self.vm.bundle)

    # ------------------------------------------------------------------ commands

    def _create(self) -> None:
        b = self.vm.bundle
        if b is None:
            return
        p = b.prediction or {}
        suggested = {"Critical": "manager_coaching", "High": "automated_coaching"}.get(
            p.get("risk_tier") or "", "training_module"
        )
        factors = "; ".join(str(f.get("text", "")) for f in p.get("factors", [])[:3])
        reason = f"{p.get('risk_tier') or 'Unscored'} churn risk" + (
            f": {factors}" if factors else ""
        )
        dialog = CreateInterventionDialog(b.tutor["name"], suggested, reason, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            kind, why = dialog.choice()
            self.vm.create_intervention(kind, why or reason)

    def _export(self) -> None:
        b = self.vm.bundle
        if b is None:
            return
        default = f"{b.tutor['name'].replace(' ', '_')}_report.pdf"
        path, _ = QFileDialog.getSaveFileName(self, "Export tutor report", default, "PDF (*.pdf)")
        if path:
            self.vm.export_report(path)


class TutorsPage(QWidget):
    title = "Tutors"

    def __init__(
        self, vm: TutorsViewModel, profile: TutorProfileViewModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.vm = vm
        self.profile_vm = profile

        # --- the list
        self.filters: dict[str, QComboBox] = {}
        bar = QHBoxLayout()
        for key, label, values in (
            ("tier", "All tiers", ("Platinum", "Gold", "Silver", "Bronze")),
            ("risk", "All risk", ("Critical", "High", "Medium", "Low")),
            ("segment", "All segments", ("Star", "Healthy", "At-Risk", "Churning")),
            ("subject", "All subjects", ()),
            ("manager", "All managers", ()),
        ):
            box = QComboBox()
            box.addItem(label, "")
            for v in values:
                box.addItem(v, v)
            box.currentIndexChanged.connect(
                lambda _i, k=key, b=box: vm.set_filters(**{k: b.currentData() or ""})
            )
            self.filters[key] = box
            bar.addWidget(box)
        self.active_only = QCheckBox("Active only")
        self.active_only.setChecked(True)
        self.active_only.toggled.connect(lambda on: vm.set_filters(active_only=on))
        bar.addWidget(self.active_only)
        bar.addStretch(1)
        self.count = QLabel("Loading…")
        self.count.setObjectName("muted")
        bar.addWidget(self.count)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._export_csv)
        bar.addWidget(self.export_button)
        self.table = _table(vm.tutors, (15, 14, 7, 8, 7, 9, 11, 10, 9, 8, 11, 8, 0))
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(6, Qt.SortOrder.DescendingOrder)
        self.table.setItemDelegateForColumn(COL_RISK, RiskBadgeDelegate(self.table))
        self.table.doubleClicked.connect(self._open_from_list)
        self.table.activated.connect(self._open_from_list)
        self.empty = EmptyState(
            "No tutors yet",
            "Tutors appear after the first sync; risk, tiers and trends after the first "
            "scoring run.",
            icon_name="tutors",
        )
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.empty)
        self.list_stack.addWidget(self.table)
        hint = QLabel(
            "Double-click a tutor (or press Enter) to open the profile. Search by name with Ctrl+F."
        )
        hint.setObjectName("muted")
        listing = QWidget()
        ll = QVBoxLayout(listing)
        ll.setContentsMargins(0, 6, 0, 0)
        ll.addLayout(bar)
        ll.addWidget(self.list_stack, 1)
        ll.addWidget(hint)

        # --- first sessions
        self.sessions_table = _table(vm.sessions, (9, 8, 16, 15, 11, 5, 9, 9, 14, 0))
        self.sessions_table.setSortingEnabled(True)
        self.sessions_table.horizontalHeader().setSortIndicator(1, Qt.SortOrder.DescendingOrder)
        self.sessions_table.setItemDelegateForColumn(0, RiskBadgeDelegate(self.sessions_table))
        self._link = LinkDelegate("#2563eb", self.sessions_table)
        self.sessions_table.setItemDelegateForColumn(FS_COL_ACTION, self._link)
        self.sessions_table.clicked.connect(self._on_session_clicked)
        self.sessions_table.doubleClicked.connect(self._open_from_sessions)
        self.sessions_note = QLabel("")
        self.sessions_note.setObjectName("muted")
        self.sessions_note.setWordWrap(True)
        fs = QWidget()
        fl = QVBoxLayout(fs)
        fl.setContentsMargins(0, 6, 0, 0)
        fl.addWidget(self.sessions_note)
        fl.addWidget(self.sessions_table, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(listing, "All tutors")
        self.tabs.addTab(fs, "Upcoming first sessions")
        self.tabs.currentChanged.connect(self._on_tab)

        # --- profile
        self.profile = TutorProfileView(profile)
        self.profile.back.clicked.connect(self.show_list)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tabs)
        self.stack.addWidget(self.profile)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)

        vm.sig_loaded.connect(self._on_loaded)
        vm.sig_sessions_loaded.connect(self._on_sessions)
        vm.tutors.modelReset.connect(self._update_count)

    # ------------------------------------------------------------------ reactions

    def _on_loaded(self, listing: Any) -> None:
        for key, values in (("subject", listing.subjects), ("manager", listing.managers)):
            box = self.filters[key]
            current = box.currentData()
            box.blockSignals(True)
            box.clear()
            box.addItem("All subjects" if key == "subject" else "All managers", "")
            for v in values:
                box.addItem(v.replace("_", " ") if key == "subject" else v, v)
            i = box.findData(current)
            box.setCurrentIndex(max(i, 0))
            box.blockSignals(False)
        self.list_stack.setCurrentIndex(1 if listing.rows else 0)
        self._update_count()

    def _update_count(self) -> None:
        listing = self.vm.tutor_list
        if listing is None:
            return
        shown, total = self.vm.tutors.rowCount(), self.vm.tutors.total()
        when = (
            "not scored yet" if listing.as_of is None else f"scored {listing.as_of:%d %b %H:%M} UTC"
        )
        trend = "" if listing.previous_as_of is not None else " · trend needs a run from a week ago"
        self.count.setText(f"{shown:,} of {total:,} tutors · {when}{trend}")

    def _on_sessions(self, queue: Any) -> None:
        high = sum(1 for r in queue.rows if r.risk_tier in ("Critical", "High"))
        self.sessions_note.setText(
            f"{len(queue.rows)} first sessions in the next {queue.days} days, {high} at High risk "
            "or above; riskiest first. Send the prep e-mail: an automated-coaching "
            "intervention due when the session starts. Double-click to open the tutor."
            if queue.as_of is not None
            else "No scoring run yet: first-session risk appears after the first scoring run."
        )

    def _on_tab(self, index: int) -> None:
        if index == 1:
            self.vm.load_sessions()

    def _open_from_list(self, index: QModelIndex) -> None:
        tid = index.data(TUTOR_ID_ROLE)
        if tid is not None:
            self.open_tutor(int(tid))

    def _open_from_sessions(self, index: QModelIndex) -> None:
        if index.column() == FS_COL_ACTION:
            return
        tid = index.data(TUTOR_ID_ROLE)
        if tid is not None:
            self.open_tutor(int(tid))

    def _on_session_clicked(self, index: QModelIndex) -> None:
        if index.column() == FS_COL_ACTION:
            sid = index.data(SESSION_ID_ROLE)
            if sid is not None:
                self.vm.send_prep_email(int(sid))

    def _export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export tutors", "tutors.csv", "CSV (*.csv)")
        if path:
            self.vm.export_csv(path)

    # ------------------------------------------------------------------ public

    def open_tutor(self, tutor_id: int) -> None:
        """Show the profile of ``tutor_id`` (loaded off the GUI thread)."""
        self.stack.setCurrentWidget(self.profile)
        self.profile.tabs.setCurrentIndex(0)
        self.profile_vm.load(int(tutor_id))

    def show_list(self) -> None:
        self.stack.setCurrentWidget(self.tabs)

    def show_first_sessions(self) -> None:
        self.show_list()
        self.tabs.setCurrentIndex(1)

    def set_filter(self, text: str) -> None:
        """The window's search box: names; Enter on a single match opens it."""
        if text:
            self.show_list()
            self.tabs.setCurrentIndex(0)
        self.vm.set_search(text)

    def open_search_result(self) -> bool:
        """Enter in the search box: open the first tutor the list shows."""
        if self.stack.currentWidget() is not self.tabs or self.vm.tutors.rowCount() == 0:
            return False
        self.open_tutor(self.vm.tutors.tutor_id(0))
        return True

    def load(self) -> None:
        self.vm.load()
        if self.tabs.currentIndex() == 1:
            self.vm.load_sessions()
        if self.stack.currentWidget() is self.profile:
            self.profile_vm.reload()

    def apply_theme(self, theme: Theme) -> None:
        self._link.color = theme.accent
        self.profile.apply_theme(theme)
        self.sessions_table.viewport().update()
