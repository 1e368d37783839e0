"""Growable struct-of-arrays tables for entities (tutors, customers, pending sessions).

Entities are rows ``0..n-1`` of numpy columns; adding rows doubles capacity when full, so
a day that hires three tutors costs three assignments, not a copy of every column.
Per-day observations (sessions completed on day ``j`` ...) are 2-D ``[row, day]``
columns that grow along both axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Table:
    """Named columns sharing one row count; 2-D columns keep their trailing shape."""

    def __init__(self, capacity: int = 16) -> None:
        self.n = 0
        self._cap = max(int(capacity), 1)
        self._fill: dict[str, Any] = {}

    def add_column(self, name: str, dtype: Any, fill: Any = 0, width: int | None = None) -> None:
        shape = (self._cap,) if width is None else (self._cap, width)
        setattr(self, name, np.full(shape, fill, dtype=dtype))
        self._fill[name] = fill

    def grow_to(self, n: int) -> None:
        if n <= self._cap:
            return
        cap = max(n, 2 * self._cap)
        for name, fill in self._fill.items():
            old = getattr(self, name)
            new = np.full((cap, *old.shape[1:]), fill, dtype=old.dtype)
            new[: self._cap] = old
            setattr(self, name, new)
        self._cap = cap

    def append(self, **values: Any) -> slice:
        """Add rows; unnamed columns keep their fill value. Returns the new rows' slice."""
        k = None
        for v in values.values():
            if np.ndim(v) > 0:
                k = len(v)
                break
        if k is None:
            raise ValueError("append needs at least one array column")
        start = self.n
        self.grow_to(start + k)
        for name, v in values.items():
            getattr(self, name)[start : start + k] = v
        self.n = start + k
        return slice(start, start + k)

    def keep(self, mask: np.ndarray) -> None:
        """Drop rows where ``mask`` is False (for transient tables such as pending items)."""
        idx = np.flatnonzero(mask[: self.n])
        m = len(idx)
        for name, fill in self._fill.items():
            col = getattr(self, name)
            col[:m] = col[idx]
            col[m : self.n] = fill
        self.n = m


class DailyGrid:
    """``[row, day]`` counters that grow with the entity table and with simulated days."""

    def __init__(self, rows: int, days: int) -> None:
        self._rows = max(rows, 1)
        self._days = max(days, 1)
        self._fill: dict[str, Any] = {}

    def add(self, name: str, dtype: Any, fill: Any = 0) -> None:
        setattr(self, name, np.full((self._rows, self._days), fill, dtype=dtype))
        self._fill[name] = fill

    def ensure(self, rows: int, days: int) -> None:
        if rows <= self._rows and days <= self._days:
            return
        new_rows = self._rows if rows <= self._rows else max(rows, 2 * self._rows)
        new_days = self._days if days <= self._days else max(days, self._days + 64)
        for name, fill in self._fill.items():
            old = getattr(self, name)
            new = np.full((new_rows, new_days), fill, dtype=old.dtype)
            new[: self._rows, : self._days] = old
            setattr(self, name, new)
        self._rows, self._days = new_rows, new_days

    def window_sum(
        self, name: str, n: int, start: int, stop: int, dtype: Any = np.int32
    ) -> np.ndarray:
        """Sum over days ``[start, stop)`` (clipped at 0) for rows ``0..n-1``."""
        start = max(start, 0)
        if stop <= start:
            return np.zeros(n, dtype=dtype)
        return getattr(self, name)[:n, start:stop].sum(axis=1, dtype=dtype)
