"""UTCDateTime and the storage format of every kind (what the raw SQLite writer relies on)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import DBAPIError, StatementError

from services.api.rails_time import from_datetime
from services.db.models import Customer, Tutor, TutoringSession
from services.db.types import (
    ENUM_MAX_LENGTH,
    SQLITE_DATETIME_FORMAT,
    sqlite_datetime,
    sqlite_datetime_us,
    to_naive_utc,
)

EST = timezone(timedelta(hours=-5))
UPDATED = datetime(2026, 11, 20, 14, 3, 11, 482123, tzinfo=UTC)


def store_session(engine: Engine, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(insert(TutoringSession), {"id": 1, "updated_at": UPDATED, **values})


def load_session(engine: Engine, *columns):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(*columns).where(TutoringSession.id == 1)).one()


def test_aware_values_come_back_as_the_same_instant_in_utc(migrated: Engine) -> None:
    start = datetime(2026, 11, 20, 9, 3, 11, 482123, tzinfo=EST)
    store_session(migrated, start_time=start)
    (back,) = load_session(migrated, TutoringSession.start_time)
    assert back == start  # the same instant ...
    assert back.tzinfo is UTC  # ... expressed in UTC
    assert (back.hour, back.microsecond) == (14, 482123)


def test_naive_values_are_taken_as_utc(migrated: Engine) -> None:
    store_session(migrated, start_time=datetime(2026, 11, 20, 14, 3, 11, 1))
    (back,) = load_session(migrated, TutoringSession.start_time)
    assert back == datetime(2026, 11, 20, 14, 3, 11, 1, tzinfo=UTC)


def test_microseconds_order_correctly_in_sql(migrated: Engine) -> None:
    # The sync's keyset cursor compares (updated_at, id) in SQL at microsecond level,
    # with aware bind parameters in any zone.
    with migrated.begin() as conn:
        conn.execute(insert(TutoringSession), [
            {"id": i, "updated_at": UPDATED + timedelta(microseconds=i)} for i in range(1, 4)
        ])  # fmt: skip
        bound = (UPDATED + timedelta(microseconds=1)).astimezone(EST)
        ids = conn.execute(
            select(TutoringSession.id).where(TutoringSession.updated_at > bound)
        ).scalars()
        assert sorted(ids) == [2, 3]


def test_non_datetimes_are_refused(migrated: Engine) -> None:
    with pytest.raises(StatementError, match="UTCDateTime needs a datetime"):
        store_session(migrated, start_time="2026-11-20T14:03:11Z")


def test_decimals_are_exact_and_read_as_floats(migrated: Engine) -> None:
    store_session(migrated, price=12.3456, tutor_earnings=0.1, learning_objectives_met=1)
    price, earnings, met = load_session(
        migrated,
        TutoringSession.price,
        TutoringSession.tutor_earnings,
        TutoringSession.learning_objectives_met,
    )
    assert (price, earnings, met) == (12.3456, 0.1, 1.0)
    assert all(type(v) is float for v in (price, earnings, met))


def test_lists_booleans_dates_round_trip(migrated: Engine) -> None:
    with migrated.begin() as conn:
        conn.execute(insert(Tutor), {
            "id": 7, "updated_at": UPDATED, "subjects": ["Math", "Spanish"],
            "certifications": None, "instant_book_enabled": False,
        })  # fmt: skip
        row = conn.execute(
            select(Tutor.subjects, Tutor.certifications, Tutor.instant_book_enabled)
        ).one()
        assert tuple(row) == (["Math", "Spanish"], None, False)
        # None is SQL NULL, so IS NULL finds it (not the JSON text 'null').
        assert conn.execute(select(Tutor.id).where(Tutor.certifications.is_(None))).all()


@pytest.mark.postgres
def test_postgres_enforces_the_enum_length(postgres_url: str) -> None:
    # Why the sync must reject a raw enum value longer than ENUM_MAX_LENGTH.
    from services.db.engine import make_engine
    from services.db.migrate import migrate

    eng = make_engine(postgres_url)
    try:
        migrate(eng)
        store_session(eng, status="x" * ENUM_MAX_LENGTH)
        with pytest.raises(DBAPIError, match="too long"), eng.begin() as conn:
            conn.execute(update(TutoringSession).values(status="x" * (ENUM_MAX_LENGTH + 1)))
    finally:
        eng.dispose()


# --- SQLite storage formats, pinned -------------------------------------------------


@pytest.fixture
def sqlite_db(tmp_path):  # type: ignore[no-untyped-def]
    from services.db.engine import make_engine
    from services.db.migrate import migrate

    eng = make_engine(f"sqlite:///{tmp_path / 'formats.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def test_sqlite_storage_of_each_kind(sqlite_db: Engine) -> None:
    with sqlite_db.begin() as conn:
        conn.execute(insert(Tutor), {
            "id": 7, "updated_at": UPDATED.astimezone(EST), "subjects": ["Math"],
            "instant_book_enabled": True, "hourly_rate": 45.5,
            "hired_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        })  # fmt: skip
        conn.execute(
            insert(TutoringSession), {"id": 1, "updated_at": UPDATED, "first_session": False}
        )
        raw = conn.exec_driver_sql(
            "SELECT updated_at, hired_at, subjects, instant_book_enabled, hourly_rate, "
            "typeof(hourly_rate), typeof(id) FROM tutors"
        ).one()
        session_bool = conn.exec_driver_sql("SELECT first_session FROM sessions").scalar()
    assert raw[0] == "2026-11-20 14:03:11.482123"  # naive UTC, six fraction digits
    assert raw[1] == "2026-01-02 03:04:05.000000"
    assert json.loads(raw[2]) == ["Math"]
    assert (raw[3], session_bool) == (1, 0)
    assert (raw[4], raw[5]) == (45.5, "real")
    assert raw[6] == "integer"


def test_sqlite_rows_written_raw_read_back_through_sqlalchemy(sqlite_db: Engine) -> None:
    # The sync's fast path: strings in the documented formats straight to the driver.
    customer = (5, sqlite_datetime(UPDATED), "2026-11-01", "active")
    tutor = (7, sqlite_datetime_us(from_datetime(UPDATED)), '["Math","Art"]', 1, "4.50")
    with sqlite_db.begin() as conn:
        driver = conn.connection.driver_connection
        driver.executemany(
            "INSERT INTO customers (id, updated_at, signup_date, status) VALUES (?, ?, ?, ?)",
            [customer],
        )
        driver.executemany(
            "INSERT INTO tutors (id, updated_at, subjects, instant_book_enabled, hourly_rate)"
            " VALUES (?, ?, ?, ?, ?)",
            [tutor],
        )

    with sqlite_db.connect() as conn:
        c = conn.execute(select(Customer.updated_at, Customer.signup_date)).one()
        t = conn.execute(
            select(Tutor.updated_at, Tutor.subjects, Tutor.instant_book_enabled, Tutor.hourly_rate)
        ).one()
    assert tuple(c) == (UPDATED, date(2026, 11, 1))
    assert tuple(t) == (UPDATED, ["Math", "Art"], True, 4.5)


def test_formatting_helpers_agree() -> None:
    aware = datetime(2026, 3, 4, 0, 0, 0, tzinfo=EST)
    assert sqlite_datetime(aware) == "2026-03-04 05:00:00.000000"
    assert sqlite_datetime(aware) == to_naive_utc(aware).strftime(SQLITE_DATETIME_FORMAT)
    assert sqlite_datetime_us(from_datetime(aware)) == sqlite_datetime(aware)
    assert sqlite_datetime_us(-1) == "1969-12-31 23:59:59.999999"
