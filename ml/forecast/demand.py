"""Demand forecasts per subject and in total from the marketplace's bookings (pure).

Demand is booking requests per scheduled hour: every booking except cancelled ones
(confirmed, fulfilled, unfilled, still requested). Unfilled requests count: they are
demand that found no tutor, exactly what supply planning is about; cancelled ones were
withdrawn and need no tutor. Hours before the data's end are complete (a booking is
made at least a couple of hours ahead), so the history ends at the last whole hour of
``observed_until`` and the forecast starts there.

:func:`forecast_demand` fits one forecaster per subject and one for the total, backtests
each (rolling origins over the last weeks), and puts the forecast next to the supply
published in availability slots: the stored forecast, the figures and the shortage
slots all come from here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml.forecast.backtest import backtest
from ml.forecast.model import ForecastConfig, ForecastError, HourlyForecaster
from ml.forecast.series import TOTAL, hourly_counts, hourly_supply
from ml.forecast.supply import BalanceSettings, balance_slots, coverage_table

# Stored with every forecast: which model (and which of its settings) made it.
MODEL_NAME = "nb_glm_hour_of_week"
MODEL_REVISION = 1
DEMAND_STATUSES = ("requested", "confirmed", "fulfilled", "unfilled")
BACKTEST_FIGURES = (
    "wape", "mape_demand", "daily_mape", "mase", "coverage", "coverage_busy", "wape_floor",
    "wape_to_floor", "daily_mape_floor", "mean_per_hour", "naive_wape",
)  # fmt: skip


def model_version(config: ForecastConfig | None = None) -> str:
    return f"{MODEL_NAME} v{MODEL_REVISION}"


@dataclass
class DemandForecast:
    as_of: pd.Timestamp  # the first forecast hour
    points: pd.DataFrame  # series, hour, mean, lower, upper, supply
    backtest: dict[str, dict[str, float]] = field(default_factory=dict)
    slots: pd.DataFrame = field(default_factory=pd.DataFrame)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)  # hour x series counts
    errors: dict[str, str] = field(default_factory=dict)  # series that could not be forecast
    seconds: dict[str, float] = field(default_factory=dict)
    model_version: str = ""
    config: ForecastConfig = field(default_factory=ForecastConfig)


def demand_history(
    bookings: pd.DataFrame, end: pd.Timestamp, days: int = 90, subjects: list[str] | None = None
) -> pd.DataFrame:
    """Bookings per scheduled hour (hour x subject, plus ``total``) for the ``days`` days
    before ``end`` (floored to the hour). ``subjects`` adds columns of zeros for
    subjects without bookings."""
    missing = {"scheduled_time", "subject", "status"} - set(bookings.columns)
    if missing:
        raise ForecastError(f"bookings need the columns {sorted(missing)}")
    end = pd.Timestamp(end).floor("h")
    wanted = bookings[bookings["status"].isin(DEMAND_STATUSES)]
    counts = hourly_counts(
        wanted["scheduled_time"], end - pd.Timedelta(days=days), end,
        by=wanted["subject"].astype(str),
    )  # fmt: skip
    for s in subjects or []:
        if s not in counts:
            counts[s] = 0
    ordered = [*sorted(c for c in counts.columns if c != TOTAL), TOTAL]
    return counts[ordered]


def supply_ahead(availability: pd.DataFrame, start: pd.Timestamp, hours: int) -> pd.DataFrame:
    """Offered tutor-hours per hour (hour x subject, plus ``total``) from ``start``."""
    start = pd.Timestamp(start).floor("h")
    return hourly_supply(
        availability["starts_at"], availability["ends_at"], start,
        start + pd.Timedelta(hours=hours), by=availability["subject"].astype(str),
    )  # fmt: skip


def forecast_demand(
    bookings: pd.DataFrame,
    availability: pd.DataFrame,
    observed_until: pd.Timestamp,
    *,
    horizon: int = 168,
    history_days: int = 90,
    backtest_origins: int = 4,
    config: ForecastConfig | None = None,
    balance: BalanceSettings | None = None,
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> DemandForecast:
    """Forecast every subject and the total, backtest each, and compare with supply.

    A series that cannot be forecast (too little history) is reported in ``errors`` and
    left out; the rest go on. ``backtest_origins=0`` skips the backtests."""
    cfg = config or ForecastConfig(history_days=history_days)
    say = progress or (lambda _m: None)
    as_of = pd.Timestamp(observed_until).floor("h")
    subjects = sorted(
        set(bookings["subject"].dropna().astype(str))
        | set(availability["subject"].dropna().astype(str))
    )
    # Backtests need their own weeks of history before the earliest origin.
    extra = (horizon * backtest_origins) // 24 + 1 if backtest_origins else 0
    history = demand_history(bookings, as_of, history_days + extra, subjects)
    out = DemandForecast(as_of=as_of, points=pd.DataFrame(), history=history,
                         model_version=model_version(cfg), config=cfg)  # fmt: skip
    frames = []
    started = time.perf_counter()
    for i, name in enumerate(history.columns):
        if cancel is not None and cancel.is_set():
            raise ForecastError("cancelled")
        say(f"forecasting {name} ({i + 1}/{len(history.columns)})")
        series = history[name]
        recent = series[series.index >= as_of - pd.Timedelta(days=history_days)]
        try:
            fc = HourlyForecaster(cfg).fit(recent).predict(horizon)
        except ForecastError as exc:
            out.errors[name] = str(exc)
            continue
        frames.append(fc.assign(series=name))
        if backtest_origins:
            try:
                result = backtest(series, cfg, horizon=horizon, origins=backtest_origins)
                out.backtest[name] = {k: _finite(result.metrics.get(k)) for k in BACKTEST_FIGURES}
            except ForecastError as exc:
                out.errors[name] = f"no backtest: {exc}"
    out.seconds["forecast"] = time.perf_counter() - started
    if not frames:
        return out
    points = pd.concat(frames).rename_axis("hour").reset_index()
    supply = supply_ahead(availability, as_of, horizon)
    long_supply = supply.stack().rename("supply").rename_axis(["hour", "series"]).reset_index()
    points = points.merge(long_supply, on=["hour", "series"], how="left")
    points["supply"] = points["supply"].fillna(0.0)
    out.points = points[["series", "hour", "mean", "lower", "upper", "supply"]]
    out.slots = slots_from_points(out.points, as_of, balance)
    return out


def slots_from_points(
    points: pd.DataFrame, now: pd.Timestamp, settings: BalanceSettings | None = None
) -> pd.DataFrame:
    """Shortage and surplus slots per subject (the total is left out: tutors are booked
    per subject, so a surplus of chemistry tutors does not cover an algebra evening)."""
    subj = points[points["series"] != TOTAL]
    demand = subj.pivot(index="hour", columns="series", values="mean")
    supply = subj.pivot(index="hour", columns="series", values="supply")
    return balance_slots(coverage_table(demand, supply), now, settings)


def _finite(value: object) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None
