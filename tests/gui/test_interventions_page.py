"""The Interventions page on a real SQLite database through the real service: queue
order and filters, create with validation, state moves, SLA pause, the 409 chooser, the
effectiveness chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QPointF
from sqlalchemy import insert, select, update

from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import Intervention, Manager, OutboxItem, Tutor
from services.intervention_service import InterventionService
from services.intervention_settings import InterventionSettings
from services.intervention_workflow import open_intervention
from ui.pages.interventions import InterventionsPage
from viewmodels.interventions import LOCAL_ID_ROLE, SLA_ROLE, InterventionsViewModel
from viewmodels.tasks import TaskRunner

NOW = datetime.now(UTC)


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    assert r.shutdown(10_000)


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'tutormax.db'}")
    migrate(eng)
    with eng.begin() as conn:
        conn.execute(insert(Manager), [
            {"id": 7, "name": "Dana Park", "updated_at": NOW},
            {"id": 8, "name": "Lee Wong", "updated_at": NOW},
        ])  # fmt: skip
        conn.execute(insert(Tutor), [
            {"id": i, "name": name, "manager_id": m, "status": "active", "updated_at": NOW,
             "deleted_at": gone}
            for i, name, m, gone in (
                (1, "Sarah Chen", 7, None), (2, "Mike Ross", 8, None),
                (3, "Gone Tutor", 7, NOW - timedelta(days=1)),
            )
        ])  # fmt: skip
    open_intervention(eng, tutor_id=1, intervention_type="manager_coaching", reason="Critical",
                      actor="auto", now=NOW - timedelta(hours=10))  # fmt: skip
    open_intervention(eng, tutor_id=2, intervention_type="retention_interview", reason="85 %",
                      actor="auto", now=NOW - timedelta(hours=30))  # fmt: skip
    open_intervention(eng, tutor_id=2, intervention_type="recognition", reason="Platinum",
                      actor="auto", now=NOW - timedelta(hours=1))  # fmt: skip
    yield eng
    eng.dispose()


@pytest.fixture
def settings():
    return InterventionSettings(my_manager_id=8, escalation_contact="ops-lead@example.com")


@pytest.fixture
def page(qtbot, runner, engine, settings, tmp_path):
    service = InterventionService(
        lambda: engine, lambda: settings, actor="dana", models_dir=tmp_path / "models"
    )
    vm = InterventionsViewModel(runner, service.queue, service=service)
    page = InterventionsPage(vm)
    qtbot.addWidget(page)
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.load()
    qtbot.waitUntil(lambda: bool(vm.choices()["tutors"]), timeout=10_000)
    yield page
    page.hide()


def _column(page, col):
    proxy = page.vm.proxy
    return [proxy.index(r, col).data() for r in range(proxy.rowCount())]


def _select(qtbot, page, tutor):
    row = _column(page, 2).index(tutor)
    with qtbot.waitSignal(page.vm.sig_detail, timeout=10_000):
        page.table.selectRow(row)
    return page.detail.row


def test_queue_is_overdue_first_with_assignees_and_filters(qtbot, page):
    assert _column(page, 2) == ["Mike Ross", "Sarah Chen", "Mike Ross"]
    assert page.vm.proxy.index(0, 0).data(SLA_ROLE) == "overdue"  # 24 h SLA, 30 h ago
    assert _column(page, 3)[0] == "retention interview"
    assert _column(page, 7) == ["Lee Wong", "Dana Park", "Lee Wong"]
    assert "3 interventions · 1 overdue · 3 waiting to upload" in page.summary.text()

    page.type_filter.setCurrentIndex(page.type_filter.findData("manager_coaching"))
    assert _column(page, 2) == ["Sarah Chen"]
    page.type_filter.setCurrentIndex(0)
    page.mine.setChecked(True)  # my_manager_id = 8: Lee Wong's
    assert _column(page, 2) == ["Mike Ross", "Mike Ross"]
    page.mine.setChecked(False)
    page.assignee_filter.setCurrentIndex(page.assignee_filter.findData(7))
    assert _column(page, 2) == ["Sarah Chen"]
    page.assignee_filter.setCurrentIndex(0)
    page.state_filter.setCurrentIndex(page.state_filter.findData("completed"))
    assert _column(page, 2) == []


def test_create_dialog_validates_then_shows_the_services_refusal(qtbot, page, engine):
    dialog = page.open_create()
    names = [dialog.tutor.itemText(i) for i in range(dialog.tutor.count())]
    assert names == ["Mike Ross (#2)", "Sarah Chen (#1)"]  # active, not deleted
    dialog.tutor.setCurrentIndex(dialog.tutor.findData(2))
    dialog.buttons.accepted.emit()
    assert "reason is required" in dialog.error.text() and dialog.isVisible()

    # A second open retention interview for Mike is refused by the service, in the dialog.
    dialog.type.setCurrentIndex(dialog.type.findData("retention_interview"))
    dialog.reason.setText("Still at risk")
    with qtbot.waitSignal(page.vm.sig_refused, timeout=10_000):
        dialog.buttons.accepted.emit()
    assert "already open" in dialog.error.text() and dialog.isVisible()

    dialog.type.setCurrentIndex(dialog.type.findData("training_module"))
    with qtbot.waitSignal(page.vm.sig_loaded, timeout=10_000):
        dialog.buttons.accepted.emit()
    assert not dialog.isVisible()
    with engine.connect() as conn:
        row = conn.execute(
            select(Intervention.__table__).where(
                Intervention.intervention_type == "training_module"
            )
        ).one()
    assert row.assigned_to_id == 8 and row.reason == "Still at risk"  # Mike's manager
    assert "training module" in _column(page, 3)


def test_state_moves_notes_and_sla_pause_from_the_detail_pane(qtbot, page, engine):
    row = _select(qtbot, page, "Sarah Chen")
    detail = page.detail
    assert row.intervention_type == "manager_coaching"
    assert not detail.buttons["completed"].isEnabled() and detail.buttons["in_progress"].isEnabled()
    assert "Dana Park" in detail.fields.text() and "48 h SLA" in detail.fields.text()

    with qtbot.waitSignal(page.vm.sig_detail, timeout=10_000):
        detail.buttons["in_progress"].click()
    assert detail.row.status == "in_progress" and detail.buttons["completed"].isEnabled()

    detail.note_input.setText("Called Sarah, she is overloaded")
    with qtbot.waitSignal(page.vm.sig_detail, timeout=10_000):
        detail.note_input.returnPressed.emit()
    assert "dana] Called Sarah, she is overloaded" in detail.notes.toPlainText()
    assert "update" in detail.history.toPlainText()

    with qtbot.waitSignal(page.vm.sig_detail, timeout=10_000):
        detail.pause.click()
    assert detail.pause.text() == "Resume SLA" and "Paused" in detail.sla.text()
    assert "sla_pause" in detail.history.toPlainText()

    # An illegal move is refused with the service's reason.
    with qtbot.waitSignal(page.vm.sig_refused, timeout=10_000) as refused:
        page.vm.set_status(row.local_id, "open")
    assert "cannot move from in_progress to open" in refused.args[0]
    assert "cannot move" in page.message.text()


def test_a_conflict_shows_both_versions_and_keeps_mine(qtbot, page, engine):
    local_id = _select(qtbot, page, "Sarah Chen").local_id
    server = {"id": 41, "status": "completed", "notes": "Closed by Lee", "outcome": None,
              "lock_version": 2}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            update(Intervention)
            .where(Intervention.local_id == local_id)
            .values(id=41, lock_version=0, notes="My plan", conflict=server)
        )
        conn.execute(
            update(OutboxItem)
            .where(OutboxItem.intervention_local_id == local_id)
            .values(status="conflict")
        )
    with qtbot.waitSignal(page.vm.sig_conflict, timeout=10_000):
        page.vm.load()
    assert page.detail.conflict.isVisible() or not page.isVisible()
    dialog = page.detail.open_conflict()
    mine_notes, theirs_notes = dialog.cells[1]
    assert mine_notes.text() == "My plan" and theirs_notes.text() == "Closed by Lee"
    assert mine_notes.font().bold()  # they differ
    with qtbot.waitSignal(page.vm.sig_loaded, timeout=10_000):
        dialog.keep_mine.click()
    with engine.connect() as conn:
        row = conn.execute(
            select(Intervention.__table__).where(Intervention.local_id == local_id)
        ).one()
        statuses = set(
            conn.execute(
                select(OutboxItem.status).where(OutboxItem.intervention_local_id == local_id)
            ).scalars()
        )
    assert row.conflict is None and row.lock_version == 2 and row.notes == "My plan"
    assert statuses == {"pending"}


def test_effectiveness_chart_plots_measured_types_with_sizes(qtbot, page):
    nan = float("nan")
    records = [
        {"intervention_type": "manager_coaching", "n_treated": 700, "n_control": 6000,
         "effect": 0.05, "ci_low": 0.02, "ci_high": 0.08, "naive_effect": -0.6,
         "holdout_effect": nan},
        {"intervention_type": "recognition", "n_treated": 180, "n_control": 2600,
         "effect": 0.02, "ci_low": -0.02, "ci_high": 0.06, "naive_effect": -0.16,
         "holdout_effect": nan},
        {"intervention_type": "peer_mentoring", "n_treated": 3, "n_control": nan,
         "effect": nan, "ci_low": nan, "ci_high": nan, "naive_effect": nan,
         "holdout_effect": nan},
    ]  # fmt: skip
    page.vm.effects.set_records(records)
    data = page.vm.effects.chart_data()
    assert data["labels"] == ["manager coaching", "recognition"]
    assert data["effect"] == pytest.approx([5.0, 2.0]) and data["low"][0] == pytest.approx(2.0)
    panel = page.effects_panel
    assert panel.chart.n_points == 2
    assert "peer mentoring" in panel.status.text()
    # Nothing flagged: filled points, no caveat, no "biased" on the axis.
    assert not panel.chart.is_hollow(0) and not panel.chart.is_hollow(1)
    assert panel.caveat.isHidden() and "Selection bias" not in panel.status.text()
    ticks = panel.chart.getAxis("bottom")._tickLevels[0]
    assert ticks == [(0, "manager coaching\nn=700"), (1, "recognition\nn=180")]


def test_a_type_flagged_for_selection_bias_is_drawn_hollow_with_its_caveat(qtbot, page):
    """The demo's managers pick tutors on hidden disengagement: a matched comparison that
    reads "harmful" must not look like a measured effect."""
    caveat = "Not a measured effect: within 7 days ... Only a random hold-out can measure it."
    records = [
        {"intervention_type": "manager_coaching", "n_treated": 82, "n_control": 5000,
         "effect": -0.26, "ci_low": -0.36, "ci_high": -0.17, "naive_effect": -0.5,
         "holdout_effect": None, "caveat": "selection_bias", "caveat_text": caveat},
        {"intervention_type": "recognition", "n_treated": 180, "n_control": 2600,
         "effect": 0.02, "ci_low": -0.02, "ci_high": 0.06, "naive_effect": -0.16,
         "holdout_effect": 0.04, "holdout_ci_low": -0.01, "holdout_ci_high": 0.09,
         "n_holdout": 40, "caveat": "", "caveat_text": ""},
    ]  # fmt: skip
    page.show()
    page.vm.effects.set_records(records)
    panel = page.effects_panel
    chart = panel.chart
    # Largest effect first: recognition (filled), then manager coaching (hollow).
    assert not chart.is_hollow(0) and chart.is_hollow(1)
    ticks = chart.getAxis("bottom")._tickLevels[0]
    assert ticks[1] == (1, "manager coaching\nn=82 · biased") and "biased" not in ticks[0][1]
    # Its bars are the dashed set, not the solid ones.
    assert list(chart.biased_errors.opts["x"]) == [1.0] and list(chart.errors.opts["x"]) == [0.0]
    # Hovering a point tells its figures and, for the flagged one, the caveat.
    tips = [p.data() for p in chart.points.points()]
    assert tips[1].startswith("manager coaching: −26 points") and caveat in tips[1]
    assert "95 % interval −36 to −17" in tips[1] and caveat not in tips[0]
    # The hold-out's diamond sits beside recognition, with its own interval.
    (diamond,) = chart.holdout.points()
    assert diamond.pos().x() == pytest.approx(0.22) and diamond.pos().y() == pytest.approx(4.0)
    assert "Random hold-out (40 tutors): +4 points" in tips[0]
    assert not panel.caveat.isHidden() and "Hollow points" in panel.caveat.text()
    status = panel.status.text()
    assert "Selection bias: manager coaching." in status and "recognition." not in status
    assert "hold-out share" in status
    # The same through the mouse: resting on the hollow point shows its caveat.
    page._measured = True  # showing the tab must not start a measurement here
    page.tabs.setCurrentIndex(1)
    qtbot.waitExposed(chart)
    at = chart.mapFromScene(chart.getPlotItem().vb.mapViewToScene(QPointF(1.0, -26.0)))
    qtbot.mouseMove(chart.viewport(), at)
    qtbot.waitUntil(lambda: caveat in chart.getPlotItem().vb.toolTip(), timeout=3_000)
    # A new measurement without the flag takes the caveat away again.
    records[0].update(caveat="", caveat_text="")
    page.vm.effects.set_records(records)
    assert not chart.is_hollow(1) and panel.caveat.isHidden()


def test_a_breach_found_by_loading_is_escalated_once_and_shown(qtbot, page, engine):
    from services.db.models import AuditEntry, InterventionEscalation

    row = _select(qtbot, page, "Mike Ross")  # the overdue retention interview
    assert row.sla_state == "overdue"
    assert "Escalated to ops-lead@example.com" in page.detail.fields.text()
    with qtbot.waitSignal(page.vm.sig_loaded, timeout=10_000):
        page.vm.load()  # looking again does not escalate again
    with engine.connect() as conn:
        escalations = conn.execute(select(InterventionEscalation.__table__)).all()
        breaches = conn.execute(
            select(AuditEntry.id).where(AuditEntry.action == "intervention.sla_breach")
        ).all()
    assert len(escalations) == 1 and len(breaches) == 1
    assert escalations[0].intervention_local_id == row.local_id


def test_opening_the_effectiveness_tab_measures_once_and_explains_what_is_missing(qtbot, page):
    with qtbot.waitSignal(page.vm.effects.sig_error, timeout=10_000) as error:
        page.tabs.setCurrentIndex(1)
    assert "train the models first" in error.args[0]
    assert "train the models first" in page.effects_panel.status.text()
    page.tabs.setCurrentIndex(0)
    page.tabs.setCurrentIndex(1)  # not measured again on every visit
    assert not page.vm.runner.running_names()


def test_countdowns_move_on_a_worker_and_keep_the_selection(qtbot, page):
    row = _select(qtbot, page, "Sarah Chen")
    before = page.vm.model.prepared()
    with qtbot.waitSignal(page.vm.model.dataChanged, timeout=10_000):
        page._tick()
    after = page.vm.model.prepared()
    assert [p.row for p in after] == [p.row for p in before]  # same rows, new texts
    assert page.table.selectionModel().selectedRows()[0].data(LOCAL_ID_ROLE) == row.local_id


def test_a_create_the_api_refused_shows_why_and_can_be_discarded(qtbot, page, engine):
    local_id = _select(qtbot, page, "Sarah Chen").local_id
    with engine.begin() as conn:  # what the outbox records for a 422
        conn.execute(
            update(OutboxItem)
            .where(OutboxItem.intervention_local_id == local_id)
            .values(status="failed", last_error="422: assigned_to must exist")
        )
    with qtbot.waitSignal(page.vm.sig_detail, timeout=10_000):
        page.vm.load()
    assert "Rejected by API" in _column(page, 6)
    assert "The API refused it: 422: assigned_to must exist" in page.detail.fields.text()
    assert not page.detail.discard.isHidden()
    with qtbot.waitSignal(page.vm.sig_loaded, timeout=10_000):
        page.detail.discard.click()
    assert "Sarah Chen" not in _column(page, 2)
    from services.db.models import AuditEntry

    with engine.connect() as conn:
        gone = conn.execute(
            select(AuditEntry.details).where(AuditEntry.action == "intervention.discarded")
        ).scalar_one()
        items = conn.execute(
            select(OutboxItem.id).where(OutboxItem.intervention_local_id == local_id)
        ).all()
    assert gone["refused_because"] == "422: assigned_to must exist" and items == []
    # A synced or still-pending one cannot be discarded.
    mike = _select(qtbot, page, "Mike Ross")
    with qtbot.waitSignal(page.vm.sig_refused, timeout=10_000) as refused:
        page.vm.discard(mike.local_id)
    assert "only an intervention the API refused" in refused.args[0]


def test_the_detail_pane_colours_the_sla_like_the_queue(qtbot, page):
    from ui.theme import DARK, LIGHT

    _select(qtbot, page, "Mike Ross")  # the overdue retention interview
    assert f'color:{LIGHT.red}">Overdue' in page.detail.sla.text()
    page.apply_theme(DARK)  # a theme change repaints it in the new palette
    assert f'color:{DARK.red}">Overdue' in page.detail.sla.text()
    _select(qtbot, page, "Sarah Chen")  # 48 h SLA, just created: on track
    text = page.detail.sla.text()
    assert f'color:{DARK.green}">On track' in text and DARK.red not in text
