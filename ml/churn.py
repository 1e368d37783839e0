"""Churn as a survival curve: one XGBoost AFT model per population (tutors, customers).

The learner takes any frame of numeric features with a duration (days from the as-of
date to churn or to the end of what is known) and an event flag (churned, or
right-censored). It fits ``survival:aft`` through ``xgb.train`` with interval labels:

- churned: ``lower = upper = duration``;
- censored (still active when the data end): ``lower = duration``, ``upper = +inf``;

so a tutor who was still active when the data stopped counts as "survived at least this
long", never as "did not churn". Durations are floored at ``min_duration`` days (a churn
on the as-of day itself would otherwise be ln 0).

The model's margin ``m(x)`` is the predicted location of ln T, so

    P(churn within h days | x) = F((ln h - m(x) - shift) / sigma)

with ``F`` the CDF of the chosen error distribution (normal, logistic or extreme value =
Weibull). That is a curve in ``h`` that never decreases, by construction, for every row.

Validation is by time, in ``valid_folds`` blocks of the latest as-of dates (each
``valid_share`` of the range; the caller's ``valid`` instead when given). Each fold
trains on the dates before its block, censored at its cut so no outcome after it leaks
in, and is judged on its own block. The number of trees is the iteration with the least
validation loss summed over the folds (early stopping per fold), with a guard: if that
is iteration 0 (the first tree already made validation worse, e.g. when the training
window has almost no events) the model trains a fixed ``fallback_rounds`` instead and
says so in :attr:`ChurnModel.report`. Then ``sigma`` and an intercept ``shift`` are
recalibrated on the pooled out-of-fold margins: first by the AFT likelihood (censored
rows as censored, so every row counts whatever its follow-up), then by the
censoring-weighted (IPCW) Brier score summed over the horizons that validation can
judge (at least 20 churners by the horizon and 30 rows followed past it): sigma and
shift with two or more such horizons, the shift alone with one. The distribution (and
training scale) is the candidate with the best calibrated validation likelihood. The
model kept is the latest fold's (trained on all but the last block).

Why two folds of 15 % rather than one split of 20 %: with the sandbox's 180 days of
history one block is followed for four weeks at most, so the 30-day horizon (the one the
risk tiers read) never took part in calibration, and ~100 churn events decided both the
number of trees and sigma: in one demo world (with the linear start below) that chose 3
trees and sigma 1.72 where its neighbours chose 9-44 and 1.2-1.4. The older block is
followed long enough for 30 days to count, and the events double. Over 40 demo worlds
(``benchmarks/churn_worlds_bench.py``: 5 seeds x 8 install hours; no linear start),
against the sandbox's true P(churn 30 d) of every active tutor at the anchor: mean
absolute error 0.091 -> 0.085, tiers agreeing with the true tier 87.8 % -> 88.5 %, of
the tutors read Critical truly Critical 75 % -> 78 %; held-out concordance 0.812 ->
0.813; training 2.4 -> 3.5 s per demo world.

Why AFT rather than four classifiers or Cox (``python -m benchmarks.models_bench
--compare``; each learner early-stopped on the same validation part; concordance of
P(30 d), IPCW Brier at 7 / 30 / 90 days, rows whose curve goes down somewhere):

    simulated Weibull data (12,000 train, 30 % censored early; 8,000 test)
      AFT (this module)          C 0.766   Brier .0348 / .1198 / .1656   non-monotone 0 %
      Cox (survival:cox+Breslow) C 0.765   Brier .0349 / .1203 / .1641   non-monotone 0 %
      4 binary classifiers       C 0.762   Brier .0351 / .1202 / .1647   non-monotone 1.5 %
    full-scale sandbox tutors (time split; test = the last 8 weeks of as-of dates)
      AFT                        C 0.785   AUC 7 d .807  30 d .794   Brier 30 d .0443
      Cox                        C 0.784   AUC 7 d .808  30 d .793   Brier 30 d .0443
      4 binary classifiers       only the 7-day one could be validated: the latest
                                 training dates are followed for less than 30 days

AFT matches Cox on ranking and calibration, gives every horizon from one model (Cox
needs a separate baseline-hazard estimate, and its curve is only as good as that),
never crosses itself, and uses every row whatever its follow-up, where per-horizon
classifiers each lose the rows censored before their horizon and disagree with each
other on some rows.

Monotone constraints (``monotone``, e.g. :func:`monotone_from` a ``FEATURE_INFO``): with
a few hundred churn events the constraints keep each factor pointing the sensible way
and raised held-out concordance on the demo sandbox from 0.74 to 0.78.

Linear start (``linear_start``, off by default; the pipeline turns it on for customers):
before the trees, a penalised linear AFT model (XGBoost ``gblinear``, features
standardised and clipped to +-6 SD, missing = the mean, weights against a feature's
monotone direction dropped) gives every row its starting margin, and the trees boost
from there, so a row beyond the trees' last split keeps rising with the features. For
tutors it is off because over the same 40 worlds it made the model worse against the
truth (with / without, two folds: mean absolute error 0.090 / 0.085, tier agreement 87.7
% / 88.5 %, truly Critical among those read Critical 74 % / 78 %) for no gain in held-
out concordance (0.812 / 0.813); earlier runs over other worlds found it the worse the
weaker its penalty. What it did do was read the demo script's Sarah Chen, whose
engagement fall lies beyond the sandbox's 1st percentile, above her true 0.76 (median
0.91, Critical in 37 of 40 worlds); without it her median is 0.80, Critical in 29 of 40.
Models saved with a linear start still load and predict as they were trained.

Contributions (:meth:`ChurnModel.contributions`) are on the margin, ln-days: a negative
contribution means a shorter predicted survival, i.e. *more* risk. Each feature's
includes its linear-start term, so the rows still sum to the margin.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy import optimize, special

from ml import metrics

HORIZONS: tuple[int, ...] = (7, 14, 30, 90)
DISTRIBUTIONS: tuple[str, ...] = ("normal", "logistic", "extreme")
BOOSTER_FILE = "booster.ubj"
# Passes of the linear start's updater (the weights stop moving well before).
LINEAR_ROUNDS = 30
META_FILE = "churn_model.json"
# Rows above this use approximate (Saabas) contributions: exact TreeSHAP on 10k x 50 with
# hundreds of trees takes seconds, the approximation a few hundredths.
APPROX_CONTRIBS_ABOVE = 2000
# A horizon takes part in recalibration when at least this many validation rows were
# followed beyond it.
MIN_FOLLOWED_PAST = 30
# ... and when at least this many validation rows churned by it.
MIN_CASES = 20


class ChurnModelError(ValueError):
    """Bad input to the churn model (missing features, no rows, no events...)."""


def cdf(distribution: str, z: np.ndarray) -> np.ndarray:
    """CDF of the standardised AFT error term (XGBoost's parametrisation)."""
    z = np.asarray(z, dtype=float)
    if distribution == "normal":
        return special.ndtr(z)
    if distribution == "logistic":
        return special.expit(z)
    if distribution == "extreme":
        return -np.expm1(-np.exp(np.minimum(z, 50.0)))
    raise ValueError(f"unknown distribution {distribution!r}")


def _logsf_logpdf(distribution: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if distribution == "normal":
        return special.log_ndtr(-z), -0.5 * z * z - 0.5 * math.log(2 * math.pi)
    if distribution == "logistic":
        return -np.logaddexp(0.0, z), -z - 2.0 * np.logaddexp(0.0, -z)
    if distribution == "extreme":
        ez = np.exp(np.minimum(z, 50.0))
        return -ez, z - ez
    raise ValueError(f"unknown distribution {distribution!r}")


def intercept_mle(duration, event, distribution: str, scale: float) -> float:
    """Location of ln T of an intercept-only AFT model (the boosting starting point)."""
    lt = np.log(np.asarray(duration, dtype=float))
    ev = np.asarray(event, dtype=bool)

    def nll(mu: float) -> float:
        z = (lt - mu) / scale
        logsf, logpdf = _logsf_logpdf(distribution, z)
        return float(-(np.sum(logpdf[ev]) + np.sum(logsf[~ev])))

    lo, hi = float(lt.min()) - 5 * scale, float(lt.max()) + 15 * scale
    res = optimize.minimize_scalar(nll, bounds=(lo, hi), method="bounded")
    return float(res.x)


@dataclass
class ChurnFitReport:
    """What happened during :meth:`ChurnModel.fit` (shown by ``tutormax train``)."""

    distribution: str = ""
    train_scale: float = float("nan")
    sigma: float = float("nan")
    shift: float = 0.0
    rounds: int = 0
    best_iteration: int | None = None
    fell_back: bool = False
    n_train: int = 0
    n_valid: int = 0
    events_train: int = 0
    events_valid: int = 0
    folds: int = 1
    valid_brier_raw: float = float("nan")
    valid_brier_calibrated: float = float("nan")
    candidates: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class LinearStart:
    """A penalised linear AFT margin the trees are boosted from (module doc).

    ``margin(m) = bias + sum_j weight_j * z_j`` with ``z_j`` the feature standardised on
    the training rows, clipped to +-``clip`` and 0 (the mean) where missing.
    """

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: float
    clip: float

    def z(self, m: np.ndarray) -> np.ndarray:
        z = np.clip(
            (np.asarray(m, dtype=np.float64) - self.mean) / self.scale, -self.clip, self.clip
        )
        return np.where(np.isnan(z), 0.0, z)

    def terms(self, m: np.ndarray) -> np.ndarray:
        """Per-feature contributions ``weight_j * z_j`` (rows x features)."""
        return self.z(m) * self.weight

    def margin(self, m: np.ndarray) -> np.ndarray:
        return self.bias + self.terms(m).sum(axis=1)

    def as_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weight": self.weight.tolist(), "bias": self.bias, "clip": self.clip}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping) -> LinearStart:
        arr = lambda k: np.asarray(d[k], dtype=np.float64)  # noqa: E731
        return cls(arr("mean"), arr("scale"), arr("weight"), float(d["bias"]), float(d["clip"]))


def fit_linear_start(
    m: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    event: np.ndarray,
    distribution: str,
    *,
    signs: np.ndarray,
    reg_lambda: float,
    clip: float,
) -> LinearStart:
    """Fit :class:`LinearStart` by XGBoost's ``gblinear`` on the AFT likelihood.

    ``signs[j]`` is the margin direction feature ``j`` may take (-1: a higher value
    means more risk, so a lower margin; +1 the reverse; 0 either): a weight pointing
    the other way (collinear features can do that) is dropped and the rest refitted, so
    an explanation never says that more logins mean more risk.
    """
    m = np.asarray(m, dtype=np.float64)
    mean = np.nan_to_num(np.nanmean(m, axis=0)) if len(m) else np.zeros(m.shape[1])
    scale = np.nan_to_num(np.nanstd(m, axis=0)) if len(m) else np.ones(m.shape[1])
    scale[~(scale > 1e-12)] = 1.0
    z = LinearStart(mean, scale, np.zeros(m.shape[1]), 0.0, clip).z(m)
    keep = np.ones(m.shape[1], dtype=bool)
    base = math.exp(intercept_mle(lo, event, distribution, 1.0))
    # One thread keeps the shotgun updater deterministic; it is fast enough (0.4 s for
    # 85,000 rows x 80 features, where coordinate descent takes 3.5 s).
    params = {"booster": "gblinear", "objective": "survival:aft",
              "aft_loss_distribution": distribution, "aft_loss_distribution_scale": 1.0,
              "lambda": reg_lambda, "alpha": 0.0, "eta": 0.5, "updater": "shotgun",
              "feature_selector": "cyclic", "base_score": base, "nthread": 1,
              "verbosity": 0}  # fmt: skip
    weight, bias = np.zeros(m.shape[1]), math.log(base)
    for _ in range(4):
        d = _interval_dmatrix(np.where(keep, z, 0.0), lo, hi)
        booster = xgb.train(params, d, num_boost_round=LINEAR_ROUNDS)
        dump = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]
        raw = np.asarray(dump["weights"], dtype=np.float64)
        weight, bias = raw[:-1] * keep, float(raw[-1]) + math.log(base)
        wrong = keep & (signs * weight < 0)
        if not wrong.any():
            break
        keep &= ~wrong
    else:
        weight = np.where(signs * weight < 0, 0.0, weight)
    return LinearStart(mean, scale, weight, bias, clip)


@dataclass
class _Fold:
    """One time split as XGBoost matrices: training rows with their interval labels and
    the later rows that judge them."""

    mt: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    et: np.ndarray
    dtrain: xgb.DMatrix
    mv: np.ndarray
    dv: np.ndarray
    ev: np.ndarray
    dvalid: xgb.DMatrix

    @classmethod
    def build(cls, train, valid, features: list[str], min_duration: float) -> _Fold:
        (Xt, dt, et), (Xv, dv, ev) = train, valid
        mt, mv = _as_matrix(Xt, features), _as_matrix(Xv, features)
        lo, hi = _bounds(dt, et, min_duration)
        dtrain = _interval_dmatrix(mt, lo, hi, features)
        dvalid = _interval_dmatrix(mv, *_bounds(dv, ev, min_duration), features)
        return cls(mt, lo, hi, np.asarray(et, bool), dtrain, mv, dv, np.asarray(ev, bool), dvalid)

    def start(self, lin: LinearStart | None) -> LinearStart | None:
        _set_start(self.dtrain, lin, self.mt)
        _set_start(self.dvalid, lin, self.mv)
        return lin


def _interval_dmatrix(
    m: np.ndarray, lo: np.ndarray, hi: np.ndarray, features: list[str] | None = None
) -> xgb.DMatrix:
    """Features with AFT interval labels (see :func:`_bounds`)."""
    d = xgb.DMatrix(m, feature_names=features)
    d.set_float_info("label_lower_bound", lo)
    d.set_float_info("label_upper_bound", hi)
    return d


def _set_start(d: xgb.DMatrix, lin: LinearStart | None, m: np.ndarray) -> None:
    """Boost from the linear start: its margin is each row's starting point."""
    if lin is not None:
        d.set_base_margin(lin.margin(m))


def _as_matrix(X: pd.DataFrame, features: Sequence[str] | None = None) -> np.ndarray:
    if not isinstance(X, pd.DataFrame):
        raise ChurnModelError("X must be a DataFrame of numeric features")
    if features is not None:
        missing = [c for c in features if c not in X.columns]
        if missing:
            raise ChurnModelError(f"features missing from X: {missing[:10]}")
        X = X[list(features)]
    bad = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or
                                         pd.api.types.is_bool_dtype(X[c]))]  # fmt: skip
    if bad:
        raise ChurnModelError(f"non-numeric feature columns: {bad[:10]}")
    return X.to_numpy(dtype=np.float32, na_value=np.nan)


