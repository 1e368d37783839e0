"""The real main window, offscreen, against a sandbox server: start, sync, pages, keys,
persistence, themes, empty states, and "Create intervention" from the Critical panel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from sqlalchemy import func, insert, select

from services.db.models import Intervention, OutboxItem, ScoringRun, Tutor, TutorPrediction
from services.settings import Settings
from tests.gui.conftest import wait_ready
from tutormax_desktop.gui import NO_DISPLAY_MESSAGE, has_display, main
from viewmodels.shell import PAGES

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def window(make_window, sandbox_server, monkeypatch):
    monkeypatch.setenv("TUTORMAX_API_TOKEN", sandbox_server.token)
    return make_window(Settings(api_url=sandbox_server.base_url))


def _synced(qtbot, window) -> None:
    wait_ready(qtbot, window)
    if window.shell.sync.last_synced is None:
        with qtbot.waitSignal(window.shell.sync.sig_sync_landed, timeout=60_000):
            window.sync_now()
    qtbot.waitUntil(lambda: window.shell.sync.model.value("sessions", "rows") > 0, timeout=10_000)


def test_window_paints_before_the_database_opens_then_syncs(qtbot, window):
    window.show()
    # The window exists and paints while the database opens on the task runner.
    assert window.isVisible() and window.page_title.text() == "Dashboard"
    wait_ready(qtbot, window)
    assert window.shell.sync.connection == "unknown"
    with qtbot.waitSignal(window.shell.sync.sig_busy_changed, timeout=5000) as started:
        window.sync_now()
    assert started.args == [True]
    assert window.progress.isVisible()
    # The GUI thread is free while the sync runs: a second press is refused, not queued.
    assert not window.shell.sync.sync(None)
    with qtbot.waitSignal(window.shell.sync.sig_sync_landed, timeout=60_000) as landed:
        pass
    report, changed = landed.args
    assert report.status == "ok" and changed
    assert window.shell.sync.connection == "online"
    model = window.shell.sync.model
    qtbot.waitUntil(lambda: model.value("sessions", "rows") > 0, timeout=10_000)
    assert set(window.dots.statuses()) == {"ok"}
    qtbot.waitUntil(lambda: window.age.text() == "Last synced just now", timeout=5000)
    # The dashboard reloaded after a sync that changed data.
    qtbot.waitUntil(
        lambda: (
            window.shell.dashboard.dashboard is not None
            and window.shell.dashboard.dashboard.has_sessions
        ),
        timeout=10_000,
    )
    page = window.dashboard_page
    # (the page applies a dashboard in small steps, one per turn of the event loop)
    qtbot.waitUntil(lambda: page.heatmap_stack.currentWidget() is page.heatmap, timeout=5000)
    assert page.cards["sessions_today"].value.text() != "…"
    # No predictions yet: clear empty states.
    assert page.critical_stack.currentWidget() is page.critical_empty
    assert page.tiers_stack.currentWidget() is page.tiers_empty
    # The sync is in the background jobs history, with its result.
    records = window.shell.runner.history.records()
    sync = next(r for r in records if r.name == "sync")
    assert sync.status == "ok" and sync.summary.startswith("Sync ok")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "main_window_offscreen.png"))


def test_keyboard_navigation_search_and_persistence(qtbot, window, make_window):
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    wait_ready(qtbot, window)
    for i, name in enumerate(PAGES):
        QTest.keyClick(window, Qt.Key(Qt.Key.Key_1 + i), Qt.KeyboardModifier.ControlModifier)
        assert window.shell.page_name == name
        assert window.stack.currentWidget() is window.pages[name]
    QTest.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.shell.page_name == "interventions"
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus()
    QTest.keyClicks(window.search, "coaching")
    assert window.interventions_page.filter.text() == "coaching"
    assert "Ctrl+Q" in [k.toString() for k in window.quit_action.shortcuts()]
    assert "Ctrl+," in [k.toString() for k in window.prefs_action.shortcuts()]
    assert window.sync_action.shortcut().toString() == "F5"

    window.resize(1011, 651)
    header = window.interventions_page.table.horizontalHeader()
    header.resizeSection(2, 321)
    window.save_state()
    ui = QSettings(
        str(Path(window.shell.backend.config_dir) / "ui.ini"), QSettings.Format.IniFormat
    )
    assert ui.value("window/page") == "interventions"
    # The next start (a new window on the same settings) restores page, size, columns.
    restored = make_window(Settings(api_url=window.shell.backend.settings.api_url), start=False)
    assert restored.shell.page_name == "interventions"
    # The offscreen screen is 800 px wide: the restored width is clamped to the window's
    # minimum; the height shows the geometry came back.
    assert restored.size().height() == 651
    assert restored.interventions_page.table.horizontalHeader().sectionSize(2) == 321


def test_close_without_a_tray_quits_and_with_a_tray_hides(qtbot, window):
    quits = []
    window.on_quit = lambda: quits.append(1)
    window.show()
    window.close()
    qtbot.waitUntil(lambda: quits == [1], timeout=2000)

    hints = []

    class FakeTray:
        available = True

        def show_hint(self, title, body):
            hints.append(title)

    quits.clear()
    window._quitting = False
    window.set_tray(FakeTray())
    window.show()
    window.close()
    assert not window.isVisible() and quits == []
    assert hints == ["TutorMax Desktop is still running"]
    window.quit()
    assert quits == [1]


def test_theme_switch_recolours_the_charts(qtbot, window):
    window.show()
    window.set_theme_mode("light")
    light = window.dashboard_page.heatmap.backgroundBrush().color()
    window.set_theme_mode("dark")
    dark = window.dashboard_page.heatmap.backgroundBrush().color()
    assert light != dark
    assert dark == QColor(window.theme.theme.card)
    assert window.theme.theme.dark
    window.set_theme_mode("system")


def test_critical_panel_creates_an_intervention_locally_with_an_outbox_row(qtbot, window):
    window.show()
    _synced(qtbot, window)
    engine = window.shell.backend.engine()
    with engine.connect() as conn:
        tutor_ids = [r[0] for r in conn.execute(select(Tutor.id).order_by(Tutor.id).limit(4))]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(ScoringRun).values(status="ok", as_of=now).returning(ScoringRun.id)
        ).scalar_one()
        conn.execute(
            insert(TutorPrediction),
            [
                {
                    "run_id": run_id,
                    "tutor_id": t,
                    "as_of": now,
                    "risk_tier": tier,
                    "p_churn_30d": p,
                    "performance_tier": perf,
                    "factors": [{"text": "sessions down 40 % vs last month"}],
                }
                for t, tier, p, perf in zip(
                    tutor_ids,
                    ("Critical", "High", "Low", "Low"),
                    (0.72, 0.55, 0.1, 0.05),
                    ("Bronze", "Silver", "Gold", "Platinum"),
                    strict=True,
                )
            ],
        )
        before = conn.execute(select(func.count()).select_from(Intervention)).scalar_one()
    # (a reload from the sync may still be running: wait for the one that sees the run)
    window.shell.dashboard.load()
    page = window.dashboard_page
    qtbot.waitUntil(
        lambda: page.critical_stack.currentWidget() is page.critical_table, timeout=10_000
    )
    assert page.tiers.bars.opts["height"].tolist() == [1, 1, 1, 1]
    proxy = page.critical_proxy
    assert proxy.rowCount() == 2
    first = proxy.index(0, 0)
    assert first.data() == "CRITICAL"
    # Clicking the action column of the Critical tutor creates the intervention.
    action = proxy.index(0, 4)
    assert action.data() == "Create intervention"
    with qtbot.waitSignal(window.shell.dashboard.sig_intervention_created, timeout=10_000) as made:
        page.critical_table.clicked.emit(action)
    tutor_id, local_id = made.args
    assert tutor_id == tutor_ids[0]
    with engine.connect() as conn:
        row = conn.execute(select(Intervention).where(Intervention.local_id == local_id)).one()
        assert row.intervention_type == "manager_coaching" and row.pending
        assert (row.due_at - row.local_updated_at).total_seconds() == pytest.approx(
            48 * 3600, abs=60
        )
        assert (
            conn.execute(select(func.count()).select_from(Intervention)).scalar_one() == before + 1
        )
        outbox = conn.execute(
            select(OutboxItem.kind).where(OutboxItem.intervention_local_id == local_id)
        ).all()
        assert [o.kind for o in outbox] == ["intervention.create"]
    # The panel now says it is open, and a second click does not create another.
    qtbot.waitUntil(lambda: proxy.index(0, 4).data() == "Intervention open", timeout=10_000)
    assert not window.shell.dashboard.create_intervention(tutor_ids[0])
    # A Critical tutor from a new scoring run reached the inbox (and the desktop policy).
    assert any(
        i.event.key == f"alert:churn_critical:tutor:{tutor_ids[0]}"
        for i in window.shell.notifications.items()
    )


def test_headless_start_names_xvfb_run(monkeypatch, capsys):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert not has_display()
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "xvfb-run" in err
    assert err.strip() == NO_DISPLAY_MESSAGE.strip()


def test_a_page_tasks_last_step_leaves_the_status_bar_when_it_finishes(qtbot, window):
    """A page's own task shows its steps in the status bar; once done, its last step
    ("matching treated and untreated tutors") must not linger as if still under way."""
    import threading

    wait_ready(qtbot, window)
    release = threading.Event()

    def work(state):
        state.progress("matching treated and untreated tutors")
        release.wait(10)
        return 1

    bar = window.statusBar()
    with qtbot.waitSignal(
        window.shell.runner.sig_finished,
        timeout=15_000,
        check_params_cb=lambda rec: rec.name == "page-only-task",
    ):
        window.shell.runner.submit("page-only-task", work, title="A page's task")
        qtbot.waitUntil(lambda: bar.currentMessage() == "matching treated and untreated tutors")
        release.set()
    assert bar.currentMessage() == ""
