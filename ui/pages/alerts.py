"""The Alerts page: the queue (filters, saved views, bulk actions, CSV export) and the
selected alert's detail (facts, explanation, risk curve, audit trail, "Create
intervention").

The queue is :class:`viewmodels.alert_queue.AlertQueueModel` in a plain QTableView: the
model sorts and filters itself with numpy, so the view never goes through a proxy.
Errors from actions show in a line above the table instead of a modal box (a bulk
action that refuses some alerts is information, not an emergency).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QDateTime, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.theme import LIGHT, Theme
from ui.widgets import RISK_COLORS, EmptyState, RiskBadgeDelegate, default_column_widths, quiet_plot
from viewmodels.alert_queue import ALERT_ID_ROLE, COL_SEVERITY, STATE_FILTERS
from viewmodels.alerts import AlertsViewModel

STATE_LABELS = {
    "open": "Open",
    "snoozed": "Snoozed",
    "active": "Active",
    "acknowledged": "Acknowledged",
    "closed": "Closed (30 days)",
    "all": "All",
}
SEVERITIES = ("Critical", "High", "Medium", "Low")
SUBJECTS = {"": "Any subject", "tutor": "Tutors", "customer": "Customers", "session": "Sessions"}
HORIZONS = (7, 14, 30, 90)
# The queue's share of the page's width when the page first shows.
QUEUE_SHARE = 0.72


class SnoozeDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Snooze alerts")
        self.when = QDateTimeEdit(QDateTime.currentDateTime().addDays(1))
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm")
        presets = QHBoxLayout()
        for label, delta in (
            ("1 hour", timedelta(hours=1)),
            ("1 day", timedelta(days=1)),
            ("1 week", timedelta(days=7)),
        ):
            b = QPushButton(label)
            b.clicked.connect(lambda _=False, d=delta: self._preset(d))
            presets.addWidget(b)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QFormLayout(self)
        lay.addRow("Until", self.when)
        lay.addRow("", presets)
        lay.addRow(buttons)

    def _preset(self, delta: timedelta) -> None:
        self.when.setDateTime(QDateTime.currentDateTime().addSecs(int(delta.total_seconds())))

    def until(self) -> datetime:
        return self.when.dateTime().toPython().astimezone().astimezone(UTC)


class InterventionDialog(QDialog):
    """ "Create intervention", prefilled from the alert's rule (type and reason)."""

    def __init__(self, types: tuple[str, ...], suggestion: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Create intervention")
        self.type = QComboBox()
        for t in types:
            self.type.addItem(t.replace("_", " ").capitalize(), t)
        self.type.setCurrentIndex(max(0, self.type.findData(suggestion.intervention_type)))
        self.reason = QPlainTextEdit(suggestion.reason)
        self.reason.setMinimumHeight(90)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QFormLayout(self)
        lay.addRow("Type", self.type)
        lay.addRow("Reason", self.reason)
        note = QLabel("Due time from the type's SLA; assigned to the tutor's manager.")
        note.setObjectName("muted")
        lay.addRow("", note)
        lay.addRow(buttons)

    def values(self) -> tuple[str, str]:
        return str(self.type.currentData()), self.reason.toPlainText().strip()


class ContactDialog(QDialog):
    """ "Log contact": a call or message to the alert's customer, for their contact
    history; the alert is acknowledged, or resolved when the contact settled it."""

    def __init__(
        self, channels: dict[str, str], customer: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Log contact with {customer}")
        self.channel = QComboBox()
        for key, label in channels.items():
            self.channel.addItem(label, key)
        self.note = QPlainTextEdit()
        self.note.setPlaceholderText("What was said or agreed")
        self.note.setMinimumHeight(90)
        self.resolve = QCheckBox("This settled it: resolve the alert")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Log contact")
        self.ok.setEnabled(False)
        self.ok.setToolTip("Write a note first: it is the contact's record")
        self.note.textChanged.connect(self._note_changed)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QFormLayout(self)
        lay.addRow("How", self.channel)
        lay.addRow("Note", self.note)
        lay.addRow("", self.resolve)
        hint = QLabel("Goes to the customer's contact history; the alert is acknowledged.")
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        lay.addRow("", hint)
        lay.addRow(self.buttons)

    def _note_changed(self) -> None:
        has = bool(self.note.toPlainText().strip())
        self.ok.setEnabled(has)
        self.ok.setToolTip("" if has else "Write a note first: it is the contact's record")

    def values(self) -> tuple[str, str, bool]:
        return (
            str(self.channel.currentData()),
            self.note.toPlainText().strip(),
            self.resolve.isChecked(),
        )


class RiskCurveChart(pg.PlotWidget):
    """P(churn within 7/14/30/90 days) and P(churn 30 d) over time; items made once."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        quiet_plot(self)
        self.setFixedHeight(150)
        self.setYRange(0, 1, padding=0.05)
        self.getAxis("bottom").setTicks([[(h, f"{h} d") for h in HORIZONS]])
        self.getAxis("left").setTicks([[(v, f"{int(v * 100)} %") for v in (0, 0.5, 1)]])
        self.curve = pg.PlotCurveItem([], [], pen=pg.mkPen(RISK_COLORS["Critical"], width=2))
        self.dots = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(RISK_COLORS["Critical"]))
        self.addItem(self.curve)
        self.addItem(self.dots)

    def set_curve(self, curve: dict[str, float | None]) -> None:
        x = np.array([h for h in HORIZONS if curve.get(f"{h}d") is not None], float)
        y = np.array([curve[f"{h}d"] for h in HORIZONS if curve.get(f"{h}d") is not None])
        self.curve.setData(x, y)
        self.dots.setData(x, y)
        self.setXRange(0, 95, padding=0)


class HistoryChart(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        quiet_plot(self)
        self.setFixedHeight(110)
        self.setYRange(0, 1, padding=0.05)
        self.getAxis("left").setTicks([[(v, f"{int(v * 100)} %") for v in (0, 0.5, 1)]])
        self.getAxis("bottom").setStyle(showValues=False)
        self.line = pg.PlotCurveItem([], [], pen=pg.mkPen(LIGHT.accent, width=2))
        self.addItem(self.line)

    def set_history(self, history: list[dict[str, Any]]) -> None:
        y = np.array([h.get("p_churn_30d") for h in history], dtype=float)
        self.line.setData(np.arange(len(y), dtype=float), y, connect="finite")


class AlertDetail(QScrollArea):
    """The selected alert: what fired it, why, what to do, and who did what."""

    sig_open_target = Signal(str)
    """Show that place of the app ("forecast", "tutors", ...): the view an alert names."""

    def __init__(self, vm: AlertsViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.setWidgetResizable(True)
        self.detail: dict[str, Any] | None = None
        body = QWidget()
        self.title = QLabel()
        self.title.setObjectName("panelTitle")
        self.title.setWordWrap(True)
        self.meta = QLabel()
        self.meta.setObjectName("muted")
        self.meta.setWordWrap(True)
        self.next_step = QLabel()
        self.next_step.setWordWrap(True)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.factors = QLabel()
        self.factors.setWordWrap(True)
        self.curve_label = QLabel("Risk curve: P(leaving within …)")
        self.curve_label.setObjectName("muted")
        self.curve = RiskCurveChart()
        self.history_label = QLabel("P(churn 30 d) over time")
        self.history_label.setObjectName("muted")
        self.history = HistoryChart()
        self.audit = QLabel()
        self.audit.setWordWrap(True)
        self.audit.setObjectName("muted")
        self.create_button = QPushButton("Create intervention…")
        self.create_button.clicked.connect(self._create)
        # A customer alert is worked by contacting the customer (interventions are per
        # tutor): the contact goes to the customer's history.
        self.contact_button = QPushButton("Log contact…")
        self.contact_button.clicked.connect(self._contact)
        act_row = QWidget()
        act_lay = QHBoxLayout(act_row)
        act_lay.setContentsMargins(0, 0, 0, 0)
        act_lay.addWidget(self.contact_button)
        act_lay.addWidget(self.create_button)
        act_lay.addStretch(1)
        # An alert about a metric names the page to look at (facts["view"]).
        self.open_view_button = QPushButton()
        self.open_view_button.clicked.connect(
            lambda: self.sig_open_target.emit(str((self.detail or {})["facts"]["view"]))
        )
        lay = QVBoxLayout(body)
        for w in (
            self.title,
            self.meta,
            QLabel("<b>Next step</b>"),
            self.next_step,
            QLabel("<b>What fired it</b>"),
            self.facts,
            QLabel("<b>Why (the model)</b>"),
            self.factors,
            self.curve_label,
            self.curve,
            self.history_label,
            self.history,
            act_row,
            self.open_view_button,
            QLabel("<b>History</b>"),
            self.audit,
        ):
            lay.addWidget(w)
        lay.addStretch(1)
        self.empty = EmptyState("Select an alert", "Its facts, explanation and history show here.")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(body)
        self.setWidget(self.stack)
        vm.sig_detail.connect(self.show_detail)

    def show_detail(self, d: dict[str, Any] | None) -> None:
        self.detail = d
        if d is None:
            self.stack.setCurrentIndex(0)
            return
        self.stack.setCurrentIndex(1)
        self.title.setText(
            f"<span style='color:{RISK_COLORS.get(d['severity'], '#64748b')}'>"
            f"{d['severity']}</span> · {d['title']}"
        )
        raised = datetime.fromisoformat(d["created_at"]).astimezone()
        snooze = ""
        if d.get("snoozed_until"):
            until = datetime.fromisoformat(d["snoozed_until"]).astimezone()
            snooze = f" · snoozed until {until:%a %d %b %H:%M}"
        self.meta.setText(
            f"{d['rule'].replace('_', ' ')} · priority {d['priority']} · {d['state']}"
            f"{snooze} · raised {raised:%Y-%m-%d %H:%M} · assignee {d.get('assignee') or '—'}"
        )
        self.next_step.setText(d.get("next_step") or "—")
        facts = d.get("facts") or {}
        thresholds = d.get("thresholds") or {}
        rows = "".join(
            f"<tr><td>{k.replace('_', ' ')}</td><td>&nbsp;{_fmt(v)}</td></tr>"
            for k, v in facts.items()
            if v not in (None, [], "")
        )
        limits = ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in thresholds.items())
        self.facts.setText(
            f"<table>{rows}</table>"
            + (f"<p style='color:#64748b'>Thresholds: {limits}</p>" if limits else "")
        )
        factors = d.get("model_factors") or []
        self.factors.setText(
            "\n".join(f"• {f.get('text')}" for f in factors if f.get("text"))
            or "No model explanation for this subject."
        )
        has_curve = bool(d.get("risk_curve"))
        for w in (self.curve_label, self.curve, self.history_label, self.history):
            w.setVisible(has_curve)
        if has_curve:
            self.curve.set_curve(d["risk_curve"])
            self.history.set_history(d.get("risk_history") or [])
        suggestion = d.get("suggestion")
        self.create_button.setEnabled(suggestion is not None)
        related = d.get("related_tutor")
        if suggestion is not None and related and d.get("tutor_id") is None:
            self.create_button.setText(f"Intervention for {related['name']}…")
            self.create_button.setToolTip(
                f"{related['name']} gave this customer's first session: an intervention "
                "for the tutor (log the contact with the customer too)"
            )
        else:
            self.create_button.setText("Create intervention…")
            self.create_button.setToolTip(d.get("suggestion_error") or "")
        is_customer = d.get("customer_id") is not None
        self.contact_button.setEnabled(is_customer)
        self.contact_button.setToolTip(
            f"Record a call or message to {d.get('subject_name') or 'the customer'} on their "
            "contact history; the alert is acknowledged"
            if is_customer
            else f"This alert is about a {d.get('subject_type') or 'subject'}, not a "
            "customer: there is nobody to contact. For a tutor, create an intervention."
        )
        view = facts.get("view")
        self.open_view_button.setVisible(bool(view))
        if view:
            self.open_view_button.setText(f"Open the {str(view).capitalize()} page")
        self.audit.setText(
            "\n".join(
                f"{datetime.fromisoformat(a['at']).astimezone():%Y-%m-%d %H:%M}  "
                f"{a['actor']}: {a['action'].removeprefix('alert.')}"
                for a in d.get("audit") or []
            )
        )

    def _create(self) -> None:
        d = self.detail
        if d is None or d.get("suggestion") is None:
            return
        dialog = InterventionDialog(self.vm.intervention_types, d["suggestion"], self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            kind, reason = dialog.values()
            self.vm.create_intervention(d, kind, reason)

    def _contact(self) -> None:
        d = self.detail
        if d is None or d.get("customer_id") is None:
            return
        dialog = ContactDialog(
            self.vm.contact_channels, d.get("subject_name") or "the customer", self
        )
        if dialog.exec() == QDialog.DialogCode.Accepted:
            channel, note, resolve = dialog.values()
            self.vm.log_contact(d, channel, note, resolve=resolve)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, list):
        return "; ".join(str(x) for x in v)
    return str(v)


class AlertsPage(QWidget):
    title = "Alerts"

    def __init__(
        self, vm: AlertsViewModel, parent: QWidget | None = None, *, store: Any = None
    ) -> None:
        super().__init__(parent)
        self.vm = vm
        # --- filters
        self.state = QComboBox()
        for s in STATE_FILTERS:
            self.state.addItem(STATE_LABELS[s], s)
        self.state.currentIndexChanged.connect(
            lambda _i: vm.update_filter(state=self.state.currentData())
        )
        # A push button with a menu, not a tool button: Fusion draws an InstantPopup tool
        # button's arrow over its text ("Severity" came out clipped); a push button keeps
        # room for the arrow in its size hint.
        self.severity_button = QPushButton("Severity")
        menu = QMenu(self.severity_button)
        self.severity_actions: dict[str, QAction] = {}
        for s in SEVERITIES:
            a = menu.addAction(s)
            a.setCheckable(True)
            a.toggled.connect(self._severities_changed)
            self.severity_actions[s] = a
        self.severity_button.setMenu(menu)
        self.rule = QComboBox()
        self.rule.addItem("Any type", "")
        self.rule.currentIndexChanged.connect(self._rule_changed)
        self.subject = QComboBox()
        for key, label in SUBJECTS.items():
            self.subject.addItem(label, key)
        self.subject.currentIndexChanged.connect(
            lambda _i: vm.update_filter(subject_types={self.subject.currentData()} - {""})
        )
        self.manager = QComboBox()
        self.manager.addItem("Any manager", -1)
        self.manager.currentIndexChanged.connect(self._manager_changed)
        self.mine = QCheckBox("Mine")
        self.mine.toggled.connect(lambda on: vm.update_filter(mine=on))
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search subject, alert, manager, assignee")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)  # typing: filter once the user pauses
        self._search_timer.timeout.connect(lambda: vm.set_text(self.search.text()))
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.views = QComboBox()
        self.views.addItem("Saved views…", "")
        self.views.activated.connect(self._view_chosen)
        self.save_view_button = QPushButton("Save view…")
        self.save_view_button.clicked.connect(self._save_view)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._export)
        self.summary = QLabel("Loading…")
        self.summary.setObjectName("muted")
        # Rule and manager names come with the data: a steady width (long names elide,
        # the list shows them whole) rather than one that jumps after each load.
        for combo in (self.rule, self.manager):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(14)
        top = QHBoxLayout()
        for w in (
            self.state,
            self.severity_button,
            self.rule,
            self.subject,
            self.manager,
            self.mine,
        ):
            # Never squeezed below what they need to show their text: the search box
            # gives way first.
            w.setSizePolicy(QSizePolicy.Policy.Minimum, w.sizePolicy().verticalPolicy())
            top.addWidget(w)
        top.addWidget(self.search, 1)
        top2 = QHBoxLayout()
        top2.addWidget(self.views)
        top2.addWidget(self.save_view_button)
        top2.addWidget(self.export_button)
        top2.addStretch(1)
        top2.addWidget(self.summary)
        # --- table and actions
        self.error = QLabel()
        self.error.setObjectName("errorText")
        self.error.setStyleSheet(f"color: {RISK_COLORS['Critical']}")
        self.error.setWordWrap(True)
        self.error.hide()
        self.table = QTableView()
        self.table.setModel(vm.model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(1, Qt.SortOrder.DescendingOrder)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        default_column_widths(self.table, (9, 5, 20, 22, 14, 14, 10, 11, 0))
        self.badge = RiskBadgeDelegate(self.table)
        self.table.setItemDelegateForColumn(COL_SEVERITY, self.badge)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        for key, label in (
            ("acknowledge", "Acknowledge"),
            ("snooze", "Snooze…"),
            ("unsnooze", "Unsnooze"),
            ("resolve", "Resolve"),
            ("dismiss", "Dismiss"),
            ("claim", "Claim"),
            ("assign", "Assign…"),
        ):
            b = QPushButton(label)
            b.clicked.connect(lambda _=False, k=key: self._act(k))
            b.setEnabled(False)
            actions.addWidget(b)
            self.buttons[key] = b
        self.selection_label = QLabel("")
        self.selection_label.setObjectName("muted")
        actions.addStretch(1)
        actions.addWidget(self.selection_label)
        self.empty = EmptyState(
            "No alerts",
            "Alerts appear after each scoring run when a rule fires: churn risk, no sessions "
            "or logins, low ratings, poor first sessions, reschedules, technical issues, "
            "risky first sessions and customer triggers.",
            icon_name="alerts",
        )
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.empty)
        self.table_stack.addWidget(self.table)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.error)
        ll.addWidget(self.table_stack, 1)
        ll.addLayout(actions)
        self.detail = AlertDetail(vm)
        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        # The queue gets most of the width. Before the page is shown setSizes only sets
        # weights (the splitter has no width yet), and later growth goes 3:1 as well, so
        # the share holds at any window size until the user drags the handle.
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([round(QUEUE_SHARE * 1000), round((1 - QUEUE_SHARE) * 1000)])
        self._split_set = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addLayout(top2)
        lay.addWidget(self.splitter, 1)

        vm.sig_loaded.connect(self._on_loaded)
        vm.sig_counts_changed.connect(self._on_counts)
        vm.sig_error.connect(self._show_error)
        vm.sig_message.connect(self._hide_error)
        vm.sig_views_changed.connect(self._on_views)
        vm.sig_export_finished.connect(
            lambda path, n: self.summary.setText(f"Exported {n:,} alerts to {Path(path).name}")
        )
        if store is not None:
            vm.use_store(store)
        if vm.loaded:  # the view model loaded before the page existed
            self._on_loaded(vm.model.total)
            self._on_counts(vm.model.rowCount(), vm.model.total)

    # ------------------------------------------------------------------ reactions

    def _on_loaded(self, total: int) -> None:
        self.table_stack.setCurrentIndex(1 if total else 0)
        self._fill_choices()

    def _on_counts(self, shown: int, total: int) -> None:
        self.summary.setText(f"{shown:,} shown of {total:,}")
        self._selection_changed()

    def _fill_choices(self) -> None:
        """Rule and manager choices from the loaded alerts, keeping the current choice."""
        for combo, items in (
            (self.rule, sorted(self.vm.model.rule_titles.items(), key=lambda kv: kv[1])),
            (self.manager, sorted(self.vm.model.managers.items(), key=lambda kv: kv[1])),
        ):
            current = combo.currentData()
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for key, label in items:
                combo.addItem(label, key)
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)
            # The closed combo elides a long name; its list shows every name whole.
            view = combo.view()
            view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth() + 24)

    def _on_views(self, names: list[str]) -> None:
        self.views.blockSignals(True)
        while self.views.count() > 1:
            self.views.removeItem(1)
        for n in names:
            self.views.addItem(n, n)
        self.views.blockSignals(False)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def _hide_error(self, _text: str = "") -> None:
        self.error.hide()

    def _severities_changed(self) -> None:
        chosen = {s for s, a in self.severity_actions.items() if a.isChecked()}
        self.severity_button.setText(
            "Severity"
            if not chosen
            else "Severity: " + ", ".join(s for s in SEVERITIES if s in chosen)
        )
        self.vm.update_filter(severities=chosen)

    def _rule_changed(self, _i: int) -> None:
        rule = self.rule.currentData()
        self.vm.update_filter(rules={rule} if rule else set())

    def _manager_changed(self, _i: int) -> None:
        m = self.manager.currentData()
        self.vm.update_filter(manager_ids=set() if m in (None, -1) else {int(m)})

    def selected_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return [int(self.vm.model.data(r, ALERT_ID_ROLE)) for r in rows]

    def _selection_changed(self, *_args: Any) -> None:
        ids = self.selected_ids()
        for b in self.buttons.values():
            b.setEnabled(bool(ids))
        self.selection_label.setText(f"{len(ids):,} selected" if ids else "")
        if len(ids) == 1:
            self.vm.select(ids[0])
        elif not ids:
            self.vm.clear_selection()

    def _act(self, key: str) -> None:
        ids = self.selected_ids()
        if key == "snooze":
            dialog = SnoozeDialog(self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            self.vm.snooze(ids, dialog.until())
        elif key == "assign":
            who, ok = QInputDialog.getText(self, "Assign alerts", "Assign to (empty: nobody)")
            if ok:
                self.vm.assign(ids, who.strip() or None)
        elif key == "claim":
            self.vm.claim(ids)
        else:
            self.vm.act(key, ids)

    def _view_chosen(self, index: int) -> None:
        name = self.views.itemData(index)
        if name:
            self.vm.apply_view(name)
            self._sync_controls()

    def _sync_controls(self) -> None:
        """After a saved view: the filter controls show what the queue now filters by."""
        f = self.vm.model.filter
        for w in (self.state, self.rule, self.subject, self.manager, self.mine, self.search):
            w.blockSignals(True)
        self.state.setCurrentIndex(max(0, self.state.findData(f.state)))
        self.rule.setCurrentIndex(max(0, self.rule.findData(next(iter(f.rules), ""))))
        self.subject.setCurrentIndex(max(0, self.subject.findData(next(iter(f.subject_types), ""))))
        self.manager.setCurrentIndex(max(0, self.manager.findData(next(iter(f.manager_ids), -1))))
        self.mine.setChecked(f.mine)
        self.search.setText(f.text)
        for w in (self.state, self.rule, self.subject, self.manager, self.mine, self.search):
            w.blockSignals(False)
        for s, a in self.severity_actions.items():
            a.blockSignals(True)
            a.setChecked(s in f.severities)
            a.blockSignals(False)
        column, order = self.vm.model.sort_state
        self.table.horizontalHeader().setSortIndicator(column, order)

    def _save_view(self) -> None:
        name, ok = QInputDialog.getText(self, "Save view", "Name of this view")
        if ok and name.strip():
            self.vm.save_view(name)

    def _export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export alerts", "alerts.csv", "CSV (*.csv)")
        if path:
            self.vm.export_csv(path)

    # ------------------------------------------------------------------ shell hooks

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._split_set:
            # Once laid out, the real width: the weights from __init__ leave the detail
            # pane more than its share when its minimum width is large.
            QTimer.singleShot(0, self._initial_split)

    def _initial_split(self) -> None:
        total = sum(self.splitter.sizes())
        if self._split_set or total <= 0:
            return
        self._split_set = True
        queue = round(total * QUEUE_SHARE)
        self.splitter.setSizes([queue, total - queue])

    def set_filter(self, text: str) -> None:
        """The window's search box."""
        self.search.setText(text)

    def apply_theme(self, theme: Theme) -> None:
        self.table.viewport().update()

    def show_alert(self, alert_id: int) -> None:
        """Select one alert (a notification click: "alerts/123")."""
        row = self.vm.model.row_of(alert_id)
        if row is None:
            self.state.setCurrentIndex(self.state.findData("all"))
            row = self.vm.model.row_of(alert_id)
        if row is not None:
            self.table.selectRow(row)
            self.table.scrollTo(self.vm.model.index(row, 0))
