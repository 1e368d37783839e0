"""Tutors: five archetypes, latent traits, a persistent disengagement process, churn.

Causal chain (what makes the data learnable): an archetype fixes latent quality,
reliability, capacity, a base engagement and how prone the tutor is to start
*declining* (:class:`~services.sandbox.world.config.TutorDeclineModel`). Declining is a
latent state that persists for weeks: its depth ``d`` grows day by day and pulls every
observable down together (engagement, so logins, reply speed and published availability;
withdrawn slots; reschedules and no-shows; ratings), until the tutor leaves or recovers.
The daily churn hazard grows with the depth and the duration of the decline
(:class:`~services.sandbox.world.config.TutorHazardModel`), plus a small hazard of
leaving without warning, times the true multipliers of any intervention in effect.
Engagement also wobbles day to day (persistent noise) without changing the hazard: a dip
that reverts is not a decline.
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
    TutorDeclineModel,
    TutorHazardModel,
)
from services.sandbox.world.emit import NULL

HIGH, STEADY, NEW, AT_RISK, CHURNER = range(5)
NORMAL, DECLINING = 0, 1
SPEED_MIN, SPEED_MAX = 0.35, 3.0  # a decline's speed (log-normal, clipped)
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
    floor: float  # engagement at full depth of a decline
    declining_at_start: float  # share of the initial population declining on day 0
    tenure_days: tuple[int, int]  # initial population: hired this many days before origin
    years: float  # mean years of experience


ARCHETYPE_PARAMS: tuple[Archetype, ...] = (
    Archetype((0.9, 0.35), 0.02, 1.1, (0.88, 0.04), 0.42, 0.03, (300, 1500), 8.0),
    Archetype((0.2, 0.40), 0.04, 1.0, (0.80, 0.05), 0.38, 0.07, (120, 1200), 5.0),
    Archetype((-0.1, 0.60), 0.05, 0.95, (0.76, 0.06), 0.36, 0.14, (0, 400), 2.0),
    Archetype((-0.1, 0.45), 0.07, 1.0, (0.76, 0.05), 0.36, 0.25, (60, 800), 4.0),
    Archetype((-0.3, 0.50), 0.10, 0.95, (0.73, 0.05), 0.34, 0.45, (30, 300), 3.0),
)
# Hires come in every type (mostly less proven ones); the initial population is the mix
# that hiring and churn keep in balance, so the world is stationary over its history.
INITIAL_MIX = (0.23, 0.47, 0.23, 0.05, 0.02)
HIRE_MIX = (0.06, 0.30, 0.34, 0.14, 0.16)

# When tutors offer hours (their schedule's local time): block start hours and weekdays.
BLOCK_START_WEEKDAY = {
    8: 0.03,
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
    8: 0.10,
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
RATING_PRIOR, RATING_PRIOR_WEIGHT = 4.3, 3.0  # what customers see: a shrunk mean


def symptom_weights(mix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(disengagement, struggling) weights of a decline from ``mix`` in [0, 1]: some
    declines show mostly in engagement, some mostly in ratings and reliability, most in
    both."""
    mix = np.asarray(mix, dtype=np.float64)
    return np.clip(1.3 - mix, 0.3, 1.0), np.clip(0.3 + mix, 0.3, 1.0)


def discouragement(model: TutorDeclineModel, drop: np.ndarray) -> np.ndarray:
    """Multiplier of the chance to start declining after ratings fell by ``drop`` stars."""
    return np.exp(model.discourage * np.asarray(drop, dtype=np.float64))


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def abrupt_hazard(model: TutorHazardModel, tenure_days: np.ndarray) -> np.ndarray:
    """Daily hazard of leaving without warning (``TutorHazardModel``)."""
    return sigmoid(model.intercept + model.short_tenure * np.exp(-tenure_days / 45.0))


def _rise(x: np.ndarray, mid: float, width: float) -> np.ndarray:
    """0 at x = 0, rising as a logistic curve through ``mid`` to 1 (1 if width is 0)."""
    if width <= 0:
        return np.ones_like(np.asarray(x, dtype=np.float64))
    r0 = 1.0 / (1.0 + np.exp(mid / width))
    r = 1.0 / (1.0 + np.exp(-(np.asarray(x, dtype=np.float64) - mid) / width))
    return np.maximum(r - r0, 0.0) / (1.0 - r0)


