"""Demand forecasting for hourly count series (pure: pandas/numpy/statsmodels).

- :mod:`ml.forecast.model`: :class:`HourlyForecaster`, a count GLM (Poisson mean, NB or
  variance-matched binomial spread) with hour-of-week terms in US Eastern time, the same
  hour one and two weeks before, and 21-day recency weights; intervals are quantiles of
  the predictive count distribution with parameter uncertainty.
- :mod:`ml.forecast.backtest`: rolling-origin :func:`backtest` (WAPE, MAPE on hours with
  demand, daily-total MAPE, MASE against same-hour-last-week, 95 % coverage, Poisson
  noise floors).
- :mod:`ml.forecast.series` (hourly counts, hourly supply from slots),
  :mod:`ml.forecast.supply` (coverage, shortage and surplus slots),
  :mod:`ml.forecast.demand` (every subject and the total from the bookings).

Model choice (``python -m benchmarks.forecast_bench --compare``): full-scale sandbox
(578k bookings, 14 subjects at 3.5-15 bookings an hour, the total at 112), 90 days of
history, 4 weekly rolling origins, 7 days ahead. Subjects: medians over the 14 (daily
MAPE also the worst); total: its own figures.

=================================  =====  ===========  ====  ===========  =====================
variant                            WAPE   daily MAPE   MASE  coverage     total: WAPE dMAPE
                                          (med/max)          (min-max)    MASE coverage
=================================  =====  ===========  ====  ===========  =====================
chosen (HoW ET, lags, hl 21 d)     0.178  0.085/0.130  0.73  0.960-0.981  0.101 0.053 0.87 0.92
HoW+trend UTC, no lags, NB (*)     0.377  0.273/0.308  1.58  0.848-0.945  0.363 0.285 3.11 0.61
HoW+trend ET, no lags              0.298  0.272/0.303  1.24  0.888-0.967  0.282 0.277 2.42 0.81
chosen + trend                     0.185  0.103/0.164  0.76  0.957-0.978  0.104 0.056 0.89 0.89
chosen, equal weights              0.176  0.070/0.109  0.72  0.963-0.988  0.096 0.032 0.83 0.91
chosen, NB only                    0.178  0.086/0.134  0.73  0.979-0.999  0.101 0.053 0.87 0.91
additive hour x weekend + weekday  0.199  0.078/0.115  0.81  0.939-0.969  0.102 0.045 0.88 0.88
same hour last week (naive)        0.242  0.082/0.119  1.00  -            0.117 0.030 1.00 -
=================================  =====  ===========  ====  ===========  =====================

(*) the issue's suggested start. HoW: 168 hour-of-week terms; ET: in US Eastern time;
lags: the same hour one and two weeks before; hl: recency half-life; NB only: no
underdispersed (binomial) spread.

What the figures say: a log-linear trend over 90 days that include the back-to-school
ramp overshoots November's flat level by 20-30 % (daily MAPE 27 %); in UTC the whole
pattern slides an hour at the daylight-saving change; without the underdispersed spread
(families book the same slot every week, so counts are more regular than Poisson) the
intervals cover 98-100 %. The chosen model's hourly WAPE is below the Poisson floor for
subjects (0.8/sqrt(m): routines make demand more predictable than Poisson), and its
daily totals are about as good as the naive forecast's, which sums 24 noisy hours into
a smooth day; per hour it beats the naive by 25-30 % (MASE 0.63-0.77). Equal weights
did slightly better on this world's slow November; the 21-day half-life is kept because
it follows a level shift (a term starting) within weeks (``test_a_level_shift...``) at
the cost of 1.5 points of daily MAPE here. The total's week-to-week level moves
more than its in-sample dispersion says: its NB dispersion is also measured a week
ahead (refit without the last week), which took its coverage from 0.91 to 0.92 (0.89 to
0.91 on its busy hours); the other rows were measured without that step.

Underdispersed series (every subject here) take their variance factor a week ahead too,
pooled over the last two weeks (refit without them, forecast them): the in-sample,
leverage-corrected Pearson factor overstated it for the most regular subject (sat_prep
0.41 against 0.35 a week ahead) and its intervals covered 0.981. With the week-ahead
factor the subjects cover 0.955-0.976 (sat_prep 0.972); point forecasts, and so WAPE,
daily MAPE and MASE, are unchanged, as is the total (NB, 0.921). The cost is two more
fits per subject: every series 5.5 -> 17 s, with the backtests 15 -> 52 s, on the shared
2-core machine (target 60 s for the forecasts; the daily job runs in the background).
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
