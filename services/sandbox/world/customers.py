"""Customers (families/students): latent health, a lapse process, velocity, calls, churn.

A customer's latent *health* ``h`` sets how often they book (velocity) and how likely
they are to call support. Experiences move it: a good session nudges it up, a poor
rating, a tutor no-show, a reschedule or an unfilled booking pushes it down, and it
relaxes back toward the customer's own base level. The segment (thriving / healthy /
at-risk) is read off ``h``; "churned" is the status.

Customers leave through a persistent *lapse*
(:class:`~services.sandbox.world.config.CustomerLapseModel`): started more often by
unhealthy customers and right after a bad experience (a poor first session, a tutor
no-show, their tutor leaving, an unfilled request, a completed goal), it deepens for
weeks, cutting bookings (velocity falls, idle days grow), bringing unhappy calls and
sinking health, until the customer churns or recovers. The daily churn hazard grows with
the lapse (:class:`~services.sandbox.world.config.CustomerHazardModel`).
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
    CustomerLapseModel,
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
    7: 0.015,
    8: 0.015,
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
    8: 0.07,
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
            # The lapse process (CustomerLapseModel).
            ("lapse", bool, False),
            ("lapse_onset", np.int64, -(1 << 30)),
            ("lrefr", np.int64, -(1 << 30)),
            ("ld", np.float64, 0.0),
            ("lu", np.float64, 0.0),
            ("trig", np.float64, 1.0),
            (
                "book_urge",
                np.float64,
                0.0,
            ),  # see demand.daily_requests  # 1 - P(a lapse starts) from today's experiences
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

    def note(self, idx: np.ndarray, p: float) -> None:
        """A bad experience today: P(starting to lapse tomorrow) rises by ``p`` (several
        experiences combine as independent chances)."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) and p > 0:
            np.multiply.at(self.trig, idx, 1.0 - p)

    def advance_lapse(
        self, j: int, rng: np.random.Generator, model: CustomerLapseModel, live: np.ndarray
    ) -> None:
        """Day ``j``: lapses start (from health and yesterday's experiences) and end;
        depth, duration and health move. ``trig`` holds 1 - P(start) from experiences."""
        n = self.n
        p_in = 1.0 - (1.0 - model.enter * np.exp(-model.enter_health * self.h[:n])) * np.clip(
            self.trig[:n], 0.0, 1.0
        )
        self.trig[:n] = 1.0
        u_in, u_out = rng.random(n), rng.random(n)
        lapsing = self.lapse[:n]
        enter = live & ~lapsing & (j >= self.lrefr[:n]) & (u_in < p_in)
        leave = live & lapsing & (u_out < model.recover)
        self.lapse[:n][enter] = True
        self.lapse_onset[:n][enter] = j
        self.lapse[:n][leave] = False
        self.lrefr[:n][leave] = j + model.refractory_days
        lapsing = self.lapse[:n]
        keep = np.exp(-1.0 / model.depth_days)
        self.ld[:n] = np.where(
            lapsing, 1.0 - (1.0 - self.ld[:n]) * keep, self.ld[:n] * (1 - model.relax)
        )
        self.lu[:n] = np.where(lapsing, self.lu[:n] + 1.0, self.lu[:n] * (1 - model.relax))
        self.h[:n] -= model.health * self.ld[:n]

    def hazard(self, j: int, model: CustomerHazardModel) -> np.ndarray:
        n = self.n
        abrupt = 1.0 / (1.0 + np.exp(-model.intercept))
        logit = (
            model.lapse_intercept
            + model.depth * self.ld[:n]
            + model.duration * np.minimum(self.lu[:n], model.duration_cap) / 30.0
        )
        lapse = 1.0 / (1.0 + np.exp(-logit)) - 1.0 / (1.0 + np.exp(-model.lapse_intercept))
        return 1.0 - (1.0 - abrupt) * (1.0 - lapse)


def velocity_per_week(h: np.ndarray, vf: np.ndarray, base: float) -> np.ndarray:
    """Bookings per week: about 0.7 for thriving, 0.35 healthy, 0.17 at-risk customers."""
    return np.minimum(base * np.exp(0.7 * (h - 0.3)), 2.5) * vf


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
        "book_urge": rng.random(n),
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
