"""The Customers page on real scores: the numpy-backed list model (sort by risk and by
any column, filters by tier, risk, grade, channel, subject and tutor, search), the CSV
export of the visible rows on a worker (with progress and formula neutralisation), and
the detail view filled off the GUI thread.

One scored demo database per module (tests/fixtures/scored_demo.py). Every expectation
is computed from the service's own rows, not written down.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import Qt
from sqlalchemy import delete, insert

from services.customer_churn_view import customer_churn_view
from services.customer_velocity import customer_velocity
from services.customers import customer_bundle, grade_order, list_customers
from services.db.models import Customer, TutoringSession
from services.first_session_stats import first_session_stats
from viewmodels.customers import (
    COL_CHURN,
    COL_NAME,
    COL_RISK,
    CUSTOMER_COLUMNS,
    CUSTOMER_ID_ROLE,
    CustomerDetailViewModel,
    CustomerFilters,
    CustomersViewModel,
    filter_mask,
    prepare_customers,
)
from viewmodels.first_session_stats import COL_SUCCESS, FLAG_COLORS, FLAG_ROLE
from viewmodels.tasks import SORT_ROLE, TaskRunner

EVIL = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture(scope="module", autouse=True)
def _collect_while_qt_lives():
    """Collect this module's Qt wrappers while the QApplication still exists (PySide
    aborted runs that left them to the interpreter's final collection)."""
    import gc

    yield
    gc.collect()


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    assert r.shutdown(15_000)
    shiboken6.delete(r)


@pytest.fixture
def page(qtbot, runner, scored_demo):
    from ui.pages.customers import CustomersPage

    engine = scored_demo["engine"]
    vm = CustomersViewModel(
        runner,
        load_list=lambda: list_customers(engine),
        load_first_sessions=lambda period: first_session_stats(engine, period),
        load_velocity=lambda: customer_velocity(engine),
        load_churn=lambda: customer_churn_view(engine),
        parent=runner,
    )
    detail = CustomerDetailViewModel(
        runner,
        load_bundle=lambda cid: customer_bundle(engine, cid),
        timezone=lambda: UTC,
        parent=runner,
    )
    p = CustomersPage(vm, detail)
    qtbot.addWidget(p)
    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000):
        vm.load()
    return p


def _visible(model, role=Qt.ItemDataRole.DisplayRole, col=0) -> list:
    return [model.index(r, col).data(role) for r in range(model.rowCount())]


def _ids(model) -> list[int]:
    return _visible(model, CUSTOMER_ID_ROLE)


def test_list_sorts_by_risk_and_any_column(page):
    vm, model = page.vm, page.vm.customers
    rows = {r.customer_id: r for r in vm.customer_list.rows}
    assert model.rowCount() == len(rows) == model.total() > 1000
    # Default: riskiest first (P(churn 30 d) descending, unscored last).
    p = [rows[i].p_churn_30d for i in _ids(model)]
    scored = [x for x in p if x is not None]
    assert scored == sorted(scored, reverse=True)
    assert all(x is None for x in p[len(scored) :])

    model.sort(COL_RISK, Qt.SortOrder.DescendingOrder)
    tiers = [rows[i].risk_tier for i in _ids(model)]
    rank = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3, None: 9}
    assert [rank[t] for t in tiers] == sorted(rank[t] for t in tiers)
    assert tiers[0] in ("Critical", "High")  # the demo has risky customers

    model.sort(5, Qt.SortOrder.AscendingOrder)  # health, worst first (unscored before)
    health = [rows[i].health_score for i in _ids(model)]
    known = [h for h in health if h is not None]
    assert known == sorted(known) and health[: health.count(None)] == [None] * health.count(None)

    # Grades in school order (2 before 10), in the column and in the filter's list.
    model.sort(1, Qt.SortOrder.AscendingOrder)
    order = [grade_order(rows[i].segment) for i in _ids(model)]
    assert order == sorted(order)
    assert list(vm.customer_list.segments) == sorted(vm.customer_list.segments, key=grade_order)
    assert vm.customer_list.segments.index("2") < vm.customer_list.segments.index("10")

    model.sort(COL_NAME, Qt.SortOrder.AscendingOrder)
    names = _visible(model)
    assert [n.lower() for n in names] == sorted(n.lower() for n in names)


