"""A second launch raises the first window; an uncaught exception shows a dialog with the
log path and the app keeps running."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from tutormax_desktop.crash import CrashHandler
from tutormax_desktop.single_instance import SingleInstance, server_name

ROOT = Path(__file__).resolve().parents[2]

SECOND_LAUNCH = """
import sys
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from tutormax_desktop.single_instance import SingleInstance
app = QCoreApplication([])
first = SingleInstance(Path(sys.argv[1])).acquire()
print("first" if first else "second")
"""


def test_a_second_launch_asks_the_first_to_raise_its_window(qtbot, tmp_path):
    first = SingleInstance(tmp_path)
    assert first.acquire()
    try:
        with qtbot.waitSignal(first.sig_activate, timeout=10_000):
            proc = subprocess.Popen(
                [sys.executable, "-c", SECOND_LAUNCH, str(tmp_path)],
                cwd=ROOT,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
                stdout=subprocess.PIPE,
                text=True,
            )
            # The child blocks on the socket while this event loop accepts it.
            qtbot.waitUntil(lambda: proc.poll() is not None, timeout=10_000)
        assert proc.stdout.read().strip() == "second"
    finally:
        first.release()
    # Once the first is gone (even after a crash: stale lock and socket), a launch is first.
    again = SingleInstance(tmp_path)
    assert again.acquire()
    again.release()
    assert server_name(tmp_path) != server_name(tmp_path / "other")


@pytest.mark.qt_no_exception_capture
def test_uncaught_exceptions_show_the_log_path_and_the_app_keeps_running(qtbot, tmp_path):
    log_file = tmp_path / "logs" / "tutormax.log"
    handler = CrashHandler(log_file)
    handler.install()
    texts = []

    def read_and_close() -> None:
        box = handler.dialog
        if box is None:
            QTimer.singleShot(20, read_and_close)
            return
        texts.append(box.text())
        box.done(QMessageBox.StandardButton.Ok)

    try:
        # From a slot on the GUI thread.
        def boom() -> None:
            raise ValueError("a bug in a slot")

        QTimer.singleShot(0, read_and_close)
        with qtbot.waitSignal(handler.sig_crashed, timeout=5000) as crashed:
            QTimer.singleShot(0, boom)
        assert crashed.args == ["ValueError: a bug in a slot"]
        qtbot.waitUntil(lambda: len(texts) == 1, timeout=5000)
        assert str(log_file) in texts[0] and "kept running" in texts[0]

        # From a worker thread: logged, and the dialog still comes up on the GUI thread.
        QTimer.singleShot(0, read_and_close)
        worker = threading.Thread(target=lambda: 1 / 0, name="worker")
        with qtbot.waitSignal(handler.sig_crashed, timeout=5000):
            worker.start()
        worker.join()
        qtbot.waitUntil(lambda: len(texts) == 2, timeout=5000)
        assert "ZeroDivisionError" in texts[1]
        assert handler.count == 2
        assert QApplication.instance() is not None  # still here
    finally:
        handler.uninstall()
    assert sys.excepthook is not handler.handle
