"""When background jobs are due: DOMAIN.md "Schedules", as plain logic with no Qt.

The desktop's scheduler view model ticks a timer and asks :class:`Scheduler` what is
due; the headless worker could do the same from a loop. Everything here takes ``now``
as an argument, so tests move time by hand (daylight-saving changes included).

- Sync cadences per resource live in ``services.sync.engine.SyncEngine.due_resources``
  (they depend on the database); this module covers the jobs of
  :mod:`services.jobs`.
- ``AFTER_SYNC`` jobs run after a sync that changed data, at most every
  ``min_interval``; a change that lands inside the interval is not lost: the job stays
  due until it has seen it.
- ``NIGHTLY`` jobs run at ``nightly_at`` local time; ``DAILY`` jobs once per local day.
  A run missed while the app was closed is caught up at the next start, once (not once
  per missed night).
- First run: while no trained model exists (``models_missing``, told by the caller, who
  looks at the model registry), a job that ``trains_models`` is due as soon as there is
  synced data (the catch-up of the nightly run that never happened), and is retried
  after each later data change if it failed (too little history yet); jobs that
  ``needs_models`` wait instead of failing. A manager opening the app for the first time
  thus gets predictions after the first sync: sync, train, score.

The state (last attempts, the latest data change, a short run history) is a small JSON
file in the app's data folder, written atomically.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.jobs import AFTER_SYNC, DAILY, NIGHTLY, JobRegistry

log = logging.getLogger(__name__)

STATE_VERSION = 1
HISTORY_LIMIT = 200
# A nightly run this late after its time counts as "caught up" (the app was closed).
CATCH_UP_AFTER = timedelta(minutes=10)


# ---------------------------------------------------------------------- time zones


def parse_hhmm(text: str) -> time:
    """``"02:00"`` -> ``time(2, 0)``; raises ValueError on anything else."""
    try:
        hh, mm = text.strip().split(":")
        return time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise ValueError(f"expected a time as HH:MM, got {text!r}") from None


def system_zone() -> tzinfo:
    """The machine's IANA zone when it can be named (DST-aware), else its current offset."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        marker = "zoneinfo" + os.sep
        if marker in target:
            return ZoneInfo(target.split(marker, 1)[1])
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else UTC


