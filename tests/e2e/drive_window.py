"""Run the real app window on an X display: start, sync, score, walk every page.

Started by test_real_window.py as its own process (a Qt process picks its platform once).
The window starts as the app does on a first run: the database opens on the task runner,
the scheduler's first tick syncs everything due, and since no model exists yet the
retraining job (services.training, in its own process) runs right after that sync, then
scoring (services.scoring); the dashboard refreshes with the predictions. Then every page
is shown and the screen saved, one PNG per page, plus the System tabs and the dark
theme. A JSON summary goes to stdout.
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

from services.settings import Settings
from tutormax_desktop.context import AppContext
from tutormax_desktop.gui import build_shell
from tutormax_desktop.paths import app_paths
from viewmodels.shell import PAGES


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(predicate, timeout_s: float, step_ms: int = 100) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        wait(step_ms)
    return bool(predicate())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--api-url", required=True)
    p.add_argument("--out-dir", required=True)
    args = p.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    app.setApplicationName("TutorMax Desktop")
    if app.platformName() != "xcb":
        print(f"expected the xcb platform, got {app.platformName()}", file=sys.stderr)
        return 3
    ctx = AppContext(app_paths().ensure(), Settings(api_url=args.api_url))
    shell = build_shell(ctx)
    window = shell.window
    vm = window.shell
    started = time.perf_counter()
    window.show()
    vm.start(sync_at_start=True)
    summary: dict[str, object] = {"tray": bool(shell.tray and shell.tray.available)}
    ok = wait_until(lambda: vm.sync.last_synced is not None and not vm.sync.busy, 300)
    summary["synced"] = ok
    summary["sync_seconds"] = round(time.perf_counter() - started, 2)

    def finished(name: str) -> bool:
        return any(r.name == name and r.status != "running" for r in vm.runner.history.records())

    def succeeded(name: str) -> bool:
        return any(r.name == name and r.status == "ok" for r in vm.runner.history.records())

    wait_until(lambda: finished("train"), 900)
    summary["trained"] = succeeded("train")
    summary["train_seconds"] = round(time.perf_counter() - started, 2)
    scored = wait_until(lambda: succeeded("score"), 300) if summary["trained"] else False
    summary["scored"] = scored
    shown = wait_until(
        lambda: vm.dashboard.dashboard is not None and vm.dashboard.dashboard.tiers is not None,
        30,
    )
    summary["dashboard_with_scores"] = shown
    wait_until(lambda: not vm.runner.busy, 120)
    vm.system.load()
    wait_until(lambda: vm.system.models.rowCount() > 0, 30)
    summary["models"] = sorted({e.name for e in vm.system.model_entries() if e.active})
    summary["schedule"] = [[r.name, r.trigger] for r in vm.scheduler.scheduler.history()]

    # "Retrain now" (a second version of every model), then roll tutor_churn back to v1
    # from the Models tab: it is pinned and the scores are made again with it.
    page = window.system_page
    window.go_to(PAGES.index("system"))
    page.tabs.setCurrentIndex(3)
    page.retrain_button.click()

    def trained(ok_only: bool) -> int:
        return sum(
            r.name == "train" and (r.status == "ok" if ok_only else r.status != "running")
            for r in vm.runner.history.records()
        )

    wait_until(lambda: trained(False) >= 2, 900)
    summary["retrained"] = trained(True) == 2
    vm.system.load()
    # A model whose v1 is no longer the one in use (v2 trained on the same data is not
    # worse, so normally every one of them; a worse v2 would have left v1 active).
    wait_until(lambda: any(e.version == "v2" for e in vm.system.model_entries()), 30)
    target = next(
        (e for e in vm.system.model_entries() if e.version == "v1" and not e.active), None
    )
    summary["rollback_target"] = f"{target.name} v1" if target else None
    if target is not None:
        page.select_model(target.name, "v1")
    page.confirm = lambda _title, _text: True
    scores_before = sum(r.name == "score" for r in vm.runner.history.records())
    page.rollback_button.click()
    wait_until(
        lambda: (
            any(e.pinned and e.active for e in vm.system.model_entries())
            and sum(r.name == "score" and r.status == "ok" for r in vm.runner.history.records())
            > scores_before
        ),
        600,
    )
    summary["pinned"] = [
        f"{e.name} {e.version}" for e in vm.system.model_entries() if e.pinned and e.active
    ]
    summary["rescored"] = (
        sum(r.name == "score" and r.status == "ok" for r in vm.runner.history.records())
        > scores_before
    )
    wait_until(lambda: not vm.runner.busy, 120)
    page.models_table.clearSelection()
    window.go_to(0)
    wait(800)

    shots = []

    def shot(name: str) -> None:
        wait(600)
        path = out / f"{len(shots) + 1:02d}_{name}.png"
        image = app.primaryScreen().grabWindow(0)
        if image.save(str(path)):
            shots.append(str(path))

    for i, name in enumerate(PAGES):
        window.go_to(i)
        if name == "alerts":
            # The queue loads when its page is first shown: its rows, not "Loading…".
            wait_until(lambda: vm.alerts.loaded and not vm.runner.is_running("alerts"), 60)
        if name == "customers":
            # The Velocity and Churn tabs compute when first shown: charts, not "Loading…".
            cust = window.customers_page
            for label, tab in (("velocity", cust.velocity), ("churn", cust.churn)):
                if tab is None:
                    continue
                cust.tabs.setCurrentWidget(tab)
                wait_until(lambda tab=tab: tab.vm.loaded and not tab.vm.loading, 180)
                shot(f"customers_{label}")
                bar = tab.scroll.verticalScrollBar()
                if label == "velocity":  # the middle row of charts, whole
                    bar.setValue(bar.maximum() // 2)
                    shot(f"customers_{label}_middle")
                bar.setValue(bar.maximum())
                shot(f"customers_{label}_lower")
                bar.setValue(0)
            summary["customer_tabs"] = {
                "velocity_cohorts": len(cust.vm.velocity.velocity.cohorts)
                if cust.velocity is not None and cust.vm.velocity.loaded
                else None,
                "churn_scored": cust.vm.churn.view.scored
                if cust.churn is not None and cust.vm.churn.loaded
                else None,
            }
            cust.tabs.setCurrentIndex(0)
        if name == "system":
            for tab in range(window.system_page.tabs.count()):
                window.system_page.tabs.setCurrentIndex(tab)
                label = window.system_page.tabs.tabText(tab).split(" (")[0]
                shot(f"system_{label.lower().replace(' ', '_')}")
        else:
            shot(name)
        if name == "dashboard":
            bar = window.dashboard_page.scroll.verticalScrollBar()
            bar.setValue(bar.maximum())
            shot("dashboard_lower")
            bar.setValue(0)
            # The Analytics tab computes when first shown: its sections, not "Computing".
            dash = window.dashboard_page
            dash.tabs.setCurrentIndex(1)
            wait_until(lambda: vm.analytics.report is not None and not vm.analytics.loading, 180)
            wait_until(lambda: not vm.runner.is_running("intervention-effects"), 180)
            report = vm.analytics.report
            summary["analytics"] = {
                "missing": report.missing if report is not None else "not computed",
                "cohorts": len(report.retention.cohorts) if report is not None else 0,
                "seconds": round(sum(report.seconds.values()), 2) if report else None,
            }
            shot("dashboard_analytics")
            bar = dash.analytics.scroll.verticalScrollBar()
            for step in (1, 2, 3):
                bar.setValue(bar.maximum() * step // 3)
                shot(f"dashboard_analytics_{step}")
            bar.setValue(0)
            dash.tabs.setCurrentIndex(0)
    window.go_to(0)
    window.show_inbox()
    shot("inbox")
    window.inbox_dialog.close()
    window.set_theme_mode("dark")
    shot("dashboard_dark")
    window.dashboard_page.tabs.setCurrentIndex(1)
    shot("dashboard_analytics_dark")
    window.dashboard_page.tabs.setCurrentIndex(0)
    window.go_to(PAGES.index("interventions"))
    shot("interventions_dark")
    window.go_to(PAGES.index("customers"))
    if window.customers_page.churn is not None:
        window.customers_page.tabs.setCurrentWidget(window.customers_page.churn)
        shot("customers_churn_dark")
        window.customers_page.tabs.setCurrentIndex(0)
    window.set_theme_mode("light")
    window.go_to(0)

    summary["rows"] = window.shell.sync.model.value("sessions", "rows")
    summary["screenshots"] = shots
    summary["page_titles"] = [PAGES[i] for i in range(len(PAGES))]
    summary["jobs"] = [
        (r.title, r.status, r.summary)
        for r in vm.runner.history.records()
        if r.name != "read-status"
    ]
    summary["unread"] = vm.notifications.unread
    print(json.dumps(summary))
    sys.stdout.flush()
    shell.shutdown()
    window.deleteLater()
    app.processEvents()
    code = 0 if ok and scored and shown and len(shots) >= len(PAGES) else 1
    # PySide's interpreter-exit teardown is not what is under test; leave cleanly now.
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
