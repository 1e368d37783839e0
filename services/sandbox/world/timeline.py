"""Simulated days: their start, weekday, time-zone offsets and demand seasonality.

Day ``j`` is the UTC day starting at ``origin_us + j * US_PER_DAY``. Local calendars are
handled at hour resolution: a local (day ``j``, hour ``h``) in zone ``z`` is the absolute
hour ``24 * j + h - offset[j, z]`` counted from the origin. Offsets come from the IANA
database (``zoneinfo``), so daylight saving moves US evening peaks in UTC as it should.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from services.api.rails_time import US_PER_DAY, US_PER_HOUR, US_PER_SECOND
from services.sandbox.world.config import (
    EXAM_SUBJECTS,
    SUBJECT_INDEX,
    SUBJECT_TREND_PER_YEAR,
    SUBJECTS,
    TIMEZONES,
)

US_PER_MINUTE = 60 * US_PER_SECOND

# School-year demand curve, (day of year, multiplier): holidays, spring break, finals,
# the summer dip, and the back-to-school bump from late August through September.
SCHOOL_CURVE = (
    (0, 0.65),
    (7, 0.95),
    (19, 1.0),
    (73, 1.0),
    (83, 0.92),
    (94, 1.0),
    (129, 1.1),
    (155, 1.0),
    (170, 0.72),
    (221, 0.72),
    (236, 1.2),
    (250, 1.38),
    (272, 1.3),
    (292, 1.1),
    (323, 1.05),
    (329, 0.8),
    (334, 1.05),
    (348, 1.0),
    (357, 0.6),
    (364, 0.62),
)
# Test-prep curve: peaks in the weeks before the SAT/ACT dates (Mar, May, Jun, Aug, Oct,
# Nov, Dec), a drop right after each, low summer.
EXAM_CURVE = (
    (0, 0.8),
    (40, 1.1),
    (63, 1.4),
    (70, 0.9),
    (104, 1.15),
    (120, 1.45),
    (127, 0.95),
    (144, 1.25),
    (155, 1.0),
    (170, 0.6),
    (212, 0.9),
    (233, 1.4),
    (239, 1.0),
    (262, 1.3),
    (275, 1.5),
    (282, 1.0),
    (300, 1.3),
    (308, 1.35),
    (315, 0.95),
    (331, 1.1),
    (338, 1.25),
    (345, 0.8),
    (364, 0.7),
)


def _periodic_curve(knots: tuple[tuple[int, float], ...], doy: np.ndarray) -> np.ndarray:
    x = np.array([k[0] for k in knots], dtype=float)
    y = np.array([k[1] for k in knots], dtype=float)
    xs = np.concatenate([x - 365, x, x + 365])
    ys = np.concatenate([y, y, y])
    return np.interp(doy, xs, ys)


def school_curve(doy: np.ndarray) -> np.ndarray:
    return _periodic_curve(SCHOOL_CURVE, doy)


def exam_curve(doy: np.ndarray) -> np.ndarray:
    return _periodic_curve(EXAM_CURVE, doy)


class Timeline:
    """Per-day calendar facts, computed lazily as the simulation reaches new days."""

    def __init__(self, origin_us: int, anchor_us: int) -> None:
        if origin_us % US_PER_DAY:
            raise ValueError("origin must be a UTC midnight")
        self.origin_us = origin_us
        self.anchor_us = anchor_us
        self.anchor_day = (anchor_us - origin_us) // US_PER_DAY
        self._zones = [ZoneInfo(z) for z in TIMEZONES]
        self.n = 0
        self.offsets = np.zeros((0, len(TIMEZONES)), dtype=np.int64)  # hours east of UTC
        self.weekday = np.zeros(0, dtype=np.int64)  # Monday = 0
        self.doy = np.zeros(0, dtype=np.int64)
        self.season = np.zeros((0, len(SUBJECTS)), dtype=np.float64)
        self._exam = np.zeros(len(SUBJECTS), dtype=bool)
        self._exam[[SUBJECT_INDEX[s] for s in EXAM_SUBJECTS]] = True
        self._trend = np.array(SUBJECT_TREND_PER_YEAR, dtype=float)

    def ensure(self, n_days: int) -> None:
        """Compute the calendar through day ``n_days - 1``."""
        if n_days <= self.n:
            return
        days = np.arange(self.n, n_days)
        starts = self.origin_us + days * US_PER_DAY
        epoch_days = starts // US_PER_DAY
        weekday = (epoch_days + 3) % 7  # 1970-01-01 was a Thursday
        dates = [datetime.fromtimestamp(int(s) // US_PER_SECOND, UTC) for s in starts]
        doy = np.array([d.timetuple().tm_yday - 1 for d in dates], dtype=np.int64)
        offsets = np.empty((len(days), len(TIMEZONES)), dtype=np.int64)
        for z, zone in enumerate(self._zones):
            for i, s in enumerate(starts):
                # 17:00 UTC is midday across the Americas: the offset of the working day.
                at = datetime.fromtimestamp(int(s + 17 * US_PER_HOUR) // US_PER_SECOND, zone)
                offset = at.utcoffset()
                offsets[i, z] = round(offset.total_seconds() / 3600) if offset else 0
        years = (days - self.anchor_day) / 365.0
        trend = np.exp(np.outer(years, self._trend))
        base = np.where(
            self._exam[None, :],
            exam_curve(doy.astype(float))[:, None],
            school_curve(doy.astype(float))[:, None],
        )
        self.offsets = np.concatenate([self.offsets, offsets])
        self.weekday = np.concatenate([self.weekday, weekday])
        self.doy = np.concatenate([self.doy, doy])
        self.season = np.concatenate([self.season, base * trend])
        self.n = n_days

    def day_start(self, j: int) -> int:
        return self.origin_us + j * US_PER_DAY

    def day_of(self, us: np.ndarray | int) -> np.ndarray | int:
        return (np.asarray(us) - self.origin_us) // US_PER_DAY

    def hour_us(self, hour_index: np.ndarray | int) -> np.ndarray | int:
        """Absolute hour index (from the origin) -> epoch microseconds."""
        return self.origin_us + np.asarray(hour_index, dtype=np.int64) * US_PER_HOUR

    def local_hour_index(self, day: np.ndarray, tz: np.ndarray, hour: np.ndarray) -> np.ndarray:
        """Absolute UTC hour index of local ``hour`` on local day ``day`` in zone ``tz``."""
        return 24 * day + hour - self.offsets[day, tz]

    def local_day_hour(
        self, hour_index: np.ndarray, tz: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(local day, local hour) of absolute hour indexes in zones ``tz``."""
        utc_day = np.clip(hour_index // 24, 0, self.n - 1)
        local = hour_index + self.offsets[utc_day, tz]
        return local // 24, local % 24
