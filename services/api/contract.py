"""The Rails API contract (`shared/design/RAILS_API.md`) as data.

One table of resources, fields, kinds and enum values that both sides read: the
sandbox server formats records with it, the sync client validates against it and the
local schema mirrors it. Keeping it in one place means a field added to the contract
is added everywhere or a test fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a field travels in JSON and is stored locally."""

    INT = "int"
    STR = "str"
    BOOL = "bool"
    TIMESTAMP = "timestamp"  # ISO 8601 UTC, Rails emits milliseconds and "Z"
    DATE = "date"  # "2026-11-20"
    DECIMAL = "decimal"  # JSON string with trailing zeros dropped, sometimes a number
    FLOAT = "float"
    STR_LIST = "str_list"  # JSON array of strings
    ENUM = "enum"  # string restricted to `choices`; unknown values are kept and flagged


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    nullable: bool = True
    choices: tuple[str, ...] = ()
    # Inclusive numeric bounds; a value outside them is an impossible value (reject).
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    fields: tuple[Field, ...]
    # Minutes between syncs (DOMAIN.md "Schedules").
    cadence_minutes: int = 60

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


# Every record carries these four, before the resource's own fields.
COMMON_FIELDS: tuple[Field, ...] = (
    Field("id", Kind.INT, nullable=False, minimum=1),
    Field("created_at", Kind.TIMESTAMP),
    Field("updated_at", Kind.TIMESTAMP, nullable=False),
    Field("deleted_at", Kind.TIMESTAMP),
)

TUTOR_STATUSES = ("active", "inactive", "churned")
CUSTOMER_STATUSES = ("active", "paused", "churned")
GOAL_STATUSES = ("none", "in_progress", "completed")
SESSION_STATUSES = ("scheduled", "completed", "cancelled", "no_show_tutor", "no_show_customer")
RESCHEDULED_BY = ("tutor", "customer")
BOOKING_STATUSES = ("requested", "confirmed", "cancelled", "fulfilled", "unfilled")
SENTIMENTS = ("positive", "neutral", "negative")
ENGAGEMENT_EVENT_TYPES = ("login", "message_reply", "profile_update", "availability_update")
INTERVENTION_TYPES = (
    "automated_coaching",
    "training_module",
    "manager_coaching",
    "peer_mentoring",
    "performance_improvement_plan",
    "retention_interview",
    "recognition",
)
INTERVENTION_STATUSES = ("open", "in_progress", "completed", "cancelled")


def _resource(name: str, cadence_minutes: int, *fields: Field) -> Resource:
    return Resource(name, COMMON_FIELDS + fields, cadence_minutes)


E, I, S, B, T, D, DEC, F, L = (  # noqa: E741 - a compact table reads better
    Kind.ENUM,
    Kind.INT,
    Kind.STR,
    Kind.BOOL,
    Kind.TIMESTAMP,
    Kind.DATE,
    Kind.DECIMAL,
    Kind.FLOAT,
    Kind.STR_LIST,
)

RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        _resource("managers", 60, Field("name", S), Field("email", S)),
        _resource(
            "tutors",
            60,
            Field("name", S),
            Field("email", S),
            Field("subjects", L),
            Field("status", E, choices=TUTOR_STATUSES),
            Field("hired_at", T),
            Field("churned_at", T),
            Field("manager_id", I, minimum=1),
            Field("hourly_rate", DEC, minimum=0),
            Field("certifications", L),
            Field("years_experience", I, minimum=0, maximum=80),
            Field("instant_book_enabled", B),
            Field("timezone", S),
        ),
        _resource(
            "customers",
            60,
            Field("name", S),
            Field("email", S),
            Field("signup_date", D),
            Field("acquisition_channel", S),
            Field("grade_level", S),
            Field("student_age", I, minimum=3, maximum=100),
            Field("goal_status", E, choices=GOAL_STATUSES),
            Field("status", E, choices=CUSTOMER_STATUSES),
            Field("churned_at", T),
        ),
        _resource(
            "sessions",
            5,
            Field("booking_id", I, minimum=1),
            Field("tutor_id", I, minimum=1),
            Field("customer_id", I, minimum=1),
            Field("subject", S),
            Field("start_time", T),
            Field("end_time", T),
            Field("status", E, choices=SESSION_STATUSES),
            Field("rating", I, minimum=1, maximum=5),
            Field("first_session", B),
            Field("rescheduled_by", E, choices=RESCHEDULED_BY),
            Field("reschedule_count", I, minimum=0),
            Field("technical_issue", B),
            Field("learning_objectives_met", DEC, minimum=0, maximum=1),
            Field("price", DEC, minimum=0),
            Field("tutor_earnings", DEC, minimum=0),
        ),
        _resource(
            "bookings",
            5,
            Field("customer_id", I, minimum=1),
            Field("tutor_id", I, minimum=1),
            Field("subject", S),
            Field("scheduled_time", T),
            Field("status", E, choices=BOOKING_STATUSES),
        ),
        _resource(
            "inbound_calls",
            15,
            Field("customer_id", I, minimum=1),
            Field("call_time", T),
            Field("duration_seconds", I, minimum=0),
            Field("reason_code", S),
            Field("sentiment", E, choices=SENTIMENTS),
        ),
        _resource(
            "engagement_events",
            60,
            Field("tutor_id", I, minimum=1),
            Field("event_type", E, choices=ENGAGEMENT_EVENT_TYPES),
            Field("occurred_at", T),
            Field("response_minutes", F, minimum=0),
        ),
        _resource(
            "availability_slots",
            60,
            Field("tutor_id", I, minimum=1),
            Field("subject", S),
            Field("starts_at", T),
            Field("ends_at", T),
        ),
        _resource(
            "interventions",
            60,
            Field("tutor_id", I, minimum=1),
            Field("intervention_type", E, choices=INTERVENTION_TYPES),
            Field("status", E, choices=INTERVENTION_STATUSES),
            Field("priority", I, minimum=0, maximum=100),
            Field("due_at", T),
            Field("assigned_to_id", I, minimum=1),
            Field("reason", S),
            Field("source_alert_key", S),
            Field("notes", S),
            Field("outcome", S),
            Field("idempotency_key", S),
            Field("lock_version", I, minimum=0),
        ),
    )
}

# Sync order matters only for foreign-key-like reading in the app (tutors before their
# sessions make the first screens complete sooner); the API itself has no ordering rule.
SYNC_ORDER: tuple[str, ...] = (
    "managers",
    "tutors",
    "customers",
    "availability_slots",
    "bookings",
    "sessions",
    "inbound_calls",
    "engagement_events",
    "interventions",
)
assert set(SYNC_ORDER) == set(RESOURCES)

MAX_PAGE_LIMIT = 1000
DEFAULT_PAGE_LIMIT = 500
