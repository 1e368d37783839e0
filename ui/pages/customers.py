"""The Customers page: every customer (sortable, filterable, searchable, exportable) and
one customer's detail (health score with its five components, churn risk and factors,
recommended action, sessions, inbound calls, score history, alerts, contact history).

Widgets only: the data comes from ``viewmodels.customers`` (loaded off the GUI thread).
The list's model sorts and filters numpy columns itself, so the view never sorts.
"""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.pages.customer_churn import ChurnTab
from ui.pages.customer_tab import export_button
from ui.pages.customer_velocity import VelocityTab
from ui.theme import Theme
from ui.widgets import RISK_COLORS, EmptyState, RiskBadgeDelegate, list_table
from viewmodels.customers import (
    COL_CHURN,
    COL_RISK,
    COMPONENTS,
    CUSTOMER_ID_ROLE,
    HEALTH_TIERS,
    RISK_TIERS,
    CustomerDetailViewModel,
    CustomersViewModel,
)
from viewmodels.first_session_stats import COL_DROP, PERIOD_NAMES, FirstSessionStatsViewModel
from viewmodels.tutor_profile import TextTableModel

TIER_COLORS = {
    "Critical": "#dc2626",
    "At Risk": "#ea580c",
    "Healthy": "#16a34a",
    "Thriving": "#0e7490",
}


def _table(model: Any, chars: tuple[int, ...]) -> QTableView:
    return list_table(model, chars, row_height=26)


