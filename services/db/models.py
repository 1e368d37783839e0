"""The local database schema: one table per API resource, plus the app's own tables.

Resource tables mirror ``services.api.contract.RESOURCES`` column for column, in the
contract's order (``id, created_at, updated_at, deleted_at``, then the resource's own
fields), so a raw writer can rely on ``Resource.field_names`` naming the columns. A
test fails when the contract and these classes drift apart.

Deliberately absent: foreign keys between resource tables (records arrive in any order,
a session may arrive before its tutor) and database enums (an unknown value from the API
is kept raw and flagged in ``flagged_values``). Every index costs sync throughput, so
there are only the ones the app queries by.

New tables (predictions, alerts, forecasts, ...) subclass the same ``Base`` and come
with a new Alembic revision; the naming convention below gives every constraint a
stable name, which Alembic's batch mode on SQLite needs to alter or drop it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.db.types import BigIntId, EnumText, JSONValue, Money, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        int: Integer(),
        str: String(),
        bool: Boolean(),
        float: Float(),
        datetime: UTCDateTime(),
        date: Date(),
        list[str]: JSONValue,
        dict[str, Any]: JSONValue,
    }


# Column shapes used across the resource tables.
ApiRef = Annotated[int | None, mapped_column(BigInteger)]  # another resource's id
EnumValue = Annotated[str | None, mapped_column(EnumText)]
DecimalValue = Annotated[float | None, mapped_column(Money)]
LongText = Annotated[str | None, mapped_column(Text)]
PkId = Annotated[int, mapped_column(BigIntId, primary_key=True)]  # app-assigned serial


class ResourceRow:
    """The four columns every API record carries; sort_order keeps them first."""

    # autoincrement=False: the API assigns ids; PostgreSQL gets a plain BIGINT, not a
    # BIGSERIAL whose sequence would be meaningless.
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=False, sort_order=-4)
    created_at: Mapped[datetime | None] = mapped_column(sort_order=-3)
    updated_at: Mapped[datetime] = mapped_column(sort_order=-2)
    # Soft deletes arrive from the API and are kept as tombstones.
    deleted_at: Mapped[datetime | None] = mapped_column(sort_order=-1)


# --- resource tables -------------------------------------------------------------


class Manager(ResourceRow, Base):
    __tablename__ = "managers"

    name: Mapped[str | None]
    email: Mapped[str | None]


class Tutor(ResourceRow, Base):
    __tablename__ = "tutors"
    __table_args__ = (Index(None, "manager_id"),)

    name: Mapped[str | None]
    email: Mapped[str | None]
    subjects: Mapped[list[str] | None]
    status: Mapped[EnumValue]
    hired_at: Mapped[datetime | None]
    churned_at: Mapped[datetime | None]
    manager_id: Mapped[ApiRef]
    hourly_rate: Mapped[DecimalValue]
    certifications: Mapped[list[str] | None]
    years_experience: Mapped[int | None]
    instant_book_enabled: Mapped[bool | None]
    timezone: Mapped[str | None]


class Customer(ResourceRow, Base):
    __tablename__ = "customers"
    __table_args__ = (Index(None, "status"),)

    name: Mapped[str | None]
    email: Mapped[str | None]
    signup_date: Mapped[date | None]
    acquisition_channel: Mapped[str | None]
    grade_level: Mapped[str | None]
    student_age: Mapped[int | None]
    goal_status: Mapped[EnumValue]
    status: Mapped[EnumValue]
    churned_at: Mapped[datetime | None]


class TutoringSession(ResourceRow, Base):
    """A tutoring session (named so it never shadows sqlalchemy.orm.Session)."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index(None, "tutor_id", "start_time"),
        Index(None, "customer_id", "start_time"),
        Index(None, "start_time"),
    )

    booking_id: Mapped[ApiRef]
    tutor_id: Mapped[ApiRef]
    customer_id: Mapped[ApiRef]
    subject: Mapped[str | None]
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    status: Mapped[EnumValue]
    rating: Mapped[int | None]
    first_session: Mapped[bool | None]
    rescheduled_by: Mapped[EnumValue]
    reschedule_count: Mapped[int | None]
    technical_issue: Mapped[bool | None]
    learning_objectives_met: Mapped[DecimalValue]
    price: Mapped[DecimalValue]
    tutor_earnings: Mapped[DecimalValue]


