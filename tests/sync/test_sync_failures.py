"""Bad days on the wire: rate limits, huge pages, wrong tokens, a server that dies."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.api.client import RailsApiClient, RetryPolicy
from services.api.errors import UnavailableError
from services.db.models import SyncState, TutoringSession
from services.sandbox.faults import FaultConfig
from services.sync.engine import SyncEngine
from tests.sync.helpers import assert_mirrors_server, make_sync


def test_429_storm_is_waited_out_with_retry_after(sqlite_engine, sandbox_server_factory):
    handle = sandbox_server_factory(faults=FaultConfig(storm_429=3, retry_after_seconds=2))
    waits: list[float] = []
    client = RailsApiClient(
        handle.base_url, handle.token, retry=RetryPolicy(max_attempts=6), sleep=waits.append
    )
    report = SyncEngine(sqlite_engine, client, concurrency=1).sync(["managers"])
    assert report.status == "ok"
    assert handle.stats.count(status=429) == 3
    # Each 429 was honoured for exactly the server's Retry-After, not our own backoff.
    assert waits == [2.0, 2.0, 2.0]


def test_429s_beyond_the_retry_budget_fail_the_resource_and_keep_the_rest(
    sqlite_engine, sandbox_server_factory
):
    handle = sandbox_server_factory()
    make_sync(sqlite_engine, handle).sync(["tutors"])
    handle.faults = FaultConfig(storm_429=1000, retry_after_seconds=0)
    report = make_sync(sqlite_engine, handle, attempts=3).sync(["tutors", "managers"])
    assert report.status == "failed"
    assert "rate limited" in report.results["tutors"].error
    assert "gave up after 3 attempts" in report.results["tutors"].error
    with sqlite_engine.connect() as conn:
        state = conn.execute(
            select(SyncState.__table__).where(SyncState.resource == "tutors")
        ).one()
    assert state.status == "failed"
    assert "429" in state.last_error
    handle.faults = None
    assert make_sync(sqlite_engine, handle).sync(["tutors", "managers"]).status == "ok"
    assert_mirrors_server(sqlite_engine, handle, ["tutors", "managers"])


def test_a_10_mb_page_is_taken_in_stride(sqlite_engine, sandbox_server_factory):
    handle = sandbox_server_factory(faults=FaultConfig(huge_page=1))
    report = make_sync(sqlite_engine, handle).sync(["sessions"])
    assert report.status == "ok"
    assert handle.stats.faults["huge_page"] == 1
    assert_mirrors_server(sqlite_engine, handle, ["sessions"])


def test_wrong_token_stops_everything_with_a_clear_message_and_keeps_data(
    sqlite_engine, sandbox_server
):
    assert make_sync(sqlite_engine, sandbox_server).sync(["tutors"]).status == "ok"
    with sqlite_engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(TutoringSession)).scalar_one()
    report = make_sync(sqlite_engine, sandbox_server, token="not-the-token").sync()
    assert report.status == "auth_failed"
    errors = {r.error for r in report.results.values() if r.status == "auth_failed"}
    assert errors
    assert all("token was refused (401)" in e for e in errors)
    assert all("not-the-token" not in (r.error or "") for r in report.results.values())
    with sqlite_engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(TutoringSession)).scalar_one()
    assert after == before
    # One 401 is enough: the other fetchers stop instead of hammering the server.
    assert sandbox_server.stats.count(status=401) <= 3
    assert_mirrors_server(sqlite_engine, sandbox_server, ["tutors"])


def test_server_dying_mid_sync_fails_cleanly_and_the_next_run_resumes(
    sqlite_engine, sandbox_server_factory
):
    handle = sandbox_server_factory()
    port_world = handle.world
    pages = []

    def on_progress(p):
        pages.append(p)
        if len(pages) == 2:
            handle.server.stop()

    report = make_sync(
        sqlite_engine, handle, page_limit=100, attempts=2, concurrency=1, on_progress=on_progress
    ).sync(["sessions"])
    assert report.status == "failed"
    assert "connection failed" in report.results["sessions"].error
    with sqlite_engine.connect() as conn:
        kept = conn.execute(select(func.count()).select_from(TutoringSession)).scalar_one()
    assert kept >= 200
    revived = sandbox_server_factory(world=port_world)
    report = make_sync(sqlite_engine, revived).sync(["sessions"])
    assert report.status == "ok"
    assert_mirrors_server(sqlite_engine, revived, ["sessions"])


def test_client_gives_up_after_its_attempts_with_the_reason(sandbox_server):
    client = RailsApiClient(
        "http://127.0.0.1:9", "t", retry=RetryPolicy(max_attempts=2, base_delay=0.01)
    )
    with pytest.raises(UnavailableError, match=r"connection failed.*gave up after 2 attempts"):
        client.get_page("tutors")
