"""The Interventions page: the queue with live SLA countdowns (overdue first), filters,
the selected intervention's detail (SLA, notes, outcome, history) and its commands, the
create dialog, the 409 chooser, and the effectiveness chart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.effect_chart import EffectPanel
from ui.intervention_dialogs import (
    TYPES,
    ConflictDialog,
    CreateInterventionDialog,
    OutcomeDialog,
)
from ui.theme import LIGHT, Theme
from ui.widgets import EmptyState, default_column_widths
from viewmodels.intervention_conflict import ConflictViewModel
from viewmodels.interventions import (
    LOCAL_ID_ROLE,
    NEXT_STATUS,
    SLA_ROLE,
    SLA_TEXT,
    STATUSES,
    InterventionsViewModel,
)

SLA_COLORS = {"overdue": "red", "due_soon": "yellow", "on_track": "green"}
ACTION_TEXT = {"in_progress": "Start", "completed": "Complete", "cancelled": "Cancel"}


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
        elif state == "paused":
            option.font.setItalic(True)


class DetailPane(QWidget):
    """The selected intervention: SLA, fields, notes, outcome, history, commands."""

    def __init__(self, vm: InterventionsViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.row: Any = None
        self.theme: Theme = LIGHT
        self.title = QLabel("Select an intervention")
        self.title.setObjectName("pageTitle")
        self.title.setWordWrap(True)
        self.sla = QLabel("")
        self.fields = QLabel("")
        self.fields.setWordWrap(True)
        self.fields.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes = QPlainTextEdit()
        self.notes.setReadOnly(True)
        self.notes.setMaximumHeight(110)
        self.note_input = QLineEdit()
        self.note_input.setPlaceholderText("Add a note…")
        self.note_input.returnPressed.connect(self._add_note)
        self.history = QPlainTextEdit()
        self.history.setReadOnly(True)
        self.buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        for status in ("in_progress", "completed", "cancelled"):
            b = QPushButton(ACTION_TEXT[status])
            b.clicked.connect(lambda _c=False, s=status: self._status(s))
            self.buttons[status] = b
            actions.addWidget(b)
        self.pause = QPushButton("Pause SLA")
        self.pause.setToolTip("Waiting on the tutor: the SLA clock stops until resumed")
        self.pause.clicked.connect(self._pause)
        self.outcome = QPushButton("Outcome…")
        self.outcome.clicked.connect(self._outcome)
        self.conflict = QPushButton("Resolve conflict…")
        self.conflict.clicked.connect(self.open_conflict)
        self.discard = QPushButton("Discard")
        self.discard.setToolTip("The API refused to create it: drop it (kept in the history)")
        self.discard.clicked.connect(self._discard)
        for b in (self.pause, self.outcome, self.conflict, self.discard):
            actions.addWidget(b)
        actions.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.sla)
        lay.addWidget(self.fields)
        lay.addLayout(actions)
        lay.addWidget(QLabel("Notes"))
        lay.addWidget(self.notes)
        lay.addWidget(self.note_input)
        lay.addWidget(QLabel("History"))
        lay.addWidget(self.history, 1)
        self.show_detail(None)

    def show_detail(self, detail: dict[str, Any] | None) -> None:
        row = detail["row"] if detail else None
        self.row = row
        enabled = row is not None
        for w in (*self.buttons.values(), self.pause, self.outcome, self.note_input):
            w.setEnabled(enabled)
        if row is None:
            self.title.setText("Select an intervention")
            for w in (self.sla, self.fields):
                w.setText("")
            self.notes.setPlainText("")
            self.history.setPlainText("")
            self.conflict.setVisible(False)
            self.discard.setVisible(False)
            return
        self.title.setText(
            f"{row.intervention_type.replace('_', ' ').capitalize()} · {row.tutor_name}"
        )
        self.refresh_sla(datetime.now().astimezone())
        created = _local(row.created_at)
        policy = row.policy or {}
        hours = policy.get("sla_hours")
        rule = ""
        if hours:
            rule = f"{hours:g} h SLA" + (" (business hours)" if policy.get("calendar") else "")
        self.fields.setText(
            f"Status: <b>{row.status.replace('_', ' ')}</b> · assigned to "
            f"<b>{row.assignee}</b> · priority {row.priority if row.priority is not None else '–'}"
            f"<br>Created {created}{' automatically' if row.auto_created else ''}"
            f"{' · ' + rule if rule else ''}"
            f"<br>Reason: {row.reason or '–'}"
            + (f"<br>Escalated to {row.escalated_to}" if row.escalated_to else "")
            + (f"<br>Outcome: {row.outcome}" if row.outcome else "")
            + (
                f"<br>30 days later: <b>{row.outcome_result}</b>"
                if row.outcome_result and not row.outcome
                else ""
            )
            + (" · <i>waiting to upload</i>" if row.pending and not row.sync_error else "")
            + (
                f"<br><span style='color:#c62828'>The API refused it: {row.sync_error}</span>"
                if row.sync_error
                else ""
            )
        )
        for status, b in self.buttons.items():
            b.setEnabled(status in NEXT_STATUS.get(row.status, ()))
        finished = row.status in ("completed", "cancelled")
        self.pause.setEnabled(not finished and row.clock is not None)
        paused = row.clock is not None and row.clock.paused
        self.pause.setText("Resume SLA" if paused else "Pause SLA")
        self.outcome.setEnabled(row.status == "completed")
        self.conflict.setVisible(bool(row.conflict))
        self.discard.setVisible(bool(row.sync_error) and row.remote_id is None)
        self.notes.setPlainText(row.notes)
        self.history.setPlainText(
            "\n".join(
                f"{_local(h['at'])}  {h['actor'] or '?'}  {h['action'].split('.', 1)[-1]}"
                f"  {_short(h['details'])}"
                for h in (detail or {}).get("history", [])
            )
        )

    def refresh_sla(self, now: datetime) -> None:
        row = self.row
        if row is None:
            return
        from viewmodels.interventions import prepare_rows

        (p,) = prepare_rows([row], now)
        due = _local(p.due)
        # The queue's colours (SlaDelegate): green, amber in the last quarter, red late.
        status = SLA_COLORS.get(p.sla)
        color = self.theme.status_color(status) if status else self.theme.muted
        state = f'<b style="color:{color}">{SLA_TEXT.get(p.sla, p.sla)}</b>'
        left = f'<span style="color:{color}">{p.display[1]}</span>'
        if p.sla == "paused":
            state, left = f"<i>{state}</i>", f"<i>{left}</i>"
        self.sla.setText(f"SLA: {state} · {left} · due {due}")

    def _status(self, status: str) -> None:
        if self.row is not None:
            self.vm.set_status(self.row.local_id, status)

    def _add_note(self) -> None:
        text = self.note_input.text().strip()
        if self.row is not None and text:
            self.vm.add_note(self.row.local_id, text)
            self.note_input.clear()

    def _pause(self) -> None:
        if self.row is None:
            return
        if self.row.clock is not None and self.row.clock.paused:
            self.vm.resume(self.row.local_id)
        else:
            self.vm.pause(self.row.local_id)

    def _discard(self) -> None:
        if self.row is not None:
            self.vm.discard(self.row.local_id)

    def _outcome(self) -> None:
        if self.row is None:
            return
        dialog = OutcomeDialog(self)
        if dialog.exec():
            result, note = dialog.result_value()
            self.vm.record_outcome(self.row.local_id, result, note)

    def open_conflict(self) -> ConflictDialog | None:
        if self.row is None or not self.row.conflict:
            return None
        dialog = ConflictDialog(ConflictViewModel(self.vm, self.row), self)
        dialog.open()
        return dialog


def _local(at: datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M %Z") if at else "–"


def _short(details: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in details.items() if k not in ("reason",) and v is not None]
    text = ", ".join(parts)
    return text if len(text) < 90 else text[:87] + "…"


class InterventionsPage(QWidget):
    title = "Interventions"

    def __init__(self, vm: InterventionsViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by tutor, type, status, assignee or reason")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(vm.set_filter)
        self.type_filter = QComboBox()
        self.type_filter.addItem("All types", None)
        for t in TYPES:
            self.type_filter.addItem(t.replace("_", " ").capitalize(), t)
        self.state_filter = QComboBox()
        self.state_filter.addItem("All states", None)
        for s in STATUSES:
            self.state_filter.addItem(s.replace("_", " ").capitalize(), s)
        self.assignee_filter = QComboBox()
        self.assignee_filter.addItem("Anyone", None)
        self.mine = QCheckBox("Mine")
        for w in (self.type_filter, self.state_filter, self.assignee_filter):
            w.currentIndexChanged.connect(self._criteria)
        self.mine.toggled.connect(self._criteria)
        self.new_button = QPushButton("New intervention…")
        self.new_button.clicked.connect(self.open_create)
        self.summary = QLabel("Loading…")
        self.summary.setObjectName("muted")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.table = QTableView()
        self.table.setModel(vm.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setWordWrap(False)
        default_column_widths(self.table, (9, 17, 18, 24, 11, 7, 13, 16, 0))
        self.sla_delegate = SlaDelegate(self.table)
        self.table.setItemDelegateForColumn(0, self.sla_delegate)
        self.table.setItemDelegateForColumn(1, self.sla_delegate)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.detail = DetailPane(vm)
        self.empty = EmptyState(
            "No interventions yet",
            "Scoring creates them from alerts by the policy in Settings; synced ones from "
            "your team appear here too. New intervention… creates one by hand.",
            icon_name="interventions",
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        # Stretch factors only share space beyond the size hints, and the detail pane's
        # hint (its button row, its title) took half the page: start at 62/38.
        split.setSizes([620, 380])
        self.stack.addWidget(split)
        self.effects_panel = EffectPanel(vm.effects, measure_button=True)
        self.tabs = QTabWidget()
        queue = QWidget()
        q_lay = QVBoxLayout(queue)
        q_lay.setContentsMargins(0, 0, 0, 0)
        q_lay.addWidget(self.stack, 1)
        self.tabs.addTab(queue, "Queue")
        self.tabs.addTab(self.effects_panel, "Effectiveness")
        self._measured = False
        self.tabs.currentChanged.connect(self._tab_changed)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        for w in (self.type_filter, self.state_filter, self.assignee_filter, self.mine):
            top.addWidget(w)
        top.addWidget(self.new_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        status = QHBoxLayout()
        status.addWidget(self.summary)
        status.addWidget(self.message, 1)
        lay.addLayout(status)
        lay.addWidget(self.tabs, 1)
        self.create_dialog: CreateInterventionDialog | None = None
        vm.sig_loaded.connect(self._on_loaded)
        vm.sig_detail.connect(self.detail.show_detail)
        vm.sig_message.connect(self._say)
        vm.sig_refused.connect(self._refused)
        vm.sig_created.connect(self._created)
        # Countdowns move: every 30 s the SLA columns and the detail's clock repaint.
        self._timer = QTimer(self)
        self._timer.setInterval(30_000)
        self._timer.timeout.connect(self._tick)

    # ------------------------------------------------------------------ reactions

    def _on_loaded(self, n: int) -> None:
        self.stack.setCurrentIndex(1 if n else 0)
        rows = self.vm.model.prepared()
        now = datetime.now().astimezone()
        overdue = sum(1 for p in rows if p.sla == "overdue")
        pending = sum(1 for p in rows if p.row.pending)
        conflicts = sum(1 for p in rows if getattr(p.row, "conflict", None))
        self.summary.setText(
            f"{n:,} interventions · {overdue:,} overdue · {pending:,} waiting to upload"
            + (f" · {conflicts:,} conflicts" if conflicts else "")
            + f" · {now:%H:%M}"
        )
        self._fill_assignees(p.row for p in rows)

    def _fill_assignees(self, rows: Any) -> None:
        current = self.assignee_filter.currentData()
        seen: dict[int, str] = {}
        for r in rows:
            aid = getattr(r, "assigned_to_id", None)
            if aid is not None:
                seen.setdefault(aid, getattr(r, "assignee", str(aid)))
        if len(seen) + 1 == self.assignee_filter.count():
            return
        self.assignee_filter.blockSignals(True)
        self.assignee_filter.clear()
        self.assignee_filter.addItem("Anyone", None)
        for aid, name in sorted(seen.items(), key=lambda kv: kv[1]):
            self.assignee_filter.addItem(name, aid)
        self.assignee_filter.setCurrentIndex(max(0, self.assignee_filter.findData(current)))
        self.assignee_filter.blockSignals(False)

    def _criteria(self, *_args: Any) -> None:
        self.vm.set_criteria(
            intervention_type=self.type_filter.currentData(),
            status=self.state_filter.currentData(),
            assigned_to_id=self.assignee_filter.currentData(),
            mine=self.mine.isChecked(),
        )

    def _selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        if indexes:
            self.vm.select(int(indexes[0].data(LOCAL_ID_ROLE)))

    def _tick(self) -> None:
        self.vm.tick()
        self.detail.refresh_sla(datetime.now().astimezone())

    def _say(self, text: str) -> None:
        self.message.setStyleSheet("")
        self.message.setText(text)

    def _refused(self, text: str) -> None:
        if self.create_dialog is not None and self.create_dialog.isVisible():
            self.create_dialog.show_error(text)
            return
        self.message.setStyleSheet("color: #c62828")
        self.message.setText(text)

    def _created(self, _local_id: int) -> None:
        if self.create_dialog is not None:
            self.create_dialog.accept()
            self.create_dialog = None

    def _tab_changed(self, index: int) -> None:
        # Measuring takes seconds (risk at many past dates): only once asked for.
        if index == 1 and not self._measured:
            self._measured = True
            self.effects_panel.status.setText("Measuring…")
            self.vm.effects.load()

    # ------------------------------------------------------------------ commands

    def open_create(self, tutor_id: int | None = None) -> CreateInterventionDialog:
        """The create dialog; it stays open with the service's message if refused."""
        choices = self.vm.choices()
        dialog = CreateInterventionDialog(
            choices["tutors"], choices["managers"], self, tutor_id=tutor_id or None
        )
        dialog.buttons.accepted.disconnect()
        dialog.buttons.accepted.connect(lambda: self._submit_create(dialog))
        self.create_dialog = dialog
        dialog.open()
        return dialog

    def _submit_create(self, dialog: CreateInterventionDialog) -> None:
        problems = dialog.problems()
        if problems:
            dialog.show_error(" ".join(problems))
            return
        dialog.show_error("")
        self.vm.create(**dialog.values())

    # ------------------------------------------------------------------ shell hooks

    def showEvent(self, event) -> None:
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def apply_theme(self, theme: Theme) -> None:
        self.sla_delegate.theme = theme
        self.detail.theme = theme
        self.detail.refresh_sla(datetime.now().astimezone())
        self.effects_panel.apply_theme(theme)
        self.table.viewport().update()

    def set_filter(self, text: str) -> None:
        self.filter.setText(text)


__all__ = ["InterventionsPage"]
