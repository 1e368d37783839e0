"""The rule engine: run every registered rule on the latest scoring run and reconcile the
alerts table with what they found, in one write transaction.

For every (rule, subject) the rules found:

- an open alert of that key exists: its facts, priority and wording are refreshed; a
  severity rise is an escalation (audited, reported like a new alert so notifications
  and the intervention policy see it);
- no open alert, but the key's last alert closed less than its cooldown ago: nothing,
  unless the severity is now higher than that alert's (then a new alert opens);
- otherwise a new active alert opens (a snooze still running on the key's previous
  alert carries over: a snooze belongs to the identity, not to one row).

Open alerts of a rule that ran and did not find their subject again are **cleared**: the
system resolves them (state ``resolved``, ``close_reason = "cleared"``, actor
``system``), audited, with the rule's cooldown, so a tutor whose risk dips below the
threshold for one run and back does not page anyone twice. A rule that raised, or is
disabled in Settings, clears nothing: its open alerts wait for it to run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, or_, select, update

from services.alerts.context import RuleContext, latest_run
from services.alerts.model import (
    SEVERITY_RANK,
    EvaluationResult,
    Finding,
    FiredAlert,
    alert_key,
)
from services.alerts.registry import Rule, registered_rules
from services.db.engine import begin_write
from services.db.models import Alert, AuditEntry
from services.settings import AlertSettings

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
_CLOSE_WHY = {
    "cleared": "condition no longer holds",
    "expired": "past the rule's window: no longer actionable",
}
_CHUNK = 500
ALERTS = Alert.__table__


@dataclass(frozen=True, slots=True)
class _Open:
    id: int
    severity: str
    priority: int
    title: str
    next_step: str | None


@dataclass(frozen=True, slots=True)
class _Closed:
    severity: str
    cooldown_until: datetime | None
    snoozed_until: datetime | None


def cooldown_for(rule: str, settings: AlertSettings) -> timedelta:
    hours = settings.cooldown_hours_by_rule.get(rule, settings.cooldown_hours)
    return timedelta(hours=hours)


def evaluate_alerts(
    engine: Engine,
    settings: AlertSettings | None = None,
    *,
    run_id: int | None = None,
    now: datetime | None = None,
    rules: Iterable[Rule] | None = None,
) -> EvaluationResult:
    """Evaluate ``rules`` (default: every registered rule) on scoring run ``run_id``
    (default: the latest successful one) and write the outcome; see the module doc."""
    settings = settings or AlertSettings()
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    chosen = list(rules) if rules is not None else list(registered_rules().values())
    chosen = [r for r in chosen if r.name not in set(settings.disabled_rules)]

    with engine.connect() as conn:
        run = latest_run(conn) if run_id is None else _run(conn, run_id)
        if run is None:
            return EvaluationResult(run_id=None, as_of=None, seconds=time.perf_counter() - started)
        ctx = RuleContext(conn, run, settings)
        ctx.prefetch(engine)
        found, errors, expired = _run_rules(ctx, chosen)

    result = EvaluationResult(run_id=run.id, as_of=run.as_of.isoformat(), errors=errors)
    result.by_rule = {name: len(fs) for name, fs in found.items()}
    by_name = {r.name: r for r in chosen}
    with begin_write(engine) as conn:
        _reconcile(conn, found, by_name, settings, run.id, now, result, expired)
        result.open_total = int(
            conn.execute(select(func.count()).where(ALERTS.c.open_key.is_not(None))).scalar_one()
        )
    result.seconds = time.perf_counter() - started
    log.info("alerts on run %d: %s in %.2fs", run.id, result.summary(), result.seconds)
    return result


def _run(conn: Connection, run_id: int) -> Any:
    run = latest_run(conn)
    if run is not None and run.id == run_id:
        return run
    from services.alerts.context import RunInfo
    from services.db.models import ScoringRun

    row = conn.execute(
        select(ScoringRun.id, ScoringRun.as_of, ScoringRun.thresholds).where(
            ScoringRun.id == run_id, ScoringRun.status == "ok"
        )
    ).first()
    if row is None or row.as_of is None:
        raise ValueError(f"no successful scoring run #{run_id}")
    return RunInfo(int(row.id), row.as_of, row.thresholds or {})


def _run_rules(
    ctx: RuleContext, rules: list[Rule]
) -> tuple[dict[str, dict[str, Finding]], dict[str, str], set[str]]:
    found: dict[str, dict[str, Finding]] = {}
    errors: dict[str, str] = {}
    expired: set[str] = set()
    for r in rules:
        try:
            gone = (
                {alert_key(r.name, r.subject_type, s) for s in r.expired(ctx)}
                if r.expired is not None
                else set()
            )
            by_key: dict[str, Finding] = {}
            for f in r.evaluate(ctx):
                key = alert_key(r.name, f.subject_type, f.subject_id)
                prev = by_key.get(key)
                # A rule that yields a subject twice keeps the more severe finding.
                if prev is None or (SEVERITY_RANK[f.severity], f.priority) > (
                    SEVERITY_RANK[prev.severity],
                    prev.priority,
                ):
                    by_key[key] = f
            found[r.name] = by_key
            expired |= gone - by_key.keys()
        except Exception as exc:  # one broken rule must not stop the others
            log.exception("alert rule %s failed", r.name)
            errors[r.name] = f"{type(exc).__name__}: {exc}"
    return found, errors, expired


def _reconcile(
    conn: Connection,
    found: dict[str, dict[str, Finding]],
    rules: dict[str, Rule],
    settings: AlertSettings,
    run_id: int,
    now: datetime,
    result: EvaluationResult,
    expired: frozenset[str] | set[str] = frozenset(),
) -> None:
    open_rows = {
        r.key: (r.rule, _Open(int(r.id), r.severity, int(r.priority), r.title, r.next_step))
        for r in conn.execute(
            select(
                ALERTS.c.id,
                ALERTS.c.key,
                ALERTS.c.rule,
                ALERTS.c.severity,
                ALERTS.c.priority,
                ALERTS.c.title,
                ALERTS.c.next_step,
            ).where(ALERTS.c.open_key.is_not(None))
        )
    }
    closed = _recently_closed(conn, now)

    inserts: list[dict[str, Any]] = []
    inserted_meta: list[tuple[str, str, Finding]] = []  # (rule, key, finding)
    changes: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    still_open: list[int] = []

    for rule_name, findings in found.items():
        thresholds = rules[rule_name].thresholds(settings)
        for key, f in findings.items():
            current = open_rows.get(key)
            if current is not None:
                _, o = current
                still_open.append(o.id)
                rose = SEVERITY_RANK[f.severity] > SEVERITY_RANK[o.severity]
                if (f.severity, f.priority, f.title, f.next_step) == (
                    o.severity,
                    o.priority,
                    o.title,
                    o.next_step,
                ):
                    result.unchanged += 1
                    continue
                changes.append(_change_row(o.id, f, thresholds, run_id, now))
                if f.severity != o.severity:
                    action = "alert.escalate" if rose else "alert.deescalate"
                    audits.append(
                        _audit(
                            now,
                            SYSTEM_ACTOR,
                            action,
                            o.id,
                            {
                                "key": key,
                                "from": o.severity,
                                "to": f.severity,
                                "run_id": run_id,
                            },
                        )
                    )
                if rose:
                    result.escalated.append(
                        _fired(o.id, key, rule_name, f, "escalated", o.severity)
                    )
                else:
                    result.updated += 1
                continue
            last = closed.get(key)
            in_cooldown = (
                last is not None and last.cooldown_until is not None and last.cooldown_until > now
            )
            if in_cooldown and SEVERITY_RANK[f.severity] <= SEVERITY_RANK[last.severity]:
                result.suppressed += 1
                continue
            snooze = last.snoozed_until if last is not None else None
            inserts.append(_new_row(key, rule_name, f, thresholds, run_id, now, snooze))
            inserted_meta.append((rule_name, key, f))

    # Refresh "last seen" of every alert confirmed by this run in one pass per chunk.
    for chunk in _chunks(still_open):
        conn.execute(
            update(ALERTS).where(ALERTS.c.id.in_(chunk)).values(last_seen_at=now, run_id=run_id)
        )
    if changes:
        conn.execute(
            update(ALERTS)
            .where(ALERTS.c.id == bindparam("b_id"))
            .values(
                severity=bindparam("b_severity"),
                priority=bindparam("b_priority"),
                title=bindparam("b_title"),
                next_step=bindparam("b_next_step"),
                facts=bindparam("b_facts"),
                thresholds=bindparam("b_thresholds"),
                updated_at=bindparam("b_now"),
            ),
            changes,
        )

    if inserts:
        # A plain executemany, then the ids by key: INSERT ... RETURNING of 50,000 rows
        # goes through SQLAlchemy's batched "insertmanyvalues" and costs seconds.
        bulk_insert(conn, ALERTS, inserts)
        new_ids = _open_ids(conn, [row["key"] for row in inserts])
        ids = [new_ids[row["key"]] for row in inserts]
        for alert_id, (rule_name, key, f), row in zip(ids, inserted_meta, inserts, strict=True):
            result.new.append(_fired(int(alert_id), key, rule_name, f, "new", None))
            audits.append(
                _audit(
                    now,
                    SYSTEM_ACTOR,
                    "alert.open",
                    int(alert_id),
                    {
                        "key": key,
                        "severity": f.severity,
                        "priority": f.priority,
                        "run_id": run_id,
                        **(
                            {"snoozed_until": row["snoozed_until"].isoformat()}
                            if row["snoozed_until"]
                            else {}
                        ),
                    },
                )
            )

    # Clear: open alerts of rules that ran and no longer hold. Those the rule says are
    # gone for good (a customer lapsed past its window) close as "expired", so the
    # trail tells "got better" from "gave up waiting".
    cleared_by_rule: dict[tuple[str, str], list[int]] = {}
    for key, (rule_name, o) in open_rows.items():
        if rule_name in found and key not in found[rule_name]:
            reason = "expired" if key in expired else "cleared"
            cleared_by_rule.setdefault((rule_name, reason), []).append(o.id)
            audits.append(
                _audit(
                    now,
                    SYSTEM_ACTOR,
                    "alert.expire" if reason == "expired" else "alert.clear",
                    o.id,
                    {
                        "key": key,
                        "reason": _CLOSE_WHY[reason],
                        "run_id": run_id,
                    },
                )
            )
    for (rule_name, reason), ids in cleared_by_rule.items():
        until = now + cooldown_for(rule_name, settings)
        for chunk in _chunks(ids):
            conn.execute(
                update(ALERTS)
                .where(ALERTS.c.id.in_(chunk), ALERTS.c.open_key.is_not(None))
                .values(
                    state="resolved",
                    open_key=None,
                    closed_at=now,
                    closed_by=SYSTEM_ACTOR,
                    close_reason=reason,
                    cooldown_until=until,
                    updated_at=now,
                )
            )
        result.cleared += len(ids)
    if audits:
        bulk_insert(conn, AuditEntry.__table__, audits)


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """``INSERT`` of many rows of the same columns in the current transaction.

    On SQLite this skips SQLAlchemy's per-row parameter processing (its cost at 20,000+
    alerts plus as many audit rows was seconds): each column's own bind processor is
    applied here, once per distinct shared object (every row of an evaluation carries
    the same ``now`` and its rule's same thresholds dict), and the rows go to the
    driver's executemany. Elsewhere the ordinary executemany.
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), rows)
        return
    names = list(rows[0])
    shared: dict[tuple[str, int], Any] = {}

    def column(name: str) -> list[Any]:
        values = [row[name] for row in rows]
        proc = table.c[name].type._cached_bind_processor(conn.dialect)
        if proc is None:  # most columns: the driver takes the value as it is
            return values
        out = []
        for v in values:
            if v is None:
                out.append(None)
            elif isinstance(v, datetime | dict):
                # The same object in many rows (now, a rule's thresholds): once. The rows
                # keep these objects alive, so their ids stay unique meanwhile.
                key = (name, id(v))
                if key not in shared:
                    shared[key] = proc(v)
                out.append(shared[key])
            else:
                out.append(proc(v))
        return out

    params = list(zip(*(column(n) for n in names), strict=True))
    columns = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join("?" for _ in names)
    conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})', params)


