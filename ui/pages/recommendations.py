"""The Recommendations page: the feed of cards from the marketplace rules.

Filters (state, subject, priority) and the acceptance rate on top; each card shows its
action, the reason with the numbers, the expected impact, the ROI with its assumptions,
priority and expiry. An open card has Implement, and Dismiss beside a reason field (the
button stays disabled until a reason is typed: a dismissal needs one). Everything is
read and written by the view model off the GUI thread; the feed is a handful of cards a
day, so plain widgets in a scroll area, rebuilt when the list arrives.
"""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.widgets import EmptyState
from viewmodels.recommendations import STATE_FILTERS, RecommendationsViewModel

RULE_TITLES = {
    "recruit": "Raise recruiting budget",
    "cut_spend": "Cut supply spend",
    "priority": "Priority subject",
    "onboarding": "Pause onboarding for review",
}
PRIORITY_FILTERS: dict[str, int | None] = {
    "Any priority": None,
    "P1 only": 1,
    "P1-P2": 2,
    "P1-P3": 3,
    "P1-P4": 4,
}
MAX_CARDS = 200  # "All" over months of history: the newest/most urgent are enough


class RecommendationCard(QFrame):
    """One card; the page connects its buttons."""

    def __init__(self, card: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.card = card
        self.rec_id = int(card["id"])
        lay = QVBoxLayout(self)
        title = RULE_TITLES.get(card["rule"], card["rule"])
        expires = card["expires_local"]
        state = card["state"]
        head = (
            f"<b>P{card['priority']}</b> &middot; {escape(title)} &middot; "
            f"<b>{escape(card['subject_label'])}</b> &middot; {escape(state)}"
            f" &middot; expires {expires:%a %d %b %H:%M %Z}"
        )
        self.head = QLabel(head)
        self.action = QLabel(f"<b>{escape(card['action'])}</b>")
        self.reason = QLabel(f"Why: {escape(card['reason'])}")
        self.impact = QLabel(f"Expected impact: {escape(card['impact'])}")
        self.roi = QLabel(f"ROI estimate: {escape(card.get('roi_text', ''))}")
        for label in (self.head, self.action, self.reason, self.impact, self.roi):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lay.addWidget(label)
        self.roi.setObjectName("muted")
        self.implement_button = QPushButton("Implement")
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("Reason to dismiss (required)")
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setEnabled(False)
        self.reason_edit.textChanged.connect(
            lambda text: self.dismiss_button.setEnabled(bool(text.strip()))
        )
        if state == "open":
            row = QHBoxLayout()
            row.addWidget(self.implement_button)
            row.addStretch(1)
            row.addWidget(self.reason_edit, 2)
            row.addWidget(self.dismiss_button)
            lay.addLayout(row)
        else:
            who = card.get("decided_by") or ""
            note = card.get("decision_note") or ""
            self.decision = QLabel(escape(f"{state} {('by ' + who) if who else ''} {note}"))
            self.decision.setObjectName("muted")
            lay.addWidget(self.decision)


class RecommendationsPage(QWidget):
    def __init__(self, vm: RecommendationsViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.cards: list[RecommendationCard] = []
        self._search = ""

        self.state_box = QComboBox()
        self.state_box.addItems(list(STATE_FILTERS))
        self.subject_box = QComboBox()
        self.subject_box.addItem("All subjects", "")
        self.priority_box = QComboBox()
        for label, value in PRIORITY_FILTERS.items():
            self.priority_box.addItem(label, value)
        self.refresh_button = QPushButton("Refresh")
        self.acceptance = QLabel()
        self.message = QLabel()
        self.message.setObjectName("muted")
        top = QHBoxLayout()
        for w in (self.state_box, self.subject_box, self.priority_box):
            top.addWidget(w)
        top.addWidget(self.acceptance, 1)
        top.addWidget(self.refresh_button)

        self.feed = QWidget()
        self.feed_layout = QVBoxLayout(self.feed)
        self.feed_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.feed)
        self.empty = EmptyState(
            "No recommendations",
            "Recommendations come from the daily demand forecast (PRD rules: recruiting "
            "budget, spend, priority subjects, onboarding). Run the forecast, or widen "
            "the filters.",
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(scroll)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.message)
        lay.addWidget(self.stack, 1)

        self.state_box.currentTextChanged.connect(lambda s: self.vm.set_filters(state=s))
        self.subject_box.activated.connect(
            lambda _i: self.vm.set_filters(subject=self.subject_box.currentData() or "")
        )
        self.priority_box.activated.connect(
            lambda _i: self.vm.set_filters(max_priority=self.priority_box.currentData())
        )
        self.refresh_button.clicked.connect(self.vm.load)
        vm.sig_loaded.connect(self._on_loaded)
        vm.sig_message.connect(self.message.setText)
        vm.sig_error.connect(self.message.setText)

    def set_filter(self, text: str) -> None:
        """The window's search box: the cards whose subject, action or reason say it."""
        self._search = needle = text.strip().lower()
        for card in self.cards:
            d = card.card
            words = " ".join(
                str(d.get(k) or "") for k in ("subject", "subject_label", "action", "reason")
            ).lower()
            card.setVisible(not needle or needle in words)

    def _on_loaded(self) -> None:
        vm = self.vm
        self.acceptance.setText(vm.acceptance_text())
        current = self.subject_box.currentData() or ""
        self.subject_box.blockSignals(True)  # our own echo must not reload
        self.subject_box.clear()
        self.subject_box.addItem("All subjects", "")
        for key, name in vm.subjects:
            self.subject_box.addItem(name, key)
        self.subject_box.setCurrentIndex(max(0, self.subject_box.findData(current)))
        self.subject_box.blockSignals(False)
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards = []
        for data in vm.cards[:MAX_CARDS]:
            card = RecommendationCard(data)
            rid = card.rec_id
            card.implement_button.clicked.connect(lambda _c=False, r=rid: self.vm.implement(r))
            card.dismiss_button.clicked.connect(
                lambda _c=False, r=rid, c=card: self.vm.dismiss(r, c.reason_edit.text())
            )
            self.feed_layout.insertWidget(self.feed_layout.count() - 1, card)
            self.cards.append(card)
        self.stack.setCurrentIndex(1 if self.cards else 0)
        self.set_filter(self._search)
