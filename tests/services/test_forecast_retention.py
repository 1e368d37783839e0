"""Stored forecast points do not grow forever: recent runs keep theirs, older ones one a
week, the newest always; run rows (backtest figures, slots) are never deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, insert, select

from ml.frames import MarketFrames
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import ForecastPoint, ForecastRun
from services.forecasting import forecast_accuracy, prune_forecast_points

NOW = datetime(2026, 11, 20, 6, tzinfo=UTC)  # a Friday


@pytest.fixture
def engine(tmp_path):
    e = make_engine(f"sqlite:///{tmp_path / 'local.db'}")
    migrate(e)
    yield e
    e.dispose()


def _run(engine, created: datetime, hours: int = 48) -> int:
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(ForecastRun)
            .values(created_at=created, as_of=created, horizon_hours=hours, model_version="v1")
            .returning(ForecastRun.id)
        ).scalar_one()
        conn.execute(
            insert(ForecastPoint),
            [
                {"run_id": run_id, "series": "algebra", "hour": created + timedelta(hours=h),
                 "mean": 2.0, "lower": 0.0, "upper": 5.0, "supply": 3.0}
                for h in range(hours)
            ],
        )  # fmt: skip
    return run_id


def _with_points(engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(ForecastPoint.run_id).distinct()).scalars())


def test_old_points_are_thinned_to_one_run_a_week_then_dropped(engine):
    # A daily run for 400 days, the newest one today (ids grow with time).
    runs = {day: _run(engine, NOW - timedelta(days=day), hours=24) for day in range(399, -1, -1)}
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(ForecastPoint)).scalar_one()
    pruned = prune_forecast_points(engine, now=NOW)
    kept = _with_points(engine)
    # Every run of the last 35 days keeps its points.
    assert {runs[d] for d in range(36)} <= kept
    # Between 35 days and a year: exactly one run per calendar week (its first).
    middle = [d for d in range(36, 366) if runs[d] in kept]
    weeks = pd.Series([(NOW - timedelta(days=d)).date() for d in middle])
    iso = {tuple(pd.Timestamp(x).isocalendar()[:2]) for x in weeks}
    assert len(middle) == len(iso)  # no week twice
    assert 45 <= len(middle) <= 49  # and about every week of those 330 days
    assert all((NOW - timedelta(days=d)).weekday() == 0 or d == 365 for d in middle)
    # Past a year: none.
    assert not {runs[d] for d in range(366, 400)} & kept
    assert pruned == 400 - len(kept)
    with engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(ForecastPoint)).scalar_one()
        run_rows = conn.execute(select(func.count()).select_from(ForecastRun)).scalar_one()
    assert after == 24 * len(kept) < before / 4
    assert run_rows == 400  # the runs' own rows stay
    # Idempotent: a second pass finds nothing more to prune.
    assert prune_forecast_points(engine, now=NOW) == 0


def test_the_newest_run_keeps_its_points_however_old(engine):
    old = _run(engine, NOW - timedelta(days=800))
    assert prune_forecast_points(engine, now=NOW) == 0
    assert _with_points(engine) == {old}
    newer = _run(engine, NOW - timedelta(days=700))
    assert prune_forecast_points(engine, now=NOW) == 1
    assert _with_points(engine) == {newer}


def test_accuracy_is_still_scored_for_the_runs_kept(engine):
    """Accuracy tracking reads the points: the recent runs it shows are all there."""
    recent = [_run(engine, NOW - timedelta(days=d)) for d in (3, 2)]
    gone = _run(engine, NOW - timedelta(days=500))
    latest = _run(engine, NOW - timedelta(days=1))
    prune_forecast_points(engine, now=NOW)
    frames = MarketFrames.empty(pd.Timestamp(NOW))
    frames.bookings = pd.DataFrame(
        {"created_at": pd.to_datetime([NOW - timedelta(days=2)] * 3, utc=True),
         "scheduled_time": pd.to_datetime([NOW - timedelta(hours=30)] * 3, utc=True),
         "subject": ["algebra"] * 3, "status": ["confirmed"] * 3}
    )  # fmt: skip
    scored = forecast_accuracy(engine, until=NOW, frames=frames)
    assert set(scored["run_id"]) == {*recent, latest}
    assert gone not in set(scored["run_id"])
