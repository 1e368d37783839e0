"""The intervention an alert calls for, to prefill "Create intervention" (DOMAIN.md
"Interventions": which type answers which trigger). The person creating it can change
the type; this is only the sensible default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Suggestion:
    tutor_id: int
    intervention_type: str
    reason: str
    source_alert_key: str
    # A first session the intervention must land before (its SLA ends there).
    session_at: datetime | None = None
    risk: float | None = None


# rule -> type, when severity does not change the answer
_BY_RULE = {
    "no_sessions": "manager_coaching",
    "no_login": "automated_coaching",
    "low_ratings": "training_module",
    "poor_first_sessions": "training_module",
    "first_session_success_drop": "training_module",
    "high_reschedules": "automated_coaching",
    "technical_issues": "automated_coaching",
    "first_session_risk": "automated_coaching",
}


class NoSuggestion(ValueError):
    """The alert is not about a tutor (interventions are per tutor)."""


def suggest_intervention(alert: dict[str, Any]) -> Suggestion:
    """From an alert as :func:`~services.alerts.queries.alert_detail` returns it."""
    tutor_id = alert.get("tutor_id")
    rule = alert.get("rule", "")
    related = alert.get("related_tutor")
    if tutor_id is None and related:
        # A customer's poor first session: the tutor who gave it gets the training
        # (the customer gets a contact: "Log contact").
        reason = f"{alert.get('title') or rule}, with {related['name']}"
        return Suggestion(
            tutor_id=int(related["tutor_id"]),
            intervention_type="training_module",
            reason=f"{reason}. A first session this customer rated poorly.",
            source_alert_key=alert.get("key", ""),
        )
    if tutor_id is None:
        raise NoSuggestion(
            f"This alert is about a {alert.get('subject_type') or 'customer'}, not a tutor; "
            "interventions are for tutors."
            + (
                " Use “Log contact…” to record a call or e-mail on the customer's history."
                if alert.get("customer_id") is not None
                else ""
            )
        )
    facts = alert.get("facts") or {}
    p30 = facts.get("p_churn_30d")
    if rule == "churn_risk":
        if p30 is not None and p30 >= 0.85:
            kind = "retention_interview"
        elif alert.get("severity") == "Critical":
            kind = "manager_coaching"
        else:
            kind = "automated_coaching"
    else:
        kind = _BY_RULE.get(rule, "manager_coaching")
    session_at = None
    if rule == "first_session_risk" and facts.get("start_time"):
        session_at = datetime.fromisoformat(facts["start_time"])
    reason = alert.get("title") or rule
    if alert.get("next_step"):
        reason = f"{reason}. Next step: {alert['next_step']}"
    return Suggestion(
        tutor_id=int(tutor_id),
        intervention_type=kind,
        reason=reason,
        source_alert_key=alert.get("key", ""),
        session_at=session_at,
        risk=p30 if isinstance(p30, int | float) else None,
    )
