"""Rails timestamp conventions, both directions.

Internally a timestamp is an ``int`` of microseconds since the Unix epoch, UTC: exact,
hashable, cheap to compare and to store, and free of the naive/aware confusion of
``datetime``. Rails stores microseconds and by default *emits* milliseconds, truncated;
the server side formats with :func:`format_ms` (or :func:`format_us` when configured
with ``time_precision = 6``), the client parses whatever arrives with :func:`parse_us`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_SECOND = 1_000_000
US_PER_HOUR = 3600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR

# "2026-11-20T14:03:11.482Z", "...11Z", "...11.482123Z", "...11+00:00", "...11.4-05:00".
# Also a space instead of "T" (what some serialisers and a raw "+"-decoded query give).
_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(?:(Z|z)|([+-])(\d{2}):?(\d{2}))$"
)


class TimestampError(ValueError):
    """A timestamp that is not ISO 8601 with a UTC designator or an offset."""


def parse_us(text: str) -> int:
    """Parse an ISO 8601 timestamp with a zone into epoch microseconds (UTC).

    Naive timestamps (no ``Z`` and no offset) are refused: guessing their zone would
    silently shift every session by hours.
    """
    m = _TS.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise TimestampError(f"not an ISO 8601 timestamp with a time zone: {text!r}")
    y, mo, d, h, mi, s, frac, z, sign, oh, om = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
    except ValueError as exc:
        raise TimestampError(f"impossible timestamp {text!r}: {exc}") from None
    us = int((dt - EPOCH) // timedelta(microseconds=1))
    if frac:
        # Beyond microseconds is truncated, like Rails does going the other way.
        us += int(frac[:6].ljust(6, "0"))
    if not z:
        offset = (int(oh) * 60 + int(om)) * 60 * US_PER_SECOND
        us -= offset if sign == "+" else -offset
    return us


# What pydantic checks in Rust before utc_text runs: ISO 8601 shape with a zone.
ISO_WITH_ZONE = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"([.,]\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})$"
)


def utc_text(text: str) -> str:
    """An ISO 8601 timestamp with a zone as ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC.

    That is the local database's storage form (``services.db.types``), so the sync
    writes it as is. The Rails default spelling (``...SS.mmmZ``) takes a slicing fast
    path after ``fromisoformat`` has checked the calendar (no 30 February); anything
    else goes through a full conversion. Raises TimestampError.
    """
    try:
        dt = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise TimestampError(f"not a valid timestamp: {text!r}") from None
    if dt.tzinfo is None:
        raise TimestampError(f"timestamp without a time zone: {text!r}")
    if len(text) == 24 and text[23] == "Z" and text[19] == ".":
        return f"{text[:10]} {text[11:23]}000"
    if len(text) == 27 and text[26] == "Z" and text[19] == ".":
        return f"{text[:10]} {text[11:26]}"
    return dt.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def utc_text_to_us(text: str) -> int:
    """Epoch microseconds of a :func:`utc_text` string."""
    return from_datetime(datetime.fromisoformat(text).replace(tzinfo=UTC))


def format_ms(us: int) -> str:
    """Rails' default JSON: milliseconds, truncated, with ``Z``."""
    dt = EPOCH + timedelta(microseconds=us - us % 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{(us // 1000) % 1000:03d}Z"


def format_us(us: int) -> str:
    """Rails with ``ActiveSupport::JSON::Encoding.time_precision = 6``."""
    dt = EPOCH + timedelta(microseconds=us)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{us % US_PER_SECOND:06d}Z"


def to_datetime(us: int) -> datetime:
    """Epoch microseconds to an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=us)


def from_datetime(dt: datetime) -> int:
    """Aware datetime to epoch microseconds; naive datetimes are taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int((dt - EPOCH) // timedelta(microseconds=1))


def format_date(us: int) -> str:
    return to_datetime(us).date().isoformat()


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise TimestampError(f"not an ISO 8601 date: {text!r}") from None
