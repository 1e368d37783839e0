"""The Recommendations page and its view model on a database with hand-made forecasts:
the feed, the filters, Implement and Dismiss-with-reason through the buttons (audited),
and the acceptance rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import AuditEntry
from services.recommendations import generate_recommendations, list_recommendations
from tests.services.test_recommendations import _frames, _store_run
from ui.pages.recommendations import RecommendationsPage
from viewmodels.recommendations import RecommendationsViewModel
from viewmodels.tasks import TaskRunner


@pytest.fixture
def engine(tmp_path):  # type: ignore[no-untyped-def]
    eng = make_engine(f"sqlite:///{tmp_path / 'tutormax.db'}")
    migrate(eng)
    _store_run(eng, {"algebra": (12.5, 10.0), "french": (10.0, 14.0), "history": (5.0, 9.0)})
    # Now: the cards expire a week from the real clock, so the page shows them as open.
    generate_recommendations(eng, frames=_frames(), now=datetime.now(UTC) - timedelta(hours=1))
    yield eng
    eng.dispose()


@pytest.fixture
def runner(qtbot):  # type: ignore[no-untyped-def]
    r = TaskRunner()
    yield r
    assert r.shutdown(10_000)


@pytest.fixture
def page(runner, engine, qtbot):  # type: ignore[no-untyped-def]
    vm = RecommendationsViewModel(runner, lambda: engine, user="ana")
    p = RecommendationsPage(vm)
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.load()
    return p


def _card(page: RecommendationsPage, subject: str) -> Any:
    (card,) = [c for c in page.cards if c.card["subject"] == subject]
    return card


def test_the_feed_shows_every_open_card_with_its_numbers(page, engine):
    stored = list_recommendations(engine)
    assert len(page.cards) == len(stored) == 3 and page.stack.currentIndex() == 1
    assert [c.rec_id for c in page.cards] == [c["id"] for c in stored]  # most urgent first
    algebra = _card(page, "algebra")
    assert "25%" in algebra.reason.text() and "15%" in algebra.action.text()
    assert "assuming" in algebra.roi.text() and "cost per hire" in algebra.roi.text()
    assert f"P{algebra.card['priority']}" in algebra.head.text()
    assert page.acceptance.text() == "Acceptance: no decisions yet"
    assert [page.subject_box.itemText(i) for i in range(page.subject_box.count())] == [
        "All subjects", "Algebra", "French", "History"
    ]  # fmt: skip
    assert page.subject_box.itemData(2) == "french"  # the filter keeps the key
    assert "<b>French</b>" in _card(page, "french").head.text()


def test_dismiss_needs_a_reason_and_both_decisions_are_audited(page, engine, qtbot):
    vm = page.vm
    french = _card(page, "french")
    assert not french.dismiss_button.isEnabled()  # no reason yet
    with qtbot.waitSignal(vm.sig_error, timeout=2_000) as err:
        vm.dismiss(french.rec_id, "   ")
    assert "reason" in err.args[0]
    french.reason_edit.setText("spend already cut last month")
    assert french.dismiss_button.isEnabled()
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        french.dismiss_button.click()
    assert {c.card["subject"] for c in page.cards} == {"algebra", "history"}
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        _card(page, "algebra").implement_button.click()
    assert "Acceptance 50% (1 of 2 decided)" in page.acceptance.text()
    with engine.connect() as conn:
        audit = conn.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.details).where(
                AuditEntry.entity_type == "recommendation"
            )
        ).all()
    assert sorted((a.actor, a.action) for a in audit) == [
        ("ana", "recommendation.dismiss"), ("ana", "recommendation.implement")
    ]  # fmt: skip
    assert [a.details["reason"] for a in audit if a.action.endswith("dismiss")] == [
        "spend already cut last month"
    ]
    # The Dismissed filter shows it with who and why, and no buttons to press.
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        page.state_box.setCurrentText("Dismissed")
    (card,) = page.cards
    assert card.card["subject"] == "french" and "spend already cut" in card.decision.text()
    assert card.implement_button.parent() is None or not card.implement_button.isVisible()


def test_subject_and_priority_filters(page, qtbot):
    vm = page.vm
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        page.subject_box.setCurrentIndex(page.subject_box.findData("history"))
        page.subject_box.activated.emit(page.subject_box.currentIndex())
    assert [c.card["subject"] for c in page.cards] == ["history"]
    assert page.subject_box.currentData() == "history"  # kept across the reload
    prios = [c["priority"] for c in list_recommendations(page.vm._engine())]
    top = min(prios)
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.set_filters(subject="", max_priority=top)
    assert len(page.cards) == sum(p <= top for p in prios) >= 1
    assert all(c.card["priority"] <= top for c in page.cards)
    # A filter nothing passes: the empty state says why.
    with qtbot.waitSignal(vm.sig_loaded, timeout=10_000):
        vm.set_filters(state="Implemented")
    assert page.cards == [] and page.stack.currentIndex() == 0


def test_the_window_search_box_narrows_the_feed(page):
    page.set_filter("FRENCH")
    shown = [c.card["subject"] for c in page.cards if not c.isHidden()]
    assert shown == ["french"]
    page.set_filter("budget")  # words of the action: the recruiting card(s) only
    visible = [c for c in page.cards if not c.isHidden()]
    assert visible and all("budget" in c.card["action"] for c in visible)
    page.set_filter("")
    assert not any(c.isHidden() for c in page.cards)
