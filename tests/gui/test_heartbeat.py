"""The GUI thread never stalls more than 100 ms while a full sync (demo scale), the
training and the scoring run: a 10 ms heartbeat timer on the GUI thread measures every
gap.

The sandbox serves from its own process, as the company's API would from its own
machine (niced, so that on a two-core test box it does not take the CPU the app's
process needs: a remote server would not be using it at all).
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QElapsedTimer, Qt, QTimer

import services.jobs
from services.settings import Settings
from tests.fixtures.sandbox_process import start_sandbox_process, stop

TOKEN = "heartbeat-sandbox-token"
STALL_LIMIT_MS = 100


class Heartbeat:
    """A precise 10 ms timer on the GUI thread; records the gaps between its ticks, and
    from ``mark()`` on, separately (the phase under test)."""

    def __init__(self) -> None:
        self.gaps: list[int] = []
        self.marked: list[int] = []
        self._marking = False
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._beat)
        self._last = 0

    def start(self) -> None:
        self._clock.start()
        self._last = 0
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def mark(self) -> None:
        self._marking = True

    def _beat(self) -> None:
        now = self._clock.elapsed()
        gap = now - self._last
        self.gaps.append(gap)
        if self._marking:
            self.marked.append(gap)
        self._last = now

    @property
    def worst(self) -> int:
        return max(self.marked, default=0)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_gui_thread_never_stalls_during_a_first_sync_training_and_scoring(
    qtbot, make_window, monkeypatch
):
    """First run on the demo sandbox, as a manager sees it: the sync, then (no model
    exists yet) the catch-up of the nightly retraining, then scoring with the new models,
    each in its own process as the app runs them, the status bar saying what happens;
    the heartbeat measures the GUI thread from the sync's start to the scores shown."""
    server, url = start_sandbox_process("demo", TOKEN)
    try:
        monkeypatch.setenv("TUTORMAX_API_TOKEN", TOKEN)
        # The real jobs (forecasts and alerts are other issues' and have their own tests).
        monkeypatch.setattr(
            services.jobs, "JOB_PROVIDERS", ("services.training", "services.scoring")
        )
        window = make_window(Settings(api_url=url), start=False)
        window.show()
        qtbot.waitExposed(window)
        status: list[str] = []
        window.statusBar().messageChanged.connect(lambda m: m and status.append(m))
        beat = Heartbeat()
        beat.start()
        # Measured from the moment the sync starts (the database has opened by then).
        window.shell.sync.sig_busy_changed.connect(lambda busy: busy and beat.mark())
        started = time.monotonic()
        window.shell.start(sync_at_start=True)  # the window has painted (waitExposed)

        def scored() -> bool:
            records = window.shell.runner.history.records()
            return any(r.name == "score" and r.status != "running" for r in records) or any(
                r.name == "train" and r.status not in ("running", "ok") for r in records
            )

        qtbot.waitUntil(scored, timeout=900_000)
        qtbot.waitUntil(lambda: not window.shell.runner.busy, timeout=60_000)
        qtbot.waitUntil(
            lambda: (
                (d := window.shell.dashboard.dashboard) is not None and d.scoring_run is not None
            ),
            timeout=30_000,
        )
        qtbot.wait(300)  # the reloads after the job land and paint
        beat.stop()
        elapsed = time.monotonic() - started
        records = {r.name: r for r in window.shell.runner.history.records()}
        sync, train, score = records["sync"], records["train"], records["score"]
        assert sync.status == "ok", sync.error
        assert train.status == "ok", train.error
        assert score.status == "ok", score.error
        # In that order, one after the other (the scheduler's records, oldest first).
        runs = [(r.name, r.trigger) for r in window.shell.scheduler.scheduler.history()]
        assert runs == [("train", "nightly"), ("score", "after_sync")]
        assert sync.started_at < train.started_at < score.started_at
        assert window.shell.sync.model.value("sessions", "rows") > 40_000  # demo scale
        # Progress in the status bar: why the training runs, its steps, the results.
        assert any("no trained model yet" in m for m in status), status
        assert any(m.startswith("Retraining: training ") for m in status), status
        assert any(m.startswith("Scoring: ") and "tutors" in m for m in status), status
        dash = window.shell.dashboard.dashboard
        assert dash.tiers and sum(dash.tiers.values()) > 100  # predictions on the dashboard
        gaps = sorted(beat.marked)
        startup_worst = max(beat.gaps[: len(beat.gaps) - len(beat.marked)], default=0)
        print(
            f"\nheartbeat over {elapsed:.1f}s: {len(gaps)} beats during sync, training and "
            f"scoring, worst gap {beat.worst} ms, p99 {gaps[int(len(gaps) * 0.99)]} ms; sync "
            f"{sync.seconds:.1f}s, training {train.seconds:.1f}s, scoring {score.seconds:.1f}s;"
            f" start-up (database opening, pages loading) worst {startup_worst} ms"
        )
        assert beat.worst < STALL_LIMIT_MS, f"the GUI thread stalled {beat.worst} ms"
        # The start-up (database opening, pages loading) is printed, not bounded: on a
        # busy two-core box it measured 79-113 ms (see the report of issue 4).
    finally:
        stop(server)
