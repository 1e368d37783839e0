"""Rolling-origin backtests of hourly forecasters, their metrics and noise floors.

``backtest(series, horizon=168, origins=4)`` refits at each of ``origins`` cut points
(one ``step`` apart, the last one ``horizon`` hours before the end), forecasts the next
``horizon`` hours from data strictly before the cut, and scores every forecast hour
against what happened:

- ``wape``: sum |y - f| / sum y (hours pooled);
- ``mape_demand``: mean |y - f| / y over hours with demand (y > 0);
- ``daily_mape``: MAPE of 24-hour totals from each origin (the PRD's < 20 % target);
- ``mase``: MAE of the model / MAE of the same-hour-last-week naive forecast on the same
  hours (the naive forecast for hour ``t`` is the last observed value at ``t - 168k``
  before the cut); below 1 beats it;
- ``coverage``: share of hours with ``lower <= y <= upper``; ``coverage_busy`` the same
  over hours forecast at one booking or more (quiet hours are covered trivially);
- ``wape_floor``: the WAPE a perfect forecaster of a Poisson mean would still make,
  ``sum MAD(f) / sum f`` with the Poisson mean absolute deviation ``MAD(m) =
  2 e^-m m^(floor(m)+1) / floor(m)!`` (about ``0.8 sqrt(m)`` for large m); and
  ``wape_to_floor`` = ``wape / wape_floor``; ``daily_mape_floor`` likewise for daily
  totals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import special

from ml.forecast.model import (
    HOUR,
    HOURS_PER_WEEK,
    ForecastConfig,
    ForecastError,
    HourlyForecaster,
    validate_series,
)


class Forecaster(Protocol):
    def fit(self, series: pd.Series) -> Forecaster: ...
    def predict(self, hours: int) -> pd.DataFrame: ...


@dataclass
class BacktestResult:
    metrics: dict[str, float]
    hours: pd.DataFrame  # origin, hour, actual, mean, lower, upper, naive
    origins: list[pd.Timestamp] = field(default_factory=list)


class SeasonalNaive:
    """Same hour last week: the baseline MASE compares with, with an empirical interval
    from the past weeks' week-over-week changes (for comparisons only)."""

    def __init__(self, level: float = 0.95) -> None:
        self.level = level
        self._last_week: pd.Series | None = None
        self._end: pd.Timestamp | None = None

    def fit(self, series: pd.Series) -> SeasonalNaive:
        y = validate_series(series)
        if len(y) < HOURS_PER_WEEK:
            raise ForecastError("the naive forecast needs a week of history")
        self._end = y.index[-1] + HOUR
        full = y.reindex(pd.date_range(y.index[0], self._end, freq="h", inclusive="left"))
        self._last_week = full.iloc[-HOURS_PER_WEEK:].ffill().bfill().fillna(0.0)
        return self

    def predict(self, hours: int = HOURS_PER_WEEK) -> pd.DataFrame:
        if self._last_week is None or self._end is None:
            raise ForecastError("fit first")
        index = pd.date_range(self._end, periods=hours, freq="h", name="hour")
        values = np.resize(self._last_week.to_numpy(), hours)
        return pd.DataFrame({"mean": values, "lower": values, "upper": values}, index=index)


def poisson_mad(m: np.ndarray | float) -> np.ndarray:
    """Mean absolute deviation E|Y - m| of a Poisson(m) count."""
    m = np.asarray(m, dtype=float)
    k = np.floor(m)
    with np.errstate(divide="ignore"):
        log = np.log(2.0) - m + (k + 1.0) * np.log(m) - special.gammaln(k + 1.0)
    return np.where(m > 0, np.exp(log), 0.0)


