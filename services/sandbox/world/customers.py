"""Customers (families/students): latent health, booking velocity, calls, churn hazard.

A customer's latent *health* ``h`` sets how often they book (velocity) and how likely
they are to call support. Experiences move it: a good session nudges it up, a poor
rating, a tutor no-show, a reschedule or an unfilled booking pushes it down, and it
relaxes back toward the customer's own base level. The segment (thriving / healthy /
at-risk) is read off ``h``; "churned" is the status. The daily churn hazard is a logistic
function of *observable* drivers (calls, velocity drop, poor first sessions, tutor
switches, idle days, a completed goal): see
:class:`~services.sandbox.world.config.CustomerHazardModel`.
"""

from __future__ import annotations

import numpy as np

from services.api.rails_time import US_PER_HOUR
from services.sandbox.world.arrays import DailyGrid, Table
from services.sandbox.world.config import (
    ACQUISITION_CHANNELS,
    CUSTOMER_TZ_SHARE,
    SUBJECT_DEMAND_SHARE,
    TIMEZONES,
    CustomerHazardModel,
)
from services.sandbox.world.emit import NULL

ACTIVE, PAUSED, CHURNED = 0, 1, 2  # index into contract.CUSTOMER_STATUSES
GOAL_NONE, GOAL_IN_PROGRESS, GOAL_COMPLETED = 0, 1, 2

THRIVING, HEALTHY, AT_RISK = 0, 1, 2
# Latent health of each segment at signup, and the thresholds that read it back.
SEGMENT_HEALTH = ((1.25, 0.25), (0.30, 0.25), (-0.75, 0.30))
INITIAL_SEGMENT_MIX = (0.31, 0.43, 0.26)
SIGNUP_SEGMENT_MIX = (0.28, 0.45, 0.27)
THRIVING_ABOVE = 0.63
HEALTHY_ABOVE = -0.41

# Local hours at which students like to meet (weekday after school and evening peaks,
# weekend mornings), and weekday preferences (Friday is quiet).
HOURS_WEEKDAY = {
    7: 0.01,
    8: 0.01,
    9: 0.01,
    10: 0.01,
    11: 0.01,
    12: 0.01,
    13: 0.01,
    14: 0.02,
    15: 0.08,
    16: 0.14,
    17: 0.14,
    18: 0.10,
    19: 0.14,
    20: 0.13,
    21: 0.06,
    22: 0.02,
}
HOURS_WEEKEND = {
    8: 0.04,
    9: 0.10,
    10: 0.13,
    11: 0.12,
    12: 0.07,
    13: 0.07,
    14: 0.08,
    15: 0.07,
    16: 0.07,
    17: 0.06,
    18: 0.05,
    19: 0.06,
    20: 0.05,
    21: 0.02,
    22: 0.01,
}
WEEKDAY_SHARE = (0.16, 0.17, 0.17, 0.16, 0.07, 0.11, 0.16)

