"""Training sets for the churn models: many past as-of dates, durations, events.

    dates = as_of_dates(frames)                                   # weekly, after a warm-up
    X, duration, event = tutor_training_set(frames, dates)
    X, duration, event = tutor_training_set(frames, early_dates, censor_at=cut)  # hold-out
    y = horizon_labels(duration, event)                           # ml.labels

For every as-of date and every tutor *active* at it (hired before it, not churned by it
per :func:`ml.labels.tutor_churn_times`), one row of features computed from data before
the date (:mod:`ml.features.tutor`), the days from the date to churn (``event`` 1) or to
the censoring instant (``event`` 0: right-censored, not "did not churn"). The censoring
instant ``censor_at`` defaults to ``frames.observed_until``; a time-based hold-out passes
its cut-off, so no label of the training part looks past it (as-of dates at or after it
are dropped). Durations are positive floats.

The rows' index is ``(as_of, tutor_id)`` (``customer_id`` for customers). ``X`` holds
the point-in-time features only (:func:`ml.features.info.training_features`); pass
``features=`` to choose others. ``X`` is float32 (what XGBoost works in; counts stay
exact, NaN stays NaN): a million customer rows take ~160 MB, not twice that. Rows of one
entity at successive dates are correlated: split train/validation by date (or by
entity), never at random across rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ml.features import customer as customer_mod
from ml.features import tutor as tutor_mod
from ml.features._events import NAT, US_PER_DAY, to_us
from ml.features.info import training_features
from ml.frames import MarketFrames
from ml.labels import _censor_us, customer_churn_us, tutor_churn_us

TUTOR_TRAINING_FEATURES: list[str] = training_features(tutor_mod.FEATURE_INFO)
CUSTOMER_TRAINING_FEATURES: list[str] = training_features(customer_mod.FEATURE_INFO)


def _history_start_us(frames: MarketFrames) -> int | None:
    """The first instant of recorded activity (sessions, logins, calls)."""
    firsts = []
    for frame, col in (
        (frames.sessions, "end_time"),
        (frames.engagement, "occurred_at"),
        (frames.calls, "call_time"),
    ):
        if len(frame):
            us = to_us(frame[col])
            us = us[us != NAT]
            if len(us):
                firsts.append(int(us.min()))
    return min(firsts) if firsts else None


def as_of_dates(
    frames: MarketFrames,
    every_days: int = 7,
    warmup_days: int = 60,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    max_dates: int | None = None,
) -> list[pd.Timestamp]:
    """As-of dates (midnight UTC, ascending) every ``every_days``, counted back from the
    last midnight before ``end`` (default ``observed_until``), not earlier than
    ``warmup_days`` after the history starts (``start``, default the first recorded
    activity), so the longest feature windows see data. ``max_dates`` keeps the latest."""
    end_us = int(to_us(end if end is not None else frames.observed_until))
    first = int(to_us(start)) if start is not None else _history_start_us(frames)
    if first is None:
        return []
    lo = first + warmup_days * US_PER_DAY
    last = (end_us - 1) // US_PER_DAY * US_PER_DAY
    out = []
    t = last
    while t >= lo and (max_dates is None or len(out) < max_dates):
        out.append(t)
        t -= every_days * US_PER_DAY
    return [pd.Timestamp(x, unit="us", tz="UTC") for x in sorted(out)]


def _survival_rows(
    builder: tutor_mod.TutorFeatureBuilder | customer_mod.CustomerFeatureBuilder,
    joined_us: np.ndarray,
    churn_us: np.ndarray,
    as_of_dates: Iterable[pd.Timestamp],
    censor_us: int,
    features: Sequence[str],
    id_name: str,
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    frames_x, durations, events, keys = [], [], [], []
    for as_of in sorted(pd.Timestamp(d) for d in as_of_dates):
        T = int(to_us(as_of))
        if censor_us <= T:
            continue
        active = (joined_us != NAT) & (joined_us < T) & ((churn_us == NAT) | (churn_us > T))
        pos = np.flatnonzero(active)
        if len(pos) == 0:
            continue
        x = builder.at(as_of, builder.ids[pos])[list(features)].astype(np.float32)
        churn = churn_us[pos]
        event = churn != NAT  # churn_us is NaT beyond the censoring already
        stop = np.where(event, churn, censor_us)
        frames_x.append(x)
        durations.append((stop - T) / US_PER_DAY)
        events.append(event.astype(np.int64))
        keys.append(np.full(len(pos), T, dtype=np.int64))
    if not frames_x:
        index = pd.MultiIndex.from_arrays(
            [pd.DatetimeIndex([], tz="UTC"), pd.Index([], dtype="int64")],
            names=["as_of", id_name],
        )
        empty = builder.at(pd.Timestamp(censor_us, unit="us", tz="UTC"), [])[list(features)]
        empty = empty.astype(np.float32)
        return (
            empty.set_axis(index[:0], axis=0),
            pd.Series([], index=index, dtype="float64", name="duration_days"),
            pd.Series([], index=index, dtype="int64", name="event"),
        )
    X = pd.concat(frames_x)
    as_of_idx = pd.DatetimeIndex(np.concatenate(keys).view("datetime64[us]")).tz_localize("UTC")
    index = pd.MultiIndex.from_arrays([as_of_idx, X.index.to_numpy()], names=["as_of", id_name])
    X.index = index
    duration = pd.Series(np.concatenate(durations), index=index, name="duration_days")
    event = pd.Series(np.concatenate(events), index=index, name="event")
    return X, duration, event


def tutor_training_set(
    frames: MarketFrames,
    as_of_dates: Iterable[pd.Timestamp],
    censor_at: pd.Timestamp | None = None,
    *,
    features: Sequence[str] | None = None,
    builder: tutor_mod.TutorFeatureBuilder | None = None,
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """(X, duration_days, event) for every tutor active at each as-of date (module doc)."""
    censor = _censor_us(frames, censor_at)
    b = builder if builder is not None else tutor_mod.TutorFeatureBuilder(frames)
    churn = tutor_churn_us(frames, censor)
    return _survival_rows(
        b,
        b.hired_us,
        churn,
        as_of_dates,
        censor,
        TUTOR_TRAINING_FEATURES if features is None else features,
        "tutor_id",
    )


def customer_training_set(
    frames: MarketFrames,
    as_of_dates: Iterable[pd.Timestamp],
    censor_at: pd.Timestamp | None = None,
    *,
    features: Sequence[str] | None = None,
    builder: customer_mod.CustomerFeatureBuilder | None = None,
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """(X, duration_days, event) for every customer active at each as-of date: signed up
    before it, not churned (status ``churned``, ``churned_at``) by it."""
    censor = _censor_us(frames, censor_at)
    b = builder if builder is not None else customer_mod.CustomerFeatureBuilder(frames)
    churn = customer_churn_us(frames, censor)
    return _survival_rows(
        b,
        b.joined_us,
        churn,
        as_of_dates,
        censor,
        CUSTOMER_TRAINING_FEATURES if features is None else features,
        "customer_id",
    )