def decline_hazard(
    model: TutorHazardModel, d: np.ndarray, u: np.ndarray, v: np.ndarray, wr: np.ndarray
) -> np.ndarray:
    """Daily hazard added by a decline of depth ``d``, ``u`` days long, of speed ``v`` and
    struggling weight ``wr``."""
    top = model.decline_max * np.asarray(v, dtype=np.float64) ** model.severity
    top = top * (1.0 + model.struggle * (np.asarray(wr, dtype=np.float64) - 0.65))
    rise = _rise(d, model.depth_mid, model.depth_width) * _rise(
        u, model.ramp_days, model.ramp_width
    )
    return np.clip(top * rise, 0.0, 0.95)


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
            ("floor", np.float64, 0.0),
            # The disengagement process (TutorDeclineModel).
            ("p_enter", np.float64, 0.0),
            ("p_recover", np.float64, 0.0),
            ("dstate", np.int8, NORMAL),
            ("onset", np.int64, NO_ONSET),  # first day of the current or last decline
            ("planned_onset", np.int64, NO_ONSET),  # personas: a decline set by the plan
            ("refr", np.int64, -(1 << 30)),  # no new decline before this day
            ("v", np.float64, 1.0),
            # How the decline shows: weight on disengagement (logins, replies, turning
            # requests down) and on struggling (ratings, reschedules, no-shows).
            ("we", np.float64, 0.8),
            ("wr", np.float64, 0.8),
            ("d", np.float64, 0.0),
            ("u", np.float64, 0.0),
            ("ou_sd", np.float64, 0.0),
            ("ou", np.float64, 0.0),
            ("login_urge", np.float64, 0.5),
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
            ("d_hist", np.float32),
            ("haz", np.float32),
        ):
            self.obs.add(name, dtype, np.nan if name in ("e_hist", "d_hist", "haz") else 0)
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

    # ------------------------------------------------------------------ latent state

    def engagement_target(self) -> np.ndarray:
        n = self.n
        return self.e_base[:n] - (self.e_base[:n] - self.floor[:n]) * self.d[:n] * self.we[:n]

    def entry_probability(
        self, tenure: np.ndarray, model: TutorDeclineModel, drop: np.ndarray
    ) -> np.ndarray:
        """P(a normal tutor starts declining on a day): by archetype, higher in the first
        weeks and after a drop in ratings (``drop`` stars: bad reviews discourage)."""
        n = self.n
        boost = 1.0 + model.new_hire_boost * np.exp(-np.maximum(tenure, 0.0) / model.new_hire_days)
        return np.clip(self.p_enter[:n] * boost * discouragement(model, drop), 0.0, 1.0)

    def advance(
        self,
        j: int,
        rng: np.random.Generator,
        model: TutorDeclineModel,
        frozen: np.ndarray | None = None,
    ) -> None:
        """Day ``j``: declines start and end, depth and duration move, engagement follows.

        ``frozen``: tutors whose state only the plan changes (personas before the anchor).
        """
        n = self.n
        self.obs.ensure(n, j + 2)
        act = self.active(j)
        tenure = (j - self.hire_day[:n]).astype(np.float64)
        u_in, u_out = rng.random(n), rng.random(n)
        speed = np.clip(np.exp(model.speed_sd * rng.standard_normal(n)), SPEED_MIN, SPEED_MAX)
        we, wr = symptom_weights(rng.random(n))
        declining = self.dstate[:n] == DECLINING
        enter = act & ~declining & (j >= self.refr[:n])
        enter &= u_in < self.entry_probability(tenure, model, self.rating_drop(j))
        leave = act & declining & (u_out < self.p_recover[:n])
        if frozen is not None:
            enter &= ~frozen
            leave &= ~frozen
        planned = act & (self.planned_onset[:n] == j)
        fresh = enter & ~planned
        self.v[:n] = np.where(fresh, speed, self.v[:n])
        self.we[:n] = np.where(fresh, we, self.we[:n])
        self.wr[:n] = np.where(fresh, wr, self.wr[:n])
        enter |= planned
        self.dstate[:n][enter] = DECLINING
        self.onset[:n][enter] = j
        self.dstate[:n][leave] = NORMAL
        self.refr[:n][leave] = j + model.refractory_days
        declining = self.dstate[:n] == DECLINING
        keep = np.exp(-self.v[:n] / model.depth_days)
        self.d[:n] = np.where(
            declining, 1.0 - (1.0 - self.d[:n]) * keep, self.d[:n] * (1 - model.relax)
        )
        self.u[:n] = np.where(declining, self.u[:n] + 1.0, self.u[:n] * (1 - model.relax))
        self.ou[:n] = OU_KEEP * self.ou[:n] + self.ou_sd[:n] * rng.standard_normal(n)
        self.e[:n] = np.clip(self.engagement_target() + self.ou[:n], 0.02, 0.98)
        self.obs.e_hist[:n, j] = self.e[:n]
        self.obs.d_hist[:n, j] = self.d[:n]

    def rating_drop(self, j: int) -> np.ndarray:
        """How far a tutor's ratings fell: the (shrunk) mean of days ``[j-60, j-30)`` minus
        that of the last 30 days, clipped to [0, 2]; 0 before 60 days of tenure."""
        n = self.n
        tenure = j - self.hire_day[:n]
        drop = self.shrunk_rating(j, 30, 30) - self.shrunk_rating(j, 30)
        return np.where(tenure >= 60, np.clip(drop, 0.0, 2.0), 0.0)

    def hazard_parts(self, j: int, model: TutorHazardModel) -> tuple[np.ndarray, np.ndarray]:
        """(abrupt, decline) daily hazards of day ``j`` before intervention effects."""
        n = self.n
        tenure = np.maximum(j - self.hire_day[:n], 0).astype(np.float64)
        dec = decline_hazard(model, self.d[:n], self.u[:n], self.v[:n], self.wr[:n])
        return abrupt_hazard(model, tenure), dec

    def base_hazard(self, j: int, model: TutorHazardModel) -> np.ndarray:
        """Daily churn hazard before intervention effects."""
        a, dec = self.hazard_parts(j, model)
        return 1.0 - (1.0 - a) * (1.0 - dec)

    def drivers(self, j: int, model: TutorHazardModel) -> dict[str, np.ndarray]:
        """The hazard's (latent) drivers on day ``j``."""
        n = self.n
        tenure = np.maximum(j - self.hire_day[:n], 0).astype(np.float64)
        return {
            "short_tenure": np.exp(-tenure / 45.0),
            "depth": self.d[:n].copy(),
            "speed": self.v[:n].copy(),
            "struggle": self.wr[:n].copy(),
            "rating_drop": self.rating_drop(j),
            "duration": self.u[:n].copy(),
        }

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

    def shrunk_rating(self, j: int, days: int, lag: int = 0) -> np.ndarray:
        n = self.n
        s = self.obs.window_sum("rsum", n, j - lag - days, j - lag, dtype=np.float64)
        c = self.obs.window_sum("rcnt", n, j - lag - days, j - lag)
        return (s + RATING_PRIOR * RATING_PRIOR_WEIGHT) / (c + RATING_PRIOR_WEIGHT)

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
        return self.shrunk_rating(j, 60)


