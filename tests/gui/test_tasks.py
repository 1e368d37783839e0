"""The task runner: off the GUI thread, results by signal, no overlap, cancel, history."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QSortFilterProxyModel, Qt

from viewmodels.tasks import SORT_ROLE, TaskRunner


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    assert r.shutdown(10_000)


def test_work_runs_off_the_gui_thread_and_results_come_back_on_it(qtbot, runner):
    gui = threading.get_ident()
    seen = {}

    def work(state):
        seen["worker"] = threading.get_ident()
        state.progress("half way")
        return 42

    progress = []

    def done(value):
        seen["callback"] = threading.get_ident()
        seen["value"] = value

    with qtbot.waitSignal(runner.sig_finished, timeout=5000) as finished:
        rec = runner.submit("answer", work, on_success=done, on_progress=progress.append)
    assert rec is not None
    assert seen["worker"] != gui
    assert seen["callback"] == gui and seen["value"] == 42
    assert progress == ["half way"]
    assert finished.args[0].status == "ok" and finished.args[0].seconds is not None


def test_a_task_never_overlaps_with_itself_and_coalesces_reruns(qtbot, runner):
    gate = threading.Event()
    runs = []

    def work(_state):
        runs.append(1)
        gate.wait(5)
        return len(runs)

    assert runner.submit("refresh", work) is not None
    assert runner.is_running("refresh")
    assert runner.submit("refresh", work) is None  # refused
    assert runner.submit("refresh", work, coalesce=True) is None  # remembered
    assert runner.submit("refresh", work, coalesce=True) is None  # still just once more
    with qtbot.waitSignal(runner.sig_finished, timeout=5000):
        gate.set()
    qtbot.waitUntil(lambda: not runner.is_running("refresh") and len(runs) == 2, timeout=5000)
    runner.wait_for_done(5000)
    qtbot.waitUntil(lambda: not runner.running_names(), timeout=5000)
    assert len(runs) == 2


def test_cancel_and_failure_are_recorded_with_their_reason(qtbot, runner):
    def slow(state):
        while not state.cancelled:
            time.sleep(0.01)
        raise RuntimeError("stopped")

    failures = []
    rec = runner.submit("slow", slow, on_failure=lambda exc, tb: failures.append(exc))
    with qtbot.waitSignal(runner.sig_finished, timeout=5000):
        assert runner.cancel("slow")
    assert rec.status == "cancelled" and rec.summary == "cancelled"
    assert isinstance(failures[0], RuntimeError)

    def boom(_state):
        raise ValueError("bad input")

    with qtbot.waitSignal(runner.sig_finished, timeout=5000) as finished:
        runner.submit("boom", boom)
    assert finished.args[0].status == "failed"
    assert finished.args[0].error == "ValueError: bad input"


def test_busy_signal_and_the_history_model_sort_without_a_view(qtbot, runner):
    busy = []
    runner.sig_busy_changed.connect(busy.append)
    with qtbot.waitSignal(runner.sig_finished, timeout=5000):
        runner.submit("b", lambda s: time.sleep(0.05) or "second", summarize=str, title="B")
    with qtbot.waitSignal(runner.sig_finished, timeout=5000):
        runner.submit("a", lambda s: "first", summarize=str, title="A")
    # Unrecorded tasks (quick reads) neither enter the history nor flash the busy bar.
    with qtbot.waitSignal(runner.sig_finished, timeout=5000):
        runner.submit("read", lambda s: 1, record=False)
    assert busy == [True, False, True, False]
    model = runner.history
    assert model.rowCount() == 2
    assert model.index(0, 0).data() == "A"  # newest first
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(3, Qt.SortOrder.DescendingOrder)  # by duration
    assert proxy.index(0, 0).data() == "B"
    assert proxy.index(0, 5).data() == "second"
    assert proxy.index(0, 4).data() == "ok"


def test_shutdown_cancels_and_refuses_new_work(qtbot):
    runner = TaskRunner()
    started = threading.Event()

    def loop(state):
        started.set()
        while not state.cancelled:
            time.sleep(0.01)

    runner.submit("loop", loop)
    assert started.wait(5)
    assert runner.shutdown(5000)
    assert runner.submit("late", lambda s: 1) is None
