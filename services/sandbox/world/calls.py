"""Inbound calls: a low baseline that rises as a customer's health falls, calls of
customers who are lapsing (more as the lapse deepens: billing, scheduling, tutor quality,
asking how to cancel; mostly unhappy), plus calls set off by bad experiences (an unfilled
booking or a reschedule -> scheduling, a poor rating -> tutor_quality, a technical issue
-> technical, leaving -> cancellation_request).

Calls are what the customer-health model reads (2+ calls in 14 days is its strongest
signal), so they are generated from causes, never at random alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from services.api.rails_time import US_PER_DAY, US_PER_HOUR
from services.sandbox.world.arrays import Table
from services.sandbox.world.config import CALL_REASONS
from services.sandbox.world.customers import CHURNED
from services.sandbox.world.emit import NULL

if TYPE_CHECKING:
    from services.sandbox.world.sim import Simulator

REASON = {r: i for i, r in enumerate(CALL_REASONS)}
# Everyday reasons of calls nobody's bad experience set off.
BASELINE_REASONS = np.array(
    [REASON[r] for r in ("billing", "scheduling", "general_inquiry", "account", "technical")]
)
BASELINE_SHARE = (0.35, 0.15, 0.25, 0.15, 0.10)
BASELINE_RATE = 0.0045  # per customer-day at health 0; exp(-0.8 h) scales it
# Calls of a lapsing customer (CustomerLapseModel.calls * depth a day): unhappy ones.
LAPSE_REASONS = np.array(
    [
        REASON[r]
        for r in ("billing", "scheduling", "tutor_quality", "cancellation_request", "account")
    ]
)
LAPSE_SHARE = (0.3, 0.2, 0.2, 0.2, 0.1)
LAPSE_NEGATIVE = 0.2  # added to the reason's P(negative)
# Per reason: P(negative), P(positive), median duration in seconds.
SENTIMENT_NEGATIVE = {
    "billing": 0.35,
    "scheduling": 0.45,
    "tutor_quality": 0.75,
    "technical": 0.5,
    "cancellation_request": 0.7,
    "account": 0.15,
    "general_inquiry": 0.1,
}
SENTIMENT_POSITIVE = {
    "billing": 0.15,
    "scheduling": 0.1,
    "tutor_quality": 0.03,
    "technical": 0.05,
    "cancellation_request": 0.02,
    "account": 0.3,
    "general_inquiry": 0.4,
}
DURATION_MEDIAN_S = {
    "billing": 300,
    "scheduling": 240,
    "tutor_quality": 480,
    "technical": 600,
    "cancellation_request": 420,
    "account": 240,
    "general_inquiry": 180,
}
NEGATIVE, NEUTRAL, POSITIVE = 2, 1, 0  # index into contract.SENTIMENTS


class CallBook(Table):
    """Calls decided but not yet placed (they are emitted on their day, in time order)."""

    def __init__(self) -> None:
        super().__init__(1024)
        self.add_column("cust", np.int64, 0)
        self.add_column("at_us", np.int64, 0)
        self.add_column("reason", np.int64, 0)

    def trigger(self, cust: np.ndarray, at_us: np.ndarray, reason: str) -> None:
        if len(cust):
            self.append(cust=cust, at_us=at_us, reason=np.full(len(cust), REASON[reason]))


def daily_calls(sim: Simulator, j: int, rng: np.random.Generator) -> None:
    cp, book = sim.customers, sim.calls
    start = sim.tl.day_start(j)
    end = start + US_PER_DAY
    n = cp.n
    alive = (cp.status[:n] != CHURNED) & (cp.signup_day[:n] < j) & (cp.delete_day[:n] < 0)
    p = BASELINE_RATE * np.exp(-0.8 * cp.h[:n])
    who = np.flatnonzero(alive & (rng.random(n) < p))
    # US office hours: 13:00-03:00 UTC.
    hour = (13 + rng.integers(0, 14, len(who))) % 24
    at = start + hour * US_PER_HOUR + rng.integers(0, US_PER_HOUR, len(who))
    reason = rng.choice(BASELINE_REASONS, len(who), p=BASELINE_SHARE)
    # Lapsing customers call about what is going wrong, or to ask how to cancel.
    p_lapse = sim.cfg.customer_lapse.calls * cp.ld[:n]
    lap = np.flatnonzero(alive & (cp.status[:n] != CHURNED) & (rng.random(n) < p_lapse))
    lap_hour = (13 + rng.integers(0, 14, len(lap))) % 24
    lap_at = start + lap_hour * US_PER_HOUR + rng.integers(0, US_PER_HOUR, len(lap))
    lap_reason = rng.choice(LAPSE_REASONS, len(lap), p=LAPSE_SHARE)
    due = np.flatnonzero(book.at_us[: book.n] < end)
    cust = np.concatenate([who, lap, book.cust[due]])
    at = np.concatenate([at, lap_at, book.at_us[due]])
    reason = np.concatenate([reason, lap_reason, book.reason[due]])
    from_lapse = np.concatenate(
        [np.zeros(len(who), bool), np.ones(len(lap), bool), np.zeros(len(due), bool)]
    )
    keep = np.ones(book.n, dtype=bool)
    keep[due] = False
    book.keep(keep)
    if len(cust) == 0:
        return
    order = np.argsort(at, kind="stable")
    cust, at, reason, from_lapse = cust[order], at[order], reason[order], from_lapse[order]
    k = len(cust)
    names = [CALL_REASONS[r] for r in range(len(CALL_REASONS))]
    neg = np.array([SENTIMENT_NEGATIVE[r] for r in names])[reason]
    pos = np.array([SENTIMENT_POSITIVE[r] for r in names])[reason]
    # Unhappy customers sound unhappier.
    neg = np.clip(neg + 0.15 * (cp.h[cust] < -0.3) + LAPSE_NEGATIVE * from_lapse, 0, 0.95)
    u = rng.random(k)
    sentiment = np.select([u < neg, u < neg + pos], [NEGATIVE, POSITIVE], NEUTRAL)
    sentiment = np.where(rng.random(k) < 0.08, -1, sentiment)  # not recorded
    med = np.array([DURATION_MEDIAN_S[r] for r in names])[reason]
    duration = np.maximum(20, (med * rng.lognormal(0, 0.5, k))).astype(np.int64)
    ids = sim.new_ids("inbound_calls", k)
    # The call record is written when the call ends.
    written = at + duration * 1_000_000 + rng.integers(1_000_000, 60_000_000, k)
    sim.out["inbound_calls"].add(
        id=ids,
        created_at=written,
        updated_at=written,
        deleted_at=np.full(k, NULL),
        customer_id=cust + 1,
        call_time=at,
        duration_seconds=duration,
        reason_code=reason,
        sentiment=sentiment,
    )
    days = sim.tl.day_of(at)
    np.add.at(cp.obs.calls, (cust, days), 1)
