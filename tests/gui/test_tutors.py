"""The Tutors page on real predictions: the list model (sort, filter, search, export),
the trend since last week, the profile loaded off the GUI thread into every tab, the
first-session queue and "Send prep email", the tutor's PDF report, and profiles of
tutors with no data yet.

One scored demo database per module (tests/fixtures/scored_demo.py): synced, trained,
scored at four weekly past dates and now.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from sqlalchemy import func, insert, select

from services.db.models import (
    Intervention,
    OutboxItem,
    ScoringRun,
    Tutor,
    TutorPrediction,
)
from services.first_session_queue import first_session_queue, send_prep_email
from services.intervention_workflow import open_intervention
from services.interventions import InterventionInputError
from services.tutor_plan import tier_breakdown
from services.tutor_report import report_html
from services.tutors import TutorNotFoundError, list_tutors, trend_since, tutor_bundle
from tests.fixtures.system import IN_CI, require
from viewmodels.report_pdf import build_document, render_report_image
from viewmodels.tasks import TaskRunner
from viewmodels.tutor_profile import TutorProfileViewModel
from viewmodels.tutors import (
    COL_TREND,
    FS_COL_ACTION,
    SESSION_ID_ROLE,
    TUTOR_COLUMNS,
    TUTOR_ID_ROLE,
    FirstSessionsModel,
    TutorsViewModel,
)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="module", autouse=True)
def _collect_while_qt_lives():
    """Collect this module's Qt wrappers while the QApplication still exists: left to
    the interpreter's final collection, PySide aborted the run (bool_dealloc)."""
    import gc

    yield
    gc.collect()


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    assert r.shutdown(15_000)
    # The view models are its children: deleted here, deterministically, rather than
    # by the interpreter's final collection (which aborted the run in PySide).
    shiboken6.delete(r)


@pytest.fixture
def profile_view(qtbot):
    """``make(vm)``: the profile widget; deleted (not only closed) after the test, so its
    pyqtgraph items never meet Python's finalizer at interpreter exit."""
    from PySide6.QtWidgets import QApplication

    from ui.pages.tutors import TutorProfileView

    made = []

    def make(vm):
        view = TutorProfileView(vm)
        made.append(view)
        return view

    yield make
    for view in made:
        view.close()
        shiboken6.delete(view)  # now, with its pyqtgraph children
    QApplication.processEvents()


@pytest.fixture(scope="module")
def ids(scored_demo):
    personas = scored_demo["world"].personas
    engine = scored_demo["engine"]
    with engine.connect() as conn:
        mike = conn.execute(select(Tutor.id).where(Tutor.name == "Mike Ross")).scalar()
    return {"sarah": personas["sarah_chen"], "mike": mike, "mike_session": personas[
        "mike_ross_first_session"]}  # fmt: skip


def _as_of(engine) -> datetime:
    with engine.connect() as conn:
        return conn.execute(select(func.max(ScoringRun.as_of))).scalar()


def _list_vm(runner, engine, *, now=None) -> TutorsViewModel:
    return TutorsViewModel(
        runner,
        load_list=lambda: list_tutors(engine),
        load_sessions=lambda: first_session_queue(engine),
        send_prep=lambda sid: send_prep_email(engine, sid, actor="test", now=now),
        timezone=lambda: UTC,
        parent=runner,
    )


def _column(model, col: int, role=Qt.ItemDataRole.DisplayRole) -> list:
    return [model.index(r, col).data(role) for r in range(model.rowCount())]


# ---------------------------------------------------------------------- the list


