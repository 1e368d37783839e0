"""Tutors: five archetypes, latent traits, drifting engagement and the churn hazard.

Causal chain (what makes the data learnable): an archetype fixes latent quality,
reliability, capacity and an engagement level that drifts (at-risk and churner tutors
drift down from an onset day). Engagement drives what is observable: logins, reply
speed, how much availability a tutor publishes (so session volume), ratings and
reschedules/no-shows. The daily churn hazard is a logistic function of those
*observed* quantities (:class:`~services.sandbox.world.config.TutorHazardModel`), times
the true multipliers of any intervention in effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.api.rails_time import US_PER_DAY, US_PER_HOUR
from services.sandbox.world.arrays import DailyGrid, Table
from services.sandbox.world.config import (
    CERTIFICATIONS,
    SUBJECT_BASE_RATE,
    SUBJECT_SUPPLY_SHARE,
    SUBJECTS,
    TIMEZONES,
    TUTOR_TZ_SHARE,
    ScaleKnobs,
    TutorHazardModel,
)
from services.sandbox.world.emit import NULL

HIGH, STEADY, NEW, AT_RISK, CHURNER = range(5)
MAX_SUBJECTS = 3
MAX_BLOCKS = 5
NO_ONSET = 1 << 30

ACTIVE, INACTIVE, CHURNED = 0, 1, 2  # index into contract.TUTOR_STATUSES


@dataclass(frozen=True, slots=True)
class Archetype:
    quality: tuple[float, float]  # latent quality ~ N(mean, sd); 0 = an average tutor
    resched: float  # base P(the tutor reschedules a booked session)
    hours: float  # weekly hours offered, relative to a steady tutor
    engagement: tuple[float, float]  # base engagement ~ N(mean, sd)
    drift: float  # engagement change per day after the onset day
    floor: float  # where the drift stops
    tenure_days: tuple[int, int]  # initial population: hired this many days before origin
    years: float  # mean years of experience


ARCHETYPE_PARAMS: tuple[Archetype, ...] = (
    Archetype((0.9, 0.35), 0.02, 1.3, (0.82, 0.05), 0.0, 0.0, (300, 1500), 8.0),
    Archetype((0.2, 0.40), 0.04, 1.0, (0.66, 0.07), 0.0, 0.0, (120, 1200), 5.0),
    Archetype((-0.1, 0.60), 0.05, 0.85, (0.60, 0.09), 0.0, 0.0, (0, 90), 2.0),
    Archetype((-0.1, 0.45), 0.07, 0.9, (0.62, 0.07), -0.005, 0.30, (90, 1000), 4.0),
    Archetype((-0.3, 0.50), 0.10, 0.85, (0.58, 0.07), -0.008, 0.05, (60, 700), 3.0),
)
INITIAL_MIX = (0.20, 0.42, 0.10, 0.16, 0.12)
HIRE_MIX = (0.0, 0.0, 0.72, 0.12, 0.16)

# When tutors offer hours (their schedule's local time): block start hours and weekdays.
BLOCK_START_WEEKDAY = {
    8: 0.02,
    9: 0.03,
    10: 0.03,
    11: 0.03,
    12: 0.03,
    13: 0.04,
    14: 0.09,
    15: 0.16,
    16: 0.18,
    17: 0.14,
    18: 0.11,
    19: 0.09,
    20: 0.05,
}
BLOCK_START_WEEKEND = {
    8: 0.06,
    9: 0.16,
    10: 0.16,
    11: 0.10,
    12: 0.07,
    13: 0.09,
    14: 0.09,
    15: 0.08,
    16: 0.07,
    17: 0.06,
    18: 0.06,
}
BLOCK_WEEKDAY_SHARE = (0.16, 0.17, 0.17, 0.16, 0.08, 0.13, 0.13)
BLOCK_LENGTHS = (2, 3, 4)
BLOCK_LENGTH_SHARE = (0.3, 0.45, 0.25)
US_ZONES = 7  # TIMEZONES[:7] are US; tutors abroad keep US Eastern hours
OU_KEEP = 0.92  # day-to-day persistence of engagement noise


def _profile(d: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    hours = np.array(list(d), dtype=np.int64)
    p = np.array(list(d.values()), dtype=float)
    return hours, p / p.sum()


def top_k_without_replacement(
    rng: np.random.Generator, weights: np.ndarray, k: np.ndarray
) -> np.ndarray:
    """Per row, ``k[row]`` distinct column indexes drawn by ``weights`` (-1 padded).

    Gumbel top-k: adding Gumbel noise to log-weights and sorting draws without
    replacement in one vectorised step.
    """
    n, m = len(k), weights.shape[-1]
    keys = np.log(np.maximum(weights, 1e-12)) + rng.gumbel(size=(n, m))
    order = np.argsort(-keys, axis=1)
    width = int(k.max()) if n else 0
    out = order[:, :width].copy()
    out[np.arange(width)[None, :] >= k[:, None]] = -1
    return out


class TutorPool(Table):
    """Every tutor ever hired, indexed by ``tutor_id - 1``."""

    def __init__(self, capacity: int, days: int) -> None:
        super().__init__(capacity)
        for name, dtype, fill in (
            ("arch", np.int8, 0),
            ("q", np.float64, 0.0),
            ("resched", np.float64, 0.0),
            ("hours", np.float64, 0.0),
            ("e_base", np.float64, 0.0),
            ("drift", np.float64, 0.0),
            ("floor", np.float64, 0.0),
            ("onset", np.int64, NO_ONSET),
            ("ou_sd", np.float64, 0.0),
            ("ou", np.float64, 0.0),
            ("e", np.float64, 0.5),
            ("hired_us", np.int64, 0),
            ("hire_day", np.int64, 0),
            ("status", np.int8, ACTIVE),
            ("churned_us", np.int64, NULL),
            ("churn_day", np.int64, -1),
            ("manager_id", np.int64, 1),
            ("tz", np.int8, 0),
            ("sched_tz", np.int8, 0),
            ("rate", np.float64, 0.0),
            ("years", np.int64, 0),
            ("instant", bool, False),
            ("nsubj", np.int8, 1),
            ("persona", np.int8, -1),
            ("cert", np.int64, 0),
            ("last_intervention_day", np.int64, -(1 << 30)),
            # What the API currently shows (versions are snapshots of these).
            ("shown_status", np.int8, ACTIVE),
            ("shown_churned_us", np.int64, NULL),
        ):
            self.add_column(name, dtype, fill)
        self.add_column("subj", np.int8, -1, width=MAX_SUBJECTS)
        for name in ("b_wd", "b_hour", "b_len", "b_subj"):
            self.add_column(name, np.int8, -1, width=MAX_BLOCKS)
        self.names: list[str] = []
        self.emails: list[str] = []
        self.subject_tuples: list[tuple[str, ...]] = []
        self.cert_vocab: list[tuple[str, ...]] = []
        self._cert_codes: dict[tuple[str, ...], int] = {}
        self.obs = DailyGrid(capacity, days)
        for name, dtype in (
            ("comp", np.int16),
            ("rsum", np.float32),
            ("rcnt", np.int16),
            ("resch", np.int16),
            ("noshow", np.int16),
            ("login", np.int8),
            ("lrep", np.float32),
            ("nrep", np.int16),
            ("e_hist", np.float32),
            ("haz", np.float32),
        ):
            self.obs.add(name, dtype, np.nan if name in ("e_hist", "haz") else 0)
        # Intervention effects: (tutor, first day, last day + 1, multiplier).
        self.effects: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    # ------------------------------------------------------------------ vocabularies

    def cert_code(self, certs: tuple[str, ...]) -> int:
        code = self._cert_codes.get(certs)
        if code is None:
            code = len(self.cert_vocab)
            self.cert_vocab.append(certs)
            self._cert_codes[certs] = code
        return code

    # ------------------------------------------------------------------ masks

    def active(self, j: int, hired_before: bool = False) -> np.ndarray:
        """Active on day ``j`` (``hired_before``: and hired before that day)."""
        n = self.n
        hired = self.hire_day[:n] < j if hired_before else self.hire_day[:n] <= j
        return (self.status[:n] == ACTIVE) & hired

    # ------------------------------------------------------------------ engagement

    def engagement_target(self, j: int) -> np.ndarray:
        n = self.n
        since = np.maximum(0, j - self.onset[:n])
        return np.maximum(self.floor[:n], self.e_base[:n] + self.drift[:n] * since)

    def advance_engagement(self, j: int, rng: np.random.Generator) -> None:
        """Engagement of day ``j``: the drifting target plus persistent noise."""
        n = self.n
        self.obs.ensure(n, j + 2)
        self.ou[:n] = OU_KEEP * self.ou[:n] + self.ou_sd[:n] * rng.standard_normal(n)
        self.e[:n] = np.clip(self.engagement_target(j) + self.ou[:n], 0.02, 0.98)
        self.obs.e_hist[:n, j] = self.e[:n]

    # ------------------------------------------------------------------ observables

    def engagement_score(self, j: int, days: int, lag: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``ml.engagement`` score over days ``[j-lag-days, j-lag)``, and days observed.

        The reply part uses the geometric mean of reply minutes (the median of the
        log-normal replies); a tutor with no reply in the window scores the login share.
        """
        n = self.n
        stop = j - lag
        start = stop - days
        first = np.maximum(np.maximum(start, 0), self.hire_day[:n])
        observed = np.clip(stop - first, 0, days)
        logins = self.obs.window_sum("login", n, start, stop)
        nrep = self.obs.window_sum("nrep", n, start, stop)
        lrep = self.obs.window_sum("lrep", n, start, stop, dtype=np.float64)
        share = logins / np.maximum(observed, 1)
        gm = np.exp(lrep / np.maximum(nrep, 1))
        reply = np.exp(-gm / 120.0)
        score = np.where(nrep > 0, 0.6 * share + 0.4 * reply, share)
        return score, observed

    def shrunk_rating(self, j: int, days: int, lag: int, model: TutorHazardModel) -> np.ndarray:
        n = self.n
        s = self.obs.window_sum("rsum", n, j - lag - days, j - lag, dtype=np.float64)
        c = self.obs.window_sum("rcnt", n, j - lag - days, j - lag)
        w = model.rating_prior_weight
        return (s + model.rating_prior * w) / (c + w)

    def drivers(self, j: int, model: TutorHazardModel) -> dict[str, np.ndarray]:
        """The hazard's drivers for day ``j`` from observations of days before ``j``."""
        n = self.n
        tenure = (j - self.hire_day[:n]).astype(np.float64)
        comp30 = self.obs.window_sum("comp", n, j - 30, j)
        comp_prev = self.obs.window_sum("comp", n, j - 60, j - 30)
        # Both windows must be observed (and past the warm-up's ramp) for a drop to count.
        two_months = (tenure >= 60) & (j >= 74)
        volume_drop = np.where(
            two_months, np.maximum(0.0, np.log((comp_prev + 2.0) / (comp30 + 2.0))), 0.0
        )
        r30 = self.shrunk_rating(j, 30, 0, model)
        r_prev = self.shrunk_rating(j, 30, 30, model)
        rating_low = np.maximum(0.0, 4.4 - r30)
        rating_drop = np.where(two_months, np.maximum(0.0, r_prev - r30), 0.0)
        resch = self.obs.window_sum("resch", n, j - 14, j)
        noshow = self.obs.window_sum("noshow", n, j - 14, j)
        reliability = (resch + 2 * noshow).astype(np.float64)
        eng, observed = self.engagement_score(j, 14)
        eng_prev, observed_prev = self.engagement_score(j, 14, lag=14)
        engagement_low = np.where(observed >= 7, np.maximum(0.0, 0.55 - eng), 0.0)
        engagement_drop = np.where(
            (observed >= 14) & (observed_prev >= 14), np.maximum(0.0, eng_prev - eng), 0.0
        )
        short_tenure = np.exp(-np.maximum(tenure, 0.0) / 45.0)
        return {
            "volume_drop": volume_drop,
            "rating_low": rating_low,
            "rating_drop": rating_drop,
            "reliability": reliability,
            "engagement_low": engagement_low,
            "engagement_drop": engagement_drop,
            "short_tenure": short_tenure,
        }

    def base_hazard(self, j: int, model: TutorHazardModel) -> np.ndarray:
        """Daily churn hazard before intervention effects."""
        d = self.drivers(j, model)
        logit = model.intercept + sum(getattr(model, k) * v for k, v in d.items())
        return 1.0 / (1.0 + np.exp(-logit))

    def effect_multiplier(self, days: np.ndarray | int) -> np.ndarray:
        """Product of the intervention multipliers in effect, per tutor, for each day.

        ``days`` scalar -> shape (n,); array of k days -> shape (n, k).
        """
        n = self.n
        days_arr = np.atleast_1d(np.asarray(days, dtype=np.int64))
        out = np.ones((n, len(days_arr)))
        for tutor, first, stop, mult in self.effects:
            on = (days_arr[None, :] >= first[:, None]) & (days_arr[None, :] < stop[:, None])
            factor = np.where(on, mult[:, None], 1.0)
            np.multiply.at(out, tutor, factor)
        return out[:, 0] if np.ndim(days) == 0 else out

    def add_effects(
        self, tutor: np.ndarray, first: np.ndarray, days: int, mult: np.ndarray
    ) -> None:
        if len(tutor):
            self.effects.append(
                (
                    np.asarray(tutor, np.int64),
                    np.asarray(first, np.int64),
                    np.asarray(first, np.int64) + days,
                    np.asarray(mult, np.float64),
                )
            )

    def observed_rating(self, j: int) -> np.ndarray:
        """What customers see when choosing a tutor: the rating of the last 60 days."""
        return self.shrunk_rating(j, 60, 0, TutorHazardModel())


