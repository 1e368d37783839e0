"""Record versions on their way into the version logs.

The simulation produces versions as *raw* numeric columns (codes for strings, a
sentinel for null integers and timestamps, NaN for null decimals), appended day by day in
small chunks. :func:`finalize` turns a batch into the server's column conventions:
strings and enums as object arrays of ``str`` (shared objects, so a million rows cost
pointers, not strings), a null mask for every nullable field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from services.api.contract import Kind, Resource

# Null marker for raw int64 columns (ids, timestamps, dates).
NULL = np.iinfo(np.int64).min


class Chunks:
    """Raw versions of one resource, collected until the next flush."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []
        self._keys: tuple[str, ...] | None = None
        self.rows_total = 0

    def add(self, **columns: np.ndarray) -> None:
        keys = tuple(sorted(columns))
        if self._keys is None:
            self._keys = keys
        elif keys != self._keys:
            raise ValueError(f"chunk columns {keys} differ from {self._keys}")
        n = len(columns["id"])
        if n == 0:
            return
        for name, col in columns.items():
            if np.ndim(col) == 0:
                columns[name] = np.full(n, col)
            elif len(col) != n:
                raise ValueError(f"column {name}: {len(col)} rows, expected {n}")
        self._parts.append(columns)
        self.rows_total += n

    def drain(self) -> dict[str, np.ndarray] | None:
        if not self._parts:
            return None
        keys = self._parts[0].keys()
        out = {k: np.concatenate([p[k] for p in self._parts]) for k in keys}
        self._parts = []
        return out


def with_none(vocab: Sequence[object]) -> np.ndarray:
    """Vocabulary as an object array whose index -1 is ``None`` (the null code)."""
    arr = np.empty(len(vocab) + 1, dtype=object)
    arr[: len(vocab)] = list(vocab)
    arr[len(vocab)] = None
    return arr


def finalize(
    resource: Resource,
    raw: Mapping[str, np.ndarray],
    vocabs: Mapping[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Raw columns -> (columns, nulls) as :class:`VersionLog` and the server expect them.

    ``vocabs[field]`` (made with :func:`with_none`) decodes string, enum and string-list
    fields; a code of -1 is null.
    """
    columns: dict[str, np.ndarray] = {}
    nulls: dict[str, np.ndarray] = {}
    for f in resource.fields:
        col = raw.get(f.name)
        if col is None:
            if f.name == "deleted_at":
                col = np.full(len(raw["id"]), NULL, dtype=np.int64)
            else:
                raise KeyError(f"{resource.name}: no raw column {f.name!r}")
        if f.kind in (Kind.INT, Kind.TIMESTAMP, Kind.DATE):
            values = np.asarray(col, dtype=np.int64).copy()
            null = values == NULL
            values[null] = 0
        elif f.kind in (Kind.DECIMAL, Kind.FLOAT):
            values = np.asarray(col, dtype=np.float64)
            null = np.isnan(values)
        elif f.kind == Kind.BOOL:
            values = np.asarray(col, dtype=bool)
            null = np.zeros(len(values), dtype=bool)
        else:
            codes = np.asarray(col, dtype=np.int64)
            values = vocabs[f.name][codes]
            null = codes < 0
        columns[f.name] = values
        if f.nullable:
            nulls[f.name] = null
    return columns, nulls