class Booking(ResourceRow, Base):
    __tablename__ = "bookings"
    __table_args__ = (Index(None, "scheduled_time"), Index(None, "customer_id"))

    customer_id: Mapped[ApiRef]
    tutor_id: Mapped[ApiRef]
    subject: Mapped[str | None]
    scheduled_time: Mapped[datetime | None]
    status: Mapped[EnumValue]


class InboundCall(ResourceRow, Base):
    __tablename__ = "inbound_calls"
    __table_args__ = (Index(None, "customer_id", "call_time"),)

    customer_id: Mapped[ApiRef]
    call_time: Mapped[datetime | None]
    duration_seconds: Mapped[int | None]
    reason_code: Mapped[str | None]
    sentiment: Mapped[EnumValue]


class EngagementEvent(ResourceRow, Base):
    __tablename__ = "engagement_events"
    __table_args__ = (Index(None, "tutor_id", "occurred_at"),)

    tutor_id: Mapped[ApiRef]
    event_type: Mapped[EnumValue]
    occurred_at: Mapped[datetime | None]
    response_minutes: Mapped[float | None]


class AvailabilitySlot(ResourceRow, Base):
    __tablename__ = "availability_slots"
    __table_args__ = (Index(None, "tutor_id", "starts_at"), Index(None, "starts_at"))

    tutor_id: Mapped[ApiRef]
    subject: Mapped[str | None]
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]


class Intervention(Base):
    """Interventions: synced like every resource, but also written by the app.

    A row exists locally before the server knows it, so the primary key is a local one
    and the server's ``id`` stays NULL until the POST is accepted. ``idempotency_key``
    identifies a record on both sides (the sync upserts ON CONFLICT on it); a server
    record that arrives without a key needs one made up by the sync (NOT NULL here).
    """

    __tablename__ = "interventions"

    local_id: Mapped[PkId]
    id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # Server timestamps: NULL until the server has the record.
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    tutor_id: Mapped[ApiRef]
    intervention_type: Mapped[EnumValue]
    status: Mapped[EnumValue]
    priority: Mapped[int | None]
    due_at: Mapped[datetime | None]
    assigned_to_id: Mapped[ApiRef]
    reason: Mapped[LongText]
    source_alert_key: Mapped[str | None]
    notes: Mapped[LongText]
    outcome: Mapped[LongText]
    idempotency_key: Mapped[str] = mapped_column(unique=True)
    lock_version: Mapped[int | None]
    # Local state.
    pending: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The server's current record after a PATCH got 409; the user's change stays in the
    # columns above until the conflict is resolved.
    conflict: Mapped[dict[str, Any] | None]
    local_updated_at: Mapped[datetime | None]


# --- app tables ------------------------------------------------------------------


class SyncState(Base):
    """One row per resource: the keyset cursor and how the last attempt went."""

    __tablename__ = "sync_state"

    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor_updated_at: Mapped[datetime | None]
    cursor_id: Mapped[int | None] = mapped_column(BigInteger)
    # True: cursor_updated_at is a stored instant (microseconds known). False: it is a
    # millisecond value as emitted, i.e. only a lower bound of the stored instant.
    cursor_exact: Mapped[bool] = mapped_column(default=False, server_default=false())
    server_time_precision: Mapped[int | None]  # 3 or 6 fraction digits, as observed
    status: Mapped[str] = mapped_column(String(16), default="idle", server_default="idle")
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[LongText]
    last_run_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("sync_runs.id", ondelete="SET NULL")
    )


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[PkId]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    trigger: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    # {resource: {fetched, upserted, deleted, rejected, pages, seconds}}
    details: Mapped[dict[str, Any] | None]
    error: Mapped[LongText]


