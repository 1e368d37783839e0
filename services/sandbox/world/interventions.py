"""Past interventions: chosen mostly by risk, each changing the tutor's churn hazard.

Managers (before the anchor; after it the app's users decide) pick tutors the way real
managers do: most picks go to the riskiest tutors (probability proportional to the
tutor's current hazard), a share (``random_intervention_share``) at
random. The type follows the risk (DOMAIN.md's triggers) for risk-based picks and is
uniform for random ones, so every type is seen across risk levels. Once an intervention
is under way (its ``in_progress`` version) and unless cancelled, it multiplies the
tutor's daily hazard by its type's true effect for ``intervention_effect_days``.
Because selection is by risk, a naive comparison of intervened vs other tutors is
biased: the truth lets the app's adjusted estimates be checked.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import numpy as np

from services.api.contract import INTERVENTION_TYPES
from services.api.rails_time import US_PER_HOUR
from services.sandbox.world.emit import NULL
from services.sandbox.world.tutors import top_k_without_replacement

if TYPE_CHECKING:
    from services.sandbox.world.sim import Simulator

TYPE = {t: i for i, t in enumerate(INTERVENTION_TYPES)}
OPEN, IN_PROGRESS, COMPLETED, CANCELLED = range(4)  # contract.INTERVENTION_STATUSES
SLA_HOURS = {
    "automated_coaching": 24,
    "training_module": 72,
    "manager_coaching": 48,
    "peer_mentoring": 168,
    "performance_improvement_plan": 168,
    "retention_interview": 24,
    "recognition": 168,
}
MIN_DAYS_BETWEEN = 21
RISK_POWER = 1.0
CANCEL_SHARE = 0.1
# Type mix by risk tier for risk-based picks (order of INTERVENTION_TYPES).
TIER_MIX = {
    "critical_plus": (0.0, 0.0, 0.4, 0.0, 0.0, 0.6, 0.0),
    "critical": (0.0, 0.2, 0.6, 0.0, 0.0, 0.2, 0.0),
    "high": (0.1, 0.4, 0.3, 0.0, 0.2, 0.0, 0.0),
    "medium": (0.5, 0.3, 0.0, 0.0, 0.1, 0.0, 0.1),
    "low": (0.4, 0.2, 0.0, 0.0, 0.0, 0.0, 0.4),
}
OUTCOMES = (
    "Tutor engaged; agreed a plan for the next month",
    "Tutor committed to fewer reschedules",
    "Completed the module; follow-up in two weeks",
    "Discussed workload; reduced weekly hours",
    "Tutor appreciated the recognition",
    "Mentor paired; first check-in done",
)
CANCEL_OUTCOMES = ("Cancelled: tutor unreachable", "Cancelled: superseded by another plan")
NOTES = (
    "Called the tutor",
    "Sent the coaching e-mail",
    "Reviewed recent sessions together",
    "Scheduled a follow-up",
    None,
)


def _tier(p30: np.ndarray) -> list[str]:
    return [
        "critical_plus"
        if p >= 0.85
        else "critical"
        if p >= 0.7
        else "high"
        if p >= 0.5
        else "medium"
        if p >= 0.25
        else "low"
        for p in p30.tolist()
    ]


def daily_interventions(
    sim: Simulator, j: int, rng: np.random.Generator, hazard: np.ndarray
) -> None:
    """Managers' interventions started on day ``j`` (only before the anchor)."""
    if j > sim.tl.anchor_day:
        return
    tp = sim.tutors
    n = tp.n
    eligible = (
        tp.active(j) & (tp.persona[:n] < 0) & (j - tp.last_intervention_day[:n] >= MIN_DAYS_BETWEEN)
    )
    pool = np.flatnonzero(eligible[: len(hazard)])  # not today's hires
    k = min(rng.poisson(sim.knobs.interventions_per_tutor_day * tp.active(j).sum()), len(pool))
    if k == 0:
        return
    k_random = rng.binomial(k, sim.knobs.random_intervention_share)
    k_risk = k - k_random
    # Managers look at the riskiest first: P(pick) grows with the hazard.
    h = hazard[pool] ** RISK_POWER
    chosen_risk = top_k_without_replacement(rng, h[None, :], np.array([k_risk]))[0]
    chosen_risk = chosen_risk[chosen_risk >= 0]
    rest = np.setdiff1d(np.arange(len(pool)), chosen_risk)
    chosen_random = rng.choice(rest, min(k_random, len(rest)), replace=False)
    tutors = np.concatenate([pool[chosen_risk], pool[chosen_random]])
    by_risk = np.concatenate([np.ones(len(chosen_risk), bool), np.zeros(len(chosen_random), bool)])
    p30 = 1.0 - (1.0 - hazard[tutors]) ** 30
    kinds = np.empty(len(tutors), dtype=np.int64)
    for i, tier in enumerate(_tier(p30)):
        if not by_risk[i]:
            kinds[i] = rng.integers(0, len(INTERVENTION_TYPES))
            continue
        mix = np.array(TIER_MIX[tier], dtype=float)
        if (j - tp.hire_day[tutors[i]]) < 60 and tier in ("high", "medium"):
            mix[TYPE["peer_mentoring"]] += 0.5
        kinds[i] = rng.choice(len(mix), p=mix / mix.sum())
    # Managers work US business hours: 14:00-23:00 UTC.
    created = sim.tl.day_start(j) + 14 * US_PER_HOUR + rng.integers(0, 9 * US_PER_HOUR, len(tutors))
    before = created < sim.anchor_us
    tutors, by_risk, p30, kinds, created = (
        tutors[before],
        by_risk[before],
        p30[before],
        kinds[before],
        created[before],
    )
    if len(tutors) == 0:
        return
    order = np.argsort(created)
    tutors, by_risk, p30, kinds, created = (
        tutors[order],
        by_risk[order],
        p30[order],
        kinds[order],
        created[order],
    )
    tp.last_intervention_day[tutors] = j
    _emit(sim, j, rng, tutors, by_risk, p30, kinds, created, hazard[tutors])


