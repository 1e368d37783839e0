"""Loading the marketplace from the local database into ``ml.frames.MarketFrames``.

Columns are read with the raw driver and converted per column (text timestamps parse in
one vectorised call), which is several times faster than ``pd.read_sql`` on millions of
rows. Soft-deleted records are left out. ``observed_until`` is the newest moment the
data covers (the newest ``updated_at`` synced), so labels are censored where our
knowledge of the marketplace ends, not at the wall clock, which may be days later on a
laptop that has been offline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import Engine, func, select

from ml.frames import COLUMNS, TIMESTAMP_COLUMNS, MarketFrames
from services.api.contract import RESOURCES, Kind, Resource
from services.db.models import resource_table

# frame name -> API resource it comes from
SOURCES: dict[str, str] = {
    "tutors": "tutors",
    "sessions": "sessions",
    "engagement": "engagement_events",
    "availability": "availability_slots",
    "customers": "customers",
    "calls": "inbound_calls",
    "bookings": "bookings",
    "interventions": "interventions",
}
LIST_COLUMNS = frozenset({"subjects", "certifications"})
SQLITE_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def load_frames(engine: Engine, frames: tuple[str, ...] | None = None) -> MarketFrames:
    """Every frame of ``MarketFrames`` (or only ``frames``; the rest empty)."""
    wanted = set(frames or SOURCES)
    empty = MarketFrames.empty()
    loaded: dict[str, pd.DataFrame] = {}
    with engine.connect() as conn:
        for name, resource in SOURCES.items():
            if name not in wanted:
                loaded[name] = getattr(empty, name)
                continue
            table = resource_table(resource)
            cols = COLUMNS[name]
            q = select(*(table.c[c] for c in cols))
            if "deleted_at" in table.c:
                q = q.where(table.c.deleted_at.is_(None))
            if resource == "interventions":
                q = q.where(table.c.id.is_not(None))  # local drafts are not data yet
            # The raw driver's plain tuples: SQLAlchemy Row objects cost pandas a failed
            # attribute lookup per row; and on SQLite timestamps stay text, parsed in one
            # vectorised call instead of one datetime per value.
            sql = str(q.compile(engine, compile_kwargs={"literal_binds": True}))
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(sql)
                rows = cursor.fetchall()
            finally:
                cursor.close()
            loaded[name] = _frame(rows, cols, RESOURCES[resource])
        observed = _observed_until(conn, engine)
    return MarketFrames(**loaded, observed_until=observed).validate()


def _frame(rows: list[Any], cols: tuple[str, ...], resource: Resource) -> pd.DataFrame:
    """Typed like ``services.sandbox.frames.frames_at`` whatever the driver returned
    (SQLite 0/1 and text, psycopg bool and Decimal): timestamps UTC, nullable integers
    ``Int64``, booleans ``bool`` (``boolean`` when some are missing), decimals float64,
    lists as lists; rows in id order."""
    df = pd.DataFrame.from_records(rows, columns=list(cols))
    fields = {f.name: f for f in resource.fields}
    for col in cols:
        f = fields.get(col)
        kind = f.kind if f is not None else None
        if col in TIMESTAMP_COLUMNS:
            df[col] = _to_utc(df[col])
        elif col in LIST_COLUMNS:
            df[col] = [orjson.loads(v) if isinstance(v, str | bytes) else v for v in df[col]]
        elif kind is Kind.BOOL:
            values = df[col].astype("boolean")
            df[col] = values.astype(bool) if not values.isna().any() else values
        elif kind in (Kind.DECIMAL, Kind.FLOAT):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        elif kind is Kind.INT:
            numbers = pd.to_numeric(df[col], errors="coerce")
            df[col] = numbers.astype("Int64") if f.nullable else numbers.astype("int64")
    return df.sort_values("id", ignore_index=True)


def _to_utc(values: pd.Series) -> pd.Series:
    if len(values) and isinstance(values.iloc[0], str):
        # Dates ("YYYY-MM-DD") and timestamps share the column kind here.
        fmt = SQLITE_TS_FORMAT if len(values.iloc[0]) > 10 else "%Y-%m-%d"
        out = pd.to_datetime(values, format=fmt, utc=True, errors="coerce")
    else:
        out = pd.to_datetime(values, utc=True)
    return out.astype("datetime64[us, UTC]")


def _observed_until(conn: Any, engine: Engine) -> pd.Timestamp:
    newest = [
        conn.execute(select(func.max(resource_table(r).c.updated_at))).scalar()
        for r in ("sessions", "engagement_events", "bookings")
    ]
    newest = [pd.Timestamp(t) for t in newest if t is not None]
    if not newest:
        return pd.Timestamp(datetime.now(UTC))
    return max(t if t.tzinfo else t.tz_localize("UTC") for t in newest).tz_convert("UTC")
