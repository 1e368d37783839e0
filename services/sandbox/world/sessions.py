"""Sessions: from a confirmed booking to completion, rating, or cancellation.

A session is created when its booking is confirmed. Before it starts, the customer may
cancel, the tutor may reschedule (more often when unreliable or disengaged) and so may
the customer; each is a new version. At the start the outcome is drawn: a tutor no-show
(reliability, engagement), a customer no-show, or completion, later followed by a rating
version (minutes to a day after the end). Everything is decided on the day it happens,
so a tutor who leaves first cancels what was still scheduled.

Ratings (the true models are in ``config``): a *first* session (first between that
customer and tutor) is poor (< 4) with probability ``p_poor`` from
:class:`~services.sandbox.world.config.FirstSessionModel` (tutor quality and engagement,
subject, hour and weekday in the tutor's time zone, student age), kept per session in
the truth; later sessions are rated around the tutor's quality and current engagement,
lowered by a decline, burnout (too many sessions for their capacity) and technical
issues.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from services.api.rails_time import US_PER_DAY, US_PER_HOUR, US_PER_SECOND
from services.sandbox.world.arrays import Table
from services.sandbox.world.config import FirstSessionModel
from services.sandbox.world.customers import GOAL_COMPLETED, GOAL_IN_PROGRESS, GOAL_NONE
from services.sandbox.world.demand import CONFIRMED, Decisions, Requests
from services.sandbox.world.emit import NULL
from services.sandbox.world.timeline import US_PER_MINUTE
from services.sandbox.world.tutors import ACTIVE

if TYPE_CHECKING:
    from services.sandbox.world.sim import Simulator

# Session statuses (index into contract.SESSION_STATUSES) and booking statuses.
SCHEDULED, COMPLETED, CANCELLED, NO_SHOW_TUTOR, NO_SHOW_CUSTOMER = range(5)
B_REQUESTED, B_CONFIRMED, B_CANCELLED, B_FULFILLED, B_UNFILLED = range(5)
BY_TUTOR, BY_CUSTOMER = 0, 1
EV_START, EV_CANCEL, EV_RESCHED_TUTOR, EV_RESCHED_CUSTOMER = range(4)
# Planned outcomes (personas): what happens at the start.
PLAN_NORMAL = -1
PAIR_SHIFT = 24

CUSTOMER_CANCEL = 0.05
CUSTOMER_RESCHEDULE = 0.035
TECHNICAL_ISSUE = 0.03
PLATFORM_TAKE = 0.3  # the customer pays earnings / (1 - take)


def p_poor_first(
    model: FirstSessionModel,
    q: np.ndarray,
    e: np.ndarray,
    subj: np.ndarray,
    local_hour: np.ndarray,
    local_weekday: np.ndarray,
    age: np.ndarray,
) -> np.ndarray:
    """The true P(rating < 4) of a first session (see ``FirstSessionModel``)."""
    logit = (
        model.intercept
        - model.quality * q
        + model.engagement * (0.6 - e)
        + np.asarray(model.subject)[subj]
        + model.early_morning * (local_hour < 9)
        + model.morning * ((local_hour >= 9) & (local_hour < 12))
        + model.late_evening * (local_hour >= 21)
        + model.weekend * (local_weekday >= 5)
        + model.age_child * (age <= 9)
        + model.age_young_teen * ((age >= 13) & (age <= 15))
        + model.age_adult * (age >= 19)
    )
    return 1.0 / (1.0 + np.exp(-logit))


class SessionBook(Table):
    """Sessions not finished yet (scheduled), with their next event."""

    def __init__(self) -> None:
        super().__init__(4096)
        for name, dtype, fill in (
            ("sid", np.int64, 0),
            ("bid", np.int64, 0),
            ("t", np.int64, 0),
            ("c", np.int64, 0),
            ("subj", np.int64, 0),
            ("start_us", np.int64, 0),
            ("dur", np.int64, 60),
            ("first", bool, False),
            ("p_poor", np.float64, np.nan),
            ("rb", np.int64, -1),
            ("rc", np.int64, 0),
            ("price", np.float64, 0.0),
            ("earn", np.float64, 0.0),
            ("created_us", np.int64, 0),
            ("last_us", np.int64, 0),
            ("bk_created_us", np.int64, 0),
            ("bk_sched_us", np.int64, 0),
            ("ev_us", np.int64, 0),
            ("ev_kind", np.int64, EV_START),
            ("plan", np.int64, -1),
        ):
            self.add_column(name, dtype, fill)
        # Known pairs (customer << 24 | tutor) that have had a session: first sessions.
        self.pairs = np.zeros(0, dtype=np.int64)
        # Truth: every first session's true P(poor rating) and its context.
        self.first_truth: list[dict[str, np.ndarray]] = []


def _emit_sessions(
    sim: Simulator,
    rows: np.ndarray,
    updated_us: np.ndarray,
    status: np.ndarray | int,
    rating: np.ndarray | None = None,
    technical: np.ndarray | None = None,
    lom: np.ndarray | None = None,
    deleted_us: np.ndarray | None = None,
) -> None:
    sb = sim.sessions
    n = len(rows)
    if n == 0:
        return
    start = sb.start_us[rows]
    sim.out["sessions"].add(
        id=sb.sid[rows],
        created_at=sb.created_us[rows],
        updated_at=updated_us,
        deleted_at=np.full(n, NULL) if deleted_us is None else deleted_us,
        booking_id=sb.bid[rows],
        tutor_id=sb.t[rows] + 1,
        customer_id=sb.c[rows] + 1,
        subject=sb.subj[rows],
        start_time=start,
        end_time=start + sb.dur[rows] * US_PER_MINUTE,
        status=np.broadcast_to(status, (n,)).astype(np.int64),
        rating=np.full(n, NULL) if rating is None else rating,
        first_session=sb.first[rows],
        rescheduled_by=sb.rb[rows],
        reschedule_count=sb.rc[rows],
        technical_issue=np.zeros(n, dtype=bool) if technical is None else technical,
        learning_objectives_met=np.full(n, np.nan) if lom is None else lom,
        price=sb.price[rows],
        tutor_earnings=sb.earn[rows],
    )


def _emit_bookings(sim: Simulator, rows: np.ndarray, updated_us: np.ndarray, status: int) -> None:
    sb = sim.sessions
    n = len(rows)
    if n == 0:
        return
    sim.out["bookings"].add(
        id=sb.bid[rows],
        created_at=sb.bk_created_us[rows],
        updated_at=updated_us,
        deleted_at=np.full(n, NULL),
        customer_id=sb.c[rows] + 1,
        tutor_id=sb.t[rows] + 1,
        subject=sb.subj[rows],
        scheduled_time=sb.bk_sched_us[rows],
        status=np.full(n, status, dtype=np.int64),
    )


def book(sim: Simulator, j: int, req: Requests, dec: Decisions, rng: np.random.Generator) -> None:
    """Emit the day's bookings (requested, then decided) and schedule confirmed sessions."""
    n = len(req)
    if n == 0:
        return
    order = np.lexsort((req.cust, req.created_us))
    req = req.take(order)
    dec = Decisions(*(getattr(dec, f)[order] for f in Decisions.__slots__))
    bids = sim.new_ids("bookings", n)
    sched = sim.tl.hour_us(dec.hour)
    null = np.full(n, NULL)
    bk = sim.out["bookings"]
    bk.add(
        id=bids,
        created_at=req.created_us,
        updated_at=req.created_us,
        deleted_at=null,
        customer_id=req.cust + 1,
        tutor_id=null,
        subject=req.subj,
        scheduled_time=sched,
        status=np.full(n, B_REQUESTED),
    )
    bstatus = np.where(
        dec.status == CONFIRMED, B_CONFIRMED, np.where(dec.status == 1, B_UNFILLED, B_CANCELLED)
    )
    tutor_id = np.where(dec.status == CONFIRMED, dec.tutor + 1, NULL)
    bk.add(
        id=bids,
        created_at=req.created_us,
        updated_at=dec.decided_us,
        deleted_at=null,
        customer_id=req.cust + 1,
        tutor_id=tutor_id,
        subject=req.subj,
        scheduled_time=sched,
        status=bstatus,
    )
    # A few decided bookings are later soft-deleted (unfilled/withdrawn: nothing follows).
    gone = (dec.status != CONFIRMED) & (rng.random(n) < 3 * sim.knobs.deleted_booking_share)
    if gone.any():
        at = dec.decided_us[gone] + rng.integers(US_PER_DAY, 20 * US_PER_DAY, gone.sum())
        bk.add(
            id=bids[gone],
            created_at=req.created_us[gone],
            updated_at=at,
            deleted_at=at,
            customer_id=req.cust[gone] + 1,
            tutor_id=null[gone],
            subject=req.subj[gone],
            scheduled_time=sched[gone],
            status=bstatus[gone],
        )
    cp = sim.customers
    unfilled = np.flatnonzero(dec.status == 1)
    if len(unfilled):
        c = req.cust[unfilled]
        cp.shock(c, -0.08)
        cp.note(c, sim.cfg.customer_lapse.after_unfilled)
        call = rng.random(len(c)) < 0.3
        delay = rng.integers(10 * US_PER_MINUTE, US_PER_DAY, call.sum())
        sim.calls.trigger(c[call], dec.decided_us[unfilled][call] + delay, "scheduling")
    conf = np.flatnonzero(dec.status == CONFIRMED)
    if len(conf):
        _schedule(
            sim,
            j,
            req.take(conf),
            dec.tutor[conf],
            dec.hour[conf],
            dec.decided_us[conf],
            bids[conf],
            sched[conf],
            rng,
        )


