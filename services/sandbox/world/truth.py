"""Ground truth of a world, for checking models: latent traits and true probabilities.

Everything here is what the app can *not* see through the API: archetypes, latent
quality and engagement, the tutors' disengagement process (declining or not, for how
long, how deep) and the customers' lapses, the true hazards and churn probabilities at
the anchor, each
first session's true P(poor rating), customers' segments, interventions' true effects
and how they were selected, and the demand multipliers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from services.api.contract import CUSTOMER_STATUSES, TUTOR_STATUSES
from services.api.rails_time import US_PER_DAY
from services.sandbox.world.config import ARCHETYPES, SEGMENTS, SUBJECTS
from services.sandbox.world.customers import (
    HOURS_WEEKDAY,
    HOURS_WEEKEND,
    WEEKDAY_SHARE,
    segment_of,
)
from services.sandbox.world.emit import NULL

if TYPE_CHECKING:
    from services.sandbox.world.sim import Simulator


@dataclass(frozen=True)
class Truth:
    anchor_us: int
    tutors: pd.DataFrame  # index tutor_id
    customers: pd.DataFrame  # index customer_id
    first_sessions: pd.DataFrame  # index session_id
    interventions: pd.DataFrame  # the simulated history (index intervention_id)
    external_interventions: pd.DataFrame  # the app's, as told through record_intervention
    intervention_effects: dict[str, float]
    intervention_effect_days: int
    engagement_daily: np.ndarray  # (tutor, day) latent engagement
    decline_depth_daily: np.ndarray  # (tutor, day) latent depth of decline (0 = none)
    hazard_daily: np.ndarray  # (tutor, day) true daily churn hazard (with effects)
    day_starts_us: np.ndarray  # epoch µs of each column's day
    demand_multiplier: pd.DataFrame  # (day start µs) x subject: season x trend
    demand_hour_profile: dict[str, dict[int, float]]
    demand_weekday_share: tuple[float, ...]
    bulk_update_at_us: int | None
    bulk_update_customer_ids: np.ndarray
    models: dict[str, Any]


def _nullable(values: np.ndarray) -> pd.Series:
    return pd.Series(np.where(values == NULL, pd.NA, values), dtype="Int64")


def build_truth(sim: Simulator) -> Truth:
    tp, cp, tl = sim.tutors, sim.customers, sim.tl
    n = tp.n
    anchor = sim.anchor_us
    at = sim.anchor_truth
    known = int(at.get("n", 0))

    def at_anchor(key: str) -> np.ndarray:
        out = np.full(n, np.nan)
        if key in at:
            out[:known] = at[key]
        return out

    churned = tp.churned_us[:n]
    tutors = pd.DataFrame(
        {
            "tutor_id": np.arange(1, n + 1),
            "archetype": np.array(ARCHETYPES, dtype=object)[tp.arch[:n]],
            "persona": np.where(
                tp.persona[:n] == 0, "sarah_chen", np.where(tp.persona[:n] == 1, "mike_ross", None)
            ),
            "quality": tp.q[:n],
            "reschedule_propensity": tp.resched[:n],
            "capacity_hours_per_week": tp.hours[:n],
            "engagement_base": tp.e_base[:n],
            "engagement_floor": tp.floor[:n],
            "decline_entry_per_day": tp.p_enter[:n],
            "decline_recovery_per_day": tp.p_recover[:n],
            "declining_at_anchor": at_anchor("declining") == 1,
            "decline_days_at_anchor": at_anchor("decline_days"),
            "decline_speed_at_anchor": at_anchor("decline_speed"),
            "last_decline_onset_us": np.where(
                np.abs(tp.onset[:n]) < (1 << 29), tl.origin_us + tp.onset[:n] * US_PER_DAY, np.nan
            ),
            "engagement_at_anchor": at_anchor("engagement"),
            "hired_at": tp.hired_us[:n],
            "churned_at": _nullable(churned),
            "churn_days_after_anchor": np.where(
                churned == NULL, np.nan, (churned - anchor) / US_PER_DAY
            ),
            "status_now": np.array(TUTOR_STATUSES, dtype=object)[tp.status[:n]],
            "active_at_anchor": (tp.hired_us[:n] <= anchor)
            & ((churned == NULL) | (churned > anchor)),
            "base_hazard_at_anchor": at_anchor("base_hazard"),
            "intervention_multiplier_at_anchor": at_anchor("multiplier"),
            **{f"p_churn_{h}d": at_anchor(f"p_churn_{h}d") for h in (7, 14, 30, 90)},
            **{k: at_anchor(k) for k in at if k.startswith("driver_")},
        }
    ).set_index("tutor_id")

    m = cp.n
    c_churned = cp.churned_us[:m]
    existed = cp.created_us[:m] <= anchor
    churned_by_anchor = (c_churned != NULL) & (c_churned <= anchor)
    health = at.get("customer_health")
    health_at_anchor = np.full(m, np.nan)
    if health is not None:
        health_at_anchor[: len(health)] = health
    lapse = {}
    for key in ("customer_lapsing", "customer_lapse_days", "customer_lapse_depth"):
        values = np.full(m, np.nan)
        if key in at:
            values[: len(at[key])] = at[key]
        lapse[key] = values
    seg_idx = segment_of(np.nan_to_num(health_at_anchor))
    segment = np.where(churned_by_anchor, "churned", np.array(SEGMENTS, dtype=object)[seg_idx])
    segment = np.where(existed, segment, None)
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(1, m + 1),
            "segment_at_anchor": segment,
            "segment_at_signup": np.array(SEGMENTS, dtype=object)[cp.segment0[:m]],
            "health_at_anchor": health_at_anchor,
            "health_now": cp.h[:m],
            "lapsing_at_anchor": lapse["customer_lapsing"] == 1,
            "lapse_days_at_anchor": np.where(
                lapse["customer_lapsing"] == 1, lapse["customer_lapse_days"], np.nan
            ),
            "lapse_depth_at_anchor": lapse["customer_lapse_depth"],
            "status_now": np.array(CUSTOMER_STATUSES, dtype=object)[cp.status[:m]],
            "churned_at": _nullable(c_churned),
            "churned_by_anchor": churned_by_anchor,
            "subject": np.array(SUBJECTS, dtype=object)[cp.subj[:m]],
        }
    ).set_index("customer_id")

    parts = sim.sessions.first_truth
    if parts:
        fs = pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
        fs["subject"] = np.array(SUBJECTS, dtype=object)[fs["subject"].to_numpy()]
    else:
        fs = pd.DataFrame(columns=["session_id", "p_poor"])
    first_sessions = fs.set_index("session_id")

    interventions = pd.DataFrame(sim.intervention_truth)
    if len(interventions):
        interventions = interventions.set_index("intervention_id")
    external = pd.DataFrame(sim.external_interventions)

    days = sim.day
    demand = pd.DataFrame(tl.season[:days], columns=list(SUBJECTS))
    demand.index = tl.origin_us + np.arange(days) * US_PER_DAY
    demand.index.name = "day_start_us"
    return Truth(
        anchor_us=anchor,
        tutors=tutors,
        customers=customers,
        first_sessions=first_sessions,
        interventions=interventions,
        external_interventions=external,
        intervention_effects=dict(sim.cfg.intervention_effects),
        intervention_effect_days=sim.cfg.intervention_effect_days,
        engagement_daily=tp.obs.e_hist[:n, :days].copy(),
        decline_depth_daily=tp.obs.d_hist[:n, :days].copy(),
        hazard_daily=tp.obs.haz[:n, :days].copy(),
        day_starts_us=tl.origin_us + np.arange(days) * US_PER_DAY,
        demand_multiplier=demand,
        demand_hour_profile={"weekday": dict(HOURS_WEEKDAY), "weekend": dict(HOURS_WEEKEND)},
        demand_weekday_share=tuple(WEEKDAY_SHARE),
        bulk_update_at_us=sim.bulk_at_us,
        bulk_update_customer_ids=sim.bulk_ids,
        models={
            "tutor_decline": dataclasses.asdict(sim.cfg.tutor_decline),
            "tutor_hazard": dataclasses.asdict(sim.cfg.tutor_hazard),
            "first_session": dataclasses.asdict(sim.cfg.first_session),
            "ratings": dataclasses.asdict(sim.cfg.ratings),
            "customer_hazard": dataclasses.asdict(sim.cfg.customer_hazard),
        },
    )
