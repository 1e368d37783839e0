"""Demand: customers' booking requests and their matching to tutors' free hours.

Seasonality is causal, not painted on: each customer has preferred weekdays (drawn
around the marketplace's weekly pattern: busy Monday-Thursday and Sunday, quiet Friday)
and preferred local hours on school days and weekends (after-school and evening peaks,
weekend mornings); the rate at which they book follows their health and the subject's
season (school calendar with the back-to-school bump, test-prep calendar, yearly trend).
So bookings per hour and subject show daily, weekly and yearly patterns.

Matching: a returning customer first tries their own tutor at or near the hour they
want; otherwise (or for a first booking) any free tutor of the subject at that hour or
one hour off, the better-rated and instant-book tutors first. No free tutor: the booking
is ``unfilled`` (where supply is short, that is where it happens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from services.api.rails_time import US_PER_DAY, US_PER_HOUR, US_PER_SECOND
from services.sandbox.world.config import SUBJECTS
from services.sandbox.world.customers import (
    HOURS_WEEKDAY,
    HOURS_WEEKEND,
    hour_profile,
    velocity_per_week,
)
from services.sandbox.world.supply import PUBLISH_AHEAD_DAYS, RING
from services.sandbox.world.timeline import US_PER_MINUTE
from services.sandbox.world.tutors import ACTIVE

if TYPE_CHECKING:
    from services.sandbox.world.sim import Simulator

CONFIRMED, UNFILLED, WITHDRAWN = 0, 1, 2
LEAD_DAYS = 15  # a booking is for today .. 14 days ahead
LEAD_PMF = np.exp(-np.arange(LEAD_DAYS) / 4.0) + 0.03
FIRST_LEAD_PMF = np.exp(-np.arange(LEAD_DAYS) / 1.5)
MIN_LEAD_US = 2 * US_PER_HOUR
MARKET_OFFSETS = (0, 1, -1, 2, -2)
SWITCH_TO_SUBSTITUTE = 0.35
ACCEPT_PER_ENGAGEMENT = 2.0
OWN_HOUR_SPREAD = 1.5  # hours: how far from their usual time customers still like
WITHDRAW_SHARE = 0.09
DURATIONS = np.array([60, 30, 90])
DURATION_SHARE = (0.8, 0.08, 0.12)
# Creation hours (UTC) follow US waking hours: 12:00 UTC through 04:00 UTC.
CREATE_HOUR_START, CREATE_HOURS = 12, 16
BOOKING_NOISE = 0.6  # log-normal sigma of a family's daily booking urge


@dataclass(slots=True)
class Requests:
    """One day's booking requests (row order = creation order after :func:`sort`)."""

    cust: np.ndarray
    created_us: np.ndarray
    hour: np.ndarray  # absolute hour index of the wanted start
    subj: np.ndarray
    dur: np.ndarray
    tutor: np.ndarray  # -1 until matched; preset for planned (persona) bookings
    plan: np.ndarray  # persona plan row or -1

    def __len__(self) -> int:
        return len(self.cust)

    def take(self, idx: np.ndarray) -> Requests:
        return Requests(*(getattr(self, f)[idx] for f in self.__slots__))

    @staticmethod
    def concat(parts: list[Requests]) -> Requests:
        return Requests(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in Requests.__slots__)
        )