# ---------------------------------------------------------------------- drawing tutors


def draw_tutors(
    rng: np.random.Generator,
    arch: np.ndarray,
    hire_day: np.ndarray,
    hired_us: np.ndarray,
    knobs: ScaleKnobs,
    manager_ids: np.ndarray,
    anchor_day: int,
) -> dict[str, np.ndarray]:
    """Latent traits, profile and weekly availability template for new tutors."""
    n = len(arch)
    params = [ARCHETYPE_PARAMS[a] for a in arch.tolist()]
    q_mean = np.array([p.quality[0] for p in params])
    q_sd = np.array([p.quality[1] for p in params])
    e_mean = np.array([p.engagement[0] for p in params])
    e_sd = np.array([p.engagement[1] for p in params])
    q = q_mean + q_sd * rng.standard_normal(n)
    e_base = np.clip(e_mean + e_sd * rng.standard_normal(n), 0.2, 0.95)
    # Reliability: the base reschedule probability varies by tutor (log-normal).
    resched = np.array([p.resched for p in params]) * rng.lognormal(0.0, 0.35, n)
    hours = (
        knobs.tutor_hours_per_week * np.array([p.hours for p in params]) * rng.lognormal(0, 0.3, n)
    )
    drift = np.array([p.drift for p in params])
    floor = np.array([p.floor for p in params])
    onset = np.full(n, NO_ONSET, dtype=np.int64)
    declining = drift < 0
    initial = hire_day < 0
    # The initial population's decliners start falling at spread-out days (some only
    # after the anchor), so churn happens throughout the history; new hires who will
    # decline start soon after joining (early quitters) or within months (at risk).
    span = anchor_day + 60
    onset_initial = rng.integers(0, span, n)
    churner = arch == CHURNER
    onset_hire = hire_day + np.where(churner, rng.integers(7, 60, n), rng.integers(30, 150, n))
    onset[declining] = np.where(initial, onset_initial, onset_hire)[declining]
    ou_sd = np.where(arch == NEW, 0.045, 0.03)
    tz = rng.choice(len(TIMEZONES), n, p=np.array(TUTOR_TZ_SHARE) / sum(TUTOR_TZ_SHARE))
    sched_tz = np.where(tz < US_ZONES, tz, 0)
    nsubj = rng.choice([1, 2, 3], n, p=[0.35, 0.45, 0.2])
    share = np.broadcast_to(np.array(SUBJECT_SUPPLY_SHARE), (n, len(SUBJECTS)))
    subj = top_k_without_replacement(rng, share, nsubj)
    subj = np.pad(subj, ((0, 0), (0, MAX_SUBJECTS - subj.shape[1])), constant_values=-1)
    years = np.clip(
        rng.gamma(2.0, np.array([p.years for p in params]) / 2.0) + 0.4 * q, 0, 40
    ).round()
    rate = np.array(SUBJECT_BASE_RATE)[subj[:, 0]] * np.exp(
        0.12 * q + 0.012 * years + rng.normal(0, 0.1, n)
    )
    rate = np.round(rate * 2) / 2  # whole or half dollars
    instant = rng.random(n) < np.where(arch == HIGH, 0.55, 0.35)
    manager = manager_ids[rng.integers(0, len(manager_ids), n)]
    blocks = draw_blocks(rng, hours, subj, nsubj)
    return {
        "arch": arch,
        "q": q,
        "resched": resched,
        "hours": hours,
        "e_base": e_base,
        "drift": drift,
        "floor": floor,
        "onset": onset,
        "ou_sd": ou_sd,
        "ou": np.zeros(n),
        "e": e_base,
        "hired_us": hired_us,
        "hire_day": hire_day,
        "tz": tz,
        "sched_tz": sched_tz,
        "rate": rate,
        "years": years.astype(np.int64),
        "instant": instant,
        "nsubj": nsubj,
        "manager_id": manager,
        "subj": subj,
        **blocks,
    }


