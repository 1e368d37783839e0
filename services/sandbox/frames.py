"""The sandbox world as the models see it: :class:`ml.frames.MarketFrames` at a clock.

    frames = frames_at(world, now_us)

gives, for every resource, the records the API shows at ``now_us`` (each record's
current version; soft-deleted records left out), with ``observed_until = now_us``. Tests
and benchmarks use it; the app loads the same frames from its database.

Types follow the API contract: ids and non-null integers are ``int64``; nullable
integers (``rating``, ``tutor_id`` of a booking, ``student_age`` ...) are pandas
``Int64``; decimals and floats ``float64`` (NaN for null); booleans ``bool``;
timestamps and dates ``datetime64[us, UTC]`` (NaT for null); strings and enums
``str``; string lists (``subjects``, ``certifications``) Python lists of ``str``.
Every field of the resource is included (``name``, ``email``, ``deleted_at`` ... too),
beyond the columns :data:`ml.frames.COLUMNS` requires. Everything is column-wise numpy:
a full-scale world (about 2.5 M records) converts in a few seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.frames import MarketFrames
from services.api.contract import Kind
from services.sandbox.store import VersionLog
from services.sandbox.world import World

# MarketFrames field -> the API resource it holds.
RESOURCE_OF: dict[str, str] = {
    "tutors": "tutors",
    "sessions": "sessions",
    "engagement": "engagement_events",
    "availability": "availability_slots",
    "customers": "customers",
    "calls": "inbound_calls",
    "bookings": "bookings",
    "interventions": "interventions",
}

_NAT = np.iinfo(np.int64).min


def _timestamps(values: np.ndarray, nulls: np.ndarray | None) -> pd.DatetimeIndex:
    us = np.asarray(values, dtype=np.int64)
    if nulls is not None and nulls.any():
        us = us.copy()
        us[nulls] = _NAT
    return pd.DatetimeIndex(us.view("datetime64[us]")).tz_localize("UTC")


def _column(kind: Kind, values: np.ndarray, nulls: np.ndarray | None) -> object:
    has_nulls = nulls is not None and bool(nulls.any())
    if kind in (Kind.TIMESTAMP, Kind.DATE):
        return _timestamps(values, nulls)
    if kind == Kind.INT:
        ints = np.asarray(values, dtype=np.int64)
        if nulls is None:
            return ints
        return pd.arrays.IntegerArray(ints, np.asarray(nulls, dtype=bool))
    if kind in (Kind.DECIMAL, Kind.FLOAT):
        floats = np.asarray(values, dtype=np.float64)
        if has_nulls:
            floats = np.where(nulls, np.nan, floats)
        return floats
    if kind == Kind.BOOL:
        bools = np.asarray(values, dtype=bool)
        if has_nulls:
            return pd.arrays.BooleanArray(bools, np.asarray(nulls, dtype=bool))
        return bools
    if kind == Kind.STR_LIST:
        # Shared tuples in the store; the contract says lists (one list per record).
        out = np.empty(len(values), dtype=object)
        out[:] = [list(v) if v is not None else None for v in values]
        return out
    # STR / ENUM: object arrays of str with None for null.
    return pd.array(np.asarray(values, dtype=object), dtype="str")


def _frame(log: VersionLog, now_us: int) -> pd.DataFrame:
    rows = log.current_rows(now_us)
    deleted, deleted_null = log.column("deleted_at", rows)
    if deleted_null is not None:
        rows = rows[deleted_null]
    elif len(rows):
        rows = rows[deleted == 0]
    data: dict[str, object] = {}
    for f in log.resource.fields:
        values, nulls = log.column(f.name, rows)
        data[f.name] = _column(f.kind, values, nulls)
    frame = pd.DataFrame(data, copy=False)
    return frame.sort_values("id", ignore_index=True)


def frames_at(world: World, now_us: int) -> MarketFrames:
    """The marketplace the API shows at ``now_us`` (epoch µs), as validated frames."""
    now_us = int(now_us)
    frames = {name: _frame(world.logs[res], now_us) for name, res in RESOURCE_OF.items()}
    observed = pd.Timestamp(now_us, unit="us", tz="UTC")
    return MarketFrames(**frames, observed_until=observed).validate()
