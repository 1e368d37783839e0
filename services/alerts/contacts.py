"""What a customer alert calls for: a contact with the customer, logged.

Interventions are per tutor (the API's resource), so a customer alert ("calling support",
"at risk", "goal completed") is worked by calling or writing to the customer. Logging
that contact from the alert writes it to the customer's **contact history** (an audit
row about the customer, which the Customers page lists) and, in the same transaction,
moves the alert on: an active alert is acknowledged (someone is on it), or resolved
when the person says the contact settled it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select

from services.alerts.actions import AlertActionError, apply_in
from services.alerts.engine import ALERTS
from services.alerts.model import CONTACT_CHANNELS, OPEN_STATES
from services.db.engine import begin_write
from services.db.models import AuditEntry
from services.settings import AlertSettings

__all__ = ["CONTACT_CHANNELS", "ContactLogged", "log_customer_contact"]

NOTE_LIMIT = 2000


@dataclass(frozen=True)
class ContactLogged:
    alert_id: int
    customer_id: int
    channel: str
    # What happened to the alert: "acknowledged", "resolved" or "" (left as it was:
    # already acknowledged, or closed).
    alert_change: str

    def message(self, name: str | None = None) -> str:
        who = name or f"customer {self.customer_id}"
        text = f"{CONTACT_CHANNELS[self.channel]} with {who} logged on their contact history"
        return text + (f"; alert {self.alert_change}" if self.alert_change else "")


def log_customer_contact(
    engine: Engine,
    alert_id: int,
    *,
    channel: str,
    note: str,
    actor: str,
    resolve: bool = False,
    settings: AlertSettings | None = None,
    now: datetime | None = None,
) -> ContactLogged:
    """Log a contact with the customer of alert ``alert_id`` (module doc). Raises
    :class:`~services.alerts.actions.AlertActionError` with the reason when the alert is
    not about a customer or the input is incomplete; nothing is written then."""
    if channel not in CONTACT_CHANNELS:
        raise AlertActionError(f"unknown channel {channel!r}; one of {', '.join(CONTACT_CHANNELS)}")
    note = (note or "").strip()
    if not note:
        raise AlertActionError("say what was said or agreed (the note is the contact's record)")
    if len(note) > NOTE_LIMIT:
        raise AlertActionError(f"the note is longer than {NOTE_LIMIT:,} characters")
    if not actor or not actor.strip():
        raise AlertActionError("who made the contact must be given (actor)")
    now = now or datetime.now(UTC)
    with begin_write(engine) as conn:
        row = conn.execute(
            select(
                ALERTS.c.id,
                ALERTS.c.key,
                ALERTS.c.rule,
                ALERTS.c.state,
                ALERTS.c.subject_type,
                ALERTS.c.customer_id,
            ).where(ALERTS.c.id == int(alert_id))
        ).first()
        if row is None:
            raise AlertActionError(f"no alert {alert_id}")
        if row.customer_id is None:
            raise AlertActionError(
                f"alert {alert_id} is about a {row.subject_type}, not a customer; "
                "for a tutor, create an intervention"
            )
        conn.execute(
            insert(AuditEntry.__table__).values(
                at=now,
                actor=actor,
                action=f"contact.{channel}",
                entity_type="customer",
                entity_id=str(int(row.customer_id)),
                details={
                    "note": note,
                    "channel": channel,
                    "alert_id": int(row.id),
                    "alert_key": row.key,
                    "rule": row.rule,
                },
            )
        )
        change = ""
        action = "resolve" if resolve else "acknowledge"
        if row.state in OPEN_STATES and not (action == "acknowledge" and row.state != "active"):
            why = f"{CONTACT_CHANNELS[channel].lower()} logged: {note}"
            done = apply_in(conn, [int(row.id)], action, actor, now, note=why, settings=settings)
            if done.changed:
                change = "resolved" if resolve else "acknowledged"
    return ContactLogged(int(row.id), int(row.customer_id), channel, change)
