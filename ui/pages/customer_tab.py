"""What the Customers page's Velocity and Churn tabs share: a summary line over a grid
of chart panels that scrolls vertically, an empty state, a Refresh button, and small
exportable tables.

Widgets only; each tab's view model (``viewmodels.customer_tabs``) loads on a worker.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.widgets import EmptyState


def export_button(title: str, save: Any) -> QPushButton:
    """An "Export CSV…" button that asks for a file and calls ``save(path)``."""
    button = QPushButton("Export CSV…")
    button.setToolTip(f"Save the {title} table, as shown, to a CSV file")

    def ask() -> None:
        name = title.lower().replace(" ", "-") + ".csv"
        path, _ = QFileDialog.getSaveFileName(button, f"Export {title}", name, "CSV (*.csv)")
        if path:
            save(path)

    button.clicked.connect(ask)
    return button


def wrap_titles(body: QWidget) -> None:
    """Panel titles wrap instead of setting the page's minimum width: unwrapped, the
    long chart titles in the theme's bold font made a 1280-pixel window scroll
    sideways and cut the right-hand charts off."""
    for label in body.findChildren(QLabel, "panelTitle"):
        label.setWordWrap(True)


def scroll_area(body: QWidget) -> QScrollArea:
    """A vertical-only scroll area around ``body`` (the charts shrink to the width)."""
    wrap_titles(body)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(body)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return scroll


def small_table(model: Any, chars: tuple[int, ...]) -> QTableView:
    from ui.pages.customers import _table  # one table style for the whole page

    table = _table(model, chars)
    table.setMinimumHeight(130)
    return table


class CustomerTab(QWidget):
    """Base of the two tabs: subclasses build their panels into a grid, then call
    :meth:`_assemble`, and implement ``render``."""

    def __init__(self, vm: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.summary = QLabel("Loading…")
        self.summary.setObjectName("muted")
        self.summary.setWordWrap(True)

    def _assemble(self, grid: QGridLayout, empty: EmptyState) -> None:
        vm = self.vm
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 6, 0)
        bl.addWidget(self.summary)
        bl.addLayout(grid, 1)
        scroll = self.scroll = scroll_area(body)
        self.empty = empty
        self.stack = QStackedWidget()
        self.stack.addWidget(scroll)
        self.stack.addWidget(self.empty)
        head = QHBoxLayout()
        self.refresh = QPushButton("Refresh")
        self.refresh.clicked.connect(vm.load)
        head.addStretch(1)
        head.addWidget(self.refresh)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.stack, 1)

        vm.sig_loaded.connect(lambda _v: self.render())
        vm.sig_error.connect(self.summary.setText)
        vm.sig_loading_changed.connect(lambda busy: self.refresh.setEnabled(not busy))

    def render(self) -> None:
        raise NotImplementedError
