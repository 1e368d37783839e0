"""The sandbox's record store: a log of record versions per resource, queried by keyset.

The simulator decides a record's whole life when it creates it (a session is booked,
then completed and rated; a tutor is hired, then churns), so each resource is a table of
*versions*: full record snapshots, each valid from its ``updated_at`` until the record's
next version. What the API shows at clock ``T`` is, for every record, its newest version
with ``updated_at <= T``. Rows are kept sorted by ``(updated_at, id)``, the API's keyset
order, so a page is a binary search plus a short scan, however large the table.

Columns are numpy arrays (a 2-million-record world is a few hundred MB as columns, several
GB as dicts). A column may carry a null mask; strings are object arrays.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from services.api.contract import Resource

NEVER = np.iinfo(np.int64).max


@dataclass(slots=True)
class Page:
    """Row positions of one page, plus whether more visible rows follow."""

    rows: np.ndarray
    has_more: bool


class VersionLog:
    """All versions of one resource's records, in keyset order.

    ``columns`` maps every field of the resource (``id`` and ``updated_at`` as int64
    epoch microseconds included) to an array of equal length; ``nulls`` optionally maps a
    field to a boolean mask of null entries. Timestamps are int64 epoch microseconds;
    dates are int64 epoch microseconds at midnight UTC.
    """

    def __init__(
        self,
        resource: Resource,
        columns: Mapping[str, np.ndarray],
        nulls: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.resource = resource
        self._lock = threading.RLock()
        self._columns: dict[str, np.ndarray] = {}
        self._nulls: dict[str, np.ndarray] = {}
        self._pending: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = []
        self._set(dict(columns), dict(nulls or {}))

    # ---------------------------------------------------------------- building

    def _set(self, columns: dict[str, np.ndarray], nulls: dict[str, np.ndarray]) -> None:
        missing = set(self.resource.field_names) - set(columns)
        if missing:
            raise ValueError(f"{self.resource.name}: columns missing {sorted(missing)}")
        n = len(columns["id"])
        for name, col in columns.items():
            if len(col) != n:
                raise ValueError(f"{self.resource.name}.{name}: {len(col)} rows, expected {n}")
        for name, mask in nulls.items():
            if len(mask) != n:
                raise ValueError(f"{self.resource.name}.{name} nulls: wrong length")
        ids = np.asarray(columns["id"], dtype=np.int64)
        times = np.asarray(columns["updated_at"], dtype=np.int64)
        order = np.lexsort((ids, times))
        self._columns = {k: np.asarray(v)[order] for k, v in columns.items()}
        self._columns["id"] = ids[order]
        self._columns["updated_at"] = times[order]
        self._nulls = {k: np.asarray(v, dtype=bool)[order] for k, v in nulls.items()}
        self._next_time = _next_version_times(self._columns["id"], self._columns["updated_at"])

    def append(
        self,
        columns: Mapping[str, np.ndarray],
        nulls: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Add versions (new records or new versions of existing ones).

        Merging is deferred to the next query, so many small appends cost one re-sort.
        """
        with self._lock:
            self._pending.append((dict(columns), dict(nulls or {})))

    def _merge_pending(self) -> None:
        if not self._pending:
            return
        parts = [(self._columns, self._nulls), *self._pending]
        self._pending = []
        names = list(self._columns)
        merged = {k: np.concatenate([np.asarray(p[0][k]) for p in parts]) for k in names}
        null_names = set().union(*(p[1].keys() for p in parts))
        merged_nulls = {
            k: np.concatenate(
                [
                    np.asarray(p[1][k], dtype=bool)
                    if k in p[1]
                    else np.zeros(len(p[0]["id"]), dtype=bool)
                    for p in parts
                ]
            )
            for k in null_names
        }
        self._set(merged, merged_nulls)

    # ---------------------------------------------------------------- reading

    def __len__(self) -> int:
        with self._lock:
            self._merge_pending()
            return len(self._columns["id"])

    def page(
        self,
        now_us: int,
        updated_since_us: int | None = None,
        after_id: int | None = None,
        limit: int = 500,
    ) -> Page:
        """Rows of the records visible at ``now_us`` after the cursor, in keyset order.

        With ``updated_since`` alone the bound is inclusive (``updated_at >= since``);
        with ``after_id`` too it is the tuple comparison ``(updated_at, id) > (since, id)``.
        """
        with self._lock:
            self._merge_pending()
            times = self._columns["updated_at"]
            ids = self._columns["id"]
            if updated_since_us is None:
                start = 0
            elif after_id is None:
                start = int(np.searchsorted(times, updated_since_us, side="left"))
            else:
                lo = int(np.searchsorted(times, updated_since_us, side="left"))
                hi = int(np.searchsorted(times, updated_since_us, side="right"))
                start = lo + int(np.searchsorted(ids[lo:hi], after_id, side="right"))
            end = int(np.searchsorted(times, now_us, side="right"))
            found: list[np.ndarray] = []
            count = 0
            pos = start
            chunk = max(4 * limit, 1024)
            # Scan forward skipping superseded versions until limit+1 visible rows are
            # found (the extra one answers has_more without a second query).
            while pos < end and count <= limit:
                stop = min(pos + chunk, end)
                idx = np.arange(pos, stop)
                idx = idx[self._next_time[pos:stop] > now_us]
                found.append(idx)
                count += len(idx)
                pos = stop
                chunk *= 2
            rows = np.concatenate(found) if found else np.empty(0, dtype=np.int64)
            return Page(rows=rows[:limit], has_more=len(rows) > limit)

    def current_rows(self, now_us: int) -> np.ndarray:
        """Positions of every record's current version at ``now_us``."""
        with self._lock:
            self._merge_pending()
            end = int(np.searchsorted(self._columns["updated_at"], now_us, side="right"))
            idx = np.arange(end)
            return idx[self._next_time[:end] > now_us]

    def column(self, name: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Values (and null mask, if any) of one field at the given row positions."""
        with self._lock:
            values = self._columns[name][rows]
            mask = self._nulls.get(name)
            return values, (mask[rows] if mask is not None else None)

    def last_version(self, record_id: int) -> dict[str, object] | None:
        """The newest version of one record, whatever the clock (for write-backs)."""
        with self._lock:
            self._merge_pending()
            hits = np.flatnonzero(self._columns["id"] == record_id)
            if len(hits) == 0:
                return None
            row = hits[np.argmax(self._columns["updated_at"][hits])]
            out: dict[str, object] = {}
            for name, col in self._columns.items():
                mask = self._nulls.get(name)
                value = col[row]
                if mask is not None and mask[row]:
                    out[name] = None
                else:
                    out[name] = value.item() if isinstance(value, np.generic) else value
            return out

    def final_rows(self) -> np.ndarray:
        """Positions of every record's newest version, whatever the clock."""
        with self._lock:
            self._merge_pending()
            return np.flatnonzero(self._next_time == NEVER)

    def versions(self, rows: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Copies of the columns and null masks at ``rows``: the raw material of new
        versions of those records (change a field, set ``updated_at``, :meth:`append`)."""
        with self._lock:
            columns = {k: v[rows].copy() for k, v in self._columns.items()}
            nulls = {k: v[rows].copy() for k, v in self._nulls.items()}
            return columns, nulls

    def drop_versions(self, ids: np.ndarray, from_us: np.ndarray | int, bound_us: int) -> int:
        """Remove the versions of records ``ids`` stamped at or after ``from_us`` (one per
        id, or one for all) and after ``bound_us``: decided futures that are not to
        happen after all. Versions a reader may already have seen (``<= bound_us``) are
        never removed: the API never takes back what it served. Returns rows removed."""
        with self._lock:
            self._merge_pending()
            ids = np.asarray(ids, dtype=np.int64)
            if len(ids) == 0:
                return 0
            order = np.argsort(ids)
            sorted_ids = ids[order]
            col_ids = self._columns["id"]
            pos = np.clip(np.searchsorted(sorted_ids, col_ids), 0, len(sorted_ids) - 1)
            hit = sorted_ids[pos] == col_ids
            cut = np.broadcast_to(np.asarray(from_us, dtype=np.int64), ids.shape)[order][pos]
            times = self._columns["updated_at"]
            drop = hit & (times >= cut) & (times > bound_us)
            n = int(drop.sum())
            if n:
                keep = ~drop
                self._set(
                    {k: v[keep] for k, v in self._columns.items()},
                    {k: v[keep] for k, v in self._nulls.items()},
                )
            return n

    def max_id(self) -> int:
        with self._lock:
            self._merge_pending()
            ids = self._columns["id"]
            return int(ids.max()) if len(ids) else 0


def _next_version_times(ids: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each row, the ``updated_at`` of the same record's next version (or NEVER)."""
    n = len(ids)
    nxt = np.full(n, NEVER, dtype=np.int64)
    if n == 0:
        return nxt
    by_record = np.lexsort((times, ids))
    same = ids[by_record][1:] == ids[by_record][:-1]
    nxt[by_record[:-1][same]] = times[by_record][1:][same]
    return nxt