def test_tutor_list_sorts_filters_searches_and_exports(qtbot, runner, scored_demo, ids, tmp_path):
    engine = scored_demo["engine"]
    vm = _list_vm(runner, engine)
    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000):
        vm.load()
    model = vm.tutors
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(ScoringRun.id))).scalar()
        scored = conn.execute(
            select(func.count())
            .select_from(TutorPrediction)
            .where(TutorPrediction.run_id == latest)
        ).scalar()
    # Active only by default: exactly the tutors the newest run scored.
    assert model.rowCount() == scored > 300
    # Default order: riskiest first.
    p30 = [vm.tutor_list.rows[0]]  # noqa: F841 (the list itself is unordered)
    risks = [model.index(r, 6).data(Qt.UserRole + 1) for r in range(model.rowCount())]
    assert risks == sorted(risks, reverse=True)
    model.sort(0, Qt.SortOrder.AscendingOrder)
    names = _column(model, 0)
    assert names == sorted(names, key=str.lower)

    vm.set_filters(tier="Gold")
    golds = [r for r in vm.tutor_list.rows if r.performance_tier == "Gold" and r.status == "active"]
    assert model.rowCount() == len(golds) > 0
    assert set(_column(model, 2)) == {"Gold"}

    vm.set_filters(tier="", risk="Critical")
    assert set(_column(model, 5)) == {"CRITICAL"}
    vm.set_search("  SARAH chen ")
    assert _column(model, 0) == ["Sarah Chen"]
    assert model.index(0, 0).data(TUTOR_ID_ROLE) == ids["sarah"]

    vm.set_filters(risk="", text="", subject="spanish")
    assert model.rowCount() > 0
    assert all("spanish" in t for t in _column(model, 1))
    manager = vm.tutor_list.rows[0].manager
    vm.set_filters(subject="", manager=manager)
    assert set(_column(model, 12)) == {manager}

    vm.set_filters(manager="", active_only=False)
    assert model.rowCount() == len(vm.tutor_list.rows) > scored  # churned tutors too

    vm.set_filters(active_only=True)
    model.sort(6, Qt.SortOrder.DescendingOrder)
    out = tmp_path / "tutors.csv"
    with qtbot.waitSignal(vm.sig_message, timeout=10_000) as msg:
        assert vm.export_csv(str(out))
    assert "Exported" in msg.args[0]
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == TUTOR_COLUMNS
    assert len(rows) - 1 == model.rowCount()
    assert [r[0] for r in rows[1:6]] == _column(model, 0)[:5]  # the view's order


def test_trend_is_the_change_since_the_run_a_week_earlier(scored_demo, ids):
    t0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
    history = [(t0 - timedelta(days=d), 0.1 * i) for i, d in enumerate((21, 14, 7, 6, 1))]
    # The newest point at least a week (less 12 h of slack) before: 7 days ago (0.2).
    assert trend_since(history, t0, 0.9) == pytest.approx(0.9 - 0.2)
    assert trend_since(history[3:], t0, 0.9) is None  # nothing a week old
    assert trend_since(history, t0, None) is None
    # A run 6 days 13 hours earlier counts as last week's; 6 days 11 hours does not.
    assert trend_since([(t0 - timedelta(days=6, hours=13), 0.5)], t0, 0.6) == pytest.approx(0.1)
    assert trend_since([(t0 - timedelta(days=6, hours=11), 0.5)], t0, 0.6) is None

    engine = scored_demo["engine"]
    listing = list_tutors(engine)
    assert listing.previous_as_of == listing.as_of - timedelta(days=7)
    sarah = next(r for r in listing.rows if r.tutor_id == ids["sarah"])
    with engine.connect() as conn:
        by_as_of = dict(
            conn.execute(
                select(TutorPrediction.as_of, TutorPrediction.p_churn_30d).where(
                    TutorPrediction.tutor_id == ids["sarah"]
                )
            ).all()
        )
    expected = by_as_of[listing.as_of] - by_as_of[listing.previous_as_of]
    assert sarah.trend_30d == pytest.approx(expected)
    assert sarah.trend_30d > 0.05  # her decline: risk up within the week (about 10 points)


# ---------------------------------------------------------------------- the profile


