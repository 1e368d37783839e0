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
class TutorHazardModel:
    """Daily churn hazard of an active tutor, from what the app can observe.

    ``h = sigmoid(intercept + sum(coef * driver)) * product(intervention multipliers)``
    with drivers computed from the tutor's records before the day (windows in days):

    - ``volume_drop``: max(0, log((completed_prev30 + 2) / (completed_30 + 2)))
    - ``rating_low``: max(0, 4.4 - shrunk mean rating of the last 30 days)
    - ``rating_drop``: max(0, shrunk rating of days 31-60 - shrunk rating of the last 30)
    - ``reliability``: reschedules by the tutor + 2 * tutor no-shows, last 14 days
    - ``engagement_low``: max(0, 0.55 - engagement score of the last 14 days)
    - ``engagement_drop``: max(0, score of days 15-28 - score of the last 14 days)
    - ``short_tenure``: exp(-tenure_days / 45)

    Drop terms need both windows observed (tenure and history long enough).
    """

    intercept: float = -8.6
    volume_drop: float = 2.35
    rating_low: float = 1.57
    rating_drop: float = 1.57
    reliability: float = 0.34
    engagement_low: float = 3.25
    engagement_drop: float = 2.63
    short_tenure: float = 1.96
    rating_prior: float = 4.3
    rating_prior_weight: float = 3.0


@dataclass(frozen=True, slots=True)
class FirstSessionModel:
    """P(rating < 4) of a first session: a logistic function of tutor and context.

    ``logit = intercept - quality * q + engagement * (0.6 - e) + subject[s]
    + early_morning [local hour < 9] + late_evening [hour >= 21]
    + weekend_morning [Sat/Sun, hour < 12] + age term``
    where ``q`` is the tutor's latent quality and ``e`` their engagement that day.
    """

    intercept: float = -1.05
    quality: float = 1.25
    engagement: float = 2.0
    early_morning: float = 0.4
    late_evening: float = 0.45
    weekend_morning: float = 0.3
    age_child: float = 0.3  # student age <= 9
    age_young_teen: float = 0.2  # 13-15
    age_adult: float = -0.2  # 19+
    subject: tuple[float, ...] = (
        0.0,
        0.0,
        0.25,
        0.15,
        0.2,
        0.0,
        0.15,
        0.15,
        0.05,
        -0.1,
        -0.1,
        0.1,
        -0.15,
        -0.2,
    )


@dataclass(frozen=True, slots=True)
class RatingModel:
    """Ratings of later (non-first) sessions: ``round(mu + N(0, noise))`` clipped to 1-5.

    ``mu = base + quality * q + engagement * (e - 0.6) - burnout * overload
    - technical_issue * [issue]``, overload = max(0, completed_7d / weekly capacity - 0.9).
    """

    base: float = 4.35
    quality: float = 0.35
    engagement: float = 0.8
    burnout: float = 1.5
    technical_issue: float = 0.4
    noise: float = 0.65


@dataclass(frozen=True, slots=True)
class CustomerHazardModel:
    """Daily churn hazard of an active customer (logistic of observable drivers).

    Drivers: ``calls_2plus`` [2+ inbound calls in 14 days], ``calls_14`` (count),
    ``velocity_drop`` max(0, 1 - (completed_14 + 0.5) / (completed_prev28 / 2 + 0.5)),
    ``poor_first`` [a first session rated below 3 in the last 30 days], ``switches``
    (new tutors in the last 30 days, after the first), ``idle_days`` (since the last
    completed session or signup, capped at 45), ``goal_completed``.
    """

    intercept: float = -10.15
    calls_2plus: float = 2.6
    calls_14: float = 0.4
    velocity_drop: float = 1.2
    poor_first: float = 1.3
    switches: float = 0.5
    idle_days: float = 0.06
    goal_completed: float = 0.6


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
    # Daily probability that an active tutor gets an intervention from their manager.
    interventions_per_tutor_day: float = 0.006
    # Share of interventions a manager assigns at random rather than by risk.
    random_intervention_share: float = 0.25
    # Daily probability of a message reply at full load (replies follow sessions).
    reply_rate: float = 0.22
    # Soft-deleted shares.
    deleted_booking_share: float = 0.003
    deleted_session_share: float = 0.002
    deleted_slot_share: float = 0.012
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
        "demo": ScaleKnobs(
            active_tutors=400, active_customers=4000, history_days=180, bulk_group_size=1500
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
    tutor_hazard: TutorHazardModel = field(default_factory=TutorHazardModel)
    first_session: FirstSessionModel = field(default_factory=FirstSessionModel)
    ratings: RatingModel = field(default_factory=RatingModel)
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
