"""A forecaster for hourly count series: a negative-binomial GLM with seasonal terms.

``HourlyForecaster(config).fit(series).predict(168)`` gives, for each of the next hours,
the predictive mean and a 95 % interval. The series is a pandas Series of counts on an
hourly ``DatetimeIndex``; hours that are missing from the index or NaN are *unobserved*
(left out of the fit), zeros are observations. (``ml.forecast.series.hourly_counts``
builds a series from event times with explicit zeros.)

The model (log link): ``log E[y_t] = season(t) + b1 log1p(y_{t-168}) + b2
log1p(y_{t-336}) [+ trend * t]``, with

- ``season``: one term per hour of the week (168) in ``config.season_tz`` (demand follows
  customers' local clocks; in UTC the whole pattern slides an hour at every
  daylight-saving change), or a lighter additive form (hour of day for school days and
  for weekends, plus day of week) for comparison;
- lagged weeks: demand comes from families' weekly routines, so the same hour last week
  carries information beyond the average (for a 7-day horizon every lag is observed;
  further ahead the forecast's own means stand in);
- recency weights halving every ``half_life_days`` instead of a trend: a log-linear
  trend fitted over 90 days that include the back-to-school ramp overshoots the
  flattened level of November by 20-30 % (the backtest figures in :mod:`ml.forecast`).

Fit: Poisson IRLS for the mean, then the negative-binomial dispersion ``alpha`` by the
Cameron-Trivedi auxiliary regression (``(y-mu)^2 - y = alpha * mu^2``), then the GLM
refitted with that NB variance, whose coefficient covariance gives the uncertainty of
the log-mean of every future hour. Hour-of-week cells with no demand at all in the
window are fixed at zero instead of estimated (their MLE is minus infinity).

For an overdispersed series the NB dispersion is the larger of the in-sample one and
the one seen a week ahead (refit without the last week, forecast it): the level's
week-to-week moves are invisible in-sample. For an underdispersed one (more regular
than Poisson) the factor is the one seen a week ahead, pooled over the last two weeks:
the in-sample one overstated it and the most regular subject's intervals covered 98 %.

Intervals come from the predictive distribution, not a normal approximation: the count
is NB(mu, alpha) with ``log mu ~ N(eta, se^2)`` (parameter uncertainty), integrated by
Gauss-Hermite quadrature; the interval's ends are that mixture's 2.5 % and 97.5 %
mid-quantiles (each count's probability split in half, so that for small counts the
interval covers about 95 % rather than jumping to 98 %). The mean is the mixture's
mean ``exp(eta + se^2 / 2)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

HOUR = pd.Timedelta(hours=1)
HOURS_PER_WEEK = 168


class ForecastError(ValueError):
    """The series cannot be forecast (wrong type, negative counts, too little history)."""


@dataclass(frozen=True)
class ForecastConfig:
    """How the forecaster models a series (the defaults won the backtest; see
    :mod:`ml.forecast`)."""

    seasonal: Literal["hour_of_week", "additive"] = "hour_of_week"
    trend: bool = False
    # Observation weights halve every ``half_life_days`` back from the last hour (None:
    # equal weights). Lets the level follow recent weeks without a trend's extrapolation.
    half_life_days: float | None = 21.0
    # auto: negative binomial when overdispersed, a variance-matched binomial when the
    # series is more regular than Poisson; or force one.
    family: Literal["auto", "negative_binomial", "poisson"] = "auto"
    season_tz: str = "America/New_York"
    # log1p of the same hour 1..k weeks before as regressors: demand comes from
    # families' weekly routines, so last week's count says more than the average does.
    lag_weeks: int = 2
    history_days: int | None = 90  # only the most recent days are used (None: all)
    min_history_days: float = 14.0
    level: float = 0.95
    quadrature_nodes: int = 9
    # Overdispersed series: take the NB dispersion a week ahead into account too.
    holdout_dispersion: bool = True

    def with_(self, **changes: object) -> ForecastConfig:
        return replace(self, **changes)


@dataclass
class _Fitted:
    columns: list[str]
    beta: np.ndarray
    cov: np.ndarray
    alpha: float
    phi: float  # underdispersion factor (variance = phi * mu) when below 1
    end: pd.Timestamp  # first hour after the history
    zero_cells: np.ndarray  # hour-of-week cells fixed at zero demand
    history: pd.Series  # the window's hourly values (NaN = unobserved), for the lags
    cell_means: np.ndarray  # mean per hour-of-week cell, to stand in for a missing lag
    n_obs: int
    all_zero: bool


def validate_series(series: pd.Series) -> pd.Series:
    """The series as float on a sorted hourly UTC index, or a ForecastError saying why.

    Naive timestamps are taken as UTC. Timestamps must fall on whole hours and be unique.
    """
    if not isinstance(series, pd.Series):
        raise ForecastError(f"expected a pandas Series, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ForecastError("the series needs an hourly DatetimeIndex")
    try:
        values = pd.to_numeric(series, errors="raise").astype("float64")
    except (TypeError, ValueError):
        raise ForecastError("the series must hold numbers (counts per hour)") from None
    index = series.index
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    if (index != index.floor("h")).any():
        raise ForecastError("timestamps must fall on whole hours (an hourly series)")
    if index.has_duplicates:
        raise ForecastError("the series has duplicate hours")
    out = pd.Series(values.to_numpy(), index=index).sort_index()
    if (out < 0).any():
        raise ForecastError("counts cannot be negative")
    if np.isinf(out.to_numpy()).any():
        raise ForecastError("counts must be finite")
    return out


class HourlyForecaster:
    """Fit on one hourly count series, then :meth:`predict` the next hours."""

    def __init__(self, config: ForecastConfig | None = None) -> None:
        self.config = config or ForecastConfig()
        self._fitted: _Fitted | None = None

    # ------------------------------------------------------------------ fitting

    def fit(self, series: pd.Series) -> HourlyForecaster:
        cfg = self.config
        y = validate_series(series)
        if y.empty:
            raise ForecastError("the series is empty")
        end = y.index[-1] + HOUR
        unwindowed = y
        if cfg.history_days is not None:
            y = y[y.index >= end - pd.Timedelta(days=cfg.history_days)]
        observed = y.dropna()
        span_days = (end - observed.index[0]) / pd.Timedelta(days=1) if len(observed) else 0.0
        # At least two weeks: every hour of the week seen twice, so the seasonal terms
        # are estimable and the backtest has a same-hour-last-week to compare with.
        if span_days < cfg.min_history_days or len(observed) < cfg.min_history_days * 12:
            raise ForecastError(
                f"too little history to forecast: {span_days:.1f} days with "
                f"{len(observed)} observed hours; at least {cfg.min_history_days:g} days "
                "are needed"
            )
        history = observed.reindex(
            pd.date_range(observed.index[0], end, freq="h", inclusive="left")
        )
        cells = self._cells(observed.index)
        counts = observed.to_numpy()
        per_cell = np.bincount(cells, weights=counts, minlength=HOURS_PER_WEEK)
        n_cell = np.bincount(cells, minlength=HOURS_PER_WEEK)
        cell_means = per_cell / np.maximum(n_cell, 1)
        if float(counts.sum()) == 0.0:
            self._fitted = _Fitted([], np.zeros(0), np.zeros((0, 0)), 0.0, 1.0, end,
                                   np.arange(HOURS_PER_WEEK), history, cell_means,
                                   len(observed), True)  # fmt: skip
            return self
        # Cells never busy in the window are fixed at zero demand (their MLE is minus
        # infinity: IRLS would wander off and report a huge, meaningless variance).
        zero_cells = np.flatnonzero(per_cell == 0)
        keep = per_cell[cells] > 0
        self._fitted = _Fitted([], np.zeros(0), np.zeros((0, 0)), 0.0, 1.0, end, zero_cells,
                               history, cell_means, len(observed), False)  # fmt: skip
        X, cols = self._design(observed.index[keep], lags=self._lags(observed.index[keep]))
        ages = np.asarray((end - observed.index[keep]) / pd.Timedelta(days=1), dtype=float)
        weights = np.ones(len(ages))
        if cfg.half_life_days:
            weights = 0.5 ** (ages / cfg.half_life_days)
            weights *= len(weights) / weights.sum()
        beta, cov, alpha, phi = _fit_glm(X, counts[keep], weights, cfg.family)
        self._fitted.columns, self._fitted.beta = cols, beta
        self._fitted.cov, self._fitted.alpha, self._fitted.phi = cov, alpha, phi
        if alpha > 0 and cfg.holdout_dispersion and span_days >= cfg.min_history_days + 7:
            self._fitted.alpha = max(alpha, self._holdout_alpha(y))
        elif phi < 1.0 and cfg.holdout_dispersion and span_days >= cfg.min_history_days + 7:
            # The refits see as many days as this fit does (the history before the window).
            self._fitted.phi = self._holdout_phi(unwindowed, span_days)
        return self

    def _holdout_phi(self, y: pd.Series, span_days: float) -> float:
        """The underdispersion factor seen a week ahead, where the intervals are used:
        refit without the last week (and the one before, history permitting), forecast
        it, and take the variance beyond the parameter uncertainty over the mean, pooled
        over the busy hours of both weeks. In-sample, the leverage-corrected Pearson
        factor overstated it for the most regular series (sat_prep: 0.41 in-sample
        against 0.35 a week ahead; its intervals covered 98 %). Pooling two weeks
        halves the noise of one week's ~100 busy hours. Kept in-sample when too few
        busy hours are seen; at most 1 (Poisson) a week ahead."""
        inner = HourlyForecaster(replace(self.config, holdout_dispersion=False))
        weeks = 2 if span_days >= self.config.min_history_days + 14 else 1
        end = y.index[-1] + HOUR
        excess = mean = 0.0
        busy = 0
        for k in range(1, weeks + 1):
            cut = end - HOUR * (HOURS_PER_WEEK * k)
            try:
                fc = inner.fit(y[y.index < cut]).predict(HOURS_PER_WEEK)
            except ForecastError:
                continue
            actual = y.reindex(fc.index).to_numpy()
            mu = fc["mean"].to_numpy()
            ok = ~np.isnan(actual) & (mu >= 1.0)
            se = np.minimum(fc["se_log"].to_numpy(), MAX_SE_LOG)
            extra = (actual - mu) ** 2 - mu**2 * np.expm1(se**2)
            excess += float(np.sum(extra[ok]))
            mean += float(np.sum(mu[ok]))
            busy += int(ok.sum())
        assert self._fitted is not None
        if busy < 24 or mean <= 0:
            return self._fitted.phi
        return float(min(max(excess / mean, 0.05), 1.0))

    def _holdout_alpha(self, y: pd.Series) -> float:
        """NB dispersion seen a week ahead: refit without the last week, forecast it, and
        take the residual variance beyond Poisson and beyond the parameter uncertainty.
        In-sample, the level's week-to-week moves are absorbed by the recency weights;
        a week ahead they are not, and the busiest hours' intervals came out too narrow."""
        inner = HourlyForecaster(replace(self.config, holdout_dispersion=False))
        cut = y.index[-1] + HOUR - HOUR * HOURS_PER_WEEK
        try:
            fc = inner.fit(y[y.index < cut]).predict(HOURS_PER_WEEK)
        except ForecastError:
            return 0.0
        actual = y.reindex(fc.index).to_numpy()
        mu = fc["mean"].to_numpy()
        ok = ~np.isnan(actual) & (mu >= 1.0)
        if ok.sum() < 24:
            return 0.0
        extra = (actual - mu) ** 2 - mu - mu**2 * np.expm1(fc["se_log"].to_numpy() ** 2)
        return max(float(np.sum(extra[ok]) / np.sum(mu[ok] ** 2)), 0.0)

    # ------------------------------------------------------------------ predicting

    def predict(self, hours: int = HOURS_PER_WEEK) -> pd.DataFrame:
        """The next ``hours`` hours after the history: ``mean``, ``lower``, ``upper``
        (the central ``config.level`` predictive interval) and ``se_log`` (standard
        error of the log-mean from parameter uncertainty), on an hourly UTC index.

        Beyond a week ahead the lagged-week terms use the forecast's own means."""
        if self._fitted is None:
            raise ForecastError("fit the forecaster before predicting")
        if not isinstance(hours, int | np.integer) or hours < 1:
            raise ForecastError("hours must be a positive integer")
        f = self._fitted
        index = pd.date_range(f.end, periods=int(hours), freq="h", name="hour")
        out = pd.DataFrame(0.0, index=index, columns=["mean", "lower", "upper", "se_log"])
        if f.all_zero:
            return out
        # A week at a time: the lags of week w+1 are the (forecast) values of week w.
        extended = f.history.copy()
        for start in range(0, len(index), HOURS_PER_WEEK):
            part = index[start : start + HOURS_PER_WEEK]
            X, _ = self._design(part, lags=self._lags(part, extended))
            eta = X @ f.beta
            se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", X, f.cov, X), 0.0))
            mean, lower, upper = predictive(
                eta, se, f.alpha, self.config.level, self.config.quadrature_nodes, f.phi
            )
            zero = np.isin(self._cells(part), f.zero_cells)
            mean[zero], lower[zero], upper[zero], se[zero] = 0.0, 0.0, 0.0, 0.0
            out.loc[part] = np.column_stack([mean, lower, upper, se])
            extended = pd.concat([extended, pd.Series(mean, index=part)])
        return out

    @property
    def dispersion(self) -> float:
        """The NB ``alpha`` (variance = mu + alpha mu^2); 0 for Poisson."""
        if self._fitted is None:
            raise ForecastError("not fitted")
        return self._fitted.alpha

    @property
    def variance_factor(self) -> float:
        """Variance / mean of an underdispersed series' counts (binomial spread); 1 when
        the series is Poisson or overdispersed (see :attr:`dispersion`)."""
        if self._fitted is None:
            raise ForecastError("not fitted")
        return self._fitted.phi

    def coefficients(self) -> pd.Series:
        if self._fitted is None:
            raise ForecastError("not fitted")
        return pd.Series(self._fitted.beta, index=self._fitted.columns)

    # ------------------------------------------------------------------ design

    def _cells(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Hour-of-week cell (Monday 00:00 = 0) of each hour in ``config.season_tz``."""
        local = index.tz_convert(self.config.season_tz)
        return np.asarray(local.day_of_week) * 24 + np.asarray(local.hour)

    def _lags(self, index: pd.DatetimeIndex, history: pd.Series | None = None) -> np.ndarray:
        """``log1p`` of the value 1..k weeks before each hour; a missing value (before
        the window, or a gap) is replaced by that cell's mean."""
        f = self._fitted
        assert f is not None
        history = f.history if history is None else history
        weeks = self.config.lag_weeks
        out = np.zeros((len(index), weeks))
        cells = self._cells(index)
        for k in range(1, weeks + 1):
            values = history.reindex(index - HOUR * (HOURS_PER_WEEK * k)).to_numpy()
            values = np.where(np.isnan(values), f.cell_means[cells], values)
            out[:, k - 1] = np.log1p(values)
        return out

    def _design(self, index: pd.DatetimeIndex, lags: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """The design matrix for ``index`` and its column names."""
        f = self._fitted
        assert f is not None
        cfg = self.config
        n = len(index)
        cells = self._cells(index)
        dow, hod = cells // 24, cells % 24
        blocks: list[np.ndarray] = []
        names: list[str] = []
        if cfg.seasonal == "hour_of_week":
            used = np.setdiff1d(np.arange(HOURS_PER_WEEK), f.zero_cells)
            onehot = (cells[:, None] == used[None, :]).astype(float)
            blocks.append(onehot)
            names += [f"how_{c}" for c in used]
        else:
            weekend = dow >= 5
            blocks.append(np.ones((n, 1)))
            names.append("intercept")
            blocks.append((hod[:, None] == np.arange(1, 24)[None, :]).astype(float))
            names += [f"hod_{h}" for h in range(1, 24)]
            blocks.append(
                ((hod[:, None] == np.arange(24)[None, :]) & weekend[:, None]).astype(float)
            )
            names += [f"weekend_hod_{h}" for h in range(24)]
            # Saturday is absorbed by the weekend-hour terms (dow 5 is not estimable).
            days = np.array([1, 2, 3, 4, 6])
            blocks.append((dow[:, None] == days[None, :]).astype(float))
            names += [f"dow_{d}" for d in days]
        if cfg.trend:
            blocks.append(((index - f.end) / pd.Timedelta(days=30)).to_numpy(dtype=float)[:, None])
            names.append("trend")
        if cfg.lag_weeks:
            blocks.append(lags)
            names += [f"lag_week_{k}" for k in range(1, cfg.lag_weeks + 1)]
        return np.hstack(blocks), names


# ---------------------------------------------------------------------- estimation


def _fit_glm(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, family: str
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Coefficients, their covariance, the NB ``alpha`` (0: none) and the
    underdispersion factor ``phi`` (1: none; variance = phi * mu)."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning
    from threadpoolctl import threadpool_limits

    # One BLAS thread: these are small matrices, and a multi-threaded lstsq on a busy
    # 2-core laptop ran 20 times slower than a single-threaded one.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # Sparse cells converge slowly towards large negative values; the fit is still
        # usable and the covariance says how uncertain those cells are.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            poisson = sm.GLM(y, X, family=sm.families.Poisson(), var_weights=w).fit(
                maxiter=50, wls_method="qr"
            )
            method = "qr"
        except np.linalg.LinAlgError:
            # A term never seen in the window (rank deficient): least squares copes.
            poisson = sm.GLM(y, X, family=sm.families.Poisson(), var_weights=w).fit(maxiter=50)
            method = "lstsq"
        if family == "poisson":
            return poisson.params, poisson.cov_params(), 0.0, 1.0
        mu = poisson.fittedvalues
        # Dispersion from the hours that carry demand: an hour expecting 0.05 bookings
        # that gets one adds 19 to the Pearson sum, and a few of those would make the
        # busy hours' intervals far too wide. (Their own intervals are [0, 1] or so
        # whatever the dispersion.)
        # Each residual is scaled by its leverage (1 - h): with 170 terms and recency
        # weights the recent hours are partly fitted to their own noise, and a plain
        # (n - p) correction made the busy hours look twice as regular as they are.
        busy = mu >= 1.0
        if not busy.any():
            busy = np.ones(len(y), dtype=bool)
        lev = np.clip(poisson.get_hat_matrix_diag(), 0.0, 0.95)
        pearson = w * (y - mu) ** 2 / np.maximum(mu, 1e-9) / (1.0 - lev)
        phi = float(np.sum(pearson[busy]) / np.sum(w[busy]))
        if phi < 1.0 and family == "auto":
            # More regular than Poisson (weekly routines): quasi-Poisson covariance and
            # a binomial count with the same mean and variance phi * mu for intervals.
            phi = max(phi, 0.05)
            return poisson.params, poisson.cov_params() * phi, 0.0, phi
        # Cameron & Trivedi (1990): regress (y - mu)^2 - y on mu^2 through the origin.
        alpha = float(np.sum(w * ((y - mu) ** 2 - y) * mu**2) / max(np.sum(w * mu**4), 1e-12))
        if alpha < 1e-6:
            return poisson.params, poisson.cov_params(), 0.0, 1.0
        nb = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=alpha), var_weights=w).fit(
            start_params=poisson.params, maxiter=50, wls_method=method
        )
    return nb.params, nb.cov_params(), alpha, 1.0