# ---------------------------------------------------------------------- drawing tutors


def draw_tutors(
    rng: np.random.Generator,
    arch: np.ndarray,
    hire_day: np.ndarray,
    hired_us: np.ndarray,
    knobs: ScaleKnobs,
    manager_ids: np.ndarray,
    decline: TutorDeclineModel,
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
        knobs.tutor_hours_per_week * np.array([p.hours for p in params]) * rng.lognormal(0, 0.45, n)
    )
    floor = np.array([p.floor for p in params])
    # The disengagement process: who is prone to it, and (initial population only) who
    # is already declining on day 0, for how long, so churn happens from the start.
    p_enter = np.array(decline.enter)[arch]
    p_recover = np.array(decline.recover)[arch]
    initial = hire_day < 0
    declining = initial & (rng.random(n) < np.array([p.declining_at_start for p in params]))
    days_in = rng.integers(1, 46, n).astype(np.float64)
    v = np.clip(np.exp(decline.speed_sd * rng.standard_normal(n)), SPEED_MIN, SPEED_MAX)
    we, wr = symptom_weights(rng.random(n))
    d = np.where(declining, 1.0 - np.exp(-v * days_in / decline.depth_days), 0.0)
    u = np.where(declining, days_in, 0.0)
    onset = np.where(declining, -days_in.astype(np.int64), NO_ONSET)
    ou_sd = np.where(arch == NEW, 0.025, 0.015)
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
        "floor": floor,
        "p_enter": p_enter,
        "p_recover": p_recover,
        "dstate": np.where(declining, DECLINING, NORMAL).astype(np.int8),
        "onset": onset,
        "planned_onset": np.full(n, NO_ONSET, dtype=np.int64),
        "v": v,
        "we": we,
        "wr": wr,
        "d": d,
        "u": u,
        "ou_sd": ou_sd,
        "ou": np.zeros(n),
        "e": e_base - (e_base - floor) * d * we,
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


