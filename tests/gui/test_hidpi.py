"""Crisp at 200 %: the window renders at device-pixel ratio 2 (icons from SVG at that
resolution, charts and text drawn at it), and a screenshot is kept to look at."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
SHOT = ROOT / "artifacts" / "screenshots" / "dashboard_200pct.png"

DRIVER = r"""
import json, os, sys
from PySide6.QtCore import QEventLoop, QSize, QTimer
from PySide6.QtWidgets import QApplication


def main():
    app = QApplication(sys.argv[:1])
    from services.settings import Settings
    from tutormax_desktop.context import AppContext
    from tutormax_desktop.gui import build_shell
    from tutormax_desktop.paths import app_paths
    from ui.theme import icon

    ctx = AppContext(app_paths().ensure(), Settings(api_url=sys.argv[1]))
    shell = build_shell(ctx, tray=False)
    window = shell.window
    window.resize(1200, 780)
    window.show()
    window.shell.start(sync_at_start=False)
    loop = QEventLoop()
    window.shell.sync.sig_sync_landed.connect(lambda *_: QTimer.singleShot(1500, loop.quit))
    window.shell.sig_ready_changed.connect(lambda ready: ready and window.shell.sync.sync_now())
    QTimer.singleShot(60_000, loop.quit)
    loop.exec()
    shot = window.grab()
    shot.save(sys.argv[2])
    pm = icon("dashboard", "#000000").pixmap(QSize(24, 24), window.devicePixelRatioF())
    print(json.dumps({
        "dpr": window.devicePixelRatioF(),
        "shot_dpr": shot.devicePixelRatio(),
        "shot": [shot.width(), shot.height()],
        "icon": [pm.width(), pm.height(), pm.devicePixelRatio()],
    }), flush=True)
    shell.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
"""


def test_the_window_renders_at_twice_the_pixels(sandbox_server, tmp_path):
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        QT_SCALE_FACTOR="2",
        TUTORMAX_API_TOKEN=sandbox_server.token,
        TUTORMAX_HOME=str(tmp_path / "home"),
        PYTHONPATH=str(ROOT),
    )
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, sandbox_server.base_url, str(SHOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["dpr"] == 2.0 and info["shot_dpr"] == 2.0
    # The grab has twice the logical size in real pixels: nothing was upscaled later.
    assert info["shot"] == [2400, 1560]
    # Icons are rendered from SVG at 48 px for a 24 px slot, not scaled up from 24.
    assert info["icon"] == [48, 48, 2.0]
    image = QImage(str(SHOT))
    assert image.width() == 2400
