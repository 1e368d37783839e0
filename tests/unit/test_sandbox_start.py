"""Starting the built-in sandbox's process (tutormax_desktop.backend): a start that fails
says why, and a cancelled one is a cancellation, not an outage."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from services.api import errors
from services.settings import Settings
from tutormax_desktop import launcher
from tutormax_desktop.backend import Backend, OfflineError
from tutormax_desktop.context import AppContext
from tutormax_desktop.paths import app_paths
from viewmodels.tasks import TaskState

DIES = "print('Building the demo sandbox world (seed 42)...'); print('OSError: [Errno 98] Address already in use'); raise SystemExit(3)"  # noqa: E501


QUIET = "print('Building the full sandbox world (seed 42)...', flush=True); import time; time.sleep(120)"  # noqa: E501


@pytest.fixture
def start_with(monkeypatch):
    made: list[Backend] = []

    def make(script: str) -> Backend:
        monkeypatch.setattr(launcher, "cli_command", lambda *args: [sys.executable, "-c", script])
        made.append(Backend(AppContext(app_paths().ensure(), Settings())))
        return made[-1]

    yield make
    for backend in made:
        backend.stop_sandbox()


@pytest.fixture
def backend(start_with):
    return start_with(DIES)


def test_a_sandbox_that_dies_on_start_says_why(backend):
    said: list[object] = []
    with pytest.raises(OfflineError) as caught:
        backend._sandbox_server(TaskState(said.append))
    assert "did not start (exit code 3)" in str(caught.value)
    assert "Address already in use" in str(caught.value)
    assert said == ["Starting the sandbox marketplace…"]


def test_a_cancelled_start_is_a_cancellation(backend):
    state = TaskState(lambda _value: None)
    state.cancel_event.set()
    with pytest.raises(errors.CancelledError):
        backend._sandbox_server(state)


def test_a_start_is_cancelled_while_the_server_says_nothing(start_with):
    # A full-scale world takes half a minute to build before the server says a word; a
    # cancel (the app quitting, a settings change) must not wait for it.
    backend = start_with(QUIET)
    state = TaskState(lambda _value: None)
    seen: list[object] = []

    def cancel_soon() -> None:
        while backend._sandbox_proc is None:
            time.sleep(0.05)
        seen.append(backend._sandbox_proc)
        time.sleep(1.0)
        state.cancel_event.set()

    threading.Thread(target=cancel_soon, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(errors.CancelledError):
        backend._sandbox_server(state)
    assert time.monotonic() - started < 20  # the child would be quiet for 120 s
    assert seen and seen[0].poll() is not None  # and it was stopped