def _open_ids(conn: Connection, keys: list[str]) -> dict[str, int]:
    """Ids of the open alerts of ``keys`` (all open alerts when that is most of them)."""
    q = select(ALERTS.c.open_key, ALERTS.c.id).where(ALERTS.c.open_key.is_not(None))
    if len(keys) <= _CHUNK:
        return {k: int(i) for k, i in conn.execute(q.where(ALERTS.c.open_key.in_(keys)))}
    wanted = set(keys)
    return {k: int(i) for k, i in conn.execute(q) if k in wanted}


def _recently_closed(conn: Connection, now: datetime) -> dict[str, _Closed]:
    """Per key, the latest closed alert still in its cooldown or with a running snooze."""
    rows = conn.execute(
        select(ALERTS.c.key, ALERTS.c.severity, ALERTS.c.cooldown_until, ALERTS.c.snoozed_until)
        .where(
            ALERTS.c.open_key.is_(None),
            or_(ALERTS.c.cooldown_until > now, ALERTS.c.snoozed_until > now),
        )
        .order_by(ALERTS.c.closed_at, ALERTS.c.id)
    )
    out: dict[str, _Closed] = {}
    for r in rows:
        snooze = r.snoozed_until if r.snoozed_until is not None and r.snoozed_until > now else None
        out[r.key] = _Closed(r.severity, r.cooldown_until, snooze)
    return out


