"""End to end: the real window under Xvfb syncs from the sandbox; a screenshot is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"


@pytest.mark.xvfb
def test_real_window_syncs_and_is_screenshotted(xvfb_display, sandbox_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    out = SHOTS / "e2e_main_window.png"
    out.unlink(missing_ok=True)
    env = dict(
        os.environ,
        DISPLAY=xvfb_display,
        QT_QPA_PLATFORM="xcb",
        TUTORMAX_API_TOKEN=sandbox_server.token,
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("drive_window.py")),
            "--api-url",
            sandbox_server.base_url,
            "--out",
            str(out),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    image = QImage(str(out))
    assert image.width() == 1280 and image.height() == 800
    # Not a blank screen: the window painted something with many colours.
    colours = {image.pixel(x, y) for x in range(0, 1280, 16) for y in range(0, 800, 16)}
    assert len(colours) > 5
