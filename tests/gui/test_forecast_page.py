"""The Forecast page and its view model on a synced tiny sandbox with stored forecasts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from services.api.rails_time import parse_us
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.forecasting import forecast_view, run_forecast
from services.ml_data import load_frames
from services.sandbox.clock import SandboxClock
from services.sandbox.world import WorldConfig, build_world
from tests.sync.helpers import make_sync
from ui.pages.forecast import ForecastPage
from ui.theme import DARK
from viewmodels.forecast import ForecastViewModel
from viewmodels.tasks import TaskRunner

ANCHOR = parse_us("2026-11-20T12:00:00Z")


@pytest.fixture(scope="module")
def engine(tmp_path_factory, sandbox_server_factory_module):  # type: ignore[no-untyped-def]
    """The tiny world synced, a forecast backfilled a week ago (scored since) and one now."""
    world = build_world(WorldConfig(scale="tiny", seed=42, anchor_us=ANCHOR))
    handle = sandbox_server_factory_module(world=world, clock=SandboxClock.fixed(ANCHOR))
    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('forecast-page') / 'tutormax.db'}")
    migrate(eng)
    assert make_sync(eng, handle).sync().status == "ok"
    observed = load_frames(eng, ("bookings",)).observed_until
    now = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
    run_forecast(eng, as_of=observed - pd.Timedelta(days=7), now=now - timedelta(days=7),
                 backtest_origins=1)  # fmt: skip
    run_forecast(eng, now=now, backtest_origins=1)
    yield eng
    eng.dispose()


@pytest.fixture
def runner(qtbot):  # type: ignore[no-untyped-def]
    r = TaskRunner()
    yield r
    assert r.shutdown(10_000)


@pytest.fixture
def page(runner, engine, qtbot):  # type: ignore[no-untyped-def]
    vm = ForecastViewModel(runner, lambda: engine)
    p = ForecastPage(vm)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()  # the shell loads a page's view model when it is shown
    with qtbot.waitSignal(vm.sig_loaded, timeout=20_000):
        vm.load()
    return p


def test_the_page_shows_the_total_with_history_band_supply_and_figures(page, engine):
    vm = page.vm
    names = vm.series_names()
    assert names[-1] == "total" and names[:-1] == sorted(names[:-1]) and len(names) >= 3
    assert vm.current == "total" and page.series_box.currentData() == "total"
    assert page.series_box.currentText() == "All subjects"
    # Subjects read as names, keyed by their API keys.
    keys = [page.series_box.itemData(i) for i in range(page.series_box.count())]
    texts = [page.series_box.itemText(i) for i in range(page.series_box.count())]
    assert keys == vm.series_names() and all("_" not in t for t in texts)
    assert page.stack.currentIndex() == 1
    view = forecast_view(engine)
    total = view.series["total"]
    x, y = page.mean_curve.getData()
    assert len(x) == 168 and np.allclose(y, total.forecast["mean"])
    _, upper = page.upper_curve.getData()
    _, lower = page.lower_curve.getData()
    assert (upper >= lower).all() and np.allclose(upper, total.forecast["upper"])
    hx, hy = page.history_curve.getData()
    assert len(hx) == 14 * 24 and hx[-1] < x[0]  # history ends where the forecast begins
    assert hy.sum() == total.history["actual"].sum() > 0
    _, supply = page.supply_curve.getData()
    assert np.allclose(supply, total.forecast["supply"]) and supply.sum() > 0
    text = page.figures.text()
    assert "daily-total MAPE" in text and "MASE" in text
    assert "Past forecasts" in text and "168 h scored" in text  # the week-old run
    assert vm.run_summary().startswith("nb_glm_hour_of_week")


def test_switching_subjects_is_in_memory_and_redraws(page, runner, qtbot):
    vm = page.vm
    subject = vm.series_names()[0]
    with qtbot.waitSignal(vm.sig_series_changed, timeout=1000) as sig:
        page.series_box.setCurrentIndex(page.series_box.findData(subject))
    assert sig.args == [subject] and vm.current == subject
    assert not runner.is_running("forecast-page")  # no query: all series were loaded
    _, y = page.mean_curve.getData()
    assert np.allclose(y, vm.series_view(subject).forecast["mean"])
    short = vm.series_view(subject).slots
    mx, _ = page.shortage_marks.getData()
    n_short = int(short.loc[short["kind"] == "shortage", "hours"].sum()) if len(short) else 0
    assert len(mx) == n_short
    assert "Shortage slots" in page.slots.text()
    vm.select("total")
    assert page.series_box.currentData() == "total" and "per subject" in page.slots.text()


def test_hover_reads_out_the_hour_under_the_cursor(page):
    view = page.vm.series_view("total")
    row = view.forecast.iloc[30]
    x = pd.Timestamp(row["hour"]).timestamp()
    text = page.readout_at(x + 600)
    assert f"{row['hour']:%a %d %b %H:00}" in text and f"forecast {row['mean']:.1f}" in text
    assert "tutor-hours" in text and "coverage" in text
    past = view.history.iloc[-5]
    assert f"{int(past['actual'])} bookings" in page.readout_at(
        pd.Timestamp(past["hour"]).timestamp()
    )
    # Through the real mouse path: a scene position over that hour.
    page.chart.scene().sigMouseMoved.emit(page.hover_point(x, float(row["mean"])))
    assert f"{row['hour']:%a %d %b %H:00}" in page.readout.text()
    page.apply_theme(DARK)  # re-colours without losing the data
    assert len(page.mean_curve.getData()[0]) == 168


def test_before_any_forecast_the_page_says_how_to_get_one(runner, tmp_path, qtbot):
    eng = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(eng)
    vm = ForecastViewModel(runner, lambda: eng)
    p = ForecastPage(vm)
    qtbot.addWidget(p)
    p.show()
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.load()
    assert p.stack.currentIndex() == 0 and vm.series_names() == []
    eng.dispose()


def test_the_window_shows_the_forecast_page_and_loads_it_when_shown(
    make_window, sandbox_server, monkeypatch, qtbot
):
    from services.settings import Settings
    from tests.gui.conftest import wait_ready
    from viewmodels.shell import PAGES

    monkeypatch.setenv("TUTORMAX_API_TOKEN", sandbox_server.token)
    window = make_window(Settings(api_url=sandbox_server.base_url))
    wait_ready(qtbot, window)
    with qtbot.waitSignal(window.shell.sync.sig_sync_landed, timeout=60_000):
        window.sync_now()
    run_forecast(window.shell.backend.engine(), backtest_origins=0)
    assert window.pages["forecast"] is window.forecast_page
    with qtbot.waitSignal(window.shell.forecast.sig_loaded, timeout=20_000):
        window.go_to(PAGES.index("forecast"))
    page = window.forecast_page
    assert page.stack.currentIndex() == 1 and page.series_box.currentData() == "total"
    assert len(page.mean_curve.getData()[0]) == 168


def test_the_window_search_box_picks_a_series_by_name(page, qtbot):
    vm = page.vm
    subject = vm.series_names()[0]
    typed = vm.series_label(subject)[:4].lower()
    with qtbot.waitSignal(vm.sig_series_changed, timeout=1000) as sig:
        page.set_filter(typed)
    assert sig.args == [subject] and page.series_box.currentData() == subject
    page.set_filter("no such subject")  # nothing matches: the chart stays as it is
    assert vm.current == subject
    page.set_filter("all")
    assert vm.current == "total"
