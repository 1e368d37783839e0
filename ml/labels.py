"""When tutors and customers churned, as known at a censoring instant (DOMAIN.md "Churn").

    churn = tutor_churn_times(frames)                 # Series tutor_id -> UTC time or NaT
    churn = tutor_churn_times(frames, censor_at=cut)  # what was known at ``cut``
    churn = customer_churn_times(frames)
    y = horizon_labels(duration_days, event)          # churn_7d ... churn_90d: 1 / 0 / NaN

Tutors. A tutor churned on ``churned_at`` when their status is ``churned`` or
``inactive``. Where the API gives no ``churned_at`` (an active tutor who simply stopped),
the tutor churned on the day after their last completed session (midnight UTC; their
hiring if they never completed one) once :data:`IDLE_DAYS` (30) days have passed with no
completed session and no availability (no slot, published before the censoring instant,
that ends after that last session). A status ``churned``/``inactive`` without
``churned_at`` takes the same day-after-the-last-session date, without the 30-day wait.

Customers. A customer churned on ``churned_at`` when their status is ``churned``
(``paused`` is not churn).

Censoring. With ``censor_at`` (default ``frames.observed_until``, never later), a churn
after it is unknown: NaT. Only data from before ``censor_at`` decides an inactivity churn,
so a time-based hold-out can censor its training labels at the cut-off with no leak.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ml.features._events import NAT, US_PER_DAY, entity_ids, equals, positions, to_us
from ml.frames import MarketFrames

IDLE_DAYS = 30
HORIZONS: tuple[int, ...] = (7, 14, 30, 90)


def _censor_us(frames: MarketFrames, censor_at: pd.Timestamp | None) -> int:
    limit = int(to_us(frames.observed_until))
    if censor_at is None:
        return limit
    return min(int(to_us(censor_at)), limit)


def _to_series(ids: np.ndarray, us: np.ndarray, name: str, index_name: str) -> pd.Series:
    values = pd.DatetimeIndex(np.asarray(us, dtype=np.int64).view("datetime64[us]"))
    return pd.Series(values.tz_localize("UTC"), index=pd.Index(ids, name=index_name), name=name)


def tutor_churn_us(frames: MarketFrames, censor_us: int, idle_days: int = IDLE_DAYS) -> np.ndarray:
    """Churn time (epoch µs, ``NAT`` = not churned by ``censor_us``) per row of tutors."""
    t = frames.tutors
    n = len(t)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ids = entity_ids(t)
    status = t["status"]
    gone = equals(status, "churned") | equals(status, "inactive")
    churned = to_us(t["churned_at"])
    hired = to_us(t["hired_at"])
    hired = np.where(hired == NAT, to_us(t["created_at"]), hired)

    # Last completed session that ended before the censoring instant.
    s = frames.sessions
    last = np.full(n, NAT, dtype=np.int64)
    if len(s):
        tp = positions(ids, s["tutor_id"])
        end = to_us(s["end_time"])
        ok = (tp >= 0) & equals(s["status"], "completed") & (end != NAT) & (end < censor_us)
        np.maximum.at(last, tp[ok], end[ok])
    since = np.maximum(last, hired)  # NAT is the smallest int64: max picks the known one
    derived = np.where(since == NAT, NAT, (since // US_PER_DAY + 1) * US_PER_DAY)

    # Availability after the last session, among slots published before the censoring.
    a = frames.availability
    slot_end = np.full(n, NAT, dtype=np.int64)
    if len(a):
        ap = positions(ids, a["tutor_id"])
        created = to_us(a["created_at"])
        starts = to_us(a["starts_at"])
        ends = to_us(a["ends_at"])
        ends = np.where(ends == NAT, starts, ends)
        published = np.where(created == NAT, starts, created)
        ok = (ap >= 0) & (ends != NAT) & (published != NAT) & (published < censor_us)
        np.maximum.at(slot_end, ap[ok], ends[ok])
    idle = (
        (since != NAT)
        & (censor_us - since >= idle_days * US_PER_DAY)
        & ((slot_end == NAT) | (slot_end <= since))
    )

    out = np.full(n, NAT, dtype=np.int64)
    explicit = gone & (churned != NAT)
    out[explicit] = churned[explicit]
    out[gone & (churned == NAT)] = derived[gone & (churned == NAT)]
    silent = ~gone & idle
    out[silent] = derived[silent]
    out[(out != NAT) & (out > censor_us)] = NAT
    return out


def tutor_churn_times(
    frames: MarketFrames, censor_at: pd.Timestamp | None = None, idle_days: int = IDLE_DAYS
) -> pd.Series:
    """Churn time per tutor (index ``tutor_id``), NaT when not churned by ``censor_at``."""
    censor = _censor_us(frames, censor_at)
    return _to_series(
        entity_ids(frames.tutors), tutor_churn_us(frames, censor, idle_days), "churned_at",
        "tutor_id",
    )  # fmt: skip


def customer_churn_us(frames: MarketFrames, censor_us: int) -> np.ndarray:
    c = frames.customers
    if len(c) == 0:
        return np.zeros(0, dtype=np.int64)
    churned = to_us(c["churned_at"])
    out = np.where(equals(c["status"], "churned"), churned, NAT)
    out[(out != NAT) & (out > censor_us)] = NAT
    return out


def customer_churn_times(frames: MarketFrames, censor_at: pd.Timestamp | None = None) -> pd.Series:
    """Churn time per customer (index ``customer_id``), NaT when not churned by then."""
    censor = _censor_us(frames, censor_at)
    return _to_series(
        entity_ids(frames.customers), customer_churn_us(frames, censor), "churned_at",
        "customer_id",
    )  # fmt: skip


def horizon_labels(
    duration: pd.Series | np.ndarray,
    event: pd.Series | np.ndarray,
    horizons: Sequence[int] = HORIZONS,
) -> pd.DataFrame:
    """Churn within each horizon: 1 (churned by then), 0 (observed past it without
    churning), NaN (censored before it: unknown). Columns ``churn_{h}d``, float."""
    d = np.asarray(duration, dtype=np.float64)
    e = np.asarray(event, dtype=np.float64) > 0.5
    index = duration.index if isinstance(duration, pd.Series) else None
    out = {}
    for h in horizons:
        label = np.where(e & (d <= h), 1.0, np.where(d >= h, 0.0, np.nan))
        out[f"churn_{h}d"] = label
    return pd.DataFrame(out, index=index)
