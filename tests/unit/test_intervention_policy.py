"""The policy table: which types a tutor's situation calls for, SLAs from Settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.intervention_policy import (
    DEFAULT_POLICY,
    TRANSITIONS,
    Signal,
    policy_record,
    sla_clock,
    types_for,
)
from services.intervention_settings import InterventionSettings
from services.settings import Settings


def test_the_seven_types_have_domain_md_slas():
    hours = {t: p.sla_hours for t, p in DEFAULT_POLICY.items()}
    assert hours == {
        "automated_coaching": 24,
        "training_module": 72,
        "peer_mentoring": 168,
        "manager_coaching": 48,
        "performance_improvement_plan": 168,
        "retention_interview": 24,
        "recognition": 168,
    }
    assert TRANSITIONS["open"] == {"in_progress", "cancelled"}
    assert TRANSITIONS["completed"] == frozenset()


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        (Signal(1, risk_tier="Critical", p_churn_30d=0.72), ["manager_coaching"]),
        (
            Signal(1, risk_tier="Critical", p_churn_30d=0.9),
            ["retention_interview", "manager_coaching"],
        ),
        (
            Signal(1, risk_tier="Critical", p_churn_30d=0.75, failed_intervention=True),
            ["retention_interview", "manager_coaching"],
        ),
        (Signal(1, risk_tier="High", p_churn_30d=0.55, tenure_days=30), ["peer_mentoring"]),
        (Signal(1, risk_tier="High", p_churn_30d=0.55, tenure_days=300), []),
        (Signal(1, risk_tier="Medium", p_churn_30d=0.3), ["automated_coaching"]),
        (Signal(1, rules=frozenset({"tutor_low_ratings"})), ["training_module"]),
        (
            Signal(1, first_session_at=datetime(2026, 11, 21, tzinfo=UTC)),
            ["automated_coaching"],
        ),
        (
            Signal(1, performance_tier="Bronze", bronze_days=40, avg_rating=3.2),
            ["performance_improvement_plan"],
        ),
        (Signal(1, performance_tier="Bronze", bronze_days=10, avg_rating=3.2), []),
        (Signal(1, performance_tier="Platinum", previous_performance_tier="Gold"), ["recognition"]),
        (Signal(1, performance_tier="Gold", previous_performance_tier="Silver"), ["recognition"]),
        (Signal(1, performance_tier="Gold", previous_performance_tier="Gold"), []),
        (Signal(1, risk_tier="Low"), []),
    ],
)
def test_triggers_pick_the_types_of_the_policy_table(signal, expected):
    assert types_for(signal) == expected


def test_first_session_prep_is_due_before_the_session():
    created = datetime(2026, 11, 20, 12, tzinfo=UTC)
    session = created + timedelta(hours=5)
    policy = DEFAULT_POLICY["automated_coaching"]
    assert sla_clock(policy, created, session_at=session).due_at() == session
    assert sla_clock(policy, created).due_at() == created + timedelta(hours=24)


def test_settings_override_slas_and_keep_the_others():
    s = Settings.model_validate(
        {"interventions": {"types": {"manager_coaching": {"sla_hours": 12}}}}
    ).interventions
    assert s.policy("manager_coaching").sla_hours == 12
    assert s.policy("recognition").sla_hours == 168  # filled from the defaults
    assert s.team_calendar() is None  # around the clock unless asked


def test_business_hours_mode_gives_the_team_calendar_and_is_stored_with_the_policy():
    s = InterventionSettings.model_validate(
        {"business_hours_only": True, "calendar": {"timezone": "Europe/Berlin", "start": "8:30"}}
    )
    cal = s.team_calendar()
    assert cal is not None and cal.timezone == "Europe/Berlin"
    record = policy_record(s.policy("training_module"), cal)
    assert record["calendar"]["start"] == "08:30" and record["sla_hours"] == 72


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"types": {"hugs": {"sla_hours": 1}}}, "unknown intervention types: hugs"),
        ({"types": {"recognition": {"sla_hours": 0}}}, "greater than 0"),
        ({"types": {"recognition": {"sla_hours": 5, "holdout_share": 0.9}}}, "less than"),
        ({"calendar": {"timezone": "Nowhere/Land"}}, "unknown time zone"),
        ({"calendar": {"start": "18:00", "end": "09:00"}}, "end after it starts"),
        ({"calendar": {"start": "25:00"}}, "HH:MM"),
    ],
)
def test_bad_policy_settings_are_refused_with_the_field(raw, message):
    with pytest.raises(ValidationError, match=message):
        InterventionSettings.model_validate(raw)