def _schedule(
    sim: Simulator,
    j: int,
    req: Requests,
    tutor: np.ndarray,
    hour: np.ndarray,
    decided_us: np.ndarray,
    bids: np.ndarray,
    sched_us: np.ndarray,
    rng: np.random.Generator,
) -> None:
    sb, tp, cp, tl = sim.sessions, sim.tutors, sim.customers, sim.tl
    n = len(req)
    c = req.cust
    created = decided_us + rng.integers(200_000, 3 * US_PER_SECOND, n)
    start = tl.hour_us(hour)
    sids = sim.new_ids("sessions", n)
    if sim.plan is not None and (req.plan >= 0).any():
        sim.plan.note_sessions(req.plan[req.plan >= 0], sids[req.plan >= 0])
    # First session: no earlier session of this pair, and first of the pair today.
    key = (c << PAIR_SHIFT) | tutor
    seen = np.isin(key, sb.pairs, assume_unique=False)
    _, first_idx = np.unique(key, return_index=True)
    first_today = np.zeros(n, dtype=bool)
    first_today[first_idx] = True
    first = ~seen & first_today
    sb.pairs = np.union1d(sb.pairs, key)
    # New customers (or ones who lost their tutor) stay with the tutor they got.
    lost = cp.cur[c] < 0
    cp.cur[c[lost]] = tutor[lost]
    # True P(poor) of first sessions, at the hour and weekday of the tutor's time zone
    # (what the app shows with the session: a tutor teaching at 8 am their time).
    local_day, local_hour = tl.local_day_hour(hour, tp.tz[tutor].astype(np.int64))
    weekday = tl.weekday[np.clip(local_day, 0, tl.n - 1)]
    p_poor = np.full(n, np.nan)
    fi = np.flatnonzero(first)
    p_poor[fi] = p_poor_first(
        sim.cfg.first_session,
        tp.q[tutor[fi]],
        tp.e[tutor[fi]],
        req.subj[fi],
        local_hour[fi],
        weekday[fi],
        cp.age[c[fi]],
    )
    if len(fi):
        sb.first_truth.append(
            {
                "session_id": sids[fi],
                "tutor_id": tutor[fi] + 1,
                "customer_id": c[fi] + 1,
                "subject": req.subj[fi],
                "start_time": start[fi],
                "local_hour": local_hour[fi],
                "local_weekday": weekday[fi],
                "student_age": cp.age[c[fi]],
                "tutor_quality": tp.q[tutor[fi]],
                "tutor_engagement": tp.e[tutor[fi]],
                "p_poor": p_poor[fi],
            }
        )
    earn = np.round(tp.rate[tutor] * req.dur / 60.0, 2)
    price = np.round(earn / (1 - PLATFORM_TAKE), 2)
    # What happens before the start: customer cancel, reschedule by tutor or customer.
    gap = start - created
    e = tp.e[tutor]
    p_cancel = CUSTOMER_CANCEL + 0.04 * (cp.h[c] < -0.3)
    p_tutor = tp.resched[tutor] * (1 + 3 * np.maximum(0.0, 0.6 - e))
    p_tutor = p_tutor + np.minimum(
        sim.cfg.tutor_decline.reschedule * tp.d[tutor] * tp.v[tutor] * tp.wr[tutor], 0.6
    )
    p_tutor = np.where((tp.persona[tutor] >= 0) & (created < sim.anchor_us), 0.0, p_tutor)
    u = rng.random(n)
    kind = np.select(
        [u < p_cancel, u < p_cancel + p_tutor, u < p_cancel + p_tutor + CUSTOMER_RESCHEDULE],
        [EV_CANCEL, EV_RESCHED_TUTOR, EV_RESCHED_CUSTOMER],
        EV_START,
    )
    kind = np.where(gap < 3 * US_PER_HOUR, EV_START, kind)
    frac = 0.1 + 0.8 * rng.random(n)
    ev = np.where(kind == EV_START, start, created + (frac * (gap - US_PER_HOUR)).astype(np.int64))
    plan = req.plan
    if sim.plan is not None and (plan >= 0).any():
        kind, ev = sim.plan.pre_start(plan, kind, ev, created, start)
    sb.append(
        sid=sids,
        bid=bids,
        t=tutor,
        c=c,
        subj=req.subj,
        start_us=start,
        dur=req.dur,
        first=first,
        p_poor=p_poor,
        rb=np.full(n, -1),
        rc=np.zeros(n, dtype=np.int64),
        price=price,
        earn=earn,
        created_us=created,
        last_us=created,
        bk_created_us=req.created_us,
        bk_sched_us=sched_us,
        ev_us=ev,
        ev_kind=kind,
        plan=plan,
    )
    rows = np.arange(sb.n - n, sb.n)
    _emit_sessions(sim, rows, created, SCHEDULED)


