"""The First sessions tab's week-over-week drop flag: the alert rule's computation
(``first_session_success_drop``: trailing 30-day windows a week apart, more than the
``first_session_drop`` threshold, at least ``min_first_sessions`` rated in each), reused
by ``services.first_session_stats`` and shown by the tutor table (marked column, row
tint, tooltip)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import insert

from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import Customer, ScoringRun, Tutor, TutoringSession, TutorPrediction
from services.first_session_stats import first_session_stats
from services.settings import AlertSettings
from viewmodels.first_session_stats import (
    COL_DROP,
    DROP_ROLE,
    DROP_TINT,
    SuccessTableModel,
)

END = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    sessions = []

    def first(tutor: int, days_ago: float, rating: int) -> None:
        sid = len(sessions) + 1
        sessions.append(
            {"id": sid, "updated_at": END, "tutor_id": tutor, "customer_id": 100 + sid,
             "subject": "algebra", "start_time": END - timedelta(days=days_ago),
             "rating": rating, "status": "completed", "first_session": True}
        )  # fmt: skip

    # Tutor 1 steady: 4 good a week ago and one more good this week.
    for d in (10, 12, 14, 16):
        first(1, d, 5)
    first(1, 2, 5)
    # Tutor 2: the 30 days to a week ago, 4 of 4 good (100 %); the last 30 days those 4
    # and 3 poor ones this week: 4 of 7 (57 %), a drop of 43 %.
    for d in (10, 12, 14, 16):
        first(2, d, 5)
    for d in (1, 2, 3):
        first(2, d, 2)
    # Tutor 3: 5 of 5 then, 5 of 6 now: a 17 % drop, under the default 20 %.
    for d in (10, 12, 14, 16, 18):
        first(3, d, 5)
    first(3, 1, 2)
    with engine.begin() as conn:
        conn.execute(
            insert(Tutor),
            [{"id": t, "updated_at": END, "name": f"Tutor {t}"} for t in (1, 2, 3)],
        )
        conn.execute(
            insert(Customer),
            [{"id": s["customer_id"], "updated_at": END, "grade_level": "9"} for s in sessions],
        )
        conn.execute(insert(TutoringSession), sessions)
        run = conn.execute(
            insert(ScoringRun).values(status="ok", as_of=END).returning(ScoringRun.id)
        ).scalar_one()
        conn.execute(
            insert(TutorPrediction),
            [{"run_id": run, "tutor_id": t, "as_of": END, "p_churn_30d": 0.1} for t in (1, 2, 3)],
        )
    yield engine
    engine.dispose()


def test_only_a_drop_beyond_the_alert_threshold_is_flagged(engine):
    stats = first_session_stats(engine, "week", end=END)
    assert set(stats.drops) == {"2"}
    drop = stats.drops["2"]
    assert drop.rate_week_ago == 1.0 and drop.rate_now == pytest.approx(4 / 7, abs=1e-3)
    assert drop.relative_drop == pytest.approx(3 / 7, abs=1e-3)
    assert (drop.rated_now, drop.rated_week_ago, drop.threshold) == (7, 4, 0.2)

    # The user's alert threshold decides, as in the alert queue: at 10 % tutor 3 drops too.
    lower = first_session_stats(
        engine, "week", end=END, alert_settings=AlertSettings(first_session_drop=0.10)
    )
    assert set(lower.drops) == {"2", "3"}
    assert lower.drops["3"].relative_drop == pytest.approx(1 / 6, abs=1e-3)


def test_the_tutor_table_marks_tints_and_explains_the_flagged_row(qapp, engine):
    stats = first_session_stats(engine, "week", end=END)
    model = SuccessTableModel("Tutor", with_drops=True)
    model.set_rows(stats.by_tutor, stats.drops)
    assert model.headerData(COL_DROP, Qt.Orientation.Horizontal) == "Drop (WoW)"
    rows = {model.index(r, 0).data(): r for r in range(model.rowCount())}
    assert set(rows) == {"Tutor 1", "Tutor 2", "Tutor 3"}
    flagged = rows["Tutor 2"]
    assert model.index(flagged, COL_DROP).data() == "⚠ ▼ 43 %"
    assert model.index(flagged, 0).data(DROP_ROLE) is stats.drops["2"]
    for col in range(model.columnCount()):  # the whole row is tinted
        assert model.index(flagged, col).data(Qt.ItemDataRole.BackgroundRole) == DROP_TINT
    tip = model.index(flagged, COL_DROP).data(Qt.ItemDataRole.ToolTipRole)
    assert "43 %" in tip and "57 % of 7" in tip and "100 % of 4" in tip and "20 %" in tip
    for name in ("Tutor 1", "Tutor 3"):
        r = rows[name]
        assert model.index(r, COL_DROP).data() == ""
        assert model.index(r, 0).data(Qt.ItemDataRole.BackgroundRole) is None
    # The other tables have no such column.
    plain = SuccessTableModel("Subject")
    plain.set_rows(stats.by_subject, stats.drops)
    assert plain.columnCount() == 6 and "Drop (WoW)" not in plain.columns
    # Sorting by the drop puts the flagged tutor first.
    model.sort(COL_DROP, Qt.SortOrder.DescendingOrder)
    assert model.index(0, 0).data() == "Tutor 2"
