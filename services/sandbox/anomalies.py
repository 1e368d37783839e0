"""Injected anomalies: the sandbox's served data misbehaves for a window of time.

``POST /sandbox/anomalies`` (``services.sandbox.server``) lands here. Where
``services.anomalies.inject_anomaly`` edits frames in memory (for unit tests), this
edits the world's version logs, so the records the API serves change and the app's
*next sync* pulls the misbehaviour like any other data:

``bookings``            an outage: only ``keep`` of the bookings made in the window happen
``logins``              the tutor app down: only ``keep`` of the logins happen
``inbound_calls``       a flood: every call of the window comes ``1/keep`` times
``cancellation_rate``   ``1 - keep`` of the sessions that would have completed are cancelled
``no_show_rate``        ... end in a tutor no-show
``average_rating``      ... rated sessions ending in the window are rated 1-2

How a record changes depends on whether a client may have seen it (its ``updated_at``
is at or before the clock's read bound):

- not yet served (a window in the future): its decided future is rewritten; the
  versions not yet served are dropped (a booking that will not be made simply never
  appears; a session that will be cancelled gets its cancellation at its start time,
  instead of its completion and rating);
- already served (a window in the past): a new version stamped now, as a late
  correction would be in Rails (a soft delete for bookings and logins, a status or
  rating change for sessions), so an incremental sync picks it up.

Records the simulator would still touch after the world grows (a booking's
``fulfilled`` version days later) are *sealed*: after every ``world.extend`` their new
versions are dropped again, so an injected outage stays an outage. Added calls get ids
from ``INJECTED_ID_BASE`` up, which the simulator never issues.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.api.rails_time import US_PER_DAY, US_PER_HOUR, TimestampError, parse_us
from services.sandbox.clock import SandboxClock
from services.sandbox.rails_json import format_time

# Must match services.anomalies.METRICS (a test holds them together); kept here so the
# sandbox does not import the app's analytics.
METRICS = (
    "bookings",
    "cancellation_rate",
    "average_rating",
    "no_show_rate",
    "inbound_calls",
    "logins",
)
MAX_HOURS = 14 * 24
MAX_AHEAD_DAYS = 60
INJECTED_ID_BASE = 1 << 40
# Ratings arrive up to a day after a session ends; the window's sessions must all be
# decided (simulated) before they are rewritten.
SETTLE_US = 2 * US_PER_DAY


@dataclass(frozen=True, slots=True)
class AnomalySpec:
    metric: str
    start_us: int
    hours: float
    keep: float = 0.3
    seed: int = 0

    @property
    def end_us(self) -> int:
        return self.start_us + round(self.hours * US_PER_HOUR)


def parse_spec(params: object, origin_us: int | None, bound_us: int) -> AnomalySpec | dict:
    """The request body -> a spec, or Rails-style errors ``{field: [message]}``."""
    if not isinstance(params, dict):
        return {"anomaly": ["expected a JSON object with metric, start, hours (and keep, seed)"]}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(params) - {"metric", "start", "hours", "keep", "seed"})
    if unknown:
        errors["anomaly"] = [f"unknown field(s) {', '.join(unknown)}"]
    metric = params.get("metric")
    if metric not in METRICS:
        errors["metric"] = [f"must be one of {', '.join(METRICS)}"]
    start_us: int | None = None
    raw = params.get("start")
    try:
        start_us = parse_us(raw) if isinstance(raw, str) else None
    except TimestampError:
        start_us = None
    if start_us is None:
        errors["start"] = ["must be an ISO 8601 timestamp, e.g. 2026-11-20T14:00:00Z"]
    elif origin_us is not None and start_us < origin_us:
        errors["start"] = [f"must not be before the world's first day ({format_time(origin_us)})"]
    elif start_us > bound_us + MAX_AHEAD_DAYS * US_PER_DAY:
        errors["start"] = [f"must be within {MAX_AHEAD_DAYS} days of the clock"]
    hours = params.get("hours")
    if not _number(hours) or not 0 < hours <= MAX_HOURS:
        errors["hours"] = [f"must be a number of hours above 0, at most {MAX_HOURS}"]
    keep = params.get("keep", 0.3)
    if metric == "inbound_calls":
        if not _number(keep) or not 0 < keep < 1:
            errors["keep"] = ["must be above 0 and below 1 (the calls come 1/keep times)"]
    elif not _number(keep) or not 0 <= keep < 1:
        errors["keep"] = ["must be at least 0 and below 1 (the share left unharmed)"]
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        errors["seed"] = ["must be an integer >= 0"]
    if errors:
        return errors
    return AnomalySpec(str(metric), int(start_us), float(hours), float(keep), int(seed))  # type: ignore[arg-type]


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


class AnomalyInjector:
    """Applies specs to a world's logs. The caller holds the server's data lock."""

    def __init__(self, world: Any, clock: SandboxClock) -> None:
        self.world = world
        self.clock = clock
        self.applied: list[dict[str, object]] = []
        # resource -> {record id: drop its versions from this µs on, after each extend}
        self._sealed: dict[str, dict[int, int]] = {}

    # ---------------------------------------------------------------- the world growing

    def reseal(self) -> int:
        """Drop what the simulator added to sealed records (call after ``extend``)."""
        bound = self.clock.read_bound_us()
        dropped = 0
        for resource, seals in self._sealed.items():
            if seals:
                ids = np.fromiter(seals.keys(), dtype=np.int64, count=len(seals))
                froms = np.fromiter(seals.values(), dtype=np.int64, count=len(seals))
                dropped += self.world.logs[resource].drop_versions(ids, froms, bound)
        return dropped

    # ---------------------------------------------------------------- injecting

    def inject(self, spec: AnomalySpec) -> dict[str, object]:
        horizon = getattr(self.world, "horizon_us", None)
        if horizon is not None and horizon < spec.end_us + SETTLE_US:
            self.world.extend(spec.end_us + SETTLE_US)
            self.reseal()
        rng = np.random.default_rng([spec.seed, len(self.applied), METRICS.index(spec.metric)])
        bound = self.clock.read_bound_us()
        if spec.metric == "bookings":
            counts = self._remove(
                "bookings", "created_at", spec, rng, bound, lambda c, n: np.ones(len(c["id"]), bool)
            )
        elif spec.metric == "logins":
            counts = self._remove(
                "engagement_events", "occurred_at", spec, rng, bound,
                lambda c, n: c["event_type"] == "login",
            )  # fmt: skip
        elif spec.metric == "inbound_calls":
            counts = self._flood(spec, rng, bound)
        else:
            counts = self._sessions(spec, rng, bound)
        summary: dict[str, object] = {
            "metric": spec.metric,
            "start": format_time(spec.start_us, 6),
            "end": format_time(spec.end_us, 6),
            "hours": spec.hours,
            "keep": spec.keep,
            "seed": spec.seed,
            **counts,
        }
        self.applied.append(summary)
        return summary

    def _final(
        self, resource: str, time_col: str, spec: AnomalySpec, extra: Any
    ) -> tuple[Any, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The newest versions of the live records whose ``time_col`` is in the window."""
        log = self.world.logs[resource]
        rows = log.final_rows()
        cols, nulls = log.versions(rows)
        t = cols[time_col]
        inside = (t >= spec.start_us) & (t < spec.end_us)
        if time_col in nulls:
            inside &= ~nulls[time_col]
        if "deleted_at" in nulls:
            inside &= nulls["deleted_at"]
        inside &= extra(cols, nulls)
        pick = np.flatnonzero(inside)
        return log, {k: v[pick] for k, v in cols.items()}, {k: v[pick] for k, v in nulls.items()}

    def _stamps(self, n: int) -> np.ndarray:
        """``n`` distinct fresh ``updated_at`` values, after every earlier write."""
        if n == 0:
            return np.empty(0, dtype=np.int64)
        # After the read bound: a reader that already read up to it would skip a
        # version stamped at it (its cursor is past it).
        first = self.clock.stamp_write(at_least_us=self.clock.read_bound_us() + 1)
        self.clock.stamp_write(at_least_us=first + n - 1)
        return first + np.arange(n, dtype=np.int64)

    def _seal(self, resource: str, ids: np.ndarray, from_us: np.ndarray) -> None:
        seals = self._sealed.setdefault(resource, {})
        seals.update(zip(ids.tolist(), from_us.tolist(), strict=True))

    def _remove(
        self,
        resource: str,
        time_col: str,
        spec: AnomalySpec,
        rng: np.random.Generator,
        bound: int,
        extra: Any,
    ) -> dict[str, int]:
        log, cols, nulls = self._final(resource, time_col, spec, extra)
        hit = rng.random(len(cols["id"])) >= spec.keep
        cols = {k: v[hit] for k, v in cols.items()}
        nulls = {k: v[hit] for k, v in nulls.items()}
        ids = cols["id"]
        unseen = cols["created_at"] > bound
        # Never served: the record is not to exist at all.
        log.drop_versions(ids[unseen], 0, bound)
        self._seal(resource, ids[unseen], np.zeros(int(unseen.sum()), dtype=np.int64))
        # Served already: a soft delete now.
        seen = ~unseen
        cols = {k: v[seen] for k, v in cols.items()}
        nulls = {k: v[seen] for k, v in nulls.items()}
        stamps = self._stamps(len(cols["id"]))
        log.drop_versions(cols["id"], stamps, bound)
        cols["updated_at"] = stamps
        cols["deleted_at"] = stamps.copy()
        nulls["deleted_at"] = np.zeros(len(stamps), dtype=bool)
        if len(stamps):
            log.append(cols, nulls)
        self._seal(resource, cols["id"], stamps + 1)
        return {"removed": int(unseen.sum()), "deleted": int(seen.sum()), "changed": 0, "added": 0}

    def _flood(self, spec: AnomalySpec, rng: np.random.Generator, bound: int) -> dict[str, int]:
        log, cols, nulls = self._final("inbound_calls", "call_time", spec, lambda c, n: True)
        copies = max(1, round(1 / spec.keep) - 1)
        n = len(cols["id"]) * copies
        new = {k: np.tile(v, copies) for k, v in cols.items()}
        new_nulls = {k: np.tile(v, copies) for k, v in nulls.items()}
        if n == 0:
            return {"removed": 0, "deleted": 0, "changed": 0, "added": 0}
        # A copy rings at another minute of the same hour (the hour's count is what rises).
        hour = new["call_time"] - new["call_time"] % US_PER_HOUR
        times = hour + rng.integers(0, US_PER_HOUR, n)
        times = np.clip(times, spec.start_us, spec.end_us - 1)
        first_id = max(log.max_id() + 1, INJECTED_ID_BASE)
        new["id"] = first_id + np.arange(n, dtype=np.int64)
        new["call_time"] = times
        new["created_at"] = times
        seen = times <= bound
        updated = times.copy()
        updated[seen] = self._stamps(int(seen.sum()))
        new["updated_at"] = updated
        log.append(new, new_nulls)
        return {"removed": 0, "deleted": 0, "changed": 0, "added": n}

    def _sessions(self, spec: AnomalySpec, rng: np.random.Generator, bound: int) -> dict[str, int]:
        rating = spec.metric == "average_rating"
        time_col = "end_time" if rating else "start_time"

        def eligible(c: dict[str, np.ndarray], nl: dict[str, np.ndarray]) -> np.ndarray:
            done = c["status"] == "completed"
            return done & ~nl["rating"] if rating else done

        log, cols, nulls = self._final("sessions", time_col, spec, eligible)
        hit = rng.random(len(cols["id"])) >= spec.keep
        cols = {k: v[hit] for k, v in cols.items()}
        nulls = {k: v[hit] for k, v in nulls.items()}
        n = len(cols["id"])
        if n == 0:
            return {"removed": 0, "deleted": 0, "changed": 0, "added": 0}
        # When the change happens: a rating when the rating came, an outcome at the start.
        at = cols["updated_at"].copy() if rating else cols["start_time"].copy()
        seen = at <= bound
        at[seen] = self._stamps(int(seen.sum()))
        log.drop_versions(cols["id"], at, bound)
        cols["updated_at"] = at
        if rating:
            cols["rating"] = rng.integers(1, 3, n).astype(np.int64)
        else:
            cols["status"] = np.full(
                n, "cancelled" if spec.metric == "cancellation_rate" else "no_show_tutor", object
            )
            cols["rating"] = np.zeros(n, dtype=np.int64)
            nulls["rating"] = np.ones(n, dtype=bool)
            cols["learning_objectives_met"] = np.full(n, np.nan)
            if "learning_objectives_met" in nulls:
                nulls["learning_objectives_met"] = np.ones(n, dtype=bool)
            cols["technical_issue"] = np.zeros(n, dtype=bool)
        log.append(cols, nulls)
        self._seal("sessions", cols["id"], at + 1)
        return {"removed": 0, "deleted": 0, "changed": n, "added": 0}