def test_profile_loads_off_the_gui_thread_and_fills_every_tab(
    qtbot, runner, scored_demo, ids, profile_view
):
    engine = scored_demo["engine"]
    # Thread idents, not Thread objects: a pool thread's _DummyThread kept past its
    # thread's life crashed the interpreter's final garbage collection.
    threads: list[int] = []

    def load(tid: int):
        threads.append(threading.get_ident())
        return tutor_bundle(engine, tid)

    created: list[int] = []

    def create(tid: int, kind: str, reason: str) -> int:
        local = open_intervention(
            engine, tutor_id=tid, intervention_type=kind, reason=reason, actor="test"
        )
        created.append(local)
        return local

    vm = TutorProfileViewModel(runner, load_bundle=load, create_intervention=create, parent=runner)
    view = profile_view(vm)
    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000):
        vm.load(ids["sarah"])
    assert threads and threads[0] != threading.main_thread().ident
    qtbot.waitUntil(lambda: not view.pending, timeout=10_000)  # charts and tabs fill in turns
    b = vm.bundle
    assert b.tutor["name"] == "Sarah Chen" and b.tutor["tenure_days"] == 120
    assert b.prediction["risk_tier"] == "Critical"
    curve = [b.prediction["churn"][h] for h in ("7d", "14d", "30d", "90d")]
    assert curve == sorted(curve)
    assert b.curve_change["30d"] > 0  # rising since last week
    # Header
    assert view.name.text() == "Sarah Chen"
    assert "CRITICAL RISK" in view.badges.text()
    assert f"{curve[2] * 100:.0f} %" in view.curve.text()
    # Performance: 26 weekly points per chart, five scoring runs of risk history.
    for key in ("sessions", "avg_rating", "first_session_success", "reschedules", "logins"):
        x, y = vm.series(key)
        assert len(x) == len(y) == 26
    x, y = vm.risk_history()
    assert len(y) == 5 and y[-1] == pytest.approx(curve[2]) and y[-1] > y[0]
    assert "Engagement" in view.tier_table.text() and "Goals" in view.tier_table.text()
    # Flags: her alerts, with the model's factors in words.
    assert b.alerts and "Flags (" in view.tabs.tabText(1)
    assert "engagement 0.32 (was 0.75)" in view.flags.text()
    # Sessions
    assert vm.recent.rowCount() == len(b.recent_sessions) > 0
    # Interventions: scoring may have opened some automatically (her Critical risk);
    # create one of a type not open yet through the view model; the profile reloads.
    before = vm.interventions.rowCount()
    assert before == len(b.interventions)
    open_types = {
        r.intervention_type for r in b.interventions if r.status in ("open", "in_progress")
    }
    kind = next(
        k
        for k in ("retention_interview", "training_module", "peer_mentoring")
        if k not in open_types
    )
    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000):
        assert vm.create_intervention(kind, "Critical churn risk")
    assert created and vm.interventions.rowCount() == before + 1
    row = next(r for r in vm.interventions.rows() if r[0] == kind.replace("_", " "))
    assert row[1] == "open" and row[2] == b.tutor["manager"]
    assert row[3].startswith(("on track", "due soon"))
    assert view.tabs.tabText(2) == f"Interventions ({before + 1})"
    # (No grab() here: an offscreen grab of the pyqtgraph charts aborted the interpreter's
    # exit once a later test ran; the Xvfb end-to-end test takes the screenshots.)


def test_mike_ross_upcoming_first_session_is_on_his_profile(qtbot, runner, scored_demo, ids):
    engine = scored_demo["engine"]
    vm = TutorProfileViewModel(
        runner, load_bundle=lambda tid: tutor_bundle(engine, tid), parent=runner
    )
    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000):
        vm.load(ids["mike"])
    s = next(u for u in vm.bundle.upcoming_sessions if u["session_id"] == ids["mike_session"])
    assert s["first_session"] and s["student_age"] == 14 and s["subject"] == "spanish"
    assert s["risk_tier"] == "High" and 0.5 <= s["p_poor"] < 0.7
    assert s["noshow_risk"] is not None
    rows = vm.upcoming.rows()
    assert any(r[4] == "yes" and r[5].endswith("High") for r in rows)
    risky = vm.risky_first_sessions()
    assert len(risky) == 1 and risky[0]["risk_tier"] == "High"
    assert risky[0]["what"].startswith("spanish, student 14: ")


