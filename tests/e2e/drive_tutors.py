"""Drive the real window's Tutors page on a scored database and screenshot the demo's
stories: the tutor list, Sarah Chen's profile (Critical, her decline in the charts and
the factors), Mike Ross's profile (his upcoming first session at High risk), the
first-session queue, and the dark theme.

Started by test_tutors_window.py as its own process under Xvfb (a Qt process picks its
platform once). No sync: the window reads the database it is given, as it would offline.
A JSON summary goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from services.db.engine import make_engine
from services.readouts import find_tutor
from services.settings import Settings
from tutormax_desktop.context import AppContext
from tutormax_desktop.gui import build_shell
from tutormax_desktop.paths import app_paths
from viewmodels.shell import PAGES


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(predicate, timeout_s: float, step_ms: int = 50) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        wait(step_ms)
    return bool(predicate())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--database", required=True)
    p.add_argument("--out-dir", required=True)
    args = p.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{args.database}"
    engine = make_engine(url)
    sarah = find_tutor(engine, "Sarah Chen")["id"]
    mike = find_tutor(engine, "Mike Ross")["id"]
    engine.dispose()

    app = QApplication(sys.argv[:1])
    app.setApplicationName("TutorMax Desktop")
    if app.platformName() != "xcb":
        print(f"expected the xcb platform, got {app.platformName()}", file=sys.stderr)
        return 3
    ctx = AppContext(app_paths().ensure(), Settings(database_url=url))
    shell = build_shell(ctx)
    window = shell.window
    vm = window.shell
    window.show()
    vm.start(sync_at_start=False)
    summary: dict[str, object] = {"ready": wait_until(lambda: vm.ready, 60)}
    shots: list[str] = []

    def shot(name: str) -> None:
        wait(500)
        path = out / f"tutors_{len(shots) + 1:02d}_{name}.png"
        if app.primaryScreen().grabWindow(0).save(str(path)):
            shots.append(str(path))

    page = window.tutors_page
    window.go_to(PAGES.index("tutors"))
    summary["list_loaded"] = wait_until(lambda: vm.tutors.tutor_list is not None, 60)
    summary["tutors_shown"] = vm.tutors.tutors.rowCount()
    shot("list")

    # Sarah Chen, opened by id as any page would.
    started = time.perf_counter()
    window.open_tutor(sarah)
    loaded = wait_until(
        lambda: (
            vm.tutor_profile.bundle is not None and vm.tutor_profile.bundle.tutor["id"] == sarah
        ),
        30,
    )
    summary["sarah_loaded"] = loaded
    summary["sarah_open_ms"] = round((time.perf_counter() - started) * 1000)
    b = vm.tutor_profile.bundle
    summary["sarah"] = {
        "risk_tier": b.prediction["risk_tier"] if b and b.prediction else None,
        "p30": b.prediction["churn"]["30d"] if b and b.prediction else None,
        "change_30d": b.curve_change["30d"] if b else None,
        "alerts": len(b.alerts) if b else 0,
        "factors": [f["text"] for f in (b.prediction or {}).get("factors", [])] if b else [],
        "header": page.profile.badges.text(),
    }
    shot("sarah_performance")
    bar = page.profile.tabs.widget(0).verticalScrollBar()
    bar.setValue(bar.maximum())
    shot("sarah_performance_lower")
    bar.setValue(0)
    page.profile.tabs.setCurrentIndex(1)
    shot("sarah_flags")
    page.profile.tabs.setCurrentIndex(2)
    shot("sarah_interventions")

    window.open_tutor(mike)
    summary["mike_loaded"] = wait_until(
        lambda: vm.tutor_profile.bundle is not None and vm.tutor_profile.bundle.tutor["id"] == mike,
        30,
    )
    mb = vm.tutor_profile.bundle
    first = [s for s in mb.upcoming_sessions if s["first_session"]] if mb else []
    summary["mike"] = {
        "first_sessions": [
            {k: s[k] for k in ("subject", "p_poor", "risk_tier", "student_age")} for s in first
        ],
        "notice": page.profile.notice.text(),
    }
    page.profile.tabs.setCurrentIndex(3)
    shot("mike_sessions")
    page.profile.tabs.setCurrentIndex(0)
    shot("mike_performance")

    page.show_first_sessions()
    summary["queue_loaded"] = wait_until(lambda: vm.tutors.session_queue is not None, 30)
    summary["queue_rows"] = vm.tutors.sessions.rowCount()
    shot("first_sessions")

    window.open_tutor(sarah)
    wait_until(lambda: vm.tutor_profile.bundle.tutor["id"] == sarah, 30)
    window.set_theme_mode("dark")
    shot("sarah_dark")
    window.set_theme_mode("light")

    summary["screenshots"] = shots
    print(json.dumps(summary))
    sys.stdout.flush()
    shell.shutdown()
    window.deleteLater()
    app.processEvents()
    ok = summary["sarah_loaded"] and summary["mike_loaded"] and summary["list_loaded"]
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    raise SystemExit(main())
