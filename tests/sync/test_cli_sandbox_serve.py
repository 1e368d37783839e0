"""`tutormax sandbox serve` in its own process, then `tutormax sync` and `status` against it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx

from tutormax_desktop import cli

TOKEN = "cli-sandbox-token"


def test_sandbox_serve_then_sync_fills_the_database(tmp_path, monkeypatch, capsys):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tutormax_desktop.cli",
            "sandbox",
            "serve",
            "--scale",
            "tiny",
            "--seed",
            "7",
            "--token",
            TOKEN,
            "--clock",
            "fixed",
            "--anchor",
            "2026-11-20T12:00:00Z",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = None
        for line in proc.stdout:
            m = re.search(r"serving at (http://127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
                break
        assert url, "the server never printed its base URL"
        assert httpx.get(f"{url}/api/v1/health").json()["status"] == "ok"

        db = f"sqlite:///{tmp_path / 'cli.db'}"
        monkeypatch.setenv("TUTORMAX_API_TOKEN", TOKEN)
        assert cli.main(["sync", "--api-url", url, "--database", db]) == 0
        out = capsys.readouterr().out
        assert re.search(r"ok: \d+ records in", out)
        assert cli.main(["status", "--database", db, "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        for name in ("tutors", "customers", "sessions", "bookings", "engagement_events"):
            assert status["resources"][name]["rows"] > 0, name
            assert status["resources"][name]["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode == 0  # SIGTERM is a clean stop
