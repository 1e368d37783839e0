"""`tutormax sandbox serve` in its own process, then `tutormax sync` and `status` against it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

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


# The app (this script) starts the server through a go-between, as a PyInstaller bundle
# on Linux does (its bootloader process runs the Python one): the server's parent is
# the go-between, and it must still end with the app.
PARENT = """
import os, subprocess, sys, time
go_between = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"
child = subprocess.Popen(
    [sys.executable, "-c", go_between, sys.executable, "-m", "tutormax_desktop.cli",
     "sandbox", "serve", "--scale", "tiny", "--token", "t", "--app-pid", str(os.getpid())],
    stdout=subprocess.PIPE, text=True,
)
for line in child.stdout:
    if "serving at" in line:
        with open(f"/proc/{child.pid}/task/{child.pid}/children") as f:
            print(f.read().split()[0], flush=True)
        break
else:
    print(0, flush=True)  # it never served
time.sleep(600)
"""


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whoever adopts it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_sandbox_started_by_the_app_ends_when_the_app_is_killed():
    # The app passes --app-pid; killed outright (no shutdown code runs), it must not
    # leave its sandbox serving on a port forever.
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    server = 0
    try:
        assert parent.stdout is not None
        server = int(parent.stdout.readline())
        assert server and _running(server), "the sandbox did not start"
        with open(f"/proc/{server}/stat") as f:
            assert int(f.read().rsplit(")", 1)[1].split()[1]) != parent.pid  # not its child
        assert os.getpriority(os.PRIO_PROCESS, server) == min(
            19, os.getpriority(os.PRIO_PROCESS, 0) + 10
        )
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _running(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(server), "the sandbox outlived the app that started it"
    finally:
        parent.kill()
        if server and _running(server):
            os.kill(server, signal.SIGKILL)