def _titled(title: str, extra: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    label = QLabel(title)
    label.setWordWrap(True)
    row.addWidget(label, 1)
    row.addWidget(extra)
    return row


class DropDelegate(QStyledItemDelegate):
    """The WoW-drop column in the warning colour and bold, so a flagged tutor stands out
    beyond the row tint."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        if index.data():
            option.font.setBold(True)
            option.palette.setColor(option.palette.ColorRole.Text, QColor(RISK_COLORS["High"]))


def badge(text: str, color: str) -> str:
    return (
        f"<span style='background:{color}; color:white; font-weight:700;'>"
        f"&nbsp;{escape(text)}&nbsp;</span>"
    )


class CustomerDetailView(QWidget):
    """One customer: header, health and risk, components, next step, and tabs."""

    def __init__(self, vm: CustomerDetailViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.back = QPushButton("← All customers")
        self.name = QLabel("")
        self.name.setObjectName("pageTitle")
        self.name.setTextFormat(Qt.TextFormat.RichText)
        self.info = QLabel("")
        self.info.setObjectName("muted")
        self.info.setWordWrap(True)
        self.health = QLabel("")
        self.health.setTextFormat(Qt.TextFormat.RichText)
        self.action = QLabel("")
        self.action.setWordWrap(True)
        self.action.setTextFormat(Qt.TextFormat.RichText)
        self.factors = QLabel("")
        self.factors.setWordWrap(True)
        self.factors.setTextFormat(Qt.TextFormat.RichText)
        self.loading = QLabel("Loading…")
        self.loading.setObjectName("muted")
        self.loading.hide()

        grid = QGridLayout()
        self.bars: dict[str, QProgressBar] = {}
        for row, (key, label, weight) in enumerate(COMPONENTS):
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setFormat("%v")
            grid.addWidget(QLabel(f"{label} ({weight} %)"), row, 0)
            grid.addWidget(bar, row, 1)
            self.bars[key] = bar

        self.sessions = TextTableModel(("When", "Subject", "Tutor", "Status", "Rating", ""), self)
        self.calls = TextTableModel(("When", "Reason", "Length", "Sentiment"), self)
        self.history = TextTableModel(("Run", "Health", "Tier", "Churn 30d"), self)
        self.alerts = TextTableModel(("Severity", "Alert", "State", "Next step"), self)
        self.contacts = TextTableModel(("When", "Who", "What", "About"), self)
        self.tabs = QTabWidget()
        for model, title, chars in (
            (self.sessions, "Sessions", (16, 12, 16, 10, 8, 0)),
            (self.calls, "Inbound calls", (16, 20, 8, 0)),
            (self.history, "Score history", (12, 8, 10, 0)),
            (self.alerts, "Open alerts", (9, 36, 12, 0)),
            (self.contacts, "Contact history", (16, 12, 18, 0)),
        ):
            self.tabs.addTab(_table(model, chars), title)

        head = QHBoxLayout()
        head.addWidget(self.back)
        head.addWidget(self.name, 1)
        head.addWidget(self.loading)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(head)
        tl.addWidget(self.info)
        tl.addWidget(self.health)
        tl.addLayout(grid)
        tl.addWidget(self.action)
        tl.addWidget(self.factors)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(top)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addWidget(scroll, 2)
        lay.addWidget(self.tabs, 3)

        vm.sig_loaded.connect(self.show_bundle)
        vm.sig_loading_changed.connect(self.loading.setVisible)
        vm.sig_error.connect(lambda m: self.info.setText(m))

    def show_bundle(self, bundle: Any) -> None:
        c, p = bundle.customer, bundle.prediction
        self.name.setText(escape(c["name"]))
        tenure = "" if c["tenure_days"] is None else f" · customer for {c['tenure_days']} days"
        self.info.setText(
            " · ".join(
                x
                for x in (
                    f"Grade {c['segment']}" if c["segment"] else "",
                    c["channel"].replace("_", " "),
                    f"goal {c['goal_status'].replace('_', ' ')}" if c["goal_status"] else "",
                    c["status"],
                )
                if x
            )
            + tenure
        )
        if p is None:
            self.health.setText("Not scored yet: health and risk appear after a scoring run.")
        else:
            tier, risk = p["health_tier"] or "–", p["risk_tier"] or "–"
            churn = "–" if p["p_churn_30d"] is None else f"{p['p_churn_30d'] * 100:.0f} %"
            score = "–" if p["health_score"] is None else f"{p['health_score']:.0f}"
            self.health.setText(
                f"<span style='font-size:20pt; font-weight:700'>{score}</span> / 100 "
                f"{badge(tier, TIER_COLORS.get(tier, '#64748b'))} &nbsp; "
                f"P(churn 30 d) {churn} {badge(risk.upper(), RISK_COLORS.get(risk, '#64748b'))}"
            )
        parts = (p or {}).get("components") or {}
        for key, bar in self.bars.items():
            v = parts.get(key)
            bar.setValue(0 if v is None else round(float(v)))
            bar.setFormat("%v" if v is not None else "–")
        self.action.setText(f"<b>Recommended action:</b> {escape(bundle.recommended_action)}")
        factors = (p or {}).get("factors") or []
        self.factors.setText(
            "<b>Why:</b> "
            + "; ".join(
                f"{escape(str(f.get('text', '')))} ({escape(str(f.get('direction', '')))})"
                for f in factors
            )
            if factors
            else ""
        )
        self.sessions.set_rows(self.vm.session_rows())
        self.calls.set_rows(self.vm.call_rows())
        self.history.set_rows(self.vm.history_rows())
        self.alerts.set_rows(
            [(a["severity"], a["title"], a["state"], a["next_step"] or "") for a in bundle.alerts]
        )
        self.contacts.set_rows(self.vm.contact_rows())


class FirstSessionsTab(QWidget):
    """Success rate by tutor, subject and grade for a week, month or quarter."""

    def __init__(self, vm: FirstSessionStatsViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.period = QComboBox()
        for key, name in PERIOD_NAMES.items():
            self.period.addItem(f"{name} vs the {name.lower()} before", key)
        self.period.currentIndexChanged.connect(lambda _i: vm.load(self.period.currentData()))
        self.summary = QLabel("Loading…")
        self.summary.setObjectName("muted")
        self.summary.setWordWrap(True)
        self.tutors = _table(vm.by_tutor, (18, 8, 8, 9, 8, 8, 0))
        self.subjects = _table(vm.by_subject, (14, 8, 8, 8, 8, 0))
        self.segments = _table(vm.by_segment, (10, 8, 8, 8, 8, 0))
        for t in (self.tutors, self.subjects, self.segments):
            t.setSortingEnabled(True)
        self.tutors.horizontalHeader().setSortIndicator(1, Qt.SortOrder.DescendingOrder)
        self.subjects.horizontalHeader().setSortIndicator(2, Qt.SortOrder.AscendingOrder)
        self.segments.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.tutors.setItemDelegateForColumn(COL_DROP, DropDelegate(self.tutors))
        self.exports = {
            name: export_button(title, lambda p, m=model, t=title: vm.export_table(m, p, t))
            for name, title, model in (
                ("tutors", "First-session success by tutor", vm.by_tutor),
                ("subjects", "First-session success by subject", vm.by_subject),
                ("segments", "First-session success by grade", vm.by_segment),
            )
        }
        bar = QHBoxLayout()
        bar.addWidget(self.period)
        bar.addWidget(self.summary, 1)
        right = QVBoxLayout()
        right.addLayout(_titled("By subject (below 60 % flagged red)", self.exports["subjects"]))
        right.addWidget(self.subjects, 3)
        right.addLayout(_titled("By customer grade", self.exports["segments"]))
        right.addWidget(self.segments, 2)
        left = QVBoxLayout()
        left.addLayout(
            _titled(
                "By tutor (below 70 % red, top performers green; ⚠ tinted: down more than "
                "20 % week over week, the alert rule)",
                self.exports["tutors"],
            )
        )
        left.addWidget(self.tutors, 1)
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addLayout(right, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addLayout(bar)
        lay.addLayout(body, 1)
        vm.sig_loaded.connect(lambda _s: self.summary.setText(vm.summary()))
        vm.sig_error.connect(self.summary.setText)


class CustomersPage(QWidget):
    title = "Customers"

    def __init__(
        self,
        vm: CustomersViewModel,
        detail: CustomerDetailViewModel,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.vm = vm
        self.detail_vm = detail

        self.filters: dict[str, QComboBox] = {}
        bar = QHBoxLayout()
        for key, label, values in (
            ("tier", "All tiers", HEALTH_TIERS),
            ("risk", "All risk", RISK_TIERS),
            ("segment", "All grades", ()),
            ("channel", "All channels", ()),
            ("subject", "All subjects", ()),
            ("tutor", "All tutors", ()),
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
        self.active_only.toggled.connect(lambda on: vm.set_filters(active_only=on))
        bar.addWidget(self.active_only)
        bar.addStretch(1)
        self.count = QLabel("Loading…")
        self.count.setObjectName("muted")
        bar.addWidget(self.count)
        self.export_progress = QProgressBar()
        self.export_progress.setRange(0, 100)
        self.export_progress.setMaximumWidth(120)
        self.export_progress.hide()
        bar.addWidget(self.export_progress)
        self.export_cancel = QPushButton("Cancel export")
        self.export_cancel.setToolTip("Stop the export; nothing is written to the file")
        self.export_cancel.clicked.connect(self._cancel_export)
        self.export_cancel.hide()
        bar.addWidget(self.export_cancel)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._export_csv)
        bar.addWidget(self.export_button)

        self.table = _table(vm.customers, (16, 6, 12, 16, 14, 6, 9, 7, 7, 6, 6, 8, 8, 9, 8, 7, 0))
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(COL_CHURN, Qt.SortOrder.DescendingOrder)
        self.table.setItemDelegateForColumn(COL_RISK, RiskBadgeDelegate(self.table))
        self.table.doubleClicked.connect(self._open_from_list)
        self.table.activated.connect(self._open_from_list)
        self.empty = EmptyState(
            "No customers yet",
            "Customers appear after the first sync; health scores and churn risk after the "
            "first scoring run.",
        )
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.empty)
        self.list_stack.addWidget(self.table)
        hint = QLabel("Double-click a customer (or press Enter) for the detail. Ctrl+F searches.")
        hint.setObjectName("muted")
        listing = QWidget()
        ll = QVBoxLayout(listing)
        ll.setContentsMargins(0, 6, 0, 0)
        ll.addLayout(bar)
        ll.addWidget(self.list_stack, 1)
        ll.addWidget(hint)

        self.tabs = QTabWidget()
        self.tabs.addTab(listing, "All customers")
        self.first_sessions: FirstSessionsTab | None = None
        if vm.first_sessions is not None:
            self.first_sessions = FirstSessionsTab(vm.first_sessions)
            self.tabs.addTab(self.first_sessions, "First sessions")
        self.velocity: VelocityTab | None = None
        if vm.velocity is not None:
            self.velocity = VelocityTab(vm.velocity)
            self.tabs.addTab(self.velocity, "Velocity")
        self.churn: ChurnTab | None = None
        if vm.churn is not None:
            self.churn = ChurnTab(vm.churn)
            self.tabs.addTab(self.churn, "Churn")
        self.tabs.currentChanged.connect(self._on_tab)

        self.detail = CustomerDetailView(detail)
        self.detail.back.clicked.connect(self.show_list)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tabs)
        self.stack.addWidget(self.detail)
        self.listing = listing
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)

        vm.sig_loaded.connect(self._on_loaded)
        vm.customers.modelReset.connect(self._update_count)
        vm.sig_export_progress.connect(lambda f: self.export_progress.setValue(round(f * 100)))
        vm.sig_export_finished.connect(self._on_export_finished)
        vm.sig_tabs_stale.connect(self._reload_visible_tab)

    # ------------------------------------------------------------------ reactions

    def _on_loaded(self, listing: Any) -> None:
        for key, values, label in (
            ("segment", listing.segments, "All grades"),
            ("channel", listing.channels, "All channels"),
            ("subject", listing.subjects, "All subjects"),
            ("tutor", listing.tutors, "All tutors"),
        ):
            box = self.filters[key]
            current = box.currentData()
            box.blockSignals(True)  # a refill is not the user choosing a filter
            box.clear()
            box.addItem(label, "")
            for v in values:
                box.addItem(v.replace("_", " "), v)
            box.setCurrentIndex(max(box.findData(current), 0))
            box.blockSignals(False)
        self.list_stack.setCurrentIndex(1 if listing.rows else 0)
        self._update_count()

    def _update_count(self) -> None:
        listing = self.vm.customer_list
        if listing is None:
            return
        shown, total = self.vm.customers.rowCount(), self.vm.customers.total()
        when = (
            "not scored yet" if listing.as_of is None else f"scored {listing.as_of:%d %b %H:%M} UTC"
        )
        self.count.setText(f"{shown:,} of {total:,} customers · {when}")

    def _on_tab(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if widget is self.first_sessions and self.first_sessions is not None:
            self.first_sessions.vm.load()
        for tab in (self.velocity, self.churn):
            if tab is not None and widget is tab:
                tab.vm.ensure_loaded()  # computed once, when first shown

    def _reload_visible_tab(self) -> None:
        for tab in (self.velocity, self.churn):
            if tab is not None and self.tabs.currentWidget() is tab:
                tab.vm.ensure_loaded()

    def _open_from_list(self, index: QModelIndex) -> None:
        cid = index.data(CUSTOMER_ID_ROLE)
        if cid is not None:
            self.open_customer(int(cid))

    def _export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export customers", "customers.csv", "CSV (*.csv)"
        )
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> bool:
        started = self.vm.export_csv(path)
        if started:
            self.export_progress.setValue(0)
            self.export_progress.show()
            self.export_cancel.setEnabled(True)
            self.export_cancel.show()
            self.export_button.setEnabled(False)
        return started

    def _cancel_export(self) -> None:
        if self.vm.cancel_export():
            self.export_cancel.setEnabled(False)  # the worker stops at its next check

    def _on_export_finished(self, _ok: bool, _message: str) -> None:
        self.export_progress.hide()
        self.export_cancel.hide()
        self.export_button.setEnabled(True)

    def apply_theme(self, theme: Theme) -> None:
        for tab in (self.velocity, self.churn):
            if tab is not None:
                tab.apply_theme(theme)

    # ------------------------------------------------------------------ public

    def open_customer(self, customer_id: int) -> None:
        """Show the detail of ``customer_id`` (loaded off the GUI thread)."""
        self.stack.setCurrentWidget(self.detail)
        self.detail_vm.load(int(customer_id))

    def show_list(self) -> None:
        self.stack.setCurrentWidget(self.tabs)
        self.tabs.setCurrentWidget(self.listing)

    def set_filter(self, text: str) -> None:
        """The window's search box: names."""
        if text:
            self.show_list()
        self.vm.set_search(text)

    def open_search_result(self) -> bool:
        if self.tabs.currentWidget() is not self.listing or self.vm.customers.rowCount() == 0:
            return False
        self.open_customer(self.vm.customers.customer_id(0))
        return True

    def load(self) -> None:
        self.vm.load()
        if self.stack.currentWidget() is self.detail:
            self.detail_vm.reload()
        if self.first_sessions is not None and self.tabs.currentWidget() is self.first_sessions:
            self.first_sessions.vm.load()
        for tab in (self.velocity, self.churn):
            if tab is None:
                continue
            tab.vm.invalidate()  # new data: recomputed when shown, not behind the user's back
            if self.tabs.currentWidget() is tab and self.stack.currentWidget() is self.tabs:
                tab.vm.ensure_loaded()