def test_filters_and_search_match_the_rows_they_claim(page):
    vm, model = page.vm, page.vm.customers
    listing = vm.customer_list
    rows = listing.rows
    assert listing.subjects and listing.tutors and listing.channels and listing.segments

    vm.set_filters(tier="Critical")
    want = {r.customer_id for r in rows if r.health_tier == "Critical"}
    assert set(_ids(model)) == want and want
    assert page.count.text().startswith(f"{len(want):,} of {len(rows):,}")

    subject = listing.subjects[0]
    channel = max(listing.channels, key=lambda c: sum(r.channel == c for r in rows))
    vm.set_filters(tier="", subject=subject, channel=channel)
    want = {r.customer_id for r in rows if subject in r.subjects and r.channel == channel}
    assert set(_ids(model)) == want and want

    tutor = max(listing.tutors, key=lambda t: sum(r.main_tutor == t for r in rows))
    vm.set_filters(subject="", channel="", tutor=tutor, segment=listing.segments[0])
    want = {
        r.customer_id for r in rows if r.main_tutor == tutor and r.segment == listing.segments[0]
    }
    assert set(_ids(model)) == want

    vm.set_filters(tutor="", segment="")
    name = rows[len(rows) // 2].name
    page.set_filter(f"  {name[1:5].upper()} ")  # the window's search box: any case, trimmed
    want = {r.customer_id for r in rows if name[1:5].lower() in r.name.lower()}
    assert set(_ids(model)) == want and rows[len(rows) // 2].customer_id in want

    # A filter value no row has (a stale combo entry) shows nothing rather than everything.
    vm.set_filters(text="", tutor="Nobody Such")
    assert model.rowCount() == 0
    vm.set_filters(tutor="")
    assert model.rowCount() == len(rows)


def test_the_numpy_filter_agrees_with_a_plain_loop(scored_demo):
    rows = list_customers(scored_demo["engine"]).rows
    p = prepare_customers(rows)
    rng = np.random.default_rng(3)
    for _ in range(25):
        pick = rows[int(rng.integers(len(rows)))]
        f = CustomerFilters(
            tier=(pick.health_tier or "") if rng.random() < 0.5 else "",
            risk=(pick.risk_tier or "") if rng.random() < 0.5 else "",
            segment=pick.segment if rng.random() < 0.3 else "",
            channel=pick.channel if rng.random() < 0.3 else "",
            subject=pick.subjects[0] if pick.subjects and rng.random() < 0.5 else "",
            tutor=pick.main_tutor if rng.random() < 0.3 else "",
            text=pick.name.lower()[:2] if rng.random() < 0.3 else "",
            active_only=bool(rng.random() < 0.3),
        )
        expected = [
            (not f.tier or r.health_tier == f.tier)
            and (not f.risk or r.risk_tier == f.risk)
            and (not f.segment or r.segment == f.segment)
            and (not f.channel or r.channel == f.channel)
            and (not f.subject or f.subject in r.subjects)
            and (not f.tutor or r.main_tutor == f.tutor)
            and (not f.text or f.text in r.name.lower())
            and (not f.active_only or r.status in ("active", ""))
            for r in rows
        ]
        assert filter_mask(p, f).tolist() == expected, f


def test_export_writes_the_visible_rows_with_formulas_neutralised(
    qtbot, page, scored_demo, tmp_path
):
    engine = scored_demo["engine"]
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [
                {"id": 9_900_001, "updated_at": now, "name": EVIL, "status": "active",
                 "grade_level": "+1", "acquisition_channel": "@home"},
                {"id": 9_900_002, "updated_at": now, "name": "-Minus Mae", "status": "active",
                 "grade_level": None, "acquisition_channel": None},
            ],
        )  # fmt: skip
    try:
        with qtbot.waitSignal(page.vm.sig_loaded, timeout=60_000):
            page.load()
        page.vm.set_filters(active_only=True)
        model = page.vm.customers
        shown = [tuple(model.index(r, c).data() for c in range(len(CUSTOMER_COLUMNS)))
                 for r in range(model.rowCount())]  # fmt: skip
        assert any(r[0] == EVIL for r in shown)
        progress: list[float] = []
        page.vm.sig_export_progress.connect(progress.append)
        out = tmp_path / "customers.csv"
        with qtbot.waitSignal(page.vm.sig_export_finished, timeout=60_000) as done:
            assert page.export_to(str(out))
            assert not page.export_button.isEnabled()  # one export at a time
        assert done.args[0] is True, done.args
        assert page.export_button.isEnabled() and page.export_progress.isHidden()
        assert progress and progress[-1] == 1.0
        with out.open(encoding="utf-8-sig", newline="") as fh:
            written = list(csv.reader(fh))
        assert tuple(written[0]) == CUSTOMER_COLUMNS
        assert len(written) - 1 == len(shown) < model.total()  # the filter applied
        by_name = {r[0]: r for r in written[1:]}
        evil = by_name["'" + EVIL]
        assert evil[1] == "'+1" and evil[2] == "'@home"
        assert "'-Minus Mae" in by_name
        # Same order as the view; untouched cells are written as shown.
        plain = [r for r in shown if not r[0].startswith(("=", "-", "+", "@"))]
        assert [r[0] for r in written[1:] if not r[0].startswith("'")] == [r[0] for r in plain]
    finally:
        with engine.begin() as conn:
            conn.execute(delete(Customer).where(Customer.id >= 9_900_001))


def test_detail_view_fills_from_the_bundle(qtbot, page, scored_demo):
    listing = page.vm.customer_list
    busy = max(listing.rows, key=lambda r: (r.open_alerts, r.customer_id))
    model = page.vm.customers
    page.vm.set_filters(text=busy.name.lower())
    row = next(r for r in range(model.rowCount()) if model.customer_id(r) == busy.customer_id)
    with qtbot.waitSignal(page.detail_vm.sig_loaded, timeout=60_000) as sig:
        page._open_from_list(model.index(row, 0))
    bundle = sig.args[0]
    view = page.detail
    assert page.stack.currentWidget() is view and bundle.customer["id"] == busy.customer_id
    assert busy.name in view.name.text()
    assert view.sessions.rowCount() == len(bundle.sessions) > 0
    assert view.calls.rowCount() == len(bundle.calls)
    assert view.history.rowCount() == len(bundle.history) >= 2
    assert view.alerts.rowCount() == busy.open_alerts > 0
    assert view.contacts.rowCount() == len(bundle.contacts) > 0
    for key, bar in view.bars.items():
        v = bundle.prediction["components"][key]
        assert bar.value() == (0 if v is None else round(v))
    assert bundle.recommended_action in view.action.text()
    assert bundle.prediction["factors"][0]["text"] in view.factors.text()
    # The newest score first in the history tab.
    newest = bundle.history[-1]
    assert view.history.rows()[0][1] == f"{newest[1]:.0f}"
    page.show_list()
    assert page.stack.currentWidget() is page.tabs and page.tabs.currentWidget() is page.listing


def test_a_customer_with_no_sessions_or_scores_opens_with_no_data_text(qtbot, page, scored_demo):
    engine = scored_demo["engine"]
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(Customer).values(id=9_900_010, updated_at=now, name="New Nell"))
        conn.execute(delete(TutoringSession).where(TutoringSession.customer_id == 9_900_010))
    try:
        with qtbot.waitSignal(page.detail_vm.sig_loaded, timeout=60_000):
            page.open_customer(9_900_010)
        assert "Not scored" in page.detail.health.text()
        assert page.detail.sessions.rowCount() == 0 and page.detail.factors.text() == ""
        with qtbot.waitSignal(page.detail_vm.sig_error, timeout=60_000) as err:
            page.open_customer(9_999_999)
        assert "9999999" in err.args[0]
    finally:
        with engine.begin() as conn:
            conn.execute(delete(Customer).where(Customer.id == 9_900_010))


