"""End to end: the real window under Xvfb on a scored demo database (synced, trained,
scored at four past weeks and now): the Tutors page, Sarah Chen's and Mike Ross's
profiles and the first-session queue are screenshotted into artifacts/screenshots/
(tutors_*.png; look at them) and tell the demo's stories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.fixtures.scored_demo import build_scored_demo

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"


@pytest.mark.xvfb
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_tutor_profiles_tell_the_demo_stories_on_screen(
    xvfb_display, sandbox_server_factory, tmp_path, demo_cache
):
    built = build_scored_demo(tmp_path / "db", sandbox_server_factory, demo_cache)
    database = built["folder"] / "tutormax.db"
    built["engine"].dispose()
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("tutors_[0-9][0-9]_*.png"):
        old.unlink()
    env = dict(os.environ, DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT))
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("drive_tutors.py")),
            "--database",
            str(database),
            "--out-dir",
            str(SHOTS),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["ready"] and summary["list_loaded"] and summary["tutors_shown"] > 300
    sarah = summary["sarah"]
    assert sarah["risk_tier"] == "Critical" and sarah["p30"] >= 0.70
    assert sarah["change_30d"] > 0  # her decline shows as rising risk since last week
    assert "CRITICAL RISK" in sarah["header"] and sarah["alerts"] >= 1
    assert any("engagement 0.32 (was 0.75)" in f for f in sarah["factors"])
    spanish = [s for s in summary["mike"]["first_sessions"] if s["subject"] == "spanish"]
    assert spanish and spanish[0]["risk_tier"] == "High" and spanish[0]["student_age"] == 14
    assert "Upcoming first session" in summary["mike"]["notice"]  # said in his header
    assert summary["queue_loaded"] and summary["queue_rows"] > 10
    shots = [Path(p) for p in summary["screenshots"]]
    assert len(shots) == 9
    for path in shots:
        image = QImage(str(path))
        assert image.width() == 1280 and image.height() == 800, path
        colours = {image.pixel(x, y) for x in range(0, 1280, 16) for y in range(0, 800, 16)}
        assert len(colours) > 5, path
