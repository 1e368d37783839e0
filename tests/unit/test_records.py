"""Page validation: good records pass, bad ones become rejects with a readable reason."""

from __future__ import annotations

import orjson
import pytest

from services.api.records import validate_page

GOOD = {
    "id": 373,
    "booking_id": 387,
    "tutor_id": 213,
    "customer_id": 1413,
    "subject": "chemistry",
    "start_time": "2026-05-26T03:00:00.000Z",
    "end_time": "2026-05-26T04:00:00.000Z",
    "status": "completed",
    "rating": 4,
    "first_session": True,
    "rescheduled_by": None,
    "reschedule_count": 0,
    "technical_issue": False,
    "learning_objectives_met": "0.84",
    "price": "46.03",
    "tutor_earnings": "28.77",
    "created_at": "2026-05-18T04:29:16.166Z",
    "updated_at": "2026-05-26T04:37:12.321Z",
    "deleted_at": None,
}


def _validate(*records):
    body = orjson.dumps({"data": list(records), "meta": {"has_more": False}})
    return validate_page("sessions", body)


def test_a_clean_rails_record_is_typed():
    page = _validate(GOOD)
    assert not page.rejects and not page.flags
    row = page.rows[0]
    # Timestamps leave validation as UTC text in the database's storage format.
    assert row["start_time"] == "2026-05-26 03:00:00.000000"
    assert row["learning_objectives_met"] == "0.84"  # converted by the writer
    assert page.last_key.id == 373 and not page.last_key.exact


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"rating": 9}, "rating: Input should be less than or equal to 5 (got 9)"),
        ({"id": "373"}, "id: Input should be a valid integer"),
        ({"id": None}, "id: Input should be a valid integer"),
        ({"updated_at": None}, "updated_at: Input should be an ISO 8601 timestamp with a time"),
        ({"start_time": "2026-05-26T03:00:00.000"}, "start_time: Input should be an ISO 8601"),
        ({"end_time": "2026-02-30T03:00:00.000Z"}, "end_time: not a valid timestamp"),
        ({"end_time": "2026-05-26T03:00:00.000-05:00"}, None),
        ({"first_session": "yes"}, "first_session: Input should be a valid boolean"),
        ({"price": "lots"}, "price"),
        ({"learning_objectives_met": "1.5"}, "learning_objectives_met"),
        ({"status": "x" * 40}, "status: String should have at most 32 characters"),
    ],
)
def test_bad_records_are_rejected_with_the_field_and_the_rest_survive(change, reason):
    bad = GOOD | change | {"id": change.get("id", 374)}
    page = _validate(GOOD, bad)
    if reason is None:  # a control: an offset is fine, converted to UTC
        assert [r["id"] for r in page.rows] == [373, 374]
        assert page.rows[1]["end_time"] == "2026-05-26 08:00:00.000000"
        return
    assert [r["id"] for r in page.rows] == [373]
    assert len(page.rejects) == 1
    assert reason in page.rejects[0].reason
    assert orjson.loads(page.rejects[0].raw) == bad


def test_missing_fields_are_null_unknown_fields_ignored_unknown_enums_flagged():
    record = {k: v for k, v in GOOD.items() if k not in ("rating", "price")}
    record |= {"status": "on_leave", "legacy_score": 7}
    page = _validate(record)
    assert not page.rejects
    assert page.rows[0]["rating"] is None and "legacy_score" not in page.rows[0]
    assert [(f.record_id, f.field, f.value) for f in page.flags] == [(373, "status", "on_leave")]


def test_decimals_as_numbers_and_microsecond_keys():
    page = _validate(GOOD | {"price": 46.03, "updated_at": "2026-05-26T04:37:12.321456Z"})
    assert page.rows[0]["price"] == 46.03
    assert page.last_key.exact


def test_the_cursor_key_skips_a_trailing_record_without_id():
    tail = {k: v for k, v in GOOD.items() if k != "id"}
    page = _validate(GOOD, tail)
    assert page.last_key.id == 373
    assert len(page.rejects) == 1 and page.rejects[0].record_id is None


@pytest.mark.parametrize(
    "body",
    [b'{"data": [{"id": 1', b"<html>oops</html>", b'{"data": []}', b'{"meta": {"has_more": true}}'],
)
def test_a_body_that_is_not_a_page_is_invalid_not_rejects(body):
    from services.api.records import InvalidPageError

    with pytest.raises(InvalidPageError):
        validate_page("sessions", body)


def test_a_calendar_error_in_a_clean_page_keeps_the_raw_record():
    bad = GOOD | {"id": 374, "end_time": "2026-02-30T03:00:00.000Z"}
    page = _validate(GOOD, bad)
    assert [r["id"] for r in page.rows] == [373]
    assert orjson.loads(page.rejects[0].raw) == bad
    assert page.size == 2 and page.has_more is False
