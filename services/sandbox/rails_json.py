"""Rows of a version log -> the JSON bytes a Rails 6.1 app sends for them.

Formatting is column-wise because it is the server's hot path: a 1000-record page of
sessions has five timestamp columns, and numpy formats a whole column in one call
where ``strftime`` per value would cost ten times more. Records are then zipped into
dicts (key order = Rails' attribute order: ``id``, the resource's fields, then
``created_at``, ``updated_at``, ``deleted_at``) and serialised by orjson.

Rails conventions reproduced here (see ``shared/design/rails-samples.txt``):
timestamps with milliseconds truncated and ``Z`` (microseconds with
``time_precision = 6``), dates ``YYYY-MM-DD``, decimals as strings with trailing zeros
dropped (``"40.5"``, ``"40.0"`` like ``BigDecimal#to_s``), and ActiveSupport's JSON
escaping of ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\uXXXX``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

import numpy as np
import orjson

from services.api.contract import COMMON_FIELDS, Kind, Resource

# A column as VersionLog.column returns it: values plus an optional null mask.
Column = tuple[np.ndarray, np.ndarray | None]

# Decimal columns are decimal(…, 2) in the Rails schema: values are rounded to that
# scale before they are printed, so float noise from the simulator never shows.
DECIMAL_SCALE = 2

_COMMON_TAIL = ("created_at", "updated_at", "deleted_at")
_TIME_UNITS = {0: "s", 3: "ms", 6: "us"}
TIME_PRECISIONS = tuple(_TIME_UNITS)

# ActiveSupport::JSON escapes these inside strings; they never occur outside strings in
# JSON, so a byte replace on the whole document is exact.
_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
)
# U+2028/U+2029 are 3 bytes starting with 0xE2; a one-byte memchr first keeps the (slow)
# multi-byte search off the hot path of pages without such text.
_LINE_SEPARATORS = (
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def field_order(resource: Resource) -> tuple[str, ...]:
    """Attribute order of a serialised record, as in the samples."""
    common = {f.name for f in COMMON_FIELDS}
    own = tuple(f.name for f in resource.fields if f.name not in common)
    return ("id", *own, *_COMMON_TAIL)


def dumps(obj: object) -> bytes:
    """orjson + ActiveSupport's HTML-safe escaping."""
    return _escape(orjson.dumps(obj))


def _escape(body: bytes) -> bytes:
    for raw, escaped in _ESCAPES:
        if raw in body:
            body = body.replace(raw, escaped)
    if b"\xe2" in body:
        for raw, escaped in _LINE_SEPARATORS:
            body = body.replace(raw, escaped)
    return body


def etag(body: bytes) -> str:
    """Rack 2.2's weak ETag: the first 32 hex digits of the body's SHA-256.

    (The samples' ETags match this, not MD5.)
    """
    return 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def format_timestamps(values: np.ndarray, precision: int = 3) -> list[str]:
    """Epoch-µs int64 column -> Rails ISO 8601 strings (truncated, like Rails).

    ``precision`` is ActiveSupport's ``time_precision``: 3 (default), 6 or 0.
    """
    unit = _TIME_UNITS[precision]
    return np.datetime_as_string(
        np.asarray(values, dtype=np.int64).astype("datetime64[us]"), unit=unit, timezone="UTC"
    ).tolist()


def format_time(us: int, precision: int = 3) -> str:
    """One timestamp, through the same code path as the columns."""
    return format_timestamps(np.array([us], dtype=np.int64), precision)[0]


def format_decimals(values: np.ndarray, as_numbers: bool = False) -> list[object]:
    """float64 column -> ``BigDecimal#to_s`` strings (or floats, as Rails sometimes does).

    ``repr`` of a float rounded to the scale is the shortest text that reads back as
    that value, which is what BigDecimal prints: "40.5", "46.03", "40.0".
    """
    arr = np.round(np.asarray(values, dtype=np.float64), DECIMAL_SCALE)
    # map() runs repr at C speed; NaN (a null the world did not mask) is fixed after.
    out: list[object] = arr.tolist() if as_numbers else list(map(repr, arr.tolist()))
    for i in np.flatnonzero(np.isnan(arr)).tolist():
        out[i] = None
    return out