# Beyond this standard error of a log-mean the data say next to nothing (a cell busy once
# in the window); capping it keeps the mean's log-normal correction finite.
MAX_SE_LOG = 1.5


def predictive(
    eta: np.ndarray,
    se: np.ndarray,
    alpha: float = 0.0,
    level: float = 0.95,
    nodes: int = 9,
    phi: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and central interval of a count with mean ``mu``, ``log mu ~ N(eta, se^2)``.

    The count is NB(mu, alpha) when ``alpha > 0``; else binomial with variance
    ``phi * mu`` when ``phi < 1``; else Poisson(mu). Gauss-Hermite nodes integrate the
    log-normal uncertainty of the mean; the interval's ends are the mixture's quantiles,
    found by bisection on its CDF."""
    eta = np.asarray(eta, dtype=float)
    se = np.minimum(np.asarray(se, dtype=float), MAX_SE_LOG)
    if not 0.0 < level < 1.0:
        raise ForecastError("level must be between 0 and 1")
    z, wz = np.polynomial.hermite_e.hermegauss(nodes)
    wz = wz / wz.sum()
    mus = np.exp(np.clip(eta[:, None] + se[:, None] * z[None, :], -30.0, 30.0))  # (n, k)
    mean = np.exp(np.clip(eta + se**2 / 2.0, -30.0, 30.0))
    q_lo, q_hi = (1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0
    dist = _count_dist(mus, alpha, phi)
    # lower: P(Y < lower) about q_lo; upper: P(Y > upper) about 1 - q_hi (mid-CDF).
    lower = _mixture_quantile(q_lo, dist, wz)
    upper = np.maximum(_mixture_quantile(q_hi, dist, wz, strict=True) - 1.0, lower)
    return mean, lower, upper


def _count_dist(mus: np.ndarray, alpha: float, phi: float = 1.0) -> stats.rv_discrete:
    if alpha > 0:
        r = 1.0 / alpha
        return stats.nbinom(r, r / (r + mus))
    if phi < 1.0:
        n = np.maximum(np.ceil(mus / (1.0 - phi)), 1.0)
        return stats.binom(n, np.minimum(mus / n, 1.0))
    return stats.poisson(mus)


def _mixture_quantile(
    q: float, dist: stats.rv_discrete, wz: np.ndarray, strict: bool = False
) -> np.ndarray:
    """Per row, the smallest count k whose mid-distribution function
    ``sum_j wz_j (F_j(k) - P_j(k) / 2)`` reaches ``q`` (exceeds it if ``strict``).

    The mid-distribution splits each count's probability in half: for counts of a few,
    a plain quantile jumps a whole step past the level and a "95 %" interval covers
    98 %. Bisection between -1 and two past the largest node's own quantile (where the
    mixture's mid-CDF is past ``q``): exact, and cheap however large the mean is."""
    hi = np.nan_to_num(dist.ppf(q), nan=0.0).max(axis=1) + 2.0
    lo = np.full(len(hi), -1.0)
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2.0)
        value = (dist.cdf(mid[:, None]) - dist.pmf(mid[:, None]) / 2.0) @ wz
        ok = value > q + 1e-12 if strict else value >= q - 1e-12
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return hi
