"""The Velocity and Churn tabs' view models on hand-made service results: the load runs
once when the tab is first shown (again only after new data), censored cohort weeks stay
NaN in the chart series (not zero), the tables' texts, and the CSV export of a table as
shown."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime

import numpy as np
import pytest
import shiboken6

from services.customer_churn_view import CustomerChurnView, FunnelStage, RiskGroup
from services.customer_velocity import FREQUENCY_EDGES, CohortRow, CustomerVelocity, SegmentRow
from viewmodels.customer_churn import ChurnViewModel
from viewmodels.customer_velocity import VelocityViewModel
from viewmodels.tasks import TaskRunner

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    assert r.shutdown(15_000)
    shiboken6.delete(r)


def _cohort(key: str, label: str, n: int, per_week: tuple, retention: tuple, **kw) -> CohortRow:
    base = dict(
        cohort=key, label=label, customers=n, last_joined=AS_OF, weeks_observed=len(retention),
        sessions_per_week=per_week, retention=retention, with_first=n, reached_2nd=n - 1,
        median_days_to_2nd=9.0, reached_3rd=1, median_days_to_3rd=None,
    )  # fmt: skip
    return CohortRow(**(base | kw))


VELOCITY = CustomerVelocity(
    as_of=AS_OF,
    history_start=datetime(2026, 5, 10, tzinfo=UTC),
    cohorts=(
        _cohort("2026-06", "Jun 2026", 10, (1.2, 0.5, 0.4), (0.8, 0.4, 0.3)),
        _cohort("2026-10", "Oct 2026", 4, (0.75,), (0.5,)),
    ),
    frequency_edges=FREQUENCY_EDGES,
    frequency_counts=(5, 3, 0, 0, 1, 0, 0, 0, 0),
    segment_reference=datetime(2026, 10, 21, 12, tzinfo=UTC),
    segments=(
        SegmentRow("< 0.5 / week", 0, 0.5, 8, 2),
        SegmentRow("0.5–1 / week", 0.5, 1, 0, 0),
        SegmentRow("1–2 / week", 1, 2, 3, 0),
        SegmentRow("2+ / week", 2, math.inf, 1, 0),
    ),
)


def test_velocity_loads_once_when_shown_and_keeps_censored_weeks_empty(qtbot, runner):
    calls: list[int] = []

    def load() -> CustomerVelocity:
        calls.append(1)
        return VELOCITY

    vm = VelocityViewModel(runner, load=load)
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.ensure_loaded()
    vm.ensure_loaded()  # shown again: nothing recomputed
    assert calls == [1]
    vm.invalidate()  # a sync or scoring run: recomputed the next time it is shown
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.ensure_loaded()
    assert calls == [1, 1]

    grid = vm.sessions_matrix()
    assert grid.shape == (2, 3)
    assert grid[0].tolist() == [1.2, 0.5, 0.4]
    assert grid[1, 0] == 0.75 and math.isnan(grid[1, 1]) and math.isnan(grid[1, 2])
    # Only cohorts with two complete weeks make a line; shares in %.
    assert vm.retention_series() == [("Jun 2026", [0, 1, 2], [80.0, 40.0, 30.0], 10)]
    labels, to2, to3, n2, n3 = vm.time_to_nth()
    assert labels == ["Jun 2026", "Oct 2026"] and to2 == [9.0, 9.0] and n2 == [9, 3]
    assert all(math.isnan(x) for x in to3) and n3 == [1, 1]
    bins, counts = vm.frequency()
    assert bins[0] == "0–0.5" and bins[-1] == "4+" and counts[4] == 1
    assert vm.frequency_ticks()[:3] == ["0", "0.5", "1"] and vm.frequency_ticks()[-1] == "4+"
    names, rates, ns, churned = vm.segments()
    assert names[0] == "< 0.5 / week" and churned == [2, 0, 0, 0]
    assert rates[0] == 25.0 and math.isnan(rates[1]) and ns == [8, 0, 3, 1]

    # Tables: newest cohort first; a week not reached reads "–", not "0 %".
    rows = vm.cohort_table.rows()
    assert [r[0] for r in rows] == ["Oct 2026", "Jun 2026"]
    assert rows[0][4] == "–" and rows[1][4] == "40 %"  # active in week 1
    assert rows[1][-2] == "9 (n=9)" and rows[1][-1] == "–"
    assert vm.short_labels() == ["Jun", "Oct"]
    assert vm.segment_table.rows()[0] == ("< 0.5 / week", "8", "2", "25.0 %")
    assert "10 May 2026" in vm.summary() and "21 Oct" in vm.summary()


def test_churn_view_model_series_tables_and_export(qtbot, runner, tmp_path):
    view = CustomerChurnView(
        as_of=AS_OF,
        run_id=3,
        scored=5,
        risk_edges=(0.0, 0.5, 1.0),
        risk_counts=(4, 1),
        cutoffs=(("Medium", 0.25), ("High", 0.5), ("Critical", 0.7)),
        groups=(
            RiskGroup("Channel", "referral", 4, 0.1, 0.0, 0),
            RiskGroup("Channel", "=evil", 1, 0.8, 1.0, 1),
            RiskGroup("Velocity", "2+ / week", 5, 0.26, 0.2, 0),
        ),
        funnel=(
            FunnelStage("Signed up", 0, 10, 1.0, None),
            FunnelStage("1st session", 1, 8, 0.8, 0.8),
        ),
        funnel_since=datetime(2026, 5, 10, tzinfo=UTC),
        funnel_as_of=AS_OF,
    )
    vm = ChurnViewModel(runner, load=lambda: view)
    assert not vm.loaded and vm.dimension("Channel") == ([], [], [], [])
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.ensure_loaded()
    assert vm.scored and vm.risk_histogram() == ([0.0, 0.5, 1.0], [4, 1], list(view.cutoffs))
    assert vm.dimension("Channel") == (["referral", "=evil"], [10.0, 80.0], [4, 1], [0.0, 100.0])
    assert vm.group_table.rows() == [
        ("Channel", "referral", "4", "10.0 %", "0.0 %"),
        ("Channel", "=evil", "1", "80.0 %", "100.0 %"),
        ("Velocity", "2+ / week", "5", "26.0 %", "20.0 %"),
    ]
    assert vm.funnel_table.rows()[1] == ("1st session", "8", "80 %", "80 %")
    assert "mean P(churn 30 d) 24.0 %" in vm.summary()  # (4 * 0.1 + 0.8) / 5 customers

    out = tmp_path / "groups.csv"
    with qtbot.waitSignal(vm.sig_message, timeout=10_000) as msg:
        assert vm.export_table(vm.group_table, str(out), "risk by group")
    assert "3 rows" in msg.args[0]
    with out.open(encoding="utf-8-sig", newline="") as fh:
        written = list(csv.reader(fh))
    assert written[0] == list(vm.group_table.columns)
    assert written[2][1] == "'=evil"  # the export helper neutralises formulas
    assert [r[2] for r in written[1:]] == ["4", "1", "5"]


def test_both_tabs_show_their_empty_state_on_an_empty_database(qtbot, runner, tmp_path):
    from services.customer_churn_view import customer_churn_view
    from services.customer_velocity import customer_velocity
    from services.customers import customer_bundle, list_customers
    from services.db.engine import make_engine
    from services.db.migrate import migrate
    from ui.pages.customers import CustomersPage
    from viewmodels.customers import CustomerDetailViewModel, CustomersViewModel

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(engine)
    try:
        vm = CustomersViewModel(
            runner,
            load_list=lambda: list_customers(engine),
            load_velocity=lambda: customer_velocity(engine),
            load_churn=lambda: customer_churn_view(engine),
            parent=runner,
        )
        detail = CustomerDetailViewModel(
            runner, load_bundle=lambda cid: customer_bundle(engine, cid), parent=runner
        )
        page = CustomersPage(vm, detail)
        qtbot.addWidget(page)
        for tab in (page.velocity, page.churn):
            with qtbot.waitSignal(tab.vm.sig_loaded, timeout=30_000):
                page.tabs.setCurrentWidget(tab)
            assert tab.stack.currentWidget() is tab.empty
            assert tab.empty.title.text()
    finally:
        engine.dispose()


def test_a_new_scoring_run_makes_the_tabs_recompute_and_a_plain_reload_does_not(qtbot, runner):
    from services.customers import CustomerList
    from viewmodels.customers import CustomersViewModel

    runs = iter([1, 1, 2])
    velocity_loads: list[int] = []

    def load_list() -> CustomerList:
        return CustomerList(rows=(), as_of=AS_OF, run_id=next(runs))

    def load_velocity() -> CustomerVelocity:
        velocity_loads.append(1)
        return VELOCITY

    vm = CustomersViewModel(runner, load_list=load_list, load_velocity=load_velocity, parent=runner)
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.load()  # run 1
    with qtbot.waitSignal(vm.velocity.sig_loaded, timeout=10_000):
        vm.velocity.ensure_loaded()
    stale: list[bool] = []
    vm.sig_tabs_stale.connect(lambda: stale.append(True))
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.load()  # run 1 again (the page shown again): nothing to recompute
    vm.velocity.ensure_loaded()
    assert velocity_loads == [1] and stale == []
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.load()  # run 2: a new scoring run
    assert stale == [True]
    with qtbot.waitSignal(vm.velocity.sig_loaded, timeout=10_000):
        vm.velocity.ensure_loaded()
    assert velocity_loads == [1, 1]


def test_a_mouse_move_over_a_chart_writes_its_read_out(qtbot):
    from PySide6.QtCore import QPointF

    from ui.customer_charts import BarChart, CohortHeatmap

    chart = BarChart("customers", "stage")
    qtbot.addWidget(chart)
    chart.resize(500, 300)
    chart.show()
    qtbot.waitExposed(chart)
    chart.set_bars(
        ["a", "b"], [("n", [3, 5], "#2563eb")], hover=lambda i, _s: f"bar {i}", texts=["3", "5"]
    )
    assert chart.readout.text().strip() == ""
    vb = chart.plot.getPlotItem().vb
    chart.plot.scene().sigMouseMoved.emit(vb.mapViewToScene(QPointF(1, 2)))
    assert chart.readout.text() == "bar 1" and chart.plot.toolTip() == "bar 1"

    heat = CohortHeatmap("weeks")
    qtbot.addWidget(heat)
    heat.resize(500, 300)
    heat.show()
    qtbot.waitExposed(heat)
    grid = np.array([[1.0, 0.5], [0.8, np.nan]])
    heat.set_grid(grid, ["Jun", "Jul"], hover=lambda r, c: f"cell {r} {c}")
    assert heat.readout.text().startswith("Light 0, dark 1.00")  # the scale, idle
    vb = heat.plot.getPlotItem().vb
    heat.plot.scene().sigMouseMoved.emit(vb.mapViewToScene(QPointF(1.5, 1.5)))
    assert heat.readout.text() == "cell 1 1"
