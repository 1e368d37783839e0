"""The Interventions list, and the frames of pages whose issues come later."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.theme import LIGHT, Theme
from ui.widgets import EmptyState, default_column_widths
from viewmodels.interventions import SLA_ROLE, InterventionsViewModel

PLACEHOLDERS = {
    "alerts": (
        "Alerts",
        "The alert queue is coming with issue 5",
        "Every rule of the playbook (critical churn risk, no sessions in 14 days, poor "
        "first sessions, customer triggers, supply shortage, anomalies) will queue here "
        "with severity, priority, the facts that fired it and a suggested next step; "
        "acknowledge, snooze, resolve and assign, in bulk. Critical alerts also reach "
        "the tray and the inbox.",
    ),
    "tutors": (
        "Tutors",
        "Tutor list and profiles are coming with issue 6",
        "Every tutor with their churn risk curve (7, 14, 30, 90 days), performance tier, "
        "health, top factors in plain words, upcoming first sessions and intervention "
        "history.",
    ),
    "customers": (
        "Customers",
        "Customer health is coming with issue 8",
        "Health scores 0–100 with their five components, tiers from Critical to "
        "Thriving, first-session tracking, session velocity and inbound-call triggers, "
        "sortable and exportable.",
    ),
    "forecast": (
        "Forecast",
        "Demand forecast vs supply is coming with issue 7",
        "Bookings per hour per subject for the next 7 days with 95 % intervals against "
        "available tutor hours, shortage and surplus alerts 12+ hours ahead, and the "
        "accuracy of past forecasts.",
    ),
    "recommendations": (
        "Recommendations",
        "Recommendations are coming with issue 7",
        "Recruiting budget and campaign changes from the marketplace rules, each with "
        "its reason, expected impact, ROI estimate, priority and expiry; implement or "
        "dismiss, with the acceptance rate tracked.",
    ),
}


class PlaceholderPage(QWidget):
    """A real page frame with a clear "coming with …" empty state."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.title, headline, text = PLACEHOLDERS[key]
        self.empty = EmptyState(headline, text, icon_name=key)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.empty, 1)


SLA_COLORS = {"overdue": "red", "due_soon": "yellow", "on_track": "green"}


class SlaDelegate(QStyledItemDelegate):
    """SLA and Due columns in green / amber / red by the row's SLA state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme: Theme = LIGHT

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        state = index.data(SLA_ROLE)
        status = SLA_COLORS.get(state)
        if status:
            option.palette.setColor(
                option.palette.ColorRole.Text, QColor(self.theme.status_color(status))
            )
            option.font.setBold(state == "overdue")


class InterventionsPage(QWidget):
    title = "Interventions"

    def __init__(self, vm: InterventionsViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by tutor, type, status or reason")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(vm.set_filter)
        self.summary = QLabel("Loading…")
        self.summary.setObjectName("muted")
        note = QLabel(
            "Read-only for now: creating, assigning and completing interventions with live "
            "SLA timers come with issue 5. Local changes upload through the outbox."
        )
        note.setObjectName("muted")
        note.setWordWrap(True)
        self.table = QTableView()
        self.table.setModel(vm.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setWordWrap(False)
        default_column_widths(self.table, (9, 14, 18, 24, 11, 7, 13, 0))
        self.sla_delegate = SlaDelegate(self.table)
        self.table.setItemDelegateForColumn(0, self.sla_delegate)
        self.table.setItemDelegateForColumn(1, self.sla_delegate)
        self.empty = EmptyState(
            "No interventions yet",
            "Interventions synced from the API and the ones you create (Dashboard → "
            "Critical tutors → Create intervention) are listed here with their SLA.",
            icon_name="interventions",
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.summary)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(note)
        lay.addWidget(self.stack, 1)
        vm.sig_loaded.connect(self._on_loaded)
        # Countdowns move once a minute.
        self._timer = QTimer(self)
        self._timer.setInterval(60_000)
        self._timer.timeout.connect(vm.model.tick)

    def _on_loaded(self, n: int) -> None:
        self.stack.setCurrentIndex(1 if n else 0)
        rows = self.vm.model.rows()
        now = datetime.now().astimezone()
        overdue = sum(1 for r in rows if self.vm.model.sla(r) == "overdue")
        pending = sum(1 for r in rows if r.pending)
        self.summary.setText(
            f"{n:,} interventions · {overdue:,} overdue · {pending:,} waiting to upload"
            f" · {now:%H:%M}"
        )

    def showEvent(self, event) -> None:
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def apply_theme(self, theme: Theme) -> None:
        self.sla_delegate.theme = theme
        self.table.viewport().update()

    def set_filter(self, text: str) -> None:
        self.filter.setText(text)
