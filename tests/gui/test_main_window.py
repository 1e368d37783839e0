"""The first window, offscreen: a background sync fills the table; the GUI stays live."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.settings import Settings
from tutormax_desktop.context import AppContext
from tutormax_desktop.gui import NO_DISPLAY_MESSAGE, build_window, has_display, main
from tutormax_desktop.paths import app_paths
from viewmodels.sync_status import ResourceStatusModel

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def window(qtbot, sandbox_server, monkeypatch):
    monkeypatch.setenv("TUTORMAX_API_TOKEN", sandbox_server.token)
    ctx = AppContext(app_paths().ensure(), Settings(api_url=sandbox_server.base_url))
    win = build_window(ctx)
    qtbot.addWidget(win)
    yield win
    win.vm.cancel()
    ctx.close()


def test_sync_now_runs_in_the_background_and_fills_the_table(qtbot, window):
    window.show()
    with qtbot.waitSignal(window.vm.sig_busy_changed, timeout=5000) as started:
        window.vm.sync_now()
    assert started.args == [True]
    assert not window.sync_button.isEnabled() and window.cancel_button.isEnabled()
    # The GUI thread is free while the sync runs: a second press is ignored, not queued.
    window.vm.sync_now()
    with qtbot.waitSignal(window.vm.sig_busy_changed, timeout=60_000) as done:
        pass
    assert done.args == [False]
    model = window.vm.model
    qtbot.waitUntil(lambda: model.value("sessions", "rows") > 0, timeout=10_000)
    assert model.value("sessions", "status") == "ok"
    assert "Sync ok" in window.statusBar().currentMessage()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "main_window_offscreen.png"))


def test_status_model_emits_only_on_change(qtbot):
    model = ResourceStatusModel(["tutors", "sessions"])
    with qtbot.waitSignal(model.dataChanged, timeout=1000):
        model.update_resource("tutors", rows=5)
    with qtbot.assertNotEmitted(model.dataChanged):
        model.update_resource("tutors", rows=5)
    assert model.data(model.index(0, 2)) == "5"
    assert model.rowCount() == 2 and model.columnCount() == 6


def test_headless_start_names_xvfb_run(monkeypatch, capsys):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert not has_display()
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "xvfb-run" in err
    assert err.strip() == NO_DISPLAY_MESSAGE.strip()
