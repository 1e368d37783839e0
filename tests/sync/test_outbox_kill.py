"""The app killed (kill -9) with a full outbox, mid-drain: after a restart the outbox
drains again and every write is on the server exactly once (counted on the server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from services.api.client import RailsApiClient, RetryPolicy
from services.db.models import Intervention, OutboxItem
from services.interventions import create_intervention, update_intervention
from services.sandbox.faults import FaultConfig
from services.sync.outbox import drain_outbox
from tests.sync.helpers import server_rows

POSTS = "/api/v1/interventions"
N = 12

DRAIN = """
import sys
from services.api.client import RailsApiClient, RetryPolicy
from services.db.engine import make_engine
from services.sync.outbox import drain_outbox
engine = make_engine(sys.argv[1])
client = RailsApiClient(sys.argv[2], sys.argv[3], retry=RetryPolicy(max_attempts=2))
print("draining", flush=True)
drain_outbox(engine, client)
print("done", flush=True)
"""


def _server_records(handle) -> list[dict]:
    with handle.client() as c:
        rows, since, after = [], None, None
        while True:
            params = {"limit": 1000} | (
                {"updated_since": since, "after_id": after} if since else {}
            )
            doc = c.get(POSTS, params=params).json()
            rows += doc["data"]
            if not doc["meta"]["has_more"]:
                return rows
            since, after = doc["data"][-1]["updated_at"], doc["data"][-1]["id"]


def test_killed_mid_drain_then_drained_again_nothing_lost_nothing_twice(
    sqlite_engine, writable_sandbox_server
):
    handle = writable_sandbox_server
    now_us = handle.clock.read_bound_us()
    tutors = sorted(server_rows(handle.world, now_us, "tutors"))[:N]
    keys = {}
    for i, tutor in enumerate(tutors):
        local_id = create_intervention(
            sqlite_engine, tutor_id=tutor, intervention_type="manager_coaching", priority=80,
            due_at=datetime.now(UTC) + timedelta(hours=48), assigned_to_id=None,
            reason="Critical", actor="me",
        )  # fmt: skip
        if i % 2 == 0:  # a create then an edit in the outbox
            update_intervention(sqlite_engine, local_id, actor="me", notes=f"note {i}")
        with sqlite_engine.connect() as conn:
            keys[local_id] = conn.execute(
                select(Intervention.idempotency_key).where(Intervention.local_id == local_id)
            ).scalar_one()
    before = {r["id"] for r in _server_records(handle)}
    handle.faults = FaultConfig(slow_ms=250)  # every request takes a while: kill mid-way
    url = sqlite_engine.url.render_as_string(hide_password=False)
    proc = subprocess.Popen(
        [sys.executable, "-c", DRAIN, url, handle.base_url, handle.token],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    deadline = time.monotonic() + 60
    while handle.stats.count(path=POSTS, method="POST") < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # the app dies: no cleanup, maybe a request in flight
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    with sqlite_engine.connect() as conn:
        statuses = conn.execute(select(OutboxItem.status)).scalars().all()
    assert "pending" in statuses or "sending" in statuses  # it really stopped mid-way

    # Restart: a claim left by the dead process runs out (its lease), then drain again.
    handle.faults = None
    with sqlite_engine.begin() as conn:
        conn.execute(
            update(OutboxItem)
            .where(OutboxItem.status == "sending")
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    client = RailsApiClient(
        handle.base_url, handle.token, retry=RetryPolicy(max_attempts=2, base_delay=0.01)
    )
    report = drain_outbox(sqlite_engine, client)
    assert report.remaining == 0 and report.failed == 0 and report.conflicts == 0

    new = [r for r in _server_records(handle) if r["id"] not in before]
    latest: dict[int, dict] = {}
    for r in new:  # the newest version of each record
        if r["id"] not in latest or r["lock_version"] > latest[r["id"]]["lock_version"]:
            latest[r["id"]] = r
    by_key: dict[str, list[int]] = {}
    for r in latest.values():
        by_key.setdefault(r["idempotency_key"], []).append(r["id"])
    assert sorted(by_key) == sorted(keys.values())  # nothing lost
    assert all(len(ids) == 1 for ids in by_key.values())  # nothing created twice
    assert handle.stats.count(path=POSTS, method="POST", status=201) == N  # counted there
    edited = [r for r in latest.values() if r["notes"]]
    assert len(edited) == (N + 1) // 2
    assert all(r["lock_version"] == 1 for r in edited)  # each edit applied once
    with sqlite_engine.connect() as conn:
        local = conn.execute(select(Intervention.__table__)).all()
        statuses = set(conn.execute(select(OutboxItem.status)).scalars())
    assert statuses == {"sent"}
    assert all(r.id is not None and not r.pending for r in local)


def test_an_edit_applied_before_its_answer_was_lost_is_not_a_conflict(
    sqlite_engine, writable_sandbox_server
):
    handle = writable_sandbox_server
    tutor = min(server_rows(handle.world, handle.clock.read_bound_us(), "tutors"))
    local_id = create_intervention(
        sqlite_engine, tutor_id=tutor, intervention_type="recognition", priority=20,
        due_at=datetime.now(UTC) + timedelta(days=7), assigned_to_id=None, reason="Platinum",
        actor="me",
    )  # fmt: skip
    client = RailsApiClient(handle.base_url, handle.token, retry=RetryPolicy(max_attempts=2))
    drain_outbox(sqlite_engine, client)
    update_intervention(sqlite_engine, local_id, actor="me", status="in_progress", notes="ok")
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(Intervention.__table__)).one()
    # The PATCH reaches the server, and the app dies before it records the answer.
    with handle.client() as c:
        body = {"status": "in_progress", "notes": "ok", "lock_version": row.lock_version}
        assert c.patch(f"{POSTS}/{row.id}", json={"intervention": body}).status_code == 200
    report = drain_outbox(sqlite_engine, client)  # resent after the restart: 409
    assert report.sent == 1 and report.conflicts == 0
    assert handle.stats.count(path=f"{POSTS}/{row.id}", status=409) == 1
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(Intervention.__table__)).one()
    assert row.conflict is None and not row.pending and row.lock_version == 1

    # A real colleague's change is still a conflict.
    with handle.client() as c:
        body = {"status": "completed", "lock_version": 1}
        assert c.patch(f"{POSTS}/{row.id}", json={"intervention": body}).status_code == 200
    update_intervention(sqlite_engine, local_id, actor="me", notes="mine")
    assert drain_outbox(sqlite_engine, client).conflicts == 1
