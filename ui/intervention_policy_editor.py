"""The Interventions part of Preferences: SLA hours, auto-creation and hold-out share
per type, the business-hours calendar, the escalation contact and "my manager id"."""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QTime
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from viewmodels.intervention_policy import parse_policy, policy_rows

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
)


class InterventionPolicyEditor(QGroupBox):
    def __init__(self, current: Any, parent: QWidget | None = None) -> None:
        super().__init__("Interventions", parent)
        self.rows: dict[str, dict[str, Any]] = {}
        grid = QGridLayout()
        for col, head in enumerate(("Type", "SLA (hours)", "Create automatically", "Hold out")):
            grid.addWidget(QLabel(f"<b>{head}</b>"), 0, col)
        for i, row in enumerate(policy_rows(current), start=1):
            label = QLabel(row["label"])
            label.setToolTip(
                f"Trigger: {row['trigger']}"
                + ("; a first-session prep is due before the session" if row["before_session"]
                   else "")
            )  # fmt: skip
            hours = QDoubleSpinBox()
            hours.setRange(0.5, 24 * 90)
            hours.setDecimals(1)
            hours.setValue(row["sla_hours"])
            auto = QCheckBox()
            auto.setChecked(row["auto_create"])
            holdout = QSpinBox()
            holdout.setRange(0, 50)
            holdout.setSuffix(" %")
            holdout.setValue(round(100 * row["holdout_share"]))
            holdout.setToolTip(
                "Share of would-be automatic interventions left out at random: an "
                "experiment that measures the type's effect without bias"
            )
            for col, w in enumerate((label, hours, auto, holdout)):
                grid.addWidget(w, i, col)
            self.rows[row["type"]] = {"hours": hours, "auto": auto, "holdout": holdout}
        cal = current.calendar
        self.business = QCheckBox("Count SLA time only in business hours")
        self.business.setChecked(current.business_hours_only)
        self.zone = QComboBox()
        self.zone.setEditable(True)
        for z in ZONES:
            self.zone.addItem(z)
        self.zone.setCurrentText(cal.timezone)
        self.start = QTimeEdit(QTime.fromString(cal.start, "HH:mm"))
        self.end = QTimeEdit(QTime.fromString(cal.end, "HH:mm"))
        for w in (self.start, self.end):
            w.setDisplayFormat("HH:mm")
        self.days = [QCheckBox(d) for d in DAYS]
        for i, box in enumerate(self.days):
            box.setChecked(i in cal.workdays)
        self.holidays = QLineEdit(", ".join(d.isoformat() for d in cal.holidays))
        self.holidays.setPlaceholderText("2026-12-25, 2027-01-01")
        self.contact = QLineEdit(current.escalation_contact or "")
        self.contact.setPlaceholderText("who hears about a breached SLA (name or e-mail)")
        self.manager = QSpinBox()
        self.manager.setRange(0, 10**9)
        self.manager.setSpecialValueText("not a manager")
        self.manager.setValue(current.my_manager_id or 0)
        hours_row = QHBoxLayout()
        hours_row.addWidget(self.start)
        hours_row.addWidget(QLabel("to"))
        hours_row.addWidget(self.end)
        hours_row.addWidget(self.zone, 1)
        days_row = QHBoxLayout()
        for box in self.days:
            days_row.addWidget(box)
        form = QFormLayout()
        form.addRow(self.business)
        form.addRow("Team hours", hours_row)
        form.addRow("Working days", days_row)
        form.addRow("Holidays", self.holidays)
        form.addRow("Escalate breaches to", self.contact)
        form.addRow("My manager id (for “Mine”)", self.manager)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addLayout(form)

    def values(self) -> dict[str, Any]:
        holidays = []
        for part in self.holidays.text().replace(";", ",").split(","):
            part = part.strip()
            if part:
                try:
                    holidays.append(date.fromisoformat(part).isoformat())
                except ValueError:
                    raise ValueError(f"Holiday {part!r} is not a date like 2026-12-25") from None
        return {
            "types": {
                t: {
                    "sla_hours": w["hours"].value(),
                    "auto_create": w["auto"].isChecked(),
                    "holdout_share": w["holdout"].value() / 100,
                }
                for t, w in self.rows.items()
            },
            "business_hours_only": self.business.isChecked(),
            "calendar": {
                "timezone": self.zone.currentText().strip(),
                "workdays": [i for i, box in enumerate(self.days) if box.isChecked()],
                "start": self.start.time().toString("HH:mm"),
                "end": self.end.time().toString("HH:mm"),
                "holidays": holidays,
            },
            "escalation_contact": self.contact.text().strip() or None,
            "my_manager_id": self.manager.value() or None,
        }

    def build(self) -> Any:
        """The edited policy, validated (ValueError names the field)."""
        return parse_policy(self.values())