def draw_blocks(
    rng: np.random.Generator, hours: np.ndarray, subj: np.ndarray, nsubj: np.ndarray
) -> dict[str, np.ndarray]:
    """A weekly template: up to MAX_BLOCKS blocks of 2-4 hours on distinct weekdays."""
    n = len(hours)
    length = rng.choice(BLOCK_LENGTHS, (n, MAX_BLOCKS), p=BLOCK_LENGTH_SHARE)
    nblocks = np.clip(np.round(hours / 3.0), 1, MAX_BLOCKS).astype(np.int64)
    wd = top_k_without_replacement(
        rng, np.broadcast_to(np.array(BLOCK_WEEKDAY_SHARE), (n, 7)), nblocks
    )
    wd = np.pad(wd, ((0, 0), (0, MAX_BLOCKS - wd.shape[1])), constant_values=-1)
    h_wd, p_wd = _profile(BLOCK_START_WEEKDAY)
    h_we, p_we = _profile(BLOCK_START_WEEKEND)
    start_wd = rng.choice(h_wd, (n, MAX_BLOCKS), p=p_wd)
    start_we = rng.choice(h_we, (n, MAX_BLOCKS), p=p_we)
    start = np.where(wd >= 5, start_we, start_wd)
    # The first subject is the tutor's main one: half the blocks, the rest spread.
    pick = np.where(
        rng.random((n, MAX_BLOCKS)) < 0.5,
        0,
        (rng.random((n, MAX_BLOCKS)) * nsubj[:, None]).astype(np.int64),
    )
    b_subj = np.take_along_axis(subj, pick, axis=1)
    absent = wd < 0
    return {
        "b_wd": wd,
        "b_hour": np.where(absent, -1, start),
        "b_len": np.where(absent, -1, length),
        "b_subj": np.where(absent, -1, b_subj),
    }


