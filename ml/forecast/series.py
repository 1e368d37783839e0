"""Hourly count series from event times, and hourly supply from availability slots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.forecast.model import ForecastError

TOTAL = "total"


def hour_range(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Whole UTC hours from ``start`` (floored) up to, not including, ``end`` (floored)."""
    start, end = _utc(start).floor("h"), _utc(end).floor("h")
    return pd.date_range(start, end, freq="h", inclusive="left", name="hour")


def hourly_counts(
    times: pd.Series, start: pd.Timestamp, end: pd.Timestamp, by: pd.Series | None = None
) -> pd.DataFrame:
    """Events per hour in ``[start, end)``, with explicit zeros: one column per value of
    ``by`` (e.g. the subject) plus ``"total"``; without ``by``, just ``"total"``."""
    index = hour_range(start, end)
    times = pd.to_datetime(times, utc=True)
    inside = (times >= _utc(start).floor("h")) & (times < _utc(end).floor("h"))
    hours = times[inside].dt.floor("h")
    if by is None:
        counts = hours.value_counts().reindex(index, fill_value=0).to_frame(TOTAL)
    else:
        keys = pd.Series(np.asarray(by)[np.asarray(inside)], index=hours.index)
        counts = (
            pd.crosstab(hours, keys).reindex(index, fill_value=0)
            if len(hours)
            else pd.DataFrame(index=index)
        )
        counts.columns = [str(c) for c in counts.columns]
        counts[TOTAL] = counts.sum(axis=1)
    counts.index.name = "hour"
    return counts.astype("int64")


def hourly_supply(
    starts: pd.Series,
    ends: pd.Series,
    start: pd.Timestamp,
    end: pd.Timestamp,
    by: pd.Series | None = None,
) -> pd.DataFrame:
    """Offered hours per hour in ``[start, end)`` from intervals ``[starts, ends)``: a
    slot covering 10:30-12:00 adds 0.5 to the 10:00 hour and 1 to 11:00 (tutor-hours).
    Columns as in :func:`hourly_counts`."""
    index = hour_range(start, end)
    s = pd.to_datetime(starts, utc=True).reset_index(drop=True)
    e = pd.to_datetime(ends, utc=True).reset_index(drop=True)
    if (e < s).any():
        raise ForecastError("an availability slot ends before it starts")
    keys = (
        pd.Series(np.asarray(by, dtype=object)).astype(str)
        if by is not None
        else pd.Series([TOTAL] * len(s), dtype=object)
    )
    names = sorted(set(keys)) if by is not None else [TOTAL]
    out = np.zeros((len(index), len(names)))
    if len(index) and len(s):
        origin = index[0]
        # In hours since the first hour of the range, clipped to the range.
        a = ((s - origin) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
        b = ((e - origin) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
        a, b = np.clip(a, 0, len(index)), np.clip(b, 0, len(index))
        col = pd.Index(names).get_indexer(keys)
        keep = b > a
        a, b, col = a[keep], b[keep], col[keep]
        # Each slot spans a few hours: expand it to the hours it touches (slots are a
        # handful of hours long, so this stays linear in the number of slots).
        first = np.floor(a).astype(np.int64)
        last = np.ceil(b).astype(np.int64)  # exclusive
        n = last - first
        rows = np.repeat(np.arange(len(a)), n)
        hour = np.repeat(first, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
        overlap = np.minimum(b[rows], hour + 1) - np.maximum(a[rows], hour)
        np.add.at(out, (hour, col[rows]), overlap)
    frame = pd.DataFrame(out, index=index, columns=names)
    if by is not None:
        frame[TOTAL] = frame.sum(axis=1)
    frame.index.name = "hour"
    return frame


def _utc(t: pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