def advance(sim: Simulator, j: int, rng: np.random.Generator) -> None:
    """Run every session event that falls on day ``j`` (in rounds: a reschedule may
    bring another event into the same day)."""
    sb = sim.sessions
    end = sim.tl.day_start(j + 1)
    for _ in range(6):
        n = sb.n
        due = np.flatnonzero(sb.ev_us[:n] < end)
        if len(due) == 0:
            break
        kind = sb.ev_kind[due]
        done = np.zeros(n, dtype=bool)
        cancel = due[kind == EV_CANCEL]
        _cancel(sim, cancel, sb.ev_us[cancel], by_customer=True)
        done[cancel] = True
        _reschedule(sim, due[(kind == EV_RESCHED_TUTOR) | (kind == EV_RESCHED_CUSTOMER)], rng)
        starts = due[kind == EV_START]
        _start(sim, j, starts, rng)
        done[starts] = True
        sb.keep(~done)


def tutor_cancellations(sim: Simulator, j: int, rng: np.random.Generator) -> None:
    """Day ``j``: a declining tutor calls off sessions already booked (each with probability
    ``TutorDeclineModel.cancel * d`` a day): one way a decline shows in volume within
    days, and their students notice (health falls; some start to lapse)."""
    sb, tp = sim.sessions, sim.tutors
    n = sb.n
    if n == 0:
        return
    day_start = sim.tl.day_start(j)
    t = sb.t[:n]
    p = sim.cfg.tutor_decline.cancel * tp.d[t]
    at = day_start + rng.integers(0, US_PER_DAY, n)
    at = np.maximum(at, sb.last_us[:n] + US_PER_SECOND)
    pick = (
        (sb.ev_kind[:n] == EV_START)
        & (sb.ev_us[:n] >= day_start + US_PER_DAY)
        & (sb.start_us[:n] > at + 3 * US_PER_HOUR)
        & (sb.plan[:n] < 0)
        & (tp.status[t] == ACTIVE)
        & (tp.persona[t] < 0)
        & (rng.random(n) < p)
    )
    idx = np.flatnonzero(pick)
    if len(idx) == 0:
        return
    _cancel(sim, idx, at[idx], by_customer=False)
    c = sb.c[idx]
    sim.customers.shock(c, -0.1)
    sim.customers.note(c, sim.cfg.customer_lapse.after_tutor_no_show)
    keep = np.ones(n, dtype=bool)
    keep[idx] = False
    sb.keep(keep)


