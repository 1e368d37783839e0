"""Rails timestamps: every spelling RAILS_API.md allows parses to the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.api.rails_time import (
    TimestampError,
    format_ms,
    format_us,
    from_datetime,
    parse_us,
    to_datetime,
)

BASE = parse_us("2026-11-20T14:03:11.482123Z")


@pytest.mark.parametrize(
    ("text", "expected_us"),
    [
        ("2026-11-20T14:03:11.482Z", BASE - 123),
        ("2026-11-20T14:03:11.482123Z", BASE),
        ("2026-11-20T14:03:11Z", BASE - 482_123),
        ("2026-11-20T14:03:11.482+00:00", BASE - 123),
        ("2026-11-20T09:03:11.482-05:00", BASE - 123),
        ("2026-11-20T15:33:11.482123+0130", BASE),
        ("2026-11-20 14:03:11.482123Z", BASE),
        ("2026-11-20T14:03:11.4821239Z", BASE),  # nanoseconds truncated
    ],
)
def test_accepts_every_rails_spelling(text, expected_us):
    assert parse_us(text) == expected_us


@pytest.mark.parametrize(
    "text",
    ["2026-11-20T14:03:11.482", "2026-11-20", "yesterday", "", "2026-02-30T00:00:00Z", 12345],
)
def test_refuses_naive_or_impossible_timestamps(text):
    with pytest.raises(TimestampError):
        parse_us(text)


def test_formats_truncate_like_rails():
    assert format_ms(BASE) == "2026-11-20T14:03:11.482Z"
    assert format_us(BASE) == "2026-11-20T14:03:11.482123Z"


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
def test_round_trips(dt):
    us = from_datetime(dt.replace(tzinfo=UTC))
    assert parse_us(format_us(us)) == us
    assert parse_us(format_ms(us)) == us - us % 1000
    assert to_datetime(us) == dt.replace(tzinfo=UTC)


@given(st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_offsets_name_the_same_instant(minutes):
    local = to_datetime(BASE).astimezone(
        __import__("datetime").timezone(timedelta(minutes=minutes))
    )
    assert parse_us(local.isoformat()) == BASE