def test_default_sort_is_riskiest_first_and_the_sort_role_is_the_key(page):
    model = page.vm.customers
    keys = [model.index(r, COL_CHURN).data(SORT_ROLE) for r in range(model.rowCount())]
    assert keys == sorted(keys, reverse=True)


def test_first_sessions_tab_loads_periods_flags_and_sorts(qtbot, page, scored_demo):
    vm = page.vm.first_sessions
    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000) as sig:
        page.tabs.setCurrentWidget(page.first_sessions)
    week = sig.args[0]
    assert week.period == "week"
    model = vm.by_tutor
    assert model.rowCount() == len(week.by_tutor) > 0
    assert vm.by_subject.rowCount() == len(week.by_subject)
    assert vm.by_segment.rowCount() == len(week.by_segment)
    flags = [model.index(r, 0).data(FLAG_ROLE) for r in range(model.rowCount())]
    assert "red" in flags  # the demo has tutors below 70 %
    for r, flag in enumerate(flags):
        color = model.index(r, COL_SUCCESS).data(Qt.ItemDataRole.ForegroundRole)
        assert (color.name() if color is not None else None) == FLAG_COLORS.get(flag)
    assert "Last week" in page.first_sessions.summary.text()

    model.sort(COL_SUCCESS, Qt.SortOrder.AscendingOrder)
    keys = [model.index(r, COL_SUCCESS).data(SORT_ROLE) for r in range(model.rowCount())]
    assert keys == sorted(keys)
    grades = vm.by_segment
    grades.sort(0, Qt.SortOrder.AscendingOrder)
    labels = [grades.index(r, 0).data() for r in range(grades.rowCount())]
    assert labels == sorted(labels, key=grade_order)

    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000) as sig:
        page.first_sessions.period.setCurrentIndex(2)
    quarter = sig.args[0]
    assert quarter.period == "quarter" and quarter.end == week.end
    assert model.rowCount() == len(quarter.by_tutor) >= len(week.by_tutor)
    assert "Last quarter" in page.first_sessions.summary.text()