# ---------------------------------------------------------------------- true risk curves

HORIZON_DAYS = 90


def _episode_survival(
    model: TutorHazardModel,
    decline: TutorDeclineModel,
    d0: np.ndarray,
    u0: np.ndarray,
    v: np.ndarray,
    wr: np.ndarray,
    rho: np.ndarray,
    other: np.ndarray,
    boost: np.ndarray | None = None,
) -> np.ndarray:
    """P(alive after each of days 0..H-1) of ``m`` tutors declining on day 0 with depth
    ``d0`` and duration ``u0`` (day 0's values), speed ``v``, struggling weight ``wr``
    and daily recovery
    probability ``rho``. ``other`` (2, m, H): the abrupt hazard and the intervention
    multiplier of each day. Exact: recovery is memoryless, and no new decline starts
    within the horizon after a recovery (the refractory period is at least as long).
    ``boost``: a per-row multiplier of the decline part (discouragement), held constant."""
    H = other.shape[-1]
    k = np.arange(H)
    a_part, mult = other[0], other[1]
    boost = np.ones(len(d0)) if boost is None else np.asarray(boost, dtype=np.float64)
    keep = np.exp(-v / decline.depth_days)
    d = 1.0 - (1.0 - d0[:, None]) * keep[:, None] ** k[None, :]
    u = u0[:, None] + k[None, :]
    dec = np.clip(decline_hazard(model, d, u, v[:, None], wr[:, None]) * boost[:, None], 0, 0.95)
    h_dec = np.clip(mult * (1.0 - (1.0 - a_part) * (1.0 - dec)), 0.0, 1.0)
    # still declining and alive after day k
    stay = (1.0 - rho)[:, None] ** k[None, :]
    declining_alive = stay * np.cumprod(1.0 - h_dec, axis=1)
    survive = declining_alive.copy()
    if H > 1:
        lam = 1.0 - decline.relax
        r = np.arange(1, H)  # recovery day
        # depth and duration on day k >= r after recovering on day r: day r-1's, relaxed
        steps = k[None, :] - r[:, None] + 1  # (H-1, H)
        after = steps >= 1
        decay = np.where(after, lam ** np.maximum(steps, 0), 0.0)
        dd = d[:, r - 1, None] * decay[None, :, :]  # (m, H-1, H)
        uu = u[:, r - 1, None] * decay[None, :, :]
        dec = decline_hazard(model, dd, uu, v[:, None, None], wr[:, None, None])
        dec = np.clip(dec * boost[:, None, None], 0.0, 0.95)
        h_rec = np.clip(
            mult[:, None, :] * (1.0 - (1.0 - a_part[:, None, :]) * (1.0 - dec)), 0.0, 1.0
        )
        log_s = np.where(after[None, :, :], np.log1p(-np.minimum(h_rec, 1 - 1e-12)), 0.0)
        cum = np.cumsum(log_s, axis=2)  # (m, r, k): log P(survive days r..k | recovered on r)
        mass = declining_alive[:, :-1] * rho[:, None]  # recovering on day r = 1..H-1
        survive += np.einsum("mr,mrk->mk", mass, np.where(after[None], np.exp(cum), 0.0))
    return survive


# Gauss-Hermite nodes for the unknown speed of a decline that has not started yet.
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(7)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def new_decline_survival(
    model: TutorHazardModel, decline: TutorDeclineModel, rho: float, horizon: int = HORIZON_DAYS
) -> np.ndarray:
    """G[r] = P(the decline alone spares a tutor for the first r days of a decline that
    starts now), averaged over its unknown speed and symptoms; r = 0..horizon."""
    v1 = np.clip(np.exp(decline.speed_sd * _GH_NODES), SPEED_MIN, SPEED_MAX)
    mix = (np.arange(10) + 0.5) / 10  # midpoints of the uniform mix
    v = np.repeat(v1, len(mix))
    wr = np.tile(symptom_weights(mix)[1], len(v1))
    weights = np.repeat(_GH_WEIGHTS, len(mix)) / len(mix)
    m = len(v)
    planes = np.zeros((2, m, horizon))
    planes[1] = 1.0
    first = 1.0 - np.exp(-v / decline.depth_days)  # depth after the first day
    s = _episode_survival(model, decline, first, np.ones(m), v, wr, np.full(m, rho), planes)
    g = np.concatenate([np.ones((m, 1)), s], axis=1)
    return (weights[:, None] * g).sum(axis=0)


