"""The Dashboard page: two tabs. Overview: marketplace cards, Critical tutors, tiers,
activity heatmap. Analytics (``ui.pages.analytics``): cohorts, the churn heatmap, stars
vs lagging, first sessions, intervention effectiveness; computed only once shown."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.pages.analytics import AnalyticsPage
from ui.theme import Theme
from ui.widgets import (
    EmptyState,
    HeatmapChart,
    LinkDelegate,
    MetricCard,
    RiskBadgeDelegate,
    TierChart,
    default_column_widths,
    panel,
)
from viewmodels.dashboard import TUTOR_ID_ROLE, DashboardViewModel
from viewmodels.tasks import SORT_ROLE

CARD_ORDER = (
    ("active_sessions", "Active sessions this hour"),
    ("sessions_today", "Sessions today"),
    ("avg_rating", "Average rating (7 days)"),
    ("utilization", "Tutor utilization (7 days)"),
    ("satisfaction", "Satisfaction (7 days)"),
    ("supply_demand", "Supply / demand (7 days)"),
)

NO_SCORES = (
    "No risk scores yet",
    "Tutor churn risk, the Critical list and performance tiers appear here after the "
    "first scoring run. Scoring runs in the background after each sync that brings new "
    "data, once the models are trained (System → Background jobs).",
)


class DashboardPage(QWidget):
    title = "Dashboard"

    def __init__(self, vm: DashboardViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self._theme: Theme | None = None
        self._steps: list[Any] = []

        self.as_of = QLabel("Loading the marketplace…")
        self.as_of.setObjectName("muted")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Recompute from the local database")
        self.refresh_button.clicked.connect(vm.load)
        head = QHBoxLayout()
        head.addWidget(self.as_of, 1)
        head.addWidget(self.refresh_button)

        self.cards: dict[str, MetricCard] = {}
        grid = QGridLayout()
        grid.setSpacing(12)
        for i, (key, title) in enumerate(CARD_ORDER):
            card = MetricCard(title)
            self.cards[key] = card
            grid.addWidget(card, i // 3, i % 3)
        for column in range(3):
            grid.setColumnStretch(column, 1)

        # Critical tutors
        self.critical_proxy = QSortFilterProxyModel(self)
        self.critical_proxy.setSourceModel(vm.critical)
        self.critical_proxy.setSortRole(SORT_ROLE)
        # The window's search box narrows the list by any column (name, reason ...).
        self.critical_proxy.setFilterKeyColumn(-1)
        self.critical_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.critical_table = QTableView()
        self.critical_table.setModel(self.critical_proxy)
        self.critical_table.setSortingEnabled(True)
        self.critical_table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
        self.critical_table.verticalHeader().hide()
        self.critical_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.critical_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.critical_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.critical_table.setWordWrap(False)
        self.critical_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.critical_table.setItemDelegateForColumn(0, RiskBadgeDelegate(self.critical_table))
        self._link = LinkDelegate("#2563eb", self.critical_table)
        self.critical_table.setItemDelegateForColumn(4, self._link)
        header = self.critical_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        default_column_widths(self.critical_table, (10, 20, 11, 0, 19))
        self.critical_table.clicked.connect(self._on_critical_clicked)
        self.critical_table.setMinimumHeight(220)
        self.critical_empty = EmptyState(*NO_SCORES)
        self.critical_stack = QStackedWidget()
        self.critical_stack.addWidget(self.critical_empty)
        self.critical_stack.addWidget(self.critical_table)
        self.critical_count = QLabel("")
        self.critical_count.setObjectName("muted")

        self.tiers = TierChart()
        self.tiers_empty = EmptyState("No tiers yet", "Performance tiers come with the scores.")
        self.tiers_stack = QStackedWidget()
        self.tiers_stack.addWidget(self.tiers_empty)
        self.tiers_stack.addWidget(self.tiers)

        self.heatmap = HeatmapChart()
        self.heatmap_empty = EmptyState(
            "No sessions synced yet", "Activity appears once the first sync has landed."
        )
        self.heatmap_stack = QStackedWidget()
        self.heatmap_stack.addWidget(self.heatmap_empty)
        self.heatmap_stack.addWidget(self.heatmap)
        self.heatmap_note = QLabel("")
        self.heatmap_note.setObjectName("muted")

        # Critical tutors get the full width (their reasons are sentences); tiers and
        # the activity heatmap share the row below.
        lower = QHBoxLayout()
        lower.setSpacing(12)
        lower.addWidget(panel("Performance tiers", self.tiers_stack), 1)
        lower.addWidget(
            panel(
                "Activity by weekday and hour",
                self.heatmap_stack,
                extra=self.heatmap_note,
            ),
            2,
        )

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 8, 0)
        lay.setSpacing(12)
        lay.addLayout(head)
        lay.addLayout(grid)
        lay.addWidget(panel("Critical tutors", self.critical_stack, extra=self.critical_count))
        lay.addLayout(lower)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(scroll, "Overview")
        self.analytics: Any = None
        if vm.analytics is not None:
            self.analytics = AnalyticsPage(vm.analytics)
            self.tabs.addTab(self.analytics, "Analytics")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.tabs)

        vm.sig_loaded.connect(self.show_dashboard)
        vm.sig_loading_changed.connect(self._on_loading)

    # ------------------------------------------------------------------ updates

    def _on_loading(self, loading: bool) -> None:
        self.refresh_button.setEnabled(not loading)
        if loading and self.vm.dashboard is None:
            self.as_of.setText("Computing the marketplace metrics…")

    def show_dashboard(self, dash: Any) -> None:
        """Applied in small steps, one per turn of the event loop (each card, then the
        panels): a card with its pyqtgraph sparkline costs a few milliseconds to update
        and paint, all of them at once several tens, and timers and input get in
        between the steps."""
        local = dash.as_of_local
        self.as_of.setText(
            f"Marketplace as of {local:%a %d %b, %H:%M} ({dash.timezone}) · computed in "
            f"{dash.seconds * 1000:.0f} ms from the local database"
        )
        steps: list[Any] = [
            (lambda c=card: self.cards[c.key].set_card(c))
            for card in dash.cards
            if card.key in self.cards and self.cards[card.key].card != card
        ]
        steps.append(lambda: self._show_panels(dash))
        restart = not self._steps
        self._steps = steps  # a newer dashboard replaces what is left of an older one
        if restart:
            QTimer.singleShot(0, self, self._next_step)

    def _next_step(self) -> None:
        if not self._steps:
            return
        self._steps.pop(0)()
        if self._steps:
            QTimer.singleShot(0, self, self._next_step)

    def _show_panels(self, dash: Any) -> None:
        if dash.tiers is None:
            self.critical_stack.setCurrentWidget(self.critical_empty)
            self.tiers_stack.setCurrentWidget(self.tiers_empty)
            self.critical_count.setText("")
        else:
            if dash.critical:
                self.critical_stack.setCurrentWidget(self.critical_table)
            else:
                self.critical_empty.set_text(
                    "No Critical or High risk tutors", "The newest scoring run flagged nobody."
                )
                self.critical_stack.setCurrentWidget(self.critical_empty)
            n_crit = sum(1 for c in dash.critical if c.risk_tier == "Critical")
            self.critical_count.setText(f"{n_crit} critical · {len(dash.critical) - n_crit} high")
            self.tiers.set_counts(dash.tiers)
            self.tiers_stack.setCurrentWidget(self.tiers)
        if dash.has_sessions:
            if self.heatmap.grid != dash.heatmap:
                self.heatmap.set_grid(dash.heatmap)
            self.heatmap_stack.setCurrentWidget(self.heatmap)
            peak = max(
                ((d, h) for d in range(7) for h in range(24)),
                key=lambda dh: dash.heatmap[dh[0]][dh[1]],
            )
            day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[peak[0]]
            self.heatmap_note.setText(
                f"last {dash.heatmap_days} days, {dash.timezone} · busiest {day} "
                f"{peak[1]:02d}:00 ({dash.heatmap[peak[0]][peak[1]]:,} sessions)"
            )
        else:
            self.heatmap_stack.setCurrentWidget(self.heatmap_empty)
            self.heatmap_note.setText("")

    def set_filter(self, text: str) -> None:
        """The window's search box: the Critical tutors list (Overview) by any column."""
        if text:
            self.tabs.setCurrentIndex(0)
        self.critical_proxy.setFilterFixedString(text.strip())

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        for card in self.cards.values():
            card.apply_theme(theme)
        self.heatmap.apply_theme(theme)
        self.tiers.apply_theme(theme)
        if self.analytics is not None:
            self.analytics.apply_theme(theme)
        self._link.color = theme.accent
        self.critical_table.viewport().update()

    def _on_critical_clicked(self, index: QModelIndex) -> None:
        if index.column() != 4:
            return
        tutor_id = index.data(TUTOR_ID_ROLE)
        if tutor_id is not None:
            self.vm.create_intervention(int(tutor_id))

    def create_for_selected(self) -> bool:
        rows = self.critical_table.selectionModel().selectedRows()
        if not rows:
            return False
        return self.vm.create_intervention(int(rows[0].data(TUTOR_ID_ROLE)))