def test_the_window_opens_a_customer_by_target_and_from_a_search(qtbot, make_window, scored_demo):
    from services.settings import Settings
    from tests.gui.conftest import wait_ready
    from viewmodels.shell import PAGES

    db = scored_demo["folder"] / "tutormax.db"
    window = make_window(Settings(database_url=f"sqlite:///{db}"))
    wait_ready(qtbot, window)
    page, detail = window.customers_page, window.shell.customer_detail
    rows = list_customers(scored_demo["engine"]).rows
    first, other = rows[0], rows[len(rows) // 2]
    # A notification target "customers/<id>" opens that customer's detail.
    window.open_target(f"customers/{first.customer_id}")
    assert window.shell.page_name == "customers" and page.stack.currentWidget() is page.detail
    qtbot.waitUntil(
        lambda: detail.bundle is not None and detail.bundle.customer["id"] == first.customer_id,
        timeout=60_000,
    )
    # The page loaded its list when shown; the search box filters it and Enter opens.
    page.detail.back.click()
    qtbot.waitUntil(lambda: window.shell.customers.customer_list is not None, timeout=60_000)
    window.search.setText(other.name)
    assert 1 <= page.vm.customers.rowCount() < len(rows)
    qtbot.keyClick(window.search, Qt.Key.Key_Return)
    names = {r.customer_id: r.name for r in rows}
    qtbot.waitUntil(
        lambda: detail.bundle is not None and detail.bundle.customer["id"] != first.customer_id,
        timeout=60_000,
    )
    assert names[detail.bundle.customer["id"]] == other.name
    window.go_to(PAGES.index("dashboard"))


def test_a_cancelled_export_stops_and_leaves_no_file(scored_demo, tmp_path):
    from services.export import ExportCancelled
    from viewmodels.customers import export_customers
    from viewmodels.tasks import TaskState

    p = prepare_customers(list_customers(scored_demo["engine"]).rows)
    seen: list[object] = []
    out = tmp_path / "all.csv"
    n = export_customers(str(out), p.columns, np.arange(len(p)), TaskState(seen.append))
    assert n == len(p) and out.exists() and seen  # progress was reported
    state = TaskState(seen.append)
    state.cancel_event.set()
    gone = tmp_path / "cancelled.csv"
    with pytest.raises(ExportCancelled):  # not reported as "cannot write"
        export_customers(str(gone), p.columns, np.arange(len(p)), state)
    assert not gone.exists() and [f.name for f in tmp_path.iterdir()] == ["all.csv"]


def test_the_cancel_button_stops_a_running_export_and_leaves_no_file(
    qtbot, page, tmp_path, monkeypatch
):
    """The export's worker is held after its first row until the Cancel button has been
    clicked, so the cancel lands mid-file whatever the machine's speed."""
    import threading

    import viewmodels.customers as vmc

    release = threading.Event()
    real_rows_of = vmc.rows_of

    def held(columns, view):
        for n, row in enumerate(real_rows_of(columns, view)):
            if n == 1:
                release.wait(30)
            yield row

    monkeypatch.setattr(vmc, "rows_of", held)
    monkeypatch.setattr(vmc, "EXPORT_PROGRESS_EVERY", 1)  # check the cancel on every row
    out = tmp_path / "customers.csv"
    assert page.export_cancel.isHidden()
    try:
        assert page.export_to(str(out))
        assert not page.export_cancel.isHidden() and not page.export_progress.isHidden()
        assert not page.export_button.isEnabled()
    except AssertionError:
        release.set()  # never leave the worker waiting
        raise
    with qtbot.waitSignal(page.vm.sig_export_finished, timeout=60_000) as done:
        qtbot.mouseClick(page.export_cancel, Qt.MouseButton.LeftButton)
        assert not page.export_cancel.isEnabled()  # clicked once: the worker is stopping
        release.set()
    assert done.args[0] is False and "cancelled" in done.args[1]
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no partial, no temp file
    assert page.export_cancel.isHidden() and page.export_progress.isHidden()
    assert page.export_button.isEnabled()


def test_velocity_and_churn_tabs_load_when_first_shown_and_draw(qtbot, page, tmp_path):
    from ui.theme import DARK

    velocity, churn = page.vm.velocity, page.vm.churn
    assert not velocity.loaded and not churn.loaded  # nothing computed before shown
    with qtbot.waitSignal(velocity.sig_loaded, timeout=120_000) as sig:
        page.tabs.setCurrentWidget(page.velocity)
    v = sig.args[0]
    tab = page.velocity
    assert tab.stack.currentWidget() is not tab.empty and v.cohorts
    assert "Loading" not in tab.summary.text() and "cohort" in tab.summary.text()
    # One heatmap row per cohort, censored cells blank (NaN), never past a cohort's reach.
    grid = tab.heatmap.grid
    assert grid.shape[0] == len(v.cohorts) == tab.heatmap.image.image.shape[0]
    for row, c in zip(grid, v.cohorts, strict=True):
        assert (
            np.isfinite(row[: c.weeks_observed]).all() and np.isnan(row[c.weeks_observed :]).all()
        )
    assert len(tab.retention.series) == sum(len(c.retention) >= 2 for c in v.cohorts) >= 2
    assert tab.cohort_table.model().rowCount() == len(v.cohorts)
    assert sum(tab.frequency.values[0]) == sum(v.frequency_counts) > 1000
    assert tab.segments.labels == ["< 0.5", "0.5–1", "1–2", "2+"]
    # Hover read-outs name what is under the mouse.
    assert "sessions per customer" in tab.heatmap.hover_at(0.5, 0.5)
    assert "active customers" in tab.frequency.hover_at(0, 1)
    assert "churned" in tab.segments.hover_at(0, 0.1)
    assert "median" in tab.time_to.hover_at(-0.2, 1)
    x, y = tab.retention.series[0][1][0], tab.retention.series[0][2][0]
    assert "% of" in tab.retention.hover_at(x, y)

    with qtbot.waitSignal(churn.sig_loaded, timeout=120_000) as sig:
        page.tabs.setCurrentWidget(page.churn)
    view = sig.args[0]
    ct = page.churn
    scored = [r for r in page.vm.customer_list.rows if r.p_churn_30d is not None]
    assert view.scored == len(scored) == sum(ct.histogram.counts) > 1000
    assert "Scored" in ct.summary.text()
    assert [line.value() for line in ct.histogram.cut_lines] == pytest.approx([4.5, 9.5, 13.5])
    assert "customers" in ct.histogram.hover_at(0, 1)
    channels = {r.channel.replace("_", " ") or "unknown" for r in scored}
    assert {g.group for g in view.dimension("Channel")} == channels
    assert len(ct.groups.labels) == len(channels)
    ct.dimension.setCurrentIndex(ct.dimension.findData("Velocity"))
    assert [lab.split(" (")[0] for lab in ct.groups.labels] == [
        g.group for g in view.dimension("Velocity")
    ]
    assert "mean P(churn 30 d)" in ct.groups.hover_at(0.01, 0)
    funnel = [s.customers for s in view.funnel]
    assert funnel == sorted(funnel, reverse=True) and funnel[0] > funnel[-1]
    assert ct.funnel_table.model().rowCount() == len(view.funnel) == 6
    on_bars = [t.toPlainText() for t in ct.funnel_chart.bar_texts]
    assert on_bars == [f"{s.share_of_signups * 100:.0f} %" for s in view.funnel]
    assert ct.group_table.model().rowCount() == len(view.groups)

    # Each table exports what it shows.
    out = tmp_path / "funnel.csv"
    with qtbot.waitSignal(churn.sig_message, timeout=30_000):
        churn.export_table(churn.funnel_table, str(out), "the funnel")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        written = [tuple(r) for r in csv.reader(fh)]
    assert written[1:] == churn.funnel_table.rows()

    # Shown again: nothing recomputed; the dark theme recolours the charts in place.
    page.tabs.setCurrentWidget(page.velocity)
    assert not page.vm.runner.is_running("customers-velocity")
    assert tab.heatmap.readout.text().startswith("Light 0, dark")  # the scale in words
    page.apply_theme(DARK)
    assert tab.frequency.plot.backgroundBrush().color().name() == DARK.card
    assert tab.heatmap.readout.text().startswith("Dark 0, light")  # the ramp is reversed
    assert ct.histogram.plot.backgroundBrush().color().name() == DARK.card


def test_first_sessions_tab_marks_week_over_week_drops(qtbot, page):
    from viewmodels.first_session_stats import COL_DROP, DROP_ROLE, DROP_TINT

    vm = page.vm.first_sessions
    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000) as sig:
        page.tabs.setCurrentWidget(page.first_sessions)
    stats = sig.args[0]
    model = vm.by_tutor
    marked = {
        model.row(r).key
        for r in range(model.rowCount())
        if model.index(r, COL_DROP).data(DROP_ROLE) is not None
    }
    assert marked == {r.key for r in stats.by_tutor if r.key in stats.drops}
    for r in range(model.rowCount()):
        tinted = model.index(r, 1).data(Qt.ItemDataRole.BackgroundRole) == DROP_TINT
        assert tinted == (model.row(r).key in stats.drops)
    assert "week over week" in page.first_sessions.summary.text()
