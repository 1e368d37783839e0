"""The packaged app's checks, run from source: ``tutormax-desktop --self-test`` and the
team deployment's ``tutormax worker`` against a real PostgreSQL and a sandbox over HTTP.

Both run as their own processes through the same entry point a bundle uses
(``tutormax_desktop/launcher.py``), so the helper processes they start (the sandbox
server, the sync, every job) go through the code path a frozen app takes. The full
self-test (demo scale: it trains) runs once per module; the worker scores with the
models it trained, so the module trains only once.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from sqlalchemy import func, select

from services.db.engine import make_engine
from services.db.migrate import current_revision, head_revision, migrate
from services.db.models import (
    Intervention,
    ScoringRun,
    SyncState,
    TutoringSession,
    TutorPrediction,
)
from services.interventions import create_intervention
from tests.sync.helpers import server_rows
from viewmodels.shell import PAGES

ROOT = Path(__file__).resolve().parents[2]

# One xdist worker runs the whole module (`make test` uses --dist loadgroup), so the
# full self-test fixture that trains the models runs once, not once per worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("self_test_and_worker")]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TUTORMAX_API_TOKEN",)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def self_test(folder: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tutormax_desktop.launcher", "--self-test",
         "--self-test-dir", str(folder), *args],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _step_lines(stdout: str) -> dict[str, str]:
    return {m.group(2): m.group(1) for m in re.finditer(r"^\s+(ok|FAIL)\s+(\w+)\s", stdout, re.M)}


def _database(folder: Path, scale: str) -> Path:
    return folder / "home" / "data" / "sources" / f"sandbox-{scale}-42" / "tutormax.db"


def _assert_screenshots(folder: Path) -> None:
    shots = sorted((folder / "screens").glob("*.png"))
    assert sorted(p.stem.split("-", 1)[1] for p in shots) == sorted(PAGES)
    for path in shots:
        image = QImage(str(path))
        assert not image.isNull() and image.width() >= 900, path
        # A page, not a blank grab: more than a few colours in the picture.
        colours = {image.pixel(x, y) for x in range(0, image.width(), 37)
                   for y in range(0, image.height(), 29)}  # fmt: skip
        assert len(colours) > 3, f"{path.name} looks blank"


def test_self_test_without_training_passes_fast(tmp_path):
    result = self_test(
        tmp_path, "--self-test-scale", "tiny", "--self-test-steps", "qt,database,sync,pages"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _step_lines(result.stdout) == dict.fromkeys(("qt", "database", "sync", "pages"), "ok")
    assert "self-test passed: 4 steps" in result.stdout
    _assert_screenshots(tmp_path)
    engine = make_engine(f"sqlite:///{_database(tmp_path, 'tiny')}")
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            sessions = select(func.count()).select_from(TutoringSession)
            assert conn.execute(sessions).scalar_one() > 100
    finally:
        engine.dispose()


def test_self_test_names_the_step_that_failed_and_keeps_its_files(tmp_path):
    # A tiny marketplace has too little history to train on: the jobs step must fail
    # with the reason, exit 1 and leave its log behind.
    result = self_test(
        tmp_path, "--self-test-scale", "tiny", "--self-test-steps", "database,sync,jobs"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert _step_lines(result.stdout) == {"database": "ok", "sync": "ok", "jobs": "FAIL"}
    assert "FAILED at jobs:" in result.stdout and "too little history" in result.stdout
    assert "Traceback" in (tmp_path / "self-test.log").read_text()


def test_self_test_refuses_unknown_steps(tmp_path):
    result = self_test(tmp_path, "--self-test-steps", "qt,teleport", timeout=120)
    assert result.returncode == 2 and "unknown steps ['teleport']" in result.stdout


@pytest.fixture(scope="module")
def full_self_test(tmp_path_factory):
    folder = tmp_path_factory.mktemp("self-test")
    started = time.monotonic()
    result = self_test(folder)
    return folder, result, time.monotonic() - started


def test_full_self_test_migrates_syncs_trains_scores_and_renders(full_self_test):
    folder, result, _seconds = full_self_test
    assert result.returncode == 0, result.stdout + result.stderr
    assert _step_lines(result.stdout) == {
        "qt": "ok", "database": "ok", "sync": "ok", "jobs": "ok", "pages": "ok",
    }  # fmt: skip
    assert re.search(r"job train \([\d.]+ s\): trained tutor_churn v1", result.stdout)
    assert re.search(r"job score \([\d.]+ s\): [\d,]+ tutors", result.stdout)
    _assert_screenshots(folder)
    engine = make_engine(f"sqlite:///{_database(folder, 'demo')}")
    try:
        with engine.connect() as conn:
            runs = conn.execute(select(ScoringRun.status)).scalars().all()
            scored = conn.execute(select(func.count()).select_from(TutorPrediction)).scalar_one()
        assert runs and set(runs) == {"ok"} and scored > 100
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- the worker


class Worker:
    """``tutormax worker`` as its own process, its stdout collected line by line."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tutormax_desktop.launcher", "--tutormax-cli", "worker",
             *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r}; output:\n{self.output}")

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _connections(postgres_server, url: str) -> int:
    database = url.split("/")[-1].split("?")[0]
    with postgres_server.connect() as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchone()[0]


