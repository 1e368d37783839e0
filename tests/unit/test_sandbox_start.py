"""Starting the built-in sandbox's process (tutormax_desktop.backend): a start that fails
says why, and a cancelled one is a cancellation, not an outage."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field

import pytest

from services.api import errors
from services.settings import Settings
from tutormax_desktop import launcher
from tutormax_desktop.backend import Backend, OfflineError
from tutormax_desktop.context import AppContext
from tutormax_desktop.paths import app_paths

DIES = "print('Building the demo sandbox world (seed 42)...'); print('OSError: [Errno 98] Address already in use'); raise SystemExit(3)"  # noqa: E501


@dataclass
class _State:
    cancel_event: threading.Event = field(default_factory=threading.Event)
    said: list[str] = field(default_factory=list)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def progress(self, value: object) -> None:
        self.said.append(str(value))


@pytest.fixture
def backend(monkeypatch):
    monkeypatch.setattr(launcher, "cli_command", lambda *args: [sys.executable, "-c", DIES])
    made = Backend(AppContext(app_paths().ensure(), Settings()))
    yield made
    made.stop_sandbox()


def test_a_sandbox_that_dies_on_start_says_why(backend):
    state = _State()
    with pytest.raises(OfflineError) as caught:
        backend._sandbox_server(state)
    assert "did not start (exit code 3)" in str(caught.value)
    assert "Address already in use" in str(caught.value)
    assert state.said == ["Starting the sandbox marketplace…"]


def test_a_cancelled_start_is_a_cancellation(backend):
    state = _State()
    state.cancel_event.set()
    with pytest.raises(errors.CancelledError):
        backend._sandbox_server(state)
