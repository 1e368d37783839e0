"""Column formatting: the same text as the reference helpers, Rails escaping, nulls."""

from __future__ import annotations

import numpy as np
import orjson

from services.api.contract import RESOURCES
from services.api.rails_time import format_ms, format_us, parse_us
from services.sandbox import rails_json as rj


def test_timestamp_columns_match_the_reference_helpers():
    rng = np.random.default_rng(1)
    special = ("2024-02-29T23:59:59.999999Z", "2000-03-01T00:00:00Z", "1970-01-01T00:00:00Z",
               "1969-12-31T23:59:59.9995Z", "2100-02-28T12:00:00.0005Z")  # fmt: skip
    values = np.concatenate(
        [rng.integers(-(10**15), 4 * 10**15, 2000), [parse_us(t) for t in special]]
    ).astype(np.int64)
    assert rj.format_timestamps(values, 3) == [format_ms(int(v)) for v in values]
    assert rj.format_timestamps(values, 6) == [format_us(int(v)) for v in values]
    assert rj.format_timestamps(values[-3:-2], 0) == ["1970-01-01T00:00:00Z"]
    assert rj.format_time(parse_us("1969-12-31T23:59:59.9995Z")) == "1969-12-31T23:59:59.999Z"


def test_decimals_print_like_bigdecimal():
    values = np.array([40.5, 46.029999999, 0.7000001, 40.0, 0.0, 1234.5, np.nan])
    assert rj.format_decimals(values) == ["40.5", "46.03", "0.7", "40.0", "0.0", "1234.5", None]
    assert rj.format_decimals(values, as_numbers=True) == [
        40.5, 46.03, 0.7, 40.0, 0.0, 1234.5, None,
    ]  # fmt: skip


def test_rails_escaping_and_null_masks():
    res = RESOURCES["managers"]
    names = np.array(['<b>"x"</b> & \u2028\u2029 ✓', "plain", "ignored"], dtype=object)
    cols = {
        "id": (np.array([1, 2, 3]), None),
        "name": (names, np.array([False, False, True])),
        "email": (np.array([None, "a@b", "c@d"], dtype=object), None),
        "created_at": (np.array([0, 0, -1]), np.array([False, True, False])),
        "updated_at": (np.array([5, 6, 7]), None),
        "deleted_at": (np.array([np.iinfo(np.int64).min] * 3), np.array([True] * 3)),
    }
    body = rj.page_body(rj.build_records(res, cols), has_more=False)
    assert b"<" not in body
    assert b"&" not in body
    assert "\u2028".encode() not in body
    assert b'\\u003cb\\u003e\\"x\\"\\u003c/b\\u003e \\u0026 \\u2028\\u2029 \xe2\x9c\x93' in body
    data = orjson.loads(body)["data"]
    assert [r["name"] for r in data] == ['<b>"x"</b> & \u2028\u2029 ✓', "plain", None]
    assert [r["email"] for r in data] == [None, "a@b", "c@d"]
    assert [r["created_at"] for r in data] == [
        "1970-01-01T00:00:00.000Z", None, "1969-12-31T23:59:59.999Z",
    ]  # fmt: skip
    assert all(r["deleted_at"] is None for r in data)
    assert list(data[0]) == ["id", "name", "email", "created_at", "updated_at", "deleted_at"]


def test_one_record_round_trips_through_columns():
    res = RESOURCES["tutors"]
    record = {
        "id": 5, "name": "A", "email": None, "subjects": ("x", "y"), "status": "active",
        "hired_at": 1_000_123, "churned_at": None, "manager_id": 2, "hourly_rate": 40.5,
        "certifications": (), "years_experience": 3, "instant_book_enabled": False,
        "timezone": "UTC", "created_at": 1, "updated_at": 2, "deleted_at": None,
    }  # fmt: skip
    out = rj.format_record(res, record, precision=6)
    assert out["subjects"] == ["x", "y"]
    assert out["certifications"] == []
    assert out["hired_at"] == "1970-01-01T00:00:01.000123Z"
    assert out["hourly_rate"] == "40.5"
    assert out["email"] is None
    assert out["instant_book_enabled"] is False
