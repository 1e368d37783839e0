"""The rule registry: rules are plain objects registered by name.

A rule is a function from a :class:`~services.alerts.context.RuleContext` to the
:class:`~services.alerts.model.Finding` s for which its condition holds now, plus the
names of the settings it reads (stored with every alert it fires). The engine runs
whatever is registered, so later rules (supply shortage, metric anomalies from the
forecast work) register themselves without touching the engine::

    from services.alerts.registry import rule

    @rule("supply_shortage", "Supply shortage", "subject", settings=("...",))
    def supply_shortage(ctx):
        yield Finding(...)

and get imported by :func:`load_builtin_rules` (add the module to ``BUILTIN_MODULES``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.alerts.context import RuleContext
    from services.alerts.model import Finding
    from services.settings import AlertSettings

Evaluate = Callable[["RuleContext"], Iterable["Finding"]]
# Subject ids whose open alert of the rule should close as "expired" rather than
# "cleared": the condition stopped holding because the subject is gone for good, not
# because it got better.
Expired = Callable[["RuleContext"], Iterable[str]]

# Modules whose import registers the built-in rules.
BUILTIN_MODULES = (
    "services.alerts.tutor_rules",
    "services.alerts.first_session_rules",
    "services.alerts.customer_rules",
    "services.alerts.supply_rules",
    "services.alerts.anomaly_rules",
)


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    subject_type: str
    evaluate: Evaluate
    # Names of AlertSettings fields the rule reads; their values are stored with each alert.
    settings: tuple[str, ...] = ()
    description: str = ""
    expired: Expired | None = None

    def thresholds(self, alert_settings: AlertSettings) -> dict[str, Any]:
        return {name: getattr(alert_settings, name) for name in self.settings}


_RULES: dict[str, Rule] = {}


def register(r: Rule) -> Rule:
    """Add a rule; a second rule with the same name is a programming error."""
    existing = _RULES.get(r.name)
    if existing is not None and existing.evaluate is not r.evaluate:
        raise ValueError(f"an alert rule named {r.name!r} is already registered")
    _RULES[r.name] = r
    return r


def unregister(name: str) -> None:
    _RULES.pop(name, None)


def rule(
    name: str,
    title: str,
    subject_type: str,
    *,
    settings: tuple[str, ...] = (),
    description: str = "",
    expired: Expired | None = None,
) -> Callable[[Evaluate], Evaluate]:
    """Decorator form of :func:`register`."""

    def wrap(fn: Evaluate) -> Evaluate:
        register(
            Rule(
                name,
                title,
                subject_type,
                fn,
                settings,
                description or (fn.__doc__ or ""),
                expired,
            )
        )
        return fn

    return wrap


def load_builtin_rules() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def registered_rules() -> dict[str, Rule]:
    """Every registered rule by name (built-ins loaded first)."""
    load_builtin_rules()
    return dict(_RULES)


def rule_titles() -> dict[str, str]:
    return {name: r.title for name, r in registered_rules().items()}
