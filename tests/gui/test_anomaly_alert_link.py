"""An alert that names a view (a metric anomaly's facts["view"]) offers to open it; the
main window turns the request into navigation like a notification's target."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from ui.pages.alerts import AlertDetail


class _FakeAlertsVM(QObject):
    sig_detail = Signal(object)
    intervention_types: tuple[str, ...] = ()


def _alert(facts: dict[str, Any]) -> dict[str, Any]:
    return {
        "severity": "High", "title": "Bookings per hour 8 at Thu 19:00 UTC, below the usual",
        "created_at": "2026-11-20T12:00:00+00:00", "rule": "metric_anomaly", "priority": 55,
        "state": "active", "facts": facts, "thresholds": {}, "audit": [],
    }  # fmt: skip


def test_a_metric_alert_opens_the_view_it_names(qtbot):  # type: ignore[no-untyped-def]
    detail = AlertDetail(_FakeAlertsVM())
    qtbot.addWidget(detail)
    detail.show()
    detail.show_detail(_alert({"metric": "bookings", "view": "forecast", "current": 8.0}))
    assert detail.open_view_button.isVisible()
    assert detail.open_view_button.text() == "Open the Forecast page"
    with qtbot.waitSignal(detail.sig_open_target, timeout=1_000) as opened:
        detail.open_view_button.click()
    assert opened.args == ["forecast"]
    detail.show_detail(_alert({"tutor_id": 7}))  # a tutor alert names no view
    assert not detail.open_view_button.isVisible()
