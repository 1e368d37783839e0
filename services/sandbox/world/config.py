"""What the simulated marketplace is made of: scale knobs, the true causal models, the seed.

Everything a later model is checked against lives here as plain frozen dataclasses, so a
test or a benchmark can read the *true* coefficients (``world.truth`` carries them too)
and a tuner can ``dataclasses.replace`` one knob without touching the simulator.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from services.api.contract import INTERVENTION_TYPES
from services.api.rails_time import US_PER_HOUR

# ---------------------------------------------------------------------- vocabularies

SUBJECTS: tuple[str, ...] = (
    "algebra",
    "geometry",
    "calculus",
    "chemistry",
    "physics",
    "biology",
    "spanish",
    "french",
    "english_writing",
    "sat_prep",
    "act_prep",
    "computer_science",
    "history",
    "reading",
)
SUBJECT_INDEX: Mapping[str, int] = MappingProxyType({s: i for i, s in enumerate(SUBJECTS)})

# Share of bookings per subject (demand) and of tutors' offered hours (supply). They
# differ on purpose: calculus, physics and computer science are short of tutors, French
# and history have too many, so shortage and surplus alerts both have a cause.
SUBJECT_DEMAND_SHARE: tuple[float, ...] = (
    0.13,
    0.08,
    0.07,
    0.07,
    0.06,
    0.06,
    0.08,
    0.03,
    0.08,
    0.08,
    0.05,
    0.06,
    0.04,
    0.11,
)
SUBJECT_SUPPLY_SHARE: tuple[float, ...] = (
    0.14,
    0.09,
    0.05,
    0.07,
    0.045,
    0.07,
    0.08,
    0.055,
    0.09,
    0.07,
    0.04,
    0.035,
    0.075,
    0.09,
)
# Yearly log-growth of demand per subject (computer science booming, French fading).
SUBJECT_TREND_PER_YEAR: tuple[float, ...] = (
    0.0,
    -0.03,
    0.10,
    0.05,
    0.0,
    -0.05,
    0.10,
    -0.25,
    0.0,
    0.05,
    0.0,
    0.35,
    -0.20,
    0.02,
)
# Exam-prep subjects follow the test calendar instead of the school calendar.
EXAM_SUBJECTS: tuple[str, ...] = ("sat_prep", "act_prep")
# Typical tutor hourly rate per subject (USD); quality and experience move it.
SUBJECT_BASE_RATE: tuple[float, ...] = (
    38,
    36,
    48,
    44,
    46,
    40,
    35,
    36,
    37,
    55,
    52,
    58,
    33,
    30,
)

TIMEZONES: tuple[str, ...] = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "Europe/London",
    "Asia/Manila",
)
CUSTOMER_TZ_SHARE: tuple[float, ...] = (0.46, 0.28, 0.07, 0.03, 0.14, 0.005, 0.005, 0.01, 0, 0)
TUTOR_TZ_SHARE: tuple[float, ...] = (0.42, 0.25, 0.07, 0.03, 0.15, 0.005, 0.005, 0.02, 0.02, 0.03)

ARCHETYPES: tuple[str, ...] = ("high_performer", "steady", "new", "at_risk", "churner")
SEGMENTS: tuple[str, ...] = ("thriving", "healthy", "at_risk", "churned")
ACQUISITION_CHANNELS: tuple[str, ...] = (
    "organic_search",
    "paid_search",
    "referral",
    "social",
    "school_partnership",
    "direct",
)
# The value a legacy import left behind; the bulk backfill replaces it.
LEGACY_CHANNEL = "legacy_import"
CALL_REASONS: tuple[str, ...] = (
    "billing",
    "scheduling",
    "tutor_quality",
    "technical",
    "cancellation_request",
    "account",
    "general_inquiry",
)
CERTIFICATIONS: tuple[str, ...] = (
    "state_teaching_license",
    "tesol",
    "ap_certified",
    "masters_degree",
    "phd",
    "college_board_trained",
    "google_cs_educator",
)

# ---------------------------------------------------------------------- true models


@dataclass(frozen=True, slots=True)
class TutorDeclineModel:
    """Disengagement as a persistent latent process (what real marketplaces show).

    A tutor is *normal* or *declining*. A normal tutor starts declining on a day with
    probability ``enter[archetype]``, raised for new hires by ``1 + new_hire_boost *
    exp(-tenure / new_hire_days)`` (early quitters) and after bad reviews by
    ``exp(discourage * rating_drop)`` (``rating_drop``: how far the tutor's ratings fell,
    shrunk mean of the 30 days before the last 30 minus that of the last 30, 0 to 2
    stars, 0 before 60 days of tenure), unless a recovery less than ``refractory_days``
    ago renewed them. A declining tutor recovers on a day with probability
    ``recover[archetype]`` (memoryless: some decliners come back, so not every decliner
    churns). At the onset the decline draws a speed ``v`` (log-normal, sd ``speed_sd``)
    and how it shows, weights ``we`` (disengagement) and ``wr`` (struggling) from a
    uniform mix (``tutors.symptom_weights``: some declines show mostly in engagement,
    some mostly in ratings and reliability, most in both). While declining, two latent
    quantities grow:

    - depth ``d``: ``d <- 1 - (1 - d) * exp(-v / depth_days)``: how far the tutor has
      checked out (within a week or two);
    - duration ``u``: ``u <- u + 1``, the days spent declining.

    After a recovery both relax: ``d <- (1 - relax) * d``, ``u <- (1 - relax) * u``.

    Depth drives every observable together and persistently (a trend, not a wobble):
    engagement ``e = e_base - (e_base - floor) * d * we`` (so logins, reply speed and the
    availability a tutor publishes two weeks ahead), the share of booking requests the
    tutor turns down (``decline_requests * d``) and of booked sessions they call off
    (``cancel * d`` a day), reschedules (``+ reschedule * d * v * wr``, at most 0.6) and
    no-shows (``+ no_show * d * wr``) by the tutor, and ratings (``- RatingModel.decline *
    d * wr``). The churn hazard (:class:`TutorHazardModel`) grows with the duration ``u``
    (symptoms first, then leaving) to a plateau that is higher for faster declines and
    for struggling ones.
    """

    # per archetype: high_performer, steady, new, at_risk, churner
    enter: tuple[float, ...] = (0.0006, 0.0018, 0.004, 0.008, 0.024)
    recover: tuple[float, ...] = (0.008, 0.007, 0.006, 0.004, 0.002)
    new_hire_boost: float = 2.0
    new_hire_days: float = 30.0
    discourage: float = 3.5
    refractory_days: int = 90
    speed_sd: float = 0.35
    depth_days: float = 3.0
    relax: float = 0.1
    decline_requests: float = 0.9
    reschedule: float = 0.15
    no_show: float = 0.06
    cancel: float = 0.05


@dataclass(frozen=True, slots=True)
class TutorHazardModel:
    """Daily churn hazard of an active tutor, from their latent state (not a wobble).

    ``h = m * (1 - (1 - abrupt) * (1 - decline))`` where ``m`` is the product of the
    true multipliers of the interventions in effect and

    - ``abrupt = sigmoid(intercept + short_tenure * exp(-tenure_days / 45))``: quitting
      without warning (a new job, a move), more often in the first weeks;
    - ``decline = decline_max * v ** severity * (1 + struggle * (wr - 0.65))
      * R(d; depth_mid, depth_width) * R(u; ramp_days, ramp_width)`` for a decline of
      depth ``d``, ``u`` days long, of speed ``v`` and struggling weight ``wr``
      (:class:`TutorDeclineModel`), where ``R(x; mid, width)`` rises as a logistic curve
      from 0 at ``x = 0`` through ``mid`` to 1 (1 when ``width`` is 0). Zero for a tutor
      who never declined; on the plateau, once the tutor has checked out, a tutor leaves
      any day now (in about two weeks on average), sooner after a faster, more decided
      decline and one that shows in poor ratings and missed sessions (a struggling tutor
      is discouraged). After a recovery ``d`` and ``u`` relax, and the hazard with them.

    What the app observes (engagement, volume, ratings, reliability) are symptoms of the
    decline; a transient dip in them (engagement noise) changes nothing here.
    """

    intercept: float = -9.0
    short_tenure: float = 1.2
    decline_max: float = 0.1
    severity: float = 1.0
    struggle: float = 1.5
    depth_mid: float = 0.5
    depth_width: float = 0.0
    ramp_days: float = 14.0
    ramp_width: float = 3.0


@dataclass(frozen=True, slots=True)
class FirstSessionModel:
    """P(rating < 4) of a first session: a logistic function of tutor and context.

    ``logit = intercept - quality * q + engagement * (0.6 - e) + subject[s]
    + early_morning [hour < 9] + morning [9 <= hour < 12] + late_evening [hour >= 21]
    + weekend [Sat/Sun] + age term``
    where ``q`` is the tutor's latent quality, ``e`` their engagement that day, and hour
    and weekday are the session's in the tutor's time zone. Quality shows in every
    rating (:class:`RatingModel`), so a tutor's record reveals it as sessions accrue.
    """

    intercept: float = -1.15
    quality: float = 2.4
    engagement: float = 2.0
    early_morning: float = 0.9
    morning: float = 0.1
    late_evening: float = 0.5
    weekend: float = 0.35
    age_child: float = 0.4  # student age <= 9
    age_young_teen: float = 0.25  # 13-15
    age_adult: float = -0.3  # 19+
    subject: tuple[float, ...] = (
        0.0,  # algebra
        0.0,  # geometry
        0.35,  # calculus
        0.2,  # chemistry
        0.3,  # physics
        0.0,  # biology
        0.25,  # spanish
        0.25,  # french
        0.05,  # english_writing
        -0.15,  # sat_prep
        -0.15,  # act_prep
        0.15,  # computer_science
        -0.2,  # history
        -0.3,  # reading
    )


@dataclass(frozen=True, slots=True)
class RatingModel:
    """Ratings of later (non-first) sessions: ``round(mu + N(0, noise))`` clipped to 1-5.

    ``mu = base + quality * q + engagement * (e - 0.6) - burnout * overload
    - technical_issue * [issue] - decline * d * wr``, overload = max(0, completed_7d /
    weekly capacity - 0.9), ``d`` the tutor's depth of decline and ``wr`` how much it shows
    as struggling (:class:`TutorDeclineModel`).
    """

    base: float = 4.25
    quality: float = 0.8
    engagement: float = 0.8
    burnout: float = 1.5
    technical_issue: float = 0.4
    decline: float = 0.5
    noise: float = 0.45


@dataclass(frozen=True, slots=True)
class CustomerLapseModel:
    """Customers drift away the same way tutors do: a latent *lapse* that lasts weeks.

    A customer starts lapsing on a day with probability ``enter * exp(-enter_health * h)``
    (``h`` their latent health), or after a bad experience the day before: a first session
    rated below 4 (``after_poor_first``), a tutor no-show (``after_tutor_no_show``), their
    tutor leaving the platform (``after_tutor_left``), a request no tutor could take
    (``after_unfilled``), a learning goal completed (``after_goal_completed``: done with
    tutoring). A lapsing customer recovers on a day with probability ``recover`` (then
    not again for ``refractory_days``). While lapsing, depth ``d`` grows as
    ``1 - (1 - d) * exp(-1 / depth_days)`` and duration ``u`` by a day; after a recovery
    both relax by ``relax`` a day.

    Depth drives what the app sees: bookings fall (rate ``* (1 - bookings * d)``, so
    velocity drops and idle days grow), inbound calls rise (``calls * d`` a day, mostly
    unhappy: billing, scheduling, tutor quality, asking to cancel) and latent health
    sinks (``health * d`` a day: the customer looks at risk). The churn hazard
    (:class:`CustomerHazardModel`) grows with depth and duration.
    """

    enter: float = 0.00008
    enter_health: float = 0.9
    after_poor_first: float = 0.08
    after_tutor_no_show: float = 0.07
    after_tutor_left: float = 0.05
    after_unfilled: float = 0.01
    after_goal_completed: float = 0.07
    recover: float = 0.01
    refractory_days: int = 60
    depth_days: float = 10.0
    relax: float = 0.1
    bookings: float = 0.9
    calls: float = 0.25
    health: float = 0.03


@dataclass(frozen=True, slots=True)
class CustomerHazardModel:
    """Daily churn hazard of an active customer, from their latent lapse.

    ``h = 1 - (1 - abrupt) * (1 - lapse)`` with ``abrupt = sigmoid(intercept)`` (moving,
    a budget cut: no warning) and ``lapse = sigmoid(lapse_intercept + depth * d +
    duration * min(u, duration_cap) / 30) - sigmoid(lapse_intercept)`` for a lapse of
    depth ``d`` and duration ``u`` days (:class:`CustomerLapseModel`). Calls, falling
    velocity, idle days, poor first sessions and tutor switches are its symptoms and
    causes, not separate terms.
    """

    intercept: float = -10.3
    lapse_intercept: float = -10.0
    depth: float = 7.5
    duration: float = 0.0
    duration_cap: float = 60.0


DEFAULT_INTERVENTION_EFFECTS: Mapping[str, float] = MappingProxyType(
    {
        "automated_coaching": 0.85,
        "training_module": 0.75,
        "manager_coaching": 0.6,
        "peer_mentoring": 0.7,
        "performance_improvement_plan": 0.8,
        "retention_interview": 0.5,
        "recognition": 0.9,
    }
)
assert set(DEFAULT_INTERVENTION_EFFECTS) == set(INTERVENTION_TYPES)

# ---------------------------------------------------------------------- scales


@dataclass(frozen=True, slots=True)
class ScaleKnobs:
    """Counts and rates of one scale. Rates are per day unless named otherwise."""

    active_tutors: int
    active_customers: int
    history_days: int
    bulk_group_size: int
    tutors_per_manager: int = 25
    # Bookings a customer makes per week at health 0.3 (velocity grows with health).
    bookings_per_week: float = 0.34
    # Weekly hours a steady tutor offers (others scale from it by archetype).
    tutor_hours_per_week: float = 6.5
    # Daily probability that an active tutor gets an intervention from their manager
    # (a manager of 25 tutors starts about two a month).
    interventions_per_tutor_day: float = 0.0035
    # Share of interventions a manager assigns at random rather than by risk.
    random_intervention_share: float = 0.25
    # Daily probability of a message reply at full load (replies follow sessions).
    reply_rate: float = 0.22
    # Soft-deleted shares.
    deleted_booking_share: float = 0.003
    deleted_session_share: float = 0.002
    deleted_slot_share: float = 0.006
    deleted_churned_customer_share: float = 0.04
    # Days before the anchor of the bulk update_all.
    bulk_days_before_anchor: int = 40


SCALES: Mapping[str, ScaleKnobs] = MappingProxyType(
    {
        # A small market is less liquid (few tutors per subject-hour): more hours each.
        "tiny": ScaleKnobs(
            active_tutors=60,
            active_customers=500,
            history_days=60,
            bulk_group_size=150,
            tutors_per_manager=20,
            tutor_hours_per_week=10.0,
            interventions_per_tutor_day=0.01,
        ),
        # Big enough that a model trained on it is not at the mercy of a few churners.
        "demo": ScaleKnobs(
            active_tutors=600, active_customers=6000, history_days=180, bulk_group_size=1500
        ),
        # A big market is more liquid: slightly fewer hours each keep shortages real.
        "full": ScaleKnobs(
            active_tutors=5000,
            active_customers=50000,
            history_days=180,
            bulk_group_size=1500,
            tutor_hours_per_week=6.0,
            bookings_per_week=0.33,
        ),
    }
)

# Days simulated before the nominal history so that bookings made ahead exist on its
# first day (lead times reach 14 days) and availability was published before it.
WARMUP_DAYS = 14
# Future the world keeps beyond a requested time (RAILS_API: availability 14 days ahead).
MIN_LOOKAHEAD_DAYS = 14


def default_anchor_us() -> int:
    """The current UTC time floored to the hour: the app's sandbox is about *now*."""
    now = time.time_ns() // 1000
    return now - now % US_PER_HOUR


