"""The window's search box on the Dashboard: the Critical tutors list narrows to what
was typed (any column: name, reason), and clearing it brings every row back."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.metrics import CriticalTutor
from ui.pages.dashboard import DashboardPage
from viewmodels.dashboard import DashboardViewModel
from viewmodels.tasks import TaskRunner


@pytest.fixture
def runner(qtbot):  # type: ignore[no-untyped-def]
    r = TaskRunner()
    yield r
    assert r.shutdown(10_000)


def test_the_dashboard_search_narrows_the_critical_tutors(qtbot, runner):  # type: ignore[no-untyped-def]
    dash = SimpleNamespace(
        as_of=None, as_of_local=datetime(2026, 11, 20, 12, tzinfo=UTC), scoring_run=None,
        cards=(), tiers={"Platinum": 1, "Gold": 1, "Silver": 1, "Bronze": 0},
        has_sessions=False, heatmap=(),
        heatmap_days=28, timezone="UTC", seconds=0.0,
        critical=(
            CriticalTutor(1, "Sarah Chen", "Critical", 0.81, "engagement falling", 9, False),
            CriticalTutor(2, "Ryan Alvarez", "Critical", 0.94, "no sessions in 19 days", 9, True),
            CriticalTutor(3, "Leo King", "High", 0.61, "ratings down", 4, False),
        ),
    )  # fmt: skip
    vm = DashboardViewModel(runner, lambda: dash)
    page = DashboardPage(vm)
    qtbot.addWidget(page)
    with qtbot.waitSignal(vm.sig_loaded, timeout=5000):
        vm.load()
    proxy = page.critical_proxy
    assert proxy.rowCount() == 3
    page.tabs.setCurrentIndex(1)
    page.set_filter("sarah")
    assert page.tabs.currentIndex() == 0  # the list searched is on the Overview
    names = [proxy.index(r, 1).data() for r in range(proxy.rowCount())]
    assert names == ["Sarah Chen"]
    page.set_filter("no sessions")  # the reason column too
    assert [proxy.index(r, 1).data() for r in range(proxy.rowCount())] == ["Ryan Alvarez"]
    page.set_filter("")
    assert proxy.rowCount() == 3
