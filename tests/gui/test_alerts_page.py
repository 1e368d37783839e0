"""The Alerts page and its view model on a real (SQLite) database of evaluated alerts."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QItemSelectionModel, QSettings
from sqlalchemy import select

from services.alerts import evaluate_alerts, registered_rules
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import Alert, AuditEntry, Intervention
from tests.alerts.conftest import AS_OF, Market
from ui.pages.alerts import AlertsPage
from viewmodels.alert_queue import ALERT_ID_ROLE, QueueFilter
from viewmodels.alerts import AlertsViewModel
from viewmodels.tasks import TaskRunner


@pytest.fixture
def engine(tmp_path):  # type: ignore[no-untyped-def]
    eng = make_engine(f"sqlite:///{tmp_path / 'alerts.db'}")
    migrate(eng)
    market = Market(eng)
    market.tutor(2, p30=0.74, name="Sarah Chen")
    market.tutor(3, p30=0.55, name='=HYPERLINK("http://x")')  # a formula-shaped name
    market.tutor(4, p30=0.1, days_since_last_session=20.0, name="Omar Diaz")
    market.customer(9, calls_14d=3)
    # Created "now" so the page's 30-day window of closed alerts holds them.
    evaluate_alerts(eng, now=datetime.now(UTC))
    yield eng
    eng.dispose()


@pytest.fixture
def runner(qtbot):  # type: ignore[no-untyped-def]
    r = TaskRunner()
    yield r
    assert r.shutdown(10_000)


@pytest.fixture
def vm(runner, engine, qtbot):  # type: ignore[no-untyped-def]
    model = AlertsViewModel(runner, lambda: engine, user="ana")
    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        model.load()
    return model


@pytest.fixture
def page(vm, qtbot, tmp_path):  # type: ignore[no-untyped-def]
    store = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    p = AlertsPage(vm, store=store)
    qtbot.addWidget(p)
    p.resize(1300, 800)
    p.show()
    return p


def ids_of(vm: AlertsViewModel) -> list[int]:
    return vm.model.visible_ids()


def alert_id(engine, rule: str, subject: str) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(
            select(Alert.id).where(Alert.rule == rule, Alert.subject_id == subject)
        ).scalar_one()


def test_page_shows_the_queue_most_urgent_first(page, vm) -> None:  # type: ignore[no-untyped-def]
    m = vm.model
    assert m.rowCount() == 4
    assert m.data(m.index(0, 0)) == "Critical"
    subjects = {m.data(m.index(r, 3)) for r in range(m.rowCount())}
    assert {"Sarah Chen", "Omar Diaz", "Customer 9"} <= subjects
    assert page.table_stack.currentWidget() is page.table
    assert page.summary.text() == "4 shown of 4"
    # "Any type" and every rule, so a view can filter on a rule that has not fired yet
    assert page.rule.count() == 1 + len(registered_rules())


def test_selecting_a_row_shows_the_detail_with_the_risk_curve(page, vm, engine, qtbot) -> None:  # type: ignore[no-untyped-def]
    sarah = alert_id(engine, "churn_risk", "2")
    row = vm.model.row_of(sarah)
    with qtbot.waitSignal(vm.sig_detail, timeout=10_000) as got:
        page.table.selectRow(row)
    detail = got.args[0]
    assert detail["id"] == sarah
    d = page.detail
    assert d.stack.currentIndex() == 1
    assert "Sarah Chen" in d.title.text() and "Critical" in d.title.text()
    assert "p churn 30d" in d.facts.text() and "churn high" in d.facts.text()
    assert "sessions down 40 %" in d.factors.text()
    assert d.curve.isVisibleTo(page) and len(d.curve.curve.getData()[0]) == 4
    assert d.create_button.isEnabled()
    assert "open" in d.audit.text()


def test_customer_alert_has_no_intervention_button(page, vm, engine, qtbot) -> None:  # type: ignore[no-untyped-def]
    row = vm.model.row_of(alert_id(engine, "customer_calls", "9"))
    with qtbot.waitSignal(vm.sig_detail, timeout=10_000):
        page.table.selectRow(row)
    assert not page.detail.create_button.isEnabled()
    assert "customer" in page.detail.create_button.toolTip()
    assert not page.detail.curve.isVisibleTo(page)
    assert "calls to support up to 3" in page.detail.factors.text()  # the customer model


def test_bulk_acknowledge_from_the_page_reloads_and_audits(page, vm, engine, qtbot) -> None:  # type: ignore[no-untyped-def]
    sel = page.table.selectionModel()
    for r in range(3):
        sel.select(
            vm.model.index(r, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    chosen = page.selected_ids()
    assert len(chosen) == 3 and page.buttons["acknowledge"].isEnabled()
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        page.buttons["acknowledge"].click()
    with engine.connect() as conn:
        states = dict(conn.execute(select(Alert.id, Alert.state)).all())
        who = set(
            conn.execute(
                select(AuditEntry.actor).where(AuditEntry.action == "alert.acknowledge")
            ).scalars()
        )
    assert {states[i] for i in chosen} == {"acknowledged"} and who == {"ana"}
    vm.update_filter(state="acknowledged")
    assert sorted(ids_of(vm)) == sorted(chosen)


def test_snooze_in_the_past_says_so_and_changes_nothing(page, vm, engine, qtbot) -> None:  # type: ignore[no-untyped-def]
    target = ids_of(vm)[:1]
    with qtbot.waitSignal(vm.sig_error, timeout=5_000) as err:
        vm.snooze(target, datetime.now(UTC) - timedelta(minutes=5))
    assert "in the past" in err.args[0]
    assert page.error.isVisibleTo(page) and "in the past" in page.error.text()
    with engine.connect() as conn:
        assert (
            conn.execute(select(Alert.snoozed_until).where(Alert.id == target[0])).scalar() is None
        )
    # A future snooze hides it from the open queue and shows it under Snoozed.
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.snooze(target, datetime.now(UTC) + timedelta(hours=3))
    assert target[0] not in ids_of(vm)
    vm.update_filter(state="snoozed")
    assert ids_of(vm) == target
    # Unsnoozed from the page: back in the open queue.
    page.table.selectRow(0)
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        page.buttons["unsnooze"].click()
    assert ids_of(vm) == []
    vm.update_filter(state="open")
    assert target[0] in ids_of(vm)


def test_claim_then_mine(page, vm, qtbot) -> None:  # type: ignore[no-untyped-def]
    target = ids_of(vm)[-1]
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.claim([target])
    page.mine.setChecked(True)
    assert ids_of(vm) == [target]
    page.mine.setChecked(False)
    assert len(ids_of(vm)) == 4


def test_saved_views_persist_in_qsettings(page, vm, tmp_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    vm.update_filter(severities={"Critical"}, text="sarah")
    vm.save_view("My critical")
    assert page.views.findData("My critical") > 0
    vm.set_filter(QueueFilter())
    assert len(ids_of(vm)) == 4
    # A fresh QSettings on the same file (the next start) sees the view.
    again = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    other = AlertsViewModel(vm.runner, vm._engine, user="ana")
    other.use_store(again)
    assert other.view_names() == ["My critical"]
    page.views.setCurrentIndex(page.views.findData("My critical"))
    page._view_chosen(page.views.currentIndex())
    assert [vm.model.row_data(0).subject_name] == ["Sarah Chen"] and vm.model.rowCount() == 1
    assert page.search.text() == "sarah" and page.severity_actions["Critical"].isChecked()
    vm.delete_view("My critical")
    assert page.views.count() == 1


def test_csv_export_of_the_view_neutralises_formulas(page, vm, tmp_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    vm.update_filter(subject_types={"tutor"})
    target = tmp_path / "alerts.csv"
    with qtbot.waitSignal(vm.sig_export_finished, timeout=10_000) as done:
        vm.export_csv(target)
    assert done.args == [str(target), 3]
    with target.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:4] == ["Severity", "Priority", "Rule", "Subject"]
    subjects = [r[3] for r in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in subjects and "Sarah Chen" in subjects
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


def test_create_intervention_prefilled_from_the_rule(page, vm, engine, qtbot) -> None:  # type: ignore[no-untyped-def]
    sarah = alert_id(engine, "churn_risk", "2")
    with qtbot.waitSignal(vm.sig_detail, timeout=10_000) as got:
        vm.select(sarah)
    detail = got.args[0]
    suggestion = detail["suggestion"]
    assert suggestion.intervention_type == "manager_coaching"
    assert "Sarah Chen" in suggestion.reason
    with qtbot.waitSignal(vm.sig_intervention_created, timeout=10_000) as made:
        vm.create_intervention(detail, suggestion.intervention_type, suggestion.reason)
    with engine.connect() as conn:
        row = conn.execute(
            select(Intervention.__table__).where(Intervention.local_id == made.args[0])
        ).first()
    assert row.tutor_id == 2 and row.intervention_type == "manager_coaching"
    assert row.source_alert_key == "churn_risk:tutor:2"
    assert row.assigned_to_id == 1  # the tutor's manager
    # A second one of the same type for the same tutor is refused with a clear message.
    with qtbot.waitSignal(vm.sig_error, timeout=10_000) as err:
        vm.create_intervention(detail, "manager_coaching", "again")
    assert "already open" in err.args[0]


def test_window_search_box_filters_the_queue(page, vm, qtbot) -> None:  # type: ignore[no-untyped-def]
    page.set_filter("omar")
    qtbot.waitUntil(lambda: vm.model.rowCount() == 1, timeout=3_000)
    assert vm.model.data(vm.model.index(0, 3)) == "Omar Diaz"
    assert AS_OF  # the fixture's as-of instant is fixed; ages are relative to now
    assert vm.model.data(vm.model.index(0, 0), ALERT_ID_ROLE)


# ---------------------------------------------------------------------- customer alerts


def test_a_customer_alert_offers_log_contact_and_says_why_not_an_intervention(
    page, vm, engine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    d = page.detail
    with qtbot.waitSignal(vm.sig_detail, timeout=10_000):
        page.table.selectRow(vm.model.row_of(alert_id(engine, "customer_calls", "9")))
    assert d.contact_button.isEnabled() and "contact history" in d.contact_button.toolTip()
    assert not d.create_button.isEnabled()
    assert "Log contact" in d.create_button.toolTip()  # the way out, not a dead end
    # A tutor's alert: nobody to contact; the disabled button says why.
    with qtbot.waitSignal(vm.sig_detail, timeout=10_000):
        page.table.selectRow(vm.model.row_of(alert_id(engine, "churn_risk", "2")))
    assert not d.contact_button.isEnabled() and "not a customer" in d.contact_button.toolTip()
    assert d.create_button.isEnabled()


def test_log_contact_reaches_the_customers_contact_history(page, vm, engine, qtbot) -> None:  # type: ignore[no-untyped-def]
    from services.customers import customer_bundle

    calls = alert_id(engine, "customer_calls", "9")
    with qtbot.waitSignal(vm.sig_detail, timeout=10_000) as got:
        vm.select(calls)
    said: list[str] = []
    vm.sig_message.connect(said.append)
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.log_contact(got.args[0], "call", "Called back; the login issue is fixed")
    assert said == [
        "Phone call with Customer 9 logged on their contact history; alert acknowledged"
    ]
    with engine.connect() as conn:
        state = conn.execute(select(Alert.state).where(Alert.id == calls)).scalar_one()
    assert state == "acknowledged"
    contacts = customer_bundle(engine, 9).contacts
    logged = [c for c in contacts if c["action"] == "contact.call"]
    assert len(logged) == 1 and logged[0]["actor"] == "ana"
    assert logged[0]["details"]["note"] == "Called back; the login issue is fixed"
    # The alert's own trail shows it was acknowledged because of the contact.
    assert any(c["action"] == "alert.acknowledge" for c in contacts)


def test_log_contact_is_refused_without_a_note_or_a_customer(page, vm, engine, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(vm.sig_detail, timeout=10_000) as got:
        vm.select(alert_id(engine, "customer_calls", "9"))
    with qtbot.waitSignal(vm.sig_error, timeout=5_000) as err:
        vm.log_contact(got.args[0], "call", "   ")
    assert "note" in err.args[0]
    with qtbot.waitSignal(vm.sig_detail, timeout=10_000) as tutor:
        vm.select(alert_id(engine, "churn_risk", "2"))
    with qtbot.waitSignal(vm.sig_error, timeout=5_000) as err:
        vm.log_contact(tutor.args[0], "call", "hello")
    assert "customer" in err.args[0]


def test_contact_dialog_needs_a_note(qtbot) -> None:  # type: ignore[no-untyped-def]
    from ui.pages.alerts import ContactDialog

    dialog = ContactDialog({"call": "Phone call", "email": "E-mail"}, "Kim Park")
    qtbot.addWidget(dialog)
    assert not dialog.ok.isEnabled() and "note" in dialog.ok.toolTip()
    dialog.note.setPlainText("Booked a make-up session")
    dialog.channel.setCurrentIndex(1)
    dialog.resolve.setChecked(True)
    assert dialog.ok.isEnabled()
    assert dialog.values() == ("email", "Booked a make-up session", True)


# ---------------------------------------------------------------------- layout


def test_the_queue_gets_most_of_the_width_and_filters_are_not_clipped(vm, qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QStyle

    from ui.pages.alerts import QUEUE_SHARE

    p = AlertsPage(vm)
    qtbot.addWidget(p)
    p.resize(1024, 700)  # the page's share of the default 1280 x 820 window
    p.show()
    qtbot.waitExposed(p)

    def share() -> float:
        left, right = p.splitter.sizes()
        return left / (left + right)

    qtbot.waitUntil(lambda: abs(share() - QUEUE_SHARE) < 0.02, timeout=3_000)
    assert share() >= 0.70
    p.resize(1600, 900)  # a larger window keeps the queue's share
    qtbot.waitUntil(lambda: sum(p.splitter.sizes()) > 1400, timeout=3_000)
    assert share() >= 0.70
    for w in (p.state, p.severity_button, p.rule, p.subject, p.manager, p.mine):
        assert w.width() >= w.sizeHint().width(), type(w).__name__
    # The severity button's hint leaves room for its menu arrow beside the text (a tool
    # button's arrow is drawn over it).
    sev = p.severity_button
    arrow = sev.style().pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None, sev)
    assert sev.sizeHint().width() >= sev.fontMetrics().horizontalAdvance("Severity") + arrow
    p.resize(900, 700)  # squeezed: the search box gives way, not the filters
    qtbot.waitUntil(lambda: p.search.width() < 300, timeout=3_000)
    for w in (p.state, p.severity_button, p.rule, p.subject, p.manager):
        assert w.width() >= w.sizeHint().width(), type(w).__name__
