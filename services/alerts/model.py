"""What a rule produces (a :class:`Finding`) and what an evaluation reports back.

Severities and their order, the identity of an alert (its ``key``) and the priority scale
live here so that rules, the engine, the actions and the screens agree on them.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("Critical", "High", "Medium", "Low")
# Higher is more severe; used to decide whether a severity "rose".
SEVERITY_RANK = {"Low": 1, "Medium": 2, "High": 3, "Critical": 4}

OPEN_STATES = ("active", "acknowledged")
CLOSED_STATES = ("resolved", "dismissed")
STATES = OPEN_STATES + CLOSED_STATES

SUBJECT_TYPES = ("tutor", "customer", "session", "subject", "metric")

# How a contact with a customer was made (services.alerts.contacts) -> how it reads.
CONTACT_CHANNELS = {"call": "Phone call", "email": "E-mail", "message": "Message"}


def current_user() -> str:
    """Who is acting on this desktop (the OS login): the audit trail's "who" and the
    owner of "mine"."""
    try:
        return getpass.getuser() or "desktop"
    except (OSError, KeyError):  # no login name (some containers, services)
        return "desktop"


def alert_key(rule: str, subject_type: str, subject_id: str | int) -> str:
    """The identity of an alert: one open alert per key (DOMAIN.md "Alerts")."""
    return f"{rule}:{subject_type}:{subject_id}"


def clamp_priority(value: float) -> int:
    """A priority 0-100 (NaN counts as 0)."""
    if value != value:  # NaN
        return 0
    return round(min(100.0, max(0.0, value)))


def scaled_priority(base: float, top: float, value: float, lo: float, hi: float) -> int:
    """``base`` at ``value == lo`` rising linearly to ``top`` at ``value >= hi``.

    Each rule has a priority band (e.g. churn risk 75-100); where in the band an alert
    lands says how far past its threshold the subject is.
    """
    if hi == lo:
        return clamp_priority(top)
    share = min(1.0, max(0.0, (value - lo) / (hi - lo)))
    return clamp_priority(base + (top - base) * share)


# Not frozen: a full-scale evaluation makes ~50,000 of each, and a frozen dataclass's
# __init__ pays an object.__setattr__ per field.
@dataclass(slots=True)
class Finding:
    """One subject for which a rule's condition holds now."""

    subject_type: str
    subject_id: str
    severity: str
    priority: int
    title: str
    next_step: str
    facts: dict[str, Any] = field(default_factory=dict)
    subject_name: str | None = None
    tutor_id: int | None = None
    customer_id: int | None = None
    manager_id: int | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}: {self.severity!r}")
        if not 0 <= self.priority <= 100:
            raise ValueError(f"priority must be 0-100: {self.priority!r}")
        if self.subject_type not in SUBJECT_TYPES:
            raise ValueError(f"subject_type must be one of {SUBJECT_TYPES}: {self.subject_type!r}")


@dataclass(slots=True)
class FiredAlert:
    """An alert that an evaluation opened or escalated: what the intervention policy,
    the notifications and ``tutormax score`` need, without another query."""

    alert_id: int
    key: str
    rule: str
    subject_type: str
    subject_id: str
    subject_name: str | None
    tutor_id: int | None
    customer_id: int | None
    manager_id: int | None
    severity: str
    priority: int
    title: str
    next_step: str
    facts: dict[str, Any]
    # "new" (first open alert of its key) or "escalated" (an open alert's severity rose)
    change: str
    previous_severity: str | None = None


@dataclass
class EvaluationResult:
    """What one evaluation did; ``new`` and ``escalated`` are full alerts, the rest counts."""

    run_id: int | None
    as_of: str | None
    new: list[FiredAlert] = field(default_factory=list)
    escalated: list[FiredAlert] = field(default_factory=list)
    updated: int = 0
    unchanged: int = 0
    cleared: int = 0
    suppressed: int = 0  # fired during a cooldown without a severity rise
    open_total: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)  # subjects firing per rule
    errors: dict[str, str] = field(default_factory=dict)  # rule -> what went wrong
    seconds: float = 0.0

    @property
    def fired(self) -> list[FiredAlert]:
        """New and escalated alerts, most urgent first (for the intervention policy)."""
        return sorted(
            self.new + self.escalated,
            key=lambda a: (-SEVERITY_RANK[a.severity], -a.priority, a.key),
        )

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "escalated": len(self.escalated),
            "updated": self.updated,
            "cleared": self.cleared,
            "suppressed": self.suppressed,
            "open": self.open_total,
        }

    def as_report(self, *, critical_limit: int = 200) -> dict[str, Any]:
        """JSON-ready: counts, per-rule counts, errors, and the Critical alerts that are
        new or escalated (what the tray announces), capped at ``critical_limit``."""
        critical = [a for a in self.fired if a.severity == "Critical"]
        return {
            "run_id": self.run_id,
            "as_of": self.as_of,
            **self.counts(),
            "by_rule": dict(self.by_rule),
            "errors": dict(self.errors),
            "summary": self.summary(),
            "seconds": round(self.seconds, 3),
            "critical": [
                {
                    "alert_id": a.alert_id,
                    "key": a.key,
                    "rule": a.rule,
                    "subject_name": a.subject_name,
                    "tutor_id": a.tutor_id,
                    "title": a.title,
                    "next_step": a.next_step,
                    "priority": a.priority,
                    "change": a.change,
                }
                for a in critical[:critical_limit]
            ],
            "critical_total": len(critical),
        }

    def summary(self) -> str:
        c = self.counts()
        critical = sum(1 for a in self.fired if a.severity == "Critical")
        text = (
            f"{c['new']:,} new alerts ({critical:,} Critical new or escalated), "
            f"{c['escalated']:,} escalated, {c['cleared']:,} cleared, {c['open']:,} open"
        )
        if self.errors:
            text += f"; {len(self.errors)} rules failed: {', '.join(sorted(self.errors))}"
        return text