def _emit(
    sim: Simulator,
    j: int,
    rng: np.random.Generator,
    tutors: np.ndarray,
    by_risk: np.ndarray,
    p30: np.ndarray,
    kinds: np.ndarray,
    created: np.ndarray,
    hazard: np.ndarray,
) -> None:
    k = len(tutors)
    anchor = sim.anchor_us
    sla = np.array([SLA_HOURS[INTERVENTION_TYPES[t]] for t in kinds]) * US_PER_HOUR
    due = created + sla
    started = created + (rng.uniform(0.05, 0.9, k) * sla).astype(np.int64)
    cancelled = rng.random(k) < CANCEL_SHARE
    cancel_at = created + (rng.uniform(0.1, 1.0, k) * sla).astype(np.int64)
    finished = started + (rng.uniform(0.3, 1.6, k) * sla).astype(np.int64)
    ids = sim.new_ids("interventions", k)
    text = sim.text
    prio = np.where(
        by_risk, np.clip(np.round(100 * p30 + rng.normal(0, 5, k)), 5, 100), rng.integers(10, 50, k)
    ).astype(np.int64)
    manager = sim.tutors.manager_id[tutors]
    rows: dict[str, list[object]] = {
        name: []
        for name in (
            "id",
            "created_at",
            "updated_at",
            "tutor_id",
            "intervention_type",
            "status",
            "priority",
            "due_at",
            "assigned_to_id",
            "reason",
            "source_alert_key",
            "notes",
            "outcome",
            "idempotency_key",
            "lock_version",
        )
    }
    effect_tutor, effect_day, effect_mult = [], [], []
    truth = sim.intervention_truth
    for i in range(k):
        itype = INTERVENTION_TYPES[kinds[i]]
        tutor_id = int(tutors[i]) + 1
        key = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        if by_risk[i]:
            reason = f"Churn risk {p30[i]:.0%} in 30 days"
            alert = f"tutor_churn_risk:{tutor_id}"
        else:
            reason = "Routine check-in"
            alert = None
        note = NOTES[rng.integers(0, len(NOTES))]
        versions = [(int(created[i]), OPEN, None)]
        if cancelled[i]:
            versions.append(
                (
                    int(cancel_at[i]),
                    CANCELLED,
                    CANCEL_OUTCOMES[rng.integers(0, len(CANCEL_OUTCOMES))],
                )
            )
        else:
            versions.append((int(started[i]), IN_PROGRESS, None))
            versions.append((int(finished[i]), COMPLETED, OUTCOMES[rng.integers(0, len(OUTCOMES))]))
        shown = [v for v in versions if v[0] <= anchor]
        for lock, (at, status, outcome) in enumerate(shown):
            rows["id"].append(int(ids[i]))
            rows["created_at"].append(int(created[i]))
            rows["updated_at"].append(at)
            rows["tutor_id"].append(tutor_id)
            rows["intervention_type"].append(int(kinds[i]))
            rows["status"].append(status)
            rows["priority"].append(int(prio[i]))
            rows["due_at"].append(int(due[i]))
            rows["assigned_to_id"].append(int(manager[i]))
            rows["reason"].append(text(reason))
            rows["source_alert_key"].append(text(alert))
            rows["notes"].append(text(note if lock > 0 else None))
            rows["outcome"].append(text(outcome))
            rows["idempotency_key"].append(text(key))
            rows["lock_version"].append(lock)
        in_effect = not cancelled[i] and int(started[i]) <= anchor
        first_day = int(sim.tl.day_of(int(started[i]))) + 1
        if in_effect:
            effect_tutor.append(int(tutors[i]))
            effect_day.append(first_day)
            effect_mult.append(sim.cfg.intervention_effects[itype])
        truth.append(
            {
                "intervention_id": int(ids[i]),
                "tutor_id": tutor_id,
                "intervention_type": itype,
                "selection": "risk" if by_risk[i] else "random",
                "created_at": int(created[i]),
                "hazard_at_selection": float(hazard[i]),
                "p_churn_30d_at_selection": float(p30[i]),
                "final_status": ("cancelled" if cancelled[i] else "completed"),
                "effect_first_day_us": sim.tl.day_start(first_day) if in_effect else None,
                "effect_last_day_us": (
                    sim.tl.day_start(first_day + sim.cfg.intervention_effect_days)
                    if in_effect
                    else None
                ),
                "multiplier": sim.cfg.intervention_effects[itype] if in_effect else 1.0,
            }
        )
    sim.tutors.add_effects(
        np.array(effect_tutor, dtype=np.int64),
        np.array(effect_day, dtype=np.int64),
        sim.cfg.intervention_effect_days,
        np.array(effect_mult),
    )
    cols = {name: np.array(v, dtype=np.int64) for name, v in rows.items()}
    cols["deleted_at"] = np.full(len(cols["id"]), NULL)
    sim.out["interventions"].add(**cols)


def external_effect(sim: Simulator, tutor_id: int, intervention_type: str, at_us: int) -> None:
    """An intervention the app created: it takes effect from the next simulated day."""
    idx = int(tutor_id) - 1
    if not 0 <= idx < sim.tutors.n or intervention_type not in sim.cfg.intervention_effects:
        return
    first = max(int(sim.tl.day_of(int(at_us))) + 1, sim.day)
    sim.tutors.add_effects(
        np.array([idx]),
        np.array([first]),
        sim.cfg.intervention_effect_days,
        np.array([sim.cfg.intervention_effects[intervention_type]]),
    )
    sim.external_interventions.append(
        {
            "tutor_id": int(tutor_id),
            "intervention_type": intervention_type,
            "at_us": int(at_us),
            "effect_first_day_us": sim.tl.day_start(first),
            "multiplier": sim.cfg.intervention_effects[intervention_type],
        }
    )
