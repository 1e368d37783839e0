""" "Create intervention" is prefilled from the alert's rule and severity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.alerts.suggest import NoSuggestion, suggest_intervention


def alert(rule: str, **kw):  # type: ignore[no-untyped-def]
    return {
        "rule": rule,
        "tutor_id": 5,
        "key": f"{rule}:tutor:5",
        "severity": "High",
        "title": "T",
        "next_step": "N",
        "facts": {},
    } | kw


@pytest.mark.parametrize(
    ("rule", "severity", "facts", "expected"),
    [
        ("churn_risk", "Critical", {"p_churn_30d": 0.74}, "manager_coaching"),
        ("churn_risk", "Critical", {"p_churn_30d": 0.9}, "retention_interview"),
        ("churn_risk", "High", {"p_churn_30d": 0.55}, "automated_coaching"),
        ("low_ratings", "High", {}, "training_module"),
        ("first_session_success_drop", "Medium", {}, "training_module"),
        ("no_sessions", "Critical", {}, "manager_coaching"),
        ("technical_issues", "Medium", {}, "automated_coaching"),
    ],
)
def test_type_follows_the_rule(rule, severity, facts, expected) -> None:  # type: ignore[no-untyped-def]
    s = suggest_intervention(alert(rule, severity=severity, facts=facts))
    assert s.intervention_type == expected
    assert s.source_alert_key == f"{rule}:tutor:5" and s.tutor_id == 5
    assert s.reason == "T. Next step: N"


def test_first_session_prep_is_due_before_the_session() -> None:
    start = datetime(2026, 11, 21, 8, tzinfo=UTC)
    s = suggest_intervention(
        alert("first_session_risk", facts={"start_time": start.isoformat(), "p_poor": 0.65})
    )
    assert s.intervention_type == "automated_coaching" and s.session_at == start


def test_customer_alerts_have_no_intervention() -> None:
    with pytest.raises(NoSuggestion, match="customer"):
        suggest_intervention(alert("customer_calls", tutor_id=None))
