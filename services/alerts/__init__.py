"""Alerts: a rule engine run after every scoring run, and what people do with alerts.

- :mod:`~services.alerts.registry`: rules by name; new rules register themselves.
- :mod:`~services.alerts.tutor_rules`, :mod:`~services.alerts.first_session_rules`,
  :mod:`~services.alerts.customer_rules`: the rules of DOMAIN.md "Alerts" and "Customers".
- :mod:`~services.alerts.engine`: :func:`evaluate_alerts` reconciles the alerts table
  with what the rules find (one open alert per rule and subject, cooldowns, clearing).
- :mod:`~services.alerts.actions`: acknowledge/resolve/dismiss/snooze/assign, in bulk,
  audited.
- :mod:`~services.alerts.contacts`: a contact with a customer logged from their alert.
- :mod:`~services.alerts.queries`: the queue and one alert's detail.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module. Loaded on first use (PEP 562): the desktop imports the Alerts
# page's view models at start-up, and the engine and actions pull SQLAlchemy and the
# ORM models in, which must wait until after the window's first paint.
_EXPORTS = {
    "ActionResult": "actions",
    "AlertActionError": "actions",
    "acknowledge": "actions",
    "apply_action": "actions",
    "assign": "actions",
    "claim": "actions",
    "dismiss": "actions",
    "resolve": "actions",
    "snooze": "actions",
    "current_user": "model",
    "log_customer_contact": "contacts",
    "evaluate_alerts": "engine",
    "SEVERITIES": "model",
    "SEVERITY_RANK": "model",
    "STATES": "model",
    "EvaluationResult": "model",
    "Finding": "model",
    "FiredAlert": "model",
    "alert_key": "model",
    "alert_detail": "queries",
    "list_alerts": "queries",
    "Rule": "registry",
    "register": "registry",
    "registered_rules": "registry",
    "rule": "registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