def _new_row(
    key: str,
    rule_name: str,
    f: Finding,
    thresholds: dict[str, Any],
    run_id: int,
    now: datetime,
    snoozed_until: datetime | None,
) -> dict[str, Any]:
    return {
        "key": key,
        "open_key": key,
        "rule": rule_name,
        "subject_type": f.subject_type,
        "subject_id": f.subject_id,
        "subject_name": f.subject_name,
        "tutor_id": f.tutor_id,
        "customer_id": f.customer_id,
        "manager_id": f.manager_id,
        "severity": f.severity,
        "priority": f.priority,
        "state": "active",
        "title": f.title,
        "next_step": f.next_step,
        "facts": f.facts,
        "thresholds": thresholds,
        "run_id": run_id,
        "created_at": now,
        "updated_at": now,
        "last_seen_at": now,
        "snoozed_until": snoozed_until,
    }


def _change_row(
    alert_id: int, f: Finding, thresholds: dict[str, Any], run_id: int, now: datetime
) -> dict[str, Any]:
    return {
        "b_id": alert_id,
        "b_severity": f.severity,
        "b_priority": f.priority,
        "b_title": f.title,
        "b_next_step": f.next_step,
        "b_facts": f.facts,
        "b_thresholds": thresholds,
        "b_now": now,
    }


def _fired(
    alert_id: int, key: str, rule_name: str, f: Finding, change: str, previous: str | None
) -> FiredAlert:
    return FiredAlert(
        alert_id=alert_id,
        key=key,
        rule=rule_name,
        subject_type=f.subject_type,
        subject_id=f.subject_id,
        subject_name=f.subject_name,
        tutor_id=f.tutor_id,
        customer_id=f.customer_id,
        manager_id=f.manager_id,
        severity=f.severity,
        priority=f.priority,
        title=f.title,
        next_step=f.next_step,
        facts=f.facts,
        change=change,
        previous_severity=previous,
    )


def _audit(now: datetime, actor: str, action: str, alert_id: int, details: dict) -> dict:
    return {
        "at": now,
        "actor": actor,
        "action": action,
        "entity_type": "alert",
        "entity_id": str(alert_id),
        "details": details,
    }


def _chunks(items: list[int], size: int = _CHUNK) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
