"""The workflow's writes against the real sandbox over HTTP: offline work drains once the
API is back, a 422 shows the server's reason in the queue, synced-down interventions
show who on the team handles which tutor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from services.api.client import RailsApiClient, RetryPolicy
from services.db.models import OutboxItem
from services.intervention_queue import list_queue
from services.intervention_workflow import add_note, open_intervention, set_status
from services.sync.outbox import drain_outbox
from tests.sync.helpers import make_sync

POSTS = "/api/v1/interventions"


def _client(handle):
    return RailsApiClient(
        handle.base_url, handle.token, retry=RetryPolicy(max_attempts=2, base_delay=0.01)
    )


def _synced(engine, handle):
    assert make_sync(engine, handle).sync(["tutors", "managers"]).status == "ok"


def _tutor(engine):
    from services.db.models import Tutor

    with engine.connect() as conn:
        return conn.execute(
            select(Tutor.id, Tutor.manager_id)
            .where(Tutor.status == "active", Tutor.deleted_at.is_(None))
            .order_by(Tutor.id)
        ).first()


def test_offline_work_drains_once_when_the_api_returns(sqlite_engine, writable_sandbox_server):
    handle = writable_sandbox_server
    _synced(sqlite_engine, handle)
    tutor = _tutor(sqlite_engine)
    local_id = open_intervention(
        sqlite_engine, tutor_id=tutor.id, intervention_type="manager_coaching",
        reason="Critical", actor="dana",
    )  # fmt: skip
    set_status(sqlite_engine, local_id, "in_progress", actor="dana")
    add_note(sqlite_engine, local_id, "Called", actor="dana")
    offline = RailsApiClient("http://127.0.0.1:9", "t", retry=RetryPolicy(max_attempts=1))
    for _ in range(3):  # several ticks while offline: nothing lost, nothing sent
        assert drain_outbox(sqlite_engine, offline).remaining == 3
        with sqlite_engine.begin() as conn:  # the backoff has passed
            conn.execute(update(OutboxItem).values(next_attempt_at=None))
    (row,) = list_queue(sqlite_engine)
    assert row.sync_state == "pending" and row.status == "in_progress"

    report = drain_outbox(sqlite_engine, _client(handle))
    assert report.sent == 3 and report.remaining == 0
    assert handle.stats.count(path=POSTS, method="POST", status=201) == 1
    (row,) = list_queue(sqlite_engine)
    assert row.sync_state == "synced" and row.lock_version == 2 and row.remote_id is not None
    assert drain_outbox(sqlite_engine, _client(handle)).sent == 0  # nothing twice


def test_a_422_shows_the_servers_reason_in_the_queue(sqlite_engine, writable_sandbox_server):
    handle = writable_sandbox_server
    _synced(sqlite_engine, handle)
    tutor = _tutor(sqlite_engine)
    open_intervention(
        sqlite_engine, tutor_id=tutor.id, intervention_type="recognition", reason="Platinum",
        actor="dana", assigned_to_id=987_654,  # no such manager on the server
    )  # fmt: skip
    report = drain_outbox(sqlite_engine, _client(handle))
    assert report.failed == 1 and handle.stats.count(path=POSTS, status=422) == 1
    (row,) = list_queue(sqlite_engine)
    assert row.sync_state == "rejected" and "assigned_to must exist" in row.sync_error
    assert list_queue(sqlite_engine)[0].as_json()["sync"] == "rejected"


def test_synced_interventions_show_who_handles_which_tutor(sqlite_engine, writable_sandbox_server):
    handle = writable_sandbox_server
    assert (
        make_sync(sqlite_engine, handle).sync(["tutors", "managers", "interventions"]).status
        == "ok"
    )
    rows = list_queue(sqlite_engine, now=datetime.now(UTC) + timedelta(days=1))
    synced = [r for r in rows if r.remote_id is not None]
    assert synced and all(r.tutor_name and not r.tutor_name.startswith("Tutor ") for r in synced)
    assigned = [r for r in synced if r.assigned_to_id is not None]
    assert assigned and all(r.assignee != f"Manager {r.assigned_to_id}" for r in assigned)
    assert {r.sync_state for r in synced} == {"synced"}


def test_a_real_409_settled_by_keeping_mine_reaches_the_server(
    sqlite_engine, writable_sandbox_server
):
    from services.intervention_workflow import resolve_conflict

    handle = writable_sandbox_server
    _synced(sqlite_engine, handle)
    tutor = _tutor(sqlite_engine)
    local_id = open_intervention(
        sqlite_engine, tutor_id=tutor.id, intervention_type="training_module", reason="r",
        actor="dana",
    )  # fmt: skip
    drain_outbox(sqlite_engine, _client(handle))
    (row,) = list_queue(sqlite_engine)
    with handle.client() as c:  # Lee starts it on another desktop meanwhile
        body = {"status": "in_progress", "notes": "Lee on it", "lock_version": 0}
        assert c.patch(f"{POSTS}/{row.remote_id}", json={"intervention": body}).status_code == 200
    add_note(sqlite_engine, local_id, "Dana's plan", actor="dana")
    assert drain_outbox(sqlite_engine, _client(handle)).conflicts == 1
    (row,) = list_queue(sqlite_engine)
    assert row.sync_state == "conflict" and row.conflict["notes"] == "Lee on it"
    assert "Dana's plan" in row.notes  # the user's change is kept until they choose

    resolve_conflict(sqlite_engine, local_id, "mine", actor="dana")
    report = drain_outbox(sqlite_engine, _client(handle))
    assert report.sent == 1 and report.conflicts == 0
    (row,) = list_queue(sqlite_engine)
    assert row.sync_state == "synced" and row.lock_version == 2
    # What every desktop reads back from the API: Dana's notes on top of Lee's start.
    assert make_sync(sqlite_engine, handle).sync(["interventions"]).status == "ok"
    (row,) = [r for r in list_queue(sqlite_engine) if r.local_id == local_id]
    assert "Dana's plan" in row.notes and row.status == "in_progress"
