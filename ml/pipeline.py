"""The whole modelling pipeline on :class:`~ml.frames.MarketFrames`.

:func:`train_all` fits every model with its held-out figures (what ``tutormax train``
runs; ``services.training`` adds the database and the registry), :func:`score_all`
scores everything at ``frames.observed_until`` (``tutormax score``):

- tutor churn: weekly as-of dates; a time-based hold-out (the last 8 weeks of as-of
  dates; training labels censored at the cut) gives the held-out figures, then the
  final model is fitted on every date;
- customer churn: the same with as-of dates every 14 days, the trees boosting from a
  linear start (see ``ml.churn``);
- first sessions: past rated first sessions, hold-out = the latest 20 % by start time;
- sessions next week: a median regression on tutor rows at past as-of dates with a full
  week after them, hold-out = the latest of those dates.

:func:`score_all` scores every active tutor and customer and the week's upcoming first
sessions, features included: curves, tiers, the top three factors in words,
performance, health, burnout, no-show risk, sessions next week, customer health.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ml import metrics
from ml.churn import ChurnModel, monotone_from
from ml.datasets import as_of_dates, customer_training_set, tutor_training_set
from ml.explain import top_factors
from ml.features import customer as customer_features
from ml.features import first_session as fs_features
from ml.features import tutor as tutor_features
from ml.first_session import FirstSessionModel, first_session_design
from ml.frames import MarketFrames
from ml.noshow import tutor_noshow_risk
from ml.scores import (
    SessionsForecast,
    customer_health,
    risk_tier,
    sessions_in_window,
    tutor_health,
    tutor_performance,
)

HOLDOUT_DAYS = 56
OPERATING_THRESHOLD = 0.50  # P(churn 30 d) at High risk and above
DAY = pd.Timedelta(days=1)
# Customer training rows (50,000 customers x 10 as-of dates at full scale) are sampled by
# customer down to about this many: 500k rows train in 80 s, 150k in about 15.
CUSTOMER_MAX_ROWS = 150_000
# Figures kept with each prediction for lists and profiles (the rest of the features are
# recomputed on demand: keeping all of them per run would grow the database by MBs a day).
TUTOR_HEADLINES = (
    "sessions_30d", "sessions_prev_30d", "sessions_change_30d", "rating_avg_30d",
    "rating_avg_prev_30d", "first_session_success_rate", "first_sessions_rated",
    "tutor_reschedules_7d", "engagement_score_14d", "engagement_score_prev_14d",
    "days_since_last_session", "tenure_days", "utilization_14d", "hours_offered_next_14d",
    "rating_avg_all", "ratings_30d", "tutor_reschedule_rate_90d", "no_show_rate_90d",
)  # fmt: skip
# The weighted parts of the performance score, kept with the headlines so a profile and
# the tutor's report show exactly the points that made the tier.
PERFORMANCE_PARTS = ("perf_rating", "perf_first_session", "perf_reliability", "perf_engagement")
CUSTOMER_HEADLINES = (
    "sessions_30d", "sessions_prev_30d", "velocity_change_30d", "calls_14d",
    "days_since_last_session", "first_session_rating", "tutor_consistency_90d",
    "tenure_days",
)  # fmt: skip


def split_dates(dates: list[pd.Timestamp], holdout_days: int = HOLDOUT_DAYS):
    if len(dates) < 4:
        raise ValueError(f"too little history for a time-based hold-out ({len(dates)} dates)")
    cut = dates[-1] - pd.Timedelta(days=holdout_days)
    train = [d for d in dates if d < cut]
    if len(train) < 2:
        train, cut = dates[: len(dates) // 2], dates[len(dates) // 2]
    return train, [d for d in dates if d >= cut], cut


def _as_of(X: pd.DataFrame):
    return X.index.get_level_values("as_of")


def _sample_entities(parts, max_rows: int | None, seed: int = 0):
    """All rows of a random share of the entities, so that about ``max_rows`` remain
    (an entity-level sample keeps durations, censoring and the event rate unbiased)."""
    X, d, e = parts
    if max_rows is None or len(X) <= max_rows:
        return parts
    ids = X.index.get_level_values(1).to_numpy()
    uniq = np.unique(ids)
    rng = np.random.default_rng(seed)
    keep_ids = rng.choice(uniq, size=max(1, round(len(uniq) * max_rows / len(X))), replace=False)
    keep = np.isin(ids, keep_ids)
    return X[keep], d[keep], e[keep]


def _churn(frames, builder, dates, make_set, info, nthread, max_rows=None, linear_start=False):
    train_dates, test_dates, cut = split_dates(dates)
    tr = _sample_entities(make_set(frames, train_dates, censor_at=cut, builder=builder), max_rows)
    te = make_set(frames, test_dates, builder=builder)
    kw = {"monotone": monotone_from(info), "nthread": nthread, "linear_start": linear_start}
    holdout = ChurnModel(**kw).fit(*tr, as_of=_as_of(tr[0]))
    figures = holdout.evaluate(*te, threshold=OPERATING_THRESHOLD)
    figures.update(
        train_rows=len(tr[0]),
        train_events=int(tr[2].sum()),
        cut=str(cut.date()),
        distribution=holdout.distribution,
        rounds=holdout.report.rounds,
        notes=holdout.report.notes,
    )
    full = _sample_entities(make_set(frames, dates, builder=builder), max_rows)
    # the distribution was chosen on the hold-out run; the final fit only re-tunes rounds
    # and calibration on its own latest dates
    final = ChurnModel(distributions=(holdout.distribution,), **kw)
    final.fit(*full, as_of=_as_of(full[0]))
    figures["final_rows"], figures["final_events"] = len(full[0]), int(full[2].sum())
    figures["final_notes"] = final.report.notes
    return final, figures


def _sessions_forecast(frames, builder, dates):
    end = frames.observed_until - 7 * DAY
    usable = [d for d in dates if d <= end]
    if len(usable) < 3:
        raise ValueError("too little history for the sessions forecast")
    parts = []
    for d in usable:
        X = builder.at(d)
        y = sessions_in_window(frames.sessions, X.index, d, d + 7 * DAY)
        parts.append((d, X, y.to_numpy()))
    test_from = usable[-2]
    tr = [(X, y) for d, X, y in parts if d < test_from]
    te = [(X, y) for d, X, y in parts if d >= test_from]
    Xtr = pd.concat([x for x, _ in tr])
    ytr = np.concatenate([y for _, y in tr])
    Xte = pd.concat([x for x, _ in te])
    yte = np.concatenate([y for _, y in te])
    holdout = SessionsForecast().fit(Xtr, ytr)
    figures = holdout.evaluate(Xte, yte)
    final = SessionsForecast().fit(pd.concat([Xtr, Xte]), np.concatenate([ytr, yte]))
    final.report = figures
    return final, figures


def _first_session(frames, builder):
    rows = fs_features.first_session_rows(frames, builder=builder).sort_values("start_time")
    rows = rows[rows["poor"].notna()]
    if len(rows) < 50:
        raise ValueError("too few rated first sessions to train on")
    cut = rows["start_time"].quantile(0.8)
    tr, te = rows[rows["start_time"] < cut], rows[rows["start_time"] >= cut]
    holdout = FirstSessionModel().fit(
        first_session_design(tr), tr["poor"].to_numpy(), order=tr["start_time"].to_numpy()
    )
    figures = holdout.evaluate(first_session_design(te), te["poor"].to_numpy())
    figures["recalibrated"] = holdout.report.recalibrated
    figures["reliability"] = (
        metrics.reliability_table(
            te["poor"].to_numpy(), holdout.predict_proba(first_session_design(te))
        )
        .round(4)
        .to_dict("records")
    )
    final = FirstSessionModel().fit(
        first_session_design(rows), rows["poor"].to_numpy(), order=rows["start_time"].to_numpy()
    )
    return final, figures


def train_all(frames: MarketFrames, *, nthread: int | None = None, progress=None) -> tuple:
    """Every model, fitted on ``frames``, with its held-out figures: ``(models, figures,
    seconds per model)``."""
    say = progress or (lambda _msg: None)
    models, figures, seconds = {}, {}, {}
    t0 = time.perf_counter()
    tb = tutor_features.TutorFeatureBuilder(frames)
    tutor_dates = as_of_dates(frames)
    say("tutor churn")
    models["tutor_churn"], figures["tutor_churn"] = _churn(
        frames, tb, tutor_dates, tutor_training_set, tutor_features.FEATURE_INFO, nthread
    )
    seconds["tutor_churn"] = time.perf_counter() - t0
    t = time.perf_counter()
    say("customer churn")
    cb = customer_features.CustomerFeatureBuilder(frames)
    models["customer_churn"], figures["customer_churn"] = _churn(
        frames,
        cb,
        as_of_dates(frames, every_days=14),
        customer_training_set,
        customer_features.FEATURE_INFO,
        nthread,
        max_rows=CUSTOMER_MAX_ROWS,
        # For customers the linear start helps: held-out concordance on three demo
        # worlds 0.798 / 0.778 / 0.801 without it, 0.809 / 0.782 / 0.820 with it. For
        # tutors it made the model worse (ml/churn.py).
        linear_start=True,
    )
    seconds["customer_churn"] = time.perf_counter() - t
    t = time.perf_counter()
    say("first sessions")
    models["first_session"], figures["first_session"] = _first_session(frames, tb)
    seconds["first_session"] = time.perf_counter() - t
    t = time.perf_counter()
    say("sessions next week")
    models["sessions_forecast"], figures["sessions_forecast"] = _sessions_forecast(
        frames, tb, tutor_dates[-6:]
    )
    seconds["sessions_forecast"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    return models, figures, seconds


def score_all(frames: MarketFrames, models: dict, *, days: int = 7) -> dict[str, pd.DataFrame]:
    """Everything the app shows, at ``frames.observed_until`` (module doc)."""
    now = frames.observed_until
    out: dict[str, pd.DataFrame] = {}
    tb = tutor_features.TutorFeatureBuilder(frames)
    X = tb.at(now)
    churn = models["tutor_churn"]
    curve = churn.predict_curve(X[churn.features])
    tutors = curve.copy()
    tutors["risk_tier"] = risk_tier(curve["p30"])
    factors = top_factors(
        churn.contributions(X[churn.features], approx=True),
        X,
        tutor_features.FEATURE_INFO,
        k=3,
        risk_sign=-1,
    )
    tutors = tutors.join(tutor_performance(X)).join(
        tutor_health(X, curve["p30"]).drop(columns=["no_ratings"])
    )
    tutors["sessions_next_week"] = models["sessions_forecast"].predict(X)
    tutors = tutors.join(tutor_noshow_risk(X, curve["p30"]).drop(columns=["no_churn_prediction"]))
    out["tutors"], out["tutor_factors"] = tutors, factors
    out["tutor_metrics"] = X.reindex(columns=list(TUTOR_HEADLINES)).join(
        tutors.reindex(columns=list(PERFORMANCE_PARTS))
    )

    cb = customer_features.CustomerFeatureBuilder(frames)
    C = cb.at(now)
    cm = models["customer_churn"]
    ccurve = cm.predict_curve(C[cm.features])
    customers = ccurve.join(customer_health(C))
    customers["risk_tier"] = risk_tier(ccurve["p30"])
    out["customers"] = customers
    out["customer_metrics"] = C.reindex(columns=list(CUSTOMER_HEADLINES))
    out["customer_factors"] = top_factors(
        cm.contributions(C[cm.features], approx=True),
        C,
        customer_features.FEATURE_INFO,
        k=3,
        risk_sign=-1,
    )

    rows = fs_features.first_session_rows(frames, as_of=now, until=now + days * DAY, builder=tb)
    fm = models["first_session"]
    design = first_session_design(rows)
    sessions = rows[["tutor_id", "customer_id", "start_time", "subject"]].copy()
    sessions["p_poor"] = fm.predict_proba(design)
    sessions["risk_tier"] = risk_tier(sessions["p_poor"])
    tutor_risk = tutors.reindex(rows["tutor_id"].to_numpy())
    sessions["noshow_risk"] = tutor_risk["noshow_risk"].to_numpy()
    out["first_sessions"] = sessions
    contrib = fm.contributions(design)
    # name the design's columns after the rows' features for the wording
    out["first_session_factors"] = top_factors(contrib, design, _FS_INFO, k=3, risk_sign=+1)
    return out


def _fs_info() -> dict:
    from ml.features.info import info

    base = fs_features.FEATURE_INFO
    return {
        "tutor_rating": base["tutor_rating_smoothed"],
        "tutor_first_session_success": base["tutor_first_session_success_smoothed"],
        "tutor_reschedule_rate": base["tutor_reschedule_rate"],
        "tutor_no_show_rate": base["tutor_no_show_rate"],
        "tutor_engagement": base["tutor_engagement_score"],
        "tutor_sessions_log": info(
            "tutor_sessions_log",
            "sessions the tutor has completed",
            "tutor",
            "number",
            "log of sessions completed {value}",
            -1,
        ),
    }


_FS_INFO = _fs_info()