class Reject(Base):
    """An API record that failed validation: kept, counted, shown, never dropped."""

    __tablename__ = "rejects"
    # The same bad record served on every sync stays one row with a count.
    __table_args__ = (UniqueConstraint("resource", "raw_sha1"),)

    id: Mapped[PkId]
    resource: Mapped[str] = mapped_column(String(64))
    # Text, nullable: a missing or garbled id is one of the reasons to reject.
    record_id: Mapped[str | None]
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    raw_sha1: Mapped[str] = mapped_column(String(40))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_count: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    sync_run_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("sync_runs.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None]


class FlaggedValue(Base):
    """A value kept as served but outside the contract (e.g. an unknown enum value)."""

    __tablename__ = "flagged_values"
    __table_args__ = (UniqueConstraint("resource", "record_id", "field"),)

    id: Mapped[PkId]
    resource: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[LongText]
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxItem(Base):
    """A local write waiting to reach the API, with its own idempotency key."""

    __tablename__ = "outbox"
    # The drain loop reads "pending rows in order": status first, then insertion order.
    __table_args__ = (Index(None, "status", "id"),)

    id: Mapped[PkId]
    kind: Mapped[str] = mapped_column(String(32))  # intervention.create / .update
    intervention_local_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("interventions.local_id", ondelete="CASCADE"),
        # Without it every intervention delete scans the outbox to cascade.
        index=True,
    )
    idempotency_key: Mapped[str] = mapped_column(unique=True)
    payload: Mapped[dict[str, Any]]
    # pending / sending / sent / failed / conflict
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_error: Mapped[LongText]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "entity_type", "entity_id"),)

    id: Mapped[PkId]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None]
    details: Mapped[dict[str, Any] | None]


class AppMeta(Base):
    """Small facts about this database, e.g. which sandbox seed/anchor filled it."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[LongText]


# --- predictions (issue 3) ---------------------------------------------------------


class ScoringRun(Base):
    """One scoring pass: which models, which thresholds, as of when, how it went.

    The thresholds are stored with the predictions they produced (DOMAIN.md: a score
    must be explainable later even after Settings change).
    """

    __tablename__ = "scoring_runs"

    id: Mapped[PkId]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    trigger: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    # The instant the data describes (last sync / observed_until), not the wall clock.
    as_of: Mapped[datetime | None]
    models: Mapped[dict[str, Any] | None]  # {name: version}
    thresholds: Mapped[dict[str, Any] | None]
    counts: Mapped[dict[str, Any] | None]
    warnings: Mapped[dict[str, Any] | None]
    error: Mapped[LongText]


class TutorPrediction(Base):
    """A tutor's churn curve, tiers, scores and top factors from one scoring run."""

    __tablename__ = "tutor_predictions"
    __table_args__ = (
        UniqueConstraint("run_id", "tutor_id"),
        Index(None, "tutor_id", "as_of"),
    )

    id: Mapped[PkId]
    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("scoring_runs.id", ondelete="CASCADE"), index=True
    )
    tutor_id: Mapped[int] = mapped_column(BigInteger)
    as_of: Mapped[datetime]
    p_churn_7d: Mapped[float | None]
    p_churn_14d: Mapped[float | None]
    p_churn_30d: Mapped[float | None]
    p_churn_90d: Mapped[float | None]
    risk_tier: Mapped[str | None] = mapped_column(String(16))
    performance_score: Mapped[float | None]
    performance_tier: Mapped[str | None] = mapped_column(String(16))
    health_score: Mapped[float | None]
    segment: Mapped[str | None] = mapped_column(String(16))
    predicted_sessions_next_week: Mapped[float | None]
    burnout: Mapped[bool | None]
    noshow_risk: Mapped[float | None]
    # [{feature, label, text, contribution, direction, value}], most important first
    factors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONValue)
    # A few headline figures for lists and profiles (sessions_30d, avg_rating_30d, ...)
    metrics: Mapped[dict[str, Any] | None]
    model_version: Mapped[str | None] = mapped_column(String(64))


class FirstSessionPrediction(Base):
    """P(poor rating) for an upcoming first session, from one scoring run."""

    __tablename__ = "first_session_predictions"
    __table_args__ = (
        UniqueConstraint("run_id", "session_id"),
        Index(None, "session_id"),
        Index(None, "start_time"),
    )

    id: Mapped[PkId]
    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("scoring_runs.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int] = mapped_column(BigInteger)
    tutor_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    start_time: Mapped[datetime | None]
    subject: Mapped[str | None]
    p_poor: Mapped[float | None]
    risk_tier: Mapped[str | None] = mapped_column(String(16))
    noshow_risk: Mapped[float | None]
    factors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONValue)
    model_version: Mapped[str | None] = mapped_column(String(64))


