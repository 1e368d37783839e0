"""The SLA clock of an intervention: pure time arithmetic, no database, no Qt.

An SLA is a *budget* of counted time that starts when the intervention is created.
Time counts around the clock, or only in the team's business hours (a calendar in the
team's own time zone: working days, hours, holidays). The clock can be paused while the
team waits on the tutor; paused time does not count. A first-session prep has a fixed
deadline instead (the session's start), which neither pausing nor the calendar moves:
the session will not wait.

All instants are timezone-aware UTC; the calendar converts through ``zoneinfo``, so a
working day that crosses a daylight-saving change is as long as the clock on the wall
says (09:00-17:00 is 8 hours either side of the change).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Amber in the last quarter of the budget (issue 5).
AMBER_SHARE = 0.25
# A calendar that cannot produce working time within this many days is a configuration
# mistake (e.g. every day a holiday), not a reason to loop forever.
MAX_CALENDAR_DAYS = 3 * 366

ZERO = timedelta(0)

# SLA states, in queue order: overdue first, finished work last.
OVERDUE, AMBER, GREEN, PAUSED, NO_SLA, DONE = (
    "overdue",
    "due_soon",
    "on_track",
    "paused",
    "none",
    "done",
)
STATE_ORDER = {OVERDUE: 0, AMBER: 1, GREEN: 2, PAUSED: 3, NO_SLA: 4, DONE: 5}
COLOUR = {OVERDUE: "red", AMBER: "amber", GREEN: "green", PAUSED: "grey", NO_SLA: "grey"}
FINISHED_STATUSES = frozenset({"completed", "cancelled"})


class SlaError(ValueError):
    """An SLA or calendar that cannot work; the message says what to change."""


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None:
        raise SlaError(f"{what} must carry a time zone (times are stored in UTC)")
    return at.astimezone(UTC)


@dataclass(frozen=True)
class TeamCalendar:
    """Working hours of the team in its own zone. ``workdays``: Monday = 0."""

    timezone: str = "America/New_York"
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SlaError(f"unknown time zone {self.timezone!r}") from None
        if not self.workdays or not set(self.workdays) <= set(range(7)):
            raise SlaError("workdays must name at least one day, Monday = 0 .. Sunday = 6")
        if self.end <= self.start:
            raise SlaError("the working day must end after it starts")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _day_window(self, day: date) -> tuple[datetime, datetime] | None:
        return _day_window(self, day)

    def windows(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows (UTC) that end after ``since``, clipped to start at it."""
        since = _aware(since, "since")
        day = since.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(MAX_CALENDAR_DAYS):
            window = self._day_window(day)
            day += timedelta(days=1)
            if window is None or window[1] <= since:
                continue
            yield max(window[0], since), window[1]
        raise SlaError(f"the team calendar has no working time within {MAX_CALENDAR_DAYS} days")

    def working_time(self, a: datetime, b: datetime) -> timedelta:
        """Working time between ``a`` and ``b`` (zero when ``b <= a``)."""
        a, b = _aware(a, "a"), _aware(b, "b")
        total = ZERO
        if b <= a:
            return total
        for start, end in self.windows(a):
            if start >= b:
                break
            total += min(end, b) - start
        return total

    def add(self, at: datetime, amount: timedelta) -> datetime:
        """The instant when ``amount`` of working time has passed after ``at``."""
        at = _aware(at, "at")
        left = amount
        if left <= ZERO:
            return at
        for start, end in self.windows(at):
            if end - start >= left:
                return start + left
            left -= end - start
        raise AssertionError("unreachable: windows() raises first")


@lru_cache(maxsize=8192)
def _day_window(cal: TeamCalendar, day: date) -> tuple[datetime, datetime] | None:
    """A working day's window in UTC (cached: a queue of thousands of clocks asks for
    the same few weeks of days on every countdown tick)."""
    if day.weekday() not in cal.workdays or day in cal.holidays:
        return None
    zone = ZoneInfo(cal.timezone)
    start = datetime.combine(day, cal.start, zone).astimezone(UTC)
    end = datetime.combine(day, cal.end, zone).astimezone(UTC)
    return start, end


# A clock that counts every minute (no business-hours mode).
class AroundTheClock:
    def working_time(self, a: datetime, b: datetime) -> timedelta:
        return max(ZERO, _aware(b, "b") - _aware(a, "a"))

    def add(self, at: datetime, amount: timedelta) -> datetime:
        return _aware(at, "at") + max(ZERO, amount)


Calendar = TeamCalendar | AroundTheClock


@dataclass(frozen=True)
class Pause:
    started: datetime
    ended: datetime | None = None  # None: still paused


