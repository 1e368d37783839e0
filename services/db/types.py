"""Column types shared by every table, and how each contract kind is stored.

The sync writer's fast path bypasses SQLAlchemy on SQLite and writes values with the
raw ``sqlite3`` driver, so the on-disk form of each kind is part of this module's
contract (a test pins every line of this table):

============  ===========================  =============================================
kind          SQLAlchemy type              SQLite storage (what a raw writer must write)
============  ===========================  =============================================
INT           Integer / BigInteger         INTEGER
STR           String / Text                TEXT
ENUM          String(ENUM_MAX_LENGTH)      TEXT, the raw API value (never a DB enum)
BOOL          Boolean                      INTEGER 0 / 1
TIMESTAMP     UTCDateTime                  TEXT ``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC,
                                           always six fraction digits
                                           (:func:`sqlite_datetime`,
                                           :func:`sqlite_datetime_us`)
DATE          Date                         TEXT ``YYYY-MM-DD``
DECIMAL       Numeric(12, 4); Float on     REAL: write a float (SQLite converts a
              SQLite (see ``Money``)       numeric string like "4.50"); reads a float
FLOAT         Float                        REAL
STR_LIST      JSON                         TEXT, a JSON array (any valid JSON spelling);
                                           None is SQL NULL, not the text ``null``
============  ===========================  =============================================

On PostgreSQL the same types are ``bigint``/``integer``, ``varchar``/``text``,
``boolean``, ``timestamp without time zone`` (naive UTC), ``date``,
``numeric(12, 4)`` (exact), ``double precision`` and ``jsonb``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Float, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

# Enum values are stored raw in String(32). PostgreSQL enforces the length (SQLite does
# not), so the sync must reject a value longer than this instead of letting one
# unknown value fail a whole page's transaction.
ENUM_MAX_LENGTH = 32

EnumText = String(ENUM_MAX_LENGTH)

# SQLAlchemy's default SQLite DATETIME storage format; the raw fast path must match it
# byte for byte so that string comparison in SQL orders instants correctly.
SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

# API ids: BIGINT on PostgreSQL, but INTEGER on SQLite so that an INTEGER PRIMARY KEY
# is the rowid (the fastest lookup and upsert SQLite has).
BigIntId = BigInteger().with_variant(Integer(), "sqlite")

# JSONB on PostgreSQL: comparable (DISTINCT/GROUP BY work) and indexable; JSON text on
# SQLite. none_as_null: Python None is SQL NULL (so IS NULL finds it), not JSON 'null'.
JSONValue = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

# DECIMAL kind: exact NUMERIC(12, 4) on PostgreSQL, floats in Python (asdecimal=False,
# which also spares SQLite's "no native Decimal" warning). On SQLite a FLOAT (REAL
# affinity) column: with NUMERIC affinity SQLite stores 45.0 as the integer 45 and
# hands back an int, and SQLite has no exact decimal storage to lose anyway.
Money = Numeric(12, 4, asdecimal=False).with_variant(Float(), "sqlite")


def to_naive_utc(value: datetime) -> datetime:
    """The naive-UTC form stored in the database.

    Naive input is taken to be UTC already (the API and the app both produce UTC), so it
    passes through unchanged; aware input is converted to UTC first.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"UTCDateTime needs a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


_EPOCH_NAIVE = datetime(1970, 1, 1)


def sqlite_datetime(value: datetime) -> str:
    """The exact text a TIMESTAMP is stored as on SQLite, for raw-driver writers."""
    # isoformat with a forced fraction is SQLITE_DATETIME_FORMAT, several times faster.
    return to_naive_utc(value).isoformat(" ", "microseconds")


def sqlite_datetime_us(us: int) -> str:
    """:func:`sqlite_datetime` from epoch microseconds (``services.api.rails_time``)."""
    return (_EPOCH_NAIVE + timedelta(microseconds=us)).isoformat(" ", "microseconds")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned as an aware UTC datetime.

    Binds aware datetimes (any zone: converted to UTC) and naive datetimes (taken as
    UTC). Anything else raises ``TypeError`` rather than storing a string that sorts
    wrongly. Microseconds are kept on both backends. Literal rendering (offline
    migrations, ``literal_binds``) goes through the same conversion.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return to_naive_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # A driver that hands back an aware value (timestamptz) is still one instant.
        return value.astimezone(UTC)
