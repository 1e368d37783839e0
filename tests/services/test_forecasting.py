"""Demand forecasts on a synced database: storage, accuracy tracking, shortages, the job
and ``tutormax forecast``, on SQLite and PostgreSQL (the tiny sandbox, synced over HTTP)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from services.api.rails_time import parse_us
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import ForecastPoint, ForecastRun
from services.forecasting import (
    ForecastingError,
    forecast_accuracy,
    forecast_points,
    run_forecast,
    shortage_slots,
)
from services.jobs import AFTER_SYNC, DAILY, JobContext, JobRegistry
from services.ml_data import load_frames
from services.sandbox.clock import SandboxClock
from services.sandbox.world import WorldConfig, build_world
from tests.sync.helpers import make_sync
from tutormax_desktop import cli

ANCHOR = parse_us("2026-11-20T12:00:00Z")
NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def synced(request, tmp_path_factory, sandbox_server_factory_module) -> Iterator[dict[str, Any]]:
    """The tiny world synced into a fresh database, one forecast now and one backfilled a
    week earlier (so its hours have arrived and can be scored)."""
    world = build_world(WorldConfig(scale="tiny", seed=42, anchor_us=ANCHOR))
    handle = sandbox_server_factory_module(world=world, clock=SandboxClock.fixed(ANCHOR))
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('forecast') / 'tutormax.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"t_{uuid.uuid4().hex[:16]}"
        with server.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = server.url(name)

        def drop() -> None:
            with server.connect() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    engine = make_engine(url)
    migrate(engine)
    assert make_sync(engine, handle).sync().status == "ok"
    frames = load_frames(engine, ("bookings", "availability"))
    past = run_forecast(
        engine, trigger="test", as_of=frames.observed_until - pd.Timedelta(days=7),
        now=NOW - timedelta(days=7), backtest_origins=1,
    )  # fmt: skip
    current = run_forecast(engine, trigger="test", now=NOW, backtest_origins=1)
    yield {"engine": engine, "url": url, "frames": frames, "past": past, "current": current}
    engine.dispose()
    if drop is not None:
        drop()


def _sqlite_only(synced: dict[str, Any]) -> None:
    """The job and the CLI run the same storage code the tests above check on both
    backends; once is enough for them (they refit every series: seconds each)."""
    if not synced["url"].startswith("sqlite"):
        pytest.skip("backend-independent; run on SQLite")


def _actual_per_hour(bookings: pd.DataFrame, subject: str | None) -> pd.Series:
    """Demand counted the plain way: non-cancelled bookings by scheduled hour."""
    b = bookings[bookings["status"] != "cancelled"]
    if subject is not None:
        b = b[b["subject"] == subject]
    return b["scheduled_time"].dt.floor("h").value_counts()


def test_a_run_stores_every_subject_and_the_total_for_168_hours(synced):
    engine, result, frames = synced["engine"], synced["current"], synced["frames"]
    subjects = set(frames.bookings["subject"]) | set(frames.availability["subject"])
    assert set(result.series) == subjects | {"total"}
    with engine.connect() as conn:
        run = conn.execute(
            select(ForecastRun.__table__).where(ForecastRun.id == result.run_id)
        ).one()
        n = conn.execute(select(func.count()).where(ForecastPoint.run_id == result.run_id)).scalar()
    assert run.model_version == result.model_version and "v" in run.model_version
    assert run.created_at == NOW
    assert run.as_of == frames.observed_until.floor("h").to_pydatetime()
    assert run.config["lag_weeks"] == 2 and run.config["season_tz"] == "America/New_York"
    assert set(run.backtest) == set(result.series)
    assert n == 168 * len(result.series)
    pts = forecast_points(engine)
    assert pts["hour"].min() == result.as_of
    assert pts["hour"].max() == result.as_of + pd.Timedelta(hours=167)
    assert (pts["lower"] <= pts["upper"]).all() and (pts["mean"] >= 0).all()
    # The total's forecast is the demand of all subjects: close to the sum of theirs.
    by = pts.groupby("series")["mean"].sum()
    assert by["total"] == pytest.approx(by.drop("total").sum(), rel=0.25)


def test_supply_is_the_tutor_hours_offered_in_each_hour(synced):
    pts, frames = forecast_points(synced["engine"]), synced["frames"]
    slots = frames.availability
    # Pick the busiest subject-hour and count its offered hours by brute force.
    row = pts[pts["series"] != "total"].sort_values("supply").iloc[-1]
    start, end = row["hour"], row["hour"] + pd.Timedelta(hours=1)
    mine = slots[slots["subject"] == row["series"]]
    overlap = (mine["ends_at"].clip(upper=end) - mine["starts_at"].clip(lower=start)).clip(
        lower=pd.Timedelta(0)
    ) / pd.Timedelta(hours=1)
    assert row["supply"] == pytest.approx(overlap.sum()) and row["supply"] > 0
    total = pts[(pts["series"] == "total") & (pts["hour"] == row["hour"])]["supply"].item()
    same_hour = pts[(pts["series"] != "total") & (pts["hour"] == row["hour"])]["supply"].sum()
    assert total == pytest.approx(same_hour)


def test_accuracy_of_a_past_forecast_is_scored_against_the_bookings_that_arrived(synced):
    engine, past, frames = synced["engine"], synced["past"], synced["frames"]
    acc = forecast_accuracy(engine)
    mine = acc[acc["run_id"] == past.run_id].set_index("series")
    assert set(mine.index) == set(past.series)
    assert (mine["hours"] == 168).all()  # every hour of the week-old run has arrived
    assert (mine["model_version"] == past.model_version).all()
    # Hand check for the total: actual bookings per hour against the stored means.
    pts = forecast_points(engine, past.run_id)
    total = pts[pts["series"] == "total"].set_index("hour")
    actual = _actual_per_hour(frames.bookings, None).reindex(total.index, fill_value=0)
    wape = (actual - total["mean"]).abs().sum() / actual.sum()
    inside = ((actual >= total["lower"]) & (actual <= total["upper"])).mean()
    assert mine.loc["total", "actual"] == actual.sum() > 0
    assert mine.loc["total", "wape"] == pytest.approx(wape)
    assert mine.loc["total", "coverage"] == pytest.approx(inside)
    assert mine.loc["total", "bias"] == pytest.approx(total["mean"].sum() / actual.sum() - 1)
    assert 0.8 <= mine.loc["total", "coverage"] <= 1.0
    # The current run's hours are all in the future: nothing of it is scored yet.
    assert synced["current"].run_id not in set(acc["run_id"])
    # Scored as of a later instant, the current run's first day counts too.
    later = forecast_accuracy(engine, until=synced["current"].as_of + pd.Timedelta(days=1))
    assert (later[later["run_id"] == synced["current"].run_id]["hours"] == 24).all()


def test_shortage_slots_of_the_stored_run_match_the_run_and_keep_their_lead(synced):
    engine, result = synced["engine"], synced["current"]
    stored = shortage_slots(engine)
    assert len(stored) == len(result.slots)
    short = stored[stored["kind"] == "shortage"]
    assert (short["lead_hours"] >= 12).all()
    assert (short["coverage"] < 0.8).all() or short.empty
    assert (stored[stored["kind"] == "surplus"]["worst_coverage"] > 1.3).all()
    # Half a day later the lead times shrink by 12 hours and slots too near drop out.
    later = shortage_slots(engine, now=result.as_of + pd.Timedelta(hours=12))
    later_short = later[later["kind"] == "shortage"]
    assert (later_short["lead_hours"] >= 12).all()
    assert later_short["start"].min() >= result.as_of + pd.Timedelta(hours=24) or later_short.empty


def test_the_forecast_job_is_daily_and_stores_a_run(synced, monkeypatch):
    from services import forecasting

    _sqlite_only(synced)
    monkeypatch.setattr(forecasting, "BACKTEST_ORIGINS", 1)  # keep the test quick
    registry = JobRegistry()
    forecasting.register_jobs(registry)
    spec = registry.get("forecast")
    assert spec.runs_on(DAILY) and not spec.runs_on(AFTER_SYNC)
    with synced["engine"].connect() as conn:
        before = conn.execute(select(func.count()).select_from(ForecastRun)).scalar()
    messages: list[object] = []
    out = spec.fn(JobContext(engine=synced["engine"], trigger=DAILY, on_progress=messages.append))
    assert "series forecast" in out["summary"] and any("forecasting" in str(m) for m in messages)
    with synced["engine"].connect() as conn:
        after = conn.execute(select(func.count()).select_from(ForecastRun)).scalar()
    assert after == before + 1
    # The recommendations follow the new forecast: every open card is from this run.
    from services.recommendations import list_recommendations

    assert "recommendations" in out["summary"]
    cards = list_recommendations(synced["engine"])
    assert len(cards) == out["recommendations"]["open"]
    assert all(c["forecast_run_id"] == out["run_id"] for c in cards)


def test_cli_forecast_prints_figures_and_slots(synced, capsys, monkeypatch):
    from services import forecasting

    _sqlite_only(synced)
    monkeypatch.setattr(forecasting, "BACKTEST_ORIGINS", 1)  # keep the test quick
    db = synced["url"]
    assert cli.main(["forecast", "--json", "--database", db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["series"][-1] == "total" and len(out["series"]) >= 2
    for card in out["recommendations"]:  # the tiny world may have none; each is complete
        assert 1 <= card["priority"] <= 5 and card["action"] and card["roi"]["assumptions"]
    for name in out["series"]:
        f = out["backtest"][name]
        assert {"wape", "daily_mape", "mase", "coverage"} <= set(f)
        assert f["coverage"] is None or 0.0 <= f["coverage"] <= 1.0
    assert all(s["lead_hours"] >= 12 for s in out["shortage_slots"])
    assert cli.main(["forecast", "--database", db]) == 0
    text = capsys.readouterr().out
    assert "daily MAPE" in text and "total" in text and "shortage slots" in text
    # The thresholds of Preferences apply to the command too: coverage below 200 % counts
    # as short (most hours of the tiny world), and only 72+ hours ahead.
    from services.settings import load_settings, save_settings
    from tutormax_desktop.context import AppContext

    path = AppContext.load().paths.settings_file
    settings = load_settings(path)
    settings.alerts.shortage_coverage, settings.alerts.surplus_coverage = 2.0, 3.0
    settings.alerts.shortage_lead_hours = 72.0
    save_settings(settings, path)
    assert cli.main(["forecast", "--json", "--database", db]) == 0
    strict = json.loads(capsys.readouterr().out)["shortage_slots"]
    assert len(strict) > len(out["shortage_slots"])
    assert all(s["lead_hours"] >= 72 for s in strict)


def test_an_empty_database_says_to_sync_first(tmp_path, capsys):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(engine)
    with pytest.raises(ForecastingError, match="sync"):
        run_forecast(engine)
    assert cli.main(["forecast", "--database", str(engine.url)]) == 2
    assert "sync" in capsys.readouterr().err
    assert forecast_points(engine).empty and shortage_slots(engine).empty
    assert forecast_accuracy(engine).empty