def cancel_for(sim: Simulator, who: str, idx: np.ndarray, at_us: np.ndarray) -> None:
    """Cancel the scheduled sessions of tutors or customers who left at ``at_us``."""
    sb = sim.sessions
    n = sb.n
    if len(idx) == 0 or n == 0:
        return
    pool_n = sim.tutors.n if who == "tutor" else sim.customers.n
    when = np.full(pool_n, NULL, dtype=np.int64)
    when[idx] = at_us
    col = sb.t[:n] if who == "tutor" else sb.c[:n]
    leave = when[col]
    # Sessions after the leaving time go; so do ones about to be moved (a reschedule
    # still pending today would carry them past it).
    moving = (sb.ev_kind[:n] == EV_RESCHED_TUTOR) | (sb.ev_kind[:n] == EV_RESCHED_CUSTOMER)
    hit = np.flatnonzero((leave != NULL) & ((sb.start_us[:n] > leave) | moving))
    if len(hit) == 0:
        return
    stamp = np.maximum(leave[hit], sb.last_us[hit]) + 1 + (sb.sid[hit] % 997) * 1000
    _cancel(sim, hit, stamp, by_customer=False)
    keep = np.ones(n, dtype=bool)
    keep[hit] = False
    sb.keep(keep)


def _cancel(sim: Simulator, rows: np.ndarray, at_us: np.ndarray, by_customer: bool) -> None:
    if len(rows) == 0:
        return
    sb = sim.sessions
    _emit_sessions(sim, rows, at_us, CANCELLED)
    _emit_bookings(sim, rows, at_us + 1000, B_CANCELLED)
    hours = (sb.start_us[rows] - sim.tl.origin_us) // US_PER_HOUR
    sim.grid.set_booked(sb.t[rows], hours, False)
    if by_customer:
        sim.customers.shock(sb.c[rows], -0.02)


