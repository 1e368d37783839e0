"""End to end: the real window under Xvfb, on a first run against the demo sandbox, syncs,
trains (no model exists yet), scores, and every page is screenshotted into
artifacts/screenshots/ (look at them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.fixtures.sandbox_process import start_sandbox_process, stop
from viewmodels.shell import PAGES

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"


TOKEN = "e2e-sandbox-token"


@pytest.fixture(scope="module")
def demo_server():
    proc, url = start_sandbox_process("demo", TOKEN)
    try:
        yield url
    finally:
        stop(proc)


@pytest.mark.xvfb
@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_real_window_walks_every_page_and_is_screenshotted(xvfb_display, demo_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("[0-9][0-9]_*.png"):
        old.unlink()
    env = dict(
        os.environ,
        DISPLAY=xvfb_display,
        QT_QPA_PLATFORM="xcb",
        TUTORMAX_API_TOKEN=TOKEN,
        PYTHONPATH=str(ROOT),
    )
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # no tray here: the in-app inbox path
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("drive_window.py")),
            "--api-url",
            demo_server,
            "--out-dir",
            str(SHOTS),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    print("\n".join(" | ".join(map(str, job)) for job in summary["jobs"]))
    assert summary["synced"] and summary["trained"], summary
    assert summary["scored"] and summary["dashboard_with_scores"], summary
    assert summary["rows"] > 40_000  # demo scale
    # The real jobs, through the job registry, in the first-run order: no model existed,
    # so the nightly retraining was caught up right after the sync, then scoring.
    jobs = [(title, status) for title, status, _summary in summary["jobs"]]
    assert ("Retraining", "ok") in jobs and ("Scoring", "ok") in jobs, jobs
    # (then the other jobs, e.g. the daily forecast)
    assert summary["schedule"][:2] == [["train", "nightly"], ["score", "after_sync"]], summary
    # The model registry lists the four new models, each active.
    assert sorted(summary["models"]) == [
        "customer_churn",
        "first_session",
        "sessions_forecast",
        "tutor_churn",
    ]
    # "Retrain now" made a second version of each; the roll-back to a model's v1 from
    # the Models tab pinned it and scored again with it.
    assert summary["retrained"] and summary["rescored"], summary
    assert summary["rollback_target"] is not None, summary
    assert summary["pinned"] == [summary["rollback_target"]]
    # The Dashboard's Analytics tab and the Customers' Velocity and Churn tabs computed
    # on the real window's data when first shown.
    analytics = summary["analytics"]
    assert not analytics["missing"] and analytics["cohorts"] >= 2, analytics
    tabs = summary["customer_tabs"]
    assert tabs["velocity_cohorts"] and tabs["churn_scored"], tabs
    # No tray under bare Xvfb: said once, in the inbox.
    assert summary["tray"] is False and summary["unread"] >= 1
    shots = [Path(p) for p in summary["screenshots"]]
    names = [p.stem.split("_", 1)[1] for p in shots]
    for page in PAGES:
        assert any(n == page or n.startswith(page) for n in names), page
    for path in shots:
        image = QImage(str(path))
        assert image.width() == 1280 and image.height() == 800, path
        # Not a blank screen: the window painted something with many colours.
        colours = {image.pixel(x, y) for x in range(0, 1280, 16) for y in range(0, 800, 16)}
        assert len(colours) > 5, path