def test_a_tutor_with_no_sessions_and_no_predictions_opens_with_no_data_text(
    qtbot,
    runner,
    scored_demo,
    profile_view,
):
    engine = scored_demo["engine"]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        new_id = conn.execute(select(func.max(Tutor.id))).scalar() + 1000
        conn.execute(
            insert(Tutor).values(
                id=new_id, updated_at=now, name="Nora New", status="active", subjects=["chemistry"]
            )
        )
    errors: list[str] = []
    vm = TutorProfileViewModel(
        runner, load_bundle=lambda tid: tutor_bundle(engine, tid), parent=runner
    )
    vm.sig_error.connect(errors.append)
    view = profile_view(vm)
    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000):
        vm.load(new_id)
    qtbot.waitUntil(lambda: not view.pending, timeout=10_000)
    b = vm.bundle
    assert b.prediction is None and b.tier is None and b.weekly.empty
    assert b.tutor["tenure_days"] is None and b.tutor["manager"] == "no manager"
    assert "No predictions yet" in vm.no_prediction_text()
    assert "NOT SCORED YET" in view.badges.text()
    assert "No predictions yet" in view.notice.text()
    assert "No sessions or logins" in view.weekly_note.text()
    assert "No tier yet" in view.tier_table.text()
    assert "No performance data yet" in report_html(b)
    assert errors == []
    # An id that does not exist: a clear message, not a crash.
    with qtbot.waitSignal(vm.sig_error, timeout=60_000) as err:
        vm.load(new_id + 1)
    assert f"no tutor {new_id + 1}" in err.args[0]
    with pytest.raises(TutorNotFoundError):
        tutor_bundle(engine, new_id + 1)


# ---------------------------------------------------------------------- first sessions


def test_first_session_queue_riskiest_first_and_prep_email_through_the_outbox(
    qtbot,
    runner,
    scored_demo,
    ids,
):
    engine = scored_demo["engine"]
    as_of = _as_of(engine)
    vm = _list_vm(runner, engine, now=as_of)
    with qtbot.waitSignal(vm.sig_sessions_loaded, timeout=60_000):
        vm.load_sessions()
    model: FirstSessionsModel = vm.sessions
    rows = [p.row for p in model.visible()]
    assert len(rows) > 10
    probs = [r.p_poor for r in rows]
    assert probs == sorted(probs, reverse=True)
    assert all(as_of <= r.start_time < as_of + timedelta(days=7) for r in rows)
    mike = model.row_of(ids["mike_session"])
    assert mike is not None and mike.tutor == "Mike Ross" and mike.risk_tier == "High"
    assert mike.student_age == 14
    # Scoring may have sent some prep e-mails already (automatic policy); the riskiest
    # session whose tutor has none open gets one by hand.
    target = next(r for r in rows if not r.prep_sent and r.tutor_id is not None)
    with engine.connect() as conn:
        outbox_before = conn.execute(select(func.count()).select_from(OutboxItem)).scalar()
    with qtbot.waitSignal(vm.sig_intervention_created, timeout=60_000) as sig:
        assert vm.send_prep_email(target.session_id)
    assert sig.args[0] == target.tutor_id
    with engine.connect() as conn:
        iv = conn.execute(
            select(Intervention.__table__).where(Intervention.local_id == sig.args[1])
        ).one()
        items = conn.execute(
            select(OutboxItem.__table__).where(OutboxItem.intervention_local_id == iv.local_id)
        ).all()
        outbox_after = conn.execute(select(func.count()).select_from(OutboxItem)).scalar()
    assert iv.intervention_type == "automated_coaching" and iv.tutor_id == target.tutor_id
    assert iv.due_at == target.start_time  # due before the session: at its start
    assert iv.source_alert_key == f"first_session_risk:session:{target.session_id}"
    assert outbox_after == outbox_before + 1
    assert len(items) == 1 and items[0].kind == "intervention.create"
    assert items[0].status == "pending"
    assert items[0].payload["due_at"] == target.start_time.isoformat().replace("+00:00", "Z")
    qtbot.waitUntil(lambda: model.row_of(target.session_id).prep_sent, timeout=60_000)
    mike_row = next(
        r
        for r in range(model.rowCount())
        if model.index(r, 0).data(SESSION_ID_ROLE) == target.session_id
    )
    assert model.index(mike_row, FS_COL_ACTION).data() == "Prep e-mail open"
    # A second one for the same tutor is refused with the reason.
    with pytest.raises(InterventionInputError, match="already open"):
        send_prep_email(engine, target.session_id, actor="test", now=as_of)
    # A session that already started cannot get a prep e-mail.
    other = next(r for r in reversed(rows) if not r.prep_sent and r.tutor_id != target.tutor_id)
    with pytest.raises(InterventionInputError, match="already started"):
        send_prep_email(
            engine, other.session_id, actor="test", now=other.start_time + timedelta(hours=1)
        )