def format_column(
    kind: Kind,
    values: np.ndarray,
    nulls: np.ndarray | None,
    precision: int = 3,
    decimals_as_numbers: bool = False,
) -> list[object]:
    """One column -> the JSON-ready Python values of its records."""
    if kind in (Kind.TIMESTAMP, Kind.DATE):
        if nulls is not None and nulls.any():
            # Null slots may hold anything (NaT, 0); format a harmless value there.
            values = np.where(nulls, 0, values)
        if kind == Kind.DATE:
            out: list[object] = np.datetime_as_string(
                np.asarray(values, dtype=np.int64).astype("datetime64[us]"), unit="D"
            ).tolist()
        else:
            out = list(format_timestamps(values, precision))
    elif kind == Kind.DECIMAL:
        out = format_decimals(values, decimals_as_numbers)
    elif kind == Kind.FLOAT:
        out = [None if v != v else v for v in np.asarray(values, dtype=np.float64).tolist()]
    elif kind == Kind.STR_LIST:
        # Tuples serialise as JSON arrays; a missing list stays null.
        out = [None if v is None else list(v) for v in values.tolist()]
    else:
        out = values.tolist()
    if nulls is not None:
        for i in np.flatnonzero(nulls).tolist():
            out[i] = None
    return out


def build_records(
    resource: Resource,
    columns: Mapping[str, Column],
    precision: int = 3,
    decimals_as_numbers: bool = False,
    order: Sequence[str] | None = None,
) -> list[dict[str, object]]:
    """Column values of one page -> a list of record dicts in Rails attribute order."""
    names = tuple(order) if order is not None else field_order(resource)
    formatted = [
        format_column(resource.field(n).kind, *columns[n], precision, decimals_as_numbers)
        for n in names
    ]
    return [dict(zip(names, row, strict=True)) for row in zip(*formatted, strict=True)]


def page_body(records: list[dict[str, object]], has_more: bool, padding: int = 0) -> bytes:
    """``{"data": [...], "meta": {"has_more": ...}}``; ``padding`` adds an unknown field."""
    meta: dict[str, object] = {"has_more": has_more}
    if padding > 0:
        meta["debug_padding"] = "x" * padding
    return dumps({"data": records, "meta": meta})


def columns_from_record(
    resource: Resource, record: Mapping[str, object]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One record (Python values, None = null) -> 1-row columns + null masks.

    The column conventions of the world: ints/timestamps/dates int64, decimals and
    floats float64, bools bool, strings object, string lists object arrays of tuples.
    """
    columns: dict[str, np.ndarray] = {}
    nulls: dict[str, np.ndarray] = {}
    for f in resource.fields:
        value = record.get(f.name)
        is_null = value is None
        if f.kind in (Kind.INT, Kind.TIMESTAMP, Kind.DATE):
            col = np.array([0 if is_null else int(value)], dtype=np.int64)  # type: ignore[arg-type]
        elif f.kind in (Kind.DECIMAL, Kind.FLOAT):
            col = np.array([math.nan if is_null else float(value)], dtype=np.float64)  # type: ignore[arg-type]
        elif f.kind == Kind.BOOL:
            col = np.array([bool(value)], dtype=bool)
        else:
            col = np.empty(1, dtype=object)
            col[0] = tuple(value) if f.kind == Kind.STR_LIST and not is_null else value  # type: ignore[arg-type]
        columns[f.name] = col
        if f.nullable:
            nulls[f.name] = np.array([is_null], dtype=bool)
    return columns, nulls


def format_record(
    resource: Resource,
    record: Mapping[str, object],
    precision: int = 3,
    order: Sequence[str] | None = None,
) -> dict[str, object]:
    """One record (Python values) -> its Rails JSON dict, via the column path."""
    columns, nulls = columns_from_record(resource, record)
    cols = {name: (columns[name], nulls.get(name)) for name in columns}
    return build_records(resource, cols, precision, order=order)[0]