def draw_requests(
    sim: Simulator,
    j: int,
    rng: np.random.Generator,
    cust: np.ndarray,
    created_us: np.ndarray,
    first: np.ndarray,
) -> Requests:
    """Target hour, subject and length for bookings made by ``cust`` at ``created_us``."""
    cp = sim.customers
    tl = sim.tl
    n = len(cust)
    days = j + np.arange(LEAD_DAYS)
    tl.ensure(int(days[-1]) + 1)
    weekend = tl.weekday[days] >= 5  # (LEAD_DAYS,)
    h_wd, p_wd = hour_profile(HOURS_WEEKDAY)
    h_we, p_we = hour_profile(HOURS_WEEKEND)
    # Most bookings are at the customer's usual hour; one in five at another hour.
    usual = rng.random(n) < 0.8
    hour_wd = np.where(usual, cp.hour_wd[cust], rng.choice(h_wd, n, p=p_wd))
    hour_we = np.where(usual, cp.hour_we[cust], rng.choice(h_we, n, p=p_we))
    local_hour = np.where(weekend[None, :], hour_we[:, None], hour_wd[:, None])  # (n, L)
    tz = cp.tz[cust].astype(np.int64)
    offsets = tl.offsets[days][:, tz].T  # (n, L)
    hour = 24 * days[None, :] + local_hour - offsets
    valid = tl.hour_us(hour) >= created_us[:, None] + MIN_LEAD_US
    pref = cp.wpref[cust][:, tl.weekday[days]]  # (n, L)
    lead = np.where(first[:, None], FIRST_LEAD_PMF[None, :], LEAD_PMF[None, :])
    w = lead * pref * valid
    total = w.sum(axis=1)
    ok = total > 0
    cdf = np.cumsum(w, axis=1)
    k = (cdf < (rng.random(n) * total)[:, None]).sum(axis=1)
    k = np.minimum(k, LEAD_DAYS - 1)
    chosen = hour[np.arange(n), k]
    dur = rng.choice(DURATIONS, n, p=DURATION_SHARE)
    req = Requests(
        cust=cust,
        created_us=created_us,
        hour=chosen,
        subj=cp.subj[cust].astype(np.int64),
        dur=dur,
        tutor=np.full(n, -1, dtype=np.int64),
        plan=np.full(n, -1, dtype=np.int64),
    )
    return req.take(np.flatnonzero(ok))


def daily_requests(sim: Simulator, j: int, rng: np.random.Generator) -> Requests:
    """Bookings customers make on day ``j`` at their own pace.

    Families keep a rhythm: each one's booking "urge" grows by their daily rate (with
    some day-to-day noise) and a booking spends one unit, so bookings come at fairly
    regular intervals rather than at random; a long gap means something changed."""
    cp = sim.customers
    day = sim.tl.day_start(j)
    able = np.flatnonzero(cp.bookable(j, day))
    rate = (
        velocity_per_week(cp.h[able], cp.vf[able], sim.knobs.bookings_per_week)
        / 7.0
        * sim.tl.season[j, cp.subj[able]]
        * (1.0 - sim.cfg.customer_lapse.bookings * cp.ld[able])
    )
    urge = cp.book_urge[able] + rate * rng.lognormal(
        -0.5 * BOOKING_NOISE**2, BOOKING_NOISE, len(able)
    )
    count = np.floor(urge).astype(np.int64)
    cp.book_urge[able] = urge - count
    cust = np.repeat(able, count)
    hour = (CREATE_HOUR_START + rng.integers(0, CREATE_HOURS, len(cust))) % 24
    created = day + hour * US_PER_HOUR + rng.integers(0, US_PER_HOUR, len(cust))
    return draw_requests(sim, j, rng, cust, created, np.zeros(len(cust), dtype=bool))


def first_requests(
    sim: Simulator, j: int, rng: np.random.Generator, cust: np.ndarray, signed_up_us: np.ndarray
) -> Requests:
    """A new customer books a first session within hours of signing up."""
    day_end = sim.tl.day_start(j) + US_PER_DAY
    created = np.minimum(
        signed_up_us + rng.integers(5 * US_PER_MINUTE, 3 * US_PER_HOUR, len(cust)), day_end - 1
    )
    return draw_requests(sim, j, rng, cust, created, np.ones(len(cust), dtype=bool))


@dataclass(slots=True)
class Decisions:
    status: np.ndarray  # CONFIRMED / UNFILLED / WITHDRAWN
    tutor: np.ndarray  # -1 unless confirmed
    hour: np.ndarray  # the booked (or wanted) start hour
    decided_us: np.ndarray