def draw_certifications(rng: np.random.Generator, q: np.ndarray) -> list[tuple[str, ...]]:
    count = np.clip(rng.poisson(0.5 + 0.5 * (q > 0.5)), 0, 3)
    out: list[tuple[str, ...]] = []
    for k in count.tolist():
        picks = rng.choice(len(CERTIFICATIONS), k, replace=False) if k else []
        out.append(tuple(sorted(CERTIFICATIONS[i] for i in picks)))
    return out


def hire_time_us(rng: np.random.Generator, day_start_us: int, n: int) -> np.ndarray:
    """Hiring happens in US business hours (13:00-23:00 UTC), at random microseconds."""
    return day_start_us + 13 * US_PER_HOUR + rng.integers(0, 10 * US_PER_HOUR, n)


def initial_hire_times(rng: np.random.Generator, origin_us: int, arch: np.ndarray) -> np.ndarray:
    lo = np.array([ARCHETYPE_PARAMS[a].tenure_days[0] for a in arch.tolist()])
    hi = np.array([ARCHETYPE_PARAMS[a].tenure_days[1] for a in arch.tolist()])
    days_before = lo + (rng.random(len(arch)) * (hi - lo)).astype(np.int64) + 1
    return hire_time_us(rng, origin_us, len(arch)) - days_before * US_PER_DAY