class CustomerPrediction(Base):
    """A customer's health score (with its five components) and churn risk."""

    __tablename__ = "customer_predictions"
    __table_args__ = (
        UniqueConstraint("run_id", "customer_id"),
        Index(None, "customer_id", "as_of"),
    )

    id: Mapped[PkId]
    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("scoring_runs.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(BigInteger)
    as_of: Mapped[datetime]
    p_churn_30d: Mapped[float | None]
    health_score: Mapped[float | None]
    health_tier: Mapped[str | None] = mapped_column(String(16))
    components: Mapped[dict[str, Any] | None]
    factors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONValue)
    model_version: Mapped[str | None] = mapped_column(String(64))


# --- lookup helpers for the sync engine ------------------------------------------

RESOURCE_MODELS: Mapping[str, type[Base]] = {
    m.__tablename__: m
    for m in (
        Manager,
        Tutor,
        Customer,
        TutoringSession,
        Booking,
        InboundCall,
        EngagementEvent,
        AvailabilitySlot,
        Intervention,
    )
}

RESOURCE_TABLES: Mapping[str, Table] = {
    name: model.__table__  # type: ignore[misc]
    for name, model in RESOURCE_MODELS.items()
}


def resource_table(name: str) -> Table:
    """The table that stores API resource ``name`` (a key of ``contract.RESOURCES``)."""
    try:
        return RESOURCE_TABLES[name]
    except KeyError:
        raise KeyError(f"no local table for API resource {name!r}") from None


# --- alerts (issue 5) ----------------------------------------------------------------


