"""What people do to alerts: acknowledge, resolve, dismiss, snooze, claim, assign.

States (DOMAIN.md "Alerts"): ``active -> acknowledged -> resolved | dismissed``; an active
alert may also be resolved or dismissed directly. Closed alerts stay closed (a new
alert of the same key opens if the condition returns after the cooldown). Snoozing and
assigning apply to open alerts only and do not change the state.

Every action takes a list of alert ids and runs in one write transaction: a bulk action
over 10,000+ alerts is a few chunked UPDATEs and one multi-row INSERT into the audit
log, not 10,000 round trips. Alerts whose state does not allow the action are left
untouched and reported per id in :attr:`ActionResult.refused` (the others still change);
input that is wrong as a whole (a snooze in the past, an unknown action) raises
:class:`AlertActionError` before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from services.alerts.engine import ALERTS, cooldown_for
from services.alerts.model import OPEN_STATES
from services.db.engine import begin_write
from services.db.models import AuditEntry
from services.settings import AlertSettings

_CHUNK = 500

# action -> (states it applies to, state after; None = state unchanged)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "acknowledge": (("active",), "acknowledged"),
    "resolve": (OPEN_STATES, "resolved"),
    "dismiss": (OPEN_STATES, "dismissed"),
    "snooze": (OPEN_STATES, None),
    "unsnooze": (OPEN_STATES, None),
    "assign": (OPEN_STATES, None),
}


class AlertActionError(ValueError):
    """The request as a whole cannot be done; the message says why."""


@dataclass
class ActionResult:
    action: str
    changed: list[int] = field(default_factory=list)
    # alert id -> why it was left as it was
    refused: dict[int, str] = field(default_factory=dict)

    def message(self) -> str:
        text = f"{self.action}: {len(self.changed):,} alerts changed"
        if self.refused:
            reasons = sorted(set(self.refused.values()))
            text += f", {len(self.refused):,} left as they were ({'; '.join(reasons[:3])})"
        return text


def _now() -> datetime:
    return datetime.now(UTC)


def apply_action(
    engine: Engine,
    alert_ids: Iterable[int],
    action: str,
    *,
    actor: str,
    until: datetime | None = None,
    assignee: str | None = None,
    note: str | None = None,
    settings: AlertSettings | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """Apply ``action`` to every alert of ``alert_ids`` that allows it (module doc)."""
    if action not in TRANSITIONS:
        raise AlertActionError(f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}")
    if not actor or not actor.strip():
        raise AlertActionError("who is acting must be given (actor)")
    now = now or _now()
    settings = settings or AlertSettings()
    if action == "snooze":
        if until is None:
            raise AlertActionError("snooze needs a time to snooze until")
        if until.tzinfo is None:
            raise AlertActionError("the snooze time must carry a time zone")
        if until <= now:
            raise AlertActionError(
                f"cannot snooze until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC: that is in "
                "the past; pick a later time"
            )
    if action == "assign" and assignee is not None and not assignee.strip():
        assignee = None
    ids = sorted({int(i) for i in alert_ids})
    if not ids:
        return ActionResult(action)
    with begin_write(engine) as conn:
        return apply_in(conn, ids, action, actor, now, until, assignee, note, settings)


def apply_in(
    conn: Connection,
    ids: Sequence[int],
    action: str,
    actor: str,
    now: datetime,
    until: datetime | None = None,
    assignee: str | None = None,
    note: str | None = None,
    settings: AlertSettings | None = None,
) -> ActionResult:
    """The body of :func:`apply_action` inside the caller's write transaction, for a
    caller that writes something else with it (a logged contact); input checked by the
    caller."""
    settings = settings or AlertSettings()
    result = ActionResult(action)
    allowed_states, new_state = TRANSITIONS[action]
    current = _states(conn, ids)
    eligible: list[int] = []
    for alert_id in ids:
        row = current.get(alert_id)
        if row is None:
            result.refused[alert_id] = "no such alert"
        elif row["state"] not in allowed_states:
            result.refused[alert_id] = f"cannot {action} a {row['state']} alert"
        elif action == "assign" and row["assignee"] == assignee:
            result.refused[alert_id] = "already assigned so"
        else:
            eligible.append(alert_id)
    values = _values(action, new_state, actor, now, until, assignee)
    audits = []
    for alert_id in eligible:
        row = current[alert_id]
        details: dict[str, Any] = {"key": row["key"], "from": row["state"]}
        if new_state:
            details["to"] = new_state
        if action == "snooze":
            details["until"] = until.astimezone(UTC).isoformat() if until else None
        if action == "assign":
            details["assignee"] = assignee
            details["previous_assignee"] = row["assignee"]
        if note:
            details["note"] = note
        audits.append(
            {
                "at": now,
                "actor": actor,
                "action": f"alert.{action}",
                "entity_type": "alert",
                "entity_id": str(alert_id),
                "details": details,
            }
        )
    if new_state in ("resolved", "dismissed"):
        # The cooldown depends on the rule: one UPDATE per rule present.
        by_rule: dict[str, list[int]] = {}
        for alert_id in eligible:
            by_rule.setdefault(current[alert_id]["rule"], []).append(alert_id)
        for rule_name, rule_ids in by_rule.items():
            until_cool = now + cooldown_for(rule_name, settings)
            _update(conn, rule_ids, {**values, "cooldown_until": until_cool}, allowed_states)
    elif eligible:
        _update(conn, eligible, values, allowed_states)
    if audits:
        conn.execute(insert(AuditEntry.__table__), audits)
    result.changed = eligible
    return result


def _values(
    action: str,
    new_state: str | None,
    actor: str,
    now: datetime,
    until: datetime | None,
    assignee: str | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {"updated_at": now}
    if action == "acknowledge":
        values |= {"state": new_state, "acknowledged_at": now, "acknowledged_by": actor}
    elif action in ("resolve", "dismiss"):
        values |= {
            "state": new_state,
            "open_key": None,
            "closed_at": now,
            "closed_by": actor,
            "close_reason": "resolved" if action == "resolve" else "dismissed",
        }
    elif action == "snooze":
        values["snoozed_until"] = until
    elif action == "unsnooze":
        values["snoozed_until"] = None
    elif action == "assign":
        values["assignee"] = assignee
    return values


def _states(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        for r in conn.execute(
            select(
                ALERTS.c.id, ALERTS.c.state, ALERTS.c.key, ALERTS.c.rule, ALERTS.c.assignee
            ).where(ALERTS.c.id.in_(chunk))
        ):
            out[int(r.id)] = dict(r._mapping)
    return out


def _update(
    conn: Connection, ids: Sequence[int], values: dict[str, Any], states: tuple[str, ...]
) -> None:
    for chunk in _chunks(ids):
        # The state guard repeats the check in SQL: under BEGIN IMMEDIATE nothing can
        # change in between on SQLite, and on PostgreSQL it keeps a concurrent close safe.
        conn.execute(
            update(ALERTS).where(ALERTS.c.id.in_(chunk), ALERTS.c.state.in_(states)).values(values)
        )


def _chunks(items: Sequence[int], size: int = _CHUNK) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ----------------------------------------------------------------- single-alert helpers


def _one(engine: Engine, alert_id: int, action: str, **kw: Any) -> None:
    result = apply_action(engine, [alert_id], action, **kw)
    if result.refused:
        raise AlertActionError(f"alert {alert_id}: {result.refused[alert_id]}")


def acknowledge(engine: Engine, alert_id: int, *, actor: str, **kw: Any) -> None:
    _one(engine, alert_id, "acknowledge", actor=actor, **kw)


def resolve(engine: Engine, alert_id: int, *, actor: str, **kw: Any) -> None:
    _one(engine, alert_id, "resolve", actor=actor, **kw)


def dismiss(engine: Engine, alert_id: int, *, actor: str, **kw: Any) -> None:
    _one(engine, alert_id, "dismiss", actor=actor, **kw)


def snooze(engine: Engine, alert_id: int, until: datetime, *, actor: str, **kw: Any) -> None:
    _one(engine, alert_id, "snooze", actor=actor, until=until, **kw)


def assign(engine: Engine, alert_id: int, assignee: str | None, *, actor: str, **kw: Any) -> None:
    _one(engine, alert_id, "assign", actor=actor, assignee=assignee, **kw)


def claim(engine: Engine, alert_id: int, *, actor: str, **kw: Any) -> None:
    """Assign the alert to the person acting ("mine")."""
    _one(engine, alert_id, "assign", actor=actor, assignee=actor, **kw)