def metrics_from(hours: pd.DataFrame, horizon: int = HOURS_PER_WEEK) -> dict[str, float]:
    """The backtest metrics from a frame of scored hours (columns ``origin``, ``actual``,
    ``mean``, ``lower``, ``upper`` and optionally ``naive``). NaN where undefined."""
    if hours.empty:
        raise ForecastError("no scored hours")
    y = hours["actual"].to_numpy(dtype=float)
    f = hours["mean"].to_numpy(dtype=float)
    err = np.abs(y - f)
    total = y.sum()
    inside = (y >= hours["lower"].to_numpy(dtype=float)) & (
        y <= hours["upper"].to_numpy(dtype=float)
    )
    out: dict[str, float] = {
        "hours": float(len(y)),
        "mean_per_hour": float(y.mean()),
        "wape": float(err.sum() / total) if total > 0 else float("nan"),
        "mape_demand": float(np.mean(err[y > 0] / y[y > 0])) if (y > 0).any() else float("nan"),
        "coverage": float(np.mean(inside)),
        # Quiet hours (forecast under one booking) are covered almost by construction;
        # this is the coverage where the interval has work to do.
        "coverage_busy": float(np.mean(inside[f >= 1.0])) if (f >= 1.0).any() else float("nan"),
        "mae": float(err.mean()),
    }
    if "naive" in hours:
        naive_mae = float(np.abs(y - hours["naive"].to_numpy(dtype=float)).mean())
        out["naive_mae"] = naive_mae
        out["mase"] = out["mae"] / naive_mae if naive_mae > 0 else float("nan")
        out["naive_wape"] = naive_mae * len(y) / total if total > 0 else float("nan")
    floor = poisson_mad(f).sum()
    out["wape_floor"] = float(floor / f.sum()) if f.sum() > 0 else float("nan")
    out["wape_to_floor"] = (
        out["wape"] / out["wape_floor"] if out["wape_floor"] > 0 else float("nan")
    )
    # Daily totals: 24-hour blocks counted from each origin.
    step = (hours["hour"] - hours["origin"]) // HOUR if "hour" in hours else np.arange(len(y))
    day = np.asarray(step, dtype=np.int64) // 24
    daily = (
        pd.DataFrame({"origin": hours["origin"].to_numpy(), "day": day, "y": y, "f": f})
        .groupby(["origin", "day"])
        .agg(y=("y", "sum"), f=("f", "sum"), n=("y", "size"))
    )
    daily = daily[(daily["n"] == 24) & (daily["y"] > 0)]
    if len(daily):
        ape = (daily["y"] - daily["f"]).abs() / daily["y"]
        out["daily_mape"] = float(ape.mean())
        out["daily_mean"] = float(daily["y"].mean())
        out["daily_mape_floor"] = float(np.mean(poisson_mad(daily["f"]) / daily["f"]))
    else:
        out["daily_mape"] = out["daily_mean"] = out["daily_mape_floor"] = float("nan")
    return out


def backtest(
    series: pd.Series,
    make: Callable[[], Forecaster] | ForecastConfig | None = None,
    *,
    horizon: int = HOURS_PER_WEEK,
    origins: int = 4,
    step: int | None = None,
) -> BacktestResult:
    """Replay ``origins`` forecasts (``step`` hours apart, default ``horizon``) over the
    end of ``series`` and score them. ``make`` builds a fresh forecaster for each origin
    (a ForecastConfig, or None for the default, means :class:`HourlyForecaster`)."""
    y = validate_series(series)
    if origins < 1 or horizon < 1:
        raise ForecastError("origins and horizon must be positive")
    step = step or horizon
    if make is None or isinstance(make, ForecastConfig):
        config = make or ForecastConfig()

        def make() -> Forecaster:
            return HourlyForecaster(config)

    end = y.index[-1] + HOUR
    cuts = [end - HOUR * (horizon + step * k) for k in reversed(range(origins))]
    if cuts[0] <= y.index[0] + HOUR * HOURS_PER_WEEK:
        raise ForecastError(
            f"the series is too short for {origins} origins of {horizon} hours: {len(y)} hours"
        )
    full = y.reindex(pd.date_range(y.index[0], end, freq="h", inclusive="left"))
    parts = []
    for cut in cuts:
        history = full[full.index < cut]
        model = make().fit(history.dropna())
        fc = model.predict(horizon)
        actual = full.reindex(fc.index)
        naive = SeasonalNaive().fit(history.dropna()).predict(horizon)["mean"]
        part = pd.DataFrame(
            {
                "origin": cut,
                "hour": fc.index,
                "actual": actual.to_numpy(),
                "mean": fc["mean"].to_numpy(),
                "lower": fc["lower"].to_numpy(),
                "upper": fc["upper"].to_numpy(),
                "naive": naive.to_numpy(),
            }
        )
        parts.append(part[part["actual"].notna()])
    hours = pd.concat(parts, ignore_index=True)
    return BacktestResult(metrics_from(hours, horizon), hours, cuts)
