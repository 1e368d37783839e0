"""ml.forecast: the hourly count forecaster, its intervals, the backtest metrics, supply
and shortage slots, on synthetic series whose truth is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ml.forecast import (
    ForecastConfig,
    ForecastError,
    HourlyForecaster,
    SeasonalNaive,
    backtest,
    hourly_counts,
    hourly_supply,
    metrics_from,
    poisson_mad,
)
from ml.forecast.model import predictive
from ml.forecast.supply import BalanceSettings, balance_slots, coverage_table

# January-February: no daylight-saving change, so UTC and the pattern agree.
START = pd.Timestamp("2026-01-05T00:00:00Z")  # a Monday
UTC_CFG = ForecastConfig(season_tz="UTC")


def weekly_mean(index: pd.DatetimeIndex, level: float = 20.0) -> np.ndarray:
    """A known pattern: evening peak on school days, late-morning peak at weekends,
    quiet nights (mean 0.5), quieter Fridays."""
    hour = np.asarray(index.hour)
    dow = np.asarray(index.day_of_week)
    weekend = dow >= 5
    peak = np.where(weekend, 11, 19)
    shape = 0.05 + np.exp(-0.5 * ((hour - peak) / 3.0) ** 2)
    day = np.where(dow == 4, 0.6, 1.0)
    return level * shape * day


def simulate(weeks: int, seed: int, alpha: float = 0.0, level: float = 20.0) -> pd.Series:
    index = pd.date_range(START, periods=weeks * 168, freq="h")
    mu = weekly_mean(index, level)
    rng = np.random.default_rng(seed)
    if alpha > 0:
        r = 1.0 / alpha
        y = rng.negative_binomial(r, r / (r + mu))
    else:
        y = rng.poisson(mu)
    return pd.Series(y, index=index, dtype=float)


# ---------------------------------------------------------------------- forecaster


def test_recovers_the_weekly_pattern_of_a_poisson_series():
    series = simulate(10, seed=1)
    fc = HourlyForecaster(UTC_CFG).fit(series).predict(168)
    truth = weekly_mean(fc.index)
    assert list(fc.columns[:3]) == ["mean", "lower", "upper"]
    assert fc.index[0] == series.index[-1] + pd.Timedelta(hours=1)
    assert len(fc) == 168 and fc.index.freq == "h"
    assert np.corrcoef(fc["mean"], truth)[0, 1] > 0.98
    assert fc["mean"].sum() == pytest.approx(truth.sum(), rel=0.05)
    assert fc["mean"].idxmax().hour in (18, 19, 20) and fc["mean"].idxmax().day_of_week != 4
    weekend = fc[fc.index.day_of_week >= 5]
    assert weekend["mean"].idxmax().hour in (10, 11, 12)
    # Every mean lies within its own interval.
    assert ((fc["lower"] <= fc["mean"]) & (fc["mean"] <= fc["upper"])).all()


def test_a_level_shift_is_followed_through_recency_weights():
    series = simulate(10, seed=2)
    # The last three weeks are 50 % busier (a new term starts).
    series.iloc[-3 * 168 :] = simulate(3, seed=3, level=30.0).to_numpy()
    fc = HourlyForecaster(UTC_CFG).fit(series).predict(168)
    truth_new = weekly_mean(fc.index, 30.0).sum()
    # Three weeks are half the weight at a 21-day half-life: most of the way there.
    assert 0.8 * truth_new < fc["mean"].sum() < 1.05 * truth_new
    flat = HourlyForecaster(UTC_CFG.with_(half_life_days=None, lag_weeks=0)).fit(series)
    flat_sum = flat.predict(168)["mean"].sum()
    assert flat_sum < 0.8 * truth_new and fc["mean"].sum() > flat_sum + 0.05 * truth_new


@pytest.mark.parametrize("alpha", [0.0, 0.15])
def test_intervals_cover_about_95_percent_of_simulated_counts(alpha):
    series = simulate(14, seed=4 if alpha else 5, alpha=alpha)
    result = backtest(series, UTC_CFG, origins=4)
    assert 0.92 <= result.metrics["coverage"] <= 0.985
    busy = result.hours[result.hours["mean"] > 5]
    inside = (busy["actual"] >= busy["lower"]) & (busy["actual"] <= busy["upper"])
    assert 0.9 <= inside.mean() <= 0.99  # not just the trivially covered quiet hours


def test_overdispersion_is_estimated_and_widens_the_intervals():
    nb = HourlyForecaster(UTC_CFG).fit(simulate(12, seed=6, alpha=0.15))
    assert 0.08 < nb.dispersion < 0.25
    poisson = HourlyForecaster(UTC_CFG).fit(simulate(12, seed=6))
    assert poisson.dispersion < 0.03
    width = lambda f: (f.predict(168)["upper"] - f.predict(168)["lower"]).sum()  # noqa: E731
    assert width(nb) > 1.2 * width(poisson)


def test_predictive_quantiles_match_monte_carlo_with_parameter_uncertainty():
    eta = np.log(np.array([0.4, 3.0, 12.0, 80.0]))
    se = np.array([0.05, 0.3, 0.2, 0.1])
    alpha = 0.1
    mean, lower, upper = predictive(eta, se, alpha, level=0.95)
    rng = np.random.default_rng(7)
    n = 200_000
    for i in range(len(eta)):
        mu = np.exp(eta[i] + se[i] * rng.standard_normal(n))
        r = 1 / alpha
        draws = rng.negative_binomial(r, r / (r + mu))
        assert mean[i] == pytest.approx(draws.mean(), rel=0.02)
        assert abs(lower[i] - np.quantile(draws, 0.025)) <= 1
        assert abs(upper[i] - np.quantile(draws, 0.975)) <= 1
    # Parameter uncertainty widens the interval beyond the NB's own.
    _, lower0, upper0 = predictive(eta, np.zeros_like(se), alpha, level=0.95)
    assert (upper >= upper0).all() and (lower <= lower0).all()
    assert (upper - lower).sum() > (upper0 - lower0).sum()


def test_zeros_and_gaps_are_handled():
    series = simulate(8, seed=8)
    night = series.index.hour.isin([3, 4])
    series[night] = 0.0  # hours that never see demand
    rng = np.random.default_rng(9)
    gappy = series.drop(series.index[rng.random(len(series)) < 0.05])  # missing hours
    gappy = gappy.drop(gappy.index[(gappy.index >= "2026-02-10") & (gappy.index < "2026-02-11")])
    gappy[gappy.index[100:110]] = np.nan  # unobserved values
    model = HourlyForecaster(UTC_CFG).fit(gappy)
    fc = model.predict(168 * 2)  # two weeks: the second uses the first's means as lags
    assert fc.notna().all().all() and len(fc) == 336
    quiet = fc[fc.index.hour.isin([3, 4])]
    assert (quiet[["mean", "lower", "upper"]] == 0).all().all()
    assert np.corrcoef(fc["mean"], weekly_mean(fc.index) * ~fc.index.hour.isin([3, 4]))[0, 1] > 0.97


def test_a_series_of_zeros_forecasts_zero():
    index = pd.date_range(START, periods=30 * 24, freq="h")
    fc = HourlyForecaster().fit(pd.Series(0, index=index)).predict(48)
    assert (fc[["mean", "lower", "upper"]] == 0).all().all() and len(fc) == 48


def test_bad_input_gets_a_clear_error():
    index = pd.date_range(START, periods=10 * 24, freq="h")
    with pytest.raises(ForecastError, match=r"too little history.*14 days"):
        HourlyForecaster().fit(pd.Series(1.0, index=index))
    long = pd.date_range(START, periods=30 * 24, freq="h")
    with pytest.raises(ForecastError, match="negative"):
        HourlyForecaster().fit(pd.Series(-1.0, index=long))
    with pytest.raises(ForecastError, match="whole hours"):
        HourlyForecaster().fit(pd.Series(1.0, index=long + pd.Timedelta(minutes=30)))
    with pytest.raises(ForecastError, match="DatetimeIndex"):
        HourlyForecaster().fit(pd.Series([1.0, 2.0]))
    with pytest.raises(ForecastError, match="Series"):
        HourlyForecaster().fit([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ForecastError, match="duplicate"):
        HourlyForecaster().fit(pd.Series(1.0, index=long.append(long[:1])))
    with pytest.raises(ForecastError, match="fit"):
        HourlyForecaster().predict(24)
    with pytest.raises(ForecastError, match="positive"):
        HourlyForecaster(UTC_CFG).fit(simulate(3, seed=1)).predict(0)


# ---------------------------------------------------------------------- backtest


def test_metrics_by_hand():
    origin = pd.Timestamp("2026-01-05T00:00:00Z")
    hours = pd.date_range(origin, periods=48, freq="h")
    actual = np.full(48, 2.0)
    actual[0] = 0.0
    frame = pd.DataFrame({
        "origin": origin, "hour": hours, "actual": actual, "mean": 3.0,
        "lower": 2.0, "upper": 3.0, "naive": 1.0,
    })  # fmt: skip
    m = metrics_from(frame)
    assert m["wape"] == pytest.approx(50 / 94)  # 47 hours off by 1, one off by 3
    assert m["mape_demand"] == pytest.approx(0.5)  # the zero hour is left out
    assert m["daily_mape"] == pytest.approx((26 / 46 + 24 / 48) / 2)
    assert m["mase"] == pytest.approx((50 / 48) / 1.0)  # the naive is off by 1 everywhere
    assert m["coverage"] == pytest.approx(47 / 48) and m["coverage_busy"] == m["coverage"]
    assert m["wape_floor"] == pytest.approx(poisson_mad(3.0) / 3.0)


def test_poisson_mean_absolute_deviation():
    for m in (0.3, 2.5, 10.0, 40.0):
        k = np.arange(0, 400)
        brute = float((np.abs(k - m) * stats.poisson.pmf(k, m)).sum())
        assert poisson_mad(m) == pytest.approx(brute, rel=1e-9)
    assert poisson_mad(40.0) / 40.0 == pytest.approx(0.8 / np.sqrt(40.0), rel=0.02)
    assert poisson_mad(0.0) == 0.0


def test_backtest_fits_only_on_the_past_and_scores_each_origin():
    series = simulate(8, seed=10)
    seen: list[tuple[pd.Timestamp, int]] = []

    class Spy(SeasonalNaive):
        def fit(self, s: pd.Series) -> SeasonalNaive:
            seen.append((s.index[-1], len(s)))
            return super().fit(s)

    result = backtest(series, Spy, horizon=24, origins=3, step=48)
    end = series.index[-1] + pd.Timedelta(hours=1)
    assert result.origins == [end - pd.Timedelta(hours=h) for h in (24 + 96, 24 + 48, 24)]
    # Every fit ends the hour before its origin (nothing from the future leaks in).
    assert [t for t, _ in seen[::1]] == [o - pd.Timedelta(hours=1) for o in result.origins]
    assert len(result.hours) == 3 * 24
    # The naive forecaster against itself: MASE exactly 1.
    assert result.metrics["mase"] == pytest.approx(1.0)


def test_the_default_model_beats_same_hour_last_week_on_routine_demand():
    # Demand from routines: each hour-of-week's count persists week to week (families
    # book the same slot) plus Poisson noise, the structure of the sandbox's bookings.
    rng = np.random.default_rng(11)
    index = pd.date_range(START, periods=12 * 168, freq="h")
    base = weekly_mean(index[:168], 15.0) * rng.lognormal(0, 0.3, 168)
    regulars = np.tile(rng.poisson(base), 12)
    series = pd.Series(regulars + rng.poisson(0.4 * weekly_mean(index, 15.0)), index=index)
    result = backtest(series.astype(float), UTC_CFG, origins=3)
    assert result.metrics["mase"] < 0.9
    assert result.metrics["daily_mape"] < 0.1


def test_backtest_needs_enough_history():
    with pytest.raises(ForecastError, match="too short"):
        backtest(simulate(3, seed=1), origins=4)


# ---------------------------------------------------------------------- series, supply


def test_hourly_counts_with_explicit_zeros_per_key_and_total():
    times = pd.Series(pd.to_datetime(
        ["2026-01-05T10:05Z", "2026-01-05T10:59Z", "2026-01-05T12:00Z", "2026-01-05T09:00Z"]
    ))  # fmt: skip
    subject = pd.Series(["algebra", "french", "algebra", "algebra"])
    counts = hourly_counts(times, pd.Timestamp("2026-01-05T10:00Z"),
                           pd.Timestamp("2026-01-05T13:00Z"), by=subject)  # fmt: skip
    assert counts.to_dict("list") == {
        "algebra": [1, 0, 1], "french": [1, 0, 0], "total": [2, 0, 1]
    }  # fmt: skip


def test_hourly_supply_counts_partial_hours():
    starts = pd.Series(pd.to_datetime(["2026-01-05T10:30Z", "2026-01-05T11:00Z"]))
    ends = pd.Series(pd.to_datetime(["2026-01-05T12:00Z", "2026-01-05T14:00Z"]))
    supply = hourly_supply(starts, ends, pd.Timestamp("2026-01-05T10:00Z"),
                           pd.Timestamp("2026-01-05T13:00Z"),
                           by=pd.Series(["algebra", "french"]))  # fmt: skip
    assert supply["algebra"].tolist() == [0.5, 1.0, 0.0]
    assert supply["french"].tolist() == [0.0, 1.0, 1.0]  # clipped at the range's end
    assert supply["total"].tolist() == [0.5, 2.0, 1.0]


def test_shortage_and_surplus_slots_merge_adjacent_hours_and_respect_lead_time():
    now = pd.Timestamp("2026-01-05T00:00Z")
    hours = pd.date_range(now, periods=30, freq="h")
    demand = pd.DataFrame({"algebra": 10.0, "french": 10.0}, index=hours)
    supply = pd.DataFrame({"algebra": 10.0, "french": 10.0}, index=hours)
    supply.loc[hours[5:8], "algebra"] = 5.0  # short, but only 5-7 hours ahead
    supply.loc[hours[14:17], "algebra"] = [7.0, 5.0, 7.5]  # short 14-16 h ahead
    supply.loc[hours[20], "french"] = 20.0  # surplus
    demand.loc[hours[25], "french"] = 0.5  # too little demand to judge
    supply.loc[hours[25], "french"] = 0.0
    slots = balance_slots(coverage_table(demand, supply), now, BalanceSettings())
    short = slots[slots["kind"] == "shortage"]
    assert len(short) == 1
    s = short.iloc[0]
    assert (s["subject"], s["start"], s["end"], s["hours"]) == ("algebra", hours[14], hours[17], 3)
    assert s["lead_hours"] == 14 and s["worst_coverage"] == pytest.approx(0.5)
    assert s["coverage"] == pytest.approx(19.5 / 30)
    surplus = slots[slots["kind"] == "surplus"]
    assert surplus[["subject", "hours"]].values.tolist() == [["french", 1]]
    assert surplus["worst_coverage"].item() == pytest.approx(2.0)
    with pytest.raises(ForecastError):
        BalanceSettings(shortage_below=1.5, surplus_above=1.3)


def test_week_to_week_level_moves_widen_the_intervals_of_overdispersed_series():
    # Each week's level moves by about 15 % (a busy week, a holiday week): in-sample the
    # recency weights absorb it, a week ahead they cannot.
    rng = np.random.default_rng(12)
    index = pd.date_range(START, periods=14 * 168, freq="h")
    week_level = np.repeat(np.exp(rng.normal(0, 0.15, 14)), 168)
    mu = weekly_mean(index, 60.0) * week_level
    r = 1 / 0.02
    series = pd.Series(rng.negative_binomial(r, r / (r + mu)).astype(float), index=index)
    with_holdout = backtest(series, UTC_CFG, origins=4)
    without = backtest(series, UTC_CFG.with_(holdout_dispersion=False), origins=4)
    assert with_holdout.metrics["coverage_busy"] > without.metrics["coverage_busy"]
    assert 0.88 <= with_holdout.metrics["coverage_busy"] <= 0.99
    fitted = HourlyForecaster(UTC_CFG).fit(series)
    plain = HourlyForecaster(UTC_CFG.with_(holdout_dispersion=False)).fit(series)
    assert fitted.dispersion >= plain.dispersion  # raised only when the last week moved


def test_an_underdispersed_series_gets_its_variance_factor_from_the_weeks_ahead():
    """Counts more regular than Poisson (variance 0.35 x mean: families' weekly routines):
    the factor is measured a week ahead, close to the truth, and the intervals cover
    about 95 % (not the 98-100 % a Poisson spread would give)."""
    rng = np.random.default_rng(22)
    index = pd.date_range(START, periods=14 * 168, freq="h")
    mu = weekly_mean(index, 20.0)
    n = np.maximum(np.ceil(mu / 0.65), 1).astype(int)
    series = pd.Series(rng.binomial(n, np.minimum(mu / n, 1.0)).astype(float), index=index)
    fitted = HourlyForecaster(UTC_CFG).fit(series)
    assert 0.25 <= fitted.variance_factor <= 0.5 and fitted.dispersion == 0.0
    result = backtest(series, UTC_CFG, origins=4)
    assert 0.92 <= result.metrics["coverage_busy"] <= 0.98
    poisson = backtest(series, UTC_CFG.with_(family="poisson"), origins=4)
    assert poisson.metrics["coverage_busy"] > result.metrics["coverage_busy"] + 0.01