def match(sim: Simulator, j: int, req: Requests, rng: np.random.Generator) -> Decisions:
    """Decide every request (rows in creation order): confirmed with a tutor, unfilled,
    or withdrawn by the customer."""
    n = len(req)
    tp, grid, cp = sim.tutors, sim.grid, sim.customers
    status = np.full(n, UNFILLED, dtype=np.int64)
    tutor = np.full(n, -1, dtype=np.int64)
    hour = req.hour.copy()
    earliest_h = (req.created_us - sim.tl.origin_us + US_PER_HOUR - 1) // US_PER_HOUR + 1

    planned = req.plan >= 0
    status[planned] = CONFIRMED
    tutor[planned] = req.tutor[planned]
    grid.set_booked(req.tutor[planned], req.hour[planned])

    withdraw = (rng.random(n) < WITHDRAW_SHARE) & ~planned
    status[withdraw] = WITHDRAWN
    open_ = ~planned & ~withdraw
    cells = _free_cells(sim, j)
    ns = len(SUBJECTS)

    # 1. Returning customers book into their own tutor's free hours: the hour that best
    #    fits their usual weekdays and time (and a near date), as people book a regular.
    own = cp.cur[req.cust]
    try_own = open_ & (own >= 0)
    try_own[try_own] &= tp.status[own[try_own]] == ACTIVE
    idx = np.flatnonzero(try_own)
    if len(idx) and len(cells.t):
        pos = _own_tutor_cells(sim, j, req, idx, own[idx], earliest_h, cells, rng)
        got = pos >= 0
        idx, pos = idx[got], pos[got]
        # Two requests for one hour: the earlier one wins (rows are in creation order).
        _, keep = np.unique(pos, return_index=True)
        keep = np.sort(keep)
        idx, pos = idx[keep], pos[keep]
        yes = _accepts(sim, cells.t[pos], rng)
        idx, pos = idx[yes], pos[yes]
        status[idx] = CONFIRMED
        tutor[idx] = cells.t[pos]
        hour[idx] = cells.h[pos]
        cells.taken[pos] = True
        open_[idx] = False

    # 2. The market: any free tutor of the subject at the hour, or an hour or two off;
    #    better-rated and instant-book tutors are picked first.
    rating = tp.observed_rating(j)
    weight = np.exp(1.2 * (rating - 4.3)) * np.where(tp.instant[: tp.n], 1.25, 1.0)
    race = -np.log(rng.random(len(cells.t))) / weight[cells.t]
    ckey_all = cells.h * ns + cells.s
    market_order = np.lexsort((race, ckey_all))
    for off in MARKET_OFFSETS:
        idx = np.flatnonzero(open_)
        if len(idx) == 0:
            break
        want = req.hour[idx] + off
        ok = want >= earliest_h[idx]
        idx, want = idx[ok], want[ok]
        view = market_order[~cells.taken[market_order]]
        if len(idx) == 0 or len(view) == 0:
            continue
        ckey = ckey_all[view]
        rkey = want * ns + req.subj[idx]
        # Rank of each request among requests for the same (hour, subject), in order.
        rorder = np.argsort(rkey, kind="stable")
        sorted_keys = rkey[rorder]
        first_of_key = np.searchsorted(sorted_keys, sorted_keys, side="left")
        rank = np.empty(len(idx), dtype=np.int64)
        rank[rorder] = np.arange(len(idx)) - first_of_key
        lo = np.searchsorted(ckey, rkey, side="left")
        hi = np.searchsorted(ckey, rkey, side="right")
        got = rank < hi - lo
        pos = view[lo[got] + rank[got]]
        gi = idx[got]
        yes = _accepts(sim, cells.t[pos], rng)
        cells.taken[pos[~yes]] = True  # that tutor passed on this hour today
        pos, gi = pos[yes], gi[yes]
        status[gi] = CONFIRMED
        tutor[gi] = cells.t[pos]
        hour[gi] = cells.h[pos]
        cells.taken[pos] = True
        open_[gi] = False
    conf = (status == CONFIRMED) & ~planned
    grid.set_booked(tutor[conf], hour[conf])

    # A customer whose tutor had no time and who liked the substitute may stay with them.
    moved = try_own & (status == CONFIRMED) & (tutor != own)
    moved &= rng.random(n) < SWITCH_TO_SUBSTITUTE
    cp.cur[req.cust[moved]] = tutor[moved]

    # When each decision is made (always before the session would start).
    start_us = sim.tl.hour_us(hour)
    room = np.maximum(start_us - req.created_us - 30 * US_PER_MINUTE, US_PER_MINUTE)
    is_instant = np.zeros(n, dtype=bool)
    conf = status == CONFIRMED
    is_instant[conf] = tp.instant[tutor[conf]]
    delay = np.where(
        is_instant,
        rng.integers(3 * US_PER_SECOND, 180 * US_PER_SECOND, n),
        (rng.lognormal(np.log(45.0), 1.0, n) * US_PER_MINUTE).astype(np.int64),
    )
    delay = np.where(status == UNFILLED, rng.integers(US_PER_HOUR, 12 * US_PER_HOUR, n), delay)
    delay = np.where(
        status == WITHDRAWN, rng.integers(2 * US_PER_MINUTE, 3 * US_PER_HOUR, n), delay
    )
    delay = np.clip(np.minimum(delay, room), US_PER_SECOND, None)
    # A tutor answers a request on the day it was made (before anything of the next day,
    # such as leaving the platform, can happen).
    day_left = np.maximum(sim.tl.day_start(j + 1) - req.created_us - 5 * US_PER_SECOND, 1)
    delay = np.where(status == CONFIRMED, np.minimum(delay, day_left), delay)
    return Decisions(status=status, tutor=tutor, hour=hour, decided_us=req.created_us + delay)


