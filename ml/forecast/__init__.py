"""Demand forecasting for hourly count series (pure: pandas/numpy/statsmodels).

See :mod:`ml.forecast.model` for the forecaster, :mod:`ml.forecast.backtest` for the
rolling-origin backtest and its metrics, :mod:`ml.forecast.series` for building hourly
series, and :mod:`ml.forecast.supply` for coverage and shortage slots.
"""

from ml.forecast.backtest import BacktestResult, SeasonalNaive, backtest, metrics_from, poisson_mad
from ml.forecast.model import ForecastConfig, ForecastError, HourlyForecaster, validate_series
from ml.forecast.series import TOTAL, hour_range, hourly_counts, hourly_supply

__all__ = [
    "TOTAL",
    "BacktestResult",
    "ForecastConfig",
    "ForecastError",
    "HourlyForecaster",
    "SeasonalNaive",
    "backtest",
    "hour_range",
    "hourly_counts",
    "hourly_supply",
    "metrics_from",
    "poisson_mad",
    "validate_series",
]
