"""The SLA clock: durations, business hours across DST and weekends, pause/resume."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.sla import (
    AMBER,
    DONE,
    GREEN,
    OVERDUE,
    PAUSED,
    AroundTheClock,
    SlaClock,
    SlaError,
    TeamCalendar,
    countdown_text,
    local_text,
    queue_key,
)

NY = ZoneInfo("America/New_York")
H = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_around_the_clock_due_is_creation_plus_budget():
    clock = SlaClock(utc(2026, 11, 20, 14), budget=48 * H)
    assert clock.due_at() == utc(2026, 11, 22, 14)
    assert clock.remaining(utc(2026, 11, 21, 14)) == 24 * H


def test_colours_green_then_amber_in_the_last_quarter_then_red():
    clock = SlaClock(utc(2026, 11, 20, 0), budget=48 * H)
    assert clock.state(utc(2026, 11, 21, 11)) == GREEN  # 13 h left > 12 h
    assert clock.state(utc(2026, 11, 21, 12, 0, 1)) == AMBER  # < 25 % left
    assert clock.state(utc(2026, 11, 22, 0)) == OVERDUE
    assert clock.state(utc(2026, 11, 25), status="completed") == DONE


def test_business_hours_skip_the_weekend_and_the_night():
    cal = TeamCalendar("America/New_York")
    # Friday 2026-11-20 16:00 New York (21:00 UTC): 1 h left that day, then Monday.
    created = datetime(2026, 11, 20, 16, tzinfo=NY)
    clock = SlaClock(created, budget=24 * H, calendar=cal)
    due = clock.due_at()
    assert due is not None
    # 1 h Friday + 8 h Mon + 8 h Tue + 7 h Wed = 24 working hours -> Wed 16:00 local.
    assert due.astimezone(NY) == datetime(2026, 11, 25, 16, tzinfo=NY)
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)
    # Over the weekend nothing is used up.
    sat = datetime(2026, 11, 21, 12, tzinfo=NY)
    sun = datetime(2026, 11, 22, 23, tzinfo=NY)
    assert clock.elapsed(sat) == clock.elapsed(sun) == H


def test_business_hours_across_the_daylight_saving_change():
    # US clocks go back on Sunday 2026-11-01: 09:00 New York is 13:00 UTC before and
    # 14:00 UTC after. The working day stays 09:00-17:00 on the wall.
    cal = TeamCalendar("America/New_York")
    created = datetime(2026, 10, 30, 13, tzinfo=NY)  # Friday, EDT
    clock = SlaClock(created, budget=8 * H, calendar=cal)
    due = clock.due_at()
    assert due == datetime(2026, 11, 2, 13, tzinfo=NY)  # Monday, EST: 4 h + 4 h
    assert due.astimezone(UTC).hour == 18  # EST is UTC-5 (it was UTC-4 on Friday)
    assert cal.working_time(created, due) == 8 * H
    # Around the clock, 48 h over the change are 48 real hours (49 on the wall).
    wall = SlaClock(created, budget=48 * H).due_at()
    assert wall - created == 48 * H
    assert wall.astimezone(NY).hour == 12


def test_holidays_are_not_working_days():
    cal = TeamCalendar("America/New_York", holidays=frozenset({date(2026, 11, 26)}))
    created = datetime(2026, 11, 25, 9, tzinfo=NY)  # Wednesday before Thanksgiving
    due = SlaClock(created, budget=16 * H, calendar=cal).due_at()
    assert due == datetime(2026, 11, 27, 17, tzinfo=NY)  # Wed + Fri, Thursday skipped


def test_pause_stops_the_clock_and_resume_moves_the_due_time():
    clock = SlaClock(utc(2026, 11, 20, 0), budget=24 * H)
    paused = clock.pause(utc(2026, 11, 20, 6))
    assert paused.paused and paused.due_at() is None
    assert paused.state(utc(2026, 11, 21, 6)) == PAUSED  # past the old due time
    assert paused.remaining(utc(2026, 11, 22)) == 18 * H
    resumed = paused.resume(utc(2026, 11, 20, 16))
    assert resumed.due_at() == utc(2026, 11, 21, 10)  # 10 h later than planned
    with pytest.raises(SlaError, match="not paused"):
        resumed.resume(utc(2026, 11, 20, 17))
    with pytest.raises(SlaError, match="already paused"):
        paused.pause(utc(2026, 11, 20, 7))


def test_a_pause_after_the_breach_keeps_the_due_time_and_stays_overdue():
    clock = SlaClock(utc(2026, 11, 20), budget=2 * H).pause(utc(2026, 11, 20, 5))
    assert clock.due_at() == utc(2026, 11, 20, 2)
    assert clock.state(utc(2026, 11, 20, 6)) == OVERDUE


def test_before_the_session_deadline_ignores_calendar_and_pauses():
    session = utc(2026, 11, 21, 13)
    clock = SlaClock(utc(2026, 11, 20, 13), deadline=session, calendar=TeamCalendar())
    assert clock.due_at() == session
    assert clock.pause(utc(2026, 11, 20, 14)).due_at() == session
    assert clock.state(utc(2026, 11, 21, 8)) == AMBER  # 5 h of 24 left
    assert clock.state(utc(2026, 11, 21, 13)) == OVERDUE


def test_an_sla_already_in_the_past_is_overdue_at_once():
    session = utc(2026, 11, 19)
    clock = SlaClock(utc(2026, 11, 20), deadline=session)
    assert clock.state(utc(2026, 11, 20)) == OVERDUE
    assert countdown_text(clock.remaining(utc(2026, 11, 20)), OVERDUE) == "24 h 00 min late"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": -H}, "positive"),
        ({}, "either a duration or a fixed deadline"),
        ({"budget": H, "deadline": utc(2026, 11, 21)}, "either"),
    ],
)
def test_bad_slas_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(SlaError, match=message):
        SlaClock(utc(2026, 11, 20), **kwargs)


def test_bad_calendars_are_refused_with_a_reason():
    with pytest.raises(SlaError, match="unknown time zone"):
        TeamCalendar("Mars/Olympus")
    with pytest.raises(SlaError, match="end after"):
        TeamCalendar(start=time(17), end=time(9))
    with pytest.raises(SlaError, match="time zone"):
        SlaClock(datetime(2026, 11, 20), budget=H)


def test_queue_order_puts_the_most_overdue_first_and_done_last():
    now = utc(2026, 11, 20, 12)
    clocks = {
        "late_1h": SlaClock(utc(2026, 11, 20, 9), budget=2 * H),
        "late_5h": SlaClock(utc(2026, 11, 20, 5), budget=2 * H),
        "soon": SlaClock(utc(2026, 11, 20, 11), budget=2 * H),
        "later": SlaClock(utc(2026, 11, 20, 11), budget=20 * H),
        "paused": SlaClock(utc(2026, 11, 20, 11), budget=2 * H).pause(utc(2026, 11, 20, 11)),
    }
    keyed = {
        name: queue_key(c.state(now), c.due_at(now), c.remaining(now)) for name, c in clocks.items()
    }
    keyed["done"] = queue_key(DONE, utc(2026, 11, 19), None)
    order = sorted(keyed, key=keyed.__getitem__)
    assert order == ["late_5h", "late_1h", "soon", "later", "paused", "done"]


def test_times_are_shown_in_the_users_zone():
    assert local_text(utc(2026, 11, 20, 14), NY) == "2026-11-20 09:00 EST"
    assert local_text(utc(2026, 7, 20, 14), NY) == "2026-07-20 10:00 EDT"


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
budgets = st.integers(min_value=1, max_value=200 * 60).map(lambda m: timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(created=instants, budget=budgets)
def test_business_due_time_uses_exactly_the_budget_of_working_time(created, budget):
    cal = TeamCalendar("Europe/Berlin")
    due = SlaClock(created, budget=budget, calendar=cal).due_at()
    assert due is not None and due > created
    assert cal.working_time(created, due) == budget
    local = due.astimezone(cal.zone)
    assert local.weekday() < 5 and time(9) < local.time() <= time(17)


@settings(max_examples=150, deadline=None)
@given(
    created=instants,
    budget=budgets,
    pause_after=st.integers(0, 300),
    pause_for=st.integers(0, 3000),
    business=st.booleans(),
)
def test_a_pause_delays_the_due_time_by_the_counted_time_it_covered(
    created, budget, pause_after, pause_for, business
):
    cal = TeamCalendar("America/New_York") if business else AroundTheClock()
    clock = SlaClock(created, budget=budget, calendar=cal)
    start = created + timedelta(minutes=pause_after)
    end = start + timedelta(minutes=pause_for)
    resumed = clock.pause(start).resume(end)
    due, due2 = clock.due_at(), resumed.due_at()
    assert due is not None and due2 is not None
    if start >= due:  # the pause came after the SLA ran out: nothing moves
        assert due2 == due
    else:
        assert due2 >= due
        assert resumed.elapsed(due2) == budget
        # Counted time before and after the pause adds up to the budget.
        assert cal.working_time(created, start) + cal.working_time(end, due2) == budget