# ---------------------------------------------------------------------- report


def test_tutor_report_pdf_is_written_with_tier_metrics_goals_and_suggestions(
    qtbot,
    runner,
    scored_demo,
    ids,
    tmp_path,
):
    engine = scored_demo["engine"]
    vm = TutorProfileViewModel(
        runner, load_bundle=lambda tid: tutor_bundle(engine, tid), parent=runner
    )
    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000):
        vm.load(ids["sarah"])
    b = vm.bundle
    path = tmp_path / "sarah.pdf"
    with qtbot.waitSignal(vm.sig_report_written, timeout=60_000) as sig:
        assert vm.export_report(str(path))
    assert sig.args == [str(path), sig.args[1]] and sig.args[1] >= 1
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000  # text plus the chart image
    text = build_document(b).toPlainText()
    tier = b.tier
    assert "Your performance report" in text and "Sarah Chen" in text
    assert tier.tier.upper() in text and f"{tier.score:.1f}" in text
    for part in tier.parts:
        assert part.label in text
    assert "First-session success" in text and "Trends" in text
    assert tier.goals[0] in text
    weakest = tier.weakest[0]
    assert tier.suggestions[0].startswith(weakest.label.split(" (")[0])
    assert "churn" not in text.lower()  # the tutor's report carries no churn risk
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert render_report_image(b).save(str(SHOTS / "tutor_report_sarah.png"))
    # With poppler's tools (apt poppler-utils), read the PDF itself back: its text, its
    # page count, and its pages as PNGs to look at.
    have_poppler = bool(shutil.which("pdftotext") and shutil.which("pdftoppm"))
    if IN_CI:  # .ci/run installs poppler-utils; locally the read-back is a bonus
        require(have_poppler, "poppler-utils (pdftotext, pdftoppm)")
    if have_poppler:
        pdf_text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        for expected in ("Your performance report", "Sarah Chen", tier.tier.upper(),
                         "What makes your tier", "Your goals", "How to get there"):  # fmt: skip
            assert expected in pdf_text, expected
        assert pdf_text.count("\f") == sig.args[1]  # one form feed per page
        for old in SHOTS.glob("tutor_report_sarah_pdf-*.png"):
            old.unlink()
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", str(path), str(SHOTS / "tutor_report_sarah_pdf")],
            check=True,
        )
        assert len(list(SHOTS.glob("tutor_report_sarah_pdf-*.png"))) == sig.args[1]