def user_zone(name: str | None) -> tzinfo:
    """The user's zone from Settings (an IANA name), or the system's."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("unknown time zone %r in settings; using the system's", name)
    return system_zone()


def latest_occurrence(now: datetime, at: time, tz: tzinfo) -> datetime:
    """The latest instant at or before ``now`` whose local wall-clock time is ``at``.

    On a spring-forward day a wall time that does not exist (02:30 in New York) maps to
    the instant zoneinfo gives it (the pre-transition offset): one run, never zero.
    """
    local = now.astimezone(tz)
    candidate = datetime.combine(local.date(), at, tzinfo=tz)
    if candidate.astimezone(UTC) > now.astimezone(UTC):
        candidate = datetime.combine(local.date() - timedelta(days=1), at, tzinfo=tz)
    return candidate.astimezone(UTC)


def next_occurrence(now: datetime, at: time, tz: tzinfo) -> datetime:
    local = now.astimezone(tz)
    for days in (0, 1, 2):
        candidate = datetime.combine(local.date() + timedelta(days=days), at, tzinfo=tz)
        if candidate.astimezone(UTC) > now.astimezone(UTC):
            return candidate.astimezone(UTC)
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------- state


@dataclass
class JobRun:
    name: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"  # running / ok / failed / cancelled
    summary: str = ""
    # The data change an AFTER_SYNC run started from; it counts as seen only if the
    # run succeeds (a failed scoring is retried after its interval, not forgotten).
    change_seen: datetime | None = None

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trigger": self.trigger,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "summary": self.summary,
            "change_seen": self.change_seen.isoformat() if self.change_seen else None,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> JobRun:
        return cls(
            name=str(raw["name"]),
            trigger=str(raw.get("trigger", "")),
            started_at=_dt(raw["started_at"]),
            finished_at=_dt(raw["finished_at"]) if raw.get("finished_at") else None,
            status=str(raw.get("status", "unknown")),
            summary=str(raw.get("summary", "")),
            change_seen=_dt(raw["change_seen"]) if raw.get("change_seen") else None,
        )


@dataclass
class ScheduleState:
    # job name -> trigger -> when the last run on that trigger started
    last_attempt: dict[str, dict[str, datetime]] = field(default_factory=dict)
    # the latest sync that changed data
    data_changed_at: datetime | None = None
    # job name -> the data_changed_at its latest AFTER_SYNC run started from
    seen_change: dict[str, datetime] = field(default_factory=dict)
    history: list[JobRun] = field(default_factory=list)

    def attempt(self, name: str, trigger: str) -> datetime | None:
        return self.last_attempt.get(name, {}).get(trigger)

    def any_attempt(self, name: str) -> datetime | None:
        times = list(self.last_attempt.get(name, {}).values())
        return max(times) if times else None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "last_attempt": {
                n: {t: v.isoformat() for t, v in by.items()} for n, by in self.last_attempt.items()
            },
            "data_changed_at": self.data_changed_at.isoformat() if self.data_changed_at else None,
            "seen_change": {n: v.isoformat() for n, v in self.seen_change.items()},
            "history": [r.as_json() for r in self.history[-HISTORY_LIMIT:]],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ScheduleState:
        return cls(
            last_attempt={
                n: {t: _dt(v) for t, v in by.items()}
                for n, by in (raw.get("last_attempt") or {}).items()
            },
            data_changed_at=_dt(raw["data_changed_at"]) if raw.get("data_changed_at") else None,
            seen_change={n: _dt(v) for n, v in (raw.get("seen_change") or {}).items()},
            history=[JobRun.from_json(r) for r in raw.get("history") or []],
        )


def _dt(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def load_state(path: Path | None) -> ScheduleState:
    if path is None or not path.exists():
        return ScheduleState()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or raw.get("version", STATE_VERSION) > STATE_VERSION:
            raise ValueError("unknown format")
        return ScheduleState.from_json(raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # The schedule is bookkeeping: a broken file costs at most one extra run.
        log.warning("schedule state %s unreadable (%s); starting afresh", path, exc)
        return ScheduleState()


def save_state(state: ScheduleState, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".schedule-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state.as_json(), fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------- scheduler


@dataclass(frozen=True)
class DueJob:
    name: str
    trigger: str
    reason: str


class Scheduler:
    """Decides which registered jobs are due; records starts, ends and data changes."""

    def __init__(
        self,
        registry: JobRegistry,
        state_path: Path | None = None,
        *,
        nightly_at: time = time(2, 0),
        tz: tzinfo | None = None,
        enabled: bool = True,
    ) -> None:
        self.registry = registry
        self.state_path = state_path
        self.nightly_at = nightly_at
        self.tz = tz or system_zone()
        self.enabled = enabled
        # Set by the caller from the model registry (a file check, kept out of here).
        self.models_missing = False
        self.state = load_state(state_path)

    def use_state_file(self, state_path: Path | None) -> None:
        """Switch to another state file (another data source's schedule)."""
        self.state_path = state_path
        self.state = load_state(state_path)

    # ------------------------------------------------------------------ queries

    def due_jobs(
        self, now: datetime, running: frozenset[str] | set[str] = frozenset()
    ) -> list[DueJob]:
        """Jobs to start now (none that is already running): nightly runs first (a
        retrain comes before the scoring that uses it), then after-sync (the scores a
        manager waits for after a sync), then daily (forecasts); registration order
        within each."""
        if not self.enabled:
            return []
        due: list[DueJob] = []
        for job in self.registry:
            if job.name in running:
                continue
            found = self._first_run(job, now) if self.models_missing else None
            if found is None and not (self.models_missing and job.needs_models):
                found = self._due(job.name, job.triggers, job.min_interval, now)
            if found is not None:
                due.append(found)
        order = {NIGHTLY: 0, AFTER_SYNC: 1, DAILY: 2}
        return sorted(due, key=lambda d: order.get(d.trigger, 3))

    def _first_run(self, job: Any, now: datetime) -> DueJob | None:
        """With no trained model: train once there is data, again after new data."""
        changed = self.state.data_changed_at
        if not job.trains_models or changed is None:
            return None
        last = self.state.any_attempt(job.name)
        if last is not None and last >= changed:
            return None  # tried on this data already (it failed): wait for more data
        return DueJob(job.name, NIGHTLY, "no trained model yet: catching up the nightly run")

    def _due(
        self, name: str, triggers: frozenset[str], min_interval: timedelta, now: datetime
    ) -> DueJob | None:
        st = self.state
        if NIGHTLY in triggers:
            occurrence = latest_occurrence(now, self.nightly_at, self.tz)
            last = st.attempt(name, NIGHTLY)
            if last is None or last < occurrence:
                late = now - occurrence > CATCH_UP_AFTER
                local = occurrence.astimezone(self.tz).strftime("%a %H:%M")
                reason = (
                    f"missed nightly run ({local}), catching up"
                    if late
                    else f"nightly at {self.nightly_at:%H:%M}"
                )
                return DueJob(name, NIGHTLY, reason)
        if DAILY in triggers:
            last = st.attempt(name, DAILY)
            if last is None or last.astimezone(self.tz).date() < now.astimezone(self.tz).date():
                return DueJob(name, DAILY, "daily run")
        if AFTER_SYNC in triggers and st.data_changed_at is not None:
            seen = st.seen_change.get(name)
            if seen is None or seen < st.data_changed_at:
                last = st.attempt(name, AFTER_SYNC)
                if last is None or now - last >= min_interval:
                    return DueJob(name, AFTER_SYNC, "new data since the last run")
        return None

    def next_nightly(self, now: datetime) -> datetime:
        return next_occurrence(now, self.nightly_at, self.tz)

    def history(self) -> list[JobRun]:
        return list(self.state.history)

    # ------------------------------------------------------------------ records

    def record_sync(self, *, changed: bool, at: datetime) -> None:
        """A sync finished; ``changed`` when it upserted or deleted anything."""
        if changed:
            self.state.data_changed_at = at
            self._save()

    def record_start(self, name: str, trigger: str, at: datetime) -> JobRun:
        st = self.state
        st.last_attempt.setdefault(name, {})[trigger] = at
        # A run covers every change up to its start, whatever triggered it (once it
        # succeeds: see record_finish).
        seen = (
            st.data_changed_at
            if st.data_changed_at is not None and st.data_changed_at <= at
            else None
        )
        run = JobRun(name, trigger, at, change_seen=seen)
        st.history.append(run)
        del st.history[:-HISTORY_LIMIT]
        self._save()
        return run

    def record_finish(self, run: JobRun, *, status: str, summary: str, at: datetime) -> None:
        run.finished_at = at
        run.status = status
        run.summary = summary
        if status == "ok" and run.change_seen is not None:
            previous = self.state.seen_change.get(run.name)
            if previous is None or previous < run.change_seen:
                self.state.seen_change[run.name] = run.change_seen
        self._save()

    def _save(self) -> None:
        if self.state_path is None:
            return
        try:
            save_state(self.state, self.state_path)
        except OSError as exc:
            log.warning("could not save the schedule state to %s: %s", self.state_path, exc)
