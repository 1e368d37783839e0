"""Help > About: version, folders, database and library versions, with Copy."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ui.theme import icon
from viewmodels.about import AboutViewModel


class AboutDialog(QDialog):
    def __init__(self, vm: AboutViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.setWindowTitle("About TutorMax Desktop")
        self.setWindowIcon(icon("app"))
        self.setMinimumWidth(560)
        title = QLabel(f"<b>TutorMax Desktop</b> {vm.version}")
        title.setObjectName("aboutTitle")
        blurb = QLabel(
            "Tutor churn, first-session risk, customer health and marketplace operations."
        )
        blurb.setWordWrap(True)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.values: dict[str, QLabel] = {}
        for label, value in vm.rows:
            shown = QLabel(value)
            # Paths are for copying into a file manager or a ticket.
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setWordWrap(True)
            form.addRow(f"{label}:", shown)
            self.values[label] = shown
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setToolTip("Copy these details for a support ticket")
        self.copy_button.clicked.connect(vm.copy)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(blurb)
        layout.addLayout(form)
        layout.addWidget(buttons)
