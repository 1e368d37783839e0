"""Dialogs of the Interventions page: create (with validation messages), record the
outcome, and the 409 chooser that shows both versions side by side."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from viewmodels.intervention_conflict import ConflictViewModel

TYPES = (
    "automated_coaching",
    "training_module",
    "peer_mentoring",
    "manager_coaching",
    "performance_improvement_plan",
    "retention_interview",
    "recognition",
)


class CreateInterventionDialog(QDialog):
    """Tutor, type, assignee (default: the tutor's manager), priority, reason, notes.

    Checks what it can before sending (a tutor, a reason); the service checks the rest
    (deleted tutor, one open per tutor and type) and its message is shown in the dialog.
    """

    def __init__(
        self,
        tutors: list[tuple[int, str]],
        managers: list[tuple[int, str]],
        parent: QWidget | None = None,
        *,
        tutor_id: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New intervention")
        self.tutor = QComboBox()
        self.tutor.setEditable(True)  # type to find among hundreds
        self.tutor.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for tid, name in tutors:
            self.tutor.addItem(f"{name} (#{tid})", tid)
        if tutor_id is not None:
            self.tutor.setCurrentIndex(max(0, self.tutor.findData(tutor_id)))
        self.type = QComboBox()
        for t in TYPES:
            self.type.addItem(t.replace("_", " ").capitalize(), t)
        self.assignee = QComboBox()
        self.assignee.addItem("The tutor's manager", None)
        for mid, name in managers:
            self.assignee.addItem(name, mid)
        self.priority = QSpinBox()
        self.priority.setRange(0, 100)
        self.priority.setSpecialValueText("policy default")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Why now (required)")
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("Optional")
        self.notes.setFixedHeight(70)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828")
        form = QFormLayout()
        form.addRow("Tutor", self.tutor)
        form.addRow("Type", self.type)
        form.addRow("Assign to", self.assignee)
        form.addRow("Priority", self.priority)
        form.addRow("Reason", self.reason)
        form.addRow("Notes", self.notes)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self._check)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)

    def values(self) -> dict[str, Any]:
        tutor = self.tutor.currentData()
        if tutor is None:  # typed text that matches no entry
            idx = self.tutor.findText(self.tutor.currentText(), Qt.MatchFlag.MatchContains)
            tutor = self.tutor.itemData(idx) if idx >= 0 else None
        return {
            "tutor_id": tutor,
            "intervention_type": self.type.currentData(),
            "assigned_to_id": self.assignee.currentData(),
            "priority": self.priority.value() or None,
            "reason": self.reason.text().strip(),
            "notes": self.notes.toPlainText().strip() or None,
        }

    def problems(self) -> list[str]:
        v = self.values()
        out = []
        if v["tutor_id"] is None:
            out.append("Choose a tutor from the list.")
        if not v["reason"]:
            out.append("Say why: the reason is required.")
        return out

    def show_error(self, text: str) -> None:
        self.error.setText(text)

    def _check(self) -> None:
        problems = self.problems()
        if problems:
            self.show_error(" ".join(problems))
            return
        self.accept()


class OutcomeDialog(QDialog):
    """Retained or churned 30 days later, and the manager's note."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Outcome")
        self.retained = QRadioButton("Retained (still tutoring 30 days later)")
        self.churned = QRadioButton("Churned")
        self.retained.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.retained)
        group.addButton(self.churned)
        self.note = QPlainTextEdit()
        self.note.setPlaceholderText("Manager's note")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        for w in (self.retained, self.churned, self.note, buttons):
            lay.addWidget(w)

    def result_value(self) -> tuple[str, str]:
        return ("retained" if self.retained.isChecked() else "churned"), self.note.toPlainText()


class ConflictDialog(QDialog):
    """Both versions, field by field (differences in bold); keep mine or take theirs."""

    def __init__(self, vm: ConflictViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.setWindowTitle("Changed on the server meanwhile")
        intro = QLabel(
            f"<b>{vm.title}</b> while your change waited to upload. Your change is kept "
            "until you choose."
        )
        intro.setWordWrap(True)
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Field</b>"), 0, 0)
        grid.addWidget(QLabel("<b>Your version</b>"), 0, 1)
        grid.addWidget(QLabel(f"<b>Server version</b> (v{vm.server_version})"), 0, 2)
        self.cells: list[tuple[QLabel, QLabel]] = []
        for i, (name, mine, theirs, differs) in enumerate(vm.rows, start=1):
            grid.addWidget(QLabel(name), i, 0)
            cells = []
            for col, text in ((1, mine), (2, theirs)):
                label = QLabel(text or "–")
                label.setWordWrap(True)
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                if differs:
                    font = label.font()
                    font.setBold(True)
                    label.setFont(font)
                grid.addWidget(label, i, col)
                cells.append(label)
            self.cells.append((cells[0], cells[1]))
        self.keep_mine = QPushButton("Keep mine")
        self.take_theirs = QPushButton("Use the server's")
        self.keep_mine.clicked.connect(self._mine)
        self.take_theirs.clicked.connect(self._theirs)
        buttons = QDialogButtonBox()
        buttons.addButton(self.keep_mine, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.take_theirs, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(grid)
        lay.addWidget(buttons)

    def _mine(self) -> None:
        self.vm.keep_mine()
        self.accept()

    def _theirs(self) -> None:
        self.vm.take_theirs()
        self.accept()
