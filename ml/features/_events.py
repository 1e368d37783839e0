"""Vectorised building blocks of the feature modules: column conversion and event indexes.

An :class:`EventIndex` holds one kind of event (sessions by end time, logins, calls ...)
sorted by (entity, time). Counting or summing an entity's events in a time window is
then two binary searches and a difference of cumulative sums, for every entity at once:
``O(entities * log events)`` per window, whatever the number of as-of dates. Times are
replaced by their rank among the distinct event times, so the (entity, rank) key always
fits in an int64, exactly, at microsecond precision, however long the history.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

NAT = np.iinfo(np.int64).min
US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000


# ---------------------------------------------------------------------- conversions


def to_us(values: pd.Series | pd.Index | pd.Timestamp | object) -> np.ndarray | int:
    """Timestamps -> int64 epoch microseconds (NaT -> ``NAT``). A scalar gives an int."""
    if isinstance(values, pd.Timestamp | str) or np.isscalar(values):
        ts = pd.Timestamp(values)
        if ts is pd.NaT:
            return NAT
        if ts.tzinfo is None:
            ts = ts.tz_localize("UTC")
        return int(ts.as_unit("ns").value) // 1000  # .value is in ns whatever the unit
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        s = pd.to_datetime(s, utc=True)
    arr = s.array.as_unit("us")
    return np.asarray(arr.asi8, dtype=np.int64)


def to_float(values: pd.Series) -> np.ndarray:
    """Numbers (int, Int64, float, decimal objects, None) -> float64 with NaN."""
    if values.dtype.kind in "fiub" and not isinstance(
        values.dtype, pd.api.extensions.ExtensionDtype
    ):
        return values.to_numpy(dtype=np.float64)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def to_bool(values: pd.Series) -> np.ndarray:
    """Booleans (bool, boolean, 0/1, object, None) -> bool; null counts as False."""
    if values.dtype == bool:
        return values.to_numpy()
    if isinstance(values.dtype, pd.BooleanDtype):
        return values.to_numpy(dtype=bool, na_value=False)
    if values.dtype.kind in "fiu":
        return np.nan_to_num(to_float(values), nan=0.0) > 0.5
    try:  # True/False/None/0/1 objects
        return pd.array(values, dtype="boolean").to_numpy(dtype=bool, na_value=False)
    except (TypeError, ValueError):
        pass
    mapped = values.map(
        lambda v: (
            None
            if v is None or (isinstance(v, float) and np.isnan(v))
            else (v.strip().lower() in ("true", "t", "1", "yes") if isinstance(v, str) else bool(v))
        )
    )
    return mapped.fillna(False).to_numpy(dtype=bool)


def equals(values: pd.Series, text: str) -> np.ndarray:
    """``values == text`` as a bool array, null -> False (any string dtype)."""
    return values.eq(text).to_numpy(dtype=bool, na_value=False)


class Codes:
    """A string column factorised once, for several ``== value`` tests."""

    def __init__(self, values: pd.Series) -> None:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        self.codes = np.asarray(codes)
        self.index = {str(u): i for i, u in enumerate(uniques)}

    def eq(self, text: str) -> np.ndarray:
        code = self.index.get(text)
        if code is None:
            return np.zeros(len(self.codes), dtype=bool)
        return self.codes == code


def positions(ids: np.ndarray, values: pd.Series) -> np.ndarray:
    """Position of each value in ``ids`` (unique int64), -1 where absent or null."""
    as_float = to_float(values)
    ok = np.isfinite(as_float)
    out = np.full(len(values), -1, dtype=np.int64)
    if len(ids) == 0 or not ok.any():
        return out
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    v = as_float[ok].astype(np.int64)
    at = np.clip(np.searchsorted(sorted_ids, v), 0, len(ids) - 1)
    hit = sorted_ids[at] == v
    found = np.full(len(v), -1, dtype=np.int64)
    found[hit] = order[at[hit]]
    out[ok] = found
    return out


def entity_ids(frame: pd.DataFrame) -> np.ndarray:
    """The ``id`` column as int64 (the frames' ids are unique and non-null)."""
    if len(frame) == 0:
        return np.zeros(0, dtype=np.int64)
    return to_float(frame["id"]).astype(np.int64)


# ---------------------------------------------------------------------- ragged helpers


def ragged(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every position of the slices ``[starts[i], stops[i])`` and the slice each is in."""
    lengths = np.maximum(np.asarray(stops) - np.asarray(starts), 0)
    total = int(lengths.sum())
    owner = np.repeat(np.arange(len(lengths)), lengths)
    if total == 0:
        return np.zeros(0, dtype=np.int64), owner
    offsets = np.cumsum(lengths) - lengths
    pos = np.arange(total) - np.repeat(offsets, lengths) + np.repeat(starts, lengths)
    return pos.astype(np.int64), owner


def group_median(owner: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per group (``np.median`` convention), NaN for empty groups."""
    out = np.full(n_groups, np.nan)
    if len(values) == 0:
        return out
    order = np.lexsort((values, owner))
    v, g = values[order], owner[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = (v[lo] + v[hi]) / 2.0
    return out


def distinct_count(owner: np.ndarray, keys: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct ``keys`` (int64) per group."""
    if len(keys) == 0:
        return np.zeros(n_groups, dtype=np.int64)
    span = int(keys.max()) - int(keys.min()) + 1
    combined = owner.astype(np.int64) * span + (keys - keys.min())
    uniq = np.unique(combined)
    return np.bincount(uniq // span, minlength=n_groups)


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, NaN where ``den`` is 0 (an undefined rate, not a zero one)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def rel_change(now: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``now / before - 1`` (-0.4 = down 40 %), NaN when ``before`` is 0."""
    return safe_div(now, before) - 1.0


# ---------------------------------------------------------------------- the index


class EventIndex:
    """Events of one kind, sorted by (entity, time), with per-column cumulative sums.

    ``entity``: position of each event's entity (-1: unknown, dropped); ``times``: int64
    epoch µs (``NAT``: dropped). ``columns``: numeric per-event values to sum in windows.
    Queries take ``entities`` (positions, default all) and window bounds (scalars or one
    per entity); a window is ``[lo, hi)``.
    """

    def __init__(
        self,
        entity: np.ndarray,
        times: np.ndarray,
        n_entities: int,
        columns: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        entity = np.asarray(entity, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        keep = (entity >= 0) & (times != NAT)
        if not keep.all():
            entity, times = entity[keep], times[keep]
            columns = {k: np.asarray(v)[keep] for k, v in (columns or {}).items()}
        m = len(times)
        # rank = position in the stable sort by time: an event is at or after t exactly
        # when its rank is at least the number of events before t.
        by_time = np.argsort(times, kind="stable")
        rank = np.empty(m, dtype=np.int64)
        rank[by_time] = np.arange(m, dtype=np.int64)
        self._sorted_times = times[by_time]
        self._m = m + 1
        keys = entity * self._m + rank
        order = np.argsort(keys)  # keys are distinct
        self.n = n_entities
        self.entity = entity[order]
        self.times = times[order]
        self._keys = keys[order]
        self.columns = {k: np.asarray(v)[order] for k, v in (columns or {}).items()}
        self._first = np.searchsorted(self.entity, np.arange(n_entities + 1))
        self._cs: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.times)

    def _ents(self, entities: np.ndarray | None) -> np.ndarray:
        return np.arange(self.n) if entities is None else np.asarray(entities, dtype=np.int64)

    def pos(self, t: int | np.ndarray, entities: np.ndarray | None = None) -> np.ndarray:
        """Per entity, the sorted position of its first event at or after ``t``."""
        ents = self._ents(entities)
        rank = np.searchsorted(self._sorted_times, np.asarray(t, dtype=np.int64), side="left")
        return np.searchsorted(self._keys, ents * self._m + rank, side="left")

    def first_pos(self, entities: np.ndarray | None = None) -> np.ndarray:
        return self._first[self._ents(entities)]

    def bounds(
        self, lo: int | np.ndarray | None, hi: int | np.ndarray, entities: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sorted positions ``[a, b)`` of each entity's events in ``[lo, hi)`` (lo None: all
        earlier events)."""
        a = self.first_pos(entities) if lo is None else self.pos(lo, entities)
        b = self.pos(hi, entities)
        return a, np.maximum(a, b)

    def count(
        self, lo: int | np.ndarray | None, hi: int | np.ndarray, entities: np.ndarray | None = None
    ) -> np.ndarray:
        a, b = self.bounds(lo, hi, entities)
        return b - a

    def cumsum(self, name: str) -> np.ndarray:
        cs = self._cs.get(name)
        if cs is None:
            col = self.columns[name]
            dtype = np.int64 if col.dtype.kind in "biu" else np.float64
            cs = np.concatenate([[0], np.cumsum(col, dtype=dtype)])
            self._cs[name] = cs
        return cs

    def sum(
        self,
        name: str,
        lo: int | np.ndarray | None,
        hi: int | np.ndarray,
        entities: np.ndarray | None = None,
    ) -> np.ndarray:
        a, b = self.bounds(lo, hi, entities)
        cs = self.cumsum(name)
        return cs[b] - cs[a]

    def last_before(self, t: int | np.ndarray, entities: np.ndarray | None = None) -> np.ndarray:
        """Time of each entity's last event before ``t`` (``NAT`` if none)."""
        ents = self._ents(entities)
        p = self.pos(t, ents)
        has = p > self._first[ents]
        out = np.full(len(ents), NAT, dtype=np.int64)
        out[has] = self.times[p[has] - 1]
        return out

    def first_time(self, entities: np.ndarray | None = None) -> np.ndarray:
        """Time of each entity's first event (``NAT`` if none)."""
        ents = self._ents(entities)
        a, b = self._first[ents], self._first[ents + 1]
        out = np.full(len(ents), NAT, dtype=np.int64)
        has = b > a
        out[has] = self.times[a[has]]
        return out

    def gather(
        self, lo: int | np.ndarray | None, hi: int | np.ndarray, entities: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(sorted positions of the events in each window, the query row of each)."""
        a, b = self.bounds(lo, hi, entities)
        return ragged(a, b)
