"""Local intervention writes reach the API through the outbox, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from services.api.client import RailsApiClient, RetryPolicy
from services.db.models import AuditEntry, Intervention, OutboxItem
from services.interventions import (
    InterventionInputError,
    create_intervention,
    update_intervention,
)
from services.sync.outbox import drain_outbox
from tests.sync.helpers import make_sync, server_rows


def _client(handle, **kw):
    return RailsApiClient(
        handle.base_url, handle.token, retry=RetryPolicy(max_attempts=2, base_delay=0.01), **kw
    )


def _some_tutor_and_manager(handle):
    now = handle.clock.read_bound_us()
    tutor = min(server_rows(handle.world, now, "tutors"))
    manager = min(server_rows(handle.world, now, "managers"))
    return tutor, manager


def _server_interventions_with_key(handle, key):
    with handle.client() as c:
        # Read the API the way any other desktop would.
        rows, since, after = [], None, None
        while True:
            params = {"limit": 1000}
            if since:
                params |= {"updated_since": since, "after_id": after}
            doc = c.get("/api/v1/interventions", params=params).json()
            rows += doc["data"]
            if not doc["meta"]["has_more"]:
                break
            since, after = doc["data"][-1]["updated_at"], doc["data"][-1]["id"]
    return [r for r in rows if r["idempotency_key"] == key]


def _new(engine, handle, **over):
    tutor, manager = _some_tutor_and_manager(handle)
    values = dict(
        tutor_id=tutor,
        intervention_type="manager_coaching",
        priority=80,
        due_at=datetime.now(UTC) + timedelta(hours=48),
        assigned_to_id=manager,
        reason="Critical risk",
        source_alert_key=f"churn_critical:tutor:{tutor}",
        actor="test-manager",
    )
    values.update(over)
    return create_intervention(engine, **values)


def test_created_locally_then_posted_once_with_its_key(sqlite_engine, writable_sandbox_server):
    handle = writable_sandbox_server
    local_id = _new(sqlite_engine, handle)
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(Intervention.__table__)).one()
        item = conn.execute(select(OutboxItem.__table__)).one()
        audit = conn.execute(select(AuditEntry.__table__)).one()
    assert row.pending and row.id is None and row.local_id == local_id
    assert item.status == "pending" and item.idempotency_key == row.idempotency_key
    assert audit.actor == "test-manager" and audit.action == "intervention.create"

    report = drain_outbox(sqlite_engine, _client(handle))
    assert report.sent == 1 and report.remaining == 0
    on_server = _server_interventions_with_key(handle, row.idempotency_key)
    assert len(on_server) == 1
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(Intervention.__table__)).one()
    assert row.id == on_server[0]["id"] and row.lock_version == 0 and not row.pending

    # The response was "lost": the item is replayed. The server answers with the same
    # record (200, Idempotent-Replayed) and still has exactly one.
    with sqlite_engine.begin() as conn:
        conn.execute(update(OutboxItem).values(status="pending"))
    again = drain_outbox(sqlite_engine, _client(handle))
    assert again.sent == 1
    assert len(_server_interventions_with_key(handle, row.idempotency_key)) == 1

    # A sync of the interventions resource merges it with the local row, no duplicate.
    assert make_sync(sqlite_engine, handle).sync(["interventions"]).status == "ok"
    with sqlite_engine.connect() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(Intervention)
            .where(Intervention.idempotency_key == row.idempotency_key)
        ).scalar_one()
    assert n == 1


def test_update_goes_out_with_lock_version_and_a_stale_one_is_a_kept_conflict(
    sqlite_engine, writable_sandbox_server
):
    handle = writable_sandbox_server
    local_id = _new(sqlite_engine, handle)
    drain_outbox(sqlite_engine, _client(handle))
    update_intervention(sqlite_engine, local_id, actor="me", status="in_progress", notes="called")
    assert drain_outbox(sqlite_engine, _client(handle)).sent == 1
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(Intervention.__table__)).one()
    assert row.lock_version == 1 and row.status == "in_progress" and not row.pending

    # A colleague changes it on the server meanwhile.
    with handle.client() as c:
        resp = c.patch(
            f"/api/v1/interventions/{row.id}",
            json={"intervention": {"status": "completed", "lock_version": 1}},
        )
        assert resp.status_code == 200
    update_intervention(sqlite_engine, local_id, actor="me", notes="my note")
    report = drain_outbox(sqlite_engine, _client(handle))
    assert report.conflicts == 1
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(Intervention.__table__)).one()
        item = conn.execute(select(OutboxItem.__table__).order_by(OutboxItem.id.desc())).first()
    assert row.notes == "my note" and row.pending  # the user's change is kept
    assert row.conflict["status"] == "completed" and row.conflict["lock_version"] == 2
    assert item.status == "conflict" and "stale" in item.last_error


def test_a_refused_create_is_failed_with_the_servers_reason(sqlite_engine, writable_sandbox_server):
    handle = writable_sandbox_server
    _new(sqlite_engine, handle, tutor_id=999_999)
    report = drain_outbox(sqlite_engine, _client(handle))
    assert report.failed == 1
    with sqlite_engine.connect() as conn:
        item = conn.execute(select(OutboxItem.__table__)).one()
    assert item.status == "failed" and "tutor must exist" in item.last_error


def test_offline_defers_and_keeps_everything(sqlite_engine):
    create_intervention(
        sqlite_engine,
        tutor_id=1,
        intervention_type="recognition",
        priority=10,
        due_at=datetime.now(UTC),
        assigned_to_id=None,
        reason="Reached Platinum",
        actor="me",
    )
    client = RailsApiClient("http://127.0.0.1:9", "t", retry=RetryPolicy(max_attempts=1))
    report = drain_outbox(sqlite_engine, client)
    assert report.deferred == 1 and report.remaining == 1
    with sqlite_engine.connect() as conn:
        item = conn.execute(select(OutboxItem.__table__)).one()
    assert item.status == "pending" and item.attempts == 1 and item.next_attempt_at is not None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("priority", 101, "priority"),
        ("intervention_type", "pep_talk", "intervention_type"),
        ("reason", "  ", "reason"),
        ("due_at", datetime(2026, 1, 1), "due_at"),
    ],
)
def test_invalid_local_input_is_refused_with_a_message(sqlite_engine, field, value, message):
    values = dict(
        tutor_id=1,
        intervention_type="recognition",
        priority=10,
        due_at=datetime.now(UTC),
        assigned_to_id=None,
        reason="ok",
        actor="me",
    )
    values[field] = value
    with pytest.raises(InterventionInputError, match=message):
        create_intervention(sqlite_engine, **values)
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Intervention)).scalar_one() == 0


def test_sync_fills_the_id_of_a_pending_create_and_keeps_a_pending_edit(
    sqlite_engine, writable_sandbox_server
):
    handle = writable_sandbox_server
    local_id = _new(sqlite_engine, handle)
    with sqlite_engine.connect() as conn:
        item = conn.execute(select(OutboxItem.__table__)).one()
    # The POST reached the server but its response was lost: the server has the record.
    with handle.client() as c:
        resp = c.post(
            "/api/v1/interventions",
            headers={"Idempotency-Key": item.idempotency_key},
            json={"intervention": item.payload},
        )
        assert resp.status_code == 201
        server_id = resp.json()["id"]
    update_intervention(sqlite_engine, local_id, actor="me", notes="local note")
    assert make_sync(sqlite_engine, handle).sync(["interventions"]).status == "ok"
    with sqlite_engine.connect() as conn:
        rows = conn.execute(
            select(Intervention.__table__).where(
                Intervention.idempotency_key == item.idempotency_key
            )
        ).all()
    assert len(rows) == 1
    assert rows[0].id == server_id and rows[0].pending and rows[0].notes == "local note"
    # Draining replays the POST (same record back) and sends the edit.
    report = drain_outbox(sqlite_engine, _client(handle))
    assert report.sent == 2 and report.remaining == 0
    assert len(_server_interventions_with_key(handle, item.idempotency_key)) == 1
    assert _server_interventions_with_key(handle, item.idempotency_key)[0]["notes"] == "local note"
