"""Cadences (DOMAIN.md "Schedules") and the `tutormax` command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from services.db.models import SyncState
from tests.sync.helpers import make_sync, server_rows
from tutormax_desktop import cli


def _set_last_success(engine, when, status="ok", attempt=None):
    with engine.begin() as conn:
        conn.execute(
            update(SyncState).values(
                last_success_at=when, status=status, last_attempt_at=attempt or when
            )
        )


def test_due_resources_follow_the_cadences(sqlite_engine, sandbox_server):
    sync = make_sync(sqlite_engine, sandbox_server)
    assert len(sync.due_resources()) == 9  # never synced: everything is due
    sync.sync()
    now = datetime.now(UTC)
    assert sync.due_resources(now) == []
    _set_last_success(sqlite_engine, now - timedelta(minutes=6))
    assert sync.due_resources(now) == ["bookings", "sessions"]
    _set_last_success(sqlite_engine, now - timedelta(minutes=16))
    assert sync.due_resources(now) == ["bookings", "sessions", "inbound_calls"]
    _set_last_success(sqlite_engine, now - timedelta(minutes=61))
    assert len(sync.due_resources(now)) == 9
    # A failed hourly resource is retried after 5 minutes, not after an hour.
    _set_last_success(
        sqlite_engine,
        now - timedelta(minutes=10),
        status="failed",
        attempt=now - timedelta(minutes=6),
    )
    assert "tutors" in sync.due_resources(now)


def test_cli_sync_then_status(sandbox_server, tmp_path, monkeypatch, capsys):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("TUTORMAX_API_TOKEN", sandbox_server.token)
    code = cli.main(["sync", "--api-url", sandbox_server.base_url, "--database", db, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["status"] == "ok"
    assert out["resources"]["sessions"]["fetched"] > 0
    assert out["outbox"] == {"sent": 0, "failed": 0, "conflicts": 0, "deferred": 0, "remaining": 0}

    assert cli.main(["status", "--database", db, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    sessions = status["resources"]["sessions"]
    on_server = server_rows(sandbox_server.world, sandbox_server.clock.read_bound_us(), "sessions")
    assert sessions["rows"] == sum(1 for _, deleted in on_server.values() if deleted is None)
    assert sessions["deleted"] == sum(1 for _, deleted in on_server.values() if deleted)
    assert sessions["status"] == "ok" and sessions["cursor_updated_at"]
    assert status["outbox_depth"] == 0
    assert status["database"]["size_bytes"] > 0

    assert cli.main(["status", "--database", db]) == 0
    text = capsys.readouterr().out
    assert "sessions" in text and "outbox depth: 0" in text


def test_cli_wrong_token_exits_3_without_printing_the_token(
    sandbox_server, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("TUTORMAX_API_TOKEN", "wrong-token-123456")
    code = cli.main(
        ["sync", "--api-url", sandbox_server.base_url, "--database", f"sqlite:///{tmp_path}/x.db"]
    )
    captured = capsys.readouterr()
    assert code == 3
    assert "token was refused (401)" in captured.out
    assert "wrong-token-123456" not in captured.out + captured.err


def test_cli_without_a_token_says_how_to_give_one(tmp_path, capsys):
    code = cli.main(
        ["sync", "--api-url", "https://ops.example.com", "--database", f"sqlite:///{tmp_path}/x.db"]
    )
    assert code == 2
    assert "TUTORMAX_API_TOKEN" in capsys.readouterr().err


def test_cli_refuses_a_bad_page_limit(capsys):
    assert cli.main(["sync", "--page-limit", "0"]) == 2
    assert "--page-limit" in capsys.readouterr().err
