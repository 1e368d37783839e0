"""Preferences → Interventions: the policy table, business hours and escalation are
edited, validated and saved to the settings file the CLI reads too."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTime

from services.settings import load_settings
from tests.gui.conftest import press_save
from tutormax_desktop.paths import app_paths


@pytest.fixture
def dialog(settings_dialog):
    return settings_dialog


def test_the_policy_is_edited_and_saved(qtbot, dialog):
    editor = dialog.policy_editor
    assert editor.rows["manager_coaching"]["hours"].value() == 48
    editor.rows["manager_coaching"]["hours"].setValue(12)
    editor.rows["recognition"]["auto"].setChecked(False)
    editor.rows["training_module"]["holdout"].setValue(20)
    editor.business.setChecked(True)
    editor.zone.setCurrentText("Europe/Berlin")
    editor.start.setTime(QTime(8, 30))
    editor.days[4].setChecked(False)  # no Fridays
    editor.holidays.setText("2026-12-25, 2027-01-01")
    editor.contact.setText("ops-lead@example.com")
    editor.manager.setValue(7)
    with qtbot.waitSignal(dialog.vm.sig_saved, timeout=10_000):
        press_save(dialog)
    saved = load_settings(app_paths().settings_file).interventions
    assert saved.policy("manager_coaching").sla_hours == 12
    assert not saved.types["recognition"].auto_create
    assert saved.types["training_module"].holdout_share == pytest.approx(0.2)
    cal = saved.team_calendar()
    assert cal is not None and cal.timezone == "Europe/Berlin" and 4 not in cal.workdays
    assert cal.start.hour == 8 and cal.start.minute == 30 and len(cal.holidays) == 2
    assert saved.escalation_contact == "ops-lead@example.com" and saved.my_manager_id == 7


def test_a_bad_policy_is_explained_and_not_saved(qtbot, dialog):
    editor = dialog.policy_editor
    editor.holidays.setText("Christmas")
    press_save(dialog)
    assert "not a date" in dialog.error.text()
    editor.holidays.setText("")
    editor.zone.setCurrentText("Mars/Olympus")
    press_save(dialog)
    assert "unknown time zone" in dialog.error.text()
    for box in editor.days:
        box.setChecked(False)
    editor.zone.setCurrentText("UTC")
    press_save(dialog)
    assert "workdays" in dialog.error.text()
    assert not app_paths().settings_file.exists()


def test_alert_thresholds_are_edited_validated_and_saved(qtbot, dialog):
    from ui.alert_thresholds_editor import label_for

    editor = dialog.alerts_editor
    assert editor.inputs["churn_critical"].value() == pytest.approx(0.70)
    assert "anomaly_thresholds" not in editor.inputs  # not a single number: kept as is
    assert label_for("customer_idle_days") == "Customer idle (days)"
    # A Critical cut-off below the High one is refused with both named, nothing saved.
    editor.inputs["churn_critical"].setValue(0.40)
    press_save(dialog)
    assert "churn_critical" in dialog.error.text() and "churn_high" in dialog.error.text()
    assert not app_paths().settings_file.exists()
    # Spin boxes keep values inside the field's bounds (ge=1 for days).
    editor.inputs["no_sessions_days"].setValue(0)
    assert editor.inputs["no_sessions_days"].value() == 1
    editor.inputs["churn_critical"].setValue(0.80)
    editor.inputs["no_sessions_days"].setValue(21)
    editor.inputs["customer_calls"].setValue(3)
    with qtbot.waitSignal(dialog.vm.sig_saved, timeout=10_000):
        press_save(dialog)
    saved = load_settings(app_paths().settings_file).alerts
    assert saved.churn_critical == pytest.approx(0.80)
    assert saved.no_sessions_days == 21 and saved.customer_calls == 3
    assert saved.cooldown_hours_by_rule == {"customer_goal_completed": 24 * 90}