@dataclass(frozen=True)
class WorldConfig:
    """Everything that determines a world: same config, same world, byte for byte."""

    scale: str = "demo"
    seed: int = 42
    anchor_us: int = field(default_factory=default_anchor_us)
    # Days simulated beyond the anchor at build time (future bookings, sessions, slots).
    future_days: int = 21
    # None: the scale's knobs; pass a ScaleKnobs (dataclasses.replace) to tune.
    knobs: ScaleKnobs | None = None
    tutor_decline: TutorDeclineModel = field(default_factory=TutorDeclineModel)
    tutor_hazard: TutorHazardModel = field(default_factory=TutorHazardModel)
    first_session: FirstSessionModel = field(default_factory=FirstSessionModel)
    ratings: RatingModel = field(default_factory=RatingModel)
    customer_lapse: CustomerLapseModel = field(default_factory=CustomerLapseModel)
    customer_hazard: CustomerHazardModel = field(default_factory=CustomerHazardModel)
    # True hazard multiplier of each intervention type while its effect lasts.
    intervention_effects: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_INTERVENTION_EFFECTS)
    )
    intervention_effect_days: int = 45

    def __post_init__(self) -> None:
        if self.knobs is None and self.scale not in SCALES:
            raise ValueError(f"scale must be one of {sorted(SCALES)}, not {self.scale!r}")
        if self.future_days < MIN_LOOKAHEAD_DAYS:
            raise ValueError(f"future_days must be at least {MIN_LOOKAHEAD_DAYS}")
        missing = set(INTERVENTION_TYPES) - set(self.intervention_effects)
        if missing:
            raise ValueError(f"intervention_effects lacks {sorted(missing)}")
        if not all(math.isfinite(v) and v > 0 for v in self.intervention_effects.values()):
            raise ValueError("intervention effects must be positive multipliers")

    @property
    def scale_knobs(self) -> ScaleKnobs:
        return self.knobs if self.knobs is not None else SCALES[self.scale]
