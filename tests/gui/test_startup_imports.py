"""What the window's first paint waits for: no database, HTTP or model library.

The first frame is on screen in about a second because SQLAlchemy, Alembic, httpx and
the model libraries are imported where they are first used, after it (the database
opens on a worker once the window has painted). A module imported at start-up that
pulls them in again delays every launch by a second or more; this test names it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, os, sys
from PySide6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])
from services.settings import Settings
from tutormax_desktop.context import AppContext
from tutormax_desktop.gui import after_first_paint, build_shell
from tutormax_desktop.paths import app_paths

shell = build_shell(AppContext(app_paths().ensure(), Settings()), tray=False)
HEAVY = ("sqlalchemy", "alembic", "httpx", "pandas", "xgboost", "sklearn", "scipy", "statsmodels")


def painted():
    print(json.dumps(sorted(m for m in HEAVY if m in sys.modules)), flush=True)
    os._exit(0)


shell.window.show()
after_first_paint(shell.window, painted)
app.exec()
"""


def test_the_first_paint_imports_no_database_http_or_model_library(tmp_path):
    env = dict(os.environ, TUTORMAX_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [], f"imported before the first paint: {loaded}"
