"""Alerts: a rule engine run after every scoring run, and what people do with alerts.

- :mod:`~services.alerts.registry`: rules by name; new rules register themselves.
- :mod:`~services.alerts.tutor_rules`, :mod:`~services.alerts.first_session_rules`,
  :mod:`~services.alerts.customer_rules`: the rules of DOMAIN.md "Alerts" and "Customers".
- :mod:`~services.alerts.engine`: :func:`evaluate_alerts` reconciles the alerts table
  with what the rules find (one open alert per rule and subject, cooldowns, clearing).
- :mod:`~services.alerts.actions`: acknowledge/resolve/dismiss/snooze/assign, in bulk,
  audited.
- :mod:`~services.alerts.queries`: the queue and one alert's detail.
"""

from services.alerts.actions import (
    ActionResult,
    AlertActionError,
    acknowledge,
    apply_action,
    assign,
    claim,
    current_user,
    dismiss,
    resolve,
    snooze,
)
from services.alerts.engine import evaluate_alerts
from services.alerts.model import (
    SEVERITIES,
    SEVERITY_RANK,
    STATES,
    EvaluationResult,
    Finding,
    FiredAlert,
    alert_key,
)
from services.alerts.queries import alert_detail, list_alerts
from services.alerts.registry import Rule, register, registered_rules, rule

__all__ = [
    "SEVERITIES",
    "SEVERITY_RANK",
    "STATES",
    "ActionResult",
    "AlertActionError",
    "EvaluationResult",
    "Finding",
    "FiredAlert",
    "Rule",
    "acknowledge",
    "alert_detail",
    "alert_key",
    "apply_action",
    "assign",
    "claim",
    "current_user",
    "dismiss",
    "evaluate_alerts",
    "list_alerts",
    "register",
    "registered_rules",
    "resolve",
    "rule",
    "snooze",
]