def _accepts(sim: Simulator, tutor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Instant-book tutors take every booking; others must accept the request, and a
    disengaged tutor lets some go (P = 2 * engagement, capped at 1). A declining tutor
    (depth ``d``) also turns down ``TutorDeclineModel.decline_requests * d`` of them, with
    instant booking too (they switch it off or cancel at once): how a decline shows in
    session volume within days while the hours they published still stand."""
    tp = sim.tutors
    p = np.where(tp.instant[tutor], 1.0, np.clip(ACCEPT_PER_ENGAGEMENT * tp.e[tutor], 0, 1))
    p = p * (1.0 - sim.cfg.tutor_decline.decline_requests * tp.d[tutor])
    return rng.random(len(tutor)) < p


@dataclass(slots=True)
class _Cells:
    """Free bookable hours of the next 15 days: tutor, absolute hour, subject."""

    t: np.ndarray
    h: np.ndarray
    s: np.ndarray
    taken: np.ndarray


def _free_cells(sim: Simulator, j: int) -> _Cells:
    tp, grid = sim.tutors, sim.grid
    hours = 24 * j + np.arange(24 * (PUBLISH_AHEAD_DAYS + 1) + 3)
    cols = hours % RING
    sub = grid.sub[: tp.n][:, cols]
    # Today's hires are bookable from tomorrow (requests of today may predate them).
    active = tp.active(j, hired_before=True)
    free = (sub >= 0) & ~grid.booked[: tp.n][:, cols] & active[:, None]
    ct, ci = np.nonzero(free)
    return _Cells(
        t=ct, h=hours[ci], s=sub[ct, ci].astype(np.int64), taken=np.zeros(len(ct), dtype=bool)
    )


def _own_tutor_cells(
    sim: Simulator,
    j: int,
    req: Requests,
    idx: np.ndarray,
    tutor: np.ndarray,
    earliest_h: np.ndarray,
    cells: _Cells,
    rng: np.random.Generator,
) -> np.ndarray:
    """For each request, the position of a free cell of its tutor in its subject (-1:
    none), chosen by the customer's weekday and hour preferences and how soon it is."""
    cp, tl = sim.customers, sim.tl
    ns = len(SUBJECTS)
    ckey = cells.t * ns + cells.s
    order = np.lexsort((cells.h, ckey))
    sorted_key = ckey[order]
    rkey = tutor * ns + req.subj[idx]
    lo = np.searchsorted(sorted_key, rkey, side="left")
    counts = np.searchsorted(sorted_key, rkey, side="right") - lo
    r = np.repeat(np.arange(len(idx)), counts)
    within = np.arange(len(r)) - np.repeat(np.cumsum(counts) - counts, counts)
    pos = order[lo[r] + within]
    h = cells.h[pos]
    c = req.cust[idx[r]]
    tz = cp.tz[c].astype(np.int64)
    local = h + tl.offsets[h // 24, tz]
    local_day = local // 24
    local_hour = local % 24
    wd = tl.weekday[np.clip(local_day, 0, tl.n - 1)]
    pref_hour = np.where(wd >= 5, cp.hour_we[c], cp.hour_wd[c])
    w = LEAD_PMF[np.clip(local_day - j, 0, LEAD_DAYS - 1)] * (cp.wpref[c, wd] + 0.02)
    w = w * np.exp(-np.abs(local_hour - pref_hour) / OWN_HOUR_SPREAD)
    score = np.log(np.maximum(w, 1e-12)) + rng.gumbel(size=len(r))
    score = np.where(h >= earliest_h[idx[r]], score, -np.inf)
    best = np.full(len(idx), -1, dtype=np.int64)
    if len(r):
        pick = np.lexsort((-score, r))
        first = np.flatnonzero(np.r_[True, r[pick][1:] != r[pick][:-1]])
        chosen = pick[first]
        ok = np.isfinite(score[chosen])
        best[r[chosen][ok]] = pos[chosen][ok]
    return best
