"""Several drainers on one database (two desktops and the worker on a team's PostgreSQL):
each outbox item reaches the API exactly once, counted on the server."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from services.api.client import RailsApiClient, RetryPolicy
from services.db.engine import make_engine
from services.db.models import Intervention, OutboxItem
from services.interventions import create_intervention, update_intervention
from services.sandbox.faults import FaultConfig
from services.sync.outbox import CLAIM_LEASE, drain_outbox
from tests.sync.helpers import server_rows

POSTS = "/api/v1/interventions"


def _client(handle) -> RailsApiClient:
    return RailsApiClient(
        handle.base_url, handle.token, retry=RetryPolicy(max_attempts=2, base_delay=0.01)
    )


def _fill_outbox(engine, handle, n: int) -> list[int]:
    """``n`` interventions created locally, every other one edited too (a create then
    an update in its outbox, which must go in that order)."""
    now = handle.clock.read_bound_us()
    tutors = sorted(server_rows(handle.world, now, "tutors"))
    manager = min(server_rows(handle.world, now, "managers"))
    types = ("manager_coaching", "peer_mentoring", "training_module")
    ids = []
    for i in range(n):
        local_id = create_intervention(
            engine,
            tutor_id=tutors[i % len(tutors)],
            intervention_type=types[(i // len(tutors)) % len(types)],
            priority=50,
            due_at=datetime.now(UTC) + timedelta(hours=48),
            assigned_to_id=manager,
            reason=f"concurrency {i}",
            actor="test",
        )
        if i % 2 == 0:
            update_intervention(engine, local_id, notes=f"edited {i}", actor="test")
        ids.append(local_id)
    return ids


def test_two_drainers_at_once_send_each_item_exactly_once(db_url, writable_sandbox_server):
    handle = writable_sandbox_server
    setup = make_engine(db_url)
    from services.db.migrate import migrate

    migrate(setup)
    _fill_outbox(setup, handle, 12)
    with setup.connect() as conn:
        items = conn.execute(select(OutboxItem.kind, func.count()).group_by(OutboxItem.kind)).all()
    expected = dict(items)
    assert expected == {"intervention.create": 12, "intervention.update": 6}
    # Every request takes a while, so the two drains overlap for their whole run.
    handle.faults = FaultConfig(slow_ms=40)
    handle.stats.reset()

    engines = [make_engine(db_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    reports, failures = [], []

    def drainer(engine) -> None:
        client = _client(handle)
        try:
            barrier.wait()
            # Each desktop drains on its own tick until nothing is left.
            for _ in range(6):
                reports.append(drain_outbox(engine, client))
        except BaseException as exc:
            failures.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=drainer, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for e in engines:
        e.dispose()
    assert failures == []
    posts = handle.stats.count(path=POSTS, method="POST")
    assert posts == expected["intervention.create"], f"{posts} POSTs for 12 creates"
    patches = sum(
        n for (m, p, _s), n in handle.stats.snapshot().items() if m == "PATCH" and p != POSTS
    )
    assert patches == expected["intervention.update"]
    # Both drainers did part of the work: the claims, not luck, kept them apart.
    assert sum(r.sent for r in reports) == 18
    assert sum(1 for r in reports if r.sent) >= 2
    with setup.connect() as conn:
        statuses = dict(
            conn.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all()
        )
        pending = conn.execute(
            select(func.count()).select_from(Intervention).where(Intervention.pending)
        ).scalar_one()
    assert statuses == {"sent": 18} and pending == 0
    setup.dispose()


def test_a_claim_left_by_a_dead_drainer_expires_and_the_item_is_resent_once(
    sqlite_engine, writable_sandbox_server
):
    handle = writable_sandbox_server
    [local_id] = _fill_outbox(sqlite_engine, handle, 1)
    # A drainer claimed the create and died before sending it.
    claimed_until = datetime.now(UTC) + CLAIM_LEASE
    with sqlite_engine.begin() as conn:
        conn.execute(
            update(OutboxItem)
            .where(OutboxItem.intervention_local_id == local_id)
            .values(status="sending", next_attempt_at=claimed_until)
        )
    handle.stats.reset()
    held = drain_outbox(sqlite_engine, _client(handle))
    assert held.sent == 0 and held.remaining == 2  # the create and the edit wait
    assert handle.stats.count(path=POSTS, method="POST") == 0

    with sqlite_engine.begin() as conn:  # the lease runs out
        conn.execute(
            update(OutboxItem)
            .where(OutboxItem.status == "sending")
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    done = drain_outbox(sqlite_engine, _client(handle))
    assert done.sent == 2 and done.remaining == 0
    assert handle.stats.count(path=POSTS, method="POST") == 1
