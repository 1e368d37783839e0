"""The input of every model: the marketplace as pandas frames.

services/ loads these from the local database (``services.ml_data``); tests build them
from the sandbox world or by hand. Column names are the API's field names. Timestamps
are ``datetime64[us, UTC]``; dates (``signup_date``) too, at midnight UTC. Soft-deleted
records are not included. Lists (``subjects``, ``certifications``) are Python lists of
str (object column).

Only the *current* version of each record exists (the API and the local database keep no
history), so point-in-time features must read time from event columns (a session's
``start_time``/``end_time``, an event's ``occurred_at``), never from mutable state such as
a customer's ``goal_status`` when computing features for a past date.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import pandas as pd

# frame name -> columns it must have (others are allowed and ignored)
COLUMNS: dict[str, tuple[str, ...]] = {
    "tutors": (
        "id", "created_at", "hired_at", "churned_at", "status", "manager_id", "hourly_rate",
        "certifications", "years_experience", "instant_book_enabled", "subjects", "timezone",
    ),
    "sessions": (
        "id", "tutor_id", "customer_id", "booking_id", "subject", "start_time", "end_time",
        "status", "rating", "first_session", "rescheduled_by", "reschedule_count",
        "technical_issue", "learning_objectives_met", "price", "tutor_earnings", "created_at",
        "updated_at",
    ),
    "engagement": ("id", "tutor_id", "event_type", "occurred_at", "response_minutes"),
    "availability": ("id", "tutor_id", "subject", "starts_at", "ends_at", "created_at"),
    "customers": (
        "id", "created_at", "signup_date", "acquisition_channel", "grade_level", "student_age",
        "goal_status", "status", "churned_at",
    ),
    "calls": ("id", "customer_id", "call_time", "duration_seconds", "reason_code", "sentiment"),
    "bookings": (
        "id", "customer_id", "tutor_id", "subject", "scheduled_time", "status", "created_at",
    ),
    "interventions": (
        "id", "tutor_id", "intervention_type", "status", "created_at", "updated_at", "due_at",
    ),
}  # fmt: skip

TIMESTAMP_COLUMNS: frozenset[str] = frozenset(
    {
        "created_at", "updated_at", "hired_at", "churned_at", "start_time", "end_time",
        "occurred_at", "starts_at", "ends_at", "signup_date", "call_time", "scheduled_time",
        "due_at",
    }
)  # fmt: skip


class FramesError(ValueError):
    """A frame is missing a column or has the wrong type; the message says which."""


@dataclass
class MarketFrames:
    tutors: pd.DataFrame
    sessions: pd.DataFrame
    engagement: pd.DataFrame
    availability: pd.DataFrame
    customers: pd.DataFrame
    calls: pd.DataFrame
    bookings: pd.DataFrame
    interventions: pd.DataFrame
    # The newest instant the data covers (the last sync / the sandbox clock). Labels are
    # censored here: nothing is known about churn after it.
    observed_until: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))

    def validate(self) -> MarketFrames:
        """Raise FramesError unless every frame has its columns with UTC timestamps."""
        for f in fields(self):
            if f.name == "observed_until":
                continue
            frame = getattr(self, f.name)
            if not isinstance(frame, pd.DataFrame):
                raise FramesError(f"{f.name}: expected a DataFrame, got {type(frame).__name__}")
            missing = [c for c in COLUMNS[f.name] if c not in frame.columns]
            if missing:
                raise FramesError(f"{f.name}: missing columns {missing}")
            for col in COLUMNS[f.name]:
                if col in TIMESTAMP_COLUMNS:
                    dtype = frame[col].dtype
                    if not isinstance(dtype, pd.DatetimeTZDtype) or str(dtype.tz) != "UTC":
                        raise FramesError(f"{f.name}.{col}: expected UTC timestamps, got {dtype}")
        if self.observed_until.tzinfo is None:
            raise FramesError("observed_until must be a UTC timestamp")
        return self

    @classmethod
    def empty(cls, observed_until: pd.Timestamp | None = None) -> MarketFrames:
        """Every frame with its columns and no rows (an empty database)."""
        frames = {}
        for name, cols in COLUMNS.items():
            frames[name] = pd.DataFrame(
                {
                    c: pd.Series(dtype="datetime64[us, UTC]")
                    if c in TIMESTAMP_COLUMNS
                    else pd.Series(dtype="object")
                    for c in cols
                }
            )
        return cls(**frames, observed_until=observed_until or pd.Timestamp.now(tz="UTC"))