class Alert(Base):
    """One alert: a rule that fired for a subject (a tutor, a customer, a session, ...).

    Identity is ``key`` = ``rule:subject_type:subject_id``; history keeps every alert of a
    key, but only one may be open (active or acknowledged) at a time: ``open_key`` holds
    the key while the alert is open and NULL once it is closed, and is UNIQUE (NULLs are
    distinct on SQLite and PostgreSQL alike), so the database itself refuses a second
    open alert for the same rule and subject. Snoozing is not a state: an open alert with
    ``snoozed_until`` in the future is hidden from the default queue and notifies nobody.

    ``thresholds`` are the settings that fired it (DOMAIN.md: stored with the data);
    ``facts`` the numbers behind it. ``tutor_id``/``customer_id``/``manager_id`` and
    ``subject_name`` are copied in when it fires so the queue filters without joins.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index(None, "state", "severity"),
        Index(None, "key"),
        Index(None, "tutor_id"),
    )

    id: Mapped[PkId]
    key: Mapped[str] = mapped_column(String(200))
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    rule: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64))
    subject_name: Mapped[str | None]
    tutor_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    manager_id: Mapped[int | None] = mapped_column(BigInteger)
    severity: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int]
    # active / acknowledged / resolved / dismissed
    state: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    title: Mapped[str] = mapped_column(Text)
    next_step: Mapped[LongText]
    facts: Mapped[dict[str, Any] | None]
    thresholds: Mapped[dict[str, Any] | None]
    # The scoring run that last found the condition true.
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    assignee: Mapped[str | None] = mapped_column(String(128))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(128))
    # Why it closed: resolved by hand, dismissed, or cleared (the condition no longer held).
    close_reason: Mapped[str | None] = mapped_column(String(32))
    # A closed alert of this key does not fire again before this time unless its severity
    # rises (DOMAIN.md "Alerts": cooldown).
    cooldown_until: Mapped[datetime | None]


# --- intervention workflow (issue 5) -----------------------------------------------


class InterventionTracking(Base):
    """The local side of an intervention the API does not carry: its SLA clock (the
    policy used, pauses), the breach, the measured outcome and the risk at creation.

    One row per intervention (same ``local_id``), written by this app; interventions
    synced down from another desktop have none and fall back to their ``due_at``.
    """

    __tablename__ = "intervention_tracking"

    local_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("interventions.local_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    # The policy that set the SLA (type row of Settings, calendar), kept with the data.
    policy: Mapped[dict[str, Any] | None]
    sla_started_at: Mapped[datetime | None]
    sla_seconds: Mapped[int | None]  # counted time; NULL with a fixed deadline
    sla_deadline: Mapped[datetime | None]  # "before the session"
    # [[paused_at, resumed_at or null], ...] as ISO 8601 UTC
    pauses: Mapped[list[Any] | None] = mapped_column(JSONValue)
    breached_at: Mapped[datetime | None]
    auto_created: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Predicted P(churn 30 d) when it was created: the effectiveness estimate matches on it.
    risk_at_creation: Mapped[float | None]
    # retained / churned, 30 days after completion, and the manager's note.
    outcome_result: Mapped[str | None] = mapped_column(String(16))
    outcome_note: Mapped[LongText]
    outcome_at: Mapped[datetime | None]


class InterventionEscalation(Base):
    """An SLA breach escalated to the configured contact (audited as well)."""

    __tablename__ = "intervention_escalations"

    id: Mapped[PkId]
    intervention_local_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("interventions.local_id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    contact: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime | None]


class InterventionHoldout(Base):
    """A tutor the policy would have treated but the random hold-out kept untreated:
    the control group of an experiment per type (unbiased effectiveness)."""

    __tablename__ = "intervention_holdouts"
    __table_args__ = (Index(None, "intervention_type", "at"),)

    id: Mapped[PkId]
    tutor_id: Mapped[int] = mapped_column(BigInteger, index=True)
    intervention_type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    risk_at_creation: Mapped[float | None]
    source_alert_key: Mapped[str | None] = mapped_column(String(200))


# --- demand forecasts (issue 7) -----------------------------------------------------


class ForecastRun(Base):
    """One daily forecast: every subject and the total, with the model that made it and
    its backtest figures, so past forecasts can be scored when their hours arrive."""

    __tablename__ = "forecast_runs"

    id: Mapped[PkId]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    trigger: Mapped[str | None] = mapped_column(String(32))
    # First forecast hour (the data's observed_until, floored to the hour).
    as_of: Mapped[datetime]
    horizon_hours: Mapped[int]
    model_version: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any] | None]
    backtest: Mapped[dict[str, Any] | None]  # {series: {wape, daily_mape, mase, ...}}
    slots: Mapped[dict[str, Any] | None]  # {"shortage": [...], "surplus": [...]}
    errors: Mapped[dict[str, Any] | None]
    seconds: Mapped[float | None]


class ForecastPoint(Base):
    """One forecast hour of one series (a subject or ``total``) with the supply then."""

    __tablename__ = "forecast_points"
    __table_args__ = (
        UniqueConstraint("run_id", "series", "hour"),
        Index(None, "series", "hour"),
    )

    id: Mapped[PkId]
    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("forecast_runs.id", ondelete="CASCADE"), index=True
    )
    series: Mapped[str] = mapped_column(String(64))
    hour: Mapped[datetime]
    mean: Mapped[float]
    lower: Mapped[float]
    upper: Mapped[float]
    supply: Mapped[float | None]


# --- recommendations (issue 7) ------------------------------------------------------


class Recommendation(Base):
    """A recommendation card from the PRD's marketplace rules (services.recommendations).

    Identity is ``key`` = ``rule:subject``; like an alert, only one card per key may be
    open: ``open_key`` holds the key while ``state`` is ``open`` and NULL afterwards, and
    is UNIQUE, so the database refuses a duplicate open card. ``facts`` are the numbers
    in the reason, ``roi`` the estimate with its assumptions, ``thresholds`` the settings
    that fired it (DOMAIN.md: stored with the data).
    """

    __tablename__ = "recommendations"
    __table_args__ = (Index(None, "state", "priority"), Index(None, "key"))

    id: Mapped[PkId]
    key: Mapped[str] = mapped_column(String(200))
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))
    # open / implemented / dismissed / expired
    state: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    priority: Mapped[int]  # 1 (act first) .. 5
    action: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    impact: Mapped[str] = mapped_column(Text)
    roi: Mapped[dict[str, Any] | None]
    facts: Mapped[dict[str, Any] | None]
    thresholds: Mapped[dict[str, Any] | None]
    forecast_run_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decision_note: Mapped[LongText]