def churn_curves(
    tp: TutorPool,
    j: int,
    rows: np.ndarray,
    mult: np.ndarray,
    model: TutorHazardModel,
    decline: TutorDeclineModel,
    horizons: tuple[int, ...] = (7, 14, 30, 90),
) -> dict[int, np.ndarray]:
    """True P(churn within h days) from day ``j`` (today's state already drawn) for the
    tutors ``rows``, given ``mult[row, k]``, the intervention multipliers in effect on
    day ``j + k`` (k < 90).

    Declining tutors: exact (recovery any day, then no new decline within 90 days).
    Normal tutors: what is left of an earlier decline (relaxing), plus a decline starting
    on any later day (entry probabilities by tenure, after the refractory period, raised
    by today's rating drop, held for the horizon), whose
    decline part ignores intervention multipliers (interventions on normal tutors are
    few and the first two weeks of a decline add little hazard): within about 1e-3 of the
    true curve.
    """
    H = HORIZON_DAYS
    k = np.arange(H)
    n_rows = len(rows)
    tenure = (j - tp.hire_day[rows]).astype(np.float64)[:, None] + k[None, :]
    a = abrupt_hazard(model, np.maximum(tenure, 0.0))
    survive = np.ones((n_rows, H))
    dec = tp.dstate[rows] == DECLINING
    if dec.any():
        i = np.flatnonzero(dec)
        other = np.stack([a[i], mult[i]])
        survive[i] = _episode_survival(
            model, decline, tp.d[rows[i]], tp.u[rows[i]], tp.v[rows[i]], tp.wr[rows[i]],
            tp.p_recover[rows[i]], other,
        )  # fmt: skip
    norm = ~dec
    if norm.any():
        i = np.flatnonzero(norm)
        r = rows[i]
        lam = (1.0 - decline.relax) ** k[None, :]
        dd, uu = tp.d[r, None] * lam, tp.u[r, None] * lam
        residual = decline_hazard(model, dd, uu, tp.v[r, None], tp.wr[r, None])
        h_res = np.clip(mult[i] * (1.0 - (1.0 - a[i]) * (1.0 - residual)), 0.0, 1.0)
        boost = 1.0 + decline.new_hire_boost * np.exp(
            -np.maximum(tenure[i], 0) / decline.new_hire_days
        )
        pi = tp.p_enter[r, None] * boost * discouragement(decline, tp.rating_drop(j)[r])[:, None]
        pi = np.where((k[None, :] >= 1) & (j + k[None, :] >= tp.refr[r, None]), pi, 0.0)
        pi = np.clip(pi, 0.0, 1.0)
        # never started a new decline and alive after day k
        stay = np.cumprod((1.0 - pi) * (1.0 - h_res), axis=1)
        before = np.concatenate([np.ones((len(i), 1)), stay[:, :-1]], axis=1)
        start = before * pi  # a decline starts on day e (probability mass)
        log_a = np.cumsum(np.log1p(-np.minimum(mult[i] * a[i], 1 - 1e-12)), axis=1)
        out = stay.copy()
        rhos = tp.p_recover[r]
        for rho in np.unique(rhos):
            sel = rhos == rho
            g = new_decline_survival(model, decline, float(rho), H)
            e = np.arange(H)
            # P(alive after day k | a decline started on day e <= k)
            #   ~ prod_{i=e..k} (1 - m a) * G(k - e + 1)
            span = k[:, None] - e[None, :] + 1  # rows k, columns e
            g_span = np.where(span >= 1, g[np.clip(span, 0, H)], 0.0)
            la = log_a[sel]
            la_prev = np.concatenate([np.zeros((sel.sum(), 1)), la[:, :-1]], axis=1)
            weight = start[sel] * np.exp(-la_prev)
            contrib = np.exp(la) * (weight @ g_span.T)
            out[sel] += contrib
        survive[i] = out
    return {h: 1.0 - survive[:, h - 1] for h in horizons}