def _bounds(duration: np.ndarray, event: np.ndarray, floor: float):
    d = np.maximum(np.asarray(duration, dtype=float), floor)
    ev = np.asarray(event, dtype=bool)
    lower = d
    upper = np.where(ev, d, np.inf)
    return lower, upper


class ChurnModel:
    """P(churn within each horizon) as one monotone curve per row; see the module doc."""

    KIND = "churn_aft"

    def __init__(
        self,
        *,
        horizons: Sequence[int] = HORIZONS,
        distributions: Sequence[str] = DISTRIBUTIONS,
        scales: Sequence[float] = (1.0,),
        max_rounds: int = 500,
        early_stopping_rounds: int = 30,
        fallback_rounds: int = 60,
        learning_rate: float = 0.1,
        max_depth: int = 3,
        min_child_weight: float = 5.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 2.0,
        valid_share: float = 0.15,
        valid_folds: int = 2,
        min_duration: float = 0.5,
        min_valid_events: int = 5,
        monotone: Mapping[str, int] | None = None,
        refit_on_all: bool = False,
        linear_start: bool = False,
        linear_lambda: float = 0.1,
        linear_clip: float = 6.0,
        max_bin: int = 128,
        nthread: int | None = None,
        seed: int = 0,
    ) -> None:
        for d in distributions:
            if d not in DISTRIBUTIONS:
                raise ValueError(f"unknown distribution {d!r}")
        self.horizons = tuple(int(h) for h in horizons)
        self.distributions = tuple(distributions)
        self.scales = tuple(float(s) for s in scales)
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.fallback_rounds = fallback_rounds
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.valid_share = valid_share
        self.valid_folds = valid_folds
        self.min_duration = min_duration
        self.min_valid_events = min_valid_events
        self.monotone = dict(monotone or {})
        self.refit_on_all = refit_on_all
        self.linear_start = linear_start
        self.linear_lambda = linear_lambda
        self.linear_clip = linear_clip
        self.linear: LinearStart | None = None
        self.max_bin = max_bin
        self.nthread = nthread
        self.seed = seed
        # fitted state
        self.booster: xgb.Booster | None = None
        self.features: list[str] = []
        self.distribution = ""
        self.train_scale = float("nan")
        self.sigma = float("nan")
        self.shift = 0.0
        self.report = ChurnFitReport()

    # ------------------------------------------------------------------ fitting

    def _params(self, distribution: str, scale: float, base_score: float) -> dict:
        p = {
            "objective": "survival:aft",
            "eval_metric": "aft-nloglik",
            "aft_loss_distribution": distribution,
            "aft_loss_distribution_scale": scale,
            "tree_method": "hist",
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "max_bin": self.max_bin,
            # AFT does not estimate its starting point: without this it starts at
            # ln(0.5) days and spends its first hundred trees walking to ln(years).
            "base_score": base_score,
            "seed": self.seed,
            "verbosity": 0,
        }
        if self.nthread:
            p["nthread"] = self.nthread
        if self.monotone:
            # +1 = a higher value means more risk = a shorter time = a lower margin.
            cons = [-int(np.sign(self.monotone.get(f, 0))) for f in self.features]
            if any(cons):
                p["monotone_constraints"] = "(" + ",".join(str(c) for c in cons) + ")"
        return p

    def _split(self, X, duration, event, as_of):
        """Time splits, oldest first: ``((X, d, e) train, (X, d, e) valid)`` per fold.

        Fold ``j`` (1 = the latest) validates on the as-of dates in
        ``[1 - j * valid_share, 1 - (j - 1) * valid_share)`` of the date range and
        trains on the dates before, censored at the cut so nothing after it is known to
        them. Without ``as_of``, one split in row order."""
        n = len(X)
        duration = np.asarray(duration, dtype=float)
        event = np.asarray(event, dtype=bool)
        if as_of is None:
            is_valid = np.zeros(n, dtype=bool)
            is_valid[round(n * (1 - self.valid_share)) :] = True
            return [self._censored_split(X, duration, event, ~is_valid, is_valid, np.inf)]
        a = pd.to_datetime(pd.Series(np.asarray(as_of)), utc=True)
        days = (a - a.min()).dt.total_seconds().to_numpy() / 86400.0
        uniq = np.unique(days)
        if len(uniq) < 2:
            raise ChurnModelError("need at least two as-of dates for a time split")
        splits, end = [], np.inf
        for j in range(1, max(1, self.valid_folds) + 1):
            at = min(len(uniq) - 1, max(1, round(len(uniq) * (1 - self.valid_share * j))))
            cut = uniq[at]
            if cut >= end:
                break
            train, valid = days < cut, (days >= cut) & (days < end)
            splits.append(self._censored_split(X, duration, event, train, valid, cut - days))
            end = cut
        return splits[::-1]

    @staticmethod
    def _censored_split(X, duration, event, train, valid, room):
        """Training rows censored ``room`` days after their as-of date; valid rows as
        they are (their follow-up is what judges the model)."""
        room = np.broadcast_to(room, duration.shape)[train]
        d_tr, e_tr = duration[train], event[train]
        e_tr = e_tr & (d_tr <= room)
        d_tr = np.minimum(d_tr, room)
        keep = d_tr > 0
        return (X[train][keep], d_tr[keep], e_tr[keep]), (X[valid], duration[valid], event[valid])

    def fit(
        self,
        X: pd.DataFrame,
        duration,
        event,
        *,
        valid: tuple[pd.DataFrame, object, object] | None = None,
        as_of=None,
    ) -> ChurnModel:
        """Fit on ``X`` with ``duration`` (days) and ``event`` (1 churned, 0 censored).

        ``valid=(X, duration, event)`` is the held-out split by time (later as-of
        dates); without it the latest as-of dates are split off in ``valid_folds``
        blocks of ``valid_share`` (rows taken in order when ``as_of`` is None).
        """
        if len(X) == 0:
            raise ChurnModelError("no training rows")
        duration = np.asarray(duration, dtype=float)
        event = np.asarray(event, dtype=bool)
        if len(duration) != len(X) or len(event) != len(X):
            raise ChurnModelError("X, duration and event differ in length")
        if np.any(~np.isfinite(duration)) or np.any(duration < 0):
            raise ChurnModelError("durations must be finite and non-negative")
        self.features = [str(c) for c in X.columns]
        if valid is None:
            splits = self._split(X, duration, event, as_of)
        else:
            v = (valid[0], np.asarray(valid[1], float), np.asarray(valid[2], bool))
            splits = [((X, duration, event), v)]
        # an early fold without a churn in its training rows has nothing to teach
        splits = [s for s in splits[:-1] if s[0][2].any()] + splits[-1:]
        folds = [_Fold.build(tr, va, self.features, self.min_duration) for tr, va in splits]
        last = folds[-1]
        dv = np.concatenate([f.dv for f in folds])
        ev = np.concatenate([f.ev for f in folds])
        rep = ChurnFitReport(n_train=len(last.et), n_valid=len(dv),
                             events_train=int(last.et.sum()), events_valid=int(ev.sum()),
                             folds=len(folds))  # fmt: skip
        if last.et.sum() == 0:
            raise ChurnModelError("no churn events in the training window: nothing to learn")
        use_valid = len(dv) > 0 and ev.sum() >= self.min_valid_events
        status: list[tuple[int, np.ndarray, np.ndarray]] = []
        if use_valid:
            # A horizon takes part in the Brier recalibration only with enough churners by
            # it and enough rows followed past it: beyond the validation follow-up IPCW
            # would only see the churners, and with a handful of cases it would chase noise.
            for h in self.horizons:
                y, w = metrics.ipcw_weights(dv, ev, h)
                if np.sum(dv > h) >= MIN_FOLLOWED_PAST and y.sum() >= MIN_CASES:
                    status.append((h, y, w))
        else:
            folds = [last]
            rep.notes.append(
                f"validation split has {int(ev.sum())} churn events (< {self.min_valid_events}):"
                f" no early stopping or recalibration; fixed {self.fallback_rounds} rounds"
            )
        best = None
        for dist in self.distributions if use_valid else self.distributions[:1]:
            lins = [f.start(self._fit_linear(f.mt, f.lo, f.hi, f.et, dist)) for f in folds]
            for scale in self.scales if use_valid else self.scales[:1]:
                params = [
                    self._params(dist, scale, math.exp(intercept_mle(f.lo, f.et, dist, scale)))
                    for f in folds
                ]
                fell_back = False
                best_it: int | None = None
                if use_valid:
                    boosters, best_it = self._boost_folds(folds, params)
                    if best_it == 0:
                        fell_back = True
                        boosters = [xgb.train(p, f.dtrain, num_boost_round=self.fallback_rounds)
                                    for f, p in zip(folds, params, strict=True)]  # fmt: skip
                        rounds = self.fallback_rounds
                    else:
                        boosters = [b[: best_it + 1] for b in boosters]
                        rounds = best_it + 1
                else:
                    n = self.fallback_rounds
                    boosters = [xgb.train(params[-1], last.dtrain, num_boost_round=n)]
                    rounds = self.fallback_rounds
                cand = {"distribution": dist, "train_scale": scale, "rounds": rounds,
                        "best_iteration": best_it, "fell_back": fell_back,
                        "base_score": params[-1]["base_score"]}  # fmt: skip
                sigma, shift, score = scale, 0.0, 0.0
                if use_valid:
                    # every fold's own booster on its own later rows: out-of-sample margins
                    pairs = zip(boosters, folds, strict=True)
                    margin_v = np.concatenate(
                        [b.predict(f.dvalid, output_margin=True) for b, f in pairs]
                    ).astype(float)
                    sigma, shift, nll, how = self._calibrate(margin_v, dv, ev, dist, scale, status)
                    cand.update(valid_nloglik=nll, calibration=how)
                    if status:
                        k = len(status)
                        cand["valid_brier_raw"] = (
                            self._brier_sum(margin_v, dist, scale, 0.0, status) / k
                        )
                        cand["valid_brier_calibrated"] = (
                            self._brier_sum(margin_v, dist, sigma, shift, status) / k
                        )
                    score = nll
                cand.update(sigma=sigma, shift=shift)
                rep.candidates.append(cand)
                if best is None or score < best[0]:
                    best = (score, boosters[-1], cand, lins[-1])
        assert best is not None
        _, self.booster, cand, self.linear = best
        self.distribution = cand["distribution"]
        self.train_scale = cand["train_scale"]
        self.sigma, self.shift = float(cand["sigma"]), float(cand["shift"])
        rep.distribution, rep.train_scale = self.distribution, self.train_scale
        rep.sigma, rep.shift = self.sigma, self.shift
        rep.rounds, rep.best_iteration, rep.fell_back = (
            cand["rounds"], cand["best_iteration"], cand["fell_back"]
        )  # fmt: skip
        rep.valid_brier_raw = cand.get("valid_brier_raw", float("nan"))
        rep.valid_brier_calibrated = cand.get("valid_brier_calibrated", float("nan"))
        if use_valid:
            used = ", ".join(f"{h} d" for h, *_ in status) or "none"
            rep.notes.append(f"calibration: {cand['calibration']} (Brier horizons: {used})")
        if rep.fell_back:
            rep.notes.append(
                "early stopping picked iteration 0 (the first tree made validation worse);"
                f" trained a fixed {self.fallback_rounds} rounds instead"
            )
        if self.refit_on_all and valid is None and use_valid:
            # Same settings and rounds on every row, uncensored by the split: the latest
            # weeks are the most informative about who leaves next.
            lo_a, hi_a = _bounds(duration, event, self.min_duration)
            m_all = _as_matrix(X, self.features)
            dall = _interval_dmatrix(m_all, lo_a, hi_a, self.features)
            self.linear = self._fit_linear(m_all, lo_a, hi_a, event, self.distribution)
            _set_start(dall, self.linear, m_all)
            base = math.exp(intercept_mle(lo_a, event, self.distribution, self.train_scale))
            params = self._params(self.distribution, self.train_scale, base)
            self.booster = xgb.train(params, dall, num_boost_round=rep.rounds)
            rep.notes.append(f"refitted on all {len(X)} rows with {rep.rounds} rounds")
        self.report = rep
        return self

    def _boost_folds(self, folds, params) -> tuple[list[xgb.Booster], int]:
        """Boost every fold, each judged on its own later rows; the best iteration is
        the one with the least validation loss summed over the folds."""
        boosters, losses = [], []
        for f, p in zip(folds, params, strict=True):
            res: dict = {}
            boosters.append(xgb.train(p, f.dtrain, num_boost_round=self.max_rounds,
                                      evals=[(f.dvalid, "valid")], evals_result=res,
                                      early_stopping_rounds=self.early_stopping_rounds,
                                      verbose_eval=False))  # fmt: skip
            # aft-nloglik is a mean per row: back to a sum, so a fold weighs by its rows
            losses.append(np.asarray(res["valid"]["aft-nloglik"], dtype=float) * len(f.dv))
        # each fold ran early_stopping_rounds past its own best, so the shortest run
        # still covers every fold's best
        n = min(len(c) for c in losses)
        return boosters, int(np.argmin(np.sum([c[:n] for c in losses], axis=0)))

    def _fit_linear(self, m, lo, hi, event, dist) -> LinearStart | None:
        if not self.linear_start:
            return None
        # monotone +1 (more risk) means a shorter time: a margin weight at most 0
        signs = -np.sign([self.monotone.get(f, 0) for f in self.features]).astype(float)
        return fit_linear_start(
            m, lo, hi, np.asarray(event, bool), dist, signs=signs,
            reg_lambda=self.linear_lambda, clip=self.linear_clip,
        )  # fmt: skip

    def _brier_sum(self, margin, dist, sigma, shift, status) -> float:
        total = 0.0
        for h, y, w in status:
            p = cdf(dist, (math.log(h) - margin - shift) / sigma)
            total += float(np.sum(w * (p - y) ** 2) / len(y))
        return total

    def _calibrate(self, margin, dv, ev, dist, scale, status):
        """(sigma, shift, validation nloglik, how) for one candidate.

        First the AFT likelihood of the validation rows (censored rows as censored, any
        follow-up) gives sigma and shift; then, where the horizons allow it, the summed
        IPCW Brier refines them: both with two or more usable horizons (sigma kept
        within half and double the likelihood's), the shift alone with one.
        """
        lt = np.log(np.maximum(dv, self.min_duration))

        def nll(theta):
            sig = math.exp(theta[0])
            z = (lt - margin - theta[1]) / sig
            logsf, logpdf = _logsf_logpdf(dist, z)
            return float(-(np.sum(logpdf[ev] - math.log(sig)) + np.sum(logsf[~ev])) / len(z))

        start = np.array([math.log(scale), 0.0])
        res = optimize.minimize(nll, start, method="Nelder-Mead",
                                options={"xatol": 1e-4, "fatol": 1e-8})  # fmt: skip
        theta = res.x if np.isfinite(res.fun) and res.fun <= nll(start) else start
        lik_sigma, lik_shift = math.exp(theta[0]), float(theta[1])
        best_nll = nll(theta)
        if len(status) >= 2:
            lo_s, hi_s = math.log(lik_sigma / 2), math.log(lik_sigma * 2)

            def loss2(t):
                return self._brier_sum(margin, dist, math.exp(np.clip(t[0], lo_s, hi_s)),
                                       t[1], status)  # fmt: skip

            r2 = optimize.minimize(loss2, theta, method="Nelder-Mead",
                                   options={"xatol": 1e-4, "fatol": 1e-9})  # fmt: skip
            if np.isfinite(r2.fun) and r2.fun <= loss2(theta):
                sig = math.exp(float(np.clip(r2.x[0], lo_s, hi_s)))
                return sig, float(r2.x[1]), best_nll, "likelihood, then Brier (sigma and shift)"
        elif len(status) == 1:

            def loss1(b):
                return self._brier_sum(margin, dist, lik_sigma, float(b), status)

            r1 = optimize.minimize_scalar(loss1, bounds=(lik_shift - 2, lik_shift + 2),
                                          method="bounded")  # fmt: skip
            if np.isfinite(r1.fun) and r1.fun <= loss1(lik_shift):
                return lik_sigma, float(r1.x), best_nll, "likelihood, then Brier (shift)"
        return lik_sigma, lik_shift, best_nll, "likelihood"

    # ------------------------------------------------------------------ predicting

    def _check_fitted(self) -> xgb.Booster:
        if self.booster is None:
            raise ChurnModelError("the churn model is not fitted")
        return self.booster

    def _dmatrix(self, X: pd.DataFrame, m: np.ndarray | None = None) -> xgb.DMatrix:
        """``m``: the feature matrix of ``X`` when the caller has it already."""
        m = _as_matrix(X, self.features) if m is None else m
        d = xgb.DMatrix(m, feature_names=self.features)
        _set_start(d, self.linear, m)
        return d

    def predict_margin(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted location of ln(days to churn) per row (before the shift)."""
        booster = self._check_fitted()
        if len(X) == 0:
            return np.zeros(0)
        return booster.predict(self._dmatrix(X), output_margin=True).astype(float)

    def curve_from_margin(self, margin: np.ndarray, horizons: Sequence[float] | None = None):
        hs = np.asarray(self.horizons if horizons is None else horizons, dtype=float)
        z = (np.log(hs)[None, :] - margin[:, None] - self.shift) / self.sigma
        return np.clip(cdf(self.distribution, z), 0.0, 1.0)

    def predict_curve(self, X: pd.DataFrame, horizons: Sequence[int] | None = None) -> pd.DataFrame:
        """P(churn within h days) per row, columns ``p7, p14, p30, p90`` (or ``horizons``);
        non-decreasing along each row."""
        hs = tuple(self.horizons if horizons is None else horizons)
        p = self.curve_from_margin(self.predict_margin(X), hs)
        return pd.DataFrame(p, index=X.index, columns=[f"p{h}" for h in hs])

    def contributions(self, X: pd.DataFrame, *, approx: bool | None = None) -> pd.DataFrame:
        """Per-row contributions to the margin (ln-days), one column per feature plus
        ``bias``; rows sum to :meth:`predict_margin`. Negative = shorter survival = more
        risk. Approximate (Saabas) above ``APPROX_CONTRIBS_ABOVE`` rows unless told."""
        booster = self._check_fitted()
        cols = [*self.features, "bias"]
        if len(X) == 0:
            return pd.DataFrame(np.zeros((0, len(cols))), columns=cols, index=X.index)
        if approx is None:
            approx = len(X) > APPROX_CONTRIBS_ABOVE
        m = _as_matrix(X, self.features)
        c = booster.predict(self._dmatrix(X, m), pred_contribs=True, approx_contribs=approx)
        c = c.astype(float)
        if self.linear is not None:
            # XGBoost books the starting margin under bias; give each feature its share.
            terms = self.linear.terms(m)
            c[:, :-1] += terms
            c[:, -1] -= terms.sum(axis=1)
        return pd.DataFrame(c, index=X.index, columns=cols)

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, X: pd.DataFrame, duration, event, threshold: float = 0.5) -> dict:
        """Held-out figures: concordance, and per horizon AUC, IPCW Brier, the share who
        churned, recall/precision at ``threshold`` and the threshold for recall 0.80."""
        margin = self.predict_margin(X)
        curve = self.curve_from_margin(margin)
        d, e = np.asarray(duration, float), np.asarray(event, bool)
        out: dict = {"n": len(X), "events": int(e.sum()),
                     "concordance": metrics.concordance_index(d, e, -margin)}  # fmt: skip
        for k, h in enumerate(self.horizons):
            y, known = metrics.horizon_status(d, e, h)
            p = curve[:, k]
            out[f"auc_{h}d"] = metrics.horizon_auc(d, e, p, h)
            out[f"brier_{h}d"] = metrics.horizon_brier(d, e, p, h)
            out[f"known_{h}d"] = int(known.sum())
            out[f"churned_{h}d"] = int(y[known].sum())
            out[f"mean_p_{h}d"] = float(p.mean()) if len(p) else float("nan")
            at = metrics.precision_recall_at(y[known], p[known], threshold)
            out[f"precision_{h}d"], out[f"recall_{h}d"] = at["precision"], at["recall"]
            r80 = metrics.threshold_for_recall(y[known], p[known], 0.80)
            out[f"threshold_r80_{h}d"] = r80["threshold"]
            out[f"precision_r80_{h}d"] = r80["precision"]
        return out

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> list[str]:
        """Write the booster (XGBoost UBJSON) and a small JSON; returns the file names."""
        booster = self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(directory / BOOSTER_FILE))
        meta = {
            "kind": self.KIND,
            "features": self.features,
            "horizons": list(self.horizons),
            "distribution": self.distribution,
            "train_scale": self.train_scale,
            "sigma": self.sigma,
            "shift": self.shift,
            "min_duration": self.min_duration,
            "monotone": self.monotone,
            "linear_start": None if self.linear is None else self.linear.as_dict(),
            "report": asdict(self.report),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=1, default=_json_default))
        return [BOOSTER_FILE, META_FILE]

    @classmethod
    def load(cls, directory: str | Path) -> ChurnModel:
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text())
        if meta.get("kind") != cls.KIND:
            raise ChurnModelError(f"{directory}: not a churn model ({meta.get('kind')!r})")
        model = cls(horizons=meta["horizons"], min_duration=meta.get("min_duration", 0.5))
        booster = xgb.Booster()
        booster.load_model(str(directory / BOOSTER_FILE))
        if booster.num_features() != len(meta["features"]):
            raise ChurnModelError(f"{directory}: booster and feature list disagree")
        model.booster = booster
        model.features = list(meta["features"])
        model.distribution = meta["distribution"]
        model.train_scale = float(meta["train_scale"])
        model.sigma = float(meta["sigma"])
        model.shift = float(meta["shift"])
        # Models saved before the linear start have none: their trees start from base_score.
        lin = meta.get("linear_start")
        model.linear = LinearStart.from_dict(lin) if lin else None
        if model.linear is not None and len(model.linear.weight) != len(model.features):
            raise ChurnModelError(f"{directory}: linear start and feature list disagree")
        rep = meta.get("report") or {}
        model.report = ChurnFitReport(
            **{k: v for k, v in rep.items() if k in ChurnFitReport.__dataclass_fields__}
        )
        return model


def monotone_from(info: Mapping[str, object]) -> dict[str, int]:
    """``{feature: direction}`` from a ``FEATURE_INFO`` (+1: a higher value means more
    risk), for :class:`ChurnModel`'s ``monotone``. With a few hundred churn events the
    constraints are what keeps a tree model's factors pointing the sensible way (and
    they raised held-out concordance from 0.74 to 0.78 on the demo sandbox)."""
    return {name: int(getattr(i, "direction", 0) or 0) for name, i in info.items()}


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
