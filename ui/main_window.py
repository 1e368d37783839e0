"""The main window, first cut: the data path made visible.

Until the desktop shell lands (navigation, dashboard, alerts), the window shows what the
foundation does: where the data comes from, each resource's sync state and row counts,
and a sync that runs in the background with progress and cancel.
"""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from viewmodels.sync_status import SORT_ROLE, SyncViewModel


class MainWindow(QMainWindow):
    def __init__(self, vm: SyncViewModel, source_label: str, sandbox: bool) -> None:
        super().__init__()
        self.vm = vm
        self.setWindowTitle("TutorMax Desktop")
        self.resize(980, 560)

        title = QLabel("<h2>TutorMax Desktop</h2>")
        source = QLabel(f"Data source: {source_label}")
        source.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        header = QHBoxLayout()
        header.addWidget(title)
        if sandbox:
            badge = QLabel("Sandbox data")
            badge.setObjectName("sandboxBadge")
            badge.setStyleSheet(
                "QLabel#sandboxBadge { background: #b45309; color: white; border-radius: 4px;"
                " padding: 2px 8px; font-weight: 600; }"
            )
            header.addWidget(badge)
        header.addStretch(1)

        proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(vm.model)
        proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(proxy)
        self.table.setSortingEnabled(True)
        # Keep the sync order until the user clicks a header.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        proxy.sort(-1)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy indicator: a sync has no known total
        self.progress.setVisible(False)
        self.sync_button = QPushButton("Sync now")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.sync_button.clicked.connect(vm.sync_now)
        self.cancel_button.clicked.connect(vm.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.sync_button)
        buttons.addWidget(self.cancel_button)

        body = QVBoxLayout()
        body.addLayout(header)
        body.addWidget(source)
        body.addWidget(self.table, 1)
        body.addLayout(buttons)
        central = QWidget()
        central.setLayout(body)
        self.setCentralWidget(central)

        sync_action = QAction("Sync now", self)
        sync_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        sync_action.triggered.connect(vm.sync_now)
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.addAction(sync_action)
        self.addAction(quit_action)

        vm.sig_busy_changed.connect(self._on_busy)
        vm.sig_message.connect(self.statusBar().showMessage)
        vm.sig_error.connect(self._on_error)

    def _on_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.sync_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _on_error(self, message: str) -> None:
        QMessageBox.warning(self, "Sync failed", message)

    def closeEvent(self, event) -> None:
        self.vm.cancel()
        super().closeEvent(event)
