"""Preferences → Alerts: supply thresholds, per-metric anomaly thresholds and per-rule
cooldowns are edited, refused when inconsistent (with the message), saved to
settings.json, and the rules read what was saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from services.alerts.context import RuleContext, RunInfo
from services.alerts.engine import cooldown_for
from services.alerts.registry import registered_rules
from services.anomalies import METRICS, thresholds_for
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import ForecastPoint, ForecastRun
from services.settings import ANOMALY_METRICS, AlertSettings, load_settings
from tests.gui.conftest import press_save
from tutormax_desktop.paths import app_paths

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def dialog(settings_dialog):
    return settings_dialog


def test_the_settings_know_every_anomaly_metric():
    assert set(ANOMALY_METRICS) == set(METRICS)


def test_thresholds_are_edited_refused_saved_and_used(qtbot, dialog, tmp_path):
    editor = dialog.alerts_editor
    # Shown with the defaults of DOMAIN.md.
    assert editor.inputs["shortage_coverage"].value() == pytest.approx(0.80)
    assert editor.inputs["surplus_coverage"].value() == pytest.approx(1.30)
    assert editor.inputs["shortage_lead_hours"].value() == pytest.approx(12)
    assert set(editor.anomaly_inputs) == set(METRICS)
    assert editor.anomaly_inputs["bookings"]["z"].value() == pytest.approx(2.0)
    assert editor.anomaly_inputs["bookings"]["wow"].value() == 20  # percent
    assert editor.anomaly_inputs["bookings"]["drops"].value() == 3
    assert editor.cooldown_inputs["supply_shortage"].value() == 72
    assert editor.cooldown_inputs["customer_goal_completed"].value() == 24 * 90

    # A surplus threshold not above the shortage one is refused, both named, not saved.
    editor.inputs["shortage_coverage"].setValue(1.20)
    editor.inputs["surplus_coverage"].setValue(1.10)
    press_save(dialog)
    error = dialog.error.text()
    assert "surplus_coverage" in error and "must exceed" in error and "shortage_coverage" in error
    assert "pydantic" not in error  # the message, not the library's URL
    assert not app_paths().settings_file.exists()
    # Spin boxes hold values inside the model's bounds (no negative cooldown, z >= 0.5).
    editor.cooldown_inputs["supply_shortage"].setValue(-5)
    assert editor.cooldown_inputs["supply_shortage"].value() == 0
    editor.anomaly_inputs["logins"]["z"].setValue(0.1)
    assert editor.anomaly_inputs["logins"]["z"].value() == pytest.approx(0.5)

    editor.inputs["shortage_coverage"].setValue(0.90)
    editor.inputs["surplus_coverage"].setValue(1.50)
    editor.inputs["shortage_lead_hours"].setValue(6)
    editor.anomaly_inputs["logins"]["z"].setValue(2.0)  # back to the default
    editor.anomaly_inputs["bookings"]["z"].setValue(3.5)
    editor.anomaly_inputs["inbound_calls"]["wow"].setValue(35)
    editor.anomaly_inputs["no_show_rate"]["drops"].setValue(4)
    editor.cooldown_inputs["supply_shortage"].setValue(12)
    editor.inputs["cooldown_hours"].setValue(48)  # rules left alone follow it
    lapse = editor.inputs["customer_lapsed_window_days"]
    assert lapse.value() == 14
    assert "Customer at-risk flag lasts" in _row_label(editor, lapse)
    assert "stays flagged at risk" in lapse.toolTip()  # plain words, not just the key
    lapse.setValue(30)
    with qtbot.waitSignal(dialog.vm.sig_saved, timeout=10_000):
        press_save(dialog)

    saved = load_settings(app_paths().settings_file).alerts
    assert (saved.shortage_coverage, saved.surplus_coverage, saved.shortage_lead_hours) == (
        pytest.approx(0.90), pytest.approx(1.50), pytest.approx(6.0),
    )  # fmt: skip
    # Only what differs from the defaults is stored.
    assert saved.anomaly_thresholds == {
        "bookings": {"z": 3.5},
        "inbound_calls": {"wow": pytest.approx(0.35)},
        "no_show_rate": {"drops": 4},
    }
    assert saved.cooldown_hours == 48
    assert saved.customer_lapsed_window_days == 30
    assert saved.cooldown_hours_by_rule == {"supply_shortage": 12, "customer_goal_completed": 2160}

    # What the rules read: the engine's cooldowns, the anomaly checks' thresholds ...
    assert cooldown_for("supply_shortage", saved) == timedelta(hours=12)
    assert cooldown_for("no_login", saved) == timedelta(hours=48)
    th = thresholds_for(saved.anomaly_thresholds)
    assert (th["bookings"].z, th["inbound_calls"].wow, th["no_show_rate"].drops) == (3.5, 0.35, 4)
    assert th["logins"].z == 2.0
    # ... and the supply rule: 8.5 tutor-hours for 10 bookings 8 hours ahead is no
    # shortage by the defaults (85 % >= 80 %, and under 12 h ahead) but is by the saved
    # thresholds (below 90 %, at least 6 h ahead).
    engine = make_engine(f"sqlite:///{tmp_path / 'rules.db'}")
    migrate(engine)
    _forecast(engine, short_at=8, supply=8.5)
    assert _shortages(engine, AlertSettings()) == []
    found = _shortages(engine, saved)
    assert [(f.subject_id, f.facts["lead_hours"]) for f in found] == [("algebra", 8)]
    assert found[0].facts["coverage"] == pytest.approx(0.85)
    engine.dispose()


def _row_label(editor, field_box) -> str:
    form = field_box.parentWidget().layout()
    return form.labelForField(field_box).text()


def _forecast(engine, short_at: int, supply: float) -> None:
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(ForecastRun)
            .values(as_of=AS_OF, horizon_hours=48, model_version="test v1")
            .returning(ForecastRun.id)
        ).scalar_one()
        rows = [
            {"run_id": run_id, "series": series, "hour": AS_OF + timedelta(hours=h),
             "mean": 10.0, "lower": 5.0, "upper": 16.0,
             "supply": supply if (series, h) == ("algebra", short_at) else 10.0}
            for series in ("algebra", "french")
            for h in range(48)
        ]  # fmt: skip
        conn.execute(insert(ForecastPoint), rows)


def _shortages(engine, settings: AlertSettings) -> list:
    rule = registered_rules()["supply_shortage"]
    with engine.connect() as conn:
        return list(rule.evaluate(RuleContext(conn, RunInfo(1, AS_OF, {}), settings)))


def test_bad_values_in_settings_json_are_refused_with_the_field_named():
    with pytest.raises(ValueError, match="cooldown of supply_shortage must be from 0"):
        AlertSettings(cooldown_hours_by_rule={"supply_shortage": -1})
    with pytest.raises(ValueError, match=r"bookings.z .* must be from 0.5 to 10, not 0.1"):
        AlertSettings(anomaly_thresholds={"bookings": {"z": 0.1}})
    with pytest.raises(ValueError, match="unknown metric 'weather'"):
        AlertSettings(anomaly_thresholds={"weather": {"z": 3}})
    with pytest.raises(ValueError, match="unknown threshold 'sd'"):
        AlertSettings(anomaly_thresholds={"logins": {"sd": 3}})
    with pytest.raises(ValueError, match="whole number"):
        AlertSettings(anomaly_thresholds={"logins": {"drops": 2.5}})
    with pytest.raises(ValueError, match=r"surplus_coverage .* must exceed"):
        AlertSettings(shortage_coverage=1.2, surplus_coverage=1.1)
    with pytest.raises(ValueError, match="cooldown_hours"):
        AlertSettings(cooldown_hours=-1)