def test_suggestions_point_at_the_weakest_parts():
    def metrics(rating, fs, resched, noshow, eng):
        return {
            "rating_avg_30d": rating,
            "ratings_30d": 20,
            "first_session_success_rate": fs,
            "first_sessions_rated": 10,
            "tutor_reschedule_rate_90d": resched,
            "no_show_rate_90d": noshow,
            "engagement_score_14d": eng,
        }

    low_engagement = tier_breakdown({"metrics": metrics(4.8, 0.9, 0.01, 0.0, 0.2)}, {})
    assert low_engagement.weakest[0].key == "engagement"
    assert low_engagement.suggestions[0].startswith("Engagement 0.20")
    unreliable = tier_breakdown({"metrics": metrics(4.8, 0.9, 0.25, 0.1, 0.9)}, {})
    assert unreliable.weakest[0].key == "reliability"
    assert unreliable.suggestions[0].startswith("Reliability 65 %")
    poor_first = tier_breakdown({"metrics": metrics(4.7, 0.2, 0.0, 0.0, 0.9)}, {})
    assert poor_first.suggestions[0].startswith("First-session success 20 % (2 of 10")
    # Score, tier and the goal add up under the run's own weights and thresholds.
    b = tier_breakdown({"metrics": metrics(4.0, 0.5, 0.1, 0.0, 0.5)}, {})
    assert b.score == pytest.approx(35 * 0.8 + 25 * 0.5 + 25 * 0.9 + 15 * 0.5)
    assert b.tier == "Gold" and b.next_tier == "Platinum"
    assert b.points_needed == pytest.approx(85 - b.score)
    strict = tier_breakdown({"metrics": metrics(4.0, 0.5, 0.1, 0.0, 0.5)}, {"perf_gold": 80.0})
    assert strict.tier == "Silver" and strict.next_tier == "Gold"
    top = tier_breakdown({"metrics": metrics(5.0, 1.0, 0.0, 0.0, 1.0)}, {})
    assert top.tier == "Platinum" and top.next_tier is None
    assert top.suggestions == (
        "Every part of the score is near its maximum: keep doing what works.",
    )


def test_trend_column_text_and_sort_key(qtbot, runner, scored_demo, ids):
    engine = scored_demo["engine"]
    vm = _list_vm(runner, engine)
    with qtbot.waitSignal(vm.sig_loaded, timeout=60_000):
        vm.load()
    vm.tutors.sort(COL_TREND, Qt.SortOrder.DescendingOrder)
    keys = _column(vm.tutors, COL_TREND, Qt.UserRole + 1)
    assert keys == sorted(keys, reverse=True)
    vm.set_search("sarah chen")
    assert vm.tutors.index(0, COL_TREND).data().startswith("▲ +")


# ---------------------------------------------------------------------- the window


def test_the_window_opens_a_profile_by_id_and_from_a_search(qtbot, make_window, scored_demo, ids):
    from services.settings import Settings
    from tests.gui.conftest import wait_ready
    from viewmodels.shell import PAGES

    db = scored_demo["folder"] / "tutormax.db"
    window = make_window(Settings(database_url=f"sqlite:///{db}"))
    wait_ready(qtbot, window)
    profile = window.shell.tutor_profile
    window.open_tutor(ids["sarah"])
    assert window.shell.page_name == "tutors"
    assert window.tutors_page.stack.currentWidget() is window.tutors_page.profile
    qtbot.waitUntil(lambda: profile.bundle is not None, timeout=60_000)
    assert profile.bundle.tutor["id"] == ids["sarah"]
    assert window.tutors_page.profile.name.text() == "Sarah Chen"
    # Back to the list; the search box filters by name and Enter opens the match.
    window.tutors_page.profile.back.click()
    qtbot.waitUntil(lambda: window.shell.tutors.tutor_list is not None, timeout=60_000)
    window.search.setText("Mike Ross")
    assert window.tutors_page.vm.tutors.rowCount() >= 1
    qtbot.keyClick(window.search, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: profile.bundle is not None and profile.bundle.tutor["id"] == ids["mike"],
        timeout=60_000,
    )
    # A notification target "tutors/<id>" opens that profile too.
    window.go_to(PAGES.index("dashboard"))
    window.open_target(f"tutors/{ids['sarah']}")
    qtbot.waitUntil(lambda: profile.bundle.tutor["id"] == ids["sarah"], timeout=60_000)
    assert window.shell.page_name == "tutors"
    # A double-click on the Dashboard's Critical tutors panel opens that tutor.
    window.go_to(PAGES.index("dashboard"))
    table = window.dashboard_page.critical_table
    qtbot.waitUntil(lambda: table.model().rowCount() > 0, timeout=120_000)
    index = table.model().index(0, 1)
    from viewmodels.dashboard import TUTOR_ID_ROLE as DASH_TUTOR_ID

    critical_id = index.data(DASH_TUTOR_ID)
    table.doubleClicked.emit(index)
    assert window.shell.page_name == "tutors"
    qtbot.waitUntil(lambda: profile.bundle.tutor["id"] == critical_id, timeout=60_000)