@pytest.mark.postgres
def test_worker_syncs_and_scores_into_postgres_and_stops_on_sigterm(
    full_self_test, postgres_server, postgres_url, writable_sandbox_server, tmp_path
):
    folder, result, _ = full_self_test
    assert result.returncode == 0, "needs the models the full self-test trained"
    trained = folder / "home" / "data" / "sources" / "sandbox-demo-42" / "models"
    models = tmp_path / "models"
    shutil.copytree(trained, models)
    handle = writable_sandbox_server
    worker = Worker(
        "--database", postgres_url, "--api-url", handle.base_url,
        "--models-dir", str(models), "--tick", "1",
        env=_env(TUTORMAX_HOME=str(tmp_path / "home"), TUTORMAX_API_TOKEN=handle.token),
    )  # fmt: skip
    try:
        worker.wait_for(r"tutormax\.worker: sync ok: \d+ records", timeout=180)
        worker.wait_for(r"job score ok in", timeout=600)
        code = worker.terminate()
    finally:
        worker.kill()
    assert code == 0, worker.output
    assert "stopping (SIGTERM)" in worker.output and "worker stopped" in worker.output
    # Jobs this build lacks would be named; each job that ran says how it ended.
    assert re.search(r"job train (ok|failed) in", worker.output)
    assert _connections(postgres_server, postgres_url) == 0  # the database is released
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            states = conn.execute(select(SyncState.resource, SyncState.status)).all()
            runs = conn.execute(select(ScoringRun.status)).scalars().all()
            scored = conn.execute(select(func.count()).select_from(TutorPrediction)).scalar_one()
    finally:
        engine.dispose()
    assert states and {s for _r, s in states} == {"ok"}
    assert "ok" in runs and scored > 10
    # It synced from the sandbox over HTTP (the server counted the pages).
    assert handle.stats.count(path="/api/v1/sessions", status=200) >= 1


@pytest.mark.postgres
def test_sigterm_while_a_job_runs_cancels_it_and_exits_zero(
    postgres_server, postgres_url, writable_sandbox_server, tmp_path
):
    handle = writable_sandbox_server
    worker = Worker(
        "--database", postgres_url, "--api-url", handle.base_url, "--tick", "30",
        env=_env(TUTORMAX_HOME=str(tmp_path / "home"), TUTORMAX_API_TOKEN=handle.token),
    )  # fmt: skip
    try:
        # No model yet: the first training starts right after the first sync.
        worker.wait_for(r"job train started", timeout=180)
        code = worker.terminate(timeout=60)
    finally:
        worker.kill()
    assert code == 0, worker.output
    assert "stopping (SIGTERM)" in worker.output
    line = worker.wait_for(r"job train (cancelled|failed|ok) in", timeout=1)
    assert "worker stopped" in worker.output.split(line, 1)[1]
    assert _connections(postgres_server, postgres_url) == 0


@pytest.mark.postgres
def test_the_worker_sends_what_a_desktop_wrote_to_the_shared_database(
    postgres_url, writable_sandbox_server, tmp_path
):
    handle = writable_sandbox_server
    now = handle.clock.read_bound_us()
    # A desktop on the team database records an intervention (local row + outbox item).
    desktop = make_engine(postgres_url)
    try:
        migrate(desktop)
        local_id = create_intervention(
            desktop,
            tutor_id=min(server_rows(handle.world, now, "tutors")),
            intervention_type="manager_coaching",
            priority=80,
            due_at=datetime.now(UTC) + timedelta(hours=48),
            assigned_to_id=min(server_rows(handle.world, now, "managers")),
            reason="written by a desktop",
            actor="desktop-1",
        )
    finally:
        desktop.dispose()
    result = subprocess.run(
        [sys.executable, "-m", "tutormax_desktop.launcher", "--tutormax-cli", "worker",
         "--database", postgres_url, "--api-url", handle.base_url, "--ticks", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=_env(TUTORMAX_HOME=str(tmp_path / "home"), TUTORMAX_API_TOKEN=handle.token),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outbox: {'sent': 1" in result.stdout
    assert handle.stats.count(path="/api/v1/interventions", method="POST") == 1
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(Intervention.id, Intervention.pending).where(
                    Intervention.local_id == local_id
                )
            ).one()
    finally:
        engine.dispose()
    assert row.id is not None and not row.pending
