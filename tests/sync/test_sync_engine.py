"""The sync engine against the real sandbox server over HTTP (no mocked transport)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from services.api.contract import RESOURCES
from services.db.models import FlaggedValue, Reject, SyncRun, SyncState
from services.sandbox.faults import FaultConfig
from tests.sync.helpers import assert_indexes_complete, assert_mirrors_server, make_sync


def test_first_sync_mirrors_the_server_on_both_backends(any_engine, sandbox_server):
    report = make_sync(any_engine, sandbox_server).sync(trigger="test")
    assert report.status == "ok", report.as_dict()
    assert report.total_fetched > 0
    assert_mirrors_server(any_engine, sandbox_server)
    # The first load went in without secondary indexes; they are all back.
    assert_indexes_complete(any_engine)
    with any_engine.connect() as conn:
        states = {s.resource: s for s in conn.execute(select(SyncState.__table__))}
        run = conn.execute(select(SyncRun.__table__)).one()
    assert set(states) == set(RESOURCES)
    assert all(s.status == "ok" and s.last_success_at is not None for s in states.values())
    assert run.status == "ok"
    assert run.details["sessions"]["fetched"] == report.results["sessions"].fetched


def test_second_sync_with_nothing_new_fetches_only_the_tail(sqlite_engine, sandbox_server):
    first = make_sync(sqlite_engine, sandbox_server, page_limit=200).sync()
    second = make_sync(sqlite_engine, sandbox_server, page_limit=200).sync()
    assert first.status == second.status == "ok"
    # Each resource re-reads at most the records sharing its cursor's millisecond.
    assert second.total_fetched < first.total_fetched / 20
    assert_mirrors_server(sqlite_engine, sandbox_server)


def test_incremental_sync_after_an_hour_brings_the_new_records(
    sqlite_engine, writable_sandbox_server
):
    handle = writable_sandbox_server
    make_sync(sqlite_engine, handle).sync()
    handle.clock.advance(hours=6)
    report = make_sync(sqlite_engine, handle).sync()
    assert report.status == "ok"
    assert report.total_fetched > 0
    assert_mirrors_server(sqlite_engine, handle)


@pytest.mark.parametrize("precision", [3, 6])
def test_bulk_update_larger_than_a_page_finishes_with_probes_only_for_milliseconds(
    sqlite_engine, sandbox_server_factory, precision
):
    handle = sandbox_server_factory(time_precision=precision)
    report = make_sync(sqlite_engine, handle, page_limit=100).sync()
    assert report.status == "ok", report.as_dict()
    assert_mirrors_server(sqlite_engine, handle)
    probes = sum(r.probes for r in report.results.values())
    if precision == 6:
        assert probes == 0
    else:
        # The world's update_all group (more than 100 records at one microsecond)
        # forces at least one probe; each probe is a binary search of <= 10 requests.
        assert probes > 0
        stalls = sum(1 for r in report.results.values() if r.probes)
        assert probes <= 10 * stalls * 20


def test_cancel_stops_between_pages_and_a_second_run_resumes(sqlite_engine, sandbox_server):
    cancel = threading.Event()
    pages = []

    def on_progress(p):
        pages.append(p)
        if len(pages) == 3:
            cancel.set()

    sync = make_sync(
        sqlite_engine, sandbox_server, page_limit=50, cancel=cancel, on_progress=on_progress
    )
    first = sync.sync()
    assert first.status == "cancelled"
    assert first.total_fetched > 0
    with sqlite_engine.connect() as conn:
        statuses = set(conn.execute(select(SyncState.status)).scalars())
    assert "cancelled" in statuses
    second = make_sync(sqlite_engine, sandbox_server, page_limit=50).sync()
    assert second.status == "ok"
    assert_mirrors_server(sqlite_engine, sandbox_server)


def test_transient_faults_are_retried_and_lose_nothing(sqlite_engine, sandbox_server_factory):
    handle = sandbox_server_factory(
        faults=FaultConfig(
            seed=3, error_500_rate=0.15, drop_mid_body_rate=0.1, malformed_body_rate=0.05
        )
    )
    report = make_sync(sqlite_engine, handle, page_limit=200, attempts=8).sync()
    assert report.status == "ok", report.as_dict()
    assert handle.stats.count(status=500) > 0
    assert handle.stats.faults["drop_mid_body"] > 0
    assert handle.stats.faults["malformed_body"] > 0
    assert_mirrors_server(sqlite_engine, handle)


def test_malformed_records_go_to_rejects_with_reasons_and_the_rest_sync(
    sqlite_engine, sandbox_server_factory
):
    handle = sandbox_server_factory(faults=FaultConfig(seed=5, malformed_record_rate=0.05))
    report = make_sync(sqlite_engine, handle, page_limit=200).sync()
    assert report.status == "ok", report.as_dict()
    assert report.total_rejected > 0
    with sqlite_engine.connect() as conn:
        rejects = conn.execute(select(Reject.__table__)).all()
        flags = conn.execute(select(FlaggedValue.__table__)).all()
    reasons = " | ".join(r.reason for r in rejects)
    for expected in ("Field required", "less than or equal", "time zone", "valid integer"):
        assert expected in reasons
    assert all(r.raw.startswith("{") for r in rejects)
    assert flags
    assert all(f.value == "on_leave" for f in flags)
    # A second sync meets the same bad records again: counted, not duplicated.
    again = make_sync(sqlite_engine, handle, page_limit=200).sync()
    with sqlite_engine.connect() as conn:
        n_rejects = conn.execute(select(func.count()).select_from(Reject)).scalar_one()
    assert again.status == "ok"
    assert n_rejects == len(rejects)