def _reschedule(sim: Simulator, rows: np.ndarray, rng: np.random.Generator) -> None:
    if len(rows) == 0:
        return
    sb, tl = sim.sessions, sim.tl
    n = len(rows)
    at = sb.ev_us[rows]
    by_tutor = sb.ev_kind[rows] == EV_RESCHED_TUTOR
    new_start = sb.start_us[rows] + rng.integers(1, 4, n) * US_PER_DAY
    plan = sb.plan[rows]
    if sim.plan is not None and (plan >= 0).any():
        new_start = sim.plan.rescheduled_start(plan, new_start)
    old_h = (sb.start_us[rows] - tl.origin_us) // US_PER_HOUR
    new_h = (new_start - tl.origin_us) // US_PER_HOUR
    sim.grid.set_booked(sb.t[rows], old_h, False)
    sim.grid.set_booked(sb.t[rows], new_h, True)
    sb.start_us[rows] = new_start
    sb.rc[rows] += 1
    sb.rb[rows] = np.where(by_tutor, BY_TUTOR, BY_CUSTOMER)
    sb.last_us[rows] = at
    _emit_sessions(sim, rows, at, SCHEDULED)
    tp, cp = sim.tutors, sim.customers
    tr = rows[by_tutor]
    np.add.at(tp.obs.resch, (sb.t[tr], tl.day_of(sb.ev_us[tr])), 1)
    cp.shock(sb.c[tr], -0.08)
    call = rng.random(len(tr)) < 0.06
    sim.calls.trigger(
        sb.c[tr][call],
        sb.ev_us[tr][call] + rng.integers(10 * US_PER_MINUTE, US_PER_DAY, call.sum()),
        "scheduling",
    )
    # Next: usually the (new) start; sometimes the customer then cancels.
    cancel = (rng.random(n) < 0.08) & (plan < 0)
    frac = 0.1 + 0.8 * rng.random(n)
    gap = np.maximum(new_start - at - US_PER_HOUR, US_PER_SECOND)
    sb.ev_kind[rows] = np.where(cancel, EV_CANCEL, EV_START)
    sb.ev_us[rows] = np.where(cancel, at + 1 + (frac * gap).astype(np.int64), new_start)


