"""Preferences, and the first-run choice: the company's API or the built-in sandbox.

The token field is write-only: the dialog never shows the stored token (it is in the
OS keychain); typing a new one replaces it there on Save. "Test connection" calls
``/api/v1/health`` and one authenticated endpoint with what is typed.
"""

from __future__ import annotations

import contextlib
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTime
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTabWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from ui.theme import ThemeManager
from viewmodels.settings import SettingsViewModel

COMMON_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
)


def _time(text: str) -> QTime:
    hh, mm = (int(x) for x in text.split(":"))
    return QTime(hh, mm)


class SettingsDialog(QDialog):
    def __init__(
        self,
        vm: SettingsViewModel,
        theme: ThemeManager | None,
        ui_settings: QSettings | None,
        *,
        first_run: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.vm = vm
        self.theme = theme
        self.ui_settings = ui_settings
        self.first_run = first_run
        s = vm.settings
        self.setWindowTitle("Welcome to TutorMax Desktop" if first_run else "Preferences")
        self.setMinimumWidth(560)

        # --- data source
        self.sandbox_radio = QRadioButton("Explore with the built-in sandbox marketplace")
        self.api_radio = QRadioButton("Connect to the company's API")
        group = QButtonGroup(self)
        group.addButton(self.sandbox_radio)
        group.addButton(self.api_radio)
        self.url = QLineEdit(s.api_url or "")
        self.url.setPlaceholderText("https://ops.example.com")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(
            "leave empty to keep the token in the keychain" if s.api_url else "API token"
        )
        self.token.setToolTip("Stored in the operating system's keychain, never in a file.")
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self._test)
        self.test_result = QLabel("")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        api_form = QFormLayout()
        api_form.addRow("API base URL", self.url)
        api_form.addRow("API token", self.token)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        api_form.addRow("", test_row)
        self.api_box = QWidget()
        self.api_box.setLayout(api_form)
        sandbox_note = QLabel(
            "A simulated marketplace (tutors, customers, sessions, calls) served on this "
            'computer and synced like the real API. Its screens carry a "Sandbox data" badge.'
        )
        sandbox_note.setObjectName("muted")
        sandbox_note.setWordWrap(True)
        source = QGroupBox("Data source")
        sl = QVBoxLayout(source)
        sl.addWidget(self.api_radio)
        sl.addWidget(self.api_box)
        sl.addWidget(self.sandbox_radio)
        sl.addWidget(sandbox_note)
        # A team shares one PostgreSQL database (README "Team deployment").
        self.database = QLineEdit(s.database_url or "")
        self.database.setPlaceholderText("empty: this computer's own database")
        self.database.setToolTip(
            "A shared team database, e.g. postgresql+psycopg://you@db.example.com/tutormax "
            "(the password goes in ~/.pgpass or PGPASSWORD, never here)"
        )
        db_form = QFormLayout()
        db_form.addRow("Database URL", self.database)
        sl.addLayout(db_form)
        (self.sandbox_radio if s.uses_sandbox else self.api_radio).setChecked(True)
        self.api_radio.toggled.connect(self._update_enabled)

        # --- schedule, notifications, appearance
        self.schedule_on = QCheckBox("Run syncs and background jobs on their schedule")
        self.schedule_on.setChecked(s.schedule.enabled)
        self.nightly = QTimeEdit(_time(s.schedule.nightly_at))
        self.nightly.setDisplayFormat("HH:mm")
        self.target = QSpinBox()
        self.target.setRange(0, 100_000)
        self.target.setSpecialValueText("automatic (same weekday, last 4 weeks)")
        self.target.setValue(s.dashboard.daily_session_target or 0)
        self.desktop = QCheckBox("Show desktop notifications for Critical alerts and SLA breaches")
        self.desktop.setChecked(s.notifications.desktop)
        self.quiet = QCheckBox("Quiet hours")
        self.quiet.setChecked(s.notifications.quiet_hours)
        self.quiet_start = QTimeEdit(_time(s.notifications.quiet_start))
        self.quiet_end = QTimeEdit(_time(s.notifications.quiet_end))
        for w in (self.quiet_start, self.quiet_end):
            w.setDisplayFormat("HH:mm")
        self.zone = QComboBox()
        self.zone.setEditable(True)
        self.zone.addItem("System time zone", None)
        for z in COMMON_ZONES:
            self.zone.addItem(z, z)
        if s.notifications.timezone:
            i = self.zone.findData(s.notifications.timezone)
            if i < 0:
                self.zone.addItem(s.notifications.timezone, s.notifications.timezone)
                i = self.zone.count() - 1
            self.zone.setCurrentIndex(i)
        self.theme_choice = QComboBox()
        for mode, label in (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")):
            self.theme_choice.addItem(label, mode)
        if theme is not None:
            self.theme_choice.setCurrentIndex(max(0, self.theme_choice.findData(theme.mode)))

        quiet_row = QHBoxLayout()
        quiet_row.addWidget(self.quiet)
        quiet_row.addWidget(self.quiet_start)
        quiet_row.addWidget(QLabel("to"))
        quiet_row.addWidget(self.quiet_end)
        quiet_row.addStretch(1)
        self.more = more = QGroupBox("Schedule, notifications, appearance")
        form = QFormLayout(more)
        form.addRow(self.schedule_on)
        form.addRow("Nightly jobs at (local time)", self.nightly)
        form.addRow("Daily sessions target", self.target)
        form.addRow(self.desktop)
        form.addRow(quiet_row)
        form.addRow("Your time zone", self.zone)
        form.addRow("Theme", self.theme_choice)

        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #dc2626;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        if first_run:
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setText("Start")
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        if first_run:
            intro = QLabel(
                "<b>Where should TutorMax Desktop get its data?</b><br>You can change this "
                "later in Preferences."
            )
            intro.setWordWrap(True)
            lay.addWidget(intro)
        lay.addWidget(source)
        from ui.intervention_policy_editor import InterventionPolicyEditor

        # The intervention policy on its own tab keeps the dialog within a laptop screen.
        self.policy_editor = InterventionPolicyEditor(s.interventions)
        self.tabs = QTabWidget()
        self.tabs.addTab(more, "General")
        self.tabs.addTab(self.policy_editor, "Interventions")
        from ui.alert_thresholds_editor import AlertThresholdsEditor

        self.alerts_editor = AlertThresholdsEditor(
            s.alerts, rules=vm.alert_rules(), metrics=vm.anomaly_metrics()
        )
        self.tabs.addTab(self.alerts_editor, "Alerts")
        self.tabs.setVisible(not first_run)
        lay.addWidget(self.tabs)
        # First run asks one thing; the rest keeps its defaults (Preferences later).
        more.setVisible(not first_run)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)

        vm.sig_testing_changed.connect(self._on_testing)
        vm.sig_test_result.connect(self._on_test_result)
        vm.sig_saving_changed.connect(self._on_saving)
        vm.sig_saved.connect(self._on_saved)
        vm.sig_error.connect(self._on_error)
        self._update_enabled()

    # ------------------------------------------------------------------ behaviour

    def _update_enabled(self, *_: Any) -> None:
        self.api_box.setEnabled(self.api_radio.isChecked())

    def _test(self) -> None:
        self.test_result.setText("Testing…")
        self.vm.test_connection(self.url.text(), self.token.text())

    def _on_testing(self, testing: bool) -> None:
        self.test_button.setEnabled(not testing)

    def _on_test_result(self, ok: bool, message: str) -> None:
        color = "#15803d" if ok else "#dc2626"
        self.test_result.setStyleSheet(f"color: {color};")
        self.test_result.setText(message)

    def build_settings(self) -> Any:
        new = self.vm.settings.model_copy(deep=True)
        new.api_url = self.url.text().strip() or None if self.api_radio.isChecked() else None
        if self.api_radio.isChecked() and not new.api_url:
            raise ValueError("Enter the API's base URL, or choose the sandbox.")
        new.database_url = self.database.text().strip() or None
        new.schedule.enabled = self.schedule_on.isChecked()
        new.schedule.nightly_at = self.nightly.time().toString("HH:mm")
        new.dashboard.daily_session_target = self.target.value() or None
        new.notifications.desktop = self.desktop.isChecked()
        new.notifications.quiet_hours = self.quiet.isChecked()
        new.notifications.quiet_start = self.quiet_start.time().toString("HH:mm")
        new.notifications.quiet_end = self.quiet_end.time().toString("HH:mm")
        text = self.zone.currentText().strip()
        i = self.zone.findText(text)
        zone = self.zone.itemData(i) if i >= 0 else (text or None)  # typed by hand
        new.notifications.timezone = zone
        new.interventions = self.policy_editor.build()
        new.alerts = self.alerts_editor.build()
        return new

    def _save(self) -> None:
        try:
            new = self.build_settings()
        except ValueError as exc:
            self._on_error(str(exc))
            return
        token = self.token.text() if self.api_radio.isChecked() else None
        if self.api_radio.isChecked() and not token and new.api_url != self.vm.settings.api_url:
            self._on_error("A new API needs its token.")
            return
        self.error.setText("")
        self.vm.save(new, token)
        # The token now lives only in the queued keychain write.
        self.token.clear()

    def _on_saving(self, saving: bool) -> None:
        self.buttons.setEnabled(not saving)

    def _on_saved(self, _settings: Any) -> None:
        if self.theme is not None:
            mode = self.theme_choice.currentData()
            self.theme.set_mode(mode)
            if self.ui_settings is not None:
                self.ui_settings.setValue("theme", mode)
        self.accept()

    def _on_error(self, message: str) -> None:
        self.error.setText(message)

    def done(self, result: int) -> None:
        for sig, slot in (
            (self.vm.sig_testing_changed, self._on_testing),
            (self.vm.sig_test_result, self._on_test_result),
            (self.vm.sig_saving_changed, self._on_saving),
            (self.vm.sig_saved, self._on_saved),
            (self.vm.sig_error, self._on_error),
        ):
            with contextlib.suppress(RuntimeError, TypeError):
                sig.disconnect(slot)
        super().done(result)
