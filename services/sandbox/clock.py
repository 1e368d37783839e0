"""The sandbox's notion of "now".

The simulated world is generated ahead of time (its versions carry future
``updated_at`` values); the clock decides which of them the API shows. Tests want a
clock that moves only when told (``fixed``), the demo wants one that runs, possibly
faster than the wall clock (``realtime``).

Writes get their ``updated_at`` from :meth:`SandboxClock.stamp_write`, which never
repeats a value: two writes in the same clock instant (a fixed clock never moves on
its own) would otherwise share an ``updated_at`` and a keyset reader could not tell
them apart from the cursor it already passed. Reads see everything up to
:meth:`SandboxClock.read_bound_us`, so a record written "in the future" of a fixed clock
(by the +1 µs rule) is still visible right after the write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services.api.rails_time import US_PER_SECOND

FIXED = "fixed"
REALTIME = "realtime"


class SandboxClock:
    """Thread-safe clock in epoch microseconds (UTC)."""

    def __init__(
        self,
        anchor_us: int,
        *,
        mode: str = FIXED,
        speed: float = 1.0,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in (FIXED, REALTIME):
            raise ValueError(f"clock mode must be {FIXED!r} or {REALTIME!r}, not {mode!r}")
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self._lock = threading.Lock()
        self._mode = mode
        self._speed = float(speed)
        self._wall = wall
        self.anchor_us = int(anchor_us)
        # The clock reads base_us + (wall() - base_wall) * speed in realtime mode and
        # base_us in fixed mode; advance()/set() move base_us.
        self._base_us = int(anchor_us)
        self._base_wall = wall()
        self._last_write_us: int | None = None

    @classmethod
    def fixed(cls, anchor_us: int) -> SandboxClock:
        return cls(anchor_us, mode=FIXED)

    @classmethod
    def realtime(cls, anchor_us: int, speed: float = 1.0) -> SandboxClock:
        return cls(anchor_us, mode=REALTIME, speed=speed)

    # ---------------------------------------------------------------- reading

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def last_write_us(self) -> int | None:
        with self._lock:
            return self._last_write_us

    def now_us(self) -> int:
        """The clock itself, ignoring writes."""
        with self._lock:
            return self._now_locked()

    def read_bound_us(self) -> int:
        """Newest ``updated_at`` a reader may see: max(clock, last write)."""
        with self._lock:
            now = self._now_locked()
            if self._last_write_us is not None and self._last_write_us > now:
                return self._last_write_us
            return now

    def _now_locked(self) -> int:
        if self._mode == FIXED:
            return self._base_us
        elapsed = self._wall() - self._base_wall
        return self._base_us + int(elapsed * self._speed * US_PER_SECOND)

    # ---------------------------------------------------------------- moving

    def advance(
        self,
        *,
        seconds: float = 0.0,
        minutes: float = 0.0,
        hours: float = 0.0,
        days: float = 0.0,
    ) -> int:
        """Move the clock forward; returns the new reading.

        Backwards is refused: records a client already synced would vanish from the
        API, which the real server never does. Use :meth:`set` to rewind on purpose.
        """
        total = seconds + 60 * minutes + 3600 * hours + 86400 * days
        if total < 0:
            raise ValueError("the clock only advances forwards (use set() to rewind)")
        with self._lock:
            self._base_us += round(total * US_PER_SECOND)
            return self._now_locked()

    def set(self, us: int) -> None:
        """Put the clock at ``us`` (in realtime mode it runs on from there)."""
        with self._lock:
            self._base_us = int(us)
            self._base_wall = self._wall()

    def stamp_write(self, at_least_us: int | None = None) -> int:
        """A fresh ``updated_at`` for a write: >= now, > every earlier write.

        ``at_least_us`` lets a write land after a version that is already in the log
        (the new version must be the record's newest).
        """
        with self._lock:
            stamp = self._now_locked()
            if self._last_write_us is not None and stamp <= self._last_write_us:
                stamp = self._last_write_us + 1
            if at_least_us is not None and stamp < at_least_us:
                stamp = int(at_least_us)
            self._last_write_us = stamp
            return stamp

    def __repr__(self) -> str:
        return f"SandboxClock(mode={self._mode!r}, now_us={self.now_us()}, speed={self._speed})"