@dataclass(frozen=True)
class SlaClock:
    """One intervention's clock. Either ``budget`` (counted time) or ``deadline``."""

    created_at: datetime
    budget: timedelta | None = None
    deadline: datetime | None = None
    calendar: Calendar = field(default_factory=AroundTheClock)
    pauses: tuple[Pause, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", _aware(self.created_at, "created_at"))
        if (self.budget is None) == (self.deadline is None):
            raise SlaError("an SLA has either a duration or a fixed deadline")
        if self.budget is not None and self.budget <= ZERO:
            raise SlaError("an SLA duration must be positive")
        if self.deadline is not None:
            object.__setattr__(self, "deadline", _aware(self.deadline, "deadline"))
        last = self.created_at
        for i, p in enumerate(self.pauses):
            started = _aware(p.started, "a pause's start")
            ended = None if p.ended is None else _aware(p.ended, "a pause's end")
            if started < last or (ended is not None and ended < started):
                raise SlaError("pauses must follow the creation and each other in order")
            if ended is None and i != len(self.pauses) - 1:
                raise SlaError("only the last pause can still be running")
            last = ended or started

    # ------------------------------------------------------------------ pausing

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].ended is None

    def pause(self, at: datetime) -> SlaClock:
        if self.paused:
            raise SlaError("the SLA clock is already paused")
        return _replace_pauses(self, (*self.pauses, Pause(_aware(at, "at"))))

    def resume(self, at: datetime) -> SlaClock:
        if not self.paused:
            raise SlaError("the SLA clock is not paused")
        last = self.pauses[-1]
        return _replace_pauses(self, (*self.pauses[:-1], Pause(last.started, _aware(at, "at"))))

    # ------------------------------------------------------------------ reading

    def _running(self, until: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Stretches of wall time when the clock ran, from creation to ``until``."""
        start = self.created_at
        for p in self.pauses:
            if p.started >= until:
                break
            if p.started > start:
                yield start, p.started
            if p.ended is None:
                return
            start = max(start, p.ended)
        if until > start:
            yield start, until

    def elapsed(self, now: datetime) -> timedelta:
        """Counted time used so far (for a deadline: wall time since creation)."""
        now = _aware(now, "now")
        if self.deadline is not None:
            return max(ZERO, now - self.created_at)
        return sum((self.calendar.working_time(a, b) for a, b in self._running(now)), start=ZERO)

    def total(self) -> timedelta:
        """The whole budget (for a deadline: creation to deadline)."""
        if self.deadline is not None:
            return max(ZERO, self.deadline - self.created_at)
        assert self.budget is not None
        return self.budget

    def remaining(self, now: datetime) -> timedelta:
        """Counted time left; negative once overdue."""
        now = _aware(now, "now")
        if self.deadline is not None:
            return self.deadline - now
        due = self._due
        last = self.pauses[-1].ended if self.pauses else None
        if due is not None and (not self.pauses or (last is not None and last <= min(now, due))):
            # No pause between now and the due time: count just that stretch (a queue
            # of thousands recomputes this every tick; from creation would be slow).
            if now <= due:
                return self.calendar.working_time(now, due)
            return -self.calendar.working_time(due, now)
        return self.total() - self.elapsed(now)

    def due_at(self, now: datetime | None = None) -> datetime | None:
        """When the SLA runs out; ``None`` while paused with time left (it depends on
        when the clock resumes). It does not depend on ``now`` (kept for callers)."""
        return self._due

    @cached_property
    def _due(self) -> datetime | None:
        # A clock is immutable (pause/resume make new ones): its due time is computed once.
        if self.deadline is not None:
            return self.deadline
        assert self.budget is not None
        left = self.budget
        segments = list(self._running(datetime.max.replace(tzinfo=UTC)))
        for a, b in segments[:-1] if not self.paused else segments:
            worked = self.calendar.working_time(a, b)
            if worked >= left:
                return self.calendar.add(a, left)
            left -= worked
        if self.paused:
            return None
        a = segments[-1][0] if segments else self.created_at
        return self.calendar.add(a, left)

    def state(self, now: datetime, status: str = "open") -> str:
        """done / overdue (red) / due_soon (amber, last 25 %) / paused / on_track (green)."""
        return self.snapshot(now, status)[0]

    def snapshot(self, now: datetime, status: str = "open") -> tuple[str, timedelta | None]:
        """(state, time left) in one pass; time left is None once finished."""
        if status in FINISHED_STATUSES:
            return DONE, None
        left = self.remaining(now)
        return self._state(left), left

    def _state(self, left: timedelta) -> str:
        if left <= ZERO:
            return OVERDUE
        if self.paused:
            return PAUSED
        if left <= self.total() * AMBER_SHARE:
            return AMBER
        return GREEN


def _replace_pauses(clock: SlaClock, pauses: Sequence[Pause]) -> SlaClock:
    return SlaClock(clock.created_at, clock.budget, clock.deadline, clock.calendar, tuple(pauses))


def queue_key(state: str, due: datetime | None, remaining: timedelta | None) -> tuple:
    """Sort key of the queue: overdue first (most overdue first), then soonest due;
    paused and SLA-less after the running ones, finished work last."""
    rank = STATE_ORDER.get(state, len(STATE_ORDER))
    if remaining is not None and state != DONE:
        return (rank, remaining.total_seconds())
    return (rank, due.timestamp() if due else float("inf"))


def countdown_text(remaining: timedelta | None, state: str) -> str:
    """ "in 3 h 05 min", "2 days late", "paused, 5 h left"."""
    if state == DONE:
        return "done"
    if remaining is None:
        return "–"
    s = abs(remaining.total_seconds())
    if s < 3600:
        text = f"{s // 60:.0f} min"
    elif s < 48 * 3600:
        text = f"{s // 3600:.0f} h {s % 3600 // 60:02.0f} min"
    else:
        text = f"{s / 86400:.1f} days"
    if state == PAUSED:
        return f"paused, {text} left"
    return f"{text} late" if remaining <= ZERO else f"in {text}"


def local_text(at: datetime | None, zone: ZoneInfo | None = None) -> str:
    """A stored UTC instant in the user's zone (the system's by default)."""
    if at is None:
        return "–"
    shown = at.astimezone(zone) if zone is not None else at.astimezone()
    return shown.strftime("%Y-%m-%d %H:%M %Z")
