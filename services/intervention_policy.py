"""The seven intervention types and their default policy (DOMAIN.md "Interventions").

Pure data and small pure functions: which type a tutor's situation calls for, and the
SLA each type gets. Settings override the SLA hours, auto-creation and the hold-out
share per type (``services.settings.InterventionSettings``); the policy actually used
is stored with each intervention, so a due time can be explained after Settings change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from services.api.contract import INTERVENTION_TYPES
from services.sla import AroundTheClock, Calendar, SlaClock

# States and the moves between them; anything else is refused.
TRANSITIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "open": frozenset({"in_progress", "cancelled"}),
        "in_progress": frozenset({"completed", "cancelled"}),
        "completed": frozenset(),
        "cancelled": frozenset(),
    }
)
OUTCOME_RESULTS = ("retained", "churned")
OUTCOME_AFTER = timedelta(days=30)


@dataclass(frozen=True)
class TypePolicy:
    intervention_type: str
    trigger: str  # in words, for Settings and the detail pane
    sla_hours: float
    priority: int  # default priority 0-100 of an auto-created one
    # A first-session prep is due before the session starts, whatever its SLA says.
    before_session: bool = False


DEFAULT_POLICY: Mapping[str, TypePolicy] = MappingProxyType(
    {
        p.intervention_type: p
        for p in (
            TypePolicy(
                "automated_coaching",
                "Medium risk; high-risk first session (prep e-mail)",
                24,
                40,
                before_session=True,
            ),
            TypePolicy("training_module", "falling ratings or first-session success", 72, 50),
            TypePolicy("peer_mentoring", "new tutor (< 60 days) at High risk", 168, 60),
            TypePolicy("manager_coaching", "Critical risk", 48, 80),
            TypePolicy(
                "performance_improvement_plan",
                "Bronze for 30+ days with rating below 3.5",
                168,
                55,
            ),
            TypePolicy(
                "retention_interview",
                "P(churn 30 d) >= 0.85, or Critical after a failed intervention",
                24,
                95,
            ),
            TypePolicy("recognition", "reached Platinum or rose a tier", 168, 20),
        )
    }
)
assert set(DEFAULT_POLICY) == set(INTERVENTION_TYPES)


def type_label(intervention_type: str) -> str:
    return intervention_type.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Signal:
    """What is known about a tutor when alerts fire: enough to pick the types.

    Built from alerts (their rule and facts) and the latest predictions; every field is
    optional so that a partial picture still leads to the types it supports.
    """

    tutor_id: int
    risk_tier: str | None = None
    p_churn_30d: float | None = None
    tenure_days: float | None = None
    rules: frozenset[str] = frozenset()  # alert rules open for the tutor
    performance_tier: str | None = None
    previous_performance_tier: str | None = None
    bronze_days: float | None = None
    avg_rating: float | None = None
    failed_intervention: bool = False
    first_session_at: Any = None  # datetime of an upcoming high-risk first session
    alert_key: str | None = None


TIER_RANK = {"Bronze": 0, "Silver": 1, "Gold": 2, "Platinum": 3}
# Alert rules (services/alerts) whose meaning maps onto a type's trigger. Matched on
# substrings so that "tutor_low_ratings" and "low_recent_ratings" both count.
RATING_RULE_WORDS = ("rating", "first_session_success", "poor_first_session")
FIRST_SESSION_RULE_WORDS = ("upcoming_first_session", "first_session_risk")


def _has_rule(rules: frozenset[str], words: tuple[str, ...]) -> bool:
    return any(w in r for r in rules for w in words)


def types_for(signal: Signal) -> list[str]:
    """The intervention types DOMAIN.md's triggers call for, most urgent first."""
    out: list[str] = []
    p = signal.p_churn_30d
    tier = signal.risk_tier
    if (p is not None and p >= 0.85) or (tier == "Critical" and signal.failed_intervention):
        out.append("retention_interview")
    if tier == "Critical" or _has_rule(signal.rules, ("churn_critical", "critical_churn")):
        out.append("manager_coaching")
    if tier == "High" and signal.tenure_days is not None and signal.tenure_days < 60:
        out.append("peer_mentoring")
    if (
        signal.performance_tier == "Bronze"
        and (signal.bronze_days or 0) >= 30
        and signal.avg_rating is not None
        and signal.avg_rating < 3.5
    ):
        out.append("performance_improvement_plan")
    if _has_rule(signal.rules, RATING_RULE_WORDS):
        out.append("training_module")
    if tier == "Medium" or (
        signal.first_session_at is not None or _has_rule(signal.rules, FIRST_SESSION_RULE_WORDS)
    ):
        out.append("automated_coaching")
    before = TIER_RANK.get(signal.previous_performance_tier or "", -1)
    now = TIER_RANK.get(signal.performance_tier or "", -1)
    if (now == TIER_RANK["Platinum"] and before != now) or (before >= 0 and now > before):
        out.append("recognition")
    return list(dict.fromkeys(out))


def sla_clock(
    policy: TypePolicy,
    created_at: Any,
    *,
    calendar: Calendar | None = None,
    session_at: Any = None,
) -> SlaClock:
    """The clock a new intervention of this type starts with."""
    if policy.before_session and session_at is not None:
        return SlaClock(created_at, deadline=session_at)
    return SlaClock(
        created_at,
        budget=timedelta(hours=policy.sla_hours),
        calendar=calendar or AroundTheClock(),
    )


def policy_record(policy: TypePolicy, calendar: Calendar | None) -> dict[str, Any]:
    """The policy used, as stored with the intervention."""
    record: dict[str, Any] = asdict(policy)
    if calendar is None or isinstance(calendar, AroundTheClock):
        record["calendar"] = None
    else:
        record["calendar"] = {
            "timezone": calendar.timezone,
            "workdays": sorted(calendar.workdays),
            "start": calendar.start.strftime("%H:%M"),
            "end": calendar.end.strftime("%H:%M"),
            "holidays": sorted(d.isoformat() for d in calendar.holidays),
        }
    return record