GRADES = ("K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "college", "adult")
AGE_WEIGHTS = {
    6: 2,
    7: 2,
    8: 3,
    9: 3,
    10: 4,
    11: 4,
    12: 5,
    13: 6,
    14: 8,
    15: 9,
    16: 10,
    17: 10,
    18: 8,
}

HEALTH_RELAX = 0.02  # per day, toward the customer's base level


def hour_profile(d: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    hours = np.array(list(d), dtype=np.int64)
    p = np.array(list(d.values()), dtype=float)
    return hours, p / p.sum()


def grade_for_age(age: np.ndarray) -> np.ndarray:
    """Index into GRADES: 6-year-olds in 1st grade, 17-18 in 12th, then college, adult."""
    g = np.clip(age - 5, 0, 12)
    g = np.where(age >= 19, 13, g)
    return np.where(age >= 23, 14, g)


def segment_of(h: np.ndarray) -> np.ndarray:
    return np.where(h >= THRIVING_ABOVE, THRIVING, np.where(h >= HEALTHY_ABOVE, HEALTHY, AT_RISK))


class CustomerPool(Table):
    """Every customer ever signed up, indexed by ``customer_id - 1``."""

    def __init__(self, capacity: int, days: int) -> None:
        super().__init__(capacity)
        for name, dtype, fill in (
            ("h", np.float64, 0.0),
            ("h_base", np.float64, 0.0),
            ("vf", np.float64, 1.0),
            ("segment0", np.int8, 0),
            ("subj", np.int8, 0),
            ("tz", np.int8, 0),
            ("hour_wd", np.int64, 17),
            ("hour_we", np.int64, 10),
            ("age", np.int64, 14),
            ("grade", np.int64, 0),
            ("channel", np.int64, 0),
            ("goal", np.int8, GOAL_NONE),
            ("goal_target", np.int64, 20),
            ("status", np.int8, ACTIVE),
            ("churned_us", np.int64, NULL),
            ("pause_until", np.int64, -1),
            ("delete_day", np.int64, -1),
            ("cur", np.int64, -1),
            ("ncomp", np.int64, 0),
            ("last_comp_day", np.int64, -1),
            ("signup_day", np.int64, 0),
            ("signup_date_us", np.int64, 0),
            ("created_us", np.int64, 0),
            ("pin_from_us", np.int64, NULL),
            ("pin_until_us", np.int64, NULL),
            ("legacy", bool, False),
            ("shown_status", np.int8, ACTIVE),
            ("shown_churned_us", np.int64, NULL),
            ("shown_goal", np.int8, GOAL_NONE),
            ("shown_channel", np.int64, 0),
            ("shown_deleted_us", np.int64, NULL),
        ):
            self.add_column(name, dtype, fill)
        self.add_column("wpref", np.float64, 0.0, width=7)
        self.names: list[str] = []
        self.emails: list[str] = []
        self.obs = DailyGrid(capacity, days)
        for name in ("comp", "calls", "poorfirst", "firsts"):
            self.obs.add(name, np.int8, 0)

    def bookable(self, j: int, now_us: int) -> np.ndarray:
        """Customers who make bookings on day ``j`` by themselves."""
        n = self.n
        pinned = (self.pin_from_us[:n] <= now_us) & (self.pin_until_us[:n] > now_us)
        return (
            (self.status[:n] == ACTIVE)
            & (self.signup_day[:n] < j)
            & (self.delete_day[:n] < 0)
            & ~pinned
        )

    def protected(self, now_us: int) -> np.ndarray:
        """Persona customers: they neither churn nor pause while their plan runs."""
        n = self.n
        return (self.pin_until_us[:n] != NULL) & (self.pin_until_us[:n] > now_us)

    def relax(self) -> None:
        n = self.n
        self.h[:n] += HEALTH_RELAX * (self.h_base[:n] - self.h[:n])

    def shock(self, idx: np.ndarray, amount: np.ndarray | float) -> None:
        """Move latent health (repeated indexes accumulate)."""
        np.add.at(self.h, np.asarray(idx, dtype=np.int64), amount)

    def drivers(self, j: int) -> dict[str, np.ndarray]:
        n = self.n
        o = self.obs
        tenure = j - self.signup_day[:n]
        calls14 = o.window_sum("calls", n, j - 14, j)
        comp14 = o.window_sum("comp", n, j - 14, j)
        comp_prev = o.window_sum("comp", n, j - 42, j - 14)
        observed = (tenure >= 42) & (j >= 56)
        velocity_drop = np.where(
            observed & (comp_prev > 0),
            np.maximum(0.0, 1.0 - (comp14 + 0.5) / (comp_prev / 2.0 + 0.5)),
            0.0,
        )
        poor_first = o.window_sum("poorfirst", n, j - 30, j) > 0
        firsts = o.window_sum("firsts", n, j - 30, j)
        new = tenure <= 30
        switches = np.maximum(0, firsts - new.astype(np.int32))
        last = np.maximum(self.last_comp_day[:n], self.signup_day[:n])
        idle = np.clip(j - last, 0, 45)
        return {
            "calls_2plus": (calls14 >= 2).astype(float),
            "calls_14": calls14.astype(float),
            "velocity_drop": velocity_drop,
            "poor_first": poor_first.astype(float),
            "switches": switches.astype(float),
            "idle_days": idle.astype(float),
            "goal_completed": (self.goal[:n] == GOAL_COMPLETED).astype(float),
        }

    def hazard(self, j: int, model: CustomerHazardModel) -> np.ndarray:
        d = self.drivers(j)
        logit = model.intercept + sum(getattr(model, k) * v for k, v in d.items())
        return 1.0 / (1.0 + np.exp(-logit))


def velocity_per_week(h: np.ndarray, vf: np.ndarray, base: float) -> np.ndarray:
    """Bookings per week: about 0.9 for thriving, 0.45 healthy, 0.15 at-risk customers."""
    return np.minimum(base * np.exp(1.1 * (h - 0.3)), 2.5) * vf


def draw_customers(
    rng: np.random.Generator,
    signup_day: np.ndarray,
    signup_date_us: np.ndarray,
    created_us: np.ndarray,
    segment: np.ndarray,
    subject_weights: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Attributes of new customers (``segment``: their latent segment at signup)."""
    n = len(signup_day)
    mu = np.array([s[0] for s in SEGMENT_HEALTH])[segment]
    sd = np.array([s[1] for s in SEGMENT_HEALTH])[segment]
    h_base = mu + sd * rng.standard_normal(n)
    weights = np.array(SUBJECT_DEMAND_SHARE) if subject_weights is None else subject_weights
    subj = rng.choice(len(weights), n, p=weights / weights.sum())
    tz = rng.choice(len(TIMEZONES), n, p=np.array(CUSTOMER_TZ_SHARE) / sum(CUSTOMER_TZ_SHARE))
    ages = np.array(list(AGE_WEIGHTS))
    p_age = np.array(list(AGE_WEIGHTS.values()), dtype=float)
    age = rng.choice(ages, n, p=p_age / p_age.sum())
    adult = rng.random(n) < 0.1
    age = np.where(adult, rng.integers(19, 46, n), age)
    wpref = rng.dirichlet(3.0 * np.array(WEEKDAY_SHARE) * 7, n)
    h_wd, p_wd = hour_profile(HOURS_WEEKDAY)
    h_we, p_we = hour_profile(HOURS_WEEKEND)
    channel = rng.choice(len(ACQUISITION_CHANNELS), n, p=[0.3, 0.22, 0.2, 0.12, 0.08, 0.08])
    return {
        "h": h_base.copy(),
        "h_base": h_base,
        "vf": rng.lognormal(0.0, 0.3, n),
        "segment0": segment,
        "subj": subj,
        "tz": tz,
        "hour_wd": rng.choice(h_wd, n, p=p_wd),
        "hour_we": rng.choice(h_we, n, p=p_we),
        "age": age,
        "grade": grade_for_age(age),
        "channel": channel,
        "shown_channel": channel,
        "goal_target": np.clip(rng.lognormal(np.log(18), 0.5, n), 4, 120).astype(np.int64),
        "signup_day": signup_day,
        "signup_date_us": signup_date_us,
        "created_us": created_us,
        "wpref": wpref,
    }


def signup_times(rng: np.random.Generator, day_start_us: np.ndarray) -> np.ndarray:
    """Sign-ups come in US daytime/evening (14:00-03:00 UTC, on that UTC day), at random
    microseconds."""
    n = len(day_start_us)
    hour = (14 + rng.integers(0, 13, n)) % 24
    return day_start_us + hour * US_PER_HOUR + rng.integers(0, US_PER_HOUR, n)


def initial_signup_days(rng: np.random.Generator, n: int) -> np.ndarray:
    """Days before the origin that the initial customers signed up (months to 3 years)."""
    return -(rng.exponential(220.0, n).astype(np.int64) + 15).clip(15, 1100)
