"""The Dashboard's Analytics tab: the view model loads lazily and only recomputes when
the dashboard's data changed; the page, on the scored demo, shows every section; on an
empty database it shows the empty states."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from services.analytics import compute_analytics
from services.analytics.stats import Comparison
from services.db.engine import make_engine
from services.db.migrate import migrate
from ui.pages.dashboard import DashboardPage
from ui.theme import DARK, LIGHT
from viewmodels.analytics import DELTA_COLUMN, AnalyticsViewModel, fmt_p
from viewmodels.dashboard import DashboardViewModel
from viewmodels.intervention_effects import EffectivenessViewModel
from viewmodels.tasks import SORT_ROLE, TaskRunner

TOOLTIP = Qt.ItemDataRole.ToolTipRole


@pytest.fixture(scope="module", autouse=True)
def _collect_while_qt_lives():
    import gc

    yield
    gc.collect()


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    assert r.shutdown(15_000)
    shiboken6.delete(r)


def _fake_report(n_rows: int = 2) -> SimpleNamespace:
    row = Comparison(
        feature="x", label="X", mean_a=2.0, mean_b=1.0, n_a=10, n_b=10, t=3.0, p=0.0004,
        p_adjusted=0.002, cohen_d=1.2, cliff_delta=0.6, skewed=False, in_definition=False,
        meaning="Stars higher in 80 % of pairs (large)", fmt="{:.1f}",
    )  # fmt: skip
    cohort = SimpleNamespace(
        label="Jun 2026", size=4, weeks=(0, 1, 2), retained=(1.0, 0.75, 0.5),
        still_active=(4, 3, 2),
    )  # fmt: skip
    import pandas as pd

    at = pd.Timestamp("2026-11-20 12:00", tz="UTC")
    return SimpleNamespace(
        observed_until=at,
        run_as_of=None,
        retention=SimpleNamespace(
            cohorts=(cohort,),
            history_start=at - pd.Timedelta(days=180),
            settled_until=at - pd.Timedelta(days=30),
            skipped_before=3,
        ),
        heatmap=None,
        star_lagging=SimpleNamespace(
            rows=(row,) * n_rows,
            n_star=5,
            n_lagging=5,
            star_cutoff=90.0,
            lagging_cutoff=40.0,
            tutors=50,
            measure="performance score",
        ),
        first_sessions=None,
        missing={
            "heatmap": "No risk scores yet",
            "first_sessions": "Too few rated first sessions",
        },
        seconds={"load": 0.1},
    )


def test_the_view_model_loads_lazily_and_only_when_the_data_changed(qtbot, runner):
    calls: list[dict] = []

    def compute(**kw):
        calls.append(kw)
        return _fake_report()

    vm = AnalyticsViewModel(runner, compute, parent=runner)
    vm.data_changed((1, "t0"))  # the dashboard loaded: nothing computed before the tab shows
    assert calls == []
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.set_active(True)
    assert len(calls) == 1
    assert isinstance(calls[0]["cancel"], threading.Event) and callable(calls[0]["progress"])
    assert vm.stars.rowCount() == 2 and vm.first_sessions.rowCount() == 0
    assert vm.retention_series()[0]["retained"] == [1.0, 0.75, 0.5]
    assert vm.missing("heatmap") == "No risk scores yet"
    index = vm.stars.index(0, 7)
    assert index.data() == "0.002" and vm.stars.index(0, 6).data() == "< 0.001"
    assert vm.stars.index(0, DELTA_COLUMN).data(SORT_ROLE) == pytest.approx(0.6)
    assert vm.stars.index(0, 1).data() == "Stars higher in 80 % of pairs (large)"
    # Same data (an alert action reloaded the dashboard): no recompute.
    vm.data_changed((1, "t0"))
    vm.set_active(False)
    vm.set_active(True)
    qtbot.wait(50)
    assert len(calls) == 1
    # New scores while the tab is hidden: stale, recomputed when it is shown again.
    vm.set_active(False)
    vm.data_changed((2, "t1"))
    qtbot.wait(50)
    assert len(calls) == 1 and vm.stale
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.set_active(True)
    assert len(calls) == 2
    # New data while it is on screen: recomputed at once.
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.data_changed((2, "t2"))
    assert len(calls) == 3


def test_a_failure_is_reported_and_a_cancel_keeps_it_stale(qtbot, runner):
    gate = threading.Event()

    def slow(**kw):
        gate.wait(5)
        if kw["cancel"].is_set():
            raise InterruptedError("cancelled")
        raise RuntimeError("database is locked")

    vm = AnalyticsViewModel(runner, slow, parent=runner)
    errors: list[str] = []
    vm.sig_error.connect(errors.append)
    with qtbot.waitSignal(vm.sig_loading_changed, timeout=5_000):
        vm.set_active(True)
    vm.cancel()
    gate.set()
    qtbot.waitUntil(lambda: not vm.loading, timeout=5_000)
    assert errors == [] and vm.stale
    gate.clear()
    gate.set()
    with qtbot.waitSignal(vm.sig_error, timeout=5_000):
        vm.load()
    assert "database is locked" in errors[-1]
    assert vm.stale  # a failure is tried again the next time the tab is shown
    assert fmt_p(float("nan")) == "–" and fmt_p(0.0123) == "0.012"


def _dashboard_page(qtbot, runner, engine, effects=None):
    dash = SimpleNamespace(
        as_of=None, scoring_run=None, critical=(), cards=(), tiers=None, has_sessions=False,
        heatmap=(), heatmap_days=28, timezone="UTC", seconds=0.0,
    )  # fmt: skip
    vm = DashboardViewModel(runner, lambda: dash)
    analytics = AnalyticsViewModel(
        runner, lambda **kw: compute_analytics(engine, **kw), effects, parent=runner
    )
    vm.attach_analytics(analytics)
    page = DashboardPage(vm)
    qtbot.addWidget(page)
    page.resize(1000, 700)  # the real window's content area
    return page, analytics


def test_the_analytics_tab_shows_every_section_on_the_scored_demo(qtbot, runner, scored_demo):
    effects = EffectivenessViewModel(runner, None)
    page, vm = _dashboard_page(qtbot, runner, scored_demo["engine"], effects)
    page.show()
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == ["Overview", "Analytics"]
    assert vm.report is None and not vm.loading  # the Overview is shown: nothing computed
    with qtbot.waitSignal(vm.sig_loaded, timeout=120_000):
        page.tabs.setCurrentIndex(1)
    a = page.analytics
    report = vm.report
    assert not report.missing, report.missing
    # Retention: one curve per cohort, hover names the nearest point.
    series = vm.retention_series()
    assert len(series) >= 3 and a.retention_stack.currentIndex() == 1
    assert len(a.retention._curves) == len(series)
    first = series[0]
    text = a.retention.readout_at(first["weeks"][-1], 100 * first["retained"][-1])
    assert text.startswith(f"{first['label']} · week {first['weeks'][-1]}:")
    assert f"of {first['size']:,})" in text
    # The same through the mouse: moving over the point shows the read-out on the chart.
    a.scroll.ensureWidgetVisible(a.retention)
    qtbot.wait(50)
    a.retention.scene().sigMouseMoved.emit(
        a.hover_point(first["weeks"][-1], 100 * first["retained"][-1])
    )
    assert a.retention.readout.textItem.toPlainText() == text
    # Heatmap: subjects x 5 bands, grey cells for few tutors.
    h = report.heatmap
    assert a.heatmap_stack.currentIndex() == 1 and len(h.bands) == 5 and len(h.subjects) >= 5
    small = [(r, c) for r in range(len(h.subjects)) for c in range(5) if 0 < h.count[r][c] < 10]
    assert small and "too few" in a.heatmap.cell_text(*small[0])
    # Stars vs lagging: every row with its effect size, p-values and words.
    st = a.stars_table.model()
    assert a.stars_stack.currentIndex() == 1 and st.rowCount() >= 10
    assert a.stars_table.height() >= st.rowCount() * 20  # every row visible
    headers = [st.headerData(c, Qt.Orientation.Horizontal) for c in range(st.columnCount())]
    assert headers[:4] == ["Feature", "What this means", "Stars", "Lagging"]
    assert headers[DELTA_COLUMN] == "δ" and headers[-1] == "Adj. p"
    assert "Cliff's δ" in st.headerData(DELTA_COLUMN, Qt.Orientation.Horizontal, TOOLTIP)
    deltas = [abs(float(st.index(r, DELTA_COLUMN).data())) for r in range(st.rowCount())]
    assert deltas == sorted(deltas, reverse=True)
    assert all(st.index(r, 1).data() for r in range(st.rowCount()))
    # The words are not cut off in the real window's content width (1000 px here).
    for view in (a.stars_table, a.first_table):
        m = view.model()
        widest = max(
            view.fontMetrics().horizontalAdvance(m.index(r, 1).data()) for r in range(m.rowCount())
        )
        assert widest + 12 <= view.horizontalHeader().sectionSize(1), view
    assert "Top 10 %" in a.stars_note.text()
    # First sessions: numeric drivers and the factor table.
    assert a.first_stack.currentIndex() == 1
    assert a.first_table.model().rowCount() >= 5 and a.factors_table.model().rowCount() >= 8
    assert "rated first sessions" in a.first_note.text()
    # Effectiveness: the Interventions page's view model and chart, reused.
    effects.set_records(
        [{"intervention_type": "manager_coaching", "effect": 0.1, "ci_low": 0.02,
          "ci_high": 0.18, "naive_effect": -0.05, "holdout_effect": None, "n_treated": 12,
          "n_control": 120}]
    )  # fmt: skip
    panel = a.effects_panel
    assert panel.chart.n_points == 1 and "12 treated tutors" in panel.status.text()
    effects.set_records(
        [{"intervention_type": "performance_improvement_plan", "effect": 0.1, "ci_low": 0.0,
          "ci_high": 0.2, "naive_effect": None, "holdout_effect": None, "n_treated": 9,
          "n_control": 90}]
    )  # fmt: skip
    # Narrower than the Interventions page: long type names wrap instead of overlapping.
    ticks = panel.chart.getAxis("bottom")._tickLevels[0]
    assert ticks == [(0, "performance\nimprovement plan\nn=9")]
    # Both themes paint.
    for theme in (DARK, LIGHT):
        page.apply_theme(theme)
        assert not a.scroll.widget().grab().isNull()
        # The legend's labels follow the theme (dark text on a dark chart was unreadable).
        for _sample, label in a.retention.legend.items:
            assert QColor(label.opts["color"]).name() == QColor(theme.text).name()


def test_empty_states_on_an_empty_database(qtbot, runner, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(engine)
    try:
        page, vm = _dashboard_page(qtbot, runner, engine)
        page.show()
        with qtbot.waitSignal(vm.sig_loaded, timeout=30_000):
            page.tabs.setCurrentIndex(1)
        a = page.analytics
        for stack in (a.retention_stack, a.heatmap_stack, a.stars_stack, a.first_stack):
            assert stack.currentIndex() == 0
        assert a.heatmap_empty.text.text().startswith("No risk scores yet")
        assert a.retention_empty.text.text() == "No tutors synced yet."
    finally:
        engine.dispose()


def test_effectiveness_is_measured_once_and_not_again_when_already_measured(qtbot, runner):
    class FakeEffects:
        def __init__(self, labels: list[str]) -> None:
            self.loads = 0
            self.labels = labels

        def load(self) -> None:
            self.loads += 1

        def chart_data(self) -> dict:
            return {"labels": self.labels}

        def unmeasured(self) -> list[str]:
            return []

    fresh, measured = FakeEffects([]), FakeEffects(["manager coaching"])
    for effects in (fresh, measured):
        vm = AnalyticsViewModel(runner, lambda **_kw: _fake_report(), effects, parent=runner)
        with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
            vm.set_active(True)
        vm.set_active(False)
        vm.set_active(True)
    assert fresh.loads == 1  # the first showing measures, later ones do not
    assert measured.loads == 0  # the Interventions page measured it already


def test_the_button_cancels_a_computation_under_way(qtbot, runner):
    from ui.pages.analytics import AnalyticsPage

    started, release = threading.Event(), threading.Event()

    def slow(**kw):
        started.set()
        release.wait(10)
        if kw["cancel"].is_set():
            raise InterruptedError("cancelled")
        return _fake_report()

    vm = AnalyticsViewModel(runner, slow, parent=runner)
    page = AnalyticsPage(vm)
    qtbot.addWidget(page)
    page.show()  # shown: the first computation starts
    qtbot.waitUntil(started.is_set, timeout=5_000)
    assert page.refresh_button.text() == "Cancel"
    page.refresh_button.click()
    release.set()
    qtbot.waitUntil(lambda: not vm.loading, timeout=5_000)
    assert page.refresh_button.text() == "Recompute"
    assert page.status.text().startswith("Cancelled") and vm.report is None and vm.stale
    with qtbot.waitSignal(vm.sig_loaded, timeout=5_000):
        page.refresh_button.click()
    assert page.status.text().startswith("Data up to 20 Nov 2026")
    assert page.retention_stack.currentIndex() == 1 and page.heatmap_stack.currentIndex() == 0
    assert page.stars_stack.currentIndex() == 1 and page.first_stack.currentIndex() == 0
