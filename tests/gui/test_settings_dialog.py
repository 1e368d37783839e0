"""Settings and first run: "Test connection" against a real server, and the token typed
in the dialog lands in a real Secret Service keychain (gnome-keyring) and nowhere else."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialogButtonBox

from services import credentials
from services.settings import Settings, load_settings
from tests.gui.conftest import wait_ready
from tutormax_desktop.backend import Backend
from tutormax_desktop.context import AppContext
from tutormax_desktop.paths import app_paths
from ui.settings_dialog import SettingsDialog
from viewmodels.settings import SettingsViewModel
from viewmodels.tasks import TaskRunner


@pytest.fixture
def settings_vm(qtbot):
    ctx = AppContext(app_paths().ensure(), Settings())
    backend = Backend(ctx)
    runner = TaskRunner()
    vm = SettingsViewModel(
        runner, lambda: backend.settings, backend.test_connection, backend.apply_settings
    )
    yield vm, backend
    runner.shutdown()
    backend.close()


def _dialog(qtbot, vm, *, first_run=False) -> SettingsDialog:
    ui = QSettings(
        str(Path(os.environ["TUTORMAX_HOME"]) / "config" / "ui.ini"), QSettings.Format.IniFormat
    )
    dialog = SettingsDialog(vm, None, ui, first_run=first_run)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_token_from_the_dialog_lands_in_the_keychain_and_nowhere_else(
    qtbot, settings_vm, secret_service, sandbox_server, make_window
):
    home = Path(os.environ["TUTORMAX_HOME"])
    vm, _ = settings_vm
    dialog = _dialog(qtbot, vm)
    dialog.api_radio.setChecked(True)
    dialog.url.setText(sandbox_server.base_url)

    # A wrong token: the test says so (health passes, the authenticated call does not).
    dialog.token.setText("not-the-token")
    with qtbot.waitSignal(vm.sig_test_result, timeout=15_000) as result:
        dialog.test_button.click()
    assert result.args[0] is False and "refused" in result.args[1]
    assert "refused" in dialog.test_result.text()

    dialog.token.setText(sandbox_server.token)
    with qtbot.waitSignal(vm.sig_test_result, timeout=15_000) as result:
        dialog.test_button.click()
    assert result.args[0] is True, result.args[1]
    assert "accepted the token" in dialog.test_result.text()

    with qtbot.waitSignal(vm.sig_saved, timeout=15_000):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.token.text() == ""  # not kept in the widget either

    url = sandbox_server.base_url
    # In the keychain, read back through libsecret (not through our code).
    looked_up = subprocess.run(
        ["secret-tool", "lookup", "service", credentials.SERVICE, "username", url],
        env=dict(os.environ, **secret_service),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert looked_up.stdout.strip() == sandbox_server.token
    # The settings file names the API but holds no token.
    saved = load_settings(app_paths().settings_file)
    assert saved.api_url == url
    for path in home.rglob("*"):
        if path.is_file():
            assert sandbox_server.token not in path.read_text(errors="replace"), path

    # The app syncs with the keychain's token (no TUTORMAX_API_TOKEN in the environment).
    assert "TUTORMAX_API_TOKEN" not in os.environ
    window = make_window(load_settings(app_paths().settings_file))
    wait_ready(qtbot, window)
    with qtbot.waitSignal(window.shell.sync.sig_sync_landed, timeout=60_000) as landed:
        window.sync_now()
    assert landed.args[0].status == "ok"
    for path in home.rglob("*"):
        if path.is_file() and path.suffix not in (".db", ".db-wal", ".db-shm"):
            assert sandbox_server.token not in path.read_text(errors="replace"), path
    credentials.forget_token(url)


def test_first_run_choice_of_the_sandbox_writes_the_settings(qtbot, settings_vm):
    vm, backend = settings_vm
    assert backend.first_run
    dialog = _dialog(qtbot, vm, first_run=True)
    assert dialog.windowTitle() == "Welcome to TutorMax Desktop"
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Save).text() == "Start"
    dialog.sandbox_radio.setChecked(True)
    assert not dialog.api_box.isEnabled()
    with qtbot.waitSignal(vm.sig_saved, timeout=10_000):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert not backend.first_run
    assert load_settings(app_paths().settings_file).api_url is None


def test_invalid_input_is_explained_not_saved(qtbot, settings_vm):
    vm, backend = settings_vm
    dialog = _dialog(qtbot, vm)
    dialog.api_radio.setChecked(True)
    dialog.url.setText("")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert "base URL" in dialog.error.text()
    dialog.url.setText("http://ops.example.com")  # plain http to a remote host
    dialog.token.setText("x")
    with qtbot.waitSignal(vm.sig_error, timeout=10_000) as err:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert "https" in err.args[0]
    assert backend.first_run  # nothing written
