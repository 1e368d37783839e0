"""View models with plain fakes for the services: models tested without views,
properties that notify only on change, offline and token states, the scheduler's
cadences, notifications and settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtCore import QSortFilterProxyModel, Qt

from services.api import errors
from services.jobs import AFTER_SYNC, NIGHTLY, JobRegistry
from services.metrics import CriticalTutor, InterventionRow, RejectRow
from services.notifications import (
    NotificationEvent,
    PolicySettings,
    critical_alert_event,
)
from services.scheduler import Scheduler
from services.settings import Settings
from viewmodels.dashboard import DashboardViewModel
from viewmodels.interventions import SLA_ROLE, InterventionsViewModel
from viewmodels.notifications import KEY_ROLE, READ_ROLE, NotificationCenter
from viewmodels.scheduler import SchedulerViewModel
from viewmodels.settings import SettingsViewModel
from viewmodels.sync_status import SyncViewModel
from viewmodels.system import RAW_ROLE, SystemViewModel
from viewmodels.tasks import SORT_ROLE, TaskRunner

RESOURCES = ["tutors", "sessions"]


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    assert r.shutdown(10_000)


@dataclass
class Result:
    upserted: int = 0
    deleted: int = 0
    fetched: int = 0
    rejected: int = 0


@dataclass
class Report:
    status: str = "ok"
    results: dict[str, Result] = field(default_factory=dict)
    seconds: float = 0.1

    @property
    def total_fetched(self) -> int:
        return sum(r.fetched for r in self.results.values())

    @property
    def total_rejected(self) -> int:
        return 0


def _status(when: str | None) -> dict[str, Any]:
    return {
        "resources": {
            n: {
                "status": "ok" if when else "never",
                "rows": 10,
                "rejects": 0,
                "last_success_at": when,
                "last_error": None,
            }
            for n in RESOURCES
        }
    }


def _sync_vm(runner, run, status=None) -> SyncViewModel:
    return SyncViewModel(runner, RESOURCES, run, lambda: status or _status(None))


# ---------------------------------------------------------------------- sync


def test_sync_reports_progress_then_online_with_the_data_age(qtbot, runner):
    when = datetime.now(UTC) - timedelta(minutes=12)

    def run(state, resources, trigger):
        state.progress(SimpleNamespace(resource="sessions", status="running", fetched=500))
        return Report(results={"sessions": Result(upserted=5, fetched=500)})

    vm = SyncViewModel(runner, RESOURCES, run, lambda: _status(when.isoformat()))
    with qtbot.waitSignal(vm.sig_sync_landed, timeout=5000) as landed:
        assert vm.sync(None, trigger="manual")
    assert landed.args[1] is True  # something was upserted: the data changed
    assert vm.connection == "online"
    qtbot.waitUntil(lambda: vm.last_synced == when, timeout=5000)
    assert vm.age_text == "Last synced 12 min ago"
    assert vm.model.value("sessions", "fetched") == 500
    # Properties notify only on change.
    with qtbot.assertNotEmitted(vm.sig_connection_changed):
        vm._set_connection("online")
    with qtbot.assertNotEmitted(vm.sig_age_text_changed):
        vm._tick_age()


def test_unreachable_api_means_offline_with_the_age_of_the_local_data(qtbot, runner):
    when = datetime.now(UTC) - timedelta(hours=3)

    class OfflineError(RuntimeError):
        pass

    def run(state, resources, trigger):
        raise OfflineError("the API at https://x is unreachable")

    vm = SyncViewModel(runner, RESOURCES, run, lambda: _status(when.isoformat()))
    with qtbot.waitSignal(vm.sig_connection_changed, timeout=5000) as changed:
        vm.sync_now()
    assert changed.args == ["offline"]
    qtbot.waitUntil(lambda: vm.age_text == "Offline · data from 3 h ago", timeout=5000)


def test_a_refused_token_is_its_own_state(qtbot, runner):
    def run(state, resources, trigger):
        raise errors.AuthError("401")

    vm = _sync_vm(runner, run)
    with qtbot.waitSignal(vm.sig_connection_changed, timeout=5000) as changed:
        vm.sync_now()
    assert changed.args == ["auth_failed"]


def test_sync_never_overlaps_and_cancels(qtbot, runner):
    gate = threading.Event()

    def run(state, resources, trigger):
        gate.wait(5)
        if state.cancelled:
            raise errors.CancelledError("cancelled")
        return Report()

    vm = _sync_vm(runner, run)
    assert vm.sync(["sessions"], trigger="schedule")
    assert not vm.sync(None)
    with qtbot.waitSignal(vm.sig_busy_changed, timeout=5000) as idle:
        vm.cancel()
        gate.set()
    assert idle.args == [False]
    assert runner.history.records()[0].status == "cancelled"


# ---------------------------------------------------------------------- dashboard


def _tutor(tid, tier, p, *, open_=False):
    return CriticalTutor(tid, f"Tutor {tid}", tier, p, "sessions down 40 %", 9, open_)


def test_dashboard_critical_model_sorts_and_creates_interventions(qtbot, runner):
    dash = SimpleNamespace(
        critical=(
            _tutor(1, "High", 0.55),
            _tutor(2, "Critical", 0.91),
            _tutor(3, "Critical", 0.72),
        ),
        cards=(),
        heatmap=((0,) * 24,) * 7,
        tiers={"Platinum": 1, "Gold": 2, "Silver": 3, "Bronze": 4},
    )
    created = []

    def create(tutor_id, **kw):
        created.append((tutor_id, kw))
        return 77

    vm = DashboardViewModel(runner, lambda: dash, create)
    with qtbot.waitSignal(vm.sig_loaded, timeout=5000):
        vm.load()
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(vm.critical)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(2, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(r, 1).data() for r in range(3)] == ["Tutor 2", "Tutor 3", "Tutor 1"]
    proxy.sort(0, Qt.SortOrder.AscendingOrder)
    assert proxy.index(2, 0).data() == "HIGH"
    assert vm.tiers() == dash.tiers
    with qtbot.waitSignal(vm.sig_intervention_created, timeout=5000) as made:
        assert vm.create_intervention(2)
    assert made.args == [2, 77]
    _, kw = created[0]
    assert kw["intervention_type"] == "manager_coaching" and kw["due_in_hours"] == 48
    assert kw["assigned_to_id"] == 9 and "91 %" in kw["reason"]
    qtbot.waitUntil(lambda: not runner.running_names(), timeout=5000)
    with qtbot.waitSignal(vm.sig_intervention_created, timeout=5000):
        assert vm.create_intervention(1)
    assert created[1][1]["intervention_type"] == "automated_coaching"
    qtbot.waitUntil(lambda: not runner.running_names(), timeout=5000)
    assert not vm.create_intervention(999)


# ---------------------------------------------------------------------- interventions


def test_interventions_sort_overdue_first_and_flag_breaches(qtbot, runner):
    now = datetime.now(UTC)

    def row(i, due_h, status="open", pending=False):
        return InterventionRow(
            i, None, i, f"Tutor {i}", "manager_coaching", status, 50, now + timedelta(hours=due_h),
            "x", pending, False, None,
        )  # fmt: skip

    rows = [row(1, 30), row(2, -2), row(3, 5), row(4, -50, "completed"), row(5, -1, pending=True)]
    vm = InterventionsViewModel(runner, lambda: rows)
    with qtbot.waitSignal(vm.sig_overdue, timeout=5000) as overdue:
        vm.load()
    assert sorted(r.local_id for r in overdue.args[0]) == [2, 5]
    proxy = vm.proxy
    order = [proxy.index(r, 2).data() for r in range(proxy.rowCount())]
    assert order == ["Tutor 2", "Tutor 5", "Tutor 3", "Tutor 1", "Tutor 4"]
    assert [proxy.index(r, 0).data(SLA_ROLE) for r in range(5)] == [
        "overdue", "overdue", "due_soon", "on_track", "done",
    ]  # fmt: skip
    assert proxy.index(1, 6).data() == "Pending upload"
    vm.set_filter("Tutor 3")
    assert proxy.rowCount() == 1


# ---------------------------------------------------------------------- system


def test_system_rejects_filter_and_raw_records(qtbot, runner):
    rejects = [
        RejectRow(1, "sessions", "12", "rating: 7 is above 5", '{"id": 12}', None, None, 3),
        RejectRow(2, "tutors", None, "id missing", '{"name": "x"}', None, None, 1),
    ]
    vm = SystemViewModel(runner, lambda: {"models": [], "outbox_depth": 0}, lambda: rejects)
    with qtbot.waitSignal(vm.sig_snapshot, timeout=5000):
        vm.load()
    assert vm.rejects.rowCount() == 2
    vm.set_filter("rating")
    assert vm.rejects_proxy.rowCount() == 1
    assert vm.rejects_proxy.index(0, 0).data(RAW_ROLE) == '{"id": 12}'
    assert vm.rejects_proxy.index(0, 3).data() == "3×"


# ---------------------------------------------------------------------- notifications


def test_notification_center_inbox_unread_and_open(qtbot, tmp_path):
    center = NotificationCenter(tmp_path / "inbox.json", PolicySettings(quiet_hours=False))
    desktop = []
    center.sig_desktop.connect(desktop.append)
    event = critical_alert_event(
        alert_key="churn:tutor:1", subject="Sarah Chen", reason="72 %", target="alerts/1"
    )
    with qtbot.waitSignal(center.sig_unread_changed, timeout=1000) as unread:
        center.post(event)
    assert unread.args == [1]
    assert [e.title for e in desktop] == ["Critical: Sarah Chen"]
    with qtbot.assertNotEmitted(center.sig_unread_changed):
        assert center.post(event).reason == "duplicate"
    assert center.inbox.rowCount() == 1
    assert center.inbox.index(0, 0).data(KEY_ROLE) == "alert:churn:tutor:1"
    with qtbot.waitSignal(center.sig_open_target, timeout=1000) as opened:
        center.open_item("alert:churn:tutor:1")
    assert opened.args == ["alerts/1"]
    assert center.unread == 0 and center.inbox.index(0, 0).data(READ_ROLE)
    center.stop()  # saves
    again = NotificationCenter(tmp_path / "inbox.json")
    assert again.inbox.rowCount() == 1 and again.unread == 0
    assert again.post(event).reason == "duplicate"  # remembered across restarts
    again.stop()


def test_notice_events_stay_in_the_inbox(qtbot):
    center = NotificationCenter(None)
    desktop = []
    center.sig_desktop.connect(desktop.append)
    center.post(NotificationEvent("n", "notice", "info", "No tray", "x", "inbox"))
    assert desktop == [] and center.unread == 1
    center.stop()


# ---------------------------------------------------------------------- scheduler


def test_scheduler_syncs_due_resources_and_runs_jobs_after_changes(qtbot, runner, tmp_path):
    now = [datetime(2026, 11, 20, 15, 0, tzinfo=UTC)]
    synced = []

    def run(state, resources, trigger):
        synced.append((resources, trigger))
        return Report(results={"sessions": Result(upserted=len(synced) == 1)})

    sync = _sync_vm(runner, run)
    ran = []
    registry = JobRegistry()
    registry.register(
        "score",
        lambda ctx: ran.append(("score", ctx)) or "scored",
        triggers={AFTER_SYNC},
        min_interval_minutes=15,
        isolated=False,
    )
    registry.register(
        "train",
        lambda ctx: ran.append(("train", ctx)) or "trained",
        triggers={NIGHTLY},
        isolated=False,
    )
    scheduler = Scheduler(registry, tmp_path / "s.json", nightly_at=time(2), tz=UTC)
    vm = SchedulerViewModel(
        runner,
        sync,
        scheduler,
        due_resources=lambda: ["sessions", "bookings"],
        job_context=lambda state, trigger: trigger,
        interval_ms=60_000,
        clock=lambda: now[0],
    )
    # Start: the first tick catches up the missed nightly run and syncs what is due.
    vm.start()
    qtbot.waitUntil(lambda: len(synced) == 1 and ("train", "nightly") in ran, timeout=5000)
    assert synced[0] == (["sessions", "bookings"], "schedule")
    # The sync changed data: scoring follows.
    qtbot.waitUntil(lambda: ("score", "after_sync") in ran, timeout=5000)
    qtbot.waitUntil(lambda: not runner.running_names(), timeout=5000)
    # A sync that changed nothing does not score again.
    now[0] += timedelta(minutes=20)
    with qtbot.waitSignal(sync.sig_sync_landed, timeout=5000):
        sync.sync_now()
    qtbot.waitUntil(lambda: not runner.running_names(), timeout=5000)
    assert [r for r in ran if r[0] == "score"] == [("score", "after_sync")]
    # "Retrain now" and the history of the runs.
    assert vm.run_now("train")
    qtbot.waitUntil(lambda: ("train", "manual") in ran, timeout=5000)
    qtbot.waitUntil(lambda: not runner.running_names(), timeout=5000)
    assert not vm.run_now("forecast")
    history = [(r.name, r.trigger, r.status, r.summary) for r in scheduler.history()]
    assert ("score", "after_sync", "ok", "scored") in history
    assert ("train", "manual", "ok", "trained") in history
    vm.stop()
    assert not vm.running


# ---------------------------------------------------------------------- settings


def test_settings_test_connection_and_save_keep_the_token_out_of_the_settings(qtbot, runner):
    current = [Settings()]
    saved = []

    def test(url, token):
        if token != "good":
            raise errors.AuthError("401")
        return f"Connected to {url}"

    def apply(new, token):
        saved.append((new, token))
        current[0] = new

    vm = SettingsViewModel(runner, lambda: current[0], test, apply)
    with qtbot.waitSignal(vm.sig_test_result, timeout=5000) as result:
        vm.test_connection("https://ops.example.com", "bad")
    assert result.args[0] is False and "refused" in result.args[1]
    with qtbot.waitSignal(vm.sig_test_result, timeout=5000) as result:
        vm.test_connection("https://ops.example.com", " good ")
    assert result.args == [True, "Connected to https://ops.example.com"]
    new = current[0].model_copy(deep=True)
    new.api_url = "https://ops.example.com"
    with qtbot.waitSignal(vm.sig_saved, timeout=5000):
        vm.save(new, "good")
    assert saved[0][1] == "good"
    assert "good" not in saved[0][0].model_dump_json()
