"""kill -9 in the middle of `tutormax sync`, then sync again: exactly the server's rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from services.db.models import SyncState, TutoringSession
from services.sandbox.faults import FaultConfig
from tests.sync.helpers import assert_indexes_complete, assert_mirrors_server, make_sync


def _committed_sessions(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(TutoringSession)).scalar_one()


def test_kill_9_mid_sync_then_resume_ends_with_exactly_the_servers_rows(
    tmp_path, sqlite_engine, sandbox_server_factory
):
    # Slow pages so the kill lands mid-run, with several resources in flight.
    handle = sandbox_server_factory(faults=FaultConfig(slow_ms=15))
    env = dict(os.environ, TUTORMAX_API_TOKEN=handle.token)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tutormax_desktop.cli",
            "sync",
            "--api-url",
            handle.base_url,
            "--database",
            str(sqlite_engine.url),
            "--page-limit",
            "25",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _committed_sessions(sqlite_engine) < 100:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sync never got going"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    with sqlite_engine.connect() as conn:
        running = conn.execute(
            select(func.count()).select_from(SyncState).where(SyncState.status == "running")
        ).scalar_one()
    assert running > 0, "the kill should have caught resources mid-sync"
    handle.faults = None
    report = make_sync(sqlite_engine, handle).sync(trigger="after-crash")
    assert report.status == "ok", report.as_dict()
    assert_mirrors_server(sqlite_engine, handle)
    # The killed run was loading without indexes; the resumed one put them back.
    assert_indexes_complete(sqlite_engine)