def _start(sim: Simulator, j: int, rows: np.ndarray, rng: np.random.Generator) -> None:
    if len(rows) == 0:
        return
    sb, tp, cp, tl, knobs = sim.sessions, sim.tutors, sim.customers, sim.tl, sim.knobs
    model = sim.cfg.ratings
    n = len(rows)
    t, c = sb.t[rows], sb.c[rows]
    start = sb.start_us[rows]
    end = start + sb.dur[rows] * US_PER_MINUTE
    e, q = tp.e[t], tp.q[t]
    p_nst = 0.005 + 0.25 * tp.resched[t] + 0.06 * np.maximum(0.0, 0.6 - e)
    p_nst = p_nst + sim.cfg.tutor_decline.no_show * tp.d[t] * tp.wr[t]
    p_nsc = 0.02 + 0.03 * (cp.h[c] < -0.3)
    u = rng.random(n)
    outcome = np.select(
        [u < p_nst, u < p_nst + p_nsc], [NO_SHOW_TUTOR, NO_SHOW_CUSTOMER], COMPLETED
    )
    technical = rng.random(n) < TECHNICAL_ISSUE
    first = sb.first[rows]
    # Ratings: first sessions by their true P(poor); later ones around quality/engagement.
    poor = rng.random(n) < np.nan_to_num(sb.p_poor[rows])
    low = rng.choice([1, 2, 3], n, p=[0.15, 0.35, 0.5])
    five = rng.random(n) < 1.0 / (1.0 + np.exp(-(0.3 + 1.2 * q)))
    first_rating = np.where(poor, low, np.where(five, 5, 4))
    day = tl.day_of(start)
    cap = np.maximum(tp.hours[t], 1.0)
    load7 = tp.obs.window_sum("comp", tp.n, j - 7, j)[t]
    overload = np.maximum(0.0, load7 / cap - 0.9)
    mu = (
        model.base
        + model.quality * q
        + model.engagement * (e - 0.6)
        - model.burnout * overload
        - model.technical_issue * technical
        - model.decline * tp.d[t] * tp.wr[t]
    )
    later = np.clip(np.round(mu + model.noise * rng.standard_normal(n)), 1, 5)
    rating = np.where(first, first_rating, later).astype(np.int64)
    rated = rng.random(n) < np.where(first, 0.9, 0.85)
    delay = np.clip(
        rng.lognormal(np.log(90.0), 1.0, n) * US_PER_MINUTE, US_PER_MINUTE, 22 * US_PER_HOUR
    ).astype(np.int64)
    done_us = end + rng.integers(5 * US_PER_SECOND, 10 * US_PER_MINUTE, n)
    lom = np.round(
        np.clip(
            0.55 + 0.12 * q + 0.25 * (e - 0.6) - 0.1 * technical + 0.12 * rng.standard_normal(n),
            0.0,
            1.0,
        ),
        2,
    )
    plan = sb.plan[rows]
    if sim.plan is not None and (plan >= 0).any():
        outcome, rating, rated, delay, technical = sim.plan.outcome(
            plan, outcome, rating, rated, delay, technical
        )
    rating_us = done_us + delay

    comp = outcome == COMPLETED
    ci = np.flatnonzero(comp)
    r = rows[ci]
    _emit_sessions(sim, r, done_us[ci], COMPLETED, technical=technical[ci], lom=lom[ci])
    _emit_bookings(sim, r, done_us[ci] + 1000, B_FULFILLED)
    rc = ci[rated[ci]]
    _emit_sessions(
        sim,
        rows[rc],
        rating_us[rc],
        COMPLETED,
        rating=rating[rc],
        technical=technical[rc],
        lom=lom[rc],
    )
    # A few finished sessions are soft-deleted later (a data clean-up); never a persona's,
    # whose figures DOMAIN.md fixes exactly.
    gone = ci[(rng.random(len(ci)) < knobs.deleted_session_share) & (tp.persona[t[ci]] < 0)]
    if len(gone):
        last = np.where(rated[gone], rating_us[gone], done_us[gone])
        at = last + rng.integers(US_PER_DAY, 30 * US_PER_DAY, len(gone))
        _emit_sessions(
            sim,
            rows[gone],
            at,
            COMPLETED,
            rating=np.where(rated[gone], rating[gone], NULL),
            technical=technical[gone],
            lom=lom[gone],
            deleted_us=at,
        )

    no_show = np.flatnonzero(~comp)
    ns_at = start[no_show] + rng.integers(10 * US_PER_MINUTE, 30 * US_PER_MINUTE, len(no_show))
    _emit_sessions(sim, rows[no_show], ns_at, outcome[no_show])
    _emit_bookings(sim, rows[no_show], ns_at + 1000, B_CANCELLED)

    # Observations the models will see, on the day they become visible.
    np.add.at(tp.obs.comp, (t[ci], day[ci]), 1)
    rday = tl.day_of(rating_us[rc])
    np.add.at(tp.obs.rsum, (t[rc], rday), rating[rc])
    np.add.at(tp.obs.rcnt, (t[rc], rday), 1)
    nst = outcome == NO_SHOW_TUTOR
    np.add.at(tp.obs.noshow, (t[nst], day[nst]), 1)
    np.add.at(cp.obs.comp, (c[ci], day[ci]), 1)
    fc = ci[first[ci]]
    np.add.at(cp.obs.firsts, (c[fc], day[fc]), 1)
    pf = rc[first[rc] & (rating[rc] < 3)]
    np.add.at(cp.obs.poorfirst, (c[pf], tl.day_of(rating_us[pf])), 1)
    np.add.at(cp.ncomp, c[ci], 1)
    cp.last_comp_day[c[ci]] = np.maximum(cp.last_comp_day[c[ci]], day[ci])

    # The customer's experience moves their health, may make them call or switch tutor.
    seen = np.where(rated, rating, 4)
    delta = np.select([seen >= 4, seen == 3], [0.04, -0.12], -0.35)
    delta = delta - 0.15 * (first & (seen < 4)) - 0.05 * technical
    cp.shock(c[ci], delta[ci])
    cp.shock(c[nst], -0.4)
    lapse = sim.cfg.customer_lapse
    cp.note(c[nst], lapse.after_tutor_no_show)
    cp.note(c[ci[first[ci] & (seen[ci] < 4)]], lapse.after_poor_first)
    cp.shock(c[outcome == NO_SHOW_CUSTOMER], -0.05)
    bad = (comp & (seen <= 3)) | nst
    switch = bad & (rng.random(n) < np.where(nst, 0.5, 0.45)) & (cp.cur[c] == t)
    cp.cur[c[switch]] = -1
    after = np.where(comp, rating_us, end)
    p_call = np.select([nst, comp & (seen <= 2), comp & technical], [0.4, 0.35, 0.25], 0.0)
    call = rng.random(n) < p_call
    reason = np.where(nst, 1, np.where(technical & (seen > 2), 3, 2))  # CALL_REASONS index
    when = after + rng.integers(10 * US_PER_MINUTE, 2 * US_PER_DAY, n)
    for code, name in ((1, "scheduling"), (2, "tutor_quality"), (3, "technical")):
        pick = call & (reason == code)
        sim.calls.trigger(c[pick], when[pick], name)

    # Goals: started with the first completed session, completed after enough of them.
    g_at = done_us + rng.integers(US_PER_MINUTE, 60 * US_PER_MINUTE, n)
    start_goal = comp & (cp.goal[c] == GOAL_NONE)
    sim.customer_event(c[start_goal], g_at[start_goal], "goal", GOAL_IN_PROGRESS)
    cp.goal[c[start_goal]] = GOAL_IN_PROGRESS
    reached = comp & (cp.goal[c] == GOAL_IN_PROGRESS) & (cp.ncomp[c] >= cp.goal_target[c])
    reached &= ~start_goal
    achieved = reached & (rng.random(n) < 0.7)
    cp.goal_target[c[reached & ~achieved]] += 10
    sim.customer_event(c[achieved], g_at[achieved], "goal", GOAL_COMPLETED)
    cp.goal[c[achieved]] = GOAL_COMPLETED
    cp.note(c[achieved], lapse.after_goal_completed)
